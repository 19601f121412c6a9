package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// The images critest v1.34 runs, rebuilt here from Debian's busybox-static and two
// small static programs (pause, webserver), under the repository paths critest
// names: registry.k8s.io/e2e-test-images/... and gcr.io/k8s-staging-cri-tools/...
// are served by containerd from the harness's registry through hosts.toml mirrors,
// so every image keeps the name critest uses, prefixed or not.

// file is one entry of a layer.
type file struct {
	path, link string // link: the symlink's target
	hardlink   string // the path of the file this is a hard link of
	mode       int64
	data       []byte
	dir        bool
}

func layer(files []file) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: strings.TrimPrefix(f.path, "/"), Mode: f.mode, ModTime: time.Unix(0, 0)}
		switch {
		case f.dir:
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
		case f.link != "":
			h.Typeflag, h.Linkname = tar.TypeSymlink, f.link
		case f.hardlink != "":
			h.Typeflag, h.Linkname = tar.TypeLink, strings.TrimPrefix(f.hardlink, "/")
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(f.data); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
}

func dir(p string, mode int64) file     { return file{path: p, mode: mode, dir: true} }
func text(p, s string) file             { return file{path: p, mode: 0o644, data: []byte(s)} }
func binary(p string, data []byte) file { return file{path: p, mode: 0o755, data: data} }

func passwd(extra string) file            { return text("/etc/passwd", basePasswd+extra) }
func group(extra string) file             { return text("/etc/group", baseGroup+extra) }
func exeFile(p, src string) (file, error) { b, err := os.ReadFile(src); return binary(p, b), err }
func emptyFile(p string) file             { return text(p, "") }

const (
	basePasswd = "root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www-data:/var/www:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	baseGroup  = "root:x:0:\nwww-data:x:33:\nnogroup:x:65534:\n"
)

// hostTools are the programs critest's specs run that Debian's busybox lacks
// (pgrep, ipcs), copied from the host with the libraries ldd names for them.
var hostTools = []string{"/usr/bin/pgrep", "/usr/bin/ipcs"}

func hostToolFiles() ([]file, error) {
	var files []file
	seen := map[string]bool{}
	add := func(p string) error {
		if seen[p] {
			return nil
		}
		seen[p] = true
		for d := filepath.Dir(p); d != "/" && !seen[d]; d = filepath.Dir(d) {
			seen[d] = true
			files = append(files, dir(d, 0o755))
		}
		data, err := os.ReadFile(p) // through symlinks: the image gets the file
		if err != nil {
			return err
		}
		files = append(files, binary(p, data))
		return nil
	}
	for _, t := range hostTools {
		if err := add(t); err != nil {
			return nil, err
		}
		out, err := exec.Command("ldd", t).Output()
		if err != nil {
			return nil, fmt.Errorf("ldd %s: %w", t, err)
		}
		for _, l := range strings.Split(string(out), "\n") {
			f := strings.Fields(l)
			lib := ""
			if len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/") {
				lib = f[2]
			} else if len(f) >= 1 && strings.HasPrefix(f[0], "/") {
				lib = f[0]
			}
			if lib != "" {
				if err := add(lib); err != nil {
					return nil, err
				}
			}
		}
	}
	// Directories first, as a tar wants them.
	sort.SliceStable(files, func(i, j int) bool { return files[i].dir && !files[j].dir })
	return files, nil
}

// busyboxLayer is Debian's static busybox with every applet a hard link of it in
// /bin (as the busybox images have them: a masked /bin/ls is a file, not a link),
// and the host tools.
func busyboxLayer(busybox string) (v1.Layer, error) {
	bb, err := exeFile("/bin/busybox", busybox)
	if err != nil {
		return nil, err
	}
	out, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox --list: %w", err)
	}
	files := []file{dir("/bin", 0o755), dir("/etc", 0o755), dir("/tmp", 0o1777), dir("/root", 0o700),
		dir("/home", 0o755), dir("/var", 0o755), dir("/var/run", 0o755), dir("/var/log", 0o755),
		dir("/var/www", 0o755), dir("/usr", 0o755), dir("/usr/sbin", 0o755), dir("/usr/local", 0o755),
		dir("/usr/local/bin", 0o755), bb, passwd(""), group("")}
	for _, a := range strings.Fields(string(out)) {
		if a != "busybox" {
			files = append(files, file{path: "/bin/" + a, hardlink: "/bin/busybox", mode: 0o755})
		}
	}
	tools, err := hostToolFiles()
	if err != nil {
		return nil, err
	}
	return layer(append(files, tools...))
}

// imageDef is one image: its references and what it adds to busybox.
type imageDef struct {
	refs   []string
	files  []file
	config v1.Config
}

func imageDefs(pauseBin, webBin, nnpBin string) ([]imageDef, error) {
	pause, err := exeFile("/pause", pauseBin)
	if err != nil {
		return nil, err
	}
	nnp, err := exeFile("/usr/local/bin/nnp", nnpBin)
	if err != nil {
		return nil, err
	}
	nnp.mode = 0o4755 // set-user-ID root
	web, err := os.ReadFile(webBin)
	if err != nil {
		return nil, err
	}
	const e2e, cri = "registry.k8s.io/e2e-test-images/", "gcr.io/k8s-staging-cri-tools/"
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	defs := []imageDef{
		{refs: []string{e2e + "busybox:1.29-2", e2e + "busybox:1.29", "docker.io/library/busybox:latest"},
			config: v1.Config{Cmd: []string{"sh"}, Env: env}},
		// nginx's own process title, which a spec waits for in /proc/1/cmdline.
		{refs: []string{e2e + "nginx:1.14-2"}, files: []file{binary("/usr/sbin/nginx", web)},
			config: v1.Config{Entrypoint: []string{"/usr/sbin/nginx"}, Cmd: []string{"nginx: master process nginx -g daemon off;"},
				Env: env, ExposedPorts: map[string]struct{}{"80/tcp": {}}}},
		{refs: []string{e2e + "nonewprivs:1.3"}, files: []file{nnp},
			config: v1.Config{Entrypoint: []string{"/usr/local/bin/nnp"}, Env: env}},
		{refs: []string{e2e + "httpd:2.4.39-4"}, files: []file{binary("/usr/local/bin/httpd", web)},
			config: v1.Config{Entrypoint: []string{"/usr/local/bin/httpd"}, Env: env, ExposedPorts: map[string]struct{}{"80/tcp": {}}}},
		{refs: []string{cri + "hostnet-nginx-amd64:latest"}, files: []file{binary("/usr/sbin/nginx", web)},
			config: v1.Config{Entrypoint: []string{"/usr/sbin/nginx"}, Env: append(env, "PORT=12003")}},
		{refs: []string{cri + "test-image-user-uid:latest"}, config: v1.Config{Cmd: []string{"sh"}, Env: env, User: "1002"}},
		{refs: []string{cri + "test-image-user-username:latest"}, config: v1.Config{Cmd: []string{"sh"}, Env: env, User: "www-data"}},
		{refs: []string{cri + "test-image-user-uid-group:latest"}, config: v1.Config{Cmd: []string{"sh"}, Env: env, User: "1003:1004"}},
		{refs: []string{cri + "test-image-user-username-group:latest"}, config: v1.Config{Cmd: []string{"sh"}, Env: env, User: "www-data:1004"}},
		{refs: []string{cri + "test-image-predefined-group:latest"},
			files: []file{
				passwd("default-user:x:1000:1000:Linux User,,,:/home/default-user:/bin/sh\n"),
				group("default-user:x:1000:\ngroup-defined-in-image:x:50000:default-user\n"),
				dir("/home/default-user", 0o755)},
			config: v1.Config{Cmd: []string{"sh"}, Env: env, User: "1000"}},
		{refs: []string{cri + "test-image-tags:1", cri + "test-image-tags:2", cri + "test-image-tags:3"},
			files: []file{emptyFile("/same-image")}, config: v1.Config{Cmd: []string{"sh"}, Env: env}},
		{refs: []string{"registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.6"}, files: []file{pause},
			config: v1.Config{Entrypoint: []string{"/pause"}}},
	}
	for _, n := range []string{"test-image-1", "test-image-2", "test-image-3", "test-image-latest", "test-image-digest"} {
		defs = append(defs, imageDef{refs: []string{cri + n + ":latest"}, files: []file{emptyFile("/" + n)}, config: v1.Config{Cmd: []string{"sh"}, Env: env}})
	}
	for _, tag := range []string{"test", "all"} {
		defs = append(defs, imageDef{refs: []string{cri + "test-image-tag:" + tag}, files: []file{emptyFile("/" + tag)}, config: v1.Config{Cmd: []string{"sh"}, Env: env}})
	}
	return defs, nil
}

// namedImage is one built image under one of the references critest uses.
type namedImage struct {
	ref string
	img v1.Image
}

// buildImages builds every image of imageDefs on the busybox layer, once per
// image, listed under each of its references.
func buildImages(busybox, pauseBin, webBin, nnpBin string) ([]namedImage, error) {
	base, err := busyboxLayer(busybox)
	if err != nil {
		return nil, err
	}
	defs, err := imageDefs(pauseBin, webBin, nnpBin)
	if err != nil {
		return nil, err
	}
	var out []namedImage
	for _, d := range defs {
		img, err := mutate.AppendLayers(empty.Image, base)
		if err == nil && len(d.files) > 0 {
			var l v1.Layer
			if l, err = layer(d.files); err == nil {
				img, err = mutate.AppendLayers(img, l)
			}
		}
		if err == nil {
			var cf *v1.ConfigFile
			if cf, err = img.ConfigFile(); err == nil {
				cf = cf.DeepCopy()
				cf.Architecture, cf.OS, cf.Config = "amd64", "linux", d.config
				img, err = mutate.ConfigFile(img, cf)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", d.refs[0], err)
		}
		for _, r := range d.refs {
			out = append(out, namedImage{ref: r, img: img})
		}
	}
	return out, nil
}

// serveImages pushes the images to an in-process registry on 127.0.0.1, each
// under its path (the registry host dropped). It returns the registry's
// host:port and a function that stops it.
func serveImages(images []namedImage) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	go srv.Serve(ln)
	stop := func() { srv.Close() }
	host := ln.Addr().String()
	for _, ni := range images {
		ref, err := name.ParseReference(ni.ref)
		if err != nil {
			stop()
			return "", nil, err
		}
		local, err := name.ParseReference(host+"/"+ref.Context().RepositoryStr()+":"+ref.Identifier(), name.Insecure)
		if err == nil {
			err = remote.Write(local, ni.img)
		}
		if err != nil {
			stop()
			return "", nil, fmt.Errorf("push %s: %w", ni.ref, err)
		}
	}
	return host, stop, nil
}

// refAnnotation names an image of an OCI layout by its reference.
const refAnnotation = "org.opencontainers.image.ref.name"

// writeLayout stores the images as an OCI image layout in dir, each reference an
// entry of its index (the blobs once), for -prebuilt: the cgroup v2 VM has
// neither Go nor ldd to build them.
func writeLayout(dir string, images []namedImage) error {
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	for _, ni := range images {
		if err := p.AppendImage(ni.img, layout.WithAnnotations(map[string]string{refAnnotation: ni.ref})); err != nil {
			return fmt.Errorf("layout %s: %w", ni.ref, err)
		}
	}
	return nil
}

// readLayout lists the images writeLayout stored in dir.
func readLayout(dir string) ([]namedImage, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []namedImage
	for _, desc := range m.Manifests {
		ref := desc.Annotations[refAnnotation]
		if ref == "" {
			return nil, fmt.Errorf("%s: image %s has no %s", dir, desc.Digest, refAnnotation)
		}
		img, err := idx.Image(desc.Digest)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", dir, ref, err)
		}
		out = append(out, namedImage{ref: ref, img: img})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no images", dir)
	}
	return out, nil
}
