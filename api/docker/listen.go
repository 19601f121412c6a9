package docker

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hullproject/hull/internal/atomicfile"
	"golang.org/x/sys/unix"
)

// Where the API listens. The socket is root on this host to whoever can write
// to it, so:
//
//   - unix:///path (the default): mode 0660, group docker if that group exists.
//     The socket is made in a private directory beside path, given its mode and
//     group, and only then renamed into place: no moment where anyone else can
//     connect. A socket file left by a service that was killed is replaced; one
//     that a live service answers on is refused ("already serving"). <path>.lock
//     is held while serving, so two services starting at once cannot both take
//     the path.
//   - tcp://host:port: only with TLS and verified client certificates (docker's
//     --tlsverify), or on a loopback address with a warning. A plain tcp:// on
//     any other address is refused.
//   - socket activation (systemd's LISTEN_PID/LISTEN_FDS, fds from 3; or an
//     explicit fd://): the sockets passed are served under the same rules.

// DefaultSocket is the socket `hull system service` serves on by default.
const DefaultSocket = "/run/hull/docker.sock"

// ErrAlreadyServing is the error of a socket another live service answers on.
var ErrAlreadyServing = errors.New("already serving")

// Listen opens the listener uri names. tlsConf (ServerTLS) serves TLS on tcp://;
// nil serves plain HTTP, which only a loopback address may: warning then says
// so, for the caller to print.
func Listen(uri string, tlsConf *tls.Config) (l net.Listener, warning string, err error) {
	scheme, addr, ok := strings.Cut(uri, "://")
	if !ok {
		return nil, "", fmt.Errorf("listen %q: want unix:///PATH, tcp://HOST:PORT or fd://", uri)
	}
	switch scheme {
	case "unix":
		if tlsConf != nil {
			return nil, "", fmt.Errorf("listen %s: TLS is for tcp:// only", uri)
		}
		if !filepath.IsAbs(addr) {
			return nil, "", fmt.Errorf("listen %s: want an absolute path", uri)
		}
		l, err := listenUnix(filepath.Clean(addr))
		return l, "", err
	case "tcp":
		if _, _, err := net.SplitHostPort(addr); err != nil {
			port := "2375"
			if tlsConf != nil {
				port = "2376" // docker's ports
			}
			addr = net.JoinHostPort(strings.Trim(addr, "[]"), port)
		}
		if warning, err = checkPlain(addr, tlsConf); err != nil {
			return nil, "", err
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, "", err
		}
		if tlsConf != nil {
			l = tls.NewListener(l, tlsConf)
		}
		return l, warning, nil
	case "fd":
		ls, warnings, err := Activated(tlsConf)
		switch {
		case err != nil:
			return nil, "", err
		case len(ls) != 1:
			for _, l := range ls {
				l.Close()
			}
			return nil, "", fmt.Errorf("listen %s: want one socket from socket activation (LISTEN_FDS), have %d", uri, len(ls))
		}
		return ls[0], strings.Join(warnings, "; "), nil
	}
	return nil, "", fmt.Errorf("listen %q: unknown scheme %q: want unix, tcp or fd", uri, scheme)
}

// checkPlain refuses plain HTTP on anything but a loopback address, and warns
// about it there.
func checkPlain(addr string, tlsConf *tls.Config) (string, error) {
	if tlsConf != nil {
		return "", nil
	}
	host, _, _ := net.SplitHostPort(addr)
	loopback := host != ""
	if ip := net.ParseIP(host); ip != nil {
		loopback = ip.IsLoopback()
	} else if host != "" {
		ips, err := net.LookupIP(host)
		loopback = err == nil && len(ips) > 0
		for _, ip := range ips {
			loopback = loopback && ip.IsLoopback()
		}
	}
	if !loopback {
		return "", fmt.Errorf("refusing to serve the API on tcp://%s without TLS: it is root on this host to anyone who reaches it (use --tlsverify with --tlscacert, --tlscert and --tlskey, or a loopback address)", addr)
	}
	return fmt.Sprintf("serving the API on tcp://%s without TLS: every local user who can connect is root on this host", addr), nil
}

// ServerTLS is docker's --tlsverify: the server's certificate and key, and
// client certificates required and verified against the CA in caFile; TLS 1.2
// or later.
func ServerTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: load %s and %s: %w", certFile, keyFile, err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("tls: %s holds no PEM certificate", caFile)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	}, nil
}

// unixListener is the socket at path, with the lock that keeps it this
// service's until Close, which removes both the socket and the claim.
type unixListener struct {
	*net.UnixListener
	path string
	ino  uint64
	lock func()
}

// Addr is the socket's path (the listener was made under another name).
func (l *unixListener) Addr() net.Addr { return &net.UnixAddr{Name: l.path, Net: "unix"} }

func (l *unixListener) Close() error {
	err := l.UnixListener.Close()
	// Removed only while it is still the socket this listener made.
	var st unix.Stat_t
	if unix.Lstat(l.path, &st) == nil && st.Ino == l.ino {
		os.Remove(l.path)
	}
	l.lock()
	return err
}

// socketGroup is the group the socket is given: docker, where it exists.
const socketGroup = "docker"

func listenUnix(path string) (net.Listener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, fmt.Errorf("listen unix://%s: %w", path, err)
	}
	unlock, err := atomicfile.Lock(path+".lock", atomicfile.Exclusive|atomicfile.Try)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return nil, fmt.Errorf("listen unix://%s: %w: another hull service holds it", path, ErrAlreadyServing)
	}
	if err != nil {
		return nil, fmt.Errorf("listen unix://%s: %w", path, err)
	}
	l, err := claimUnix(path)
	if err != nil {
		unlock()
		return nil, fmt.Errorf("listen unix://%s: %w", path, err)
	}
	l.lock = unlock
	return l, nil
}

// claimUnix makes the socket at path, replacing a stale one. The caller holds
// path's lock.
func claimUnix(path string) (*unixListener, error) {
	if st, err := os.Lstat(path); err == nil {
		if st.Mode().Type() != os.ModeSocket {
			return nil, errors.New("exists and is not a socket")
		}
		c, err := net.DialTimeout("unix", path, 2*time.Second)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("%w: another service answers on it", ErrAlreadyServing)
		}
		// ECONNREFUSED: nobody listens; the file is what a killed service
		// left, and the rename below replaces it.
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("is it stale? %w", err)
		}
	}
	tmp, err := os.MkdirTemp(filepath.Dir(path), ".hull-sock-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	name := filepath.Join(tmp, "sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: name, Net: "unix"})
	if err != nil {
		return nil, err
	}
	l.SetUnlinkOnClose(false) // the socket is renamed: Close removes it by path
	fail := func(err error) (*unixListener, error) {
		l.Close()
		return nil, err
	}
	if err := os.Chmod(name, 0o660); err != nil {
		return fail(err)
	}
	if g, err := user.LookupGroup(socketGroup); err == nil {
		gid, _ := strconv.Atoi(g.Gid)
		if err := os.Lchown(name, -1, gid); err != nil {
			return fail(err)
		}
	}
	var st unix.Stat_t
	if err := unix.Lstat(name, &st); err != nil {
		return fail(err)
	}
	if err := os.Rename(name, path); err != nil {
		return fail(err)
	}
	return &unixListener{UnixListener: l, path: path, ino: st.Ino}, nil
}

// Activated returns the sockets passed by socket activation (LISTEN_PID is this
// process, LISTEN_FDS their number, from fd 3), or none. It takes the
// variables out of the environment and the fds out of reach of children: the
// fds a service manager passes are not close-on-exec, and a container's
// monitor, started by this process, must not hold the API's socket. A tcp
// socket gets tlsConf, or must be on a loopback address (a warning each).
func Activated(tlsConf *tls.Config) (ls []net.Listener, warnings []string, err error) {
	pid, n := os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS")
	if pid == "" || n == "" {
		return nil, nil, nil
	}
	os.Unsetenv("LISTEN_PID")
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_FDNAMES")
	if pid != strconv.Itoa(os.Getpid()) {
		return nil, nil, nil // meant for another process
	}
	count, err := strconv.Atoi(n)
	if err != nil || count < 1 {
		return nil, nil, fmt.Errorf("socket activation: LISTEN_FDS=%q: want a count", n)
	}
	const first = 3 // SD_LISTEN_FDS_START
	for fd := first; fd < first+count; fd++ {
		unix.CloseOnExec(fd)
	}
	fail := func(err error) ([]net.Listener, []string, error) {
		for _, l := range ls {
			l.Close()
		}
		return nil, nil, err
	}
	for fd := first; fd < first+count; fd++ {
		f := os.NewFile(uintptr(fd), fmt.Sprintf("LISTEN_FD_%d", fd))
		l, err := net.FileListener(f) // a dup, close-on-exec
		f.Close()
		if err != nil {
			return fail(fmt.Errorf("socket activation: fd %d: %w", fd, err))
		}
		if l.Addr().Network() == "tcp" {
			w, err := checkPlain(l.Addr().String(), tlsConf)
			if err != nil {
				l.Close()
				return fail(fmt.Errorf("socket activation: %w", err))
			}
			if w != "" {
				warnings = append(warnings, w)
			}
			if tlsConf != nil {
				l = tls.NewListener(l, tlsConf)
			}
		}
		ls = append(ls, l)
	}
	return ls, warnings, nil
}
