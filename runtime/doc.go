// Package runtime runs containers from OCI bundles: hull's own runtime, behind both
// `hullrt` and the engine.
//
// A caller creates a container with Create, which starts hullrt's binary again as the
// container's init (the child side is Init), leaves it waiting, and records the
// container under the state root; Start lets the program run; Kill, Exec, Pause,
// Resume and Delete act on it later, from any process, through Load. The parent/child
// protocol is described in sync.go; the on-disk record in the Container type.
//
// The linux parts live in sub-packages, one kernel concern each: rootfs (mounts,
// devices, pivot_root), cgroups, caps, seccomp, console, nsenter. This package
// composes them; they never import each other. A runtime that is not root makes
// rootless containers; what differs for it is gathered in rootless.go.
package runtime
