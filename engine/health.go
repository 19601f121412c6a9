package engine

import (
	"encoding/json"
	"slices"

	"github.com/hullproject/hull/monitor"
)

// The health check is the monitor's (monitor/health.go: probes, their schedule,
// the health state machine); the engine merges its options into the record.

// HealthConfig is Docker's Config.Healthcheck.
type HealthConfig = monitor.HealthConfig

// Health is Docker's State.Health.
type Health = monitor.Health

// HealthResult is one probe.
type HealthResult = monitor.HealthResult

// Health statuses.
const (
	HealthStarting  = monitor.HealthStarting
	HealthHealthy   = monitor.HealthHealthy
	HealthUnhealthy = monitor.HealthUnhealthy
)

// healthConfig merges the health flags (judged in options.go) over the image's
// Healthcheck (config blob img), as Docker does: each flag that is set replaces
// the image's value. The image's own check may still be refused.
func healthConfig(o *MonitorOptions, img []byte) (*HealthConfig, error) {
	if o.NoHealthcheck {
		return &HealthConfig{Test: []string{"NONE"}}, nil
	}
	var ic struct {
		Config struct{ Healthcheck *HealthConfig } `json:"config"`
	}
	json.Unmarshal(img, &ic) // an image without one is the common case
	hc := &HealthConfig{}
	if ic.Config.Healthcheck != nil {
		*hc = *ic.Config.Healthcheck
	}
	if o.HealthCmd != "" {
		hc.Test = []string{"CMD-SHELL", o.HealthCmd}
	}
	if len(o.HealthTest) > 0 {
		hc.Test = slices.Clone(o.HealthTest)
	}
	if o.HealthInterval != 0 {
		hc.Interval = o.HealthInterval
	}
	if o.HealthTimeout != 0 {
		hc.Timeout = o.HealthTimeout
	}
	if o.HealthStartPeriod != 0 {
		hc.StartPeriod = o.HealthStartPeriod
	}
	if o.HealthStartInterval != 0 {
		hc.StartInterval = o.HealthStartInterval
	}
	if o.HealthRetries != 0 {
		hc.Retries = o.HealthRetries
	}
	if len(hc.Test) == 0 {
		return nil, nil
	}
	if _, err := hc.Args(); err != nil {
		return nil, err
	}
	return hc, nil
}
