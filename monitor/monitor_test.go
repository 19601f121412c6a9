package monitor_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hullproject/hull/internal/testutil"
	"github.com/hullproject/hull/logs"
	"github.com/hullproject/hull/monitor"
	"github.com/hullproject/hull/ociruntime"
	"github.com/hullproject/hull/runtime"
	_ "github.com/hullproject/hull/runtime/nsenter"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func init() { runtime.LockInitThread() }

func TestMain(m *testing.M) {
	if runtime.IsInit() {
		runtime.Init()
		return
	}
	if testutil.IsRoot() {
		if err := monitor.BecomeSubreaper(); err != nil {
			panic(err)
		}
	}
	os.Exit(testutil.Main(m))
}

func TestRun(t *testing.T) {
	testutil.RequireRoot(t)
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	testutil.BusyboxRootfs(t, rootfs)
	for _, name := range []string{"hull", "runc"} {
		t.Run(name, func(t *testing.T) {
			if _, err := exec.LookPath(name); name != "hull" && err != nil {
				t.Skip(name + " not installed")
			}
			rt, err := ociruntime.New(name, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			bundle := t.TempDir()
			spec := runtime.DefaultSpec(false)
			spec.Process.Terminal = false
			spec.Process.Args = []string{"sh", "-c", "echo out; echo err >&2; printf partial; exit 4"}
			spec.Root = &specs.Root{Path: rootfs, Readonly: true}
			spec.Linux.CgroupsPath = "/hull-monitor-test-" + name
			data, _ := json.Marshal(spec)
			os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o644)
			logPath := filepath.Join(t.TempDir(), "log")
			lw, err := logs.Create(logPath, logs.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var tee strings.Builder
			started := 0
			ex, _, err := monitor.Run(monitor.Config{
				Runtime: rt, ID: "mon-" + name, Bundle: bundle, Log: lw, TeeStdout: &tee,
				Started: func(pid int) error { started = pid; return nil },
			})
			lw.Close()
			if err != nil {
				t.Fatal(err)
			}
			if ex.Code != 4 || started <= 0 || ex.OOMKilled {
				t.Errorf("exit %+v, started pid %d", ex, started)
			}
			if tee.String() != "out\npartial" {
				t.Errorf("tee %q", tee.String())
			}
			// Each stream's lines in order; the two streams are two pipes copied
			// apart, so how they interleave is the scheduler's choice.
			got := map[string][]string{}
			logs.Read(logPath, logs.ReadOptions{Tail: -1}, func(e logs.Entry) error {
				got[e.Stream] = append(got[e.Stream], e.Log)
				return nil
			})
			if strings.Join(got["stdout"], "|") != "out\n|partial" || strings.Join(got["stderr"], "|") != "err\n" || len(got) != 2 {
				t.Errorf("log %q", got)
			}
			if _, err := rt.State("mon-" + name); err != ociruntime.ErrNotExist {
				t.Errorf("container left in the runtime: %v", err)
			}
			// A program that cannot start is an error, and nothing is left.
			spec.Process.Args = []string{"/nonexistent"}
			data, _ = json.Marshal(spec)
			os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o644)
			lw, _ = logs.Create(logPath, logs.Options{})
			defer lw.Close()
			if _, _, err := monitor.Run(monitor.Config{Runtime: rt, ID: "mon2-" + name, Bundle: bundle, Log: lw}); err == nil || !strings.Contains(err.Error(), "no such file") {
				t.Errorf("missing program: %v", err)
			}
		})
	}
}
