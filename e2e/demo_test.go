//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openshift-ai/observability/extension/templates"
	v1 "github.com/perses/perses/pkg/model/api/v1"
	"github.com/stretchr/testify/require"
)

// demoWorkloads are the workloads bin/demo-exporter simulates, by template.
var demoWorkloads = map[string]map[string]map[string]string{
	"team-a": {
		"model-serving": {"model_name": "llama-3-8b"},
		"training":      {"job_name": "bert-finetune"},
		"notebook":      {"notebook_name": "alice-workbench"},
		"data-pipeline": {"pipeline_name": "train-pipeline"},
	},
	"team-b": {
		"model-serving": {"model_name": "granite-7b"}, // under the kserve_vllm: prefix
		"training":      {"job_name": "resnet-train"},
		"notebook":      {"notebook_name": "bob-workbench"},
		"data-pipeline": {"pipeline_name": "etl-pipeline"},
	},
}

// TestDemoDataFillsEveryTemplatePanel is what `make run` shows a newcomer: bin/demo-exporter
// scraped by a Prometheus of the test's own (as hack/run.sh starts them), a server on it,
// and every panel of every template, instantiated for each simulated workload of team-a
// and team-b, has data through the tenancy proxy.
func TestDemoDataFillsEveryTemplatePanel(t *testing.T) {
	t.Parallel()
	exporterBin := filepath.Join(shared.repoRoot, "bin", "demo-exporter")
	_, err := os.Stat(exporterBin)
	require.NoError(t, err, "run `make build` (bin/demo-exporter)")
	dir, err := os.MkdirTemp("/tmp", "perses-e2e-demo-")
	require.NoError(t, err)

	exporterPort, err := freePort()
	require.NoError(t, err)
	exporter, err := shared.spawn("demo-exporter", exec.Command(exporterBin, "--listen", fmt.Sprintf("127.0.0.1:%d", exporterPort)), filepath.Join(dir, "exporter.log"))
	require.NoError(t, err)
	t.Cleanup(exporter.stop)
	require.NoError(t, exporter.waitHTTP(fmt.Sprintf("http://127.0.0.1:%d/metrics", exporterPort), nil))

	promPort, err := freePort()
	require.NoError(t, err)
	config := fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: demo-workloads
    honor_labels: true
    static_configs: [{targets: ['127.0.0.1:%d']}]
`, exporterPort)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o600))
	prom, err := shared.spawn("demo-prometheus", exec.Command(binaryFromEnv("PROMETHEUS_BIN", "/usr/bin/prometheus"),
		"--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", promPort), "--log.level=warn"), filepath.Join(dir, "prometheus.log"))
	require.NoError(t, err)
	t.Cleanup(prom.stop)
	promURL := fmt.Sprintf("http://127.0.0.1:%d", promPort)
	require.NoError(t, prom.waitHTTP(promURL+"/-/ready", nil))

	inst := launchForTest(t, filepath.Join(dir, "perses"), "", launchOptions{env: []string{"PROMETHEUS_URL=" + promURL}})
	api := &apiClient{base: inst.url, http: &http.Client{Timeout: 30 * time.Second}}
	for project := range demoWorkloads {
		api.expect(t, http.StatusOK, http.MethodPost, "/api/v1/projects", projectResource(project))
	}

	// Rates and quantiles need two scrapes of two simulation steps (5 s apart).
	start := time.Now()
	require.Eventually(t, func() bool {
		return len(tplQueryRange(t, api, "team-a", `sum(rate(vllm:request_success_total[5m]))`, time.Now())) > 0
	}, 60*time.Second, time.Second, "the demo data never reached Prometheus")
	t.Logf("demo data queryable after %s", time.Since(start).Round(time.Second))

	// Counters need a few simulation steps for rates over every window the panels use.
	time.Sleep(10 * time.Second)
	type panelQuery struct{ project, what, query string }
	var all []panelQuery
	for project, byTemplate := range demoWorkloads {
		for id, vars := range byTemplate {
			r := api.expect(t, http.StatusCreated, http.MethodPost, "/api/v1/projects/"+project+"/templates/"+id+"/instantiate",
				object{"dashboard_name": "demo-" + id, "variables": vars})
			var d v1.Dashboard
			r.decode(t, &d)
			queries, err := templates.PanelQueries(d.Spec)
			require.NoError(t, err)
			defaults, err := templates.VariableDefaults(d.Spec)
			require.NoError(t, err)
			for _, pq := range queries {
				// A panel may show several queries (request and limit lines): each needs data.
				all = append(all, panelQuery{project, fmt.Sprintf("%s/%s panel %q (%s) query %d", project, id, pq.Panel, pq.Title, pq.Index), templates.Interpolate(pq.Query, defaults)})
			}
		}
	}
	// Subqueries at a 1 m resolution ("time since last activity") need the first whole
	// minute with data: wait for it rather than fail.
	pending, deadline := all, time.Now().Add(75*time.Second)
	for {
		var still []panelQuery
		for _, pq := range pending {
			if len(tplQueryRange(t, api, pq.project, pq.query, time.Now())) == 0 {
				still = append(still, pq)
			}
		}
		pending = still
		if len(pending) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Second)
	}
	var missing []string
	for _, pq := range pending {
		missing = append(missing, pq.what+": "+pq.query)
	}
	panels := len(all)
	require.Emptyf(t, missing, "%d of %d panel queries have no demo data:\n%s", len(missing), panels, strings.Join(missing, "\n"))
	t.Logf("%d panel queries of 4 templates × 2 projects have demo data", panels)
}
