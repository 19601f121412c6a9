package volume

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseVolume(t *testing.T) {
	for _, c := range []struct {
		spec string
		want Mount
		note string
	}{
		{"/host:/ctr", Mount{Type: TypeBind, Source: "/host", Destination: "/ctr", CreateHostPath: true}, ""},
		{"/host/../h//x/:/ctr/./y/", Mount{Type: TypeBind, Source: "/h/x", Destination: "/ctr/y", CreateHostPath: true}, ""},
		{"/host:/ctr:ro", Mount{Type: TypeBind, Source: "/host", Destination: "/ctr", ReadOnly: true, CreateHostPath: true}, ""},
		{"/host:/ctr:rw", Mount{Type: TypeBind, Source: "/host", Destination: "/ctr", CreateHostPath: true}, ""},
		{"/host:/ctr:ro,z", Mount{Type: TypeBind, Source: "/host", Destination: "/ctr", ReadOnly: true, CreateHostPath: true}, NoteSELinux},
		{"/host:/ctr:Z", Mount{Type: TypeBind, Source: "/host", Destination: "/ctr", CreateHostPath: true}, NoteSELinux},
		{"/host:/ctr:rslave,ro", Mount{Type: TypeBind, Source: "/host", Destination: "/ctr", ReadOnly: true, Propagation: "rslave", CreateHostPath: true}, ""},
		{"/host:/ctr:shared", Mount{Type: TypeBind, Source: "/host", Destination: "/ctr", Propagation: "shared", CreateHostPath: true}, ""},
		{"/host:/ctr:delegated", Mount{Type: TypeBind, Source: "/host", Destination: "/ctr", CreateHostPath: true}, ""},
		{"data:/ctr", Mount{Type: TypeVolume, Source: "data", Destination: "/ctr"}, ""},
		{"my_vol-1.x:/ctr:ro", Mount{Type: TypeVolume, Source: "my_vol-1.x", Destination: "/ctr", ReadOnly: true}, ""},
		{"data:/ctr:nocopy,rw", Mount{Type: TypeVolume, Source: "data", Destination: "/ctr", NoCopy: true}, ""},
		{"data:/ctr:z", Mount{Type: TypeVolume, Source: "data", Destination: "/ctr"}, NoteSELinux},
		{"/ctr", Mount{Type: TypeVolume, Destination: "/ctr"}, ""},
		{"/ctr/sub/", Mount{Type: TypeVolume, Destination: "/ctr/sub"}, ""},
	} {
		got, note, err := ParseVolume(c.spec)
		if err != nil {
			t.Errorf("-v %s: %v", c.spec, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) || note != c.note {
			t.Errorf("-v %s:\n got %+v %q\nwant %+v %q", c.spec, got, note, c.want, c.note)
		}
	}
}

func TestParseVolumeErrors(t *testing.T) {
	for _, c := range []struct{ spec, want string }{
		{"", "empty field"},
		{"::", "empty field"},
		{":/x", "empty field"},
		{"/x:", "empty field"},
		{"/a:/b:", "empty field"},
		{"a:/b:c:d", "too many colons"},
		{"/a:/b:ro:x", "too many colons"},
		{"ctr", `destination "ctr" is not an absolute path`},
		{"/host:ctr", `destination "ctr" is not an absolute path`},
		{"data:./ctr", `destination "./ctr" is not an absolute path`},
		{"/host:/", "destination cannot be /"},
		{"data:/..", "destination cannot be /"},
		{"./rel:/ctr", `"./rel" is neither an absolute host path nor a volume name`},
		{"rel/dir:/ctr", `"rel/dir" is neither an absolute host path nor a volume name`},
		{"..:/ctr", `".." is neither an absolute host path nor a volume name`},
		{"~/x:/ctr", `"~/x" is neither`},
		{"-x:/ctr", `"-x" is neither`},
		{"/ctr:ro", "options need a source"},
		{"/ctr:ro,z", "options need a source"},
		{"/host:/ctr:bogus", `unknown option "bogus"`},
		{"/host:/ctr:ro,rw", "options ro and rw conflict"},
		{"/host:/ctr:ro,ro", "options ro and ro conflict"},
		{"/host:/ctr:z,Z", "options z and Z conflict"},
		{"/host:/ctr:shared,rslave", "options shared and rslave conflict"},
		{"/host:/ctr:nocopy", "nocopy is only valid for volumes"},
		{"data:/ctr:rshared", "propagation rshared is only valid for bind mounts"},
		{"data:/ctr:ro,", "empty option"},
	} {
		_, _, err := ParseVolume(c.spec)
		if err == nil {
			t.Errorf("-v %q: no error, want %q", c.spec, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("-v %q: error %q, want one line with %q", c.spec, err, c.want)
		}
	}
}

func TestParseMount(t *testing.T) {
	for _, c := range []struct {
		spec string
		want Mount
	}{
		{"type=bind,source=/h,target=/c", Mount{Type: TypeBind, Source: "/h", Destination: "/c"}},
		{"type=bind,src=/h/,dst=/c,readonly", Mount{Type: TypeBind, Source: "/h", Destination: "/c", ReadOnly: true}},
		{"type=bind,src=/h,destination=/c,ro=true", Mount{Type: TypeBind, Source: "/h", Destination: "/c", ReadOnly: true}},
		{"type=bind,src=/h,dst=/c,readonly=false", Mount{Type: TypeBind, Source: "/h", Destination: "/c"}},
		{"type=bind,src=/h,dst=/c,ro=0", Mount{Type: TypeBind, Source: "/h", Destination: "/c"}},
		{"type=bind,src=/h,dst=/c,bind-propagation=rshared", Mount{Type: TypeBind, Source: "/h", Destination: "/c", Propagation: "rshared"}},
		{"type=bind,src=/h,dst=/c,bind-recursive=disabled", Mount{Type: TypeBind, Source: "/h", Destination: "/c", NonRecursive: true}},
		{"type=bind,src=/h,dst=/c,bind-recursive=enabled", Mount{Type: TypeBind, Source: "/h", Destination: "/c"}},
		{"type=bind,src=/h,dst=/c,ro,bind-recursive=readonly", Mount{Type: TypeBind, Source: "/h", Destination: "/c", ReadOnly: true}},
		{"type=bind,src=/h,dst=/c,bind-nonrecursive", Mount{Type: TypeBind, Source: "/h", Destination: "/c", NonRecursive: true}},
		{"type=bind,src=/h,dst=/c,bind-create-src", Mount{Type: TypeBind, Source: "/h", Destination: "/c", CreateHostPath: true}},
		{"type=bind,src=/h,dst=/c,bind-create-src=false", Mount{Type: TypeBind, Source: "/h", Destination: "/c"}},
		{"TYPE=bind,Src=/h,DST=/c", Mount{Type: TypeBind, Source: "/h", Destination: "/c"}},
		{"type=volume,src=data,dst=/c", Mount{Type: TypeVolume, Source: "data", Destination: "/c"}},
		{"src=data,dst=/c", Mount{Type: TypeVolume, Source: "data", Destination: "/c"}},
		{"type=volume,dst=/c", Mount{Type: TypeVolume, Destination: "/c"}},
		{"type=volume,src=data,dst=/c,volume-nocopy,volume-driver=local", Mount{Type: TypeVolume, Source: "data", Destination: "/c", NoCopy: true}},
		{"type=volume,src=data,dst=/c,volume-label=a=b,volume-label=c,consistency=cached",
			Mount{Type: TypeVolume, Source: "data", Destination: "/c", Labels: map[string]string{"a": "b", "c": ""}}},
		{`type=volume,src=data,dst=/c,"volume-label=x=1,2"`,
			Mount{Type: TypeVolume, Source: "data", Destination: "/c", Labels: map[string]string{"x": "1,2"}}},
		{"type=tmpfs,dst=/t", Mount{Type: TypeTmpfs, Destination: "/t"}},
		{"type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1770,ro", Mount{Type: TypeTmpfs, Destination: "/t", TmpfsSize: 64 << 20, TmpfsMode: 0o1770, ReadOnly: true}},
		{"type=tmpfs,dst=/t,tmpfs-size=4096", Mount{Type: TypeTmpfs, Destination: "/t", TmpfsSize: 4096}},
	} {
		got, err := ParseMount(c.spec)
		if err != nil {
			t.Errorf("--mount %s: %v", c.spec, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("--mount %s:\n got %+v\nwant %+v", c.spec, got, c.want)
		}
	}
}

func TestParseMountErrors(t *testing.T) {
	for _, c := range []struct{ spec, want string }{
		{"", "destination is missing"},
		{"type=bind,dst=/c", "a bind mount needs a source"},
		{"type=bind,src=rel,dst=/c", `bind source "rel" is not an absolute path`},
		{"type=bind,src=/h", "destination is missing"},
		{"type=bind,src=/h,dst=c", `destination "c" is not an absolute path`},
		{"type=bind,src=/h,dst=/", "destination cannot be /"},
		{"type=bind,src=/h,dst=/c,src=/i", "source given twice"},
		{"type=bind,src=/h,source=/i,dst=/c", "source given twice"},
		{"type=bind,src=/h,dst=/c,target=/d", "destination given twice"},
		{"type=bind,src=/h,dst=/c,ro,readonly", "readonly given twice"},
		{"type=bind,type=volume,src=/h,dst=/c", "type given twice"},
		{"type=bind,src=/h,dst=/c,bogus=1", `unknown option "bogus"`},
		{"type=bind,src=/h,dst=/c,readonly=maybe", "readonly=maybe: not a boolean"},
		{"type=bind,src=/h,dst=/c,bind-propagation=weird", `unknown bind-propagation "weird"`},
		{"type=bind,src=/h,dst=/c,bind-recursive=writable", "bind-recursive=writable is not supported"},
		{"type=bind,src=/h,dst=/c,bind-recursive=maybe", `unknown bind-recursive "maybe"`},
		{"type=volume,src=d,dst=/c,bind-create-src", "bind-create-src is only valid for bind mounts"},
		{"type=bind,src=/h,dst=/c,tmpfs-size=1m", "tmpfs-size is only valid for tmpfs mounts"},
		{"type=bind,src=/h,dst=/c,volume-nocopy", "volume-nocopy is only valid for volume mounts"},
		{"type=volume,src=d,dst=/c,bind-propagation=shared", "bind-propagation is only valid for bind mounts"},
		{"type=volume,src=/abs,dst=/c", `invalid volume name "/abs"`},
		{"type=volume,src=a/b,dst=/c", `invalid volume name "a/b"`},
		{"type=volume,src=..,dst=/c", `invalid volume name ".."`},
		{"type=volume,src=d,dst=/c,volume-driver=nfs", `volume driver "nfs" is not supported`},
		{"type=volume,src=d,dst=/c,volume-label=a=1,volume-label=a=2", "volume-label a given twice"},
		{"type=volume,src=d,dst=/c,volume-label==x", "has no key"},
		{"type=tmpfs,src=x,dst=/t", "a tmpfs mount takes no source"},
		{"type=tmpfs,dst=/t,tmpfs-size=lots", `bad size "lots"`},
		{"type=tmpfs,dst=/t,tmpfs-size=-1", `bad size "-1"`},
		{"type=tmpfs,dst=/t,tmpfs-mode=999", `bad mode "999"`},
		{"type=tmpfs,dst=/t,tmpfs-mode=17777", `bad mode "17777"`},
		{"type=tmpfs,dst=/t,tmpfs-size=", "tmpfs-size needs a value"},
		{"type=npipe,src=/h,dst=/c", `unknown type "npipe"`},
		{"type=bind,,src=/h,dst=/c", "empty field"},
		{"type=bind,src=/h,dst=/c,", "empty field"},
	} {
		_, err := ParseMount(c.spec)
		if err == nil {
			t.Errorf("--mount %q: no error, want %q", c.spec, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("--mount %q: error %q, want one line with %q", c.spec, err, c.want)
		}
	}
}

func TestParseTmpfs(t *testing.T) {
	for _, c := range []struct {
		spec string
		want Mount
	}{
		{"/run", Mount{Type: TypeTmpfs, Destination: "/run"}},
		{"/run:size=64k,mode=755", Mount{Type: TypeTmpfs, Destination: "/run", TmpfsSize: 64 << 10, TmpfsMode: 0o755}},
		{"/run:ro,exec,uid=1000,gid=1000,noatime,nr_inodes=100", Mount{Type: TypeTmpfs, Destination: "/run", ReadOnly: true,
			TmpfsOptions: []string{"exec", "uid=1000", "gid=1000", "noatime", "nr_inodes=100"}}},
		{"/run:size=1g,rw", Mount{Type: TypeTmpfs, Destination: "/run", TmpfsSize: 1 << 30}},
	} {
		got, err := ParseTmpfs(c.spec)
		if err != nil {
			t.Errorf("--tmpfs %s: %v", c.spec, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("--tmpfs %s:\n got %+v\nwant %+v", c.spec, got, c.want)
		}
	}
	for _, c := range []struct{ spec, want string }{
		{"run", `destination "run" is not an absolute path`},
		{"", "destination is missing"},
		{":size=1m", "destination is missing"},
		{"/", "destination cannot be /"},
		{"/run:bogus", `unknown option "bogus"`},
		{"/run:size=1m,size=2m", "option size given twice"},
		{"/run:ro,rw", "option rw given twice"},
		{"/run:exec,noexec", "option noexec given twice"},
		{"/run:size=50%", `bad size "50%"`},
		{"/run:mode=abc", `bad mode "abc"`},
		{"/run:uid=", `unknown option "uid="`},
		{"/run:size", `unknown option "size"`},
		{"/run:", "empty option"},
		{"/run:ro,,rw", "empty option"},
	} {
		_, err := ParseTmpfs(c.spec)
		if err == nil {
			t.Errorf("--tmpfs %q: no error, want %q", c.spec, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("--tmpfs %q: error %q, want one line with %q", c.spec, err, c.want)
		}
	}
}

func TestCheckDestinations(t *testing.T) {
	ms := []Mount{{Destination: "/a"}, {Destination: "/b"}}
	if err := CheckDestinations(ms); err != nil {
		t.Fatal(err)
	}
	err := CheckDestinations(append(ms, Mount{Destination: "/a"}))
	if err == nil || err.Error() != "duplicate mount point: /a" {
		t.Fatalf("got %v", err)
	}
}

func TestToOCI(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.Create("data", CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	host := filepath.Join(dir, "host")
	if err := os.Mkdir(host, 0o755); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing", "deep")

	for _, c := range []struct {
		m    Mount
		want specs.Mount
	}{
		{Mount{Type: TypeBind, Source: host, Destination: "/c"},
			specs.Mount{Destination: "/c", Type: "bind", Source: host, Options: []string{"rbind", "rw", "rprivate"}}},
		{Mount{Type: TypeBind, Source: host, Destination: "/c", ReadOnly: true, Propagation: "rslave"},
			specs.Mount{Destination: "/c", Type: "bind", Source: host, Options: []string{"rbind", "ro", "rslave"}}},
		{Mount{Type: TypeBind, Source: missing, Destination: "/c", CreateHostPath: true},
			specs.Mount{Destination: "/c", Type: "bind", Source: missing, Options: []string{"rbind", "rw", "rprivate"}}},
		{Mount{Type: TypeBind, Source: host, Destination: "/c", NonRecursive: true, ReadOnly: true},
			specs.Mount{Destination: "/c", Type: "bind", Source: host, Options: []string{"bind", "ro", "rprivate"}}},
		{Mount{Type: TypeVolume, Source: "data", Destination: "/v", ReadOnly: true},
			specs.Mount{Destination: "/v", Type: "bind", Source: v.Mountpoint, Options: []string{"rbind", "ro", "rprivate"}}},
		{Mount{Type: TypeTmpfs, Destination: "/t"},
			specs.Mount{Destination: "/t", Type: "tmpfs", Source: "tmpfs", Options: []string{"noexec", "nosuid", "nodev", "rw"}}},
		{Mount{Type: TypeTmpfs, Destination: "/t", TmpfsSize: 1 << 20, TmpfsMode: 0o1777, ReadOnly: true, TmpfsOptions: []string{"exec", "noexec", "uid=5"}},
			specs.Mount{Destination: "/t", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "ro", "noexec", "uid=5", "size=1048576", "mode=1777"}}},
	} {
		got, err := ToOCI(c.m, s)
		if err != nil {
			t.Errorf("%+v: %v", c.m, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%+v:\n got %+v\nwant %+v", c.m, got, c.want)
		}
	}
	if fi, err := os.Stat(missing); err != nil || !fi.IsDir() {
		t.Errorf("-v did not make the missing host path: %v", err)
	}

	gone := filepath.Join(dir, "gone")
	_, err = ToOCI(Mount{Type: TypeBind, Source: gone, Destination: "/c"}, s)
	if err == nil || err.Error() != "bind source path does not exist: "+gone {
		t.Errorf("--mount of a missing source: %v", err)
	}
	if _, err := os.Stat(gone); err == nil {
		t.Error("--mount made the missing source")
	}
	if _, err := ToOCI(Mount{Type: TypeVolume, Source: "nope", Destination: "/v"}, s); err == nil {
		t.Error("a volume that does not exist was mounted")
	}
	if _, err := ToOCI(Mount{Type: TypeVolume, Destination: "/v"}, s); err == nil {
		t.Error("an unnamed anonymous volume was mounted")
	}
}

// A volume made with driver options mounts its device, as docker's local
// driver does with --opt type/device/o.
func TestToOCIDriverOptions(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	host := filepath.Join(dir, "host")
	if err := os.Mkdir(host, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		opts map[string]string
		ro   bool
		want specs.Mount
	}{
		{"tmp", map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m,uid=1000"}, false,
			specs.Mount{Destination: "/v", Type: "tmpfs", Source: "tmpfs", Options: []string{"rw", "size=1m", "uid=1000"}}},
		{"tmpro", map[string]string{"type": "tmpfs", "device": "tmpfs"}, true,
			specs.Mount{Destination: "/v", Type: "tmpfs", Source: "tmpfs", Options: []string{"ro"}}},
		{"bound", map[string]string{"type": "none", "device": host, "o": "bind"}, false,
			specs.Mount{Destination: "/v", Type: "bind", Source: host, Options: []string{"bind", "rw", "rprivate"}}},
		{"boundro", map[string]string{"type": "none", "device": host, "o": "rbind,ro"}, false,
			specs.Mount{Destination: "/v", Type: "bind", Source: host, Options: []string{"rbind", "ro", "rprivate"}}},
	} {
		v, err := s.Create(c.name, CreateOptions{Options: c.opts})
		if err != nil {
			t.Fatal(err)
		}
		if i := v.Info(); !reflect.DeepEqual(i.Options, c.opts) {
			t.Errorf("%s: inspect options %v", c.name, i.Options)
		}
		got, err := ToOCI(Mount{Type: TypeVolume, Source: c.name, Destination: "/v", ReadOnly: c.ro}, s)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
		// nothing to copy up into: the data is the device's
		if err := CopyUp(v, dir, "/host"); err != nil {
			t.Errorf("%s: copy up: %v", c.name, err)
		}
		if ents, _ := os.ReadDir(v.Mountpoint); len(ents) != 0 {
			t.Errorf("%s: copied up into _data", c.name)
		}
	}
	if _, err := s.Create("gone", CreateOptions{Options: map[string]string{"type": "none", "device": filepath.Join(dir, "nope"), "o": "bind"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ToOCI(Mount{Type: TypeVolume, Source: "gone", Destination: "/v"}, s); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("bind of a missing device: %v", err)
	}
}

func TestValidateOptions(t *testing.T) {
	for _, c := range []struct {
		opts map[string]string
		err  string
	}{
		{nil, ""},
		{map[string]string{"type": "tmpfs", "device": "tmpfs"}, ""},
		{map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}, ""},
		{map[string]string{"size": "1m"}, `invalid option: "size"`},
		{map[string]string{"type": "tmpfs", "device": "tmpfs", "bogus": "x"}, `invalid option: "bogus"`},
		{map[string]string{"type": "tmpfs"}, `missing required option: "device"`},
		{map[string]string{"device": "/dev/sda"}, `missing required option: "type"`},
		{map[string]string{"o": "size=1m"}, `missing required option: "type", "device"`},
	} {
		err := ValidateOptions(c.opts)
		if (err == nil) != (c.err == "") || err != nil && err.Error() != c.err {
			t.Errorf("%v: %v, want %q", c.opts, err, c.err)
		}
		if c.err != "" {
			s := openStore(t)
			if _, err := s.Create("v", CreateOptions{Options: c.opts}); err == nil {
				t.Errorf("%v: created", c.opts)
			}
			if ents, _ := os.ReadDir(s.dir); len(ents) > 0 && !(len(ents) == 1 && ents[0].Name() == ".lock") {
				t.Errorf("%v: left %v", c.opts, ents)
			}
		}
	}
}
