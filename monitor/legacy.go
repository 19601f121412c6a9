package monitor

import (
	"encoding/json"
	"time"

	"github.com/hullproject/hull/monitor/resident"
)

// legacyHandover is resident.Handover as JSON, the form hull wrote before the
// text form (monitor/resident/handover.go). A resident that an older hull
// started keeps running across an upgrade and wakes this monitor with it when
// its container ends or a client attaches; reading it is what lets that
// container's end still be recorded.
type legacyHandover struct {
	Exe      string            `json:"exe"`
	Args     []string          `json:"args"`
	ID       string            `json:"id"`
	Pid      int               `json:"pid"`
	Out      int               `json:"out"`
	Err      int               `json:"err"`
	Listener int               `json:"listener"`
	Keep     []int             `json:"keep,omitempty"`
	Clients  []int             `json:"clients,omitempty"`
	LogPath  string            `json:"logPath"`
	LogOpts  []string          `json:"logOpts,omitempty"`
	Pending  map[string][]byte `json:"pending,omitempty"`
	Environ  []string          `json:"environ,omitempty"`
	Engine   json.RawMessage   `json:"engine,omitempty"`
	Reason   string            `json:"reason,omitempty"`
	Code     int               `json:"code,omitempty"`
	At       time.Time         `json:"at,omitzero"`
}

func init() { resident.LegacyJSON = parseLegacyHandover }

func parseLegacyHandover(text string) (*resident.Handover, error) {
	var l legacyHandover
	if err := json.Unmarshal([]byte(text), &l); err != nil {
		return nil, err
	}
	return &resident.Handover{
		Exe: l.Exe, Args: l.Args, ID: l.ID, Pid: l.Pid,
		Out: l.Out, Err: l.Err, Listener: l.Listener, Keep: l.Keep, Clients: l.Clients,
		LogPath: l.LogPath, LogOpts: l.LogOpts, Pending: l.Pending, Environ: l.Environ,
		Engine: l.Engine, Reason: l.Reason, Code: l.Code, At: l.At,
	}, nil
}
