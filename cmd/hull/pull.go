package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/hullproject/hull/engine"
	"github.com/hullproject/hull/image"
	"github.com/spf13/cobra"
)

// `hull pull` and `hull push`: images to and from a registry (login.go stores the
// credentials they use).

func pullCommand(g *globals) *cobra.Command {
	var platform string
	var quiet, allTags bool
	c := &cobra.Command{
		Use:   "pull NAME[:TAG|@DIGEST]",
		Short: "pull an image from a registry",
		Args:  cobra.ExactArgs(1),
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			refs := args
			if allTags {
				// docker's -a: every tag of the repository, which the name
				// must not pick itself
				if last := args[0][strings.LastIndex(args[0], "/")+1:]; strings.ContainsAny(last, ":@") {
					return badUsage(fmt.Errorf("tag can't be used with --all-tags/-a: %s", args[0]))
				}
				tags, err := e.Images.Tags(ctx, args[0], registryOptions(g))
				if err != nil {
					return err
				}
				refs = nil
				for _, t := range tags {
					refs = append(refs, args[0]+":"+t)
				}
			}
			for _, ref := range refs {
				prog, wait := newProgress(quiet)
				opt := image.PullOptions{RegistryOptions: registryOptions(g), Platform: platform}
				if prog != nil {
					opt.Progress = prog
				}
				img, err := e.Images.Pull(ctx, ref, opt)
				wait()
				if err != nil {
					return err
				}
				if quiet {
					fmt.Println(img.Names[0])
					continue
				}
				fmt.Printf("Digest: %s\nStatus: pulled %s\n", img.Manifest, strings.Join(img.Names, ", "))
			}
			return nil
		}),
	}
	c.Flags().StringVar(&platform, "platform", "linux/amd64", "os/arch[/variant] to pick from a multi-platform image")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress output")
	c.Flags().BoolVarP(&allTags, "all-tags", "a", false, "pull every tag of the repository")
	c.Flags().Bool("disable-content-trust", true, "skip image verification (hull has no content trust: always)")
	return c
}

func pushCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "push NAME[:TAG] [DEST]",
		Short: "push an image to a registry",
		Args:  cobra.RangeArgs(1, 2),
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			dest := ""
			if len(args) == 2 {
				dest = args[1]
			}
			_, err := e.Images.Push(cmd.Context(), args[0], dest, image.PushOptions{RegistryOptions: registryOptions(g)})
			return err
		}),
	}
}

// registryOptions are how pull and push speak to registries: over plain http to
// those of --insecure-registry and of <root>/config.json.
func registryOptions(g *globals) image.RegistryOptions {
	o := image.RegistryOptions{Insecure: g.insecure}
	// <root>/config.json: {"insecureRegistries": ["host:port"]}
	var cfg struct {
		InsecureRegistries []string `json:"insecureRegistries"`
	}
	if data, err := os.ReadFile(filepath.Join(g.root, "config.json")); err == nil && json.Unmarshal(data, &cfg) == nil {
		o.Insecure = append(o.Insecure, cfg.InsecureRegistries...)
	}
	return o
}
