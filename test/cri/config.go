package main

import "fmt"

// configPaths are what a private containerd's config names: its own root, state,
// socket and plugin directories, CNI's config, the registry mirrors, runc, and
// the handler a pod gets when it names none (a kubelet's static pods: "hull").
type configPaths struct {
	root, state, sock, opt, cni, certs, runc, runcRoot, defaultHandler string
}

// configV2 is containerd 1.6/1.7's config (version 2) with the runc handler; the
// hull handler's snippet (contrib/kubernetes/containerd-1.6.toml) follows it.
func configV2(p configPaths) string {
	return fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = %[3]q

[ttrpc]
  address = %[4]q

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = %[5]q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  # root here lacks CAP_SYS_RESOURCE: a sandbox's oom_score_adj of -998 would
  # fail in any runtime.
  restrict_oom_score_adj = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = %[6]q

[plugins."io.containerd.grpc.v1.cri".registry]
  config_path = %[7]q

[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = %[10]q

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
    BinaryName = %[8]q
    Root = %[9]q

`, p.root, p.state, p.sock, p.sock+".ttrpc", p.opt, p.cni, p.certs, p.runc, p.runcRoot, p.defaultHandler)
}

// configV3 is containerd 2.x's config (version 3): the CRI plugin is split into
// io.containerd.cri.v1.images (pulls, the pause image), io.containerd.cri.v1.runtime
// (handlers, CNI) and io.containerd.grpc.v1.cri (the service, streaming). NRI is
// off: it would serve a socket at the host's /var/run/nri. The hull handler's
// snippet (contrib/kubernetes/containerd-2.x.toml) follows it.
func configV3(p configPaths) string {
	return fmt.Sprintf(`version = 3
root = %[1]q
state = %[2]q
disabled_plugins = [
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.erofs",
  "io.containerd.differ.v1.erofs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
  "io.containerd.nri.v1.nri",
]

[grpc]
  address = %[3]q

[ttrpc]
  address = %[4]q

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = %[5]q

[plugins."io.containerd.grpc.v1.cri"]
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

[plugins."io.containerd.cri.v1.images"]
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "registry.k8s.io/pause:3.10"
  [plugins."io.containerd.cri.v1.images".registry]
    config_path = %[7]q

[plugins."io.containerd.cri.v1.runtime"]
  # root here lacks CAP_SYS_RESOURCE: a sandbox's oom_score_adj of -998 would
  # fail in any runtime.
  restrict_oom_score_adj = true
  enable_selinux = false

[plugins."io.containerd.cri.v1.runtime".cni]
  bin_dirs = ["/usr/lib/cni"]
  conf_dir = %[6]q

[plugins."io.containerd.cri.v1.runtime".containerd]
  default_runtime_name = %[10]q

[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
    BinaryName = %[8]q
    Root = %[9]q

`, p.root, p.state, p.sock, p.sock+".ttrpc", p.opt, p.cni, p.certs, p.runc, p.runcRoot, p.defaultHandler)
}
