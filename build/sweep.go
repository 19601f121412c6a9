package build

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hullproject/hull/internal/atomicfile"
	"github.com/hullproject/hull/internal/proc"
)

// A build killed (SIGKILL, OOM) leaves what it had made: RUN's container, still
// running, with its cgroups and bundle, and the build's snapshots, mounted. Every
// build therefore records its owner, <StateDir>/build/owner-<id> ("pid start",
// written before anything else, removed after everything), and the next build on
// the same state directory (and `hull builder prune`) sweeps what the builds whose owner is gone left: the
// containers build-<id>-N (killed and deleted through the runtime), their bundles,
// and the snapshots build-<id>-*. A build of another state directory is never
// touched: it has no record here.

const ownerPrefix = "owner-"

func (b *Builder) buildDir() string { return filepath.Join(b.StateDir, "build") }

// own records this process as the build's owner; the returned func removes the
// record.
func (b *Builder) own(id string) (func(), error) {
	if err := os.MkdirAll(b.buildDir(), 0o700); err != nil {
		return nil, err
	}
	start, err := proc.StartTime(os.Getpid())
	if err != nil {
		return nil, err
	}
	p := filepath.Join(b.buildDir(), ownerPrefix+id)
	if err := atomicfile.WriteFile(p, fmt.Appendf(nil, "%d %d\n", os.Getpid(), start), 0o600); err != nil {
		return nil, err
	}
	return func() { os.Remove(p) }, nil
}

// Sweep removes what the killed builds of the builder's state directory left (see
// above), best effort. Build calls it first; `hull builder prune` does too.
func (b *Builder) Sweep() {
	ents, err := os.ReadDir(b.buildDir())
	if err != nil {
		return
	}
	var dead []string
	for _, e := range ents {
		id, ok := strings.CutPrefix(e.Name(), ownerPrefix)
		if !ok {
			continue
		}
		data, err := os.ReadFile(filepath.Join(b.buildDir(), e.Name()))
		if err != nil {
			continue
		}
		f := strings.Fields(string(data))
		if len(f) == 2 {
			pid, _ := strconv.Atoi(f[0])
			start, _ := strconv.ParseUint(f[1], 10, 64)
			if proc.Alive(pid, start) {
				continue
			}
		}
		dead = append(dead, id)
	}
	for _, id := range dead {
		prefix := "build-" + id + "-"
		clean := true
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), prefix) {
				// a RUN's bundle: its container may still run
				if err := b.Runtime.Delete(e.Name(), true); err != nil {
					clean = false
					continue
				}
				os.RemoveAll(filepath.Join(b.buildDir(), e.Name()))
			}
		}
		snaps, _ := b.Store.Snapshotter().List()
		for _, s := range snaps {
			if strings.HasPrefix(s.Key, prefix) && b.Store.RemoveSnapshot(s.Key) != nil {
				clean = false
			}
		}
		if clean {
			os.Remove(filepath.Join(b.buildDir(), ownerPrefix+id))
		}
	}
}
