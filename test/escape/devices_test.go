package escape_test

import (
	"fmt"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestDeviceNodes: with the device cgroup denying everything but the runtime's
// defaults, a node of the host's root disk that the image ships cannot be opened,
// nor can /dev/mem; mknod of a disk fails where the runtime's default rules do not
// allow mknod of block devices (hullrt), and the node, where they do (runc allows
// mknod of any node, "b *:* m"), still cannot be opened. /dev/null, a default
// device, works. A rule of the spec's own that allows only mknod of /dev/fuse's
// number (c 10:229 m) lets the node be made but not opened.
func TestDeviceNodes(t *testing.T) {
	var st unix.Stat_t
	if err := unix.Stat("/", &st); err != nil {
		t.Fatal(err)
	}
	rootMajor, rootMinor := unix.Major(st.Dev), unix.Minor(st.Dev)
	// Some sandboxes refuse even the host's root to open its disk; the disk cases
	// then pass whatever the device rules say.
	node := filepath.Join(t.TempDir(), "disk")
	if err := unix.Mknod(node, unix.S_IFBLK|0o600, int(st.Dev)); err != nil {
		t.Fatal(err)
	}
	if fd, err := unix.Open(node, unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
		t.Logf("the host itself cannot open its root disk (%v): the disk cases prove nothing here", err)
	} else {
		unix.Close(fd)
	}
	eachRuntime(t, func(t *testing.T, r *rt) {
		bundle := r.bundle(script([][]string{
			{"null", "open", "/dev/null"},
			{"hostdisk", "open", "/hostdisk"},
			{"mem", "open", "/hostmem"},
			{"mknod_sda", "mknod", "/tmp/sda", "b", "8", "0"},
			{"open_sda", "open", "/tmp/sda"},
			{"mknod_root", "mknod", "/tmp/root", "b", fmt.Sprint(rootMajor), fmt.Sprint(rootMinor)},
			{"open_root", "open", "/tmp/root"},
			{"mknod_fuse", "mknod", "/tmp/fuse", "c", "10", "229"},
			{"open_fuse", "open", "/tmp/fuse"},
		}), func(s *specs.Spec, rootfs string) {
			major, minor := int64(10), int64(229)
			s.Linux.Resources.Devices = append(s.Linux.Resources.Devices,
				specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: &major, Minor: &minor, Access: "m"})
			// Made by the image's author (the test, as root on the host).
			if err := unix.Mknod(filepath.Join(rootfs, "hostdisk"), unix.S_IFBLK|0o600, int(st.Dev)); err != nil {
				t.Fatal(err)
			}
			if err := unix.Mknod(filepath.Join(rootfs, "hostmem"), unix.S_IFCHR|0o600, int(unix.Mkdev(1, 1))); err != nil {
				t.Fatal(err)
			}
		})
		out, stderr, code := r.runFg(bundle)
		if code != 0 {
			t.Fatalf("run: exit %d: %s", code, stderr)
		}
		want := map[string]string{
			"null": "ok", "hostdisk": "errno=EPERM", "mem": "errno=EPERM",
			"mknod_sda": "errno=EPERM", "open_sda": "errno=ENOENT",
			"mknod_root": "errno=EPERM", "open_root": "errno=ENOENT",
			"mknod_fuse": "ok", "open_fuse": "errno=EPERM",
		}
		if r.name == "runc" {
			// runc's default rules allow mknod of every node (c *:* m, b *:* m).
			want["mknod_sda"], want["open_sda"] = "ok", "errno=EPERM"
			want["mknod_root"], want["open_root"] = "ok", "errno=EPERM"
		}
		expect(t, results(out), want)
	})
}
