package main

import (
	"io"
	"os"

	"github.com/hullproject/hull/engine"
	"github.com/hullproject/hull/ociruntime"
	"github.com/hullproject/hull/runtime/console"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// `hull exec`: a command in a running container; hull exits with its code.

func execCommand(g *globals) *cobra.Command {
	var xo engine.ExecOptions
	var interactive, tty bool
	var envFiles []string
	var explain string
	c := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "run a command in a running container",
		Args:  cobra.MinimumNArgs(2),
		RunE: withEngine125(g, explained(&explain, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			o := xo
			o.Args = args[1:]
			o.Tty = tty
			var err error
			if o.Env, err = envOf(envFiles, o.Env); err != nil {
				return err
			}
			keys, err := parseDetachKeys(o.DetachKeys)
			if err != nil {
				return err
			}
			stdio := ociruntime.IO{Stdout: os.Stdout, Stderr: os.Stderr}
			if interactive {
				stdio.Stdin = os.Stdin
			}
			var master *os.File
			if tty {
				stdio.Console = func(m *os.File) { master = m }
				if w, h, err := term.GetSize(int(os.Stdin.Fd())); err == nil {
					o.ConsoleSize = &specs.Box{Height: uint(h), Width: uint(w)}
				}
			}
			if o.Detach {
				stdio.Stdin, stdio.Stdout, stdio.Stderr = nil, nil, nil
			}
			wait, err := e.Exec(args[0], o, stdio)
			if err != nil {
				return &exitError{engine.ExitCodeOf(err), err}
			}
			if master != nil {
				if o.Detach {
					master.Close()
				} else {
					in := os.Stdin
					if !interactive {
						in, _ = os.Open(os.DevNull)
					}
					// docker's detach keys, with a terminal only (as docker's)
					dr := &detachReader{r: in, d: engine.Detacher{Keys: keys}, hit: make(chan struct{})}
					done, restore := console.ProxyInput(master, in, dr, os.Stdout)
					defer master.Close()
					codes := make(chan execEnd, 1)
					go func() {
						code, err := wait()
						codes <- execEnd{code, err}
					}()
					var end execEnd
					select {
					case end = <-codes:
						done()
					case <-dr.hit:
						// The process runs on; it keeps its terminal until
						// hull is gone (no process of hull's holds it after).
						restore()
						return nil
					}
					restore()
					if end.err != nil {
						return &exitError{engine.ExitCodeOf(end.err), end.err}
					}
					return &exitError{code: end.code}
				}
			}
			code, err := wait()
			if err != nil {
				return &exitError{engine.ExitCodeOf(err), err}
			}
			return &exitError{code: code}
		})),
	}
	c.Flags().SetInterspersed(false)
	addExplainFlag(c.Flags(), &explain)
	c.Flags().BoolVarP(&xo.Detach, "detach", "d", false, "run in the background")
	c.Flags().BoolVarP(&interactive, "interactive", "i", false, "keep stdin open")
	c.Flags().BoolVarP(&tty, "tty", "t", false, "allocate a terminal")
	c.Flags().StringArrayVarP(&xo.Env, "env", "e", nil, "set an environment variable")
	c.Flags().StringVarP(&xo.User, "user", "u", "", "user[:group]")
	c.Flags().StringVarP(&xo.WorkingDir, "workdir", "w", "", "working directory")
	c.Flags().BoolVar(&xo.Privileged, "privileged", false, "every capability for the command")
	c.Flags().StringArrayVar(&envFiles, "env-file", nil, "read environment variables from a file")
	c.Flags().StringVar(&xo.DetachKeys, "detach-keys", "", "key sequence that detaches from a command with a terminal (default ctrl-p,ctrl-q)")
	return c
}

// execEnd is how an exec'd process ended.
type execEnd struct {
	code int
	err  error
}

// detachReader passes input on until the detach keys are typed: then it reports
// on hit and ends (io.EOF). Bytes that may begin the keys are held back until it
// is clear they do not (engine.Detacher).
type detachReader struct {
	r       io.Reader
	d       engine.Detacher
	hit     chan struct{}
	pending []byte
	done    bool
}

func (x *detachReader) Read(p []byte) (int, error) {
	for len(x.pending) == 0 {
		if x.done {
			return 0, io.EOF
		}
		n, err := x.r.Read(p)
		if n > 0 {
			out, hit := x.d.Feed(p[:n])
			x.pending = append(x.pending, out...)
			if hit {
				x.done = true
				close(x.hit)
			}
		}
		if err != nil && len(x.pending) == 0 {
			return 0, err
		}
	}
	n := copy(p, x.pending)
	x.pending = x.pending[n:]
	return n, nil
}
