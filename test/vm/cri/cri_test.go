// Package cri runs test/cri's critest harness inside the cgroup v2 test VM
// (make test-cri-cgroupv2, test/vm/cri/run.sh): containerd 2.x with the runc and
// hull handlers side by side, critest against each, on a kernel with cgroup v2
// only. The harness, critest, containerd and the images are built on the host
// (the VM has no Go) and shipped in the initramfs under /cri.
package cri

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// guestDir is where test/vm/cri/run.sh puts the harness (hull-cri), its
// arguments (args, one a line) and its -prebuilt parts.
const guestDir = "/cri"

func TestCritest(t *testing.T) {
	if os.Getenv("HULL_VM") != "1" {
		t.Skip("runs only in the cgroup v2 test VM (make test-cri-cgroupv2)")
	}
	data, err := os.ReadFile(filepath.Join(guestDir, "args"))
	if os.IsNotExist(err) {
		t.Skip("no " + guestDir + "/args: this VM was not made by test/vm/cri/run.sh")
	}
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	work := ""
	for i, a := range args {
		if a == "-work" && i+1 < len(args) {
			work = args[i+1]
		}
	}
	cmd := exec.Command(filepath.Join(guestDir, "hull-cri"), args...)
	cmd.Dir = guestDir
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	err = cmd.Run()
	// The VM goes with its work directory: ginkgo's summary of each handler's
	// failures is printed instead (the specs both handlers fail are explained
	// in docs/kubernetes.md), and containerd's log when the harness failed.
	if work != "" {
		logs, _ := filepath.Glob(filepath.Join(work, "critest-*.log"))
		for _, l := range logs {
			printFailures(t, l)
		}
		if err != nil {
			tailFile(t, filepath.Join(work, "containerd", "containerd.log"), 40)
		}
	}
	if err != nil {
		t.Fatalf("test/cri harness: %v", err)
	}
}

// printFailures logs ginkgo's "[FAILED]" lines (each failure's message) and the
// part of a critest log from its "Summarizing N Failures" on.
func printFailures(t *testing.T, file string) {
	f, err := os.Open(file)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	on := false
	seen := map[string]bool{}
	var out []string
	for sc.Scan() {
		l := sc.Text()
		if strings.Contains(l, "Summarizing") && strings.Contains(l, "Failure") {
			on = true
		}
		if on || (strings.Contains(l, "[FAILED]") && !seen[l]) {
			out = append(out, l)
			seen[l] = true
		}
	}
	if len(out) > 0 {
		t.Logf("%s:\n%s", file, strings.Join(out, "\n"))
	}
}

func tailFile(t *testing.T, file string, n int) {
	data, err := os.ReadFile(file)
	if err != nil {
		return
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	t.Logf("%s (last %d lines):\n%s", file, len(lines), strings.Join(lines, "\n"))
}
