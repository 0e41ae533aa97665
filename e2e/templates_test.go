//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/openshift-ai/observability/extension/templates"
	v1 "github.com/perses/perses/pkg/model/api/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The dashboard templates (extension/templates) on the shared server: list, get,
// instantiate and clone in team-a, with their refusals, each answer checked against the
// OpenAPI document; every instantiated template valid for the server's schemas; and every
// panel query of every template answering data from the test Prometheus through the
// tenancy proxy, for team-b's workloads (hack/prometheus/start.sh backfills them), and
// nothing of another project's.

// tplWorkloads are the backfilled workloads of each project, by template.
var tplWorkloads = map[string]map[string]map[string]string{
	"team-b": {
		"model-serving": {"model_name": "m2"},
		"training":      {"job_name": "train-b"},
		"notebook":      {"notebook_name": "notebook-b"},
		"data-pipeline": {"pipeline_name": "iris-pipeline"},
	},
	"team-a": {
		"model-serving": {"model_name": "m1"},
		"training":      {"job_name": "train-a"},
		"notebook":      {"notebook_name": "notebook-a"},
		"data-pipeline": {"pipeline_name": "iris-pipeline"},
	},
}

func TestTemplatesListAndGet(t *testing.T) {
	t.Parallel()
	api := newAPIClient(t)
	router := documentRouter(t, api.base)

	r := tplDo(t, api, router, http.MethodGet, "/api/v1/templates", nil, http.StatusOK)
	var list []templates.Summary
	r.decode(t, &list)
	var ids []string
	for _, s := range list {
		ids = append(ids, s.ID)
		require.NotEmpty(t, s.Variables, s.ID)
	}
	require.Equal(t, []string{"model-serving", "training", "notebook", "data-pipeline"}, ids)
	assert.NotContains(t, string(r.Body), `"dashboard"`)

	for _, id := range ids {
		r := tplDo(t, api, router, http.MethodGet, "/api/v1/templates/"+id, nil, http.StatusOK)
		var tp templates.Template
		r.decode(t, &tp)
		assert.Equal(t, id, tp.ID)
		assert.NotEmpty(t, tp.Dashboard.Panels, id)
		assert.Contains(t, string(r.Body), "{{.", "%s shows its placeholders", id)
	}
	r = tplDo(t, api, router, http.MethodGet, "/api/v1/templates/template-model-serving", nil, http.StatusNotFound)
	assert.Contains(t, r.String(), "unknown template")
	r = tplDo(t, api, router, http.MethodGet, "/api/v1/templates?category=notebook", nil, http.StatusBadRequest)
	assert.Contains(t, r.String(), `unknown parameter`)
}

func TestTemplatesInstantiate(t *testing.T) {
	t.Parallel()
	api := newAPIClient(t)
	router := documentRouter(t, api.base)
	const project = "team-a"

	for id, vars := range tplWorkloads[project] {
		t.Run(id, func(t *testing.T) {
			t.Parallel()
			name := uniqueName(t, "tpl-"+id)
			d := tplInstantiate(t, api, router, project, id, object{"dashboard_name": name, "variables": vars})
			assert.Equal(t, name, d.Metadata.Name)
			assert.Equal(t, project, d.Metadata.Project)
			assert.True(t, d.Metadata.Tags.Contains("template:"+id))
			for _, v := range vars {
				assert.Contains(t, d.Spec.Display.Name, v)
			}

			// Stored as returned, and valid for the server's schemas on its own.
			got := api.expect(t, http.StatusOK, http.MethodGet, "/api/v1/projects/"+project+"/dashboards/"+name, nil)
			var stored v1.Dashboard
			got.decode(t, &stored)
			assert.Equal(t, len(d.Spec.Panels), len(stored.Spec.Panels))
			var raw map[string]any
			got.decode(t, &raw)
			status, message := postSchemaDashboard(t, api.base, raw)
			require.Equal(t, http.StatusOK, status, "POST /api/validate/dashboards: %s", message)

			// A second time: the name is taken.
			r := tplDo(t, api, router, http.MethodPost, "/api/v1/projects/"+project+"/templates/"+id+"/instantiate",
				object{"dashboard_name": name, "variables": vars}, http.StatusConflict)
			assert.Contains(t, r.String(), name)
		})
	}

	t.Run("refusals", func(t *testing.T) {
		t.Parallel()
		path := "/api/v1/projects/" + project + "/templates/model-serving/instantiate"
		for _, tc := range []struct {
			name   string
			path   string
			body   object
			status int
			want   []string
		}{
			{"missing variable", path, object{"dashboard_name": uniqueName(t, "tpl"), "variables": object{}}, 400, []string{`variable \"model_name\"`, "required"}},
			{"unknown variable", path, object{"dashboard_name": uniqueName(t, "tpl"), "variables": object{"model_name": "m1", "namespace": "team-b"}}, 400, []string{`variable \"namespace\"`}},
			{"PromQL in a value", path, object{"dashboard_name": uniqueName(t, "tpl"), "variables": object{"model_name": `m1"} or vllm:num_requests_running{namespace="team-b`}}, 400, []string{`variable \"model_name\"`}},
			{"variable reference in a value", path, object{"dashboard_name": uniqueName(t, "tpl"), "variables": object{"model_name": "$__all"}}, 400, []string{`variable \"model_name\"`}},
			{"metric name with a selector", "/api/v1/projects/" + project + "/templates/training/instantiate",
				object{"dashboard_name": uniqueName(t, "tpl"), "variables": object{"job_name": "train-a", "loss_metric": `up{namespace="team-b"}`}}, 400, []string{`variable \"loss_metric\"`}},
			{"bad dashboard name", path, object{"dashboard_name": "a/b", "variables": object{"model_name": "m1"}}, 400, []string{"dashboard_name"}},
			{"unknown template", "/api/v1/projects/" + project + "/templates/nope/instantiate", object{"dashboard_name": uniqueName(t, "tpl")}, 404, []string{"unknown template"}},
		} {
			r := tplDo(t, api, router, http.MethodPost, tc.path, tc.body, tc.status)
			for _, w := range tc.want {
				assert.Contains(t, r.String(), w, tc.name)
			}
		}
		r := api.do(t, http.MethodPost, path, `dashboard_name=x`)
		assert.Equal(t, http.StatusBadRequest, r.Status, "a body that is not JSON: %s", r)
		r = api.do(t, http.MethodPost, "/api/v1/projects/"+project+"/templates/notebook/instantiate?dashboard_name=x", object{})
		assert.Equal(t, http.StatusBadRequest, r.Status, "parameters in the URL: %s", r)
	})
}

func TestTemplatesClone(t *testing.T) {
	t.Parallel()
	api := newAPIClient(t)
	router := documentRouter(t, api.base)
	const project = "team-a"
	original := uniqueName(t, "tpl-clone")
	tplInstantiate(t, api, router, project, "notebook", object{"dashboard_name": original, "display_name": "Original", "variables": object{"notebook_name": "notebook-a"}})

	clone := func(body any, want int) apiResponse {
		t.Helper()
		r := tplDo(t, api, router, http.MethodPost, "/api/v1/projects/"+project+"/dashboards/"+original+"/clone", body, want)
		if want == http.StatusCreated {
			var d v1.Dashboard
			r.decode(t, &d)
			t.Cleanup(func() { api.do(t, http.MethodDelete, "/api/v1/projects/"+project+"/dashboards/"+d.Metadata.Name, nil) })
		}
		return r
	}
	var first, second, named v1.Dashboard
	clone(nil, http.StatusCreated).decode(t, &first)
	assert.Equal(t, original+"-copy", first.Metadata.Name)
	assert.Equal(t, "Original (copy)", first.Spec.Display.Name)
	assert.True(t, first.Metadata.Tags.Contains("template:notebook"))
	clone(object{"name": "Second"}, http.StatusCreated).decode(t, &second)
	assert.Equal(t, original+"-copy-2", second.Metadata.Name)
	assert.Equal(t, "Second", second.Spec.Display.Name)
	name := uniqueName(t, "tpl-named")
	clone(object{"name": "Named", "dashboard_name": name}, http.StatusCreated).decode(t, &named)
	assert.Equal(t, name, named.Metadata.Name)
	assert.Equal(t, project, named.Metadata.Project)
	assert.Equal(t, len(first.Spec.Panels), len(named.Spec.Panels))

	r := clone(object{"dashboard_name": name}, http.StatusConflict)
	assert.Contains(t, r.String(), name)
	r = clone(object{"dashboard_name": "../x"}, http.StatusBadRequest)
	assert.Contains(t, r.String(), "dashboard_name")
	r = clone(object{"name": strings.Repeat("x", 129)}, http.StatusBadRequest)
	assert.Contains(t, r.String(), "128")
	r = tplDo(t, api, router, http.MethodPost, "/api/v1/projects/"+project+"/dashboards/"+uniqueName(t, "missing")+"/clone", object{}, http.StatusNotFound)
	assert.Contains(t, r.String(), "missing-")

	// Upstream's routes of the same prefix are untouched.
	api.expect(t, http.StatusOK, http.MethodGet, "/api/v1/projects/"+project+"/dashboards/"+original, nil)
	api.expect(t, http.StatusMethodNotAllowed, http.MethodPost, "/api/v1/projects/"+project+"/dashboards/"+original, object{})
}

// TestTemplatesPanelsHaveData instantiates every template for team-b's workloads and
// runs every panel query as the stock UI would (dashboard variables interpolated,
// through the project's datasource): each answers data, and only team-b's; the same
// templates for team-b's workloads in team-a answer nothing.
func TestTemplatesPanelsHaveData(t *testing.T) {
	t.Parallel()
	api := newAPIClient(t)
	router := documentRouter(t, api.base)
	end := time.Now()
	for id, vars := range tplWorkloads["team-b"] {
		t.Run(id, func(t *testing.T) {
			t.Parallel()
			d := tplInstantiate(t, api, router, "team-b", id, object{"dashboard_name": uniqueName(t, "tpl-data"), "variables": vars})
			queries, defaults := tplQueries(t, d)
			for _, pq := range queries {
				q := templates.Interpolate(pq.Query, defaults)
				series := tplQueryRange(t, api, "team-b", q, end)
				require.NotEmpty(t, series, "panel %q (%s) query %d has no data in team-b: %s", pq.Panel, pq.Title, pq.Index, q)
				for _, s := range series {
					for label, value := range s.Metric {
						assert.NotContains(t, value, "team-a", "%s: %s", pq.Panel, label)
						assert.NotContains(t, value, "a1b2c", "%s: team-a's pipeline pods", pq.Panel)
					}
				}
			}

			// The same dashboard in team-a: team-b's workloads are not there.
			if id == "data-pipeline" {
				return // the pipeline has the same name in team-a (its step panels show team-a's pods)
			}
			other := tplInstantiate(t, api, router, "team-a", id, object{"dashboard_name": uniqueName(t, "tpl-other"), "variables": vars})
			queries, defaults = tplQueries(t, other)
			for _, pq := range queries {
				q := templates.Interpolate(pq.Query, defaults)
				if id == "notebook" && pq.Panel == "running_notebooks" {
					continue // the project's notebooks, whatever the dashboard's notebook
				}
				assert.Empty(t, tplQueryRange(t, api, "team-a", q, end), "team-b's %s in team-a: panel %q answers %s", id, pq.Panel, q)
			}
		})
	}

	t.Run("known values", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			project, query string
			want           map[string]float64 // legend label value (or "") → last value
			label          string
		}{
			// Pipelines: team-b's runs and step pods only, with the same pipeline name in team-a.
			{"team-b", `sum by (phase) (argo_workflows_gauge)`, map[string]float64{"Running": 4, "Succeeded": 9, "Failed": 3}, "phase"},
			{"team-a", `sum by (phase) (argo_workflows_gauge)`, map[string]float64{"Running": 2, "Succeeded": 5, "Failed": 1}, "phase"},
			{"team-b", `max by (pod) (kube_pod_completion_time{pod=~"iris-pipeline-.+"} - kube_pod_start_time{pod=~"iris-pipeline-.+"})`,
				map[string]float64{"iris-pipeline-x9y8z-step-1": 900, "iris-pipeline-x9y8z-step-2": 300}, "pod"},
			{"team-a", `max by (pod) (kube_pod_completion_time{pod=~"iris-pipeline-.+"} - kube_pod_start_time{pod=~"iris-pipeline-.+"})`,
				map[string]float64{"iris-pipeline-a1b2c-step-1": 600, "iris-pipeline-a1b2c-step-2": 120}, "pod"},
			// GPUs are confined on exported_namespace.
			{"team-b", `sum by (exported_pod) (DCGM_FI_DEV_FB_USED{exported_pod=~"train-b-.+"}) * 1048576`, map[string]float64{"train-b-0": 40960 * 1048576}, "exported_pod"},
			{"team-b", `sum(kube_pod_container_resource_limits{pod=~"notebook-b-[0-9]+",resource="memory"})`, map[string]float64{"": 4 << 30}, ""},
		} {
			series := tplQueryRange(t, api, tc.project, tc.query, end)
			got := map[string]float64{}
			for _, s := range series {
				got[s.Metric[tc.label]] = s.last(t)
			}
			assert.Equal(t, tc.want, got, "%s in %s", tc.query, tc.project)
		}
	})

	t.Run("model variable", func(t *testing.T) {
		t.Parallel()
		// The model-serving dashboard's variable lists the project's served models.
		for project, want := range map[string][]string{"team-a": {"m1"}, "team-b": {"m2"}} {
			r := api.expect(t, http.StatusOK, http.MethodGet, "/proxy/projects/"+project+"/datasources/"+projectDatasource+
				"/api/v1/label/model_name/values?match[]="+url.QueryEscape("vllm:num_requests_running")+"&match[]="+url.QueryEscape("kserve_vllm:num_requests_running"), nil)
			var answer struct {
				Data []string `json:"data"`
			}
			r.decode(t, &answer)
			assert.Equal(t, want, answer.Data, project)
		}
	})
}

// tplInstantiate creates a dashboard from a template (checking the exchange against the
// OpenAPI document) and deletes it when the test ends.
func tplInstantiate(t *testing.T, api *apiClient, router routers.Router, project, id string, body object) v1.Dashboard {
	t.Helper()
	r := tplDo(t, api, router, http.MethodPost, "/api/v1/projects/"+project+"/templates/"+id+"/instantiate", body, http.StatusCreated)
	var d v1.Dashboard
	r.decode(t, &d)
	t.Cleanup(func() {
		d := api.do(t, http.MethodDelete, "/api/v1/projects/"+project+"/dashboards/"+d.Metadata.Name, nil)
		if d.Status != http.StatusNoContent && d.Status != http.StatusNotFound {
			t.Errorf("cleanup: %s", d)
		}
	})
	return d
}

func tplQueries(t *testing.T, d v1.Dashboard) ([]templates.PanelQuery, map[string]string) {
	t.Helper()
	queries, err := templates.PanelQueries(d.Spec)
	require.NoError(t, err)
	require.NotEmpty(t, queries)
	defaults, err := templates.VariableDefaults(d.Spec)
	require.NoError(t, err)
	return queries, defaults
}

// tplDo sends a request, expects the status, and checks request and answer against the
// OpenAPI document.
func tplDo(t *testing.T, api *apiClient, router routers.Router, method, path string, body any, want int) apiResponse {
	t.Helper()
	r := api.do(t, method, path, body)
	require.Equalf(t, want, r.Status, "%s %s: %s", method, path, r)
	var data []byte
	if body != nil {
		var err error
		data, err = json.Marshal(body)
		require.NoError(t, err)
	}
	req, err := http.NewRequest(method, api.base+path, bytes.NewReader(data))
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	route, params, err := router.FindRoute(req)
	require.NoError(t, err, "the document has no route for %s %s", method, path)
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	if want < 400 {
		require.NoError(t, openapi3filter.ValidateRequest(context.Background(), in), "the request does not fit the document")
		req.Body = nil
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: r.Status, Header: r.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	out.SetBodyBytes(r.Body)
	require.NoError(t, openapi3filter.ValidateResponse(context.Background(), out), "%s %s answered %s, which the document does not allow", method, path, r)
	return r
}

// tplSeries is one series of a range query's answer.
type tplSeries struct {
	Metric map[string]string `json:"metric"`
	Values [][2]any          `json:"values"`
}

// last is the series' last value that is a number.
func (s tplSeries) last(t *testing.T) float64 {
	t.Helper()
	for i := len(s.Values) - 1; i >= 0; i-- {
		f, err := strconv.ParseFloat(fmt.Sprint(s.Values[i][1]), 64)
		if err == nil && !math.IsNaN(f) {
			return f
		}
	}
	t.Fatalf("no number in %v", s)
	return 0
}

// tplQueryRange runs a range query over the hour before end, through the project's
// datasource, and returns the series that hold at least one number.
func tplQueryRange(t *testing.T, api *apiClient, project, query string, end time.Time) []tplSeries {
	t.Helper()
	form := url.Values{
		"query": {query},
		"start": {strconv.FormatInt(end.Add(-time.Hour).Unix(), 10)},
		"end":   {strconv.FormatInt(end.Unix(), 10)},
		"step":  {"60"},
	}
	r := api.do(t, http.MethodGet, "/proxy/projects/"+project+"/datasources/"+projectDatasource+"/api/v1/query_range?"+form.Encode(), nil)
	require.Equalf(t, http.StatusOK, r.Status, "%s in %s: %s", query, project, r)
	var answer struct {
		Status string `json:"status"`
		Data   struct {
			Result []tplSeries `json:"result"`
		} `json:"data"`
	}
	r.decode(t, &answer)
	require.Equal(t, "success", answer.Status, r.String())
	var out []tplSeries
	for _, s := range answer.Data.Result {
		for _, v := range s.Values {
			if f, err := strconv.ParseFloat(fmt.Sprint(v[1]), 64); err == nil && !math.IsNaN(f) {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

// TestTemplatesAccess: on a server that authenticates by TokenReview and authorises by
// SubjectAccessReview (real kube-apiserver, the shipped RBAC), instantiating and cloning
// are creating a dashboard in the project: alice edits team-a, carol only views it, bob
// edits team-b; listing the templates needs a user, any user.
func TestTemplatesAccess(t *testing.T) {
	env := startAccessEnv(t)
	k := env.kube
	alice, bob, carol := env.client(k.Token("alice")), env.client(k.Token("bob")), env.client(k.Token("carol"))
	anonymous := env.client("")
	instantiate := func(project string) string {
		return "/api/v1/projects/" + project + "/templates/notebook/instantiate"
	}
	body := func(name string) object {
		return object{"dashboard_name": name, "variables": object{"notebook_name": "notebook-a"}}
	}

	anonymous.expect(t, http.StatusUnauthorized, http.MethodGet, "/api/v1/templates", nil)
	anonymous.expect(t, http.StatusUnauthorized, http.MethodGet, "/api/v1/templates/notebook", nil)
	anonymous.expect(t, http.StatusUnauthorized, http.MethodPost, instantiate("team-a"), body("anon"))
	for _, c := range []*apiClient{alice, bob, carol} {
		c.expect(t, http.StatusOK, http.MethodGet, "/api/v1/templates", nil)
		c.expect(t, http.StatusOK, http.MethodGet, "/api/v1/templates/notebook", nil)
	}

	alice.expect(t, http.StatusCreated, http.MethodPost, instantiate("team-a"), body("nb"))
	r := alice.expect(t, http.StatusForbidden, http.MethodPost, instantiate("team-b"), body("nb"))
	assert.NotContains(t, r.String(), "exist", "no word on whether the project exists")
	carol.expect(t, http.StatusForbidden, http.MethodPost, instantiate("team-a"), body("carols"))
	bob.expect(t, http.StatusCreated, http.MethodPost, instantiate("team-b"), body("nb"))

	alice.expect(t, http.StatusCreated, http.MethodPost, "/api/v1/projects/team-a/dashboards/nb/clone", nil)
	carol.expect(t, http.StatusOK, http.MethodGet, "/api/v1/projects/team-a/dashboards/nb-copy", nil)
	carol.expect(t, http.StatusForbidden, http.MethodPost, "/api/v1/projects/team-a/dashboards/nb/clone", nil)
	bob.expect(t, http.StatusForbidden, http.MethodPost, "/api/v1/projects/team-a/dashboards/nb/clone", object{"dashboard_name": "stolen"})
	alice.expect(t, http.StatusForbidden, http.MethodPost, "/api/v1/projects/team-b/dashboards/nb/clone", nil)
	alice.expect(t, http.StatusNotFound, http.MethodGet, "/api/v1/projects/team-a/dashboards/stolen", nil)
}
