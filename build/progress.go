package build

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// StepInfo is a step about to run.
type StepInfo struct {
	Step, Total int
	Stage       string
	Text        string // the instruction, on one line
}

// StepResult is how a step ended.
type StepResult struct {
	Cached   bool
	Duration time.Duration
	ID       string // the stage's cache key after the step
	Err      error
}

// Progress receives a build's events, in order, from one goroutine at a time.
type Progress interface {
	Step(StepInfo)
	// Output is RUN's stdout and stderr as it comes.
	Output(step int, data []byte)
	Done(step int, r StepResult)
	// Message is a note for the user (a warning).
	Message(text string)
	// Result is the image built.
	Result(id string, tags []string)
}

// QuietProgress reports nothing (hull build -q, --progress=quiet).
func QuietProgress() Progress { return quiet{} }

type quiet struct{}

func (quiet) Step(StepInfo)           {}
func (quiet) Output(int, []byte)      {}
func (quiet) Done(int, StepResult)    {}
func (quiet) Message(string)          {}
func (quiet) Result(string, []string) {}

// PlainProgress writes plain lines (--progress=plain, and whenever the output is not
// a terminal): each step, its output as it comes, and how it ended.
//
//	STEP 2/5: RUN make
//	...make's output...
//	--> 1.2s
//	STEP 3/5: COPY . /src
//	--> cached
func PlainProgress(w io.Writer) Progress { return &plain{w: w} }

type plain struct {
	mu      sync.Mutex
	w       io.Writer
	midLine bool
}

func (p *plain) Step(s StepInfo) {
	fmt.Fprintf(p.w, "STEP %d/%d: %s\n", s.Step, s.Total, s.Text)
}

func (p *plain) Output(_ int, data []byte) {
	p.w.Write(data)
	p.midLine = len(data) > 0 && data[len(data)-1] != '\n'
}

func (p *plain) Done(_ int, r StepResult) {
	if p.midLine {
		fmt.Fprintln(p.w)
		p.midLine = false
	}
	switch {
	case r.Err != nil:
		fmt.Fprintf(p.w, "--> error: %v\n", r.Err)
	case r.Cached:
		fmt.Fprintf(p.w, "--> cached\n")
	default:
		fmt.Fprintf(p.w, "--> %s\n", r.Duration.Round(time.Millisecond))
	}
}

func (p *plain) Message(text string) { fmt.Fprintln(p.w, text) }

func (p *plain) Result(id string, tags []string) {
	fmt.Fprintf(p.w, "COMMIT %s\n", shortID(id))
	for _, t := range tags {
		fmt.Fprintf(p.w, "Successfully tagged %s\n", t)
	}
	fmt.Fprintln(p.w, id)
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// TTYProgress writes BuildKit's form on a terminal: each step on one line with its
// duration or CACHED, the running step's last output lines below it, redrawn in
// place, and the whole output of a step that failed.
//
//	[+] Building 3.1s (5/5) FINISHED
//	 => [1/5] FROM busybox                                    0.0s
//	 => CACHED [2/5] RUN make                                 0.0s
func TTYProgress(w io.Writer) Progress {
	return &tty{w: w, start: time.Now()}
}

type tty struct {
	w     io.Writer
	start time.Time
	cur   StepInfo
	tail  []string // the running step's last lines
	drawn int      // lines drawn below the last finished step
	part  string
}

const ttyTail = 6

func (t *tty) clear() {
	for ; t.drawn > 0; t.drawn-- {
		fmt.Fprint(t.w, "\x1b[1A\x1b[2K")
	}
}

func (t *tty) draw() {
	t.clear()
	fmt.Fprintf(t.w, " => [%d/%d] %s\n", t.cur.Step, t.cur.Total, t.cur.Text)
	t.drawn++
	for _, l := range t.tail {
		fmt.Fprintf(t.w, "\x1b[2m => => # %s\x1b[0m\n", truncate(l, 100))
		t.drawn++
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (t *tty) Step(s StepInfo) {
	t.cur, t.tail, t.part = s, nil, ""
	t.draw()
}

func (t *tty) Output(_ int, data []byte) {
	lines := strings.Split(t.part+string(data), "\n")
	t.part = lines[len(lines)-1]
	for _, l := range lines[:len(lines)-1] {
		t.tail = append(t.tail, strings.TrimRight(l, "\r"))
		if len(t.tail) > ttyTail {
			t.tail = t.tail[1:]
		}
	}
	t.draw()
}

func (t *tty) Done(_ int, r StepResult) {
	t.clear()
	label := fmt.Sprintf("[%d/%d] %s", t.cur.Step, t.cur.Total, t.cur.Text)
	switch {
	case r.Err != nil:
		fmt.Fprintf(t.w, " => ERROR %-60s %5.1fs\n", label, r.Duration.Seconds())
		for _, l := range t.tail {
			fmt.Fprintf(t.w, " > %s\n", l)
		}
	case r.Cached:
		fmt.Fprintf(t.w, " => CACHED %-59s %5.1fs\n", label, 0.0)
	default:
		fmt.Fprintf(t.w, " => %-66s %5.1fs\n", label, r.Duration.Seconds())
	}
	t.tail = nil
}

func (t *tty) Message(text string) {
	t.clear()
	fmt.Fprintln(t.w, text)
}

func (t *tty) Result(id string, tags []string) {
	fmt.Fprintf(t.w, " => writing image %s\n", id)
	for _, tag := range tags {
		fmt.Fprintf(t.w, " => naming to %s\n", tag)
	}
	fmt.Fprintf(t.w, "[+] Building %.1fs FINISHED\n", time.Since(t.start).Seconds())
}

// JSONProgress writes docker's JSON message stream, as the classic builder sends it
// from POST /build: {"stream": ...} lines for steps and output, {"aux": {"ID": ...}}
// for the image, and {"errorDetail": ..., "error": ...} for a failed step. Fail
// writes the error of a build that failed before any step (see the package doc).
func JSONProgress(w io.Writer) *JSONStream { return &JSONStream{enc: json.NewEncoder(w)} }

// JSONStream is JSONProgress's Progress.
type JSONStream struct {
	// Quiet is POST /build's q=1: no steps, output or notes; the image ID as a
	// stream line at the end (and the aux message), errors as ever.
	Quiet  bool
	enc    *json.Encoder
	failed bool // an error message was written
}

// Fail writes err as docker's error message unless a failed step's message is
// already in the stream: a handler calls it with whatever Build returned.
func (j *JSONStream) Fail(err error) {
	if err == nil || j.failed {
		return
	}
	j.failed = true
	j.enc.Encode(jsonMessage{Error: err.Error(), ErrorDetail: &jsonError{Message: err.Error()}})
}

type jsonMessage struct {
	Stream      string     `json:"stream,omitempty"`
	Error       string     `json:"error,omitempty"`
	ErrorDetail *jsonError `json:"errorDetail,omitempty"`
	Aux         *jsonAuxID `json:"aux,omitempty"`
}

type jsonError struct {
	Code    int    `json:"code,omitempty"`
	Message string `json:"message"`
}

type jsonAuxID struct {
	ID string `json:"ID"`
}

func (j *JSONStream) stream(s string) {
	if !j.Quiet {
		j.enc.Encode(jsonMessage{Stream: s})
	}
}

func (j *JSONStream) Step(s StepInfo) {
	j.stream(fmt.Sprintf("Step %d/%d : %s\n", s.Step, s.Total, s.Text))
}

func (j *JSONStream) Output(_ int, data []byte) { j.stream(string(data)) }

func (j *JSONStream) Done(_ int, r StepResult) {
	switch {
	case r.Err != nil:
		code := 1
		if be, ok := r.Err.(*Error); ok && be.ExitCode != 0 {
			code = be.ExitCode
		}
		j.failed = true
		j.enc.Encode(jsonMessage{Error: r.Err.Error(), ErrorDetail: &jsonError{Code: code, Message: r.Err.Error()}})
	case r.Cached:
		j.stream(" ---> Using cache\n")
		j.stream(" ---> " + shortID(r.ID) + "\n")
	default:
		j.stream(" ---> " + shortID(r.ID) + "\n")
	}
}

func (j *JSONStream) Message(text string) { j.stream(text + "\n") }

func (j *JSONStream) Result(id string, tags []string) {
	j.enc.Encode(jsonMessage{Aux: &jsonAuxID{ID: id}})
	if j.Quiet {
		j.enc.Encode(jsonMessage{Stream: id + "\n"})
		return
	}
	j.stream("Successfully built " + shortID(id) + "\n")
	for _, t := range tags {
		j.stream("Successfully tagged " + t + "\n")
	}
}
