package templates

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/openshift-ai/observability/extension/identity"
	"github.com/perses/perses/pkg/extend"
	v1 "github.com/perses/perses/pkg/model/api/v1"
	"github.com/perses/perses/pkg/model/api/v1/role"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeAuthz allows what allow says; off means authorization is disabled.
type fakeAuthz struct {
	off   bool
	allow func(action role.Action, project string) bool
	asked []string
}

func (f *fakeAuthz) IsEnabled() bool { return !f.off }

func (f *fakeAuthz) HasPermission(_ echo.Context, action role.Action, project string, scope role.Scope) bool {
	f.asked = append(f.asked, fmt.Sprintf("%s %s %s", action, scope, project))
	return f.allow == nil || f.allow(action, project)
}

// fakeStore keeps dashboards by project/name; invalid, when set, fails every creation
// as upstream's validation would.
type fakeStore struct {
	dashboards map[string]*v1.Dashboard
	invalid    error
}

func (f *fakeStore) Get(project, name string) (*v1.Dashboard, error) {
	d, ok := f.dashboards[project+"/"+name]
	if !ok {
		return nil, fmt.Errorf("dashboard %q in project %q: %w", name, project, ErrNotFound)
	}
	return d, nil
}

func (f *fakeStore) Create(_ echo.Context, d *v1.Dashboard) (*v1.Dashboard, error) {
	if f.invalid != nil {
		return nil, f.invalid
	}
	key := d.Metadata.Project + "/" + d.Metadata.Name
	if _, ok := f.dashboards[key]; ok {
		return nil, fmt.Errorf("dashboard %q in project %q: %w", d.Metadata.Name, d.Metadata.Project, ErrExists)
	}
	f.dashboards[key] = d
	return d, nil
}

type apiFixture struct {
	e       *echo.Echo
	authz   *fakeAuthz
	store   *fakeStore
	created []string
}

func newFixture(t *testing.T) *apiFixture {
	t.Helper()
	f := &apiFixture{e: echo.New(), authz: &fakeAuthz{}, store: &fakeStore{dashboards: map[string]*v1.Dashboard{}}}
	api := NewAPI("", system(t), f.authz, f.store, false)
	api.OnCreate = func(source string) { f.created = append(f.created, source) }
	api.RegisterRoute(f.e)
	return f
}

// do sends a request as user (nil: none) and returns the status and body.
func (f *apiFixture) do(t *testing.T, user *identity.User, method, path, contentType, body string) (int, string) {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set(echo.HeaderContentType, contentType)
	}
	if user != nil {
		r = r.WithContext(identity.WithUser(r.Context(), user))
	}
	w := httptest.NewRecorder()
	f.e.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

var alice = &identity.User{Name: "alice", Groups: []string{"team-a"}}

const jsonType = "application/json"

func TestAPIListAndGet(t *testing.T) {
	f := newFixture(t)
	status, body := f.do(t, alice, http.MethodGet, "/api/v1/templates", "", "")
	require.Equal(t, http.StatusOK, status, body)
	var list []map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &list))
	require.Len(t, list, 4)
	assert.Equal(t, "model-serving", list[0]["id"])
	assert.NotContains(t, list[0], "dashboard")

	status, body = f.do(t, alice, http.MethodGet, "/api/v1/templates/notebook", "", "")
	require.Equal(t, http.StatusOK, status, body)
	var tp map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &tp))
	assert.Equal(t, "notebook", tp["id"])
	assert.Contains(t, body, `"dashboard":{`)
	assert.Contains(t, body, "{{.notebook_name}}", "the template shows its placeholders")

	status, body = f.do(t, alice, http.MethodGet, "/api/v1/templates/nope", "", "")
	assert.Equal(t, http.StatusNotFound, status)
	assert.Contains(t, body, `unknown template \"nope\"`)

	status, body = f.do(t, alice, http.MethodGet, "/api/v1/templates?category=training", "", "")
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body, `unknown parameter \"category\"`)
}

func TestAPIAuthentication(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{"/api/v1/templates", "/api/v1/templates/notebook"} {
		status, _ := f.do(t, nil, http.MethodGet, path, "", "")
		assert.Equal(t, http.StatusUnauthorized, status, path)
	}
	status, _ := f.do(t, nil, http.MethodPost, "/api/v1/projects/team-a/templates/notebook/instantiate", jsonType, `{"dashboard_name":"d","variables":{"notebook_name":"nb"}}`)
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Empty(t, f.store.dashboards)

	// With authorization off (upstream's enable_auth: false), anyone, as upstream.
	f.authz.off = true
	status, _ = f.do(t, nil, http.MethodGet, "/api/v1/templates", "", "")
	assert.Equal(t, http.StatusOK, status)
	status, body := f.do(t, nil, http.MethodPost, "/api/v1/projects/team-a/templates/notebook/instantiate", jsonType, `{"dashboard_name":"d","variables":{"notebook_name":"nb"}}`)
	assert.Equal(t, http.StatusCreated, status, body)
	assert.Empty(t, f.authz.asked, "no permission asked with authorization off")
}

func TestAPIInstantiate(t *testing.T) {
	f := newFixture(t)
	status, body := f.do(t, alice, http.MethodPost, "/api/v1/projects/Team-A/templates/model-serving/instantiate", jsonType,
		`{"dashboard_name":"Granite","variables":{"model_name":"granite-3.1-8b"}}`)
	require.Equal(t, http.StatusCreated, status, body)
	var d v1.Dashboard
	require.NoError(t, json.Unmarshal([]byte(body), &d))
	assert.Equal(t, "granite", d.Metadata.Name, "names are lower-cased unless the store is case-sensitive")
	assert.Equal(t, "team-a", d.Metadata.Project)
	assert.True(t, d.Metadata.Tags.Contains("template:model-serving"))
	assert.Equal(t, "Model serving: granite-3.1-8b", d.Spec.Display.Name)
	assert.Equal(t, []string{"create Dashboard team-a"}, f.authz.asked)
	assert.Equal(t, []string{"model-serving"}, f.created)

	status, body = f.do(t, alice, http.MethodPost, "/api/v1/projects/team-a/templates/notebook/instantiate", jsonType,
		`{"dashboard_name":"nb","display_name":"My workbench","variables":{"notebook_name":"nb"}}`)
	require.Equal(t, http.StatusCreated, status, body)
	assert.Equal(t, "My workbench", f.store.dashboards["team-a/nb"].Spec.Display.Name)
}

func TestAPIInstantiateRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, path, contentType, body string
		deny                          bool
		invalid                       error
		status                        int
		want                          string
	}{
		{name: "unknown template", path: "nope", body: `{"dashboard_name":"d"}`, status: 404, want: `unknown template`},
		{name: "missing required variable", body: `{"dashboard_name":"d","variables":{}}`, status: 400, want: `variable \"model_name\" (Model name) is required`},
		{name: "unknown variable", body: `{"dashboard_name":"d","variables":{"model_name":"m","namespace":"team-b"}}`, status: 400, want: `variable \"namespace\" is not a variable`},
		{name: "injection", body: `{"dashboard_name":"d","variables":{"model_name":"m\"} or up{x=\""}}`, status: 400, want: `variable \"model_name\"`},
		{name: "variable not a string", body: `{"dashboard_name":"d","variables":{"model_name":1}}`, status: 400, want: `variable \"model_name\": the value must be a string`},
		{name: "no dashboard name", body: `{"variables":{"model_name":"m"}}`, status: 400, want: `dashboard_name is required`},
		{name: "bad dashboard name", body: `{"dashboard_name":"a b","variables":{"model_name":"m"}}`, status: 400, want: `dashboard_name:`},
		{name: "display name too long", body: `{"dashboard_name":"d","display_name":"` + strings.Repeat("x", 129) + `","variables":{"model_name":"m"}}`, status: 400, want: `display_name is longer than 128`},
		{name: "unknown field", body: `{"dashboard_name":"d","project":"team-b","variables":{"model_name":"m"}}`, status: 400, want: `unknown field \"project\"`},
		{name: "two values", body: `{"dashboard_name":"d","variables":{"model_name":"m"}} {}`, status: 400, want: `more than one JSON value`},
		{name: "empty body", body: ``, status: 400, want: `dashboard_name is required`},
		{name: "not JSON", contentType: "text/plain", body: `dashboard_name=d`, status: 415, want: `application/json`},
		{name: "existing dashboard", body: `{"dashboard_name":"taken","variables":{"model_name":"m"}}`, status: 409, want: `dashboard \"taken\" in project \"team-a\": already exists`},
		{name: "forbidden", deny: true, body: `{"dashboard_name":"d","variables":{"model_name":"m"}}`, status: 403, want: `alice may not create dashboards in project \"team-a\"`},
		{name: "refused by upstream's validation", invalid: fmt.Errorf("%w: spec.panels.x: schema", extend.ErrBadRequest), body: `{"dashboard_name":"d","variables":{"model_name":"m"}}`, status: 400, want: `schema`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.store.dashboards["team-a/taken"] = &v1.Dashboard{}
			f.store.invalid = tc.invalid
			if tc.deny {
				f.authz.allow = func(role.Action, string) bool { return false }
			}
			id := tc.path
			if id == "" {
				id = "model-serving"
			}
			ct := tc.contentType
			if ct == "" {
				ct = jsonType
			}
			status, body := f.do(t, alice, http.MethodPost, "/api/v1/projects/team-a/templates/"+id+"/instantiate", ct, tc.body)
			assert.Equal(t, tc.status, status, body)
			assert.Contains(t, body, tc.want)
			assert.Len(t, f.store.dashboards, 1, "nothing created")
			assert.Empty(t, f.created)
		})
	}
}

func TestAPIClone(t *testing.T) {
	f := newFixture(t)
	spec, err := Notebook().Instantiate(map[string]string{"notebook_name": "nb"})
	require.NoError(t, err)
	original := &v1.Dashboard{Kind: v1.KindDashboard, Metadata: *v1.NewProjectMetadata("team-a", "nb"), Spec: spec}
	original.Metadata.Tags = map[string]struct{}{"template:notebook": {}}
	f.store.dashboards["team-a/nb"] = original

	status, body := f.do(t, alice, http.MethodPost, "/api/v1/projects/team-a/dashboards/nb/clone", "", "")
	require.Equal(t, http.StatusCreated, status, body)
	first := f.store.dashboards["team-a/nb-copy"]
	require.NotNil(t, first)
	assert.Equal(t, "Notebook: nb (copy)", first.Spec.Display.Name)
	assert.True(t, first.Metadata.Tags.Contains("template:notebook"))
	assert.Len(t, first.Spec.Panels, len(spec.Panels))
	assert.Equal(t, "Notebook: nb", original.Spec.Display.Name, "the original is not changed")
	assert.Equal(t, []string{"read Dashboard team-a", "create Dashboard team-a"}, f.authz.asked)

	status, body = f.do(t, alice, http.MethodPost, "/api/v1/projects/team-a/dashboards/nb/clone", jsonType, `{"name":"Second"}`)
	require.Equal(t, http.StatusCreated, status, body)
	assert.Equal(t, "Second", f.store.dashboards["team-a/nb-copy-2"].Spec.Display.Name, "the next free name")

	status, body = f.do(t, alice, http.MethodPost, "/api/v1/projects/team-a/dashboards/nb/clone", jsonType, `{"dashboard_name":"Mine","name":"Mine"}`)
	require.Equal(t, http.StatusCreated, status, body)
	assert.Contains(t, f.store.dashboards, "team-a/mine")
	assert.Equal(t, []string{"clone", "clone", "clone"}, f.created)

	for _, tc := range []struct {
		name, path, body string
		deny             role.Action
		status           int
		want             string
	}{
		{name: "existing name", path: "nb", body: `{"dashboard_name":"nb-copy"}`, status: 409, want: `dashboard \"nb-copy\" in project \"team-a\": already exists`},
		{name: "missing original", path: "nope", body: `{}`, status: 404, want: `dashboard \"nope\" in project \"team-a\"`},
		{name: "bad name", path: "nb", body: `{"dashboard_name":"../x"}`, status: 400, want: `dashboard_name`},
		{name: "display name too long", path: "nb", body: `{"name":"` + strings.Repeat("x", 129) + `"}`, status: 400, want: `name is longer than 128`},
		{name: "control character", path: "nb", body: `{"name":"a\u0007b"}`, status: 400, want: `control characters`},
		{name: "unknown field", path: "nb", body: `{"id":"x"}`, status: 400, want: `unknown field`},
		{name: "no read", path: "nb", body: `{}`, deny: role.ReadAction, status: 403, want: `may not read dashboards`},
		{name: "no create", path: "nb", body: `{}`, deny: role.CreateAction, status: 403, want: `may not create dashboards`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(f.store.dashboards)
			f.authz.allow = func(a role.Action, _ string) bool { return a != tc.deny }
			defer func() { f.authz.allow = nil }()
			status, body := f.do(t, alice, http.MethodPost, "/api/v1/projects/team-a/dashboards/"+tc.path+"/clone", jsonType, tc.body)
			assert.Equal(t, tc.status, status, body)
			assert.Contains(t, body, tc.want)
			assert.Len(t, f.store.dashboards, before)
		})
	}
}

// TestAPICloneRunsOutOfNames: after the twentieth copy, an explicit name is needed.
func TestAPICloneRunsOutOfNames(t *testing.T) {
	f := newFixture(t)
	f.store.dashboards["team-a/d"] = &v1.Dashboard{Kind: v1.KindDashboard, Metadata: *v1.NewProjectMetadata("team-a", "d")}
	for _, n := range copyNames("d") {
		f.store.dashboards["team-a/"+n] = &v1.Dashboard{}
	}
	status, body := f.do(t, alice, http.MethodPost, "/api/v1/projects/team-a/dashboards/d/clone", "", "")
	assert.Equal(t, http.StatusConflict, status, body)
}
