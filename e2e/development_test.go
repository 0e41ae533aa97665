//go:build e2e

package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDevelopmentMode: DEVELOPMENT_MODE=true as in the quickstart. Every request is the
// developer, every response says so, clients are told no login is needed (percli logs
// in without credentials) and the server refuses to start on a non-loopback address.
func TestDevelopmentMode(t *testing.T) {
	dir, err := os.MkdirTemp("/tmp", "perses-e2e-dev-")
	require.NoError(t, err)
	inst := launchForTest(t, dir, "", launchOptions{env: []string{"DEVELOPMENT_MODE=true"}})
	assert.Contains(t, tail(inst.logPath, 400), "DEVELOPMENT MODE")

	c := &apiClient{base: inst.url, http: &http.Client{Timeout: 30 * time.Second}}
	for _, path := range []string{"/", "/api/config", "/api/v1/health", "/api/v1/projects", "/api/v1/nothing-here"} {
		r := c.do(t, http.MethodGet, path, nil)
		assert.NotEmpty(t, r.Header.Get("X-Perses-Development-Mode"), "%s has no development header", path)
	}
	cfg := c.expect(t, http.StatusOK, http.MethodGet, "/api/config", nil)
	assert.Contains(t, string(cfg.Body), `"enable_auth":false`, "clients are told to send no credentials")
	who := c.expect(t, http.StatusOK, http.MethodGet, "/api/v1/user/whoami", nil)
	assert.Contains(t, string(who.Body), `"name":"developer"`)
	c.expect(t, http.StatusOK, http.MethodPost, "/api/v1/projects", projectResource("devproj"))
	c.expect(t, http.StatusOK, http.MethodPost, "/api/v1/projects/devproj/dashboards", markdownDashboard("devproj", "d", "dev"))

	p := newPercli(t)
	assert.Contains(t, p.ok("login", inst.url), "successfully logged in")
	f := filepath.Join(t.TempDir(), "d.json")
	require.NoError(t, os.WriteFile(f, []byte(mustJSON(t, markdownDashboard("devproj", "by-percli", "x"))), 0o600))
	p.ok("apply", "-f", f)
	assert.Contains(t, p.ok("get", "dashboards", "--project", "devproj"), "by-percli")

	t.Run("refused on a non-loopback address", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		port, err := freePort()
		require.NoError(t, err)
		cmd := exec.CommandContext(ctx, shared.persesBin, "--config", filepath.Join(dir, "perses-config.yaml"), "--web.listen-address", "0.0.0.0:"+itoa(port))
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "DEVELOPMENT_MODE=true")
		out, err := cmd.CombinedOutput()
		require.Error(t, err, "the server must not start: %s", out)
		assert.Contains(t, string(out), "development mode refused")
		assert.True(t, strings.Contains(string(out), "force"), "the message says how to force it")
	})
}

func itoa(i int) string { return strconv.Itoa(i) }
