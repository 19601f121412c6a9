package engine

import (
	"fmt"
	goruntime "runtime"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// --platform: the platform a container's image must be for. hull runs the
// host's binaries only, so it judges, it does not emulate.

// platform is os/arch[/variant], as docker's --platform says it.
type platform struct{ os, arch, variant string }

func (p platform) String() string {
	s := p.os + "/" + p.arch
	if p.variant != "" {
		s += "/" + p.variant
	}
	return s
}

// parsePlatform reads --platform: os/arch[/variant], an os alone (this host's
// architecture), or an architecture alone (linux), with the usual aliases
// (x86_64, aarch64 ...). Only linux is taken.
func parsePlatform(s string) (platform, error) {
	parts := strings.Split(strings.ToLower(s), "/")
	var p platform
	switch len(parts) {
	case 1:
		if knownOS[parts[0]] {
			p = platform{os: parts[0], arch: goruntime.GOARCH}
		} else {
			p = platform{os: "linux", arch: parts[0]}
		}
	case 2:
		p = platform{os: parts[0], arch: parts[1]}
	case 3:
		p = platform{os: parts[0], arch: parts[1], variant: parts[2]}
	default:
		return p, fmt.Errorf("invalid --platform %q: want os/arch[/variant]", s)
	}
	if p.os == "" || p.arch == "" {
		return p, fmt.Errorf("invalid --platform %q: want os/arch[/variant]", s)
	}
	if p.os != "linux" {
		return p, fmt.Errorf("invalid --platform %q: hull runs linux containers only", s)
	}
	p.arch, p.variant = normalizeArch(p.arch, p.variant)
	return p, nil
}

// knownOS are the operating systems Go knows, which a --platform of one word may
// name (containerd's rule).
var knownOS = map[string]bool{"aix": true, "android": true, "darwin": true, "dragonfly": true, "freebsd": true, "hurd": true,
	"illumos": true, "ios": true, "js": true, "linux": true, "nacl": true, "netbsd": true, "openbsd": true, "plan9": true,
	"solaris": true, "windows": true, "zos": true}

// normalizeArch is containerd's normalization of the architecture names
// people and images use.
func normalizeArch(arch, variant string) (string, string) {
	switch arch {
	case "i386":
		return "386", ""
	case "x86_64", "x86-64", "amd64":
		if variant == "v1" {
			variant = ""
		}
		return "amd64", variant
	case "aarch64", "arm64":
		if variant == "8" || variant == "v8" {
			variant = ""
		}
		return "arm64", variant
	case "armhf":
		return "arm", "v7"
	case "armel":
		return "arm", "v6"
	case "arm":
		switch variant {
		case "", "7":
			variant = "v7"
		case "5", "6", "8":
			variant = "v" + variant
		}
		return "arm", variant
	}
	return arch, variant
}

// platformOf is an image config's platform (an image that does not say is
// linux).
func platformOf(ip ocispec.Platform) platform {
	p := platform{os: ip.OS, arch: ip.Architecture, variant: ip.Variant}
	if p.os == "" {
		p.os = "linux"
	}
	p.arch, p.variant = normalizeArch(p.arch, p.variant)
	return p
}

// matches tells whether an image of platform ip is what p asks for: the same os
// and architecture, and the variant if p names one.
func (p platform) matches(ip ocispec.Platform) bool {
	q := platformOf(ip)
	return q.os == p.os && q.arch == p.arch && (p.variant == "" || q.variant == p.variant)
}
