package main

import (
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
	c := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "run a command in a running container",
		Args:  cobra.MinimumNArgs(2),
		RunE: withEngine125(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			o := xo
			o.Args = args[1:]
			o.Tty = tty
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
					done, restore := console.Proxy(master, in, os.Stdout)
					defer master.Close()
					code, err := wait()
					done()
					restore()
					if err != nil {
						return &exitError{engine.ExitCodeOf(err), err}
					}
					return &exitError{code: code}
				}
			}
			code, err := wait()
			if err != nil {
				return &exitError{engine.ExitCodeOf(err), err}
			}
			return &exitError{code: code}
		}),
	}
	c.Flags().SetInterspersed(false)
	c.Flags().BoolVarP(&xo.Detach, "detach", "d", false, "run in the background")
	c.Flags().BoolVarP(&interactive, "interactive", "i", false, "keep stdin open")
	c.Flags().BoolVarP(&tty, "tty", "t", false, "allocate a terminal")
	c.Flags().StringArrayVarP(&xo.Env, "env", "e", nil, "set an environment variable")
	c.Flags().StringVarP(&xo.User, "user", "u", "", "user[:group]")
	c.Flags().StringVarP(&xo.WorkingDir, "workdir", "w", "", "working directory")
	c.Flags().BoolVar(&xo.Privileged, "privileged", false, "every capability for the command")
	return c
}
