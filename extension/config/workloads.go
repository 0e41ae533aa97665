package config

import (
	"fmt"
	"time"
)

// Workloads configures the workload list of a project (GET
// /api/v1/projects/{project}/workloads, extension/workloads/README.md).
type Workloads struct {
	// MetricsTimeout bounds the computation of every headline figure of one answer; a
	// figure not computed in time is null with a note, never an error.
	MetricsTimeout Duration `json:"metrics_timeout" yaml:"metrics_timeout"`
	// MetricsConcurrency bounds the Prometheus queries one answer has in flight at once.
	MetricsConcurrency int `json:"metrics_concurrency" yaml:"metrics_concurrency"`
	// MaxMetricsWorkloads bounds the workloads of one answer whose figures are computed
	// (the others' figures are null, noted "not computed").
	MaxMetricsWorkloads int `json:"max_metrics_workloads" yaml:"max_metrics_workloads"`
	// DiscoveryTTL is how long the cluster's answer to "is this resource served" is
	// remembered (0: asked on every request). A resource that disappears is noticed at
	// once (its list answers 404); one that appears, after DiscoveryTTL at most.
	DiscoveryTTL Duration `json:"discovery_ttl" yaml:"discovery_ttl"`
}

// Defaults of the workloads section.
const (
	DefaultWorkloadsMetricsTimeout      = Duration(10 * time.Second)
	DefaultWorkloadsMetricsConcurrency  = 8
	DefaultWorkloadsMaxMetricsWorkloads = 100
	DefaultWorkloadsDiscoveryTTL        = Duration(30 * time.Second)
)

func defaultWorkloads() Workloads {
	return Workloads{
		MetricsTimeout:      DefaultWorkloadsMetricsTimeout,
		MetricsConcurrency:  DefaultWorkloadsMetricsConcurrency,
		MaxMetricsWorkloads: DefaultWorkloadsMaxMetricsWorkloads,
		DiscoveryTTL:        DefaultWorkloadsDiscoveryTTL,
	}
}

func (w Workloads) validate() []error {
	var errs []error
	if w.MetricsTimeout <= 0 {
		errs = append(errs, fmt.Errorf("openshift_ai.workloads.metrics_timeout: %s, want a positive duration", w.MetricsTimeout))
	}
	if w.MetricsConcurrency < 1 {
		errs = append(errs, fmt.Errorf("openshift_ai.workloads.metrics_concurrency: %d, want at least 1", w.MetricsConcurrency))
	}
	if w.MaxMetricsWorkloads < 0 {
		errs = append(errs, fmt.Errorf("openshift_ai.workloads.max_metrics_workloads: %d, want 0 (no figures) or more", w.MaxMetricsWorkloads))
	}
	if w.DiscoveryTTL < 0 {
		errs = append(errs, fmt.Errorf("openshift_ai.workloads.discovery_ttl: %s, want 0 or more", w.DiscoveryTTL))
	}
	return errs
}
