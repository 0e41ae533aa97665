//go:build e2e

package e2e

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// headerRecorder stands in for a datasource (the test's own HTTP server, not a fake of
// Prometheus' behaviour): it records what the query proxy sends it and answers an empty
// vector.
type headerRecorder struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []recorded
}

type recorded struct {
	method, path, authorization, cookie, query string
	header                                     http.Header
}

func newHeaderRecorder(t *testing.T) *headerRecorder {
	h := &headerRecorder{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		h.mu.Lock()
		h.got = append(h.got, recorded{r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Cookie"), r.Form.Get("query"), r.Header.Clone()})
		h.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[]}}`))
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *headerRecorder) last(t *testing.T) recorded {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	require.NotEmpty(t, h.got, "the datasource received nothing")
	return h.got[len(h.got)-1]
}

func (h *headerRecorder) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.got)
}

// TestTenancyCredentials: the caller's Authorization and cookies never reach a
// datasource; the server's own bearer token (a file, re-read when it rotates) reaches
// the configured Prometheus only, never a datasource pointing elsewhere; what is sent is
// the confined query, on the canonical path; the counters count it.
func TestTenancyCredentials(t *testing.T) {
	t.Parallel()
	configured, elsewhere := newHeaderRecorder(t), newHeaderRecorder(t)
	dir, err := os.MkdirTemp("/tmp", "perses-e2e-tenancy-")
	require.NoError(t, err)
	tokenFile := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte("server-token-1\n"), 0o600))
	inst := launchForTest(t, dir, "", launchOptions{
		openshiftAI: "  tenancy:\n    credential:\n      bearer_token_file: " + strconv.Quote(tokenFile) + "\n",
		env:         []string{"PROMETHEUS_URL=" + configured.srv.URL},
	})
	api := &apiClient{base: inst.url, http: &http.Client{Timeout: 30 * time.Second}}
	const project = "cred-a"
	createProject(t, api, project)
	api.expect(t, http.StatusOK, http.MethodGet, "/api/v1/projects/"+project+"/datasources/"+projectDatasource, nil)
	createIn(t, api, "/api/v1/projects/"+project+"/datasources", "elsewhere", datasourceResource(project, "elsewhere", prometheusPluginProxy(elsewhere.srv.URL, "")))

	query := func(ds string) apiResponse {
		req, err := http.NewRequest(http.MethodGet, inst.url+"/proxy/projects/"+project+"/datasources/"+ds+"/api/v1/query?query="+url.QueryEscape("sum(up)"), nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer caller-token")
		req.Header.Set("Cookie", "perses-openshift-ai-session=caller-session; other=1")
		req.Header.Set("X-Forwarded-Access-Token", "caller-token")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		return apiResponse{Status: resp.StatusCode}
	}

	require.Equal(t, http.StatusOK, query(projectDatasource).Status)
	got := configured.last(t)
	assert.Equal(t, "Bearer server-token-1", got.authorization, "the configured Prometheus gets the server's token, not the caller's")
	assert.Empty(t, got.cookie, "cookies never go upstream")
	assert.Empty(t, got.header.Get("X-Forwarded-Access-Token"))
	assert.Equal(t, http.MethodPost, got.method)
	assert.Equal(t, "/api/v1/query", got.path)
	assert.Equal(t, `sum(up{namespace="cred-a"})`, got.query, "the confined query is what is sent")

	require.Equal(t, http.StatusOK, query("elsewhere").Status)
	got = elsewhere.last(t)
	assert.Empty(t, got.authorization, "a datasource pointing elsewhere never gets the server's credential, nor the caller's")
	assert.Empty(t, got.cookie)

	// Rotation: the file is re-read when it changes.
	require.NoError(t, os.WriteFile(tokenFile, []byte("server-token-2-rotated\n"), 0o600))
	later := time.Now().Add(2 * time.Second)
	require.NoError(t, os.Chtimes(tokenFile, later, later))
	require.Equal(t, http.StatusOK, query(projectDatasource).Status)
	assert.Equal(t, "Bearer server-token-2-rotated", configured.last(t).authorization)

	// Refusals reach no datasource.
	before := configured.count()
	r := api.do(t, http.MethodGet, "/proxy/projects/"+project+"/datasources/"+projectDatasource+"/api/v1/query?query="+url.QueryEscape(`up{namespace="team-b"}`), nil)
	assert.Equal(t, http.StatusForbidden, r.Status, "%s", r)
	assert.Contains(t, r.String(), "conflicting namespace")
	r = api.do(t, http.MethodGet, "/proxy/projects/"+project+"/datasources/"+projectDatasource+"/api/v1/status/config", nil)
	assert.Equal(t, http.StatusForbidden, r.Status, "%s", r)
	assert.Equal(t, before, configured.count(), "a refused query must not reach the datasource")

	// Counters.
	m := api.do(t, http.MethodGet, "/metrics", nil)
	require.Equal(t, http.StatusOK, m.Status)
	metric := func(re string) float64 {
		t.Helper()
		match := regexp.MustCompile(`(?m)^` + re + ` ([0-9.e+]+)$`).FindStringSubmatch(string(m.Body))
		require.NotNil(t, match, "no %s in /metrics", re)
		v, err := strconv.ParseFloat(match[1], 64)
		require.NoError(t, err)
		return v
	}
	assert.Equal(t, 2.0, metric(`perses_openshift_ai_tenancy_queries_enforced_total\{datasource="project/prometheus"\}`))
	assert.Equal(t, 1.0, metric(`perses_openshift_ai_tenancy_queries_enforced_total\{datasource="project/elsewhere"\}`))
	assert.Equal(t, 1.0, metric(`perses_openshift_ai_tenancy_queries_refused_total\{datasource="project/prometheus",reason="conflict"\}`))
	assert.Equal(t, 1.0, metric(`perses_openshift_ai_tenancy_queries_refused_total\{datasource="project/prometheus",reason="path"\}`))
	assert.NotContains(t, string(m.Body), "perses_openshift_ai_tenancy_queries_bypassed_total{", "no bypass without the permission")
}
