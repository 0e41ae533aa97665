package config

import (
	"fmt"
	"time"
)

// Live configures live dashboard updates: server-sent events carrying dashboard changes
// and panel query results (extension/live/README.md).
type Live struct {
	// Enabled serves GET /api/v1/projects/{project}/dashboards/{name}/stream (default on).
	Enabled bool `json:"enabled" yaml:"enabled"`
	// MaxStreamsPerUser bounds the streams one user holds open at once, on this replica.
	MaxStreamsPerUser int `json:"max_streams_per_user" yaml:"max_streams_per_user"`
	// Heartbeat is how often an idle-proof heartbeat event is sent.
	Heartbeat Duration `json:"heartbeat" yaml:"heartbeat"`
	// MinInterval is the shortest refresh interval a stream may ask for; dashboards
	// asking for less are polled at this interval.
	MinInterval Duration `json:"min_interval" yaml:"min_interval"`
	// DefaultInterval is the refresh interval of dashboards that set none.
	DefaultInterval Duration `json:"default_interval" yaml:"default_interval"`
}

// Defaults of the live section.
const (
	DefaultLiveMaxStreamsPerUser = 10
	DefaultLiveHeartbeat         = Duration(15 * time.Second)
	DefaultLiveMinInterval       = Duration(5 * time.Second)
	DefaultLiveDefaultInterval   = Duration(15 * time.Second)
)

func defaultLive() Live {
	return Live{
		Enabled:           true,
		MaxStreamsPerUser: DefaultLiveMaxStreamsPerUser,
		Heartbeat:         DefaultLiveHeartbeat,
		MinInterval:       DefaultLiveMinInterval,
		DefaultInterval:   DefaultLiveDefaultInterval,
	}
}

func (l Live) validate() []error {
	if !l.Enabled {
		return nil
	}
	var errs []error
	if l.MaxStreamsPerUser < 1 {
		errs = append(errs, fmt.Errorf("openshift_ai.live.max_streams_per_user: %d, want at least 1", l.MaxStreamsPerUser))
	}
	if l.Heartbeat < Duration(time.Second) {
		errs = append(errs, fmt.Errorf("openshift_ai.live.heartbeat: %s, want at least 1s", l.Heartbeat))
	}
	if l.MinInterval < Duration(time.Second) {
		errs = append(errs, fmt.Errorf("openshift_ai.live.min_interval: %s, want at least 1s", l.MinInterval))
	}
	if l.DefaultInterval < l.MinInterval {
		errs = append(errs, fmt.Errorf("openshift_ai.live.default_interval: %s, want at least min_interval (%s)", l.DefaultInterval, l.MinInterval))
	}
	return errs
}
