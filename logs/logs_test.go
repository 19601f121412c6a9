package logs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCopyAndRead(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c-json.log")
	w, err := Create(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", MaxLine+10)
	var tee strings.Builder
	if err := w.Copy("stdout", strings.NewReader("a\nb\n"+long+"\nlast"), &tee); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if tee.String() != "a\nb\n"+long+"\nlast" {
		t.Errorf("tee got %d bytes", tee.Len())
	}
	var got []string
	Read(p, ReadOptions{Tail: -1}, func(e Entry) error { got = append(got, e.Log); return nil })
	want := []string{"a\n", "b\n", long[:MaxLine], "xxxxxxxxxx\n", "last"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q", got)
	}
	got = nil
	Read(p, ReadOptions{Tail: 2}, func(e Entry) error { got = append(got, e.Log); return nil })
	if len(got) != 2 || got[1] != "last" {
		t.Fatalf("tail 2: %q", got)
	}
	data, _ := os.ReadFile(p)
	if !strings.HasPrefix(string(data), `{"log":"a\n","stream":"stdout","time":"`) {
		t.Errorf("format: %s", data[:60])
	}
}

func TestRotation(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c-json.log")
	w, err := Create(p, Options{MaxSize: 1000, MaxFile: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		w.Write(Entry{Log: "line\n", Stream: "stdout", Time: time.Now()})
	}
	w.Close()
	for _, n := range []string{p, p + ".1", p + ".2"} {
		st, err := os.Stat(n)
		if err != nil || st.Size() > 1000 {
			t.Errorf("%s: %v %v", n, st, err)
		}
	}
	if _, err := os.Stat(p + ".3"); err == nil {
		t.Error("max-file 3 kept a fourth file")
	}
	n := 0
	Read(p, ReadOptions{Tail: -1}, func(Entry) error { n++; return nil })
	if n == 0 || n >= 200 {
		t.Errorf("read %d entries", n)
	}
}

func TestFollow(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c-json.log")
	w, _ := Create(p, Options{MaxSize: 2000, MaxFile: 2})
	stop := make(chan struct{})
	go func() {
		for i := 0; i < 20; i++ {
			w.Write(Entry{Log: "l\n", Stream: "stderr", Time: time.Now()})
			time.Sleep(5 * time.Millisecond)
		}
		close(stop)
	}()
	n := 0
	err := Read(p, ReadOptions{Tail: -1, Follow: true, Done: func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}}, func(Entry) error { n++; return nil })
	if err != nil || n != 20 {
		t.Errorf("followed %d entries (%v)", n, err)
	}
}

func TestParseOptions(t *testing.T) {
	o, err := ParseOptions([]string{"max-size=10k", "max-file=3"})
	if err != nil || o.MaxSize != 10240 || o.MaxFile != 3 {
		t.Errorf("%+v %v", o, err)
	}
	if n, _ := ParseSize("64mb"); n != 64<<20 {
		t.Errorf("64mb = %d", n)
	}
	if _, err := ParseOptions([]string{"bogus=1"}); err == nil {
		t.Error("unknown option accepted")
	}
}
