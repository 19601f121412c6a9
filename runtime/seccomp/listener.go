package seccomp

import (
	"encoding/json"
	"fmt"
	"net"
	"unsafe"

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

// RecvListener is the agent's side of SendListener: it reads the one message of
// conn and returns the state it carries and the notify fd, which the caller owns.
func RecvListener(conn *net.UnixConn) (specs.ContainerProcessState, int, error) {
	var st specs.ContainerProcessState
	buf, oob := make([]byte, 1<<16), make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return st, -1, fmt.Errorf("receive seccomp listener: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return st, -1, fmt.Errorf("receive seccomp listener: %d control messages: %v", len(msgs), err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return st, -1, fmt.Errorf("receive seccomp listener: %d descriptors: %v", len(fds), err)
	}
	if err := json.Unmarshal(buf[:n], &st); err != nil {
		unix.Close(fds[0])
		return st, -1, fmt.Errorf("receive seccomp listener: state: %w", err)
	}
	return st, fds[0], nil
}

// Notif is struct seccomp_notif: a system call that waits, in the kernel, for the
// agent holding the listener fd to answer it.
type Notif struct {
	ID    uint64
	Pid   uint32 // as the agent's pid namespace sees the caller
	Flags uint32
	Nr    int32
	Arch  uint32
	IP    uint64
	Args  [6]uint64
}

// NotifResp is struct seccomp_notif_resp: the answer to the notification ID, either
// the return value Val, the error -Error, or (Flags SECCOMP_USER_NOTIF_FLAG_CONTINUE)
// "run the call as it is".
type NotifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

// RecvNotif waits for the next notification on a listener fd. ENOENT means the
// caller gave up (a signal interrupted it; it restarts the call as a new
// notification): an agent takes the next one.
func RecvNotif(fd int) (Notif, error) {
	var n Notif // must be zeroed: the kernel refuses a dirty buffer
	err := notifIoctl(fd, unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(&n))
	return n, err
}

// SendNotifResp answers a notification. ENOENT means it was withdrawn meanwhile.
func SendNotifResp(fd int, r NotifResp) error {
	return notifIoctl(fd, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&r))
}

func notifIoctl(fd int, req uint, arg unsafe.Pointer) error {
	for {
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return errno
		}
		return nil
	}
}
