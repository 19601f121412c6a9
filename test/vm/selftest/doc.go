// Package selftest proves the cgroup v2 test VM (test/vm): its tests run only inside
// the VM (HULL_VM=1) and check that the kernel there has cgroup v2 alone, the
// controllers hull needs, and overlayfs, veth, bridge and nf_tables.
package selftest
