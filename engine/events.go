package engine

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Events are what `hull events` shows: one JSON object a line, Docker's shape, in
// <root>/events.log. With no daemon to hand them out, every hull command and monitor
// appends its own: the file is opened O_APPEND and each line goes in one write(2),
// so lines of concurrent writers never interleave. Once the file passes
// maxEventsSize the writer that noticed renames it to events.log.1 (replacing the
// older one) under <root>/events.lock: at most two bounded files stay. A writer
// that opened the file just before a rotation appends to events.log.1, which a
// reader reads first.
const maxEventsSize = 1 << 20

// Event is one event, as Docker's API and `docker events --format '{{json .}}'`
// show it.
type Event struct {
	Status   string `json:"status,omitempty"`
	ID       string `json:"id,omitempty"`
	From     string `json:"from,omitempty"`
	Type     string `json:"Type"`
	Action   string `json:"Action"`
	Actor    Actor  `json:"Actor"`
	Scope    string `json:"scope"`
	Time     int64  `json:"time"`
	TimeNano int64  `json:"timeNano"`
}

// Actor is what an event is about.
type Actor struct {
	ID         string            `json:"ID"`
	Attributes map[string]string `json:"Attributes"`
}

func (e *Engine) eventsFile() string { return filepath.Join(e.Root, "events.log") }

// event records action on container c; kv are extra attributes (key, value, ...),
// such as a die's exitCode. Events are a record of what happened, not part of it:
// a failure to write one is ignored.
func (e *Engine) event(c *Container, action string, kv ...string) {
	attrs := map[string]string{"image": c.ImageRef, "name": c.Name}
	for k, v := range c.Config.Labels {
		attrs[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		attrs[kv[i]] = kv[i+1]
	}
	now := time.Now()
	e.record(Event{
		Status: action, ID: c.ID, From: c.ImageRef, Type: "container", Action: action,
		Actor: Actor{ID: c.ID, Attributes: attrs}, Scope: "local", Time: now.Unix(), TimeNano: now.UnixNano(),
	})
}

// objectEvent records action on an object of another type than a container
// (network, volume): id is its Actor.ID, attrs its Actor.Attributes.
func (e *Engine) objectEvent(typ, action, id string, attrs map[string]string) {
	now := time.Now()
	e.record(Event{Type: typ, Action: action, Actor: Actor{ID: id, Attributes: attrs}, Scope: "local",
		Time: now.Unix(), TimeNano: now.UnixNano()})
}

// record appends ev to the events file, in one write.
func (e *Engine) record(ev Event) {
	line, err := json.Marshal(ev)
	if err != nil {
		return
	}
	f, err := os.OpenFile(e.eventsFile(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	f.Write(append(line, '\n'))
	st, err := f.Stat()
	f.Close()
	if err == nil && st.Size() > maxEventsSize {
		e.rotateEvents()
	}
}

func (e *Engine) rotateEvents() {
	unlock, err := flock(filepath.Join(e.Root, "events.lock"))
	if err != nil {
		return
	}
	defer unlock()
	// Another writer may have rotated it while this one waited for the lock.
	if st, err := os.Stat(e.eventsFile()); err == nil && st.Size() > maxEventsSize {
		os.Rename(e.eventsFile(), e.eventsFile()+".1")
	}
}

// Filter is Docker's --filter: values of one key are alternatives, keys must all
// match.
type Filter map[string][]string

// Match tells whether ok holds for one of key's values, or key is not filtered on.
func (f Filter) Match(key string, ok func(v string) bool) bool {
	vs, given := f[key]
	if !given {
		return true
	}
	for _, v := range vs {
		if ok(v) {
			return true
		}
	}
	return false
}

// MatchAll tells whether ok holds for every one of key's values: docker's
// label filters, which select what has all the labels given (compose finds a
// service's containers by project and service label together).
func (f Filter) MatchAll(key string, ok func(v string) bool) bool {
	for _, v := range f[key] {
		if !ok(v) {
			return false
		}
	}
	return true
}

// HasLabel tells whether labels match a filter's KEY or KEY=VALUE.
func HasLabel(labels map[string]string, l string) bool {
	k, v, withValue := strings.Cut(l, "=")
	got, ok := labels[k]
	return ok && (!withValue || got == v)
}

// EventFilter is `events --filter`, docker's keys: container (ID, ID prefix or
// name), event (the action; health_status, exec_create and exec_start also
// match their longer forms, "health_status: healthy"), type, image, label (KEY or
// KEY=VALUE), scope (local), and the names of the other kinds of actor (network,
// volume, daemon, plugin, node, service, secret, config), which match the actor's
// ID prefix or name as docker's do.
type EventFilter struct{ Filter }

// actorKeys are the filter keys that match an actor's ID or name.
var actorKeys = []string{"network", "volume", "daemon", "plugin", "node", "service", "secret", "config"}

// ParseEventFilter reads --filter KEY=VALUE flags.
func ParseEventFilter(args []string) (EventFilter, error) {
	f := EventFilter{Filter{}}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		switch {
		case !ok:
			return f, fmt.Errorf("bad filter %q: want KEY=VALUE", a)
		case !slices.Contains([]string{"container", "event", "type", "image", "label", "scope"}, k) && !slices.Contains(actorKeys, k):
			return f, fmt.Errorf("invalid filter %q", k)
		}
		f.Filter[k] = append(f.Filter[k], v)
	}
	return f, nil
}

// Match tells whether ev passes the filter.
func (f EventFilter) Match(ev *Event) bool {
	actor := func(v string) bool {
		return v == ev.Actor.Attributes["name"] || (v != "" && strings.HasPrefix(ev.Actor.ID, v))
	}
	for _, k := range actorKeys {
		if !f.Filter.Match(k, actor) {
			return false
		}
	}
	return f.Filter.Match("container", actor) &&
		f.Filter.Match("event", func(v string) bool {
			switch v {
			case "health_status", "exec_create", "exec_start":
				return strings.HasPrefix(ev.Action, v)
			}
			return v == ev.Action
		}) &&
		f.Filter.Match("type", func(v string) bool { return v == ev.Type }) &&
		f.Filter.Match("scope", func(v string) bool { return v == ev.Scope }) &&
		f.Filter.Match("image", func(v string) bool { return v == ev.From }) &&
		f.Filter.MatchAll("label", func(v string) bool { return HasLabel(ev.Actor.Attributes, v) })
}

// EventOptions select the events Events reports.
type EventOptions struct {
	Since, Until time.Time // zero: from the oldest kept; forever
	Filter       EventFilter
	// Follow keeps waiting for new events until Until (forever if zero), or until
	// Stop is closed.
	Follow bool
	Stop   <-chan struct{}
}

// Events calls fn for every recorded event that o selects, oldest first.
func (e *Engine) Events(o EventOptions, fn func(Event) error) error {
	emit := func(line []byte) (bool, error) {
		var ev Event
		if json.Unmarshal(line, &ev) != nil {
			return false, nil // a damaged line
		}
		t := time.Unix(0, ev.TimeNano)
		if !o.Until.IsZero() && t.After(o.Until) {
			return true, nil
		}
		if t.Before(o.Since) || !o.Filter.Match(&ev) {
			return false, nil
		}
		return false, fn(ev)
	}
	// The rotated file first; then the current one, followed across rotations.
	if data, err := os.ReadFile(e.eventsFile() + ".1"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if done, err := emit([]byte(line)); done || err != nil {
				return err
			}
		}
	}
	var f *os.File
	var r *bufio.Reader
	var partial []byte
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	// drain reads f to its end; a line still being written waits in partial.
	drain := func() (bool, error) {
		for r != nil {
			line, err := r.ReadBytes('\n')
			if err == io.EOF {
				partial = append(partial, line...)
				return false, nil
			}
			if err != nil {
				return true, err
			}
			if done, err := emit(append(partial, line...)); done || err != nil {
				return true, err
			}
			partial = nil
		}
		return false, nil
	}
	for {
		if f == nil {
			var err error
			if f, err = os.Open(e.eventsFile()); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			if f != nil {
				r = bufio.NewReader(f)
			}
		}
		if done, err := drain(); done || err != nil {
			return err
		}
		if !o.Follow || (!o.Until.IsZero() && time.Now().After(o.Until)) {
			return nil
		}
		select {
		case <-o.Stop:
			return nil
		case <-time.After(100 * time.Millisecond):
		}
		// Rotated (or created) meanwhile: what was appended to the old file
		// before it was renamed is read first.
		if rotated(f, e.eventsFile()) {
			if done, err := drain(); done || err != nil {
				return err
			}
			if f != nil {
				f.Close()
			}
			f, r, partial = nil, nil, nil
		}
	}
}

// rotated tells whether name is no longer the file f (nil: not opened yet).
func rotated(f *os.File, name string) bool {
	var st unix.Stat_t
	if unix.Stat(name, &st) != nil {
		return false
	}
	if f == nil {
		return true
	}
	var cur unix.Stat_t
	return unix.Fstat(int(f.Fd()), &cur) != nil || cur.Ino != st.Ino || cur.Dev != st.Dev
}

// exited records a container's end: an oom event first if it was OOM-killed, then
// die with its exit code.
func (e *Engine) exited(c *Container, code int, oom bool) {
	if oom {
		e.event(c, "oom")
	}
	e.event(c, "die", "exitCode", fmt.Sprint(code))
}

// destroyed records a removal; c is nil when the record was unreadable.
func (e *Engine) destroyed(c *Container) {
	if c != nil {
		e.event(c, "destroy")
	}
}
