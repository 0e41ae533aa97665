//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// apiResource describes one kind of the upstream API for the compatibility table.
type apiResource struct {
	kind          string
	projectScoped bool
	// collection is the path of the list endpoint (project is "" for global kinds).
	collection func(project string) string
	build      func(project, name string) object
	// rename sets the display name that update must store.
	rename func(obj object, display string)
	// display reads it back.
	display func(t *testing.T, r apiResponse) string
}

func specDisplay(obj object, display string) {
	spec := obj["spec"].(object)
	spec["display"] = object{"name": display}
}

func readSpecDisplay(t *testing.T, r apiResponse) string {
	t.Helper()
	var v struct {
		Spec struct {
			Display struct {
				Name string `json:"name"`
			} `json:"display"`
		} `json:"spec"`
	}
	r.decode(t, &v)
	return v.Spec.Display.Name
}

func apiResources(t *testing.T) []apiResource {
	promURL := prometheusURL(t)
	return []apiResource{
		{
			kind:       "Project",
			collection: func(string) string { return "/api/v1/projects" },
			build:      func(_, name string) object { return projectResource(name) },
			rename:     specDisplay,
			display:    readSpecDisplay,
		},
		{
			kind:          "Dashboard",
			projectScoped: true,
			collection:    func(p string) string { return "/api/v1/projects/" + p + "/dashboards" },
			build: func(p, name string) object {
				return markdownDashboard(p, name, "compatibility table")
			},
			rename:  specDisplay,
			display: readSpecDisplay,
		},
		{
			kind:          "Datasource",
			projectScoped: true,
			collection:    func(p string) string { return "/api/v1/projects/" + p + "/datasources" },
			build: func(p, name string) object {
				return datasourceResource(p, name, prometheusPluginProxy(promURL, ""))
			},
			rename:  specDisplay,
			display: readSpecDisplay,
		},
		{
			kind:          "Variable",
			projectScoped: true,
			collection:    func(p string) string { return "/api/v1/projects/" + p + "/variables" },
			build: func(p, name string) object {
				return variableResource(p, name, "team-a", "team-b")
			},
			rename: func(obj object, display string) {
				inner := obj["spec"].(object)["spec"].(object)
				inner["display"] = object{"name": display}
			},
			display: func(t *testing.T, r apiResponse) string {
				var v struct {
					Spec struct {
						Spec struct {
							Display struct {
								Name string `json:"name"`
							} `json:"display"`
						} `json:"spec"`
					} `json:"spec"`
				}
				r.decode(t, &v)
				return v.Spec.Spec.Display.Name
			},
		},
		{
			kind:       "GlobalDatasource",
			collection: func(string) string { return "/api/v1/globaldatasources" },
			build: func(_, name string) object {
				return globalDatasourceResource(name, prometheusPluginProxy(promURL, ""))
			},
			rename:  specDisplay,
			display: readSpecDisplay,
		},
	}
}

// TestAPICompatibility walks every kind through upstream's contract: create 200, get,
// list, update (PUT), 409 on a duplicate, 404 on a missing get/delete, 400 on a bad
// name, delete 204.
func TestAPICompatibility(t *testing.T) {
	t.Parallel()
	for _, res := range apiResources(t) {
		t.Run(res.kind, func(t *testing.T) {
			t.Parallel()
			api := newAPIClient(t)
			project := ""
			if res.projectScoped {
				project = uniqueName(t, "api-"+strings.ToLower(res.kind))
				createProject(t, api, project)
			}
			// Underscores, not dashes: variable names may not hold "-".
			name := strings.ReplaceAll(uniqueName(t, strings.ToLower(res.kind)), "-", "_")
			collection := res.collection(project)
			item := collection + "/" + name
			deleted := false
			t.Cleanup(func() {
				if !deleted {
					api.do(t, http.MethodDelete, item, nil)
				}
			})

			created := api.expect(t, http.StatusOK, http.MethodPost, collection, res.build(project, name))
			var meta struct {
				Metadata struct {
					Name      string `json:"name"`
					Project   string `json:"project"`
					CreatedAt string `json:"createdAt"`
					Version   int    `json:"version"`
				} `json:"metadata"`
			}
			created.decode(t, &meta)
			assert.Equal(t, name, meta.Metadata.Name)
			assert.Equal(t, project, meta.Metadata.Project)
			assert.NotEmpty(t, meta.Metadata.CreatedAt)

			t.Run("get", func(t *testing.T) {
				got := api.expect(t, http.StatusOK, http.MethodGet, item, nil)
				assert.Contains(t, string(got.Body), `"kind":"`+res.kind+`"`)
				assert.Contains(t, string(got.Body), `"name":"`+name+`"`)
			})
			t.Run("list", func(t *testing.T) {
				assert.Contains(t, names(t, api.expect(t, http.StatusOK, http.MethodGet, collection, nil)), name)
				if res.projectScoped {
					// The root list with ?project= is upstream's other way to list one project.
					root := "/api/v1/" + strings.TrimPrefix(collection, "/api/v1/projects/"+project+"/") + "?project=" + project
					assert.Contains(t, names(t, api.expect(t, http.StatusOK, http.MethodGet, root, nil)), name)
				}
			})
			t.Run("update", func(t *testing.T) {
				updated := res.build(project, name)
				res.rename(updated, "Renamed by e2e")
				api.expect(t, http.StatusOK, http.MethodPut, item, updated)
				assert.Equal(t, "Renamed by e2e", res.display(t, api.expect(t, http.StatusOK, http.MethodGet, item, nil)))

				// The name in the path and in the body must agree.
				other := res.build(project, name+"-other")
				r := api.do(t, http.MethodPut, item, other)
				assert.Equalf(t, http.StatusBadRequest, r.Status, "PUT with another metadata.name: %s", r)
			})
			t.Run("duplicate create is a conflict", func(t *testing.T) {
				r := api.do(t, http.MethodPost, collection, res.build(project, name))
				assert.Equalf(t, http.StatusConflict, r.Status, "%s", r)
			})
			t.Run("missing is not found", func(t *testing.T) {
				missing := collection + "/" + uniqueName(t, "missing")
				assert.Equal(t, http.StatusNotFound, api.do(t, http.MethodGet, missing, nil).Status)
				assert.Equal(t, http.StatusNotFound, api.do(t, http.MethodDelete, missing, nil).Status)
				assert.Equal(t, http.StatusNotFound, api.do(t, http.MethodPut, missing, res.build(project, strings.TrimPrefix(missing, collection+"/"))).Status)
			})
			t.Run("bad names are refused", func(t *testing.T) {
				bads := []string{"bad name", "a/b", "ünïcode", "semi;colon", strings.Repeat("x", 76), ""}
				for _, bad := range bads {
					r := api.do(t, http.MethodPost, collection, res.build(project, bad))
					assert.Equalf(t, http.StatusBadRequest, r.Status, "name %q: %s", bad, r)
				}
				// Nothing was stored under any of them.
				stored := names(t, api.expect(t, http.StatusOK, http.MethodGet, collection, nil))
				for _, bad := range bads {
					assert.NotContains(t, stored, bad)
				}
			})
			t.Run("delete", func(t *testing.T) {
				api.expect(t, http.StatusNoContent, http.MethodDelete, item, nil)
				deleted = true
				assert.Equal(t, http.StatusNotFound, api.do(t, http.MethodGet, item, nil).Status)
				assert.NotContains(t, names(t, api.expect(t, http.StatusOK, http.MethodGet, collection, nil)), name)
			})
		})
	}
}

// TestAPIProjectDeleteCascades checks that deleting a project removes what it holds,
// so a new project of the same name starts empty.
func TestAPIProjectDeleteCascades(t *testing.T) {
	t.Parallel()
	api := newAPIClient(t)
	project := uniqueName(t, "api-cascade")
	api.expect(t, http.StatusOK, http.MethodPost, "/api/v1/projects", projectResource(project))
	api.expect(t, http.StatusOK, http.MethodPost, "/api/v1/projects/"+project+"/dashboards", markdownDashboard(project, "kept", "x"))
	api.expect(t, http.StatusOK, http.MethodPost, "/api/v1/projects/"+project+"/variables", variableResource(project, "ns", "a"))
	api.expect(t, http.StatusNoContent, http.MethodDelete, "/api/v1/projects/"+project, nil)

	createProject(t, api, project)
	assert.Empty(t, names(t, api.expect(t, http.StatusOK, http.MethodGet, "/api/v1/projects/"+project+"/dashboards", nil)))
	assert.Empty(t, names(t, api.expect(t, http.StatusOK, http.MethodGet, "/api/v1/projects/"+project+"/variables", nil)))
}

// TestAPIProjectMustExist checks that project-scoped resources cannot be created in a
// project that does not exist.
func TestAPIProjectMustExist(t *testing.T) {
	t.Parallel()
	api := newAPIClient(t)
	ghost := uniqueName(t, "ghost")
	r := api.do(t, http.MethodPost, "/api/v1/projects/"+ghost+"/dashboards", markdownDashboard(ghost, "d", "x"))
	require.Equalf(t, http.StatusBadRequest, r.Status, "%s", r)
	assert.Contains(t, string(r.Body), "exist")
}

// TestAPIHealth checks both health endpoints: upstream's and ours.
func TestAPIHealth(t *testing.T) {
	t.Parallel()
	api := newAPIClient(t)
	var upstream struct {
		Version  string `json:"version"`
		Database bool   `json:"database"`
	}
	api.expect(t, http.StatusOK, http.MethodGet, "/api/v1/health", nil).decode(t, &upstream)
	assert.NotEmpty(t, upstream.Version)
	assert.True(t, upstream.Database)

	var ours struct {
		Status   string `json:"status"`
		Database string `json:"database"`
		Version  string `json:"version"`
	}
	api.expect(t, http.StatusOK, http.MethodGet, "/health", nil).decode(t, &ours)
	assert.Equal(t, "healthy", ours.Status)
	assert.Equal(t, "connected", ours.Database)
	assert.Equal(t, upstream.Version, ours.Version)
}

// TestDatasourceProxyQueriesPrometheus queries the backfilled series through the
// server's datasource proxy: each shared project's own datasource "prometheus" answers
// its namespace's series only, whatever the query asks; the global datasources (the
// shared one and the server's own) are refused. The last sample of every backfilled
// series has a fixed value (hack/prometheus/start.sh).
func TestDatasourceProxyQueriesPrometheus(t *testing.T) {
	t.Parallel()
	api := newAPIClient(t)
	cases := []struct {
		project, query string
		want           []string // values of the result's samples, in order; nil: any, at least one
	}{
		{"team-a", `last_over_time(vllm:num_requests_running[1h])`, []string{"3"}},
		{"team-b", `last_over_time(vllm:num_requests_running[1h])`, []string{"5"}},
		{"team-a", `last_over_time(vllm:num_requests_running{model_name="m1"}[1h])`, []string{"3"}},
		{"team-b", `last_over_time(vllm:num_requests_running{model_name="m1"}[1h])`, []string{}},
		{"team-a", `sum(last_over_time(container_memory_working_set_bytes[1h]))`, []string{"536870912"}},
		// GPU metrics are confined on exported_namespace (the DCGM exporter runs in the
		// GPU operator's namespace). team-b has a training pod's GPU and a notebook's.
		{"team-b", `sort(last_over_time(DCGM_FI_DEV_GPU_UTIL[1h]))`, []string{"60", "80"}},
		{"team-a", `count(last_over_time(up{job="workload"}[1h]))`, []string{"1"}},
		{"team-a", `sum(increase(vllm:request_success_total[1h])) > 0`, nil},
	}
	for _, c := range cases {
		path := "/proxy/projects/" + c.project + "/datasources/" + projectDatasource + "/api/v1/query?query=" + url.QueryEscape(c.query)
		var resp struct {
			Status string `json:"status"`
			Data   struct {
				Result []struct {
					Value []any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		api.expect(t, http.StatusOK, http.MethodGet, path, nil).decode(t, &resp)
		require.Equalf(t, "success", resp.Status, "%s in %s", c.query, c.project)
		if c.want == nil {
			assert.NotEmptyf(t, resp.Data.Result, "%s in %s", c.query, c.project)
			continue
		}
		got := []string{}
		for _, r := range resp.Data.Result {
			got = append(got, fmt.Sprint(r.Value[1]))
		}
		assert.Equalf(t, c.want, got, "%s in %s", c.query, c.project)
	}
	for _, ds := range []string{sharedDatasource, "prometheus"} {
		r := api.do(t, http.MethodGet, "/proxy/globaldatasources/"+ds+"/api/v1/query?query=up", nil)
		assert.Equalf(t, http.StatusForbidden, r.Status, "global datasource %s: %s", ds, r)
		assert.Containsf(t, r.String(), "cannot be confined", "global datasource %s", ds)
	}
}
