package access

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/openshift-ai/observability/extension/identity"
	"github.com/perses/perses/pkg/model/api/v1/role"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMap(t *testing.T) {
	for _, tc := range []struct {
		action  role.Action
		project string
		scope   role.Scope
		list    bool
		want    Attributes
		wantErr bool
	}{
		{role.ReadAction, "team-a", role.DashboardScope, false, Attributes{"team-a", "get", "dashboards", ""}, false},
		{role.ReadAction, "team-a", role.DashboardScope, true, Attributes{"team-a", "list", "dashboards", ""}, false},
		{role.CreateAction, "team-a", role.DashboardScope, true, Attributes{"team-a", "create", "dashboards", ""}, false},
		{role.UpdateAction, "team-a", role.DatasourceScope, false, Attributes{"team-a", "update", "datasources", ""}, false},
		{role.DeleteAction, "team-a", role.VariableScope, false, Attributes{"team-a", "delete", "variables", ""}, false},
		{role.ReadAction, "team-a", role.SecretScope, false, Attributes{"team-a", "get", "secrets", ""}, false},
		{role.ReadAction, "team-a", role.ProjectScope, false, Attributes{"team-a", "get", "projects", ""}, false},
		{role.ReadAction, "*", role.GlobalDatasourceScope, false, Attributes{"", "get", "globaldatasources", ""}, false},
		{role.CreateAction, "team-a", role.GlobalVariableScope, false, Attributes{"", "create", "globalvariables", ""}, false},
		{role.WildcardAction, "*", role.WildcardScope, false, Attributes{"", "*", "*", ""}, false},
		{role.ReadAction, "team-a", role.RoleScope, false, Attributes{}, true},
		{role.ReadAction, "*", role.GlobalRoleBindingScope, false, Attributes{}, true},
	} {
		t.Run(fmt.Sprintf("%s %s %s list=%v", tc.action, tc.project, tc.scope, tc.list), func(t *testing.T) {
			got, err := Map(tc.action, tc.project, tc.scope, tc.list)
			if tc.wantErr {
				assert.ErrorIs(t, err, ErrNotMapped)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestDeciderTTLs(t *testing.T) {
	alice := &identity.User{Name: "alice", Groups: []string{"team-a", "system:authenticated"}}
	aliceOtherOrder := &identity.User{Name: "alice", Groups: []string{"system:authenticated", "team-a"}}
	get := Attributes{Namespace: "team-a", Verb: "get", Resource: "dashboards"}
	del := Attributes{Namespace: "team-a", Verb: "delete", Resource: "dashboards"}
	type step struct {
		advance   time.Duration
		user      *identity.User
		attrs     Attributes
		down      bool
		want      bool
		wantErr   bool
		wantCalls int
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{name: "allow cached for the allow TTL", steps: []step{
			{user: alice, attrs: get, want: true, wantCalls: 1},
			{advance: 59 * time.Second, user: aliceOtherOrder, attrs: get, want: true, wantCalls: 1},
			{advance: time.Second, user: alice, attrs: get, want: true, wantCalls: 2},
		}},
		{name: "deny cached for the deny TTL", steps: []step{
			{user: alice, attrs: del, want: false, wantCalls: 1},
			{advance: 9 * time.Second, user: alice, attrs: del, want: false, wantCalls: 1},
			{advance: time.Second, user: alice, attrs: del, want: false, wantCalls: 2},
		}},
		{name: "cluster down: cached decisions hold, others fail closed", steps: []step{
			{user: alice, attrs: get, want: true, wantCalls: 1},
			{down: true, user: alice, attrs: get, want: true, wantCalls: 1},
			{down: true, user: alice, attrs: del, wantErr: true, wantCalls: 2},
			{down: true, advance: time.Minute, user: alice, attrs: get, wantErr: true, wantCalls: 3},
			{user: alice, attrs: get, want: true, wantCalls: 4},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Unix(1_700_000_000, 0)
			calls, down := 0, false
			d := NewDecider(func(_ context.Context, _ *identity.User, a Attributes) (bool, error) {
				calls++
				if down {
					return false, fmt.Errorf("%w: connection refused", ErrUnavailable)
				}
				return a.Verb == "get", nil
			}, time.Minute, 10*time.Second)
			d.now = func() time.Time { return now }
			for i, s := range tc.steps {
				now = now.Add(s.advance)
				down = s.down
				got, err := d.Allowed(context.Background(), s.user, s.attrs)
				if s.wantErr {
					assert.ErrorIs(t, err, ErrUnavailable, "step %d", i)
					assert.False(t, got)
				} else {
					require.NoError(t, err, "step %d", i)
					assert.Equal(t, s.want, got, "step %d", i)
				}
				assert.Equal(t, s.wantCalls, calls, "reviews after step %d", i)
			}
		})
	}
}

func TestTargetOf(t *testing.T) {
	for _, tc := range []struct {
		method, path, body string
		want               Target
		ok                 bool
	}{
		{"GET", "/api/v1/projects/team-a", "", Target{"team-a", role.ProjectScope, role.ReadAction, false}, true},
		{"DELETE", "/api/v1/projects/team-a", "", Target{"team-a", role.ProjectScope, role.DeleteAction, false}, true},
		{"GET", "/api/v1/projects/team-a/dashboards", "", Target{"team-a", role.DashboardScope, role.ReadAction, true}, true},
		{"GET", "/api/v1/projects/team-a/dashboards/d1", "", Target{"team-a", role.DashboardScope, role.ReadAction, false}, true},
		{"PUT", "/api/v1/projects/team-a/datasources/x", "", Target{"team-a", role.DatasourceScope, role.UpdateAction, false}, true},
		{"POST", "/api/v1/projects/team%2Da/variables", "", Target{"team-a", role.VariableScope, role.CreateAction, false}, true},
		{"GET", "/proxy/projects/team-a/datasources/prom/api/v1/query", "", Target{"team-a", role.DatasourceScope, role.ReadAction, false}, true},
		{"POST", "/proxy/unsaved/projects/team-a/datasources/api/v1/query", "", Target{"team-a", role.DatasourceScope, role.CreateAction, false}, true},
		{"POST", "/api/v1/projects/team-a/templates/model-serving/instantiate", `{"dashboard_name":"d"}`, Target{"team-a", role.DashboardScope, role.CreateAction, false}, true},
		{"POST", "/api/v1/projects/team-a/dashboards/d1/clone", `{}`, Target{"team-a", role.DashboardScope, role.CreateAction, false}, true},
		{"GET", "/api/v1/projects/team-a/workloads", "", Target{"team-a", role.DashboardScope, role.ReadAction, true}, true},
		{"GET", "/api/v1/templates", "", Target{}, false},
		{"GET", "/api/v1/templates/notebook", "", Target{}, false},
		{"GET", "/api/v1/dashboards?project=team-b", "", Target{"team-b", role.DashboardScope, role.ReadAction, true}, true},
		{"POST", "/api/v1/dashboards", `{"kind":"Dashboard","metadata":{"name":"d","project":"team-b"}}`, Target{"team-b", role.DashboardScope, role.CreateAction, false}, true},
		{"GET", "/prefix/api/v1/projects/team-a", "", Target{"team-a", role.ProjectScope, role.ReadAction, false}, true},
		{"GET", "/api/v1/dashboards", "", Target{}, false},
		{"GET", "/api/v1/projects", "", Target{}, false},
		{"POST", "/api/v1/projects", `{"kind":"Project","metadata":{"name":"x"}}`, Target{}, false},
		{"GET", "/api/v1/globaldatasources", "", Target{}, false},
		{"GET", "/api/config", "", Target{}, false},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			prefix := ""
			if strings.HasPrefix(tc.path, "/prefix") {
				prefix = "/prefix"
			}
			got, ok, err := TargetOf(r, prefix)
			require.NoError(t, err)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, got)
		})
	}
}

type fakeNamespaces map[string]bool

func (f fakeNamespaces) List() ([]string, error) {
	var out []string
	for n := range f {
		out = append(out, n)
	}
	return out, nil
}
func (f fakeNamespaces) Exists(n string) (bool, error) { return f[n], nil }

type fakeStore map[string]bool

func (f fakeStore) Exists(n string) bool  { return f[n] }
func (f fakeStore) Create(n string) error { f[n] = true; return nil }

func TestGuard(t *testing.T) {
	alice := &identity.User{Name: "alice", Groups: []string{"team-a"}}
	review := func(_ context.Context, u *identity.User, a Attributes) (bool, error) {
		if a.Namespace == "down" {
			return false, ErrUnavailable
		}
		return u.InGroup(a.Namespace) && (a.Verb != "delete" || a.Resource != "projects"), nil
	}
	for _, tc := range []struct {
		name       string
		user       *identity.User
		method     string
		path       string
		wantStatus int
		wantCreate bool
	}{
		{name: "own project: passes, project created on demand", user: alice, method: "GET", path: "/api/v1/projects/team-a/dashboards", wantStatus: 200, wantCreate: true},
		{name: "other existing project: 403", user: alice, method: "GET", path: "/api/v1/projects/team-b/dashboards", wantStatus: 403},
		{name: "missing project: the same 403", user: alice, method: "GET", path: "/api/v1/projects/nowhere/dashboards", wantStatus: 403},
		{name: "no user: 401", method: "GET", path: "/api/v1/projects/team-a/dashboards", wantStatus: 401},
		{name: "cluster down: 503", user: &identity.User{Name: "x", Groups: []string{"down"}}, method: "GET", path: "/api/v1/projects/down", wantStatus: 503},
		{name: "unmapped kind: 403", user: alice, method: "GET", path: "/api/v1/projects/team-a/roles", wantStatus: 403},
		{name: "no project named: passes", method: "GET", path: "/api/v1/globaldatasources", wantStatus: 200},
		{name: "instantiate a template in own project: passes", user: alice, method: "POST", path: "/api/v1/projects/team-a/templates/notebook/instantiate", wantStatus: 200, wantCreate: true},
		{name: "instantiate a template in another project: 403", user: alice, method: "POST", path: "/api/v1/projects/team-b/templates/notebook/instantiate", wantStatus: 403},
		{name: "clone in another project: 403", user: alice, method: "POST", path: "/api/v1/projects/team-b/dashboards/d/clone", wantStatus: 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := fakeStore{"team-b": true}
			p := &Provider{
				Provider:   identity.NewProvider(identity.BearerChain{}, false),
				decider:    NewDecider(review, time.Minute, time.Second),
				namespaces: fakeNamespaces{"team-a": true, "team-b": true},
				store:      store,
			}
			e := echo.New()
			e.Pre(func(next echo.HandlerFunc) echo.HandlerFunc {
				return func(c echo.Context) error {
					if tc.user != nil {
						c.SetRequest(c.Request().WithContext(identity.WithUser(c.Request().Context(), tc.user)))
					}
					return next(c)
				}
			}, p.Guard(""))
			e.Any("/*", func(c echo.Context) error { return c.String(http.StatusOK, "upstream") })
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			assert.Equal(t, tc.wantStatus, rec.Code, rec.Body.String())
			assert.Equal(t, tc.wantCreate, store["team-a"])
			if rec.Code == 403 {
				assert.NotContains(t, rec.Body.String(), "exist")
			}
		})
	}
}
