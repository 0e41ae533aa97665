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
	// Development mode: upstream's authentication on, with the extension as provider.
	assert.True(t, c.OpenShiftAI.Identity.Development.Enabled)
	assert.True(t, c.Security.EnableAuth)
	assert.True(t, c.Security.Authorization.Provider.Kubernetes.Enable)
	assert.False(t, c.Security.Authorization.Provider.Native.Enable)
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

func TestIdentityAndAccess(t *testing.T) {
	kubeconfig := writeConfig(t, "apiVersion: v1\nkind: Config\n")
	for _, tc := range []struct {
		name    string
		env     string // DEVELOPMENT_MODE
		body    string
		wantErr []string
		check   func(t *testing.T, c Config)
	}{
		{name: "off by default", body: "", check: func(t *testing.T, c Config) {
			assert.False(t, c.OpenShiftAI.Identity.Enabled())
			assert.False(t, c.Security.EnableAuth)
		}},
		{name: "development from the environment", env: "true", body: "", check: func(t *testing.T, c Config) {
			d := c.OpenShiftAI.Identity.Development
			assert.True(t, d.Enabled)
			assert.Equal(t, DefaultDeveloper, d.User)
			assert.Equal(t, DefaultDeveloperGroups, d.Groups)
			assert.True(t, c.Security.EnableAuth)
			assert.True(t, c.Security.Authentication.Providers.KubernetesProvider.Enable)
		}},
		{name: "environment turns development off", env: "false", body: "openshift_ai:\n  identity:\n    development: {enabled: true}\n", check: func(t *testing.T, c Config) {
			assert.False(t, c.OpenShiftAI.Identity.Development.Enabled)
			assert.False(t, c.Security.EnableAuth)
		}},
		{name: "development groups from the file", body: "openshift_ai:\n  identity:\n    development: {enabled: true, user: ada, groups: [team-a]}\n", check: func(t *testing.T, c Config) {
			assert.Equal(t, "ada", c.OpenShiftAI.Identity.Development.User)
			assert.Equal(t, []string{"team-a"}, c.OpenShiftAI.Identity.Development.Groups)
		}},
		{name: "bad DEVELOPMENT_MODE", env: "yes please", wantErr: []string{EnvDevelopmentMode, "yes please"}},
		{name: "development user empty", body: "openshift_ai:\n  identity:\n    development: {enabled: true, user: ' '}\n", wantErr: []string{"openshift_ai.identity.development.user"}},
		{name: "development with tokens", body: "openshift_ai:\n  kubernetes: {kubeconfig: " + kubeconfig + "}\n  identity:\n    development: {enabled: true}\n    token_review: {enabled: true}\n", wantErr: []string{"cannot be combined"}},
		{name: "token review and access defaults", body: "openshift_ai:\n  kubernetes: {kubeconfig: " + kubeconfig + "}\n  identity:\n    token_review: {enabled: true}\n", check: func(t *testing.T, c Config) {
			o := c.OpenShiftAI
			assert.Equal(t, DefaultTokenSuccessTTL, o.Identity.TokenReview.SuccessTTL)
			assert.Equal(t, DefaultTokenFailureTTL, o.Identity.TokenReview.FailureTTL)
			assert.True(t, o.Access.Enabled(o.Identity))
			assert.Equal(t, DefaultAPIGroup, o.Access.APIGroup)
			assert.Equal(t, DefaultAllowTTL, o.Access.AllowTTL)
			assert.Equal(t, DefaultDenyTTL, o.Access.DenyTTL)
			assert.Equal(t, ProjectsAuto, o.Access.Projects)
			assert.True(t, c.Security.EnableAuth)
		}},
		{name: "every identity and access problem at once", body: "openshift_ai:\n  kubernetes: {kubeconfig: /nonexistent/kubeconfig, qps: 0, timeout: 0s}\n  identity:\n    token_review: {enabled: true, success_ttl: 0s, failure_ttl: -1s}\n    oidc: {issuer: 'http://idp.example.com', algorithms: [HS256, none], username_claim: ''}\n  access: {api_group: 'a/b', allow_ttl: 0s, deny_ttl: 0s, projects_ttl: 0s, projects: maybe}\n",
			wantErr: []string{"token_review.success_ttl", "token_review.failure_ttl", "oidc.issuer", "oidc.audience", "oidc.username_claim", `"HS256"`, `"none"`,
				"kubernetes.qps", "kubernetes.timeout", "kubernetes.kubeconfig", "access.api_group", "access.allow_ttl", "access.deny_ttl", "access.projects_ttl", "access.projects"}},
		{name: "oidc over http on loopback, default algorithms", body: "openshift_ai:\n  kubernetes: {kubeconfig: " + kubeconfig + "}\n  identity:\n    oidc: {issuer: 'http://127.0.0.1:5556', audience: perses}\n", check: func(t *testing.T, c Config) {
			assert.Equal(t, DefaultOIDCAlgorithms, c.OpenShiftAI.Identity.OIDC.Algorithms)
			assert.Equal(t, DefaultUsernameClaim, c.OpenShiftAI.Identity.OIDC.UsernameClaim)
		}},
		{name: "login defaults", body: "openshift_ai:\n  kubernetes: {kubeconfig: " + kubeconfig + "}\n  identity:\n    token_review: {enabled: true}\n    login: {provider: openshift, client_id: perses, client_secret: s3cret}\n", check: func(t *testing.T, c Config) {
			l := c.OpenShiftAI.Identity.Login
			assert.True(t, l.Enabled())
			assert.Equal(t, DefaultSessionCookie, l.Session.CookieName)
			assert.Equal(t, DefaultSessionMaxAge, l.Session.MaxAge)
			assert.Equal(t, "access_token", l.SessionToken)
			assert.Equal(t, SecureAuto, l.Session.Secure)
			assert.NotContains(t, fmt.Sprint(l), "s3cret")
		}},
		{name: "every login problem at once", body: "openshift_ai:\n  kubernetes: {kubeconfig: " + kubeconfig + "}\n  identity:\n    login: {provider: openshift, api_url: 'http://api', redirect_url: '/cb', session_token: refresh, ca_file: /nonexistent, session: {cookie_name: 'a b', max_age: 1s, key: short, secure: sometimes}}\n",
			wantErr: []string{"login.provider: openshift needs identity.token_review", "login.client_id", "login.api_url", "login.redirect_url", "login.session_token", "login.ca_file", "session.cookie_name", "session.max_age", "session.key", "session.secure"}},
		{name: "login provider unknown, oidc without issuer", body: "openshift_ai:\n  identity:\n    login: {provider: saml, client_id: x}\n", wantErr: []string{`"saml", want openshift or oidc`}},
		{name: "oidc login without issuer", body: "openshift_ai:\n  identity:\n    login: {provider: oidc, client_id: x}\n", wantErr: []string{"oidc needs identity.oidc.issuer"}},
		{name: "upstream's own providers conflict", body: "security:\n  enable_auth: true\n  authentication:\n    providers: {enable_native: true}\nopenshift_ai:\n  identity:\n    development: {enabled: true}\n", wantErr: []string{"security.authentication.providers", "replaces"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvPrometheusURL, "")
			t.Setenv(EnvDevelopmentMode, tc.env)
			c, err := Load(writeConfig(t, tc.body))
			if len(tc.wantErr) > 0 {
				require.Error(t, err)
				for _, w := range tc.wantErr {
					assert.Contains(t, err.Error(), w)
				}
				return
			}
			require.NoError(t, err)
			tc.check(t, c)
		})
	}
}
