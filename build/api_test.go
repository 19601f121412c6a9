package build_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hullproject/hull/build"
)

// jsonMessages decodes a JSON message stream.
func jsonMessages(t *testing.T, data []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("json stream: %v\n%s", err, data)
		}
		out = append(out, m)
	}
	return out
}

// errorMessages are a stream's error messages.
func errorMessages(msgs []map[string]any) []map[string]any {
	var out []map[string]any
	for _, m := range msgs {
		if _, ok := m["error"]; ok {
			out = append(out, m)
		}
	}
	return out
}

// TestBuildAPIEntry builds the way the Docker API's POST /build handler does (the
// package doc's recipe): a tar body, JSONProgress, Fail with Build's error. Exactly
// one error message for any failure, with RUN's exit code; and builds at once on
// one store.
func TestBuildAPIEntry(t *testing.T) {
	e := newEnv(t)
	tmp := t.TempDir()
	handle := func(files [][2]string, o build.Options) ([]map[string]any, error) {
		t.Helper()
		var w bytes.Buffer
		bctx, df, err := build.ReadContext(bytes.NewReader(tarOf(t, files)), tmp)
		if err != nil {
			t.Fatal(err)
		}
		defer bctx.Close()
		js := build.JSONProgress(&w)
		o.Context, o.DockerfileData, o.Progress = bctx, df, js
		_, err = e.b.Build(context.Background(), o)
		js.Fail(err)
		return jsonMessages(t, w.Bytes()), err
	}
	// A failing RUN: one error message, its code the exit code.
	msgs, err := handle([][2]string{{"Dockerfile", "FROM busybox\nRUN echo about to fail; exit 7\n"}}, build.Options{})
	errs := errorMessages(msgs)
	if err == nil || len(errs) != 1 {
		t.Fatalf("failing RUN: %v, error messages %v", err, errs)
	}
	if d, _ := errs[0]["errorDetail"].(map[string]any); d == nil || d["code"] != float64(7) || !strings.Contains(d["message"].(string), "exit code 7") {
		t.Errorf("error detail %v", errs[0])
	}
	if !strings.Contains(fmt.Sprint(msgs), "about to fail") {
		t.Errorf("RUN's output is not in the stream: %v", msgs)
	}
	// Errors before any step: the syntax, an unknown target, bad options.
	for _, c := range []struct {
		df   string
		o    build.Options
		want string
	}{
		{"FROMM busybox\n", build.Options{}, "unknown instruction"},
		{"FROM busybox\n", build.Options{Target: "nope"}, "nope"},
		{"FROM busybox\n", build.Options{Platform: "linux/s390x"}, "platform"},
	} {
		msgs, err := handle([][2]string{{"Dockerfile", c.df}}, c.o)
		errs := errorMessages(msgs)
		if err == nil || len(errs) != 1 || !strings.Contains(errs[0]["error"].(string), c.want) {
			t.Errorf("%q %+v: %v, messages %v", c.df, c.o, err, msgs)
		}
	}
	// Quiet (q=1): no steps and no RUN output, the ID; errors as ever.
	var qw bytes.Buffer
	bctx, _, err := build.ReadContext(bytes.NewReader(tarOf(t, [][2]string{{"Dockerfile", "FROM busybox\nRUN echo noisy\n"}})), tmp)
	if err != nil {
		t.Fatal(err)
	}
	js := build.JSONProgress(&qw)
	js.Quiet = true
	img, err := e.b.Build(context.Background(), build.Options{Context: bctx, Progress: js, NoCache: true})
	bctx.Close()
	if err != nil {
		t.Fatal(err)
	}
	qmsgs := jsonMessages(t, qw.Bytes())
	if len(qmsgs) != 2 || qmsgs[1]["stream"] != img.Config.String()+"\n" || strings.Contains(qw.String(), "noisy") {
		t.Errorf("quiet stream: %s", qw.String())
	}
	// Two builds at once on one builder: both images right, nothing left.
	var wg sync.WaitGroup
	ids := make([]string, 2)
	errs2 := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			df := fmt.Sprintf("FROM busybox\nCOPY f /f\nRUN echo build%d >> /f && sleep 0.2\n", i)
			var w bytes.Buffer
			bctx, _, err := build.ReadContext(bytes.NewReader(tarOf(t, [][2]string{{"Dockerfile", df}, {"f", "shared\n"}})), tmp)
			if err != nil {
				errs2[i] = err
				return
			}
			defer bctx.Close()
			img, err := e.b.Build(context.Background(), build.Options{Context: bctx, Progress: build.JSONProgress(&w), Tags: []string{fmt.Sprintf("at-once:%d", i)}})
			if err == nil {
				ids[i] = img.Config.String()
			}
			errs2[i] = err
		}()
	}
	wg.Wait()
	for i := range 2 {
		if errs2[i] != nil {
			t.Fatalf("build %d at once: %v", i, errs2[i])
		}
		img, err := e.store.Get(fmt.Sprintf("at-once:%d", i))
		if err != nil || img.Config.String() != ids[i] {
			t.Fatalf("at-once:%d: %v", i, err)
		}
		if got := e.readFile(img, "f"); got != fmt.Sprintf("shared\nbuild%d\n", i) {
			t.Errorf("build %d at once: /f %q", i, got)
		}
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("contexts left: %v", ents)
	}
	if ents, _ := os.ReadDir(filepath.Join(e.b.StateDir, "build")); len(ents) != 0 {
		t.Errorf("bundles left: %v", ents)
	}
}
