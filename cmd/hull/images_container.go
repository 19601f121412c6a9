package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/hullproject/hull/engine"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// The verbs between containers and images: export (a container's filesystem as a
// tar) and commit (its changes as a new image).

func exportCommand(g *globals) *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "export [-o FILE] CONTAINER",
		Short: "write a container's filesystem as a tar archive",
		Args:  cobra.ExactArgs(1),
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			if output == "" {
				if term.IsTerminal(int(os.Stdout.Fd())) {
					return fmt.Errorf("refusing to write a tar archive to a terminal: use -o or redirect")
				}
				return e.Export(args[0], os.Stdout)
			}
			// Written beside the target and renamed: a failed export leaves no
			// truncated archive behind.
			f, err := os.CreateTemp(filepath.Dir(output), ".hull-export-")
			if err != nil {
				return err
			}
			defer os.Remove(f.Name())
			defer f.Close()
			if err := e.Export(args[0], f); err != nil {
				return err
			}
			if err := f.Chmod(0o644); err != nil {
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			return os.Rename(f.Name(), output)
		}),
	}
	c.Flags().StringVarP(&output, "output", "o", "", "file to write (default stdout)")
	return c
}

func commitCommand(g *globals) *cobra.Command {
	var message string
	var changes []string
	c := &cobra.Command{
		Use:   "commit [-m MESSAGE] [-c CHANGE]... CONTAINER [REPOSITORY[:TAG]]",
		Short: "make an image of a container's changes",
		Args:  cobra.RangeArgs(1, 2),
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			ref := ""
			if len(args) == 2 {
				ref = args[1]
			}
			o := engine.CommitOptions{Comment: message}
			if len(changes) > 0 {
				o.Change = func(cfg *ocispec.ImageConfig) error { return badUsage(applyChanges(cfg, changes)) }
			}
			img, err := e.Commit(args[0], ref, o)
			if err != nil {
				return err
			}
			fmt.Println(img.Config)
			return nil
		}),
	}
	c.Flags().StringVarP(&message, "message", "m", "", "commit message (the history entry's comment)")
	c.Flags().StringArrayVarP(&changes, "change", "c", nil, "Dockerfile instruction to apply: CMD, ENTRYPOINT, ENV, LABEL, USER, WORKDIR, EXPOSE, VOLUME, STOPSIGNAL")
	return c
}

// applyChanges applies Dockerfile instructions (docker's --change) to cfg:
// engine.ApplyChanges, which the Docker API's commit calls too.
func applyChanges(cfg *ocispec.ImageConfig, changes []string) error {
	return engine.ApplyChanges(cfg, changes)
}
