package engine

import (
	"fmt"
	"os"
	"strings"
	"sync"
)

// A command that shows many containers, or one beside all the others, reads every
// record once, not once per container: `hull inspect A B C ...` resolves each
// name, and the Namespaces section inspect shows compares one container's
// namespaces with every running container's. A Census is that one pass, taken when
// first needed and kept for the command (not across commands: a long-lived
// `hull system service` makes one per request).
//
// It reads only what resolving needs of each record, its name (recordName),
// several records at a time (forEach); and none when a name's hint holds
// (names.go). The Namespaces section reads no other record than those of the
// containers joined to the one shown (the join index, joins.go), each once per
// census.
//
// A Census is a snapshot: what it resolves is read again from its record (Get),
// and a name it resolved that the record no longer has (renamed meanwhile) is
// resolved again from scratch.
type Census struct {
	e *Engine

	recordsOnce sync.Once
	ids         []string
	byID        map[string]bool
	byName      map[string]string
	err         error

	// What Namespaces has read: hull's own namespaces, and the containers and
	// pods met following joins (namespaces.go), by ID.
	nsMu    sync.Mutex
	host    map[string]uint64
	members map[string]*censusEntry
	pods    map[string]*Pod
	joiners map[string][]string // the join index's entries of a target
}

type censusEntry struct {
	c *Container // a member's record, read whole
	// ino holds the inodes of the entry's namespaces, by procNS name, read
	// when one is first asked for (ns).
	ino map[string]uint64
}

// NewCensus starts a census of e's containers; nothing is read yet.
func (e *Engine) NewCensus() *Census { return &Census{e: e} }

func (s *Census) records() error {
	s.recordsOnce.Do(func() {
		ids, err := s.e.ids()
		if err != nil {
			s.err = err
			return
		}
		names, read := make([]string, len(ids)), make([]bool, len(ids))
		forEach(len(ids), func(i int) {
			var err error
			// not read: removed meanwhile, damaged, or a half-made one List sweeps
			names[i], err = s.e.recordName(ids[i])
			read[i] = err == nil
		})
		s.byID, s.byName = map[string]bool{}, map[string]string{}
		for i, id := range ids {
			if read[i] {
				s.ids = append(s.ids, id)
				s.byID[id] = true
				s.byName[names[i]] = id
			}
		}
	})
	return s.err
}

// Get is Engine.Get, resolving ref in the census.
func (s *Census) Get(ref string) (*Container, error) {
	// A full ID, or a name whose hint holds (names.go), needs no census.
	if idRE.MatchString(ref) {
		if _, err := os.Stat(s.e.dir(ref)); err == nil {
			return s.e.Get(ref)
		}
	}
	if c, ok := s.e.hinted(ref); ok {
		s.e.refresh(c)
		return c, nil
	}
	if err := s.records(); err != nil {
		return nil, err
	}
	id, byName, err := s.resolve(ref)
	if err != nil {
		return nil, err
	}
	c, err := s.get(id)
	if err != nil {
		return nil, err
	}
	if byName {
		if c.Name != strings.TrimPrefix(ref, "/") {
			return s.e.Get(ref) // renamed since the census
		}
		s.e.hint(c.Name, id)
	}
	return c, nil
}

func (s *Census) get(id string) (*Container, error) {
	c, err := s.e.load(id)
	if err != nil {
		return nil, err
	}
	s.e.refresh(c)
	return c, nil
}

// resolve is Engine.Resolve over the census's records: a full ID, a name, a
// unique ID prefix.
func (s *Census) resolve(ref string) (id string, byName bool, err error) {
	if s.byID[ref] {
		return ref, false, nil
	}
	if id, ok := s.byName[strings.TrimPrefix(ref, "/")]; ok {
		return id, true, nil
	}
	var byPrefix []string
	for _, id := range s.ids {
		if strings.HasPrefix(id, ref) {
			byPrefix = append(byPrefix, id)
		}
	}
	switch {
	case len(byPrefix) == 1 && ref != "":
		return byPrefix[0], false, nil
	case len(byPrefix) > 1 && ref != "":
		return "", false, fmt.Errorf("container id prefix %s is ambiguous: %d containers match", ref, len(byPrefix))
	}
	return "", false, fmt.Errorf("%w: %s", ErrNoSuchContainer, ref)
}

// member is the container id as the namespace search sees it: its record (read
// whole, once per census) with its status made truthful; nil when it is gone.
func (s *Census) member(id string) *censusEntry {
	if en, ok := s.members[id]; ok {
		return en
	}
	var en *censusEntry
	if c, err := s.e.load(id); err == nil {
		s.e.refresh(c)
		en = &censusEntry{c: c}
	}
	s.members[id] = en
	return en
}

// pod is the pod id's record, nil when it is gone.
func (s *Census) pod(id string) *Pod {
	if p, ok := s.pods[id]; ok {
		return p
	}
	p, err := s.e.loadPod(id)
	if err != nil {
		p = nil
	}
	s.pods[id] = p
	return p
}

// ns is the inode of the entry's namespace name (0 if it cannot be read).
func (en *censusEntry) ns(name string) uint64 {
	if en.ino == nil {
		en.ino = nsInodes(en.c.State.Pid)
	}
	return en.ino[name]
}
