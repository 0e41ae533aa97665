package access

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/openshift-ai/observability/extension/identity"
	"github.com/perses/perses/pkg/model/api/v1/role"
	"github.com/tidwall/gjson"
)

// Target is what a request asks of a project, read from its path (and, for creations
// at a kind's root, from metadata.project of its body) before upstream routes it.
type Target struct {
	Project string
	Scope   role.Scope
	Action  role.Action
	List    bool
}

var kindScopes = map[string]role.Scope{
	"dashboards":          role.DashboardScope,
	"ephemeraldashboards": role.EphemeralDashboardScope,
	"datasources":         role.DatasourceScope,
	"folders":             role.FolderScope,
	"secrets":             role.SecretScope,
	"variables":           role.VariableScope,
	"roles":               role.RoleScope,
	"rolebindings":        role.RoleBindingScope,
	// Instantiating a template (POST …/templates/{id}/instantiate) creates a dashboard.
	"templates": role.DashboardScope,
	// Listing workloads (GET …/workloads) needs read on dashboards (the lists use the caller's own rights).
	"workloads": role.DashboardScope,
}

func actionOf(method string) role.Action {
	switch method {
	case http.MethodPost:
		return role.CreateAction
	case http.MethodPut, http.MethodPatch:
		return role.UpdateAction
	case http.MethodDelete:
		return role.DeleteAction
	}
	return role.ReadAction
}

// maxBody bounds the body read to find metadata.project.
const maxBody = 8 << 20

// TargetOf reads the target of a request; ok is false when it names no project.
func TargetOf(r *http.Request, apiPrefix string) (t Target, ok bool, err error) {
	path := strings.TrimPrefix(r.URL.EscapedPath(), apiPrefix)
	raw := strings.Split(strings.Trim(path, "/"), "/")
	segs := make([]string, len(raw))
	for i, s := range raw {
		if segs[i], err = url.PathUnescape(s); err != nil {
			return t, false, err
		}
	}
	action := actionOf(r.Method)
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case len(segs) >= 4 && segs[0] == "api" && segs[1] == "v1" && segs[2] == "projects":
		t = Target{Project: segs[3], Scope: role.ProjectScope, Action: action}
		if len(segs) >= 5 {
			scope, known := kindScopes[segs[4]]
			if !known {
				scope = role.Scope("unknown:" + segs[4])
			}
			t.Scope, t.List = scope, get && len(segs) == 5
		}
		return t, true, nil
	case len(segs) >= 4 && segs[0] == "proxy" && segs[1] == "projects":
		return Target{Project: segs[2], Scope: role.DatasourceScope, Action: role.ReadAction}, true, nil
	case len(segs) >= 5 && segs[0] == "proxy" && segs[1] == "unsaved" && segs[2] == "projects":
		return Target{Project: segs[3], Scope: role.DatasourceScope, Action: role.CreateAction}, true, nil
	case len(segs) == 3 && segs[0] == "api" && segs[1] == "v1":
		scope, known := kindScopes[segs[2]]
		if !known {
			return t, false, nil
		}
		if p := r.URL.Query().Get("project"); get && p != "" {
			return Target{Project: p, Scope: scope, Action: role.ReadAction, List: true}, true, nil
		}
		if r.Method == http.MethodPost && r.Body != nil {
			body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
			if err != nil {
				return t, false, err
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			if p := gjson.GetBytes(body, "metadata.project"); p.Type == gjson.String && p.String() != "" {
				return Target{Project: p.String(), Scope: scope, Action: role.CreateAction}, true, nil
			}
		}
	}
	return t, false, nil
}

// Guard authorises every request that names a project before upstream routes it:
// without a user 401, without the right 403 (the same answer whether the project exists
// or not), with the cluster unreachable and nothing cached 503. An allowed request to a
// namespace without a Perses project gets one created first, so upstream finds it.
func (p *Provider) Guard(apiPrefix string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			t, ok, err := TargetOf(c.Request(), apiPrefix)
			if err != nil {
				return echo.NewHTTPError(http.StatusBadRequest, "cannot read the request: "+err.Error())
			}
			if !ok {
				return next(c)
			}
			u, err := identity.UserOf(c)
			if err != nil {
				return identity.HTTPError(err)
			}
			a, err := Map(t.Action, t.Project, t.Scope, t.List)
			if err != nil {
				return forbidden(u, t)
			}
			allowed, err := p.decider.Allowed(c.Request().Context(), u, a)
			if err != nil {
				return httpError(err)
			}
			if !allowed {
				return forbidden(u, t)
			}
			creatingOrDeleting := t.Scope == role.ProjectScope && (t.Action == role.CreateAction || t.Action == role.DeleteAction)
			if !creatingOrDeleting {
				if err := p.ensureProject(t.Project); err != nil {
					return httpError(err)
				}
			}
			err = next(c)
			if t.Scope == role.ProjectScope && t.Action == role.DeleteAction {
				p.forget(t.Project)
			}
			return err
		}
	}
}

func forbidden(u *identity.User, t Target) error {
	return echo.NewHTTPError(http.StatusForbidden, fmt.Sprintf("forbidden: %s may not %s %s in project %q", u.Name, t.Action, t.Scope, t.Project))
}
