package engine

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Modes become spec entries: host drops the namespace, a joined one fails closed
// until Start writes the owner's path, and no host name is set in a uts namespace
// that is not the container's own.
func TestApplyNamespaces(t *testing.T) {
	c := &Container{HostConfig: HostConfig{NetworkMode: "pod:p", SharingHostConfig: SharingHostConfig{
		PidMode: "container:x", UTSMode: "host", CgroupnsMode: "host"}}}
	s := &specs.Spec{Hostname: "h", Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{
		{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace},
		{Type: specs.MountNamespace}, {Type: specs.CgroupNamespace}, {Type: specs.NetworkNamespace},
	}}}
	applyNamespaces(c, s)
	got := map[specs.LinuxNamespaceType]string{}
	for _, ns := range s.Linux.Namespaces {
		got[ns.Type] = ns.Path
	}
	if _, ok := got[specs.UTSNamespace]; ok || s.Hostname != "" {
		t.Errorf("uts host: %v, hostname %q", got, s.Hostname)
	}
	if _, ok := got[specs.CgroupNamespace]; ok {
		t.Error("cgroupns host kept a cgroup namespace")
	}
	if p := got[specs.PIDNamespace]; !strings.HasPrefix(p, joinAtStart) {
		t.Errorf("pid path %q", p)
	}
	if p := got[specs.NetworkNamespace]; !strings.HasPrefix(p, joinAtStart) {
		t.Errorf("net path %q", p)
	}
	if p, ok := got[specs.IPCNamespace]; !ok || p != "" {
		t.Errorf("ipc: %q %v", p, ok)
	}
	if _, ok := got[specs.MountNamespace]; !ok {
		t.Error("mount namespace dropped")
	}
}
