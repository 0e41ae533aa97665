//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// renderPage runs e2e/browser/render.mjs (playwright-core driving Debian's Chromium) on
// url, writes build/screenshots/<shot>.png and fails the test with the script's reason.
func renderPage(t *testing.T, url, shot string, args ...string) {
	t.Helper()
	chromium := os.Getenv("CHROMIUM_BIN")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("%s is missing: run `make deps` (apt-get install chromium)", chromium)
	}
	script := filepath.Join(shared.repoRoot, "e2e", "browser", "render.mjs")
	if _, err := os.Stat(filepath.Join(shared.repoRoot, "e2e", "browser", "node_modules", "playwright-core")); err != nil {
		t.Fatalf("e2e/browser/node_modules is missing: run `make deps` (npm ci in e2e/browser)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed: run `make deps`")
	}
	screenshot := filepath.Join(shared.repoRoot, "build", "screenshots", shot+".png")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append(append([]string{script}, args...), url, screenshot)...)
	cmd.Env = append(os.Environ(), "CHROMIUM_BIN="+chromium)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	start := time.Now()
	err = cmd.Run()
	t.Logf("render %s in %s: %s", url, time.Since(start).Round(time.Millisecond), strings.TrimSpace(stdout.String()))
	if err != nil {
		t.Fatalf("%s\nscreenshot: %s\nserver log:\n%s", strings.TrimSpace(stderr.String()), screenshot, tail(shared.persesLog, 20))
	}
	_, err = os.Stat(screenshot)
	require.NoError(t, err, "render.mjs must write the screenshot")
}

// TestBrowserDashboard renders dashboards of the shared project team-a whose charts
// query the test Prometheus through the project's datasources, and checks that the
// chart drew team-a's backfilled series (legend "m1"), and that a query asking for
// another namespace shows the server's refusal in its panel, not data.
func TestBrowserDashboard(t *testing.T) {
	t.Parallel()
	api := newAPIClient(t)
	const project = "team-a"
	base := serverURL(t) + "/projects/" + project + "/dashboards/"

	t.Run("default datasource", func(t *testing.T) {
		t.Parallel()
		name := uniqueName(t, "serving-default")
		createIn(t, api, "/api/v1/projects/"+project+"/dashboards", name, dashboardFromTestdata(t, "serving-overview.json", project, name))
		renderPage(t, base+name, "dashboard-default-datasource", "--panel", "Running requests", "--expect-text", "m1")
	})

	t.Run("project datasource", func(t *testing.T) {
		t.Parallel()
		name, ds := uniqueName(t, "serving-project"), uniqueName(t, "team-prom")
		createIn(t, api, "/api/v1/projects/"+project+"/datasources", ds, datasourceResource(project, ds, prometheusPluginProxy(prometheusURL(t), "")))
		d := dashboardFromTestdata(t, "serving-overview.json", project, name)
		useDatasource(d, ds)
		createIn(t, api, "/api/v1/projects/"+project+"/dashboards", name, d)
		renderPage(t, base+name, "dashboard-project-datasource", "--panel", "Running requests", "--expect-text", "m1")
	})

	t.Run("another namespace is refused", func(t *testing.T) {
		t.Parallel()
		name := uniqueName(t, "serving-other")
		d := dashboardFromTestdata(t, "serving-overview.json", project, name)
		setQueries(d, `vllm:num_requests_running{namespace="team-b"}`)
		createIn(t, api, "/api/v1/projects/"+project+"/dashboards", name, d)
		renderPage(t, base+name, "dashboard-other-namespace", "--panel", "Running requests", "--expect-panel-error", "conflicting namespace")
	})
}

// setQueries replaces the query of every Prometheus query of a dashboard.
func setQueries(dashboard object, query string) {
	panels := dashboard["spec"].(object)["panels"].(object)
	for _, p := range panels {
		queries, _ := p.(object)["spec"].(object)["queries"].([]any)
		for _, q := range queries {
			q.(object)["spec"].(object)["plugin"].(object)["spec"].(object)["query"] = query
		}
	}
}

// TestBrowserHome renders the home page of the stock UI.
func TestBrowserHome(t *testing.T) {
	t.Parallel()
	renderPage(t, serverURL(t)+"/", "home", "--mode", "page")
}

// useDatasource points every Prometheus query of a dashboard at the named datasource.
func useDatasource(dashboard object, name string) {
	panels := dashboard["spec"].(object)["panels"].(object)
	for _, p := range panels {
		queries, _ := p.(object)["spec"].(object)["queries"].([]any)
		for _, q := range queries {
			plugin := q.(object)["spec"].(object)["plugin"].(object)
			plugin["spec"].(object)["datasource"] = object{"kind": "PrometheusDatasource", "name": name}
		}
	}
}
