package engine

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hullproject/hull/internal/atomicfile"
	"github.com/hullproject/hull/internal/proc"
	"github.com/hullproject/hull/network"
)

// A build's RUN on a network (hull build --network bridge) is no container of the
// engine's: it has no record, so a network reconcile (reconcileNetworks) would take
// its lease for a dead container's. Its lease is kept in <root>/build-leases/<id>
// instead: the pid and start time of the build process that holds it. A lease
// whose builder is alive is live; one left by a killed build is freed by the next
// reconcile.

func (e *Engine) buildLeasePath(id string) string {
	return filepath.Join(e.Root, "build-leases", id)
}

// AttachBuild attaches a build's RUN container, created and not yet started, whose
// network namespace is netnsPath, to the network name, and returns the resolv.conf
// for it and detach, which the build calls once the container is gone. It is
// build.Builder's AttachNetwork.
func (e *Engine) AttachBuild(netnsPath, id, name string) (resolv []byte, detach func() error, err error) {
	if !strings.HasPrefix(id, "build-") || strings.ContainsAny(id, "/\x00") {
		return nil, nil, fmt.Errorf("attach build %q: not a build's id", id)
	}
	unlock, err := e.reconcileLock(atomicfile.Shared)
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	m, err := e.Networks()
	if err != nil {
		return nil, nil, err
	}
	start, err := proc.StartTime(os.Getpid())
	if err != nil {
		return nil, nil, err
	}
	rec := e.buildLeasePath(id)
	if err := os.MkdirAll(filepath.Dir(rec), 0o700); err != nil {
		return nil, nil, err
	}
	if err := atomicfile.WriteFile(rec, fmt.Appendf(nil, "%d %d\n", os.Getpid(), start), 0o600); err != nil {
		return nil, nil, err
	}
	res, err := m.Attach(netnsPath, id, name, network.AttachOptions{})
	if err != nil {
		os.Remove(rec)
		return nil, nil, err
	}
	detach = func() error {
		err := m.Detach(id, name)
		if err == nil {
			err = os.Remove(rec)
		}
		return err
	}
	var resolver netip.Addr
	if res.DNS {
		if err := e.ensureResolver(m, name, res.Gateway); err != nil {
			return nil, nil, errors.Join(err, detach())
		}
		resolver = res.Gateway
	}
	host, _ := os.ReadFile("/etc/resolv.conf")
	return network.ResolvConf(host, resolver, network.ResolvOptions{}), detach, nil
}

// liveBuilds are the IDs of build leases whose builder is alive; the records of
// the others are removed (the reconcile that asked frees their leases).
func (e *Engine) liveBuilds() []string {
	dir := filepath.Dir(e.buildLeasePath("x"))
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, ent := range ents {
		data, err := os.ReadFile(filepath.Join(dir, ent.Name()))
		if err != nil {
			continue
		}
		var pid int
		var start uint64
		f := strings.Fields(string(data))
		if len(f) == 2 {
			pid, _ = strconv.Atoi(f[0])
			start, _ = strconv.ParseUint(f[1], 10, 64)
		}
		if pid > 0 && proc.Alive(pid, start) {
			out = append(out, ent.Name())
		} else {
			os.Remove(filepath.Join(dir, ent.Name()))
		}
	}
	return out
}
