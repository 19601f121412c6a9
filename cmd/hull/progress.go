package main

import (
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"
)

// newProgress returns mpb bars on a terminal, plain lines otherwise, nil when quiet.
func newProgress(quiet bool) (progress interface {
	Track(string, int64, io.Reader) io.Reader
	Done(string, string)
}, wait func()) {
	if quiet {
		return nil, func() {}
	}
	if !term.IsTerminal(int(os.Stdout.Fd())) {
		return &lines{}, func() {}
	}
	p := mpb.New(mpb.WithOutput(os.Stdout), mpb.WithWidth(40))
	b := &bars{p: p, bars: map[string]*mpb.Bar{}}
	return b, p.Wait
}

type lines struct{ mu sync.Mutex }

func (l *lines) Track(id string, size int64, r io.Reader) io.Reader {
	l.mu.Lock()
	fmt.Printf("%s: downloading (%d bytes)\n", id, size)
	l.mu.Unlock()
	return r
}

func (l *lines) Done(id, status string) {
	l.mu.Lock()
	fmt.Printf("%s: %s\n", id, status)
	l.mu.Unlock()
}

type bars struct {
	p    *mpb.Progress
	mu   sync.Mutex
	bars map[string]*mpb.Bar
}

func (b *bars) Track(id string, size int64, r io.Reader) io.Reader {
	bar := b.p.AddBar(size,
		mpb.PrependDecorators(decor.Name(id+" "), decor.CountersKibiByte("% .1f / % .1f")),
		mpb.AppendDecorators(decor.Percentage()),
	)
	b.mu.Lock()
	b.bars[id] = bar
	b.mu.Unlock()
	pr, err := bar.ProxyReader(r)
	if err != nil {
		return r
	}
	return pr
}

func (b *bars) Done(id, status string) {
	b.mu.Lock()
	bar := b.bars[id]
	b.mu.Unlock()
	if bar == nil {
		fmt.Printf("%s: %s\n", id, status)
		return
	}
	if status != "downloaded" {
		bar.Abort(false)
		return
	}
	bar.SetTotal(-1, true)
}
