package main

import (
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/hullproject/hull/engine"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// attachOpts are the flags of a command that attaches to a container.
type attachOpts struct {
	detachKeys string
	sigProxy   bool
	noStdin    bool
}

func (o *attachOpts) add(fl *pflag.FlagSet) {
	fl.StringVar(&o.detachKeys, "detach-keys", "ctrl-p,ctrl-q", "key sequence that detaches, leaving the container running")
	fl.BoolVar(&o.sigProxy, "sig-proxy", true, "forward the signals hull receives to the container (without a terminal)")
}

func attachCommand(g *globals) *cobra.Command {
	var o attachOpts
	c := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "attach to a running container's output and input",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// The keys are judged before the engine is opened.
			keys, err := parseDetachKeys(o.detachKeys)
			if err != nil {
				return &exitError{125, err}
			}
			e, err := openEngine(g)
			if err != nil {
				return &exitError{125, err}
			}
			c, err := e.Get(args[0])
			if err != nil {
				return &exitError{125, err}
			}
			stdin := c.Config.OpenStdin && !o.noStdin
			sigs := proxySignals(o.sigProxy && !(c.Config.Tty && stdin))
			defer signal.Stop(sigs)
			s, err := e.Attach(c.ID)
			if err != nil {
				return &exitError{125, err}
			}
			defer rawTerminal(c.Config.Tty && stdin)()
			if c.Config.Tty {
				sendSize(s) // a redraw for a full-screen program
			}
			return stream(s, func() (int, error) { return s.Wait(os.Stdout, os.Stderr) }, c.Config.Tty, stdin, keys, sigs)
		},
	}
	o.add(c.Flags())
	c.Flags().BoolVar(&o.noStdin, "no-stdin", false, "do not attach stdin")
	return c
}

// startAttached starts container c in the foreground (run, start -a): the output
// of the streams s names from the first byte, and its input when s.stdin. m, if
// not nil, is the monitor spawned for it.
func startAttached(e *engine.Engine, c *engine.Container, s streams, o *attachOpts, m *engine.SpawnedMonitor) error {
	stdin := s.stdin
	keys, err := parseDetachKeys(o.detachKeys)
	if err != nil {
		m.Abort()
		return &exitError{125, err}
	}
	// From before the start: a signal as soon as the program runs is its.
	sigs := proxySignals(o.sigProxy && !(c.Config.Tty && stdin))
	defer signal.Stop(sigs)
	defer rawTerminal(c.Config.Tty && stdin)()
	a := &engine.Attach{}
	if s.stdout {
		a.Stdout = os.Stdout
	}
	if s.stderr {
		a.Stderr = os.Stderr
	}
	if c.Config.Tty {
		if w, h, err := term.GetSize(int(os.Stdin.Fd())); err == nil {
			a.Rows, a.Cols = uint16(h), uint16(w)
		}
	}
	h, err := e.StartWith(c.ID, a, m)
	if err != nil {
		return startErr(err)
	}
	return stream(h.Session, h.Wait, c.Config.Tty, stdin, keys, sigs)
}

// streams are the streams a foreground start attaches.
type streams struct{ stdin, stdout, stderr bool }

// rawTerminal puts hull's terminal in raw mode for a container with a terminal of
// its own, before it starts (its first output must not be cooked twice); the
// returned function restores it.
func rawTerminal(tty bool) func() {
	in := int(os.Stdin.Fd())
	if !tty || !term.IsTerminal(in) {
		return func() {}
	}
	st, err := term.MakeRaw(in)
	if err != nil {
		return func() {}
	}
	return func() { term.Restore(in, st) }
}

// proxySignals catches the signals --sig-proxy forwards; nil when not on. It is
// off when the user's terminal is raw and passes ctrl-c to the container's.
func proxySignals(on bool) chan os.Signal {
	if !on {
		return nil
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	return sigs
}

// stream connects hull's terminal to session s until wait returns (the container
// ended: hull exits with its code) or the user types the detach keys (exit 0, the
// container runs on). With a terminal, window size changes follow; the signals
// caught on sigs (proxySignals) go to the container.
func stream(s *engine.Session, wait func() (int, error), tty, stdin bool, keys []byte, sigs chan os.Signal) error {
	if tty && term.IsTerminal(int(os.Stdin.Fd())) {
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, unix.SIGWINCH)
		defer signal.Stop(winch)
		go func() {
			for range winch {
				sendSize(s)
			}
		}()
	}
	if sigs != nil {
		go func() {
			for sig := range sigs {
				s.Signal(sig.(syscall.Signal))
			}
		}()
	}
	detached := make(chan struct{})
	if stdin {
		go func() {
			d := engine.Detacher{Keys: keys}
			buf := make([]byte, 32<<10)
			for {
				n, err := os.Stdin.Read(buf)
				if n > 0 {
					in, hit := d.Feed(buf[:n])
					if len(in) > 0 {
						s.Write(in)
					}
					if hit {
						close(detached)
						s.Close()
						return
					}
				}
				if err != nil {
					s.CloseInput()
					return
				}
			}
		}()
	}
	code, err := wait()
	select {
	case <-detached:
		return nil
	default:
	}
	if err != nil {
		var se *engine.StartError
		if errors.As(err, &se) {
			return &exitError{se.Code, err}
		}
		return &exitError{125, err}
	}
	return &exitError{code: code}
}

// sendSize sends the size of hull's terminal to the container's.
func sendSize(s *engine.Session) {
	if w, h, err := term.GetSize(int(os.Stdin.Fd())); err == nil {
		s.Resize(uint16(h), uint16(w))
	}
}

// parseDetachKeys parses docker's --detach-keys (engine.ParseDetachKeys), a
// usage error if bad.
func parseDetachKeys(s string) ([]byte, error) {
	keys, err := engine.ParseDetachKeys(s)
	return keys, badUsage(err)
}
