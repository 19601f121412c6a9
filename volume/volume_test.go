package volume

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hullproject/hull/internal/testutil"
)

// The copy-up tests bind-mount; the leak check proves they unmount.
func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }

func openStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCreateGetInspect(t *testing.T) {
	s := openStore(t)
	before := time.Now().Add(-time.Second)
	v, err := s.Create("data", CreateOptions{Labels: map[string]string{"app": "db"}})
	if err != nil {
		t.Fatal(err)
	}
	if v.Name != "data" || v.Driver != "local" || v.Anonymous || v.Labels["app"] != "db" {
		t.Fatalf("created %+v", v)
	}
	if v.Mountpoint != filepath.Join(s.dir, "data", "_data") {
		t.Fatalf("mountpoint %s", v.Mountpoint)
	}
	if fi, err := os.Stat(v.Mountpoint); err != nil || !fi.IsDir() {
		t.Fatalf("no data directory: %v", err)
	}

	// volume.json holds what the package comment says.
	var onDisk map[string]any
	data, err := os.ReadFile(filepath.Join(s.dir, "data", "volume.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &onDisk); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"name", "driver", "labels", "created"} {
		if _, ok := onDisk[k]; !ok {
			t.Errorf("volume.json has no %s: %s", k, data)
		}
	}

	// Create of an existing name returns it as it was.
	again, err := s.Create("data", CreateOptions{Labels: map[string]string{"other": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if !again.CreatedAt.Equal(v.CreatedAt) || len(again.Labels) != 1 || again.Labels["app"] != "db" {
		t.Fatalf("create of an existing volume changed it: %+v", again)
	}

	got, err := s.Get("data")
	if err != nil || got.Name != "data" || got.Mountpoint != v.Mountpoint {
		t.Fatalf("get: %+v %v", got, err)
	}
	if _, err := s.Get("nope"); !errors.Is(err, ErrNotFound) || err.Error() != "no such volume: nope" {
		t.Fatalf("get of a missing volume: %v", err)
	}

	info, err := s.Inspect("data")
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(info)
	want := `{"CreatedAt":"` + v.CreatedAt.Format(time.RFC3339) + `","Driver":"local","Labels":{"app":"db"},"Mountpoint":"` +
		v.Mountpoint + `","Name":"data","Options":{},"Scope":"local"}`
	if string(js) != want {
		t.Fatalf("inspect:\n got %s\nwant %s", js, want)
	}
	created, err := time.Parse(time.RFC3339, info.CreatedAt)
	if err != nil || created.Before(before) || created.After(time.Now()) {
		t.Fatalf("CreatedAt %s: %v", info.CreatedAt, err)
	}
}

func TestCreateAnonymous(t *testing.T) {
	s := openStore(t)
	a, err := s.Create("", CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Create("", CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hex64 := regexp.MustCompile(`^[0-9a-f]{64}$`)
	if !hex64.MatchString(a.Name) || !a.Anonymous || a.Name == b.Name {
		t.Fatalf("anonymous volumes %q %q (anonymous %v)", a.Name, b.Name, a.Anonymous)
	}
	if got, _ := s.Get(a.Name); got == nil || !got.Anonymous {
		t.Fatalf("anonymous mark not stored: %+v", got)
	}
}

func TestNames(t *testing.T) {
	s := openStore(t)
	for _, ok := range []string{"a", "A1", "0", "my-vol_1.2", "a..b", strings.Repeat("x", 255)} {
		if _, err := s.Create(ok, CreateOptions{}); err != nil {
			t.Errorf("create %q: %v", ok, err)
		}
	}
	for _, c := range []struct{ name, want string }{
		{"a/b", `invalid volume name "a/b": it contains /`},
		{"../x", `invalid volume name "../x": it contains /`},
		{"/abs", `invalid volume name "/abs": it contains /`},
		{"..", `invalid volume name ".."`},
		{".", `invalid volume name ".": it must match [a-zA-Z0-9][a-zA-Z0-9_.-]*`},
		{".hidden", `invalid volume name ".hidden": it must match`},
		{"-x", `invalid volume name "-x": it must match`},
		{"_x", `invalid volume name "_x": it must match`},
		{"a b", `invalid volume name "a b": it must match`},
		{"a:b", `invalid volume name "a:b": it must match`},
		{"é", `invalid volume name "é": it must match`},
		{strings.Repeat("x", 256), "longer than 255 bytes"},
	} {
		_, err := s.Create(c.name, CreateOptions{})
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("create %q: %v, want %q", c.name, err, c.want)
		}
		// Every entry point checks: none builds a path from a bad name.
		if _, err := s.Get(c.name); err == nil || errors.Is(err, ErrNotFound) {
			t.Errorf("get %q: %v", c.name, err)
		}
		if err := s.Remove(c.name, true); err == nil {
			t.Errorf("remove %q: no error", c.name)
		}
	}
	vs, err := s.List(Filters{})
	if err != nil || len(vs) != 6 {
		t.Fatalf("list: %d volumes, %v", len(vs), err)
	}
}

// TestConcurrentCreate: 20 goroutines create one name at once; the store's flock
// makes one of them create it and the others get that volume.
func TestConcurrentCreate(t *testing.T) {
	s := openStore(t)
	var wg sync.WaitGroup
	got := make([]*Volume, 20)
	errs := make([]error, 20)
	for i := range got {
		wg.Go(func() {
			// A Store per goroutine, as separate commands would have.
			s2, err := Open(filepath.Dir(s.dir))
			if err != nil {
				errs[i] = err
				return
			}
			got[i], errs[i] = s2.Create("shared", CreateOptions{})
		})
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !got[i].CreatedAt.Equal(got[0].CreatedAt) {
			t.Fatalf("two volumes were made: %v and %v", got[i].CreatedAt, got[0].CreatedAt)
		}
	}
	ents, _ := os.ReadDir(s.dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{".lock", "shared"}) {
		t.Fatalf("store holds %v", names)
	}
}

func TestRemove(t *testing.T) {
	s := openStore(t)
	users := map[string][]string{}
	s.InUse = func(name string) ([]string, error) { return users[name], nil }
	v, err := s.Create("data", CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(v.Mountpoint, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}

	users["data"] = []string{"abc123"}
	err = s.Remove("data", false)
	if !errors.Is(err, ErrInUse) || err.Error() != "remove volume data: volume is in use by container abc123" {
		t.Fatalf("remove in use: %v", err)
	}
	if err := s.Remove("data", true); !errors.Is(err, ErrInUse) {
		t.Fatalf("force removed a volume in use: %v", err)
	}
	users["data"] = []string{"abc123", "def456"}
	if err := s.Remove("data", false); err == nil || !strings.HasSuffix(err.Error(), "in use by containers abc123, def456") {
		t.Fatalf("remove in use by two: %v", err)
	}
	if _, err := os.Stat(filepath.Join(v.Mountpoint, "f")); err != nil {
		t.Fatalf("refused remove touched the data: %v", err)
	}

	s.InUse = func(string) ([]string, error) { return nil, errors.New("records unreadable") }
	if err := s.Remove("data", false); err == nil || !strings.Contains(err.Error(), "records unreadable") {
		t.Fatalf("remove with a failing InUse: %v", err)
	}

	s.InUse = func(name string) ([]string, error) { return users[name], nil }
	delete(users, "data")
	if err := s.Remove("data", false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.dir, "data")); !os.IsNotExist(err) {
		t.Fatalf("volume directory left: %v", err)
	}
	if err := s.Remove("data", false); !errors.Is(err, ErrNotFound) {
		t.Fatalf("remove of a missing volume: %v", err)
	}
	if err := s.Remove("data", true); err != nil {
		t.Fatalf("remove -f of a missing volume: %v", err)
	}
}

// TestRemoveDoesNotFollow: a symlink a container left in its volume is removed,
// not what it names.
func TestRemoveDoesNotFollow(t *testing.T) {
	s := openStore(t)
	v, _ := s.Create("data", CreateOptions{})
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "keep"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(v.Mountpoint, "link")); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("data", false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(outside, "keep")); err != nil {
		t.Fatal("remove followed a symlink out of the volume")
	}
}

func TestListFilters(t *testing.T) {
	s := openStore(t)
	s.InUse = func(name string) ([]string, error) {
		if name == "web-data" {
			return []string{"c1"}, nil
		}
		return nil, nil
	}
	for name, labels := range map[string]map[string]string{
		"web-data": {"app": "web", "tier": "front"},
		"db-data":  {"app": "db"},
		"scratch":  nil,
	} {
		if _, err := s.Create(name, CreateOptions{Labels: labels}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		filters []string
		want    []string
	}{
		{nil, []string{"db-data", "scratch", "web-data"}},
		{[]string{"name=data"}, []string{"db-data", "web-data"}},
		{[]string{"name=web", "name=scr"}, []string{"scratch", "web-data"}},
		{[]string{"label=app"}, []string{"db-data", "web-data"}},
		{[]string{"label=app=db"}, []string{"db-data"}},
		{[]string{"label=app", "label=tier=front"}, []string{"web-data"}},
		{[]string{"label!=app"}, []string{"scratch"}},
		{[]string{"dangling=true"}, []string{"db-data", "scratch"}},
		{[]string{"dangling=false"}, []string{"web-data"}},
		{[]string{"driver=local", "name=scratch"}, []string{"scratch"}},
		{[]string{"driver=nfs"}, nil},
		// name= is a regular expression, as docker's: anchored, it selects one.
		{[]string{"name=^db-data$"}, []string{"db-data"}},
		{[]string{"name=^data$"}, nil},
		{[]string{"name=^(web|db)-"}, []string{"db-data", "web-data"}},
		{[]string{"name=s.r"}, []string{"scratch"}},
	} {
		f, err := ParseFilters(c.filters)
		if err != nil {
			t.Fatal(err)
		}
		vs, err := s.List(f)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, v := range vs {
			names = append(names, v.Name)
		}
		if !slices.Equal(names, c.want) {
			t.Errorf("filters %v: got %v, want %v", c.filters, names, c.want)
		}
	}
	for _, bad := range []string{"name", "colour=red", "dangling=maybe", "all=2", "name=[", "name=(x"} {
		if _, err := ParseFilters([]string{bad}); err == nil {
			t.Errorf("filter %q accepted", bad)
		}
	}
}

func TestPrune(t *testing.T) {
	s := openStore(t)
	inUse := ""
	s.InUse = func(name string) ([]string, error) {
		if name == inUse {
			return []string{"c1"}, nil
		}
		return nil, nil
	}
	anon1, _ := s.Create("", CreateOptions{})
	anon2, _ := s.Create("", CreateOptions{})
	named, _ := s.Create("named", CreateOptions{Labels: map[string]string{"keep": "yes"}})
	other, _ := s.Create("other", CreateOptions{})
	inUse = anon2.Name

	// 1000 + 10 bytes, and a hardlink that must not count twice.
	write := func(v *Volume, name string, n int) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(v.Mountpoint, name), make([]byte, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(anon1, "a", 1000)
	if err := os.Mkdir(filepath.Join(anon1.Mountpoint, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(anon1, "d/b", 10)
	if err := os.Link(filepath.Join(anon1.Mountpoint, "a"), filepath.Join(anon1.Mountpoint, "d/a2")); err != nil {
		t.Fatal(err)
	}
	write(named, "n", 7)
	write(other, "o", 5)
	// What a crashed Create leaves.
	if err := os.Mkdir(filepath.Join(s.dir, ".tmp-crashed"), 0o700); err != nil {
		t.Fatal(err)
	}

	// Default: anonymous and unused only.
	r, err := s.Prune(Filters{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.VolumesDeleted, []string{anon1.Name}) || r.SpaceReclaimed != 1010 {
		t.Fatalf("prune: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(s.dir, ".tmp-crashed")); !os.IsNotExist(err) {
		t.Fatal("prune left a crashed create's directory")
	}
	for _, name := range []string{anon2.Name, "named", "other"} {
		if _, err := s.Get(name); err != nil {
			t.Fatalf("prune removed %s: %v", name, err)
		}
	}

	// all=true with a label filter: named too, only those that match.
	f, _ := ParseFilters([]string{"all=true", "label!=keep"})
	if r, err = s.Prune(f); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.VolumesDeleted, []string{"other"}) || r.SpaceReclaimed != 5 {
		t.Fatalf("prune all, label!=keep: %+v", r)
	}

	// all=true: everything unused; the one in use stays.
	if r, err = s.Prune(Filters{All: true}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.VolumesDeleted, []string{"named"}) || r.SpaceReclaimed != 7 {
		t.Fatalf("prune all: %+v", r)
	}
	vs, _ := s.List(Filters{})
	if len(vs) != 1 || vs[0].Name != anon2.Name {
		t.Fatalf("left after prune: %v", vs)
	}
}
