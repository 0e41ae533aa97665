//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// percli runs upstream's CLI with its own config file and HOME, so nothing is read
// from or written to the developer's ~/.perses.
type percli struct {
	t      *testing.T
	bin    string
	config string
	home   string
}

func newPercli(t *testing.T) *percli {
	t.Helper()
	if shared == nil || shared.percliBin == "" {
		t.Fatal("percli is not configured: run `make build plugins` first")
	}
	if _, err := os.Stat(shared.percliBin); err != nil {
		t.Fatalf("%s is missing: run `make build plugins` first", shared.percliBin)
	}
	home := t.TempDir()
	return &percli{t: t, bin: shared.percliBin, config: filepath.Join(home, "percli", "config.json"), home: home}
}

// run returns stdout, stderr and the command's error.
func (p *percli) run(args ...string) (string, string, error) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.bin, append(args, "--percliconfig", p.config)...)
	cmd.Env = append(os.Environ(), "HOME="+p.home)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// ok runs percli and fails the test unless it exits 0.
func (p *percli) ok(args ...string) string {
	p.t.Helper()
	stdout, stderr, err := p.run(args...)
	require.NoErrorf(p.t, err, "percli %s\nstdout: %s\nstderr: %s", strings.Join(args, " "), stdout, stderr)
	return stdout
}

func TestPercliLifecycle(t *testing.T) {
	t.Parallel()
	api := newAPIClient(t)
	cli := newPercli(t)
	const project, dashboard = "e2e-percli", "notebook-resources"
	resources := filepath.Join("testdata", "percli", "notebook-resources.json")
	t.Cleanup(func() { api.do(t, http.MethodDelete, "/api/v1/projects/"+project, nil) })

	out := cli.ok("login", serverURL(t))
	assert.Contains(t, out, "successfully logged in")
	_, err := os.Stat(cli.config)
	require.NoError(t, err, "percli login must write the file given by --percliconfig")
	_, err = os.Stat(filepath.Join(cli.home, ".perses"))
	assert.True(t, os.IsNotExist(err), "percli must not write ~/.perses when --percliconfig is given")

	out = cli.ok("apply", "-f", resources)
	assert.Contains(t, out, project)
	assert.Contains(t, out, dashboard)

	t.Run("get lists the applied dashboard", func(t *testing.T) {
		var list []struct {
			Metadata struct{ Name, Project string } `json:"metadata"`
		}
		require.NoError(t, json.Unmarshal([]byte(cli.ok("get", "dashboards", "--project", project, "-ojson")), &list))
		require.Len(t, list, 1)
		assert.Equal(t, dashboard, list[0].Metadata.Name)
		assert.Equal(t, project, list[0].Metadata.Project)
		// The default table output names it too.
		assert.Contains(t, cli.ok("get", "dashboards", "--project", project), dashboard)
	})

	t.Run("describe round-trips the applied content", func(t *testing.T) {
		var applied []struct {
			Kind string         `json:"kind"`
			Spec map[string]any `json:"spec"`
		}
		data, err := os.ReadFile(resources)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(data, &applied))
		var want map[string]any
		for _, r := range applied {
			if r.Kind == "Dashboard" {
				want = r.Spec
			}
		}
		require.NotNil(t, want)

		var got struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name, Project string
				Version       int `json:"version"`
			} `json:"metadata"`
			Spec map[string]any `json:"spec"`
		}
		require.NoError(t, json.Unmarshal([]byte(cli.ok("describe", "dashboard", dashboard, "--project", project, "-ojson")), &got))
		assert.Equal(t, "Dashboard", got.Kind)
		assert.Equal(t, dashboard, got.Metadata.Name)
		assert.Equal(t, project, got.Metadata.Project)
		for _, field := range []string{"display", "duration", "panels", "layouts"} {
			assert.Equalf(t, want[field], got.Spec[field], "spec.%s changed on the way through the server", field)
		}

		// describe and the API agree.
		var viaAPI struct {
			Spec map[string]any `json:"spec"`
		}
		api.expect(t, http.StatusOK, http.MethodGet, "/api/v1/projects/"+project+"/dashboards/"+dashboard, nil).decode(t, &viaAPI)
		assert.Equal(t, got.Spec, viaAPI.Spec)
	})

	t.Run("apply again is an update", func(t *testing.T) {
		cli.ok("apply", "-f", resources)
		var d struct {
			Metadata struct {
				Version int `json:"version"`
			} `json:"metadata"`
		}
		api.expect(t, http.StatusOK, http.MethodGet, "/api/v1/projects/"+project+"/dashboards/"+dashboard, nil).decode(t, &d)
		assert.GreaterOrEqual(t, d.Metadata.Version, 1)
	})

	t.Run("delete removes it", func(t *testing.T) {
		cli.ok("delete", "dashboards", dashboard, "--project", project)

		var list []any
		require.NoError(t, json.Unmarshal([]byte(cli.ok("get", "dashboards", "--project", project, "-ojson")), &list))
		assert.Empty(t, list)

		stdout, stderr, err := cli.run("describe", "dashboard", dashboard, "--project", project, "-ojson")
		require.Errorf(t, err, "describe of a deleted dashboard must fail; stdout: %s", stdout)
		assert.Contains(t, strings.ToLower(stderr+stdout), "not found")
		api.expect(t, http.StatusNotFound, http.MethodGet, "/api/v1/projects/"+project+"/dashboards/"+dashboard, nil)

		cli.ok("delete", "project", project)
		api.expect(t, http.StatusNotFound, http.MethodGet, "/api/v1/projects/"+project, nil)
	})
}

func TestPercliVersion(t *testing.T) {
	t.Parallel()
	api := newAPIClient(t)
	cli := newPercli(t)
	cli.ok("login", serverURL(t))

	var health struct {
		Version string `json:"version"`
	}
	api.expect(t, http.StatusOK, http.MethodGet, "/api/v1/health", nil).decode(t, &health)

	var v struct {
		Client struct{ Version string }  `json:"client"`
		Server *struct{ Version string } `json:"server"`
	}
	out := cli.ok("version", "-ojson")
	require.NoError(t, json.Unmarshal([]byte(out), &v), out)
	assert.NotEmpty(t, v.Client.Version)
	require.NotNil(t, v.Server, "percli version must reach the server: %s", out)
	assert.Equal(t, health.Version, v.Server.Version)
}
