package logs

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
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

// TestCopyFromHandover: a reader stopped by a deadline keeps the line in
// progress, and the next one (given it) logs it whole.
func TestCopyFromHandover(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c-json.log")
	w, err := Create(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	wr.WriteString("one\npar")
	done := make(chan []byte)
	go func() { rest, _ := w.CopyFrom("stdout", r, nil, nil); done <- rest }()
	time.Sleep(100 * time.Millisecond)
	r.SetReadDeadline(time.Now())
	rest := <-done
	if string(rest) != "par" {
		t.Fatalf("rest %q", rest)
	}
	r.SetReadDeadline(time.Time{})
	wr.WriteString("tial\n")
	wr.Close()
	if rest, err := w.CopyFrom("stdout", r, nil, rest); err != nil || rest != nil {
		t.Fatalf("second reader: %q %v", rest, err)
	}
	var got []string
	Read(p, ReadOptions{Tail: -1}, func(e Entry) error { got = append(got, e.Log); return nil })
	if strings.Join(got, "|") != "one\n|partial\n" {
		t.Fatalf("got %q", got)
	}
}

// TestEntryEncoding: the log's own encoder writes what encoding/json would
// decode back to the same entry, byte for byte what it would write for text
// without oddities, for every byte value, control characters, HTML characters,
// U+2028/U+2029 and invalid UTF-8.
func TestEntryEncoding(t *testing.T) {
	at := time.Date(2026, 11, 28, 21, 0, 0, 123456000, time.UTC)
	if got := string(appendEntry(nil, "stdout", []byte("hello\n"), at)); got != `{"log":"hello\n","stream":"stdout","time":"2026-11-28T21:00:00.123456Z"}`+"\n" {
		t.Errorf("format: %s", got)
	}
	var all []byte
	for c := 0; c < 256; c++ {
		all = append(all, byte(c))
	}
	cases := []string{"", "plain text\n", string(all), "<a href=\"x\">&amp;</a>\\", "\u2028\u2029 line seps", "héllo wörld ☃ 😀",
		"bad \xff\xfe utf8 \xc3", "tabs\tand\rreturns\b\f\x00\x1f\x7f", strings.Repeat("é", MaxLine)}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 500; i++ {
		b := make([]byte, rng.IntN(64))
		for j := range b {
			b[j] = byte(rng.IntN(256))
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		got := appendEntry(nil, "stderr", []byte(s), at)
		var e Entry
		if err := json.Unmarshal(got, &e); err != nil {
			t.Fatalf("%q: not JSON: %v: %s", s, err, got)
		}
		want, _ := json.Marshal(Entry{Log: s, Stream: "stderr", Time: at})
		var we Entry
		json.Unmarshal(want, &we)
		if e != we {
			t.Errorf("%q: decodes to %q, encoding/json's to %q", s, e.Log, we.Log)
		}
		if utf8.ValidString(s) && !strings.ContainsAny(s, "\b\f") && string(got) != string(want)+"\n" {
			t.Errorf("%q: %s, encoding/json: %s", s, got, want)
		}
	}
}
