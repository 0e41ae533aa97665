package access

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"github.com/labstack/echo/v4"
	"github.com/openshift-ai/observability/extension/identity"
	"github.com/perses/perses/pkg/extend"
	v1 "github.com/perses/perses/pkg/model/api/v1"
	"github.com/perses/perses/pkg/model/api/v1/role"
)

// Provider wraps the identity provider with decisions by SubjectAccessReview.
type Provider struct {
	*identity.Provider
	decider *Decider
	// namespaces is the watched namespace list (existence, and the candidates for
	// project lists on plain Kubernetes).
	namespaces interface {
		List() ([]string, error)
		Exists(string) (bool, error)
	}
	// userProjects, when set, lists the namespaces a user sees (OpenShift projects).
	userProjects func(ctx context.Context, u *identity.User) ([]string, error)
	// store creates Perses projects; set in Setup, once upstream's store exists.
	store ProjectStore

	known sync.Map // Perses projects known to exist
}

var _ extend.Authorization = (*Provider)(nil)

// ProjectStore is what the provider needs of upstream's project store.
type ProjectStore interface {
	Exists(name string) bool
	Create(name string) error
}

// Decider returns the provider's decider (for the sharing capability and metrics).
func (p *Provider) Decider() *Decider { return p.decider }

func isList(ctx echo.Context) bool {
	return ctx.Request().Method == http.MethodGet && ctx.Param("name") == ""
}

// decide answers one upstream question.
func (p *Provider) decide(ctx echo.Context, action role.Action, project string, scope role.Scope, list bool) (bool, error) {
	u, err := identity.UserOf(ctx)
	if err != nil {
		return false, err
	}
	a, err := Map(action, project, scope, list)
	if err != nil {
		return false, err
	}
	return p.decider.Allowed(ctx.Request().Context(), u, a)
}

// HasPermission decides by SubjectAccessReview (cached). Internal calls (no request)
// are allowed, as upstream's own providers do: they are the server acting for itself.
func (p *Provider) HasPermission(ctx echo.Context, action role.Action, project string, scope role.Scope) bool {
	if ctx == nil {
		return true
	}
	ok, err := p.decide(ctx, action, project, scope, isList(ctx))
	return err == nil && ok
}

// HasCreateProjectPermission: the namespace must exist and the user may create projects in it.
func (p *Provider) HasCreateProjectPermission(ctx echo.Context, name string) bool {
	if exists, err := p.namespaces.Exists(name); err != nil || !exists {
		return false
	}
	return p.HasPermission(ctx, role.CreateAction, name, role.ProjectScope)
}

// GetUserProjects lists the namespaces the user may read scope in: all ("*") when the
// cluster allows it everywhere; otherwise the user's visible namespaces each checked
// (from the cache when warm). Perses projects are created for the namespaces listed.
func (p *Provider) GetUserProjects(ctx echo.Context, action role.Action, scope role.Scope) ([]string, error) {
	u, err := identity.UserOf(ctx)
	if err != nil {
		return nil, identity.HTTPError(err)
	}
	if role.IsGlobalScope(scope) {
		return []string{v1.WildcardProject}, nil
	}
	rctx := ctx.Request().Context()
	a, err := Map(action, "", scope, true)
	if err != nil {
		return []string{}, nil //nolint:nilerr // an unmapped kind lists nothing
	}
	all, err := p.decider.Allowed(rctx, u, a)
	if err != nil {
		return nil, httpError(err)
	}
	candidates, err := p.visible(rctx, u)
	if err != nil {
		return nil, httpError(err)
	}
	var out []string
	for _, ns := range candidates {
		if !all {
			a.Namespace = ns
			ok, err := p.decider.Allowed(rctx, u, a)
			if err != nil {
				return nil, httpError(err)
			}
			if !ok {
				continue
			}
		}
		out = append(out, ns)
	}
	if scope == role.ProjectScope {
		for _, ns := range out {
			if err := p.ensureProject(ns); err != nil {
				return nil, httpError(err)
			}
		}
	}
	if all && scope != role.ProjectScope {
		return []string{v1.WildcardProject}, nil
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}

func (p *Provider) visible(ctx context.Context, u *identity.User) ([]string, error) {
	if p.userProjects != nil && u.Token() != "" {
		return p.userProjects(ctx, u)
	}
	return p.namespaces.List()
}

// ensureProject creates the Perses project of an existing namespace when it is missing.
func (p *Provider) ensureProject(name string) error {
	if _, ok := p.known.Load(name); ok || p.store == nil {
		return nil
	}
	if !p.store.Exists(name) {
		exists, err := p.namespaces.Exists(name)
		if err != nil {
			return err
		}
		if !exists {
			return nil
		}
		if err := p.store.Create(name); err != nil && !p.store.Exists(name) {
			return err
		}
	}
	p.known.Store(name, true)
	return nil
}

// forget drops a project from the known set (its namespace or project was deleted).
func (p *Provider) forget(name string) { p.known.Delete(name) }

// projectScopes are the scopes GetPermissions reports per project.
var projectScopes = []role.Scope{role.ProjectScope, role.DashboardScope, role.DatasourceScope, role.VariableScope, role.SecretScope, role.FolderScope, role.EphemeralDashboardScope}

var allActions = []role.Action{role.ReadAction, role.CreateAction, role.UpdateAction, role.DeleteAction}

// GetPermissions reports, for the UI, what the user may do in each visible project and
// globally (decisions from the same cache).
func (p *Provider) GetPermissions(ctx echo.Context) (map[string][]*role.Permission, error) {
	u, err := identity.UserOf(ctx)
	if err != nil {
		return nil, identity.HTTPError(err)
	}
	rctx := ctx.Request().Context()
	out := map[string][]*role.Permission{}
	collect := func(project string, scopes []role.Scope) error {
		for _, s := range scopes {
			var acts []role.Action
			for _, act := range allActions {
				a, err := Map(act, project, s, false)
				if err != nil {
					break
				}
				ok, err := p.decider.Allowed(rctx, u, a)
				if err != nil {
					return err
				}
				if ok {
					acts = append(acts, act)
				}
			}
			if len(acts) > 0 {
				out[project] = append(out[project], &role.Permission{Actions: acts, Scopes: []role.Scope{s}})
			}
		}
		return nil
	}
	if err := collect(v1.WildcardProject, []role.Scope{role.GlobalDatasourceScope, role.GlobalVariableScope, role.GlobalSecretScope}); err != nil {
		return nil, httpError(err)
	}
	projects, err := p.GetUserProjects(ctx, role.ReadAction, role.ProjectScope)
	if err != nil {
		return nil, err
	}
	for _, ns := range projects {
		if err := collect(ns, projectScopes); err != nil {
			return nil, httpError(err)
		}
	}
	return out, nil
}

// httpError is the answer for an access error: the one place they become statuses.
func httpError(err error) error {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return err
	}
	if errors.Is(err, identity.ErrNoCredentials) || errors.Is(err, identity.ErrInvalidCredentials) || errors.Is(err, identity.ErrUnavailable) {
		return identity.HTTPError(err)
	}
	switch StatusOf(err) {
	case http.StatusServiceUnavailable:
		return echo.NewHTTPError(http.StatusServiceUnavailable, "cannot check permissions now (the cluster's API is unreachable); retry later")
	default:
		return echo.NewHTTPError(http.StatusForbidden, "forbidden")
	}
}
