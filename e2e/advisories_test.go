//go:build e2e

package e2e

// Regression tests for the three advisories fixed in Perses v0.54.0:
//
//   GHSA-cjgj-2fwf-4c2w (CVE-2026-63458) "API: fix miss-usage of project query param":
//     GET /api/v1/projects/team-a/dashboards?project=finance returned finance's
//     dashboards, because the query parameter overrode the project of the path.
//   GHSA-4227-9989-jrhx (CVE-2026-63199) "Missing authorization in datasource proxy allows
//     cross-scope secret disclosure": the proxy resolved and decrypted any Secret named in
//     the request (unsaved datasource body) without a Secret-scope check.
//   GHSA-vr5f-w35q-98jp (CVE-2026-63445) "Unvalidated project parameter enables filesystem
//     path traversal": the project of list queries reached the file database unvalidated,
//     e.g. /api/v1/dashboards?project=../../x read files outside the database folder.
//
// The suite runs with auth off, so what is tested here is what holds for every caller:
// a path's project bounds what a request returns or changes, a secret's value never
// leaves the server except towards the datasource that names it in its own scope, and no
// name reaches the file system as a path. With identity in place (extension/identity,
// extension/access) these become testable too, and belong here then:
//   - a viewer of project A gets 403 (or an empty list) for /api/v1/dashboards?project=B
//     and for /api/v1/projects/B/..., whatever the query parameters;
//   - a user with datasource but without secret read permission gets 403 when creating or
//     updating a datasource that names a Secret, and when proxying an unsaved datasource
//     that names one (GlobalSecret likewise for global datasources);
//   - "." and ".." as project or name never reach an authorization decision.

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// --- (a) GHSA-cjgj-2fwf-4c2w: cross-project reads through ?project= ---

func TestAdvisoryProjectQueryParameter(t *testing.T) {
	t.Parallel()
	api := newAPIClient(t)
	promURL := prometheusURL(t)
	a, b := uniqueName(t, "adv-qa"), uniqueName(t, "adv-qb")
	createProject(t, api, a)
	createProject(t, api, b)

	kinds := []struct {
		path  string
		build func(project, name string) object
	}{
		{"dashboards", func(p, n string) object { return markdownDashboard(p, n, "owned by "+p) }},
		{"datasources", func(p, n string) object { return datasourceResource(p, n, prometheusPluginProxy(promURL, "")) }},
		{"variables", func(p, n string) object { return variableResource(p, n, "x") }},
		{"secrets", func(p, n string) object {
			return secretResource(p, n, object{"authorization": object{"type": "Bearer", "credentials": "token-of-" + p}})
		}},
	}
	// Every resource is named after its project, so b's names betray a leak in any body.
	// (Underscores: variable names may not hold "-".)
	item := func(p string) string { return strings.ReplaceAll(p, "-", "_") + "_item" }
	for _, k := range kinds {
		for _, p := range []string{a, b} {
			createIn(t, api, "/api/v1/projects/"+p+"/"+k.path, item(p), k.build(p, item(p)))
		}
	}
	bItem := item(b)

	queries := []string{
		"project=" + b,
		"project=" + strings.ToUpper(b),
		"project=" + a + "&project=" + b,
		"project=" + b + "&project=" + a,
		"project=" + b + "&metadataOnly=true",
		"project=" + b + "%00",
		"project=%20" + b,
		"Project=" + b,
	}
	for _, k := range kinds {
		t.Run(k.path, func(t *testing.T) {
			for _, q := range queries {
				r := api.doRaw(t, http.MethodGet, "/api/v1/projects/"+a+"/"+k.path+"?"+q, nil)
				assert.NotContainsf(t, string(r.Body), bItem, "?%s leaked project %s: %s", q, b, r)
				assert.NotContainsf(t, string(r.Body), "token-of-"+b, "?%s leaked a secret of %s", q, b)
				switch r.Status {
				case http.StatusOK:
					for _, it := range listItems(t, r) {
						assert.Equalf(t, a, it.Metadata.Project, "?%s returned %s of project %q", q, it.Metadata.Name, it.Metadata.Project)
					}
				case http.StatusBadRequest:
				default:
					t.Errorf("?%s: want 200 (own project only) or 400, got %s", q, r)
				}
			}

			// A name of b, asked for under a's path, is not b's resource.
			r := api.doRaw(t, http.MethodGet, "/api/v1/projects/"+a+"/"+k.path+"/"+bItem+"?project="+b, nil)
			assert.Equalf(t, http.StatusNotFound, r.Status, "GET b's item under a's path: %s", r)
			assert.NotContains(t, string(r.Body), "token-of-"+b)

			// Writes under a's path never touch b.
			r = api.doRaw(t, http.MethodDelete, "/api/v1/projects/"+a+"/"+k.path+"/"+bItem+"?project="+b, nil)
			assert.Equalf(t, http.StatusNotFound, r.Status, "DELETE b's item under a's path: %s", r)
			r = api.doRaw(t, http.MethodPut, "/api/v1/projects/"+a+"/"+k.path+"/"+bItem+"?project="+b, k.build(b, bItem))
			assert.Equalf(t, http.StatusBadRequest, r.Status, "PUT b's item under a's path: %s", r)
			api.expect(t, http.StatusOK, http.MethodGet, "/api/v1/projects/"+b+"/"+k.path+"/"+bItem, nil)

			// The project of the path still works as the query parameter.
			own := api.doRaw(t, http.MethodGet, "/api/v1/projects/"+a+"/"+k.path+"?project="+a, nil)
			require.Equalf(t, http.StatusOK, own.Status, "%s", own)
			got := names(t, own)
			if k.path == "datasources" { // every project has its provisioned Prometheus datasource too
				got = slices.DeleteFunc(got, func(n string) bool { return n == projectDatasource })
			}
			assert.Equal(t, []string{item(a)}, got)
		})
	}
}

type listItem struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name    string `json:"name"`
		Project string `json:"project"`
	} `json:"metadata"`
}

func listItems(t *testing.T, r apiResponse) []listItem {
	t.Helper()
	var items []listItem
	r.decode(t, &items)
	return items
}

// --- (b) GHSA-4227-9989-jrhx: datasource proxy and secret disclosure ---

// recordingUpstream stands in for a datasource behind the proxy: it records the
// Authorization header of every request, keyed by the case_<id> metric its query names, and
// answers like an empty Prometheus query.
type recordingUpstream struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen map[string][]string
}

func newRecordingUpstream(t *testing.T) *recordingUpstream {
	u := &recordingUpstream{seen: map[string][]string{}}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		// The case travels as the metric name of the query (case_<id>): the query
		// proxy forwards only the Prometheus API's own parameters, confined.
		_ = r.ParseForm()
		c := caseOf.FindString(r.Form.Get("query"))
		u.seen[c] = append(u.seen[c], r.Header.Get("Authorization"))
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[]}}`))
	}))
	t.Cleanup(u.srv.Close)
	return u
}

var caseOf = regexp.MustCompile(`case_[a-z_]+`)

func (u *recordingUpstream) authorizations(c string) []string {
	c = "case_" + c
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.seen[c]...)
}

func TestAdvisoryDatasourceProxySecrets(t *testing.T) {
	t.Parallel()
	api := newAPIClient(t)
	upstream := newRecordingUpstream(t)
	owner, other := uniqueName(t, "adv-sa"), uniqueName(t, "adv-sb")
	createProject(t, api, owner)
	createProject(t, api, other)

	password := uniqueName(t, "pw-basic") + "-Zq9"
	token := uniqueName(t, "tok-bearer") + "-Xy7"
	globalToken := uniqueName(t, "tok-global") + "-Wv5"
	basicHeader := "Basic " + base64.StdEncoding.EncodeToString([]byte("e2e-user:"+password))
	secretValues := []string{password, token, globalToken, base64.StdEncoding.EncodeToString([]byte("e2e-user:" + password))}

	basic, bearer := "basic-creds", "bearer-creds"
	globalSecret := uniqueName(t, "adv-gsecret")
	secrets := "/api/v1/projects/" + owner + "/secrets"
	for _, r := range []apiResponse{
		createIn(t, api, secrets, basic, secretResource(owner, basic, object{"basicAuth": object{"username": "e2e-user", "password": password}})),
		createIn(t, api, secrets, bearer, secretResource(owner, bearer, object{"authorization": object{"type": "Bearer", "credentials": token}})),
		createIn(t, api, "/api/v1/globalsecrets", globalSecret, object{
			"kind": "GlobalSecret", "metadata": object{"name": globalSecret},
			"spec": object{"authorization": object{"type": "Bearer", "credentials": globalToken}},
		}),
	} {
		assertNoSecretIn(t, "create response", string(r.Body), secretValues)
	}

	dsOwner := "with-basic"
	createIn(t, api, "/api/v1/projects/"+owner+"/datasources", dsOwner, datasourceResource(owner, dsOwner, prometheusPluginProxy(upstream.srv.URL, basic)))
	globalDS := uniqueName(t, "adv-gds")
	createIn(t, api, "/api/v1/globaldatasources", globalDS, globalDatasourceResource(globalDS, prometheusPluginProxy(upstream.srv.URL, globalSecret)))

	t.Run("reads return redacted secrets", func(t *testing.T) {
		for _, path := range []string{
			secrets, secrets + "/" + basic, secrets + "/" + bearer, secrets + "?metadataOnly=true",
			"/api/v1/secrets", "/api/v1/secrets?project=" + owner,
			"/api/v1/globalsecrets", "/api/v1/globalsecrets/" + globalSecret,
			"/api/v1/projects/" + owner + "/datasources/" + dsOwner, "/api/v1/globaldatasources/" + globalDS,
		} {
			r := api.expect(t, http.StatusOK, http.MethodGet, path, nil)
			assertNoSecretIn(t, "GET "+path, string(r.Body), secretValues)
		}
		var s struct {
			Spec struct {
				BasicAuth struct{ Username, Password string } `json:"basicAuth"`
			} `json:"spec"`
		}
		api.expect(t, http.StatusOK, http.MethodGet, secrets+"/"+basic, nil).decode(t, &s)
		assert.Equal(t, "<secret>", s.Spec.BasicAuth.Password, "a secret's spec is returned redacted")
		assert.Equal(t, "e2e-user", s.Spec.BasicAuth.Username, "non-secret fields stay readable")
	})

	t.Run("secrets are encrypted at rest", func(t *testing.T) {
		for where, data := range storedDocuments(t) {
			assertNoSecretIn(t, where, data, secretValues)
		}
	})

	t.Run("the proxy sends a secret to its own datasource only", func(t *testing.T) {
		// Positive controls: the credentials reach the datasource that names them in its scope...
		r := api.do(t, http.MethodGet, "/proxy/projects/"+owner+"/datasources/"+dsOwner+"/api/v1/query?query=case_own", nil)
		require.Equalf(t, http.StatusOK, r.Status, "%s", r)
		assertNoSecretInResponse(t, "proxy own", r, secretValues)
		assert.Equal(t, []string{basicHeader}, upstream.authorizations("own"))

		// A global datasource is never reached without the tenancy bypass permission
		// (its route carries no project to confine the query to), secret or not.
		r = api.do(t, http.MethodGet, "/proxy/globaldatasources/"+globalDS+"/api/v1/query?query=case_global_own", nil)
		require.Equalf(t, http.StatusForbidden, r.Status, "%s", r)
		assertNoSecretInResponse(t, "proxy global", r, secretValues)
		assert.Empty(t, upstream.authorizations("global_own"))

		// ...and an unsaved datasource of the same project may name them (auth is off
		// here; with auth on this needs secret read permission in that project).
		r = api.do(t, http.MethodPost, "/proxy/unsaved/projects/"+owner+"/datasources/api/v1/query?query=case_unsaved_own",
			unsavedProxyBody(prometheusPluginProxy(upstream.srv.URL, bearer)))
		require.Equalf(t, http.StatusOK, r.Status, "%s", r)
		assert.Equal(t, []string{"Bearer " + token}, upstream.authorizations("unsaved_own"))

		// Cross-scope: none of these may reach a credential of another scope.
		refused := func(caseID string, r apiResponse) {
			t.Helper()
			t.Logf("%s: %s", caseID, truncate(r.String(), 200))
			assert.GreaterOrEqualf(t, r.Status, 400, "%s: the proxy must refuse, got %s", caseID, r)
			assertNoSecretInResponse(t, caseID, r, secretValues)
			for _, h := range upstream.authorizations(strings.ReplaceAll(caseID, "-", "_")) {
				assertNoSecretIn(t, caseID+": Authorization sent upstream", h, secretValues)
			}
		}

		// A saved datasource of another project that names the owner's secret.
		foreign := "names-foreign-secret"
		if r := api.do(t, http.MethodPost, "/api/v1/projects/"+other+"/datasources", datasourceResource(other, foreign, prometheusPluginProxy(upstream.srv.URL, basic))); r.Status == http.StatusOK {
			t.Cleanup(func() { api.do(t, http.MethodDelete, "/api/v1/projects/"+other+"/datasources/"+foreign, nil) })
			refused("saved-foreign", api.do(t, http.MethodGet, "/proxy/projects/"+other+"/datasources/"+foreign+"/api/v1/query?query=case_saved_foreign", nil))
		} else {
			assertNoSecretInResponse(t, "create foreign datasource", r, secretValues)
		}

		// A project datasource that names the GlobalSecret.
		namesGlobal := "names-global-secret"
		if r := api.do(t, http.MethodPost, "/api/v1/projects/"+other+"/datasources", datasourceResource(other, namesGlobal, prometheusPluginProxy(upstream.srv.URL, globalSecret))); r.Status == http.StatusOK {
			t.Cleanup(func() { api.do(t, http.MethodDelete, "/api/v1/projects/"+other+"/datasources/"+namesGlobal, nil) })
			refused("saved-global-secret", api.do(t, http.MethodGet, "/proxy/projects/"+other+"/datasources/"+namesGlobal+"/api/v1/query?query=case_saved_global_secret", nil))
		}

		// A GlobalDatasource that names a project secret.
		globalNamesProject := uniqueName(t, "adv-gds-proj")
		if r := api.do(t, http.MethodPost, "/api/v1/globaldatasources", globalDatasourceResource(globalNamesProject, prometheusPluginProxy(upstream.srv.URL, basic))); r.Status == http.StatusOK {
			t.Cleanup(func() { api.do(t, http.MethodDelete, "/api/v1/globaldatasources/"+globalNamesProject, nil) })
			refused("global-project-secret", api.do(t, http.MethodGet, "/proxy/globaldatasources/"+globalNamesProject+"/api/v1/query?query=case_global_project_secret", nil))
		}

		// Unsaved datasources (the advisory's own path): the secret is looked up in the
		// scope of the URL, never in the scope where it happens to exist.
		refused("unsaved-foreign", api.do(t, http.MethodPost, "/proxy/unsaved/projects/"+other+"/datasources/api/v1/query?query=case_unsaved_foreign",
			unsavedProxyBody(prometheusPluginProxy(upstream.srv.URL, basic))))
		refused("unsaved-global-project-secret", api.do(t, http.MethodPost, "/proxy/unsaved/globaldatasources/api/v1/query?query=case_unsaved_global_project_secret",
			unsavedProxyBody(prometheusPluginProxy(upstream.srv.URL, bearer))))
		refused("unsaved-project-global-secret", api.do(t, http.MethodPost, "/proxy/unsaved/projects/"+other+"/datasources/api/v1/query?query=case_unsaved_project_global_secret",
			unsavedProxyBody(prometheusPluginProxy(upstream.srv.URL, globalSecret))))

		// A dashboard-local datasource of another project.
		dash := "local-foreign-secret"
		d := markdownDashboard(other, dash, "local datasource naming a foreign secret")
		d["spec"].(object)["datasources"] = object{"local": object{"default": false, "plugin": prometheusPluginProxy(upstream.srv.URL, basic)}}
		if r := api.do(t, http.MethodPost, "/api/v1/projects/"+other+"/dashboards", d); r.Status == http.StatusOK {
			t.Cleanup(func() { api.do(t, http.MethodDelete, "/api/v1/projects/"+other+"/dashboards/"+dash, nil) })
			refused("dashboard-foreign", api.do(t, http.MethodGet, "/proxy/projects/"+other+"/dashboards/"+dash+"/datasources/local/api/v1/query?query=case_dashboard_foreign", nil))
		} else {
			t.Logf("dashboard with a local datasource refused at creation: %s", r)
		}

		// A caller cannot point a saved datasource of the owner at another path to
		// read the secret back: what comes back is the upstream's answer only.
		r = api.do(t, http.MethodGet, "/proxy/projects/"+owner+"/datasources/"+dsOwner+"/api/v1/status/config?query=case_other_path", nil)
		assertNoSecretInResponse(t, "other path", r, secretValues)
	})
}

func unsavedProxyBody(plugin object) object {
	return object{"method": http.MethodGet, "spec": object{"default": false, "plugin": plugin}}
}

func assertNoSecretIn(t *testing.T, where, text string, values []string) {
	t.Helper()
	for _, v := range values {
		assert.NotContainsf(t, text, v, "%s reveals a secret value", where)
	}
}

func assertNoSecretInResponse(t *testing.T, where string, r apiResponse, values []string) {
	t.Helper()
	assertNoSecretIn(t, where+" (body)", string(r.Body), values)
	headers, _ := json.Marshal(r.Header)
	assertNoSecretIn(t, where+" (headers)", string(headers), values)
}

// --- (c) GHSA-vr5f-w35q-98jp: file database path traversal ---

// TestAdvisoryFileDatabasePathTraversal probes names and projects that a file database
// could take for paths. It runs on a Perses of its own: a probe that works may delete
// folders of the database (DELETE /api/v1/projects/.. removes <db>/folders/.. = <db>).
// After every probe the test checks that files outside the database folder are unread
// and untouched, that a bystander project is intact and that no file appeared outside.
func TestAdvisoryFileDatabasePathTraversal(t *testing.T) {
	t.Parallel()
	inst := isolatedPerses(t)
	api := &apiClient{base: inst.url, http: newAPIClient(t).http}
	marker := uniqueName(t, "victim-marker")

	// Victims outside the database folder: a file one and two levels above it, and a folder.
	// <dir>/db is the database; <dir>/victim.json, <dir>/victimdir/keep.json.
	victimFile := filepath.Join(inst.dir, "victim.json")
	victimDir := filepath.Join(inst.dir, "victimdir")
	victimDashboard := func(project, name string) []byte {
		d := markdownDashboard(project, name, marker)
		data, err := json.Marshal(d)
		require.NoError(t, err)
		return data
	}
	plant := func() {
		require.NoError(t, os.WriteFile(victimFile, victimDashboard("p", "victim"), 0o600))
		require.NoError(t, os.MkdirAll(filepath.Join(victimDir, "dashboards"), 0o750))
		require.NoError(t, os.WriteFile(filepath.Join(victimDir, "keep.json"), victimDashboard("victimdir", "keep"), 0o600))
		require.NoError(t, os.WriteFile(filepath.Join(victimDir, "dashboards", "keep.json"), victimDashboard("victimdir", "keep"), 0o600))
	}
	plant()

	const project, bystander = "traversal", "bystander"
	api.expect(t, http.StatusOK, http.MethodPost, "/api/v1/projects", projectResource(project))
	api.expect(t, http.StatusOK, http.MethodPost, "/api/v1/projects", projectResource(bystander))
	api.expect(t, http.StatusOK, http.MethodPost, "/api/v1/projects/"+bystander+"/dashboards", markdownDashboard(bystander, "still-here", "bystander"))
	api.expect(t, http.StatusOK, http.MethodPost, "/api/v1/projects/"+bystander+"/secrets", secretResource(bystander, "kept-secret", object{"authorization": object{"type": "Bearer", "credentials": "bystander-token"}}))

	outsideBefore := filesOutside(t, inst.dir, inst.dbFolder)

	intact := func(probe string) bool {
		t.Helper()
		ok := true
		for _, f := range []string{victimFile, filepath.Join(victimDir, "keep.json"), filepath.Join(victimDir, "dashboards", "keep.json")} {
			if _, err := os.Stat(f); err != nil {
				t.Errorf("%s: %s outside the database was removed", probe, f)
				ok = false
			}
		}
		if r := api.do(t, http.MethodGet, "/api/v1/projects/"+bystander+"/dashboards/still-here", nil); r.Status != http.StatusOK {
			t.Errorf("%s: the bystander project's dashboard is gone: %s", probe, r)
			ok = false
		}
		if r := api.do(t, http.MethodGet, "/api/v1/projects/"+project, nil); r.Status != http.StatusOK {
			t.Errorf("%s: the project %s is gone: %s", probe, project, r)
			ok = false
		}
		after := filesOutside(t, inst.dir, inst.dbFolder)
		if !assert.Equalf(t, outsideBefore, after, "%s: files outside the database folder changed", probe) {
			ok = false
		}
		return ok
	}
	restore := func() {
		plant()
		for _, p := range []string{project, bystander} {
			api.do(t, http.MethodPost, "/api/v1/projects", projectResource(p))
		}
		api.do(t, http.MethodPost, "/api/v1/projects/"+bystander+"/dashboards", markdownDashboard(bystander, "still-here", "bystander"))
	}

	type probe struct {
		method, uri string
		body        any
		label       string // what the body names, for the report
	}
	var probes []probe
	// Encodings of "../": plain and encoded dots, encoded, upper-case, double-encoded and
	// back slashes. From <db>/dashboards/<project>/<name>.json, three levels up is <dir>.
	for _, e := range []struct{ dot, sep string }{{"..", "%2f"}, {"..", "%2F"}, {"%2e%2e", "%2f"}, {"..", "%252f"}, {"..", "%5c"}} {
		up := func(n int, rest string) string { return strings.Repeat(e.dot+e.sep, n) + rest }
		probes = append(probes,
			probe{http.MethodGet, "/api/v1/projects/" + project + "/dashboards/" + up(3, "victim"), nil, ""},
			probe{http.MethodGet, "/api/v1/projects/" + up(2, "victim"), nil, ""},
			probe{http.MethodGet, "/api/v1/projects/" + up(2, "victimdir") + "/dashboards", nil, ""},
			probe{http.MethodGet, "/api/v1/dashboards?project=" + up(2, "victimdir"), nil, ""},
			probe{http.MethodGet, "/api/v1/dashboards?project=" + up(1, ".."), nil, ""},
			probe{http.MethodGet, "/api/v1/projects/" + project + "/dashboards?project=" + up(2, "victimdir"), nil, ""},
			probe{http.MethodPut, "/api/v1/projects/" + project + "/dashboards/" + up(3, "victim"), victimDashboard(project, up(3, "victim")), "dashboard " + up(3, "victim")},
			probe{http.MethodDelete, "/api/v1/projects/" + project + "/dashboards/" + up(3, "victim"), nil, ""},
			probe{http.MethodDelete, "/api/v1/projects/" + up(2, "victimdir"), nil, ""},
		)
	}
	// "." and ".." are valid by upstream's name pattern, yet as a path segment they name
	// the folder itself or its parent: <db>/folders/.. is <db>.
	for _, dot := range []string{".", "..", "%2e", "%2e%2e", ".%2e"} {
		plain := strings.ReplaceAll(dot, "%2e", ".")
		probes = append(probes,
			probe{http.MethodGet, "/api/v1/dashboards?project=" + dot, nil, ""},
			probe{http.MethodGet, "/api/v1/secrets?project=" + dot, nil, ""},
			probe{http.MethodGet, "/api/v1/projects/" + project + "/dashboards/" + dot, nil, ""},
			probe{http.MethodPost, "/api/v1/projects", projectResource(plain), "project " + plain},
			probe{http.MethodPost, "/api/v1/projects/" + project + "/dashboards", markdownDashboard(project, plain, "created by a probe"), "dashboard " + plain},
			probe{http.MethodDelete, "/api/v1/projects/" + project + "/dashboards/" + dot, nil, ""},
			probe{http.MethodDelete, "/api/v1/projects/" + dot, nil, ""},
		)
	}

	var accepted, damaging []string
	for _, p := range probes {
		name := p.method + " " + p.uri
		if p.label != "" {
			name += " (" + p.label + ")"
		}
		r := api.doRaw(t, p.method, p.uri, p.body)
		if r.Status < 400 {
			t.Errorf("%s: want a 4xx refusal, got %s", name, truncate(r.String(), 300))
			accepted = append(accepted, name)
		} else if r.Status >= 500 {
			t.Errorf("%s: want a 4xx refusal, got a server error %s", name, truncate(r.String(), 300))
		}
		assert.NotContainsf(t, string(r.Body), marker, "%s read a file outside the database folder", name)
		assert.NotContainsf(t, string(r.Body), "bystander-token", "%s read a secret file", name)
		if !intact(name) {
			damaging = append(damaging, name)
			restore()
		}
		// Every file of the database sits in a kind's folder, under a name that is not a dot name.
		for _, f := range filesOutside(t, inst.dbFolder, "") {
			rel := strings.TrimPrefix(f, string(filepath.Separator))
			if !strings.Contains(rel, string(filepath.Separator)) || strings.HasPrefix(filepath.Base(rel), ".") {
				t.Errorf("%s: wrote %s in the database folder", name, f)
				_ = os.Remove(filepath.Join(inst.dbFolder, rel))
			}
		}
	}
	if len(accepted)+len(damaging) > 0 {
		t.Errorf("summary: of %d probes, %d were accepted and %d damaged data (whatever they answered):\n  accepted: %s\n  damaging: %s",
			len(probes), len(accepted), len(damaging), strings.Join(accepted, ", "), strings.Join(damaging, ", "))
	}
}

// filesOutside lists the files below root, skipping the folder skip and the
// Prometheus and plugin folders that change on their own.
func filesOutside(t *testing.T, root, skip string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (path == skip || d.Name() == "plugins-runtime" || d.Name() == "prometheus") {
			return filepath.SkipDir
		}
		if !d.IsDir() && !strings.HasSuffix(path, ".log") {
			out = append(out, strings.TrimPrefix(path, root))
		}
		return nil
	})
	require.NoError(t, err)
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("%s… (%d bytes)", s[:n], len(s))
}
