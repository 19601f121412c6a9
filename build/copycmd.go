package build

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hullproject/hull/engine/spec"
	"github.com/hullproject/hull/image"
	"github.com/hullproject/hull/image/layer"
	"github.com/hullproject/hull/internal/fsroot"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"golang.org/x/sys/unix"
)

// copyCmd is COPY or ADD, expanded.
type copyCmd struct {
	text     string
	add      bool
	sd       instructions.SourcesAndDest
	from     string
	chown    string
	chmod    string
	link     bool
	parents  bool
	exclude  []string
	checksum string
	unpack   *bool
}

// resolveUser resolves user (Docker's user[:group]) in the stage's rootfs: uid, gid,
// then the supplementary groups.
func (st *stage) resolveUser(user string) ([]uint32, error) {
	if st.rootfs == "" {
		if err := st.openSnap(); err != nil {
			return nil, err
		}
	}
	u, err := spec.ResolveUser(st.rootfs, user, nil)
	if err != nil {
		return nil, err
	}
	return append([]uint32{u.UID, u.GID}, u.AdditionalGids...), nil
}

// chownFlag resolves COPY --chown: a user without a group gets its uid as gid
// (Docker's documented rule), names are looked up in the stage's rootfs.
func (st *stage) chownFlag(s string) (*[2]int, error) {
	if s == "" {
		return nil, nil
	}
	_, _, hasGroup := strings.Cut(s, ":")
	ids, err := st.resolveUser(s)
	if err != nil {
		return nil, fmt.Errorf("--chown=%s: %w", s, err)
	}
	out := [2]int{int(ids[0]), int(ids[1])}
	if !hasGroup {
		out[1] = out[0]
	}
	return &out, nil
}

// chownNamesUser tells whether --chown names a user or group (not only numbers).
func chownNamesUser(s string) bool {
	for _, p := range strings.Split(s, ":") {
		if _, err := strconv.ParseUint(p, 10, 32); err != nil && p != "" {
			return true
		}
	}
	return false
}

// chmodFlag reads COPY --chmod: octal.
func chmodFlag(s string) (*uint32, error) {
	if s == "" {
		return nil, nil
	}
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o7777 {
		return nil, fmt.Errorf("--chmod=%s: want an octal mode", s)
	}
	m := uint32(n)
	return &m, nil
}

// sourceTree opens the tree a COPY reads: the context, or the rootfs of the stage or
// image --from names. key identifies that tree's content for the cache.
func (st *stage) sourceTree(from string) (*tree, string, error) {
	bd := st.bd
	if from == "" {
		root, err := fsroot.Open(bd.o.Context.Dir())
		if err != nil {
			return nil, "", err
		}
		return &tree{root: root, ctx: bd.o.Context}, "context", nil
	}
	var dir, key string
	if j, ok := bd.stageIndex(from, st.index); ok {
		prev := bd.results[j]
		if prev == nil {
			return nil, "", fmt.Errorf("stage %q is not built", from)
		}
		p, err := bd.view("stage-"+strconv.Itoa(j), prev.layers)
		if err != nil {
			return nil, "", err
		}
		dir, key = p, "stage "+prev.key
	} else {
		img, err := bd.baseImage(from)
		if err != nil {
			return nil, "", fmt.Errorf("--from=%s: %w", from, err)
		}
		p, err := bd.view("image-"+img.Config.Encoded(), img.Layers)
		if err != nil {
			return nil, "", err
		}
		dir, key = p, "image "+img.Config.String()
	}
	root, err := fsroot.Open(dir)
	if err != nil {
		return nil, "", err
	}
	return &tree{root: root}, key, nil
}

// isURL tells whether an ADD source is a remote URL.
func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// copy runs COPY or ADD.
func (st *stage) copy(c copyCmd) (bool, error) {
	if c.parents {
		return false, errors.New("COPY --parents is not supported")
	}
	if len(c.exclude) > 0 {
		return false, errors.New("COPY --exclude is not supported")
	}
	if len(c.sd.SourceContents) > 0 {
		return st.copyHeredoc(c)
	}
	chmod, err := chmodFlag(c.chmod)
	if err != nil {
		return false, err
	}
	t, treeKey, err := st.sourceTree(c.from)
	if err != nil {
		return false, err
	}
	defer t.root.Close()
	dest := c.sd.DestPath
	if !path.IsAbs(dest) {
		wd := orRoot(st.img.Config.WorkingDir)
		end := strings.HasSuffix(dest, "/") || dest == "."
		dest = path.Join(wd, dest)
		if end {
			dest += "/"
		}
	}
	var local []string
	var urls []string
	for _, s := range c.sd.SourcePaths {
		if isURL(s) {
			if !c.add {
				return false, fmt.Errorf("source can't be a URL for COPY")
			}
			urls = append(urls, s)
			continue
		}
		local = append(local, s)
	}
	if len(local)+len(urls) > 1 && !strings.HasSuffix(dest, "/") {
		return false, errors.New("when using COPY with more than one source file, the destination must be a directory and end with a /")
	}
	// Remote files are fetched before the cache is asked: their content is the key.
	var downloads []*os.File
	defer func() {
		for _, f := range downloads {
			f.Close()
		}
	}()
	var extra []copyItem
	for _, u := range urls {
		f, item, err := st.download(u, dest, c.checksum)
		if err != nil {
			return false, err
		}
		downloads = append(downloads, f)
		extra = append(extra, item)
	}
	if c.checksum != "" && len(local) > 0 {
		return false, errors.New("ADD --checksum is for URLs only")
	}
	// The plan is made against the rootfs (is the destination a directory?) only
	// when it must be: a snapshot costs a mount.
	destIsDir := func(rel string) bool {
		if strings.HasSuffix(dest, "/") || rel == "" {
			return true
		}
		if st.rootfs == "" && st.openSnap() != nil {
			return false
		}
		root, err := fsroot.Open(st.rootfs)
		if err != nil {
			return false
		}
		defer root.Close()
		fd, err := root.Open(rel, unix.O_PATH|unix.O_DIRECTORY)
		if err != nil {
			return false
		}
		unix.Close(fd)
		return true
	}
	if c.link {
		// A --link layer does not depend on what is below it: the destination is
		// a directory only if the instruction says so.
		destIsDir = func(rel string) bool { return strings.HasSuffix(dest, "/") || rel == "" }
	}
	plan := &copyPlan{}
	var archives []copyItem
	if len(local) > 0 {
		var err error
		plan, err = planCopy(t, local, dest, destIsDir)
		if err != nil {
			return false, err
		}
		if c.add && (c.unpack == nil || *c.unpack) {
			plan, archives, err = splitArchives(t, plan, dest)
			if err != nil {
				return false, err
			}
		}
	}
	plan.items = append(plan.items, extra...)
	if len(extra) > 0 {
		plan.mkdirs = append(plan.mkdirs, path.Dir(extra[0].dst))
	}
	sum, err := plan.digest(t)
	if err != nil {
		return false, err
	}
	arch := &copyPlan{items: archives}
	asum, err := arch.digest(t)
	if err != nil {
		return false, err
	}
	// A --link layer does not depend on the layers below it, so neither does its
	// key, unless --chown names a user to look up in them.
	parent := st.key
	if c.link && !chownNamesUser(c.chown) {
		parent = "link"
	}
	key := cacheKey(parent, c.text, treeKey, dest, c.chown, c.chmod, sum, asum)
	if c.link {
		return st.linkStep(key, c, plan, archives, t, chmod)
	}
	return st.layerStep(key, c.text, func(root *fsroot.Root) error {
		chown, err := st.chownFlag(c.chown)
		if err != nil {
			return err
		}
		return writeCopy(t, root, plan, archives, copyOpts{chown: chown, chmod: chmod})
	})
}

// writeCopy applies a plan and unpacks ADD's archives.
func writeCopy(t *tree, root *fsroot.Root, plan *copyPlan, archives []copyItem, o copyOpts) error {
	if err := applyCopy(t, plan, root, o); err != nil {
		return err
	}
	for _, a := range archives {
		if err := unpackArchive(t, a, root); err != nil {
			return err
		}
	}
	return nil
}

// linkStep runs COPY --link: the files are written into an empty snapshot, so the
// layer holds only them (and the directories above them) and does not depend on
// the stage's layers; it is put on top of them.
func (st *stage) linkStep(key string, c copyCmd, plan *copyPlan, archives []copyItem, t *tree, chmod *uint32) (bool, error) {
	bd := st.bd
	var chown *[2]int
	if c.chown != "" {
		var err error
		if chown, err = st.chownFlag(c.chown); err != nil {
			return false, err
		}
	}
	if !bd.o.NoCache {
		if e, ok := bd.cacheGet(key); ok {
			st.apply(key, c.text, e)
			return true, nil
		}
	}
	saved := st.layers
	st.closeSnap()
	st.layers = nil
	defer func() { st.layers = append(saved, st.layers...) }()
	if err := st.openSnap(); err != nil {
		return false, err
	}
	root, err := fsroot.Open(st.rootfs)
	if err != nil {
		return false, err
	}
	err = writeCopy(t, root, plan, archives, copyOpts{chown: chown, chmod: chmod})
	root.Close()
	if err != nil {
		st.dropSnap()
		return false, err
	}
	e, err := st.diff(c.text)
	if err != nil {
		return false, err
	}
	if err := bd.cachePut(key, e); err != nil {
		return false, err
	}
	st.apply(key, c.text, e)
	return false, nil
}

// copyHeredoc runs COPY <<EOF dest: each here-document becomes a file.
func (st *stage) copyHeredoc(c copyCmd) (bool, error) {
	chmod, err := chmodFlag(c.chmod)
	if err != nil {
		return false, err
	}
	dest := c.sd.DestPath
	if !path.IsAbs(dest) {
		end := strings.HasSuffix(dest, "/")
		dest = path.Join(orRoot(st.img.Config.WorkingDir), dest)
		if end {
			dest += "/"
		}
	}
	dir, err := os.MkdirTemp(filepath.Join(st.bd.b.StateDir, "build"), "heredoc-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(dir)
	for _, sc := range c.sd.SourceContents {
		name := path.Base(sc.Path)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(sc.Data), 0o644); err != nil {
			return false, err
		}
	}
	root, err := fsroot.Open(dir)
	if err != nil {
		return false, err
	}
	t := &tree{root: root}
	defer root.Close()
	var srcs []string
	for _, sc := range c.sd.SourceContents {
		srcs = append(srcs, path.Base(sc.Path))
	}
	plan, err := planCopy(t, srcs, dest, func(string) bool { return strings.HasSuffix(dest, "/") })
	if err != nil {
		return false, err
	}
	// Fixed times: a here-document has no mtime of its own.
	for i := range plan.items {
		plan.items[i].st.Mtim = unix.Timespec{}
		plan.items[i].st.Atim = unix.Timespec{}
	}
	sum, err := plan.digest(t)
	if err != nil {
		return false, err
	}
	key := cacheKey(st.key, c.text, dest, c.chown, c.chmod, sum)
	return st.layerStep(key, c.text, func(root *fsroot.Root) error {
		chown, err := st.chownFlag(c.chown)
		if err != nil {
			return err
		}
		return applyCopy(t, plan, root, copyOpts{chown: chown, chmod: chmod})
	})
}

// download fetches an ADD URL into a temporary file; the item writes it to dest
// (a directory when it ends in "/": the file is named by the URL's last path
// element) with mode 0600 and the Last-Modified time, as Docker does.
func (st *stage) download(u, dest, checksum string) (*os.File, copyItem, error) {
	pu, err := url.Parse(u)
	if err != nil {
		return nil, copyItem{}, fmt.Errorf("ADD %s: %w", u, err)
	}
	dst := cleanRel(dest)
	if strings.HasSuffix(dest, "/") {
		base := path.Base(pu.Path)
		if base == "/" || base == "." || base == "" {
			return nil, copyItem{}, fmt.Errorf("ADD %s: cannot determine a file name from the URL; give the destination's", u)
		}
		dst = path.Join(dst, base)
	}
	f, modTime, sum, err := fetchURL(st.bd, u)
	if err != nil {
		return nil, copyItem{}, err
	}
	if checksum != "" {
		want := strings.TrimPrefix(checksum, "sha256:")
		if !strings.HasPrefix(checksum, "sha256:") || want != sum {
			f.Close()
			return nil, copyItem{}, fmt.Errorf("ADD %s: checksum %s does not match the content (sha256:%s)", u, checksum, sum)
		}
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, copyItem{}, err
	}
	item := copyItem{file: f, dst: dst}
	item.st.Mode = unix.S_IFREG | 0o600
	item.st.Size = fi.Size()
	item.st.Nlink = 1
	if !modTime.IsZero() {
		item.st.Mtim = unix.NsecToTimespec(modTime.UnixNano())
		item.st.Atim = item.st.Mtim
	} else {
		now := unix.NsecToTimespec(time.Now().UnixNano())
		item.st.Mtim, item.st.Atim = now, now
	}
	return f, item, nil
}

// maxDownload bounds an ADD URL's size.
const maxDownload = 8 << 30

// fetchURL downloads u to an unlinked temporary file and returns it with its
// Last-Modified time and sha256.
func fetchURL(bd *build, u string) (*os.File, time.Time, string, error) {
	req, err := http.NewRequestWithContext(bd.ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, time.Time{}, "", fmt.Errorf("ADD %s: %w", u, err)
	}
	client := bd.b.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, time.Time{}, "", fmt.Errorf("ADD %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, time.Time{}, "", fmt.Errorf("ADD %s: %s", u, resp.Status)
	}
	dir := filepath.Join(bd.b.StateDir, "build")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, time.Time{}, "", err
	}
	f, err := os.CreateTemp(dir, "download-")
	if err != nil {
		return nil, time.Time{}, "", err
	}
	os.Remove(f.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(resp.Body, maxDownload+1))
	if err == nil && n > maxDownload {
		err = fmt.Errorf("larger than %d bytes", int64(maxDownload))
	}
	if err != nil {
		f.Close()
		return nil, time.Time{}, "", fmt.Errorf("ADD %s: %w", u, err)
	}
	var mod time.Time
	if lm := resp.Header.Get("Last-Modified"); lm != "" {
		mod, _ = http.ParseTime(lm)
	}
	return f, mod, hex.EncodeToString(h.Sum(nil)), nil
}

// splitArchives takes ADD's local tar archives (plain, gzip, bzip2 or zstd) out of
// the plan: they are unpacked into the destination directory instead of copied.
// Only a source named by the instruction is unpacked, not a file inside a copied
// directory.
func splitArchives(t *tree, p *copyPlan, dest string) (*copyPlan, []copyItem, error) {
	out := &copyPlan{mkdirs: p.mkdirs}
	var archives []copyItem
	for _, it := range p.items {
		if it.st.Mode&unix.S_IFMT != unix.S_IFREG || strings.Contains(strings.TrimPrefix(it.dst, cleanRel(dest)+"/"), "/") {
			out.items = append(out.items, it)
			continue
		}
		ok, err := isArchive(t, it)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			out.items = append(out.items, it)
			continue
		}
		// Unpacked into the destination directory, whatever the file's name.
		d := cleanRel(dest)
		if !strings.HasSuffix(dest, "/") && path.Base(it.dst) != path.Base(it.src) {
			d = it.dst
		} else if !strings.HasSuffix(dest, "/") {
			d = path.Dir(it.dst)
		}
		it.dst = d
		archives = append(archives, it)
	}
	return out, archives, nil
}

// decompressor sniffs a compressed stream; plain streams come back as they are.
func decompressor(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(3)
	if bytes.Equal(magic, []byte("BZh")) {
		return io.NopCloser(bzip2.NewReader(br)), nil
	}
	return image.Decompress(br)
}

// isArchive tells whether a file is a tar archive, compressed or not.
func isArchive(t *tree, it copyItem) (bool, error) {
	f, err := it.open(t)
	if err != nil {
		return false, err
	}
	defer f.Close()
	zr, err := decompressor(f)
	if err != nil {
		return false, nil
	}
	defer zr.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(zr, head)
	return n == 512 && isTar(head) && !allZero(head), nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// unpackArchive unpacks an ADD archive into its destination directory in root. The
// directory is made and opened inside the root first, and the unpacker works
// below that descriptor (/proc/self/fd names the very directory resolved), so
// neither a symlink in the rootfs nor one in the archive leads it out.
func unpackArchive(t *tree, it copyItem, root *fsroot.Root) error {
	fd, err := root.MkdirAll(it.dst, 0o755)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	f, err := it.open(t)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := decompressor(f)
	if err != nil {
		return fmt.Errorf("unpack %s: %w", it.src, err)
	}
	defer zr.Close()
	dir := fmt.Sprintf("/proc/self/fd/%d", fd)
	if _, err := layer.ApplyMerge(dir, zr, layer.DefaultLimits); err != nil {
		return fmt.Errorf("unpack %s: %w", it.src, err)
	}
	return archiveRootMeta(t, it, dir)
}

// archiveRootMeta gives the destination directory the metadata of the archive's
// root entry ("./"), as Docker's ADD does; the layer unpacker leaves a root alone.
// Only a first entry is looked at: tar writes the root first.
func archiveRootMeta(t *tree, it copyItem, dir string) error {
	f, err := it.open(t)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := decompressor(f)
	if err != nil {
		return nil
	}
	defer zr.Close()
	hdr, err := tar.NewReader(zr).Next()
	if err != nil || hdr.Typeflag != tar.TypeDir {
		return nil
	}
	if rel, err := layer.Clean(hdr.Name); err != nil || rel != "" {
		return nil
	}
	if err := unix.Chown(dir, hdr.Uid, hdr.Gid); err != nil {
		return fmt.Errorf("unpack %s: %w", it.src, err)
	}
	if err := unix.Chmod(dir, uint32(hdr.Mode)&0o7777); err != nil {
		return fmt.Errorf("unpack %s: %w", it.src, err)
	}
	ts := unix.NsecToTimespec(hdr.ModTime.UnixNano())
	return unix.UtimesNanoAt(unix.AT_FDCWD, dir, []unix.Timespec{ts, ts}, 0)
}
