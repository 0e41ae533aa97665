package extension

import (
	"fmt"

	"github.com/openshift-ai/observability/extension/config"
	"github.com/openshift-ai/observability/extension/host"
	"github.com/perses/perses/pkg/extend"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

// Options are the process-level settings main hands over.
type Options struct {
	EnablePprof bool
	Banner      string
	Registry    *prometheus.Registry
}

// NewServer builds upstream's server with every capability in caps set up on it.
func NewServer(conf config.Config, o Options, caps []Capability) (*host.Host, error) {
	prep := &host.Prepare{Config: conf, Registry: o.Registry}
	for _, c := range caps {
		if c.Prepare == nil {
			continue
		}
		if err := c.Prepare(prep); err != nil {
			return nil, fmt.Errorf("%s: %w", c.Name, err)
		}
	}
	warnIfOpen(conf)
	runner, deps, err := extend.NewServer(extend.Options{
		Config:        conf.Config,
		EnablePprof:   o.EnablePprof,
		Registry:      o.Registry,
		Banner:        o.Banner,
		DAO:           prep.DAO,
		Authorization: prep.Authorization,
	})
	if err != nil {
		return nil, err
	}
	h := &host.Host{Config: conf, Runner: runner, Deps: deps, Registry: o.Registry, UpstreamStore: prep.DAO == nil, Store: prep.DAO}
	for _, c := range caps {
		if c.Setup == nil {
			continue
		}
		if err := c.Setup(h); err != nil {
			return nil, fmt.Errorf("%s: %w", c.Name, err)
		}
	}
	return h, nil
}

// warnIfOpen says, loudly, that nobody is asked who they are.
func warnIfOpen(conf config.Config) {
	if conf.Security.EnableAuth {
		return
	}
	for range 3 {
		logrus.Warn("AUTHENTICATION IS OFF (security.enable_auth: false): anyone who reaches this server can read and change every dashboard. Use it on a loopback address only.")
	}
}
