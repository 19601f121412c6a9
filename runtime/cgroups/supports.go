package cgroups

import (
	"os"
	"path/filepath"
)

// Supports tells whether this host's cgroups can apply a linux.resources field,
// named as Set's errors name it, to a container's cgroup. It answers only for
// the fields a host may lack while it has their controller, which an engine
// drops with a warning rather than fail the container's start (docker does the
// same):
//
//	memory.swappiness, memory.disableOOMKiller  cgroup v1 only
//	blockIO.weight, blockIO.weightDevice        v1: the CFQ or BFQ scheduler's
//	                                            blkio.(bfq.)weight; v2: the io controller
//	cpu.realtimePeriod, cpu.realtimeRuntime     cgroup v1 with CONFIG_RT_GROUP_SCHED
//
// Every other field is supported when its controller is (Set says otherwise).
// A v1 hierarchy's root cgroup has the files its children get, which is what is
// looked for; the v2 root has none of io.weight's, so the controller answers.
func Supports(field string) bool {
	hs, err := hierarchies()
	if err != nil {
		return false
	}
	m := &Manager{hs: hs}
	has := func(controller string, v1Files ...string) (found, v2 bool) {
		h := m.find(controller)
		if h == nil {
			return false, false
		}
		if h.v2() {
			return true, true
		}
		for _, f := range v1Files {
			if _, err := os.Stat(filepath.Join(h.mount, f)); err == nil {
				return true, false
			}
		}
		return false, false
	}
	switch field {
	case "memory.swappiness":
		ok, v2 := has("memory", "memory.swappiness")
		return ok && !v2
	case "memory.disableOOMKiller":
		ok, v2 := has("memory", "memory.oom_control")
		return ok && !v2
	case "blockIO.weight", "blockIO.weightDevice":
		if ok, _ := has("blkio", "blkio.weight", "blkio.bfq.weight"); ok {
			return true
		}
		ok, _ := has("io")
		return ok
	case "cpu.realtimePeriod", "cpu.realtimeRuntime":
		ok, v2 := has("cpu", "cpu.rt_runtime_us")
		return ok && !v2
	}
	return true
}
