package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hullproject/hull/api/docker"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// `hull system service`: the Docker Engine API (package api/docker) on a socket,
// over the same engine (--root, --state) as every other command. It is a front
// door, not a daemon: containers keep their own monitors, so stopping or killing
// the service stops no container, and the next service (or `hull ps`) sees them.

// defaultServiceTimeout is the idle timeout of a socket-activated service, as
// podman's (`podman system service --time`, 5 s): the service manager starts
// it again on the next connection. Started by hand, the service has none: it
// serves until it is stopped, as a user who started it expects.
const defaultServiceTimeout = 5

func serviceCommand(g *globals) *cobra.Command {
	var timeout int
	var tlsVerify bool
	var caFile, certFile, keyFile, logLevel string
	c := &cobra.Command{
		Use:   "service [--timeout N] [URI]",
		Short: "serve the Docker Engine API (unix:///run/hull/docker.sock, tcp://HOST:PORT with --tlsverify, fd://)",
		Long: `Serve the Docker Engine API, so that docker, docker compose, docker-py and
Testcontainers drive hull with DOCKER_HOST set to the URI.

URI is unix:///PATH (default /run/hull/docker.sock, or <state>/docker.sock with
another --state; mode 0660, group docker if it exists), tcp://HOST:PORT (only
with --tlsverify and verified client certificates, or on a loopback address),
or fd:// (socket activation; LISTEN_FDS is also used without a URI).

--timeout N exits after N seconds with no request in flight and no stream open;
0 never does. The default is 0, and 5 (podman's) when socket-activated.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if timeout < 0 {
				return badUsage(fmt.Errorf("--timeout %d: want seconds, 0 for none", timeout))
			}
			tlsFiles := caFile != "" || certFile != "" || keyFile != ""
			switch {
			case tlsVerify && (caFile == "" || certFile == "" || keyFile == ""):
				return badUsage(errors.New("--tlsverify needs --tlscacert, --tlscert and --tlskey"))
			case tlsFiles && !tlsVerify:
				return badUsage(errors.New("--tlscacert, --tlscert and --tlskey need --tlsverify"))
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return badUsage(fmt.Errorf("--log-level %q: want debug, info, warn or error", logLevel))
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			uri := ""
			if len(args) == 1 {
				uri = args[0]
			}
			return serve(g, serveOptions{uri: uri, timeout: timeout, timeoutSet: cmd.Flags().Changed("timeout"),
				tlsVerify: tlsVerify, ca: caFile, cert: certFile, key: keyFile, log: log})
		},
	}
	c.Flags().IntVarP(&timeout, "timeout", "t", 0, "exit after N idle seconds (0: never; 5 when socket-activated)")
	c.Flags().BoolVar(&tlsVerify, "tlsverify", false, "serve TLS and require client certificates signed by --tlscacert")
	c.Flags().StringVar(&caFile, "tlscacert", "", "CA that signs the clients' certificates")
	c.Flags().StringVar(&certFile, "tlscert", "", "the server's TLS certificate")
	c.Flags().StringVar(&keyFile, "tlskey", "", "the server's TLS key")
	c.Flags().StringVar(&logLevel, "log-level", "info", "debug (a line per request), info, warn or error")
	return c
}

type serveOptions struct {
	uri           string
	timeout       int
	timeoutSet    bool
	tlsVerify     bool
	ca, cert, key string
	log           *slog.Logger
}

// serve opens the listeners and the engine and serves until told to stop
// (SIGTERM, SIGINT) or idle. A failure to start is hull's own (exit 125).
func serve(g *globals, o serveOptions) error {
	ls, activated, err := serviceListeners(g, o)
	if err != nil {
		return fail125(err)
	}
	// Whatever this process inherited beyond stdio (a descriptor its parent
	// leaked) would pass on to every container monitor it starts, and keep the
	// parent's pipe or file open for the container's life: none outlives an
	// exec. Go's own descriptors are close-on-exec already; the activated
	// sockets were taken over (dup'd) above.
	unix.CloseRange(3, math.MaxUint, unix.CLOSE_RANGE_CLOEXEC)
	e, err := openEngine(g)
	if err != nil {
		for _, l := range ls {
			l.Close()
		}
		return fail125(err)
	}
	timeout := o.timeout
	if !o.timeoutSet && activated {
		timeout = defaultServiceTimeout
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	b, err := newBuilder(g, e)
	if err != nil {
		return fail125(err)
	}
	s := docker.New(e, docker.Options{Version: version, Commit: commit, Logger: o.log, Registry: registryOptions(g), Builder: b})
	for _, l := range ls {
		o.log.Info("serving the Docker API", "address", l.Addr().Network()+"://"+l.Addr().String(), "timeout", time.Duration(timeout)*time.Second)
	}
	return s.Serve(ctx, ls, time.Duration(timeout)*time.Second)
}

// serviceListeners opens what the service serves on: the sockets of socket
// activation if there are any, else the URI's (the default socket if none),
// and tells which. Warnings (plain HTTP on loopback) go to stderr.
func serviceListeners(g *globals, o serveOptions) ([]net.Listener, bool, error) {
	var tlsConf *tls.Config
	if o.tlsVerify {
		var err error
		if tlsConf, err = docker.ServerTLS(o.ca, o.cert, o.key); err != nil {
			return nil, false, err
		}
	}
	ls, warnings, err := docker.Activated(tlsConf)
	if err != nil {
		return nil, false, err
	}
	if len(ls) > 0 {
		if o.uri != "" && o.uri != "fd://" {
			for _, l := range ls {
				l.Close()
			}
			return nil, false, fmt.Errorf("socket-activated (LISTEN_FDS): give no URI or fd://, not %s", o.uri)
		}
		for _, w := range warnings {
			fmt.Fprintln(os.Stderr, "hull: warning:", w)
		}
		return ls, true, nil
	}
	uri := o.uri
	if uri == "" {
		uri = "unix://" + defaultSocket(g.state)
	}
	l, warning, err := docker.Listen(uri, tlsConf)
	if err != nil {
		return nil, false, err
	}
	if warning != "" {
		fmt.Fprintln(os.Stderr, "hull: warning:", warning)
	}
	return []net.Listener{l}, strings.HasPrefix(uri, "fd://"), nil
}

// defaultSocket is /run/hull/docker.sock, or docker.sock in another --state.
func defaultSocket(state string) string {
	abs, err := filepath.Abs(state)
	if err != nil || abs == "/run/hull" {
		return docker.DefaultSocket
	}
	return filepath.Join(abs, "docker.sock")
}
