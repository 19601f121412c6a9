package engine

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/hullproject/hull/internal/atomicfile"
	"github.com/hullproject/hull/internal/proc"
	"golang.org/x/sys/unix"
)

// A command that shows many containers, or one beside all the others, reads every
// record once, not once per container: `hull inspect A B C ...` resolves each
// name, and the Namespaces section inspect shows compares one container's
// namespaces with every running container's. A Census is that one pass, taken when
// first needed and kept for the command (not across commands: a long-lived
// `hull system service` makes one per request).
//
// It reads only what resolving and comparing need of each record (censusRecord),
// several records at a time (forEach), and only then, once, whether each running one
// still runs (refresh) and the namespaces of the running ones that can share one
// with the container shown (Namespaces).
//
// A Census is a snapshot: what it resolves is read again from its record (Get),
// and a name it resolved that the record no longer has (renamed meanwhile) is
// resolved again from scratch.
type Census struct {
	e *Engine

	recordsOnce sync.Once
	ids         []string
	byID        map[string]*censusEntry
	byName      map[string]string
	err         error

	nsOnce  sync.Once
	host    map[string]uint64
	running []*censusEntry               // by name
	unmade  map[string][]*censusEntry    // of running, by namespace (unmadeBy)
	pods    map[string]map[string]uint64 // "pod:NAME": its infra's namespaces
}

type censusEntry struct {
	c *Container // ID, Name, State, HostConfig's Runtime and namespace modes only
	// ino holds the inodes of the entry's namespaces, by procNS name, as they
	// are first asked for (ns).
	ino map[string]uint64
}

// censusRecord is what a Census decodes of a record: decoding skips the rest.
type censusRecord struct {
	ID         string         `json:"Id"`
	Name       string         `json:"Name"`
	State      ContainerState `json:"State"`
	HostConfig struct {
		Runtime     string `json:"Runtime"`
		NetworkMode string `json:"NetworkMode"`
		SharingHostConfig
	} `json:"HostConfig"`
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
		entries := make([]*censusEntry, len(ids))
		forEach(len(ids), func(i int) {
			data, err := atomicfile.ReadFile(filepath.Join(s.e.dir(ids[i]), "config.json"))
			if err != nil {
				return // removed meanwhile, or a half-made one List sweeps
			}
			var r censusRecord
			if json.Unmarshal(data, &r) != nil || r.ID != ids[i] {
				return // damaged: List leaves it out too
			}
			c := &Container{ID: r.ID, Name: r.Name, State: r.State}
			c.HostConfig.Runtime, c.HostConfig.NetworkMode = r.HostConfig.Runtime, r.HostConfig.NetworkMode
			c.HostConfig.SharingHostConfig = r.HostConfig.SharingHostConfig
			entries[i] = &censusEntry{c: c}
		})
		s.byID, s.byName = map[string]*censusEntry{}, map[string]string{}
		for i, en := range entries {
			if en != nil {
				s.ids = append(s.ids, ids[i])
				s.byID[ids[i]] = en
				s.byName[en.c.Name] = ids[i]
			}
		}
	})
	return s.err
}

// Get is Engine.Get, resolving ref in the census.
func (s *Census) Get(ref string) (*Container, error) {
	if err := s.records(); err != nil {
		return nil, err
	}
	id, byName, err := s.resolve(ref)
	if err != nil {
		return nil, err
	}
	c, err := s.e.load(id)
	if err != nil {
		return nil, err
	}
	if byName && c.Name != strings.TrimPrefix(ref, "/") {
		return s.e.Get(ref) // renamed since the census
	}
	s.e.refresh(c)
	return c, nil
}

// resolve is Engine.Resolve over the census's records: a full ID, a name, a
// unique ID prefix.
func (s *Census) resolve(ref string) (id string, byName bool, err error) {
	if _, ok := s.byID[ref]; ok {
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

// namespaces takes what Namespaces compares with: the host's namespaces, the
// running containers (their status made truthful, as List's) and the running pods'
// infra processes.
func (s *Census) namespaces() {
	s.nsOnce.Do(func() {
		s.host = nsInodes(os.Getpid())
		if s.records() == nil {
			entries := make([]*censusEntry, len(s.ids))
			forEach(len(s.ids), func(i int) {
				en := s.byID[s.ids[i]]
				s.e.refresh(en.c)
				if en.c.State.Status == StatusRunning && en.c.State.Pid != 0 {
					entries[i] = en
				}
			})
			for _, en := range entries {
				if en != nil {
					s.running = append(s.running, en)
				}
			}
			// SharedWith lists names in order
			slices.SortFunc(s.running, func(a, b *censusEntry) int { return strings.Compare(a.c.Name, b.c.Name) })
			s.unmade = unmadeBy(s.running)
		}
		s.pods = map[string]map[string]uint64{}
		if pods, err := s.e.ListPods(); err == nil {
			for _, p := range pods {
				if proc.Alive(p.Infra.Pid, p.Infra.Start) {
					s.pods["pod:"+p.Name] = nsInodes(p.Infra.Pid)
				}
			}
		}
	})
}

// ns is the inode of the entry's namespace name (0 if it cannot be read).
func (en *censusEntry) ns(name string) uint64 {
	if ino, ok := en.ino[name]; ok {
		return ino
	}
	if en.ino == nil {
		en.ino = map[string]uint64{}
	}
	var st unix.Stat_t
	if unix.Stat(fmt.Sprintf("/proc/%d/ns/%s", en.c.State.Pid, name), &st) == nil {
		en.ino[name] = st.Ino
	} else {
		en.ino[name] = 0
	}
	return en.ino[name]
}
