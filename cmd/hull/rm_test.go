package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hullproject/hull/internal/testutil"
	"golang.org/x/sys/unix"
)

// holdTrash takes the lock of h's trash (engine/trash.go), as a deleter that is
// still busy would hold it, until the returned function is called.
func (h *hullEnv) holdTrash(t *testing.T) func() {
	t.Helper()
	dir := filepath.Join(h.root, "trash")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	var once bool
	release := func() {
		if !once {
			once = true
			f.Close()
		}
	}
	t.Cleanup(release)
	return release
}

// deleters lists the pids of h's trash deleters (`hull system empty-trash`).
func (h *hullEnv) deleters() []int {
	var out []int
	for _, p := range h.procs(nil, false) {
		pid, cmdline, _ := strings.Cut(p, " ")
		if strings.Contains(cmdline, " system empty-trash") {
			n, _ := strconv.Atoi(pid)
			out = append(out, n)
		}
	}
	return out
}

// waitDeleters waits until h has no trash deleter left (and fails the test if
// one stays): a root is removed after them, not under their feet.
func (h *hullEnv) waitDeleters(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for len(h.deleters()) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if d := h.deleters(); len(d) > 0 {
		var why strings.Builder
		for _, pid := range d {
			why.WriteString(testutil.ProcWhere(pid))
		}
		ents, _ := os.ReadDir(filepath.Join(h.root, "trash"))
		t.Errorf("trash deleters still running after 20 s: %v\n%strash: %v", d, why.String(), ents)
	}
}

// removedFiles lists what is still on disk of container id, removed: its trash
// entry, record directory, snapshot and state directory.
func (h *hullEnv) removedFiles(id string) []string {
	var out []string
	for _, p := range []string{
		filepath.Join(h.root, "trash", id), filepath.Join(h.root, "containers", id),
		filepath.Join(h.root, "snapshots", id), filepath.Join(h.state, "containers", id),
	} {
		if _, err := os.Lstat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// TestRmAnswersBeforeTheDeletion: rm frees the name and the ID and answers, and
// the container's files are deleted after, by a process in a session of its own
// that holds none of rm's descriptors. The trash's lock is held meanwhile, so the
// deletion cannot have happened before rm answered: its files are still there,
// in the trash, when rm's output has ended and rm has exited. Once the lock is
// free, nothing of it is left.
func TestRmAnswersBeforeTheDeletion(t *testing.T) {
	testutil.RequireRoot(t)
	h := newHullEnv(t, "hull")
	id := strings.TrimSpace(h.ok("create", "--network", "none", "--name", "gone", "busybox", "true"))
	live := strings.TrimSpace(h.ok("run", "-d", "--network", "none", "--name", "live", "busybox", "sleep", "100"))
	release := h.holdTrash(t)

	// A running container's rootfs is unmounted before rm -f answers: only
	// files are left for later.
	h.ok("rm", "-f", "live")
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), h.root+"/") {
		t.Errorf("a mount under the root is left after rm -f answered")
	}
	if _, err := os.Lstat(filepath.Join(h.root, "trash", live)); err != nil {
		t.Errorf("the removed running container is not in the trash: %v", err)
	}

	// rm's stdout and stderr, and a descriptor more that its caller leaked to
	// it (fd 3, as a shell's): none may stay open in the deleter.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	leakR, leakW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer leakR.Close()
	cmd := h.command(context.Background(), "rm", "gone")
	cmd.Stdout, cmd.Stderr = w, w
	cmd.ExtraFiles = []*os.File{leakW}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	leakW.Close()
	read := make(chan string, 1)
	go func() { b, _ := io.ReadAll(r); read <- string(b) }()
	select {
	case out := <-read:
		if out != "gone\n" {
			t.Errorf("rm printed %q, want %q", out, "gone\n")
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("rm's output has not ended after 20 s while the deletion waits (a deleter holds it?)")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("rm: %v", err)
	}
	leaked := make(chan struct{})
	go func() { io.ReadAll(leakR); close(leaked) }()
	select {
	case <-leaked:
	case <-time.After(20 * time.Second):
		t.Fatalf("the descriptor rm inherited is still open 20 s after rm exited (the deleter holds it?)")
	}

	if _, err := os.Lstat(filepath.Join(h.root, "trash", id)); err != nil {
		t.Fatalf("the removed container is not in the trash after rm answered: %v (left: %v)", err, h.removedFiles(id))
	}
	if _, err := os.Lstat(filepath.Join(h.root, "trash", id, "snapshot", "upper")); err != nil {
		t.Errorf("the snapshot was deleted before rm answered, not after: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(h.root, "snapshots", id)); err == nil {
		t.Errorf("the snapshot is still in the store after rm answered")
	}
	d := h.deleters() // one of rm -f live, one of rm gone
	if len(d) != 2 {
		t.Fatalf("%d trash deleters run, want 2: %v", len(d), h.procs(nil, false))
	}
	for _, pid := range d {
		if sid, err := unix.Getsid(pid); err != nil || sid != pid {
			t.Errorf("the deleter %d is in session %d (%v), not one of its own", pid, sid, err)
		}
		for fd := 0; fd <= 2; fd++ {
			if target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, fd)); target != "/dev/null" {
				t.Errorf("the deleter's fd %d is %q, not /dev/null", fd, target)
			}
		}
	}
	// As far as anyone can see, it is gone: not listed, not found, its name free.
	if out := h.ok("ps", "-aq", "--no-trunc"); strings.Contains(out, id) {
		t.Errorf("ps -a lists the removed container: %q", out)
	}
	if _, stderr, code := h.run("inspect", id); code == 0 {
		t.Errorf("inspect finds the removed container")
	} else if !strings.Contains(stderr, "no such") {
		t.Errorf("inspect of the removed container: %s", stderr)
	}
	again := strings.TrimSpace(h.ok("create", "--network", "none", "--name", "gone", "busybox", "true"))

	release()
	deadline := time.Now().Add(20 * time.Second)
	for len(h.removedFiles(id)) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	for len(h.removedFiles(live)) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if left := append(h.removedFiles(id), h.removedFiles(live)...); len(left) > 0 {
		t.Errorf("left after the deletion: %v", left)
	}
	h.waitDeleters(t)
	if got := strings.TrimSpace(h.ok("inspect", "-f", "{{.Id}}", "gone")); got != again {
		t.Errorf("the new container named gone is %s, want %s", got, again)
	}
}

// TestTrashSweptAfterTheDeleterDied: a deleter killed before it deleted anything
// (here: while it waits for the trash's lock) leaves the trash as it was, and the
// next listing empties it, snapshots and state included.
func TestTrashSweptAfterTheDeleterDied(t *testing.T) {
	testutil.RequireRoot(t)
	h := newHullEnv(t, "hull")
	var ids []string
	for _, name := range []string{"k1", "k2"} {
		ids = append(ids, strings.TrimSpace(h.ok("create", "--network", "none", "--name", name, "busybox", "true")))
	}
	release := h.holdTrash(t)
	h.ok("rm", "k1", "k2")
	d := h.deleters()
	if len(d) != 1 {
		t.Fatalf("%d trash deleters run, want 1", len(d))
	}
	if err := syscall.Kill(d[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	h.waitDeleters(t)
	release()
	for _, id := range ids {
		if _, err := os.Lstat(filepath.Join(h.root, "trash", id)); err != nil {
			t.Fatalf("container %s is not in the trash after its deleter died: %v", id[:12], err)
		}
	}
	// The listing sweeps before it answers.
	h.ok("ps", "-a")
	for _, id := range ids {
		if left := h.removedFiles(id); len(left) > 0 {
			t.Errorf("left after ps -a swept the trash: %v", left)
		}
	}
}

// TestTrashEntryWithoutItsSnapshot: an rm that died between its two renames
// leaves a trash entry whose snapshot is still in the store (simulated here by
// doing the first rename by hand). The deleter (`hull system empty-trash`) opens
// no image store, which would make the root's directories: it leaves that entry,
// and the next listing's sweep deletes it with the store's snapshot. Such an
// entry is also what a removal of the whole root (rm -rf, a test's TempDir)
// leaves for a moment: the deleter makes nothing there.
func TestTrashEntryWithoutItsSnapshot(t *testing.T) {
	testutil.RequireRoot(t)
	h := newHullEnv(t, "hull")
	halfRemoved := func(name string) string {
		t.Helper()
		id := strings.TrimSpace(h.ok("create", "--network", "none", "--name", name, "busybox", "true"))
		os.Mkdir(filepath.Join(h.root, "trash"), 0o700)
		if err := os.Rename(filepath.Join(h.root, "containers", id), filepath.Join(h.root, "trash", id)); err != nil {
			t.Fatal(err)
		}
		return id
	}
	id := halfRemoved("half")
	h.ok("system", "empty-trash")
	for _, p := range []string{filepath.Join(h.root, "trash", id), filepath.Join(h.root, "snapshots", id)} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("empty-trash removed %s: %v", p, err)
		}
	}
	h.ok("ps", "-a")
	// (a created container has no state directory, which rm deletes first)
	if left := h.removedFiles(id); len(left) > 0 {
		t.Errorf("left after ps -a: %v", left)
	}

	// The root half removed, all but the trash: empty-trash adds nothing.
	halfRemoved("gone")
	ents, _ := os.ReadDir(h.root)
	for _, e := range ents {
		if e.Name() != "trash" {
			if err := os.RemoveAll(filepath.Join(h.root, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	h.ok("system", "empty-trash")
	ents, _ = os.ReadDir(h.root)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if len(names) != 1 || names[0] != "trash" {
		t.Errorf("empty-trash made %v in a root being removed", names)
	}
}

// TestRmRelativeRoot: the deleter runs in /, so rm hands it its root and state
// as absolute paths: an rm given relative ones still has its trash emptied.
func TestRmRelativeRoot(t *testing.T) {
	testutil.RequireRoot(t)
	h := newHullEnv(t, "hull")
	id := strings.TrimSpace(h.ok("create", "--network", "none", "--name", "rel", "busybox", "true"))
	state, err := filepath.Rel(filepath.Dir(h.root), h.state)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(h.bin, "--root", filepath.Base(h.root), "--state", state, "rm", "rel")
	cmd.Dir = filepath.Dir(h.root)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rm with a relative root: %v: %s", err, out)
	}
	h.waitDeleters(t)
	if left := h.removedFiles(id); len(left) > 0 {
		t.Errorf("left after the deleter of an rm with a relative root ended: %v", left)
	}
}
