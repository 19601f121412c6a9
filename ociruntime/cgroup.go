package ociruntime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hullproject/hull/runtime"
)

// A container's cgroup is named by its bundle (linux.cgroupsPath in config.json),
// not by a runtime's state. What only the cgroup can tell, or undo, is asked of
// it by the bundle, for a container of any runtime (every Runtime here makes the
// cgroup where the spec says):
//
//   - whether the OOM killer struck, once init exited: runc no longer answers for
//     a stopped container (`runc events` refuses it), hull's runtime neither;
//   - what is left of a container a runtime lost: a monitor killed during the
//     runtime's create, before the runtime recorded the container, leaves an init
//     that no runtime knows, waiting to be started and holding the container's
//     namespaces; its cgroup still holds it.
//
// The path must be absolute (hull's specs name /hull-<id>): a relative one depends
// on the cgroup of whoever made the container.

// OOMKilled tells whether the kernel's OOM killer killed a process of the container
// made from bundle. Ask it after init exited and before Delete, which removes the
// cgroup and its count.
func OOMKilled(bundle string) (bool, error) {
	path, err := cgroupsPath(bundle)
	if err != nil || path == "" {
		return false, err
	}
	n, err := runtime.CgroupOOMKills(path)
	return n > 0, err
}

// KillCgroup kills whatever still runs in the cgroup of the container made from
// bundle and removes the cgroup, whether or not a runtime knows the container. A
// bundle without a spec (gone with its container) or a spec without a cgroup path
// has nothing to kill.
func KillCgroup(bundle string) error {
	path, err := cgroupsPath(bundle)
	if errors.Is(err, os.ErrNotExist) || err == nil && path == "" {
		return nil
	}
	if err != nil {
		return err
	}
	return runtime.KillCgroup(path)
}

// cgroupsPath reads linux.cgroupsPath from bundle's config.json ("" if it has none).
// Only that field is decoded: the rest of a spec (a seccomp profile of hundreds of
// syscalls) is not built for it.
func cgroupsPath(bundle string) (string, error) {
	file := filepath.Join(bundle, "config.json")
	data, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	var spec struct {
		Linux *struct {
			CgroupsPath string `json:"cgroupsPath"`
		} `json:"linux"`
	}
	if err := json.Unmarshal(data, &spec); err != nil {
		return "", fmt.Errorf("read %s: %w", file, err)
	}
	if spec.Linux == nil || spec.Linux.CgroupsPath == "" {
		return "", nil
	}
	if !filepath.IsAbs(spec.Linux.CgroupsPath) {
		return "", fmt.Errorf("%s: linux.cgroupsPath %q is not absolute", file, spec.Linux.CgroupsPath)
	}
	return spec.Linux.CgroupsPath, nil
}
