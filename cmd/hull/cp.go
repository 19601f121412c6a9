package main

import (
	"errors"
	"os"
	"strings"

	"github.com/hullproject/hull/engine"
	"github.com/spf13/cobra"
)

// `hull cp`: files between a container's filesystem and the host (engine/cp.go).

func cpCommand(g *globals) *cobra.Command {
	var co engine.CopyOptions
	c := &cobra.Command{
		Use:   "cp [-a] [-L] CONTAINER:SRC DEST|-  or  cp [-a] [-L] SRC|- CONTAINER:DEST",
		Short: "copy files between a container's filesystem and the host (- for a tar on stdin or stdout)",
		Long: "Copies to and from the container's root filesystem, running or not. Every path in the\n" +
			"container resolves inside it: a symlink there never leads out to the host. A running\n" +
			"container's volumes and tmpfs mounts are not part of that filesystem: what is copied\n" +
			"to a path under one lands beneath it, as with hull export.",
		Args: cobra.ExactArgs(2),
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			// "CONTAINER:PATH"; a host path with a colon is written ./a:b.
			split := func(s string) (string, string, bool) {
				if strings.HasPrefix(s, "/") || strings.HasPrefix(s, ".") {
					return "", s, false
				}
				if ref, p, ok := strings.Cut(s, ":"); ok {
					return ref, p, true
				}
				return "", s, false
			}
			sref, src, fromCtr := split(args[0])
			dref, dst, toCtr := split(args[1])
			switch {
			case fromCtr && toCtr:
				return badUsage(errors.New("copying between containers is not supported"))
			case !fromCtr && !toCtr:
				return badUsage(errors.New("must specify at least one container source"))
			case fromCtr && dst == "-":
				return e.ArchiveFrom(sref, src, os.Stdout, co)
			case fromCtr:
				return e.CopyFrom(sref, src, dst, co)
			case src == "-":
				return e.ExtractTo(dref, dst, os.Stdin, co)
			}
			return e.CopyTo(src, dref, dst, co)
		}),
	}
	c.Flags().BoolVarP(&co.Archive, "archive", "a", false, "keep the owners (uid:gid) of the source")
	c.Flags().BoolVarP(&co.FollowLink, "follow-link", "L", false, "copy what a source symlink points to")
	return c
}
