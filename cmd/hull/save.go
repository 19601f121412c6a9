package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/hullproject/hull/engine"
	"github.com/hullproject/hull/image"
	"github.com/spf13/cobra"
)

// `hull save`, `hull load` and `hull import`: images to and from archives.

func saveCommand(g *globals) *cobra.Command {
	var output, format string
	c := &cobra.Command{
		Use:   "save IMAGE...",
		Short: "write images to a tar archive (docker-archive or OCI layout)",
		Args:  cobra.MinimumNArgs(1),
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			var w io.Writer = os.Stdout
			if output != "" {
				f, err := os.Create(output)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			return e.Images.Save(w, args, format)
		}),
	}
	c.Flags().StringVarP(&output, "output", "o", "", "file to write (default stdout)")
	c.Flags().StringVar(&format, "format", "docker", "docker or oci")
	return c
}

func loadCommand(g *globals) *cobra.Command {
	var input string
	c := &cobra.Command{
		Use:   "load",
		Short: "load images from a docker-archive or OCI layout tar",
		Args:  cobra.NoArgs,
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			var r io.Reader = os.Stdin
			if input != "" {
				f, err := os.Open(input)
				if err != nil {
					return err
				}
				defer f.Close()
				r = f
			}
			imgs, err := e.Images.Load(context.Background(), r)
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
		}),
	}
	c.Flags().StringVarP(&input, "input", "i", "", "file to read (default stdin)")
	return c
}

func importCommand(g *globals) *cobra.Command {
	var busybox bool
	var changes []string
	c := &cobra.Command{
		Use:   "import (FILE|DIR|-) [NAME] | import --busybox [NAME]",
		Short: "make a one-layer image of a rootfs tarball or directory, or of the host's busybox",
		Args:  cobra.RangeArgs(0, 2),
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			s := e.Images
			var img *image.Image
			var err error
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
		}),
	}
	c.Flags().BoolVar(&busybox, "busybox", false, "build the image from the host's /bin/busybox (busybox-static), no network")
	c.Flags().StringArrayVarP(&changes, "change", "c", nil, "Dockerfile instruction to apply (as commit's)")
	return c
}
