package engine

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/hullproject/hull/internal/fsroot"
	"golang.org/x/sys/unix"
)

// Change is a path the container changed in its root filesystem, as docker
// diff shows it.
type Change struct {
	Path string
	Kind ChangeKind
}

// ChangeKind is docker's: 0 modified, 1 added, 2 deleted.
type ChangeKind uint8

// The kinds of change.
const (
	ChangeModified ChangeKind = 0
	ChangeAdded    ChangeKind = 1
	ChangeDeleted  ChangeKind = 2
)

// Changes lists what the container changed in its root filesystem, by path:
// the entries of its snapshot's diff (what commit would take), each added if no
// layer of its image has the path, else modified, and a whiteout's path
// deleted. As docker's: the mounts (volumes, binds, /etc/hosts) are not part
// of it. A path is looked up in each layer, top first, with no symlink
// followed (the layers are the image's to shape); a whiteout in an upper layer
// hides it, an opaque directory's shadowing of the layers below is not
// considered.
func (e *Engine) Changes(ref string) ([]Change, error) {
	c, err := e.Get(ref)
	if err != nil {
		return nil, err
	}
	infos, err := e.Images.Snapshotter().List()
	if err != nil {
		return nil, err
	}
	var layers []string
	for _, in := range infos {
		if in.Key == c.ID {
			layers = in.Layers
		}
	}
	var fds []int
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for _, l := range layers {
		fd, err := unix.Open(l, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("container %s: layer %s: %w", c.Name, l, err)
		}
		fds = append(fds, fd)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(e.Images.Snapshotter().Diff(c.ID, pw)) }()
	defer pr.Close()
	var out []Change
	hidden := map[string]bool{} // directories of hidden entries
	tr := tar.NewReader(pr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("container %s: changes: %w", c.Name, err)
		}
		p := path.Clean("/" + h.Name)
		dir, base := path.Split(p)
		switch {
		case p == "/":
		case etcMountPoints[p] && h.Typeflag == tar.TypeReg && h.Size == 0:
			// The mount point of the container's own /etc file, made by
			// the runtime: docker's are in a layer of their own, not shown.
			hidden[path.Dir(p)] = true
		case base == ".wh..wh..opq":
		case strings.HasPrefix(base, ".wh."):
			out = append(out, Change{Path: path.Join(dir, strings.TrimPrefix(base, ".wh.")), Kind: ChangeDeleted})
		case inLayers(fds, p):
			out = append(out, Change{Path: p, Kind: ChangeModified})
		default:
			out = append(out, Change{Path: p, Kind: ChangeAdded})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	// A directory modified only for the hidden mount points is not shown.
	return slices.DeleteFunc(out, func(ch Change) bool {
		if !hidden[ch.Path] || ch.Kind != ChangeModified {
			return false
		}
		for _, o := range out {
			if strings.HasPrefix(o.Path, ch.Path+"/") {
				return false
			}
		}
		return true
	}), nil
}

// etcMountPoints are the files the container's /etc gets bind-mounted from
// its record's directory (network.WriteEtc).
var etcMountPoints = map[string]bool{"/etc/hostname": true, "/etc/hosts": true, "/etc/resolv.conf": true}

// inLayers tells whether p is in the layers (descriptors, lowest first): the
// first layer from the top that has it decides, a whiteout (a 0:0 character
// device) saying it is not.
func inLayers(layers []int, p string) bool {
	for i := len(layers) - 1; i >= 0; i-- {
		fd, err := fsroot.OpenIn(layers[i], p, unix.O_PATH|unix.O_NOFOLLOW, unix.RESOLVE_NO_SYMLINKS|unix.RESOLVE_NO_XDEV)
		if err != nil {
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
				continue
			}
			return false
		}
		var st unix.Stat_t
		err = unix.Fstat(fd, &st)
		unix.Close(fd)
		return err == nil && !(st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0)
	}
	return false
}
