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
	"regexp"
	"strconv"
	"strings"
	"time"

	commonConfig "github.com/perses/common/config"
	upstream "github.com/perses/perses/pkg/model/api/config"
	"gopkg.in/yaml.v3"
)

// Environment variables the quickstart documents; they override the file.
const (
	EnvPrometheusURL = "PROMETHEUS_URL"
	EnvDatabaseURL   = "DATABASE_URL"
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
	// Postgres, when its URL is set (or DATABASE_URL), is the store instead of upstream's
	// file or MySQL database.
	Postgres Postgres `json:"postgres" yaml:"postgres"`
}

// Postgres configures the PostgreSQL store.
type Postgres struct {
	// URL is a libpq connection URL (postgresql://user:password@host:5432/db?sslmode=...).
	// DATABASE_URL overrides it. Never logged with its password.
	URL Secret `json:"url" yaml:"url"`
	// MaxConns is the pool size.
	MaxConns int32 `json:"max_conns" yaml:"max_conns"`
	// StatementTimeout bounds every statement on the server side.
	StatementTimeout Duration `json:"statement_timeout" yaml:"statement_timeout"`
	// ConnectTimeout bounds opening a connection.
	ConnectTimeout Duration `json:"connect_timeout" yaml:"connect_timeout"`
	// CaseSensitive compares names as given; false lower-cases them, as upstream's
	// database.*.case_sensitive does.
	CaseSensitive bool `json:"case_sensitive" yaml:"case_sensitive"`
}

// Enabled says whether PostgreSQL is the store.
func (p Postgres) Enabled() bool { return p.URL != "" }

// Prometheus describes the default metrics datasource the server provides.
type Prometheus struct {
	// DatasourceName is the name of the global datasource created at start. Empty disables it.
	DatasourceName string `json:"datasource_name" yaml:"datasource_name"`
	// URL of Prometheus or Thanos Querier; PROMETHEUS_URL overrides it.
	URL string `json:"url" yaml:"url"`
}

// Defaults used when the file leaves a setting out.
const (
	DefaultPrometheusURL          = "http://127.0.0.1:9090"
	DefaultDatasourceName         = "prometheus"
	DefaultPostgresMaxConns       = 10
	DefaultPostgresStatementLimit = Duration(5 * time.Second)
	DefaultPostgresConnectTimeout = Duration(5 * time.Second)
)

// Load reads the file (upstream's keys and ours), applies PERSES_* variables as upstream
// does, then the quickstart's variables, then checks everything.
func Load(file string) (Config, error) {
	c := Config{OpenShiftAI: OpenShiftAI{
		Prometheus: Prometheus{DatasourceName: DefaultDatasourceName, URL: DefaultPrometheusURL},
		Postgres: Postgres{
			MaxConns:         DefaultPostgresMaxConns,
			StatementTimeout: DefaultPostgresStatementLimit,
			ConnectTimeout:   DefaultPostgresConnectTimeout,
		},
	}}
	if err := commonConfig.NewResolver[Config]().SetConfigFile(file).SetEnvPrefix("PERSES").Resolve(&c).Verify(); err != nil {
		return c, withKeys(file, err)
	}
	if v, ok := os.LookupEnv(EnvPrometheusURL); ok && v != "" {
		c.OpenShiftAI.Prometheus.URL = v
	}
	if v, ok := os.LookupEnv(EnvDatabaseURL); ok && v != "" {
		c.OpenShiftAI.Postgres.URL = Secret(v)
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
	if p := o.Postgres; p.Enabled() {
		if u, err := url.Parse(string(p.URL)); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
			errs = append(errs, fmt.Errorf("openshift_ai.postgres.url: %s is not a postgres:// or postgresql:// URL with a host (set it in the file or with %s)", p.URL.Redacted(), EnvDatabaseURL))
		}
		if p.MaxConns < 1 {
			errs = append(errs, fmt.Errorf("openshift_ai.postgres.max_conns: %d, want at least 1", p.MaxConns))
		}
		if p.StatementTimeout <= 0 {
			errs = append(errs, fmt.Errorf("openshift_ai.postgres.statement_timeout: %s, want a positive duration", p.StatementTimeout))
		}
		if p.ConnectTimeout <= 0 {
			errs = append(errs, fmt.Errorf("openshift_ai.postgres.connect_timeout: %s, want a positive duration", p.ConnectTimeout))
		}
	}
	return errors.Join(errs...)
}

var yamlLine = regexp.MustCompile(`line (\d+): `)

// withKeys adds to a YAML decoding error the dotted key of every line it names, so that
// "line 7: cannot unmarshal !!seq into config.Prometheus" says which key holds the bad value.
func withKeys(file string, err error) error {
	var typeErr *yaml.TypeError
	if file == "" || !errors.As(err, &typeErr) {
		return err
	}
	data, readErr := os.ReadFile(file)
	if readErr != nil {
		return err
	}
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil {
		return err
	}
	keys := map[int]string{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i].Value
				if path != "" {
					k = path + "." + k
				}
				keys[n.Content[i].Line] = k
				if _, seen := keys[n.Content[i+1].Line]; !seen {
					keys[n.Content[i+1].Line] = k
				}
				walk(n.Content[i+1], k)
			}
		}
	}
	walk(&root, "")
	msgs := make([]string, 0, len(typeErr.Errors))
	for _, m := range typeErr.Errors {
		if sub := yamlLine.FindStringSubmatch(m); sub != nil {
			if line, convErr := strconv.Atoi(sub[1]); convErr == nil && keys[line] != "" {
				m = fmt.Sprintf("%s (key %s)", m, keys[line])
			}
		}
		msgs = append(msgs, m)
	}
	return fmt.Errorf("invalid configuration:\n  %s", strings.Join(msgs, "\n  "))
}
