// Package config is the product's configuration: upstream Perses' configuration, inlined
// unchanged, plus the openshift_ai section that the extension's capabilities read.
// Unknown keys anywhere are refused with the key named; every problem of the
// openshift_ai section is reported at once.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"

	commonConfig "github.com/perses/common/config"
	upstream "github.com/perses/perses/pkg/model/api/config"
)

// Environment variables the quickstart documents; they override the file.
const (
	EnvPrometheusURL = "PROMETHEUS_URL"
)

// Config is the whole configuration file.
type Config struct {
	upstream.Config `json:",inline" yaml:",inline"`
	// OpenShiftAI holds the settings of the product's own capabilities.
	OpenShiftAI OpenShiftAI `json:"openshift_ai" yaml:"openshift_ai"`
}

// OpenShiftAI is the openshift_ai section.
type OpenShiftAI struct {
	// Prometheus is the metrics backend (Prometheus or Thanos Querier) that dashboards query.
	Prometheus Prometheus `json:"prometheus" yaml:"prometheus"`
}

// Prometheus describes the default metrics datasource the server provides.
type Prometheus struct {
	// DatasourceName is the name of the global datasource created at start. Empty disables it.
	DatasourceName string `json:"datasource_name" yaml:"datasource_name"`
	// URL of Prometheus or Thanos Querier; PROMETHEUS_URL overrides it.
	URL string `json:"url" yaml:"url"`
}

// Defaults used when the file leaves a setting out.
const (
	DefaultPrometheusURL  = "http://127.0.0.1:9090"
	DefaultDatasourceName = "prometheus"
)

// Load reads the file (upstream's keys and ours), applies PERSES_* variables as upstream
// does, then the quickstart's variables, then checks everything.
func Load(file string) (Config, error) {
	c := Config{OpenShiftAI: OpenShiftAI{Prometheus: Prometheus{DatasourceName: DefaultDatasourceName, URL: DefaultPrometheusURL}}}
	if err := commonConfig.NewResolver[Config]().SetConfigFile(file).SetEnvPrefix("PERSES").Resolve(&c).Verify(); err != nil {
		return c, err
	}
	if v, ok := os.LookupEnv(EnvPrometheusURL); ok && v != "" {
		c.OpenShiftAI.Prometheus.URL = v
	}
	return c, c.OpenShiftAI.Validate()
}

// Validate reports every problem of the openshift_ai section, each naming its key.
func (o OpenShiftAI) Validate() error {
	var errs []error
	if o.Prometheus.DatasourceName != "" {
		if u, err := url.Parse(o.Prometheus.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("openshift_ai.prometheus.url: %q is not an absolute http(s) URL (set it in the file or with %s)", o.Prometheus.URL, EnvPrometheusURL))
		}
	}
	return errors.Join(errs...)
}
