package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(f, []byte(body), 0o600))
	return f
}

func TestLoadRefusesUnknownKeysAndBadValues(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    string
		wantErr []string // every fragment must be in the error
	}{
		{name: "unknown top-level key", body: "databse:\n  file: {folder: ./data}\n", wantErr: []string{"databse"}},
		{name: "unknown key in upstream's section", body: "security:\n  enable_auht: true\n", wantErr: []string{"enable_auht"}},
		{name: "unknown key in our section", body: "openshift_ai:\n  prometeus: {url: http://x}\n", wantErr: []string{"prometeus"}},
		{name: "unknown key deep in our section", body: "openshift_ai:\n  prometheus: {uri: http://x}\n", wantErr: []string{"uri"}},
		{name: "wrong type", body: "openshift_ai:\n  prometheus: [1, 2]\n", wantErr: []string{"key openshift_ai.prometheus"}},
		{name: "wrong type upstream", body: "security:\n  enable_auth: maybe\n", wantErr: []string{"key security.enable_auth"}},
		{name: "bad URL", body: "openshift_ai:\n  prometheus: {url: 'ftp://x'}\n", wantErr: []string{"openshift_ai.prometheus.url", "ftp://x"}},
		{name: "postgres URL of another scheme", body: "openshift_ai:\n  postgres: {url: 'mysql://u:hunter2@h/db'}\n", wantErr: []string{"openshift_ai.postgres.url", "mysql://u:xxxxx@h/db"}},
		{name: "postgres pool and timeouts", body: "openshift_ai:\n  postgres: {url: 'postgresql://h/db', max_conns: 0, statement_timeout: 0s, connect_timeout: -1s}\n", wantErr: []string{"openshift_ai.postgres.max_conns", "openshift_ai.postgres.statement_timeout", "openshift_ai.postgres.connect_timeout"}},
		{name: "postgres duration", body: "openshift_ai:\n  postgres: {statement_timeout: soon}\n", wantErr: []string{"soon", "not a duration"}},
		{name: "relative URL", body: "openshift_ai:\n  prometheus: {url: '/prom'}\n", wantErr: []string{"openshift_ai.prometheus.url"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvPrometheusURL, "")
			_, err := Load(writeConfig(t, tc.body))
			require.Error(t, err)
			for _, w := range tc.wantErr {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestLoadDefaultsAndEnvironment(t *testing.T) {
	t.Setenv(EnvPrometheusURL, "")
	c, err := Load(writeConfig(t, "database:\n  file: {folder: ./data, extension: json}\n"))
	require.NoError(t, err)
	assert.Equal(t, DefaultPrometheusURL, c.OpenShiftAI.Prometheus.URL)
	assert.Equal(t, DefaultDatasourceName, c.OpenShiftAI.Prometheus.DatasourceName)
	require.NotNil(t, c.Database.File)
	assert.Equal(t, "./data", c.Database.File.Folder)

	t.Setenv(EnvPrometheusURL, "https://thanos-querier.openshift-monitoring.svc:9091")
	c, err = Load(writeConfig(t, "openshift_ai:\n  prometheus: {url: http://127.0.0.1:1}\n"))
	require.NoError(t, err)
	assert.Equal(t, "https://thanos-querier.openshift-monitoring.svc:9091", c.OpenShiftAI.Prometheus.URL)

	t.Setenv(EnvPrometheusURL, "not a url")
	_, err = Load(writeConfig(t, ""))
	require.ErrorContains(t, err, EnvPrometheusURL)
}

func TestDisabledDatasourceNeedsNoURL(t *testing.T) {
	t.Setenv(EnvPrometheusURL, "")
	_, err := Load(writeConfig(t, "openshift_ai:\n  prometheus: {datasource_name: '', url: ''}\n"))
	require.NoError(t, err)
}

// The shipped default configuration must load as it is.
func TestShippedDefaultLoads(t *testing.T) {
	t.Setenv(EnvPrometheusURL, "")
	c, err := Load(filepath.Join("..", "..", "perses-config.yaml"))
	require.NoError(t, err)
	assert.False(t, c.Security.EnableAuth)
	require.NotNil(t, c.Database.File)
	assert.Equal(t, c.Database.File.Folder, "./data")
	assert.Equal(t, []string{"./build/plugins"}, c.Plugin.ArchivePaths)
}

func TestDatabaseURLFromEnvironmentIsNeverPrinted(t *testing.T) {
	t.Setenv(EnvPrometheusURL, "")
	t.Setenv(EnvDatabaseURL, "postgresql://perses:hunter2@localhost:5432/perses_dev?sslmode=disable&password=hunter2")
	c, err := Load(writeConfig(t, ""))
	require.NoError(t, err)
	assert.True(t, c.OpenShiftAI.Postgres.Enabled())
	assert.Equal(t, "postgresql://perses:hunter2@localhost:5432/perses_dev?sslmode=disable&password=hunter2", string(c.OpenShiftAI.Postgres.URL))
	for _, printed := range []string{fmt.Sprint(c.OpenShiftAI.Postgres.URL), fmt.Sprintf("%v", c.OpenShiftAI.Postgres), mustYAML(t, c.OpenShiftAI), mustJSON(t, c.OpenShiftAI)} {
		assert.NotContains(t, printed, "hunter2")
	}
}

func mustYAML(t *testing.T, v any) string {
	t.Helper()
	b, err := yaml.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
