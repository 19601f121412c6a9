package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/hullproject/hull/engine"
	"github.com/hullproject/hull/image"
	"github.com/spf13/cobra"
)

// The image verbs on the local store: images, rmi, tag, history, and the `hull
// image` group (ls, rm, inspect, prune, and the verbs of pull.go and save.go).
// The engine's store is the one they use: its InUse keeps images that containers
// use.

// imageCommand is the `hull image` group.
func imageCommand(g *globals) *cobra.Command {
	grp := &cobra.Command{Use: "image", Short: "manage images"}
	grp.AddCommand(imagesCommand(g, "ls"), rmiCommand(g, "rm"), pullCommand(g), saveCommand(g), loadCommand(g), importCommand(g),
		imageInspectCommand(g), historyCommand(g), imagePruneCommand(g), tagCommand(g))
	return grp
}

// imagesCommand is `hull images`, or `hull image ls` with use "ls".
func imagesCommand(g *globals, use string) *cobra.Command {
	var quiet, digests, all, noTrunc, tree bool
	var format string
	var filters []string
	c := &cobra.Command{
		Use:   use + " [OPTIONS] [REPOSITORY[:TAG]]",
		Short: "list images",
		Args:  cobra.MaximumNArgs(1),
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			if tree {
				return badUsage(errors.New("--tree is not supported (it is experimental in docker)"))
			}
			if len(args) == 1 {
				// docker's REPOSITORY[:TAG] argument is a reference filter
				filters = append(filters, "reference="+args[0])
			}
			f, err := image.ParseListFilter(filters)
			if err != nil {
				return badUsage(err)
			}
			return listImages(e.Images, f, quiet, digests, noTrunc, format)
		}),
	}
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "only IDs")
	c.Flags().BoolVar(&digests, "digests", false, "show digests")
	c.Flags().BoolVarP(&all, "all", "a", false, "all images (accepted for docker compatibility)")
	c.Flags().StringVar(&format, "format", "", "Go template per image: .ID .Repository .Tag .Digest .Size .CreatedAt")
	c.Flags().StringArrayVarP(&filters, "filter", "f", nil, "dangling=, label=, before=, since=, reference=, until=")
	c.Flags().BoolVar(&noTrunc, "no-trunc", false, "do not truncate the IDs")
	c.Flags().BoolVar(&tree, "tree", false, "list multi-platform images as a tree (not supported)")
	return c
}

// rmiCommand is `hull rmi`, or `hull image rm` with use "rm".
func rmiCommand(g *globals, use string) *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   use + " IMAGE...",
		Short: "remove images",
		Args:  cobra.MinimumNArgs(1),
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			for _, a := range args {
				out, err := e.Images.Remove(a, force)
				if err != nil {
					return err
				}
				for _, l := range out {
					fmt.Println(l)
				}
			}
			return nil
		}),
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "remove all names; keep an image still in use as dangling")
	return c
}

func tagCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE TARGET",
		Short: "give an image another name",
		Args:  cobra.ExactArgs(2),
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			return e.Images.Tag(args[0], args[1])
		}),
	}
}

// imageInspectCommand is `hull image inspect`.
func imageInspectCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "inspect IMAGE...",
		Short: "show images as JSON, Docker-shaped",
		Args:  cobra.MinimumNArgs(1),
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			var out []any
			for _, a := range args {
				v, err := e.Images.Inspect(a)
				if err != nil {
					return err
				}
				out = append(out, v)
			}
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "    ")
			return enc.Encode(out)
		}),
	}
}

func historyCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "history IMAGE",
		Short: "show an image's history",
		Args:  cobra.ExactArgs(1),
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			s := e.Images
			img, err := s.Get(args[0])
			if err != nil {
				return err
			}
			cfg, err := s.Config(img)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 8, 3, ' ', 0)
			fmt.Fprintln(tw, "CREATED\tCREATED BY\tCOMMENT")
			for i := len(cfg.History) - 1; i >= 0; i-- {
				h := cfg.History[i]
				created := ""
				if h.Created != nil {
					created = h.Created.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", created, h.CreatedBy, h.Comment)
			}
			return tw.Flush()
		}),
	}
}

// imagePruneCommand is `hull image prune`: the library call and the filters
// the API's POST /images/prune take.
func imagePruneCommand(g *globals) *cobra.Command {
	var all, force bool
	var filters []string
	c := &cobra.Command{
		Use:   "prune [-a] [--filter K=V]",
		Short: "remove dangling images (with -a every image no container uses)",
		Args:  cobra.NoArgs,
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			f, err := image.ParsePruneFilter(filters, time.Now())
			if err != nil {
				return badUsage(err)
			}
			f.All = f.All || all
			rep, err := e.Images.PruneImages(f)
			if rep == nil {
				return err
			}
			for _, n := range rep.Untagged {
				fmt.Println("Untagged:", n)
			}
			for _, id := range rep.Deleted {
				fmt.Println("Deleted:", id)
			}
			fmt.Printf("Total reclaimed space: %s\n", humanBytes(uint64(rep.Reclaimed)))
			return err
		}),
	}
	c.Flags().BoolVarP(&all, "all", "a", false, "remove every unused image, not only dangling ones")
	c.Flags().BoolVarP(&force, "force", "f", false, "do not ask (hull's image prune never asks)")
	c.Flags().StringArrayVar(&filters, "filter", nil, "dangling=, until=, label=, label!=")
	return c
}

func listImages(s *image.Store, f image.ListFilter, quiet, digests, noTrunc bool, format string) error {
	imgs, err := s.List()
	if err != nil {
		return err
	}
	if imgs, err = s.Filter(imgs, f); err != nil {
		return err
	}
	type row struct {
		ID, Repository, Tag, Digest, Size, CreatedAt string
	}
	var rows []row
	for _, img := range imgs {
		id := img.Config.Encoded()[:12]
		if noTrunc {
			id = img.Config.String()
		}
		created := ""
		if cfg, err := s.Config(&img); err == nil && cfg.Created != nil {
			created = cfg.Created.Format("2006-01-02 15:04:05")
		}
		size := humanSize(s.Size(&img))
		dg := img.Manifest.String()
		if img.Index != "" {
			dg = img.Index.String()
		}
		names := img.Names
		if len(names) == 0 {
			names = []string{"<none>:<none>"}
		}
		for _, n := range names {
			repo, tag := n, "<none>"
			if i := strings.LastIndex(n, "@"); i >= 0 {
				repo = n[:i]
			} else if i := strings.LastIndex(n, ":"); i > strings.LastIndex(n, "/") {
				repo, tag = n[:i], n[i+1:]
			}
			rows = append(rows, row{id, repo, tag, dg, size, created})
		}
	}
	if len(f["reference"]) > 0 {
		// docker lists only the names the pattern matched
		rows = slices.DeleteFunc(rows, func(r row) bool {
			n := r.Repository + ":" + r.Tag
			if r.Tag == "<none>" {
				n = r.Repository
			}
			return !slices.ContainsFunc(f["reference"], func(p string) bool { return image.ReferenceMatch(p, n) })
		})
	}
	if quiet {
		seen := map[string]bool{}
		for _, r := range rows {
			if !seen[r.ID] {
				seen[r.ID] = true
				fmt.Println(r.ID)
			}
		}
		return nil
	}
	if format != "" {
		tmpl, err := template.New("format").Parse(format)
		if err != nil {
			return badUsage(fmt.Errorf("bad --format: %w", err))
		}
		for _, r := range rows {
			if err := tmpl.Execute(os.Stdout, r); err != nil {
				return err
			}
			fmt.Println()
		}
		return nil
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 8, 3, ' ', 0)
	if digests {
		fmt.Fprintln(tw, "REPOSITORY\tTAG\tDIGEST\tIMAGE ID\tCREATED\tSIZE")
	} else {
		fmt.Fprintln(tw, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE")
	}
	for _, r := range rows {
		if digests {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Repository, r.Tag, r.Digest, r.ID, r.CreatedAt, r.Size)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Repository, r.Tag, r.ID, r.CreatedAt, r.Size)
		}
	}
	return tw.Flush()
}

func humanSize(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fGB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1fMB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fkB", float64(n)/1e3)
	}
	return fmt.Sprintf("%dB", n)
}
