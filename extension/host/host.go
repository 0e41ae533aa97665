// Package host is what a capability sees of the server it is set up on: the product's
// configuration, upstream's dependency manager and HTTP server builder, and the
// metrics registry. It has no logic; it keeps capabilities away from the bridge's
// construction details.
package host

import (
	"github.com/openshift-ai/observability/extension/config"
	"github.com/perses/perses/pkg/extend"
	"github.com/prometheus/client_golang/prometheus"
)

// Host is the built (not yet started) server.
type Host struct {
	Config   config.Config
	Runner   *extend.Runner
	Deps     extend.Manager
	Registry *prometheus.Registry
	// UpstreamStore is true when upstream built the store from the configuration (no
	// capability supplied one).
	UpstreamStore bool
	// Store is the store a capability prepared (nil when UpstreamStore).
	Store extend.DAO
}

// Prepare is what a capability may supply before the server is built.
type Prepare struct {
	Config   config.Config
	Registry *prometheus.Registry
	// DAO replaces upstream's store when set.
	DAO extend.DAO
	// Authorization replaces upstream's authorization provider when set.
	Authorization extend.Authorization
}

// MetricNamespace is the namespace of every metric the extension registers; a
// capability's name is its subsystem.
const MetricNamespace = "perses_openshift_ai"
