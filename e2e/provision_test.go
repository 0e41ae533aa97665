//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openshift-ai/observability/extension/templates"
	v1 "github.com/perses/perses/pkg/model/api/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// provisionEnv is the workloads environment (a real kube-apiserver, the eight CRDs and
// their instances in team-a and team-b) with the shipped rbac-provision.yaml applied,
// and a server of the test's own that re-checks a project every second.
type provisionEnv struct {
	*workloadsEnv
	srv      *persesInstance
	registry *templates.Registry
}

func startProvisionEnv(t *testing.T) *provisionEnv {
	t.Helper()
	e := startWorkloadsEnv(t)
	// The server's list right on workloads, as shipped; without it the workloads env's
	// own server (which also provisions, by default) is refused, and says so.
	applyManifests(t, e.kube, "rbac-provision.yaml")
	sa, saGroups := "system:serviceaccount:perses:perses", []string{"system:serviceaccounts", "system:serviceaccounts:perses"}
	e.waitAllowed(t, "team-a", sa, saGroups, "notebooks")
	e.waitAllowed(t, "team-b", sa, saGroups, "pytorchjobs")

	registry, err := templates.System()
	require.NoError(t, err)
	return &provisionEnv{workloadsEnv: e, srv: e.launch(t, "provision_ttl: 1s"), registry: registry}
}

// launch starts a server of the test's own on the env's cluster with the given
// openshift_ai.templates settings.
func (e *workloadsEnv) launch(t *testing.T, templatesSettings string) *persesInstance {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "perses-e2e-provision-")
	require.NoError(t, err)
	databaseURL := ""
	if shared.store == storePostgres {
		databaseURL, err = createDatabase(filepath.Base(dir))
		require.NoError(t, err)
		t.Cleanup(func() { dropDatabase(filepath.Base(dir)) })
	}
	return launchForTest(t, dir, databaseURL, launchOptions{openshiftAI: fmt.Sprintf(`  kubernetes:
    kubeconfig: %q
  identity:
    token_review:
      enabled: true
  access:
    projects: kubernetes
  workloads:
    discovery_ttl: 1s
  templates: {%s}
`, e.kubeconfig, templatesSettings)})
}

func (e *provisionEnv) client(user string) *apiClient {
	return &apiClient{base: e.srv.url, http: &http.Client{Timeout: 60 * time.Second}, token: e.kube.Token(user)}
}

// dashboardNames lists a project's dashboards as user (which runs a pass when one is due).
func (e *provisionEnv) dashboardNames(t *testing.T, user, project string) []string {
	t.Helper()
	var list []v1.Dashboard
	e.client(user).expect(t, http.StatusOK, http.MethodGet, "/api/v1/projects/"+project+"/dashboards", nil).decode(t, &list)
	names := make([]string, 0, len(list))
	for _, d := range list {
		names = append(names, d.Metadata.Name)
	}
	return names
}

func (e *provisionEnv) dashboard(t *testing.T, user, project, name string) *v1.Dashboard {
	t.Helper()
	var d v1.Dashboard
	e.client(user).expect(t, http.StatusOK, http.MethodGet, "/api/v1/projects/"+project+"/dashboards/"+name, nil).decode(t, &d)
	return &d
}

// decisions is the provisioning counter of template and result on srv.
func decisions(t *testing.T, srv *persesInstance, template, result string) float64 {
	t.Helper()
	r := (&apiClient{base: srv.url, http: &http.Client{Timeout: 30 * time.Second}}).expect(t, http.StatusOK, http.MethodGet, "/metrics", nil)
	prefix := fmt.Sprintf(`perses_openshift_ai_templates_provisioning_total{result=%q,template=%q} `, result, template)
	sc := bufio.NewScanner(strings.NewReader(string(r.Body)))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err)
			return f
		}
	}
	return 0
}

// awaitDecision makes requests naming project (as user) until a pass decided result
// for template once more than before.
func (e *provisionEnv) awaitDecision(t *testing.T, user, project, template, result string, before float64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for decisions(t, e.srv, template, result) <= before {
		require.True(t, time.Now().Before(deadline), "no pass decided %s %s in %s within 30 s", template, result, project)
		time.Sleep(300 * time.Millisecond)
		e.dashboardNames(t, user, project)
	}
}

func tagOf(d *v1.Dashboard, prefix string) string {
	for tag := range d.Metadata.Tags {
		if v, ok := strings.CutPrefix(tag, prefix); ok {
			return v
		}
	}
	return ""
}

func specHash(t *testing.T, d *v1.Dashboard) string {
	t.Helper()
	h, err := templates.SpecHash(d.Spec)
	require.NoError(t, err)
	return h
}

func TestProvision(t *testing.T) {
	e := startProvisionEnv(t)
	version := func(id string) string {
		tp, err := e.registry.Get(id)
		require.NoError(t, err)
		return tp.Version()
	}

	t.Run("a project gets the dashboards of the workload types it runs", func(t *testing.T) {
		// team-b runs an InferenceService (m2) and a Notebook (notebook-b): no training
		// job, no pipeline. Bob's first request creates the project (access) and provisions it.
		assert.ElementsMatch(t, []string{"model-serving", "notebook"}, e.dashboardNames(t, "bob", "team-b"))

		d := e.dashboard(t, "bob", "team-b", "model-serving")
		assert.Equal(t, "Model serving: m2", d.Spec.Display.Name)
		assert.True(t, d.Metadata.Tags.Contains("template:model-serving"))
		assert.Equal(t, version("model-serving"), tagOf(d, templates.VersionTagPrefix))
		assert.Equal(t, specHash(t, d), tagOf(d, templates.ContentTagPrefix), "the content hash is the spec's as stored")
		data, err := json.Marshal(d.Spec.Variables)
		require.NoError(t, err)
		assert.Contains(t, string(data), `"m2"`, "the model variable opens on the workload")
		assert.Equal(t, "Notebook: notebook-b", e.dashboard(t, "bob", "team-b", "notebook").Spec.Display.Name)

		var p v1.Project
		e.client("bob").expect(t, http.StatusOK, http.MethodGet, "/api/v1/projects/team-b", nil).decode(t, &p)
		assert.True(t, p.Metadata.Tags.Contains("template-provisioned:model-serving"), "%v", p.Metadata.Tags)
		assert.True(t, p.Metadata.Tags.Contains("template-provisioned:notebook"), "%v", p.Metadata.Tags)

		// team-a runs all four types; the first workload by name opens each dashboard.
		assert.ElementsMatch(t, []string{"model-serving", "training", "notebook", "data-pipeline"}, e.dashboardNames(t, "alice", "team-a"))
		assert.Equal(t, "Model serving: llm-a", e.dashboard(t, "alice", "team-a", "model-serving").Spec.Display.Name, "llm-a < m1 < m2")
		assert.Equal(t, "Training: ray-a", e.dashboard(t, "alice", "team-a", "training").Spec.Display.Name, "ray-a < tj-a < train-a")
		assert.Equal(t, "Pipeline: dspa", e.dashboard(t, "alice", "team-a", "data-pipeline").Spec.Display.Name)

		// A later pass finds them untouched and current: nothing written.
		before := decisions(t, e.srv, "model-serving", templates.ResultCurrent)
		e.awaitDecision(t, "bob", "team-b", "model-serving", templates.ResultCurrent, before)
		assert.Equal(t, d.Metadata.Version, e.dashboard(t, "bob", "team-b", "model-serving").Metadata.Version)
	})

	t.Run("a user's edit is never overwritten", func(t *testing.T) {
		d := e.dashboard(t, "bob", "team-b", "model-serving")
		d.Spec.Display.Name = "Bob's model"
		e.client("bob").expect(t, http.StatusOK, http.MethodPut, "/api/v1/projects/team-b/dashboards/model-serving", d)

		before := decisions(t, e.srv, "model-serving", templates.ResultEdited)
		e.awaitDecision(t, "bob", "team-b", "model-serving", templates.ResultEdited, before)
		got := e.dashboard(t, "bob", "team-b", "model-serving")
		assert.Equal(t, "Bob's model", got.Spec.Display.Name)
		assert.Equal(t, d.Metadata.Version+1, got.Metadata.Version, "only bob's write")
	})

	t.Run("an untouched dashboard of an older template version is upgraded", func(t *testing.T) {
		// As an older server wrote it: another spec, its content hash, an older version.
		d := e.dashboard(t, "bob", "team-b", "notebook")
		d.Spec.Display.Description = "written by an older server"
		d.Spec.Layouts = nil
		d.Spec.Panels = nil
		d.Metadata.Tags = map[string]struct{}{"template:notebook": {}, "team-b": {},
			templates.VersionTagPrefix + "0000000000000000": {}, templates.ContentTagPrefix + specHash(t, d): {}}
		e.client("bob").expect(t, http.StatusOK, http.MethodPut, "/api/v1/projects/team-b/dashboards/notebook", d)

		before := decisions(t, e.srv, "notebook", templates.ResultUpgraded)
		e.awaitDecision(t, "bob", "team-b", "notebook", templates.ResultUpgraded, before)
		got := e.dashboard(t, "bob", "team-b", "notebook")
		tp, err := e.registry.Get("notebook")
		require.NoError(t, err)
		want, err := tp.Instantiate(map[string]string{"notebook_name": "notebook-b"})
		require.NoError(t, err)
		wantHash, err := templates.SpecHash(want)
		require.NoError(t, err)
		assert.Equal(t, wantHash, specHash(t, got), "the current template's dashboard")
		assert.NotEmpty(t, got.Spec.Panels)
		assert.Equal(t, version("notebook"), tagOf(got, templates.VersionTagPrefix))
		assert.Equal(t, wantHash, tagOf(got, templates.ContentTagPrefix))
		assert.True(t, got.Metadata.Tags.Contains("team-b"), "the user's tags are kept")

		// Upgraded, it is current: the next pass leaves it.
		before = decisions(t, e.srv, "notebook", templates.ResultCurrent)
		e.awaitDecision(t, "bob", "team-b", "notebook", templates.ResultCurrent, before)
		assert.Equal(t, got.Metadata.Version, e.dashboard(t, "bob", "team-b", "notebook").Metadata.Version)
	})

	t.Run("a deleted dashboard is not recreated", func(t *testing.T) {
		e.client("bob").expect(t, http.StatusNoContent, http.MethodDelete, "/api/v1/projects/team-b/dashboards/model-serving", nil)
		before := decisions(t, e.srv, "model-serving", templates.ResultDeleted)
		e.awaitDecision(t, "bob", "team-b", "model-serving", templates.ResultDeleted, before)
		e.client("bob").expect(t, http.StatusNotFound, http.MethodGet, "/api/v1/projects/team-b/dashboards/model-serving", nil)
	})

	t.Run("a workload type that appears gets its dashboard at a later pass", func(t *testing.T) {
		e.create(t, wlInstance{"team-b", "PyTorchJob", "train-b", nil, nil})
		deadline := time.Now().Add(30 * time.Second)
		for !containsName(e.dashboardNames(t, "bob", "team-b"), "training") {
			require.True(t, time.Now().Before(deadline), "no training dashboard in team-b within 30 s")
			time.Sleep(300 * time.Millisecond)
		}
		assert.Equal(t, "Training: train-b", e.dashboard(t, "bob", "team-b", "training").Spec.Display.Name)
		require.NoError(t, e.admin.Resource(wlGVR(t, "PyTorchJob")).Namespace("team-b").Delete(context.Background(), "train-b", metav1.DeleteOptions{}))
	})

	t.Run("a user's own dashboard of a template's name is left alone", func(t *testing.T) {
		// team-a's project exists; alice replaces the provisioned data-pipeline with her own.
		c := e.client("alice")
		d := e.dashboard(t, "alice", "team-a", "data-pipeline")
		c.expect(t, http.StatusNoContent, http.MethodDelete, "/api/v1/projects/team-a/dashboards/data-pipeline", nil)
		d.Metadata.Tags = nil
		d.Spec.Display.Name = "Alice's pipelines"
		c.expect(t, http.StatusOK, http.MethodPost, "/api/v1/projects/team-a/dashboards", d)
		before := decisions(t, e.srv, "data-pipeline", templates.ResultForeign)
		e.awaitDecision(t, "alice", "team-a", "data-pipeline", templates.ResultForeign, before)
		assert.Equal(t, "Alice's pipelines", e.dashboard(t, "alice", "team-a", "data-pipeline").Spec.Display.Name)
	})

	t.Run("off: nothing provisioned", func(t *testing.T) {
		off := e.launch(t, "auto_provision: false")
		c := &apiClient{base: off.url, http: &http.Client{Timeout: 60 * time.Second}, token: e.kube.Token("bob")}
		var list []v1.Dashboard
		c.expect(t, http.StatusOK, http.MethodGet, "/api/v1/projects/team-b/dashboards", nil).decode(t, &list)
		assert.Empty(t, list)
		log, err := os.ReadFile(off.logPath)
		require.NoError(t, err)
		assert.Contains(t, string(log), "auto-provisioning is off")
	})

	t.Run("no cluster connection: nothing provisioned, said once", func(t *testing.T) {
		// The suite's shared server has no kubeconfig and runs outside a pod.
		log, err := os.ReadFile(shared.persesLog)
		require.NoError(t, err)
		assert.Equal(t, 1, strings.Count(string(log), "templates: auto-provisioning: no cluster connection, no dashboard is provisioned"))
	})
}

func containsName(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}
