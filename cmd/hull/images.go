package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/hullproject/hull/image"
	"github.com/spf13/cobra"
)

// addImageCommands adds the image verbs: pull, push, images, rmi, tag, save, load,
// import, login, logout, and the "image" group (ls, inspect, history, prune, rm, ...).
func addImageCommands(root *cobra.Command, g *globals) {
	var insecure []string
	root.PersistentFlags().StringSliceVar(&insecure, "insecure-registry", nil, "registry (host:port) that may be spoken to over plain http")
	// The engine's store: its InUse keeps images that containers use.
	open := func() (*image.Store, error) { return openStore(g) }
	regOpts := func() image.RegistryOptions {
		o := image.RegistryOptions{Insecure: insecure}
		// <root>/config.json: {"insecureRegistries": ["host:port"]}
		var cfg struct {
			InsecureRegistries []string `json:"insecureRegistries"`
		}
		if data, err := os.ReadFile(filepath.Join(g.root, "config.json")); err == nil && json.Unmarshal(data, &cfg) == nil {
			o.Insecure = append(o.Insecure, cfg.InsecureRegistries...)
		}
		return o
	}

	pull := func() *cobra.Command {
		var platform string
		var quiet bool
		c := &cobra.Command{
			Use:   "pull NAME[:TAG|@DIGEST]",
			Short: "pull an image from a registry",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				s, err := open()
				if err != nil {
					return err
				}
				ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
				defer stop()
				prog, wait := newProgress(quiet)
				opt := image.PullOptions{RegistryOptions: regOpts(), Platform: platform}
				if prog != nil {
					opt.Progress = prog
				}
				img, err := s.Pull(ctx, args[0], opt)
				wait()
				if err != nil {
					return err
				}
				if quiet {
					fmt.Println(img.Names[0])
					return nil
				}
				fmt.Printf("Digest: %s\nStatus: pulled %s\n", img.Manifest, strings.Join(img.Names, ", "))
				return nil
			},
		}
		c.Flags().StringVar(&platform, "platform", "linux/amd64", "os/arch[/variant] to pick from a multi-platform image")
		c.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress output")
		return c
	}
	root.AddCommand(pull())

	root.AddCommand(&cobra.Command{
		Use:   "push NAME[:TAG] [DEST]",
		Short: "push an image to a registry",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := open()
			if err != nil {
				return err
			}
			dest := ""
			if len(args) == 2 {
				dest = args[1]
			}
			return s.Push(cmd.Context(), args[0], dest, regOpts())
		},
	})

	ls := func(use string) *cobra.Command {
		var quiet, digests, all bool
		var format string
		c := &cobra.Command{
			Use:   use,
			Short: "list images",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				s, err := open()
				if err != nil {
					return err
				}
				return listImages(s, quiet, digests, format)
			},
		}
		c.Flags().BoolVarP(&quiet, "quiet", "q", false, "only IDs")
		c.Flags().BoolVar(&digests, "digests", false, "show digests")
		c.Flags().BoolVarP(&all, "all", "a", false, "all images (accepted for docker compatibility)")
		c.Flags().StringVar(&format, "format", "", "Go template per image: .ID .Repository .Tag .Digest .Size .CreatedAt")
		return c
	}
	root.AddCommand(ls("images"))

	rmi := func(use string) *cobra.Command {
		var force bool
		c := &cobra.Command{
			Use:   use + " IMAGE...",
			Short: "remove images",
			Args:  cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				s, err := open()
				if err != nil {
					return err
				}
				for _, a := range args {
					out, err := s.Remove(a, force)
					if err != nil {
						return err
					}
					for _, l := range out {
						fmt.Println(l)
					}
				}
				return nil
			},
		}
		c.Flags().BoolVarP(&force, "force", "f", false, "remove all names; keep an image still in use as dangling")
		return c
	}
	root.AddCommand(rmi("rmi"))

	tag := &cobra.Command{
		Use:   "tag SOURCE TARGET",
		Short: "give an image another name",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := open()
			if err != nil {
				return err
			}
			return s.Tag(args[0], args[1])
		},
	}
	root.AddCommand(tag)

	save := func() *cobra.Command {
		var output, format string
		c := &cobra.Command{
			Use:   "save IMAGE...",
			Short: "write images to a tar archive (docker-archive or OCI layout)",
			Args:  cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				s, err := open()
				if err != nil {
					return err
				}
				var w io.Writer = os.Stdout
				if output != "" {
					f, err := os.Create(output)
					if err != nil {
						return err
					}
					defer f.Close()
					w = f
				}
				return s.Save(w, args, format)
			},
		}
		c.Flags().StringVarP(&output, "output", "o", "", "file to write (default stdout)")
		c.Flags().StringVar(&format, "format", "docker", "docker or oci")
		return c
	}
	root.AddCommand(save())

	load := func() *cobra.Command {
		var input string
		c := &cobra.Command{
			Use:   "load",
			Short: "load images from a docker-archive or OCI layout tar",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				s, err := open()
				if err != nil {
					return err
				}
				var r io.Reader = os.Stdin
				if input != "" {
					f, err := os.Open(input)
					if err != nil {
						return err
					}
					defer f.Close()
					r = f
				}
				imgs, err := s.Load(context.Background(), r)
				if err != nil {
					return err
				}
				for _, img := range imgs {
					n := img.Config.String()
					if len(img.Names) > 0 {
						n = img.Names[0]
					}
					fmt.Println("Loaded image:", n)
				}
				return nil
			},
		}
		c.Flags().StringVarP(&input, "input", "i", "", "file to read (default stdin)")
		return c
	}
	root.AddCommand(load())

	imp := func() *cobra.Command {
		var busybox bool
		var changes []string
		c := &cobra.Command{
			Use:   "import (FILE|DIR|-) [NAME] | import --busybox [NAME]",
			Short: "make a one-layer image of a rootfs tarball or directory, or of the host's busybox",
			Args:  cobra.RangeArgs(0, 2),
			RunE: func(cmd *cobra.Command, args []string) error {
				s, err := open()
				if err != nil {
					return err
				}
				var img *image.Image
				if busybox {
					if len(args) > 1 {
						return badUsage(fmt.Errorf("import --busybox takes at most a name"))
					}
					ref := "busybox:latest"
					if len(args) == 1 {
						ref = args[0]
					}
					img, err = image.BusyboxImage(context.Background(), s, ref)
				} else {
					if len(args) == 0 {
						return badUsage(fmt.Errorf("import needs a file, a directory or -"))
					}
					ref := ""
					if len(args) == 2 {
						ref = args[1]
					}
					opt := image.ImportOptions{}
					if err := applyChanges(&opt.Config, changes); err != nil {
						return badUsage(err)
					}
					if st, serr := os.Stat(args[0]); serr == nil && st.IsDir() {
						img, err = s.ImportDir(args[0], ref, opt)
					} else {
						var r io.Reader = os.Stdin
						if args[0] != "-" {
							f, err := os.Open(args[0])
							if err != nil {
								return err
							}
							defer f.Close()
							r = f
						}
						img, err = s.Import(r, ref, opt)
					}
				}
				if err != nil {
					return err
				}
				fmt.Println(img.Config)
				return nil
			},
		}
		c.Flags().BoolVar(&busybox, "busybox", false, "build the image from the host's /bin/busybox (busybox-static), no network")
		c.Flags().StringArrayVarP(&changes, "change", "c", nil, "Dockerfile instruction to apply (as commit's)")
		return c
	}
	root.AddCommand(imp())

	grp := &cobra.Command{Use: "image", Short: "manage images"}
	grp.AddCommand(ls("ls"), rmi("rm"), pull(), save(), load(), imp())
	grp.AddCommand(&cobra.Command{
		Use:   "inspect IMAGE...",
		Short: "show images as JSON, Docker-shaped",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := open()
			if err != nil {
				return err
			}
			var out []any
			for _, a := range args {
				v, err := s.Inspect(a)
				if err != nil {
					return err
				}
				out = append(out, v)
			}
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "    ")
			return enc.Encode(out)
		},
	})
	history := &cobra.Command{
		Use:   "history IMAGE",
		Short: "show an image's history",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := open()
			if err != nil {
				return err
			}
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
		},
	}
	root.AddCommand(history)
	grp.AddCommand(&cobra.Command{Use: history.Use, Short: history.Short, Args: history.Args, RunE: history.RunE})
	prune := func() *cobra.Command {
		var all bool
		c := &cobra.Command{
			Use:   "prune",
			Short: "remove dangling images (with -a every image no container uses)",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				s, err := open()
				if err != nil {
					return err
				}
				ids, err := s.Prune(all)
				for _, id := range ids {
					fmt.Println("Deleted:", id)
				}
				return err
			},
		}
		c.Flags().BoolVarP(&all, "all", "a", false, "remove every unused image, not only dangling ones")
		return c
	}
	grp.AddCommand(prune())
	grp.AddCommand(&cobra.Command{Use: tag.Use, Short: tag.Short, Args: tag.Args, RunE: tag.RunE})
	root.AddCommand(grp)
	addLoginCommands(root)
}

func listImages(s *image.Store, quiet, digests bool, format string) error {
	imgs, err := s.List()
	if err != nil {
		return err
	}
	type row struct {
		ID, Repository, Tag, Digest, Size, CreatedAt string
	}
	var rows []row
	for _, img := range imgs {
		id := img.Config.Encoded()[:12]
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
