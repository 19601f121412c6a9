package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hullproject/hull/internal/atomicfile"
	"github.com/hullproject/hull/internal/proc"

	"github.com/hullproject/hull/internal/trace"
)

// Container is one container's record in the state root.
//
// On disk it is the directory <root>/<id> holding state.json (written to a temporary
// file and renamed, so a reader sees the old or the new record, never half),
// init.json (what it takes to remove the container: written once at create, the
// same way, and never again, so that nothing that damages state.json takes it
// along) and, while the container is created but not started, exec.fifo. Commands
// that change a container hold an exclusive flock on its directory; readers take
// none.
//
// The status is never stored: it is derived from kernel facts each time it is asked
// for. The init process is alive if /proc/<pid>/stat exists, is not a zombie, and
// shows the start time recorded at create (so a recycled pid is not mistaken for it);
// a live init with exec.fifo still present is "created", one whose cgroup is frozen
// is "paused", any other live one is "running", and everything else is "stopped".
type Container struct {
	ID     string
	dir    string
	Record Record
	init   *os.Process // set in the process that created the container
	// initReaped: Wait has reaped init (this process created the container).
	initReaped bool
	// Log receives the warnings of the lifecycle: what the runtime-spec wants
	// logged rather than failed (a failing poststart or poststop hook, a
	// capability an exec asks for and cannot have). Nil drops them. Create sets it
	// from CreateOpts.Log.
	Log *slog.Logger
	// Trace records the kernel steps of Start, Exec and Delete (internal/trace).
	// Nil: no trace. Create sets it from CreateOpts.Trace.
	Trace *trace.Tracer
}

// Record is what state.json holds.
type Record struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"init_process_pid"`
	PidStart    uint64            `json:"init_process_start"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Cgroup      string            `json:"cgroup"`
	Config      *specs.Spec       `json:"config"`
	// Damaged is set when state.json could not be read: the record is kept so that
	// list shows it and delete --force can remove it, with the init process and
	// cgroup that init.json names (Pid, PidStart and Cgroup are then all that is
	// known, or nothing if init.json is gone too).
	Damaged bool `json:"-"`
}

// initRecord is init.json: the init process (pid and start time, which tell it
// from a later process with its pid) and the cgroup, all delete --force needs.
type initRecord struct {
	Pid      int    `json:"pid"`
	PidStart uint64 `json:"start"`
	Cgroup   string `json:"cgroup"`
}

const initRecordFile = "init.json"

// saveInitRecord writes init.json, once, at create.
func (c *Container) saveInitRecord() error {
	data, err := json.Marshal(initRecord{Pid: c.Record.Pid, PidStart: c.Record.PidStart, Cgroup: c.Record.Cgroup})
	if err != nil {
		return err
	}
	return atomicfile.Replace(filepath.Join(c.dir, initRecordFile), data, 0o600)
}

// Status values, as the runtime-spec names them.
const (
	StatusCreating = "creating"
	StatusCreated  = "created"
	StatusRunning  = "running"
	StatusPaused   = "paused"
	StatusStopped  = "stopped"
)

// ErrNotExist is returned for an ID with no record.
var ErrNotExist = errors.New("container does not exist")

// validID tells whether id matches ^[\w+\-.]+$ (RE2's \w: ASCII letters, digits,
// _). A loop, not a regexp: a package-level regexp is compiled by every process
// that links the package, at start-up (~15 µs and 50 allocations in hullrt).
func validID(id string) bool {
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '_', c == '+', c == '-', c == '.':
		default:
			return false
		}
	}
	return id != ""
}

// CheckID refuses IDs that are not one plain path component.
func CheckID(id string) error {
	if id == "" {
		return errors.New("container id cannot be empty")
	}
	if !validID(id) || id == "." || id == ".." || len(id) > 1024 {
		return fmt.Errorf("invalid container id %q", id)
	}
	return nil
}

// Load reads the record of id under root. A record whose state.json is damaged is
// returned with Record.Damaged set rather than as an error.
func Load(root, id string) (*Container, error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	c := &Container{ID: id, dir: filepath.Join(root, id)}
	data, err := atomicfile.ReadFile(filepath.Join(c.dir, "state.json"))
	if errors.Is(err, os.ErrNotExist) {
		if _, serr := os.Stat(c.dir); serr != nil {
			return nil, fmt.Errorf("container %s does not exist: %w", id, ErrNotExist)
		}
	}
	if err != nil || json.Unmarshal(data, &c.Record) != nil || c.Record.ID != id {
		c.Record = Record{ID: id, Damaged: true}
		var r initRecord
		if data, err := atomicfile.ReadFile(filepath.Join(c.dir, initRecordFile)); err == nil && json.Unmarshal(data, &r) == nil && r.Pid > 0 {
			c.Record.Pid, c.Record.PidStart, c.Record.Cgroup = r.Pid, r.PidStart, r.Cgroup
		}
	}
	return c, nil
}

// List loads every record under root, sorted by ID.
func List(root string) ([]*Container, error) {
	ents, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Container
	for _, e := range ents {
		if !e.IsDir() || CheckID(e.Name()) != nil {
			continue
		}
		if c, err := Load(root, e.Name()); err == nil {
			out = append(out, c)
		}
	}
	return out, nil
}

// save writes state.json atomically. Not durably: a runtime's state describes
// processes of this boot, meaningless after a crash (runc's is not synced either).
func (c *Container) save() error {
	data, err := json.Marshal(&c.Record)
	if err != nil {
		return err
	}
	return atomicfile.Replace(filepath.Join(c.dir, "state.json"), data, 0o600)
}

// lock takes the container's exclusive lock; unlock with the returned function. A
// record deleted while this command waited is reported as not existing.
func (c *Container) lock() (func(), error) {
	fd, err := unix.Open(c.dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("container %s does not exist: %w", c.ID, ErrNotExist)
	}
	if err := atomicfile.LockFd(fd, atomicfile.Exclusive); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("lock container %s: %w", c.ID, err)
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Nlink == 0 {
		unix.Close(fd)
		return nil, fmt.Errorf("container %s does not exist: %w", c.ID, ErrNotExist)
	}
	// Re-read: another command may have changed the record while we waited.
	if fresh, err := Load(filepath.Dir(c.dir), c.ID); err == nil {
		c.Record = fresh.Record
	}
	return func() { unix.Close(fd) }, nil
}

// Status derives the container's status from the kernel. A damaged record is
// "stopped": nothing but delete (and kill --all) may act on it.
func (c *Container) Status() string {
	if c.Record.Damaged {
		return StatusStopped
	}
	return c.status()
}

// status is Status from kernel facts alone, for a damaged record too (its init
// process and cgroup come from init.json).
func (c *Container) status() string {
	if !c.initAlive() {
		return StatusStopped
	}
	if _, err := os.Lstat(filepath.Join(c.dir, "exec.fifo")); err == nil {
		return StatusCreated
	}
	if c.frozen() {
		return StatusPaused
	}
	return StatusRunning
}

// initAlive tells whether the recorded init process still runs.
func (c *Container) initAlive() bool { return proc.Alive(c.Record.Pid, c.Record.PidStart) }

// OCIState is the state the runtime-spec defines, as `hullrt state` prints it, with
// runc's extra fields rootfs, created and owner.
type OCIState struct {
	specs.State
	Rootfs  string    `json:"rootfs"`
	Created time.Time `json:"created"`
	Owner   string    `json:"owner"`
}

// OCI returns the container's state in the runtime-spec's shape.
func (c *Container) OCI() OCIState {
	s := OCIState{State: c.specState(c.Status()), Rootfs: c.Record.Rootfs, Created: c.Record.Created, Owner: c.Record.Owner}
	if s.Status == StatusStopped {
		s.Pid = 0
	}
	return s
}

// specState is the state given to hooks.
func (c *Container) specState(status string) specs.State {
	return specs.State{
		Version: specs.Version, ID: c.ID, Status: specs.ContainerState(status), Pid: c.Record.Pid,
		Bundle: c.Record.Bundle, Annotations: c.Record.Annotations,
	}
}
