package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Hullrt returns the hullrt binary the tests drive: $HULLRT (make test sets it to
// bin/hullrt, the VM harness to its copy), or one built into dir the way the release
// is, static, so that nothing in a container or a VM needs the host's libc.
func Hullrt(dir string) (string, error) {
	if bin := os.Getenv("HULLRT"); bin != "" {
		return bin, nil
	}
	bin := filepath.Join(dir, "hullrt")
	build := exec.Command("go", "build", "-tags", "osusergo,netgo",
		"-ldflags", "-s -w -linkmode external -extldflags -static",
		"-o", bin, "github.com/hullproject/hull/cmd/hullrt")
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("build hullrt: %w", err)
	}
	return bin, nil
}

// Monitor builds hull-monitor, the resident monitor (a static C program), into
// dir the way `make build` does (the Makefile's hull-monitor target), and returns
// its path.
func Monitor(dir string) (string, error) {
	mod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("build hull-monitor: find the module: %w", err)
	}
	bin := filepath.Join(dir, "hull-monitor")
	build := exec.Command("make", "-s", "-C", filepath.Dir(strings.TrimSpace(string(mod))), "hull-monitor", "MONITOR_OUT="+bin)
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build hull-monitor: %w\n%s", err, out)
	}
	return bin, nil
}
