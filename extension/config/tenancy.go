package config

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Tenancy confines every metrics query that leaves the server to the namespace of the
// project it is made in (extension/tenancy/README.md).
type Tenancy struct {
	// Label is the tenant label of ordinary metrics.
	Label string `json:"label" yaml:"label"`
	// Metrics routes metric-name patterns to another tenant label, first match wins
	// (the DCGM exporter's GPU metrics carry the workload's namespace in
	// exported_namespace). Setting it replaces the default table.
	Metrics []TenancyMetric `json:"metrics" yaml:"metrics"`
	// MaxQueryBytes bounds a query (or a match[] set); MaxBodyBytes a POST body.
	MaxQueryBytes int   `json:"max_query_bytes" yaml:"max_query_bytes"`
	MaxBodyBytes  int64 `json:"max_body_bytes" yaml:"max_body_bytes"`
	// Timeout bounds a query's round trip to Prometheus (until its answer's headers).
	Timeout Duration `json:"timeout" yaml:"timeout"`
	// ProjectDatasource names the Prometheus datasource every project gets, pointing at
	// openshift_ai.prometheus.url and marked default; empty: none.
	ProjectDatasource string `json:"project_datasource" yaml:"project_datasource"`
	// Credential is how the server authenticates to openshift_ai.prometheus.url.
	Credential TenancyCredential `json:"credential" yaml:"credential"`
	// Bypass lets whom the cluster allows query global datasources unconfined.
	Bypass TenancyBypass `json:"bypass" yaml:"bypass"`
}

// TenancyMetric is one row of the metric-name → tenant-label table.
type TenancyMetric struct {
	Pattern string `json:"pattern" yaml:"pattern"`
	Label   string `json:"label" yaml:"label"`
}

// TenancyCredential is the server's credential for the configured Prometheus. It is
// sent only to that origin (scheme, host and port of openshift_ai.prometheus.url),
// never to a datasource pointing elsewhere; the caller's own Authorization header and
// cookies are never sent anywhere.
type TenancyCredential struct {
	// BearerTokenFile is read (and re-read when it changes, as projected service-account
	// tokens rotate) for an Authorization: Bearer header, e.g.
	// /var/run/secrets/kubernetes.io/serviceaccount/token for Thanos Querier.
	BearerTokenFile string `json:"bearer_token_file" yaml:"bearer_token_file"`
	// ForwardUserToken sends the caller's own bearer token instead (Thanos Querier's
	// tenancy port checks it again); takes precedence when the caller has one.
	ForwardUserToken bool `json:"forward_user_token" yaml:"forward_user_token"`
}

// TenancyBypass is the cluster-wide permission to query without confinement.
type TenancyBypass struct {
	// Enabled allows it to whom the cluster allows Verb on Resource of
	// access.api_group cluster-wide (the developer, in development mode). Off by default.
	Enabled  bool   `json:"enabled" yaml:"enabled"`
	Verb     string `json:"verb" yaml:"verb"`
	Resource string `json:"resource" yaml:"resource"`
}

// Defaults of the tenancy section.
const (
	DefaultTenancyLabel         = "namespace"
	DefaultTenancyMaxQueryBytes = 64 << 10
	DefaultTenancyMaxBodyBytes  = 256 << 10
	DefaultTenancyTimeout       = Duration(2 * time.Minute)
	DefaultBypassVerb           = "get"
	DefaultBypassResource       = "unscopedmetrics"
)

// DefaultTenancyMetrics is the default metric table: GPU (DCGM) and accelerator metrics
// carry the workload's namespace in exported_namespace.
var DefaultTenancyMetrics = []TenancyMetric{
	{Pattern: "DCGM_.*", Label: "exported_namespace"},
	{Pattern: "accelerator_.*", Label: "exported_namespace"},
}

func defaultTenancy() Tenancy {
	return Tenancy{
		Label:             DefaultTenancyLabel,
		MaxQueryBytes:     DefaultTenancyMaxQueryBytes,
		MaxBodyBytes:      DefaultTenancyMaxBodyBytes,
		Timeout:           DefaultTenancyTimeout,
		ProjectDatasource: DefaultDatasourceName,
		Bypass:            TenancyBypass{Verb: DefaultBypassVerb, Resource: DefaultBypassResource},
	}
}

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

func (t Tenancy) validate() []error {
	var errs []error
	if !labelName.MatchString(t.Label) {
		errs = append(errs, fmt.Errorf("openshift_ai.tenancy.label: %q is not a Prometheus label name", t.Label))
	}
	for i, m := range t.Metrics {
		if _, err := regexp.Compile(m.Pattern); err != nil || m.Pattern == "" {
			errs = append(errs, fmt.Errorf("openshift_ai.tenancy.metrics[%d].pattern: %q is not a regular expression", i, m.Pattern))
		}
		if !labelName.MatchString(m.Label) {
			errs = append(errs, fmt.Errorf("openshift_ai.tenancy.metrics[%d].label: %q is not a Prometheus label name", i, m.Label))
		}
	}
	if t.MaxQueryBytes < 1 {
		errs = append(errs, fmt.Errorf("openshift_ai.tenancy.max_query_bytes: %d, want at least 1", t.MaxQueryBytes))
	}
	if t.MaxBodyBytes < 1 {
		errs = append(errs, fmt.Errorf("openshift_ai.tenancy.max_body_bytes: %d, want at least 1", t.MaxBodyBytes))
	}
	if t.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("openshift_ai.tenancy.timeout: %s, want a positive duration", t.Timeout))
	}
	if strings.ContainsAny(t.ProjectDatasource, "/ ") || t.ProjectDatasource == "." || t.ProjectDatasource == ".." {
		errs = append(errs, fmt.Errorf("openshift_ai.tenancy.project_datasource: %q is not a datasource name", t.ProjectDatasource))
	}
	if t.Bypass.Enabled && (strings.TrimSpace(t.Bypass.Verb) == "" || strings.TrimSpace(t.Bypass.Resource) == "") {
		errs = append(errs, errors.New("openshift_ai.tenancy.bypass: verb and resource are required when enabled"))
	}
	return errs
}
