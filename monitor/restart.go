package monitor

import (
	"os"
	"os/signal"
	"time"

	"golang.org/x/sys/unix"
)

// Restart policies, as Docker's. The container's monitor applies them: it stays
// alive across restarts and re-creates the container through the runtime after a
// backoff. hull has no daemon, so nothing brings a container back after a reboot or
// after its monitor was killed: "always" and "unless-stopped" differ only there in
// Docker, and behave alike here.
const (
	RestartNo            = "no"
	RestartOnFailure     = "on-failure"
	RestartAlways        = "always"
	RestartUnlessStopped = "unless-stopped"
)

// RestartPolicy is Docker's HostConfig.RestartPolicy. The engine parses it from
// --restart and keeps it in the container's record; the monitor reads it there
// when the container ends (`hull update --restart` may have changed it).
type RestartPolicy struct {
	Name              string `json:"Name"`
	MaximumRetryCount int    `json:"MaximumRetryCount"`
}

// ShouldRestart is Docker's decision after the container ended with code, having
// been restarted restarts times: never after a stop or kill by the user (stopped).
func (p RestartPolicy) ShouldRestart(code, restarts int, stopped bool) bool {
	if stopped {
		return false
	}
	switch p.Name {
	case RestartAlways, RestartUnlessStopped:
		return true
	case RestartOnFailure:
		return code != 0 && (p.MaximumRetryCount == 0 || restarts < p.MaximumRetryCount)
	}
	return false
}

// backoff is Docker's delay before a restart: 100 ms, doubled at each restart up to
// a minute, back to 100 ms once the container ran for 10 s.
type backoff struct{ d time.Duration }

func (b *backoff) next(ran time.Duration) time.Duration {
	if ran >= 10*time.Second {
		b.d = 0
	}
	switch {
	case b.d == 0:
		b.d = 100 * time.Millisecond
	case b.d < time.Minute:
		b.d *= 2
	}
	b.d = min(b.d, time.Minute)
	return b.d
}

// WakeSignal tells a monitor to read its container's record again: the engine
// sends it when the user stops a container whose monitor waits to restart it.
const WakeSignal = unix.SIGUSR1

// waitRestart waits d before a restart, and reaps what exits meanwhile; false if
// the user stopped the container (the engine then sends WakeSignal, on wake) or
// removed it.
func (s *supervisor) waitRestart(d time.Duration) bool {
	chld := make(chan os.Signal, 1)
	signal.Notify(chld, unix.SIGCHLD)
	defer signal.Stop(chld)
	t := time.NewTimer(d)
	defer t.Stop()
	stopped := func() bool {
		st, err := s.e.Status(s.id)
		return err != nil || st.Stopped
	}
	for {
		if stopped() {
			return false
		}
		select {
		case <-t.C:
			return !stopped()
		case <-s.wake:
		case <-chld:
			Sweep()
		}
	}
}
