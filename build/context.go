package build

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"strings"

	"github.com/hullproject/hull/image"
	"github.com/hullproject/hull/image/layer"
	"github.com/hullproject/hull/internal/fsroot"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"golang.org/x/sys/unix"
)

// Context is a build's context: the tree COPY and ADD read from, a directory on
// disk. A directory context is read where it is; a tar context (`hull build - <
// ctx.tar`, the Docker API's POST /build) is unpacked into a temporary directory
// first, by package layer's confined unpacker (a ".." name or a symlink planted to
// lead out stops there). Every read below the directory is confined to it
// (internal/fsroot): a symlink in the context that points at /etc/shadow reads the
// context's own etc/shadow, if any.
type Context struct {
	dir    string
	tmp    bool // dir is ours: Close removes it
	ignore *patternmatcher.PatternMatcher
}

// DirContext is the context in the directory dir.
func DirContext(dir string) (*Context, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("build context: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("build context %s: not a directory", dir)
	}
	return &Context{dir: dir}, nil
}

// maxContextDockerfile bounds a Dockerfile read from a stream instead of a context.
const maxContextDockerfile = 16 << 20

// ReadContext reads a context from r as `docker build -` does: a tar (plain, gzip,
// bzip2, xz or zstd) is the context, unpacked below tmpDir; anything else is the
// Dockerfile itself, returned as dockerfile, with an empty context.
func ReadContext(r io.Reader, tmpDir string) (ctx *Context, dockerfile []byte, err error) {
	zr, err := decompress(r)
	if err != nil {
		return nil, nil, fmt.Errorf("build context: %w", err)
	}
	defer zr.Close()
	br := bufio.NewReaderSize(zr, 64<<10)
	head, _ := br.Peek(512)
	dir, err := os.MkdirTemp(tmpDir, "context-")
	if err != nil {
		return nil, nil, fmt.Errorf("build context: %w", err)
	}
	ctx = &Context{dir: dir, tmp: true}
	if !isTar(head) {
		data, err := io.ReadAll(io.LimitReader(br, maxContextDockerfile+1))
		if err == nil && len(data) > maxContextDockerfile {
			err = fmt.Errorf("more than %d bytes", maxContextDockerfile)
		}
		if err != nil {
			ctx.Close()
			return nil, nil, fmt.Errorf("read dockerfile: %w", err)
		}
		return ctx, data, nil
	}
	// ApplyMerge: a ".wh." name in a context tar removes, as it would in a layer;
	// owners and modes are kept, devices made as nodes, never opened.
	if _, err := layer.ApplyMerge(dir, br, layer.DefaultLimits); err != nil {
		ctx.Close()
		return nil, nil, fmt.Errorf("build context: %w", err)
	}
	return ctx, nil, nil
}

// decompress undoes the compressions docker's POST /build takes for a context:
// gzip and zstd (image.Decompress), bzip2, and xz, which Go's library lacks and
// docker too leaves to the xz program.
func decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(6)
	switch {
	case bytes.HasPrefix(magic, []byte("BZh")):
		return io.NopCloser(bzip2.NewReader(br)), nil
	case bytes.Equal(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}):
		return xzReader(br)
	}
	return image.Decompress(br)
}

// xzReader runs `xz -d` on r.
func xzReader(r io.Reader) (io.ReadCloser, error) {
	cmd := exec.Command("xz", "-d", "-c", "-q")
	cmd.Stdin = r
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("xz: %w", err)
	}
	return &xzCloser{ReadCloser: out, cmd: cmd, stderr: &stderr}, nil
}

type xzCloser struct {
	io.ReadCloser
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	eof    bool
}

// Read reports xz's failure (a corrupt stream) at the end of its output, where it
// would otherwise look like a short tar.
func (x *xzCloser) Read(p []byte) (int, error) {
	n, err := x.ReadCloser.Read(p)
	if err == io.EOF && !x.eof {
		x.eof = true
		if werr := x.cmd.Wait(); werr != nil {
			return n, fmt.Errorf("xz: %v: %s", werr, bytes.TrimSpace(x.stderr.Bytes()))
		}
	}
	return n, err
}

func (x *xzCloser) Close() error {
	x.ReadCloser.Close()
	if !x.eof {
		x.eof = true
		x.cmd.Process.Kill()
		x.cmd.Wait()
	}
	return nil
}

// isTar tells whether block is the first header block of a tar archive: a ustar or
// GNU magic, or a header whose checksum holds.
func isTar(block []byte) bool {
	if len(block) < 512 {
		return len(block) == 0 // an empty stream is an empty tar, not a Dockerfile
	}
	if bytes.Equal(block[257:262], []byte("ustar")) {
		return true
	}
	_, err := tar.NewReader(bytes.NewReader(block)).Next()
	return err == nil || errors.Is(err, io.ErrUnexpectedEOF)
}

// Dir is the context's directory.
func (c *Context) Dir() string { return c.dir }

// Close removes a context unpacked from a tar.
func (c *Context) Close() error {
	if c.tmp {
		return os.RemoveAll(c.dir)
	}
	return nil
}

// readFile reads the regular file p of the context, at most limit bytes.
func (c *Context) readFile(p string, limit int64) ([]byte, error) {
	root, err := fsroot.Open(c.dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	fd, err := root.Open(p, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), p)
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", p)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", p, limit)
	}
	return data, nil
}

// loadIgnore reads the context's ignore file: <dockerfile>.dockerignore beside the
// Dockerfile if there is one (BuildKit's rule), else .dockerignore at the root,
// else podman's .containerignore.
func (c *Context) loadIgnore(dockerfile string) error {
	names := []string{".dockerignore", ".containerignore"}
	if dockerfile != "" {
		names = append([]string{dockerfile + ".dockerignore"}, names...)
	}
	for _, n := range names {
		data, err := c.readFile(n, maxContextDockerfile)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", n, err)
		}
		patterns, err := ignorefile.ReadAll(bytes.NewReader(data))
		if err != nil {
			return fmt.Errorf("read %s: %w", n, err)
		}
		pm, err := patternmatcher.New(patterns)
		if err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
		c.ignore = pm
		return nil
	}
	return nil
}

// ignored tells whether the context path rel (relative, cleaned) is left out by
// .dockerignore.
func (c *Context) ignored(rel string) bool {
	if c.ignore == nil || rel == "" || rel == "." {
		return false
	}
	m, err := c.ignore.MatchesOrParentMatches(rel)
	return err == nil && m
}

// cleanRel makes a COPY source or a context path relative to its root: a leading
// "/" is the root, ".." stops there (as fsroot resolves it).
func cleanRel(p string) string {
	return strings.TrimPrefix(path.Clean("/"+p), "/")
}
