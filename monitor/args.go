package monitor

// A container's monitor is the engine's own binary run again, with a command line
// that only the engine writes (Encode) and only the binary's main reads (ParseArgs),
// before it builds its command tree. Its forms, after argv[0] (the engine's binary):
//
//	--root ROOT --state STATE monitor ID
//	    a fresh monitor of container ID: it creates and starts the container and
//	    tells the starting command, at the other end of the socket pair on fd 3,
//	    how the start went (monitor/attach.go); then the starter goes away
//	--root ROOT --state STATE monitor -
//	    a monitor spawned before its container exists (`hull run` overlaps the
//	    monitor's start with the container's creation): the first message on fd 3
//	    names the container (MsgContainer); the socket's end says there is none
//	--root ROOT --state STATE monitor --attached ID|-
//	    as above, and the starting command stays as an attached client from before
//	    the container exists (a foreground start)
//	--root ROOT --state STATE monitor --resume ID
//	    the monitor taking its container back from hull-monitor, its resident form,
//	    which exec'd it with the container's state in $HULL_MONITOR_STATE
//	    (monitor/resident); fd 3 is nothing of it
//
// ROOT and STATE are the engine's root and state directories. hull-monitor itself
// runs as `hull-monitor --root ROOT --state STATE ID` (ResidentArgs): it reads none
// of that, which is there for ps.
//
// The forms are exact: a command line of another shape is not a monitor's, and
// goes to the command tree.

// Args is a monitor's command line.
type Args struct {
	Root  string // the engine's root directory (--root)
	State string // the engine's state directory (--state)
	// ID is the container's, or "-": the first message on fd 3 names it.
	ID string
	// Attached: the starting command stays as a client.
	Attached bool
	// Resume: taking the container back from the resident form.
	Resume bool
}

// NamedLater is the ID of a monitor that is told its container by its first message.
const NamedLater = "-"

// Encode is the command line, without argv[0].
func (a Args) Encode() []string {
	args := []string{"--root", a.Root, "--state", a.State, "monitor"}
	switch {
	case a.Resume:
		args = append(args, "--resume")
	case a.Attached:
		args = append(args, "--attached")
	}
	return append(args, a.ID)
}

// ResidentArgs is hull-monitor's command line for the same container, without
// argv[0].
func (a Args) ResidentArgs() []string {
	return []string{"--root", a.Root, "--state", a.State, a.ID}
}

// ParseArgs reads a command line without argv[0] (os.Args[1:]); ok is false if it
// is not a monitor's.
func ParseArgs(args []string) (a Args, ok bool) {
	if len(args) < 6 || len(args) > 7 || args[0] != "--root" || args[2] != "--state" || args[4] != "monitor" {
		return Args{}, false
	}
	a = Args{Root: args[1], State: args[3], ID: args[len(args)-1]}
	if len(args) == 7 {
		switch args[5] {
		case "--attached":
			a.Attached = true
		case "--resume":
			a.Resume = true
		default:
			return Args{}, false
		}
	}
	if a.ID == "" || a.Resume && a.ID == NamedLater || a.ID[0] == '-' && a.ID != NamedLater {
		return Args{}, false
	}
	return a, true
}
