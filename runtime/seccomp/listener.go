package seccomp

import (
	"encoding/json"
	"fmt"
	"net"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ListenerPayload returns the message SendListener sends for a container: the
// runtime-spec's ContainerProcessState, naming the one fd it carries "seccompFd" and
// carrying the profile's listenerMetadata. pid is the container process's pid as the
// runtime sees it.
func ListenerPayload(s *specs.LinuxSeccomp, state specs.State, pid int) ([]byte, error) {
	return json.Marshal(specs.ContainerProcessState{
		Version:  specs.Version,
		Fds:      []string{specs.SeccompFdName},
		Pid:      pid,
		Metadata: s.ListenerMetadata,
		State:    state,
	})
}

// SendListener hands the seccomp notify fd to the agent listening on the unix
// socket at listenerPath (linux.seccomp.listenerPath), as runc does: one message on
// a stream connection whose body is state (see ListenerPayload) and whose
// SCM_RIGHTS control message carries fd. The agent gets its own copy of fd; the
// caller still owns and closes fd.
func SendListener(listenerPath string, state []byte, fd int) error {
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: listenerPath, Net: "unix"})
	if err != nil {
		return fmt.Errorf("send seccomp listener: %w", err)
	}
	defer conn.Close()
	n, oobn, err := conn.WriteMsgUnix(state, unix.UnixRights(fd), nil)
	if err != nil {
		return fmt.Errorf("send seccomp listener to %s: %w", listenerPath, err)
	}
	if n != len(state) || oobn == 0 {
		return fmt.Errorf("send seccomp listener to %s: short write (%d of %d bytes)", listenerPath, n, len(state))
	}
	return nil
}
