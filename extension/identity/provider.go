package identity

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/perses/perses/pkg/extend"
	v1 "github.com/perses/perses/pkg/model/api/v1"
	"github.com/perses/perses/pkg/model/api/v1/role"
)

// Provider is upstream's Authorization provider: it reports the user the
// authentication filter (Filter) put in the request, and answers 401 (or 503) on
// protected routes without one. Its own decisions are all-or-nothing: everything in
// development mode, nothing otherwise; the access capability wraps it with real ones.
type Provider struct {
	authn       Authenticator
	development bool
	// login is the browser login, when configured.
	login *Login
}

var _ extend.Authorization = (*Provider)(nil)

// NewProvider returns the provider for authn; development allows every action.
func NewProvider(authn Authenticator, development bool) *Provider {
	return &Provider{authn: authn, development: development}
}

// Authenticator is what recognises users.
func (p *Provider) Authenticator() Authenticator { return p.authn }

// Login is the browser login (nil when not configured).
func (p *Provider) Login() *Login { return p.login }

// Development says whether every request is the developer.
func (p *Provider) Development() bool { return p.development }

// IsEnabled is true: upstream checks permissions and filters lists through us.
func (p *Provider) IsEnabled() bool { return true }

// IsNativeAuthz is false: users and roles live in the cluster, not in Perses.
func (p *Provider) IsNativeAuthz() bool { return false }

// UserOf returns the request's user, or why there is none.
func UserOf(ctx echo.Context) (*User, error) {
	if ctx == nil || ctx.Request() == nil {
		return nil, ErrNoCredentials
	}
	if u, ok := UserFrom(ctx.Request().Context()); ok {
		return u, nil
	}
	return nil, FailureFrom(ctx.Request().Context())
}

// GetUser returns the *User, or nil for a request without one (internal calls,
// anonymous routes).
func (p *Provider) GetUser(ctx echo.Context) (any, error) {
	u, err := UserOf(ctx)
	if err != nil {
		return nil, nil //nolint:nilerr // no user is an answer here, as upstream expects
	}
	return u, nil
}

// GetUsername returns the user's name, "" without a user.
func (p *Provider) GetUsername(ctx echo.Context) (string, error) {
	u, err := UserOf(ctx)
	if err != nil {
		return "", nil //nolint:nilerr // as GetUser
	}
	return u.Name, nil
}

// GetPublicUser is what GET /api/v1/user/whoami answers.
func (p *Provider) GetPublicUser(ctx echo.Context) (*v1.PublicUser, error) {
	u, err := UserOf(ctx)
	if err != nil {
		return nil, err
	}
	return &v1.PublicUser{Kind: v1.KindUser, Metadata: v1.NewPublicMetadata(u.Name), Spec: v1.PublicUserSpec{}}, nil
}

// GetProviderInfo is empty: there is no upstream login provider behind the user.
func (p *Provider) GetProviderInfo(_ echo.Context) (extend.ProviderInfo, error) {
	return extend.ProviderInfo{}, nil
}

// Middleware is what upstream puts on every protected route: a user is required.
func (p *Provider) Middleware(skipper middleware.Skipper) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if skipper != nil && skipper(c) {
				return next(c)
			}
			if _, err := UserOf(c); err != nil {
				return HTTPError(err)
			}
			return next(c)
		}
	}
}

// HTTPError is the answer to a request whose user could not be recognised.
func HTTPError(err error) *echo.HTTPError {
	status := StatusOf(err)
	msg := "authentication required: " + err.Error()
	switch {
	case status == http.StatusServiceUnavailable:
		msg = "cannot verify credentials now (the identity service is unreachable); retry later"
	case errors.Is(err, ErrInvalidCredentials):
		msg = "invalid credentials"
	}
	return echo.NewHTTPError(status, msg)
}

// GetUserProjects: everything in development mode, nothing otherwise.
func (p *Provider) GetUserProjects(ctx echo.Context, _ role.Action, _ role.Scope) ([]string, error) {
	if _, err := UserOf(ctx); err != nil {
		return nil, HTTPError(err)
	}
	if p.development {
		return []string{v1.WildcardProject}, nil
	}
	return []string{}, nil
}

// HasPermission: everything in development mode (internal calls too), nothing otherwise.
func (p *Provider) HasPermission(ctx echo.Context, _ role.Action, _ string, _ role.Scope) bool {
	return p.development
}

// HasCreateProjectPermission as HasPermission.
func (p *Provider) HasCreateProjectPermission(ctx echo.Context, _ string) bool {
	return p.development
}

// GetPermissions: every action on every scope in development mode, none otherwise.
func (p *Provider) GetPermissions(ctx echo.Context) (map[string][]*role.Permission, error) {
	if _, err := UserOf(ctx); err != nil {
		return nil, HTTPError(err)
	}
	if !p.development {
		return map[string][]*role.Permission{}, nil
	}
	return map[string][]*role.Permission{v1.WildcardProject: {{
		Actions: []role.Action{role.WildcardAction}, Scopes: []role.Scope{role.WildcardScope},
	}}}, nil
}

// RefreshPermissions has nothing to refresh: decisions are cached with their own TTLs.
func (p *Provider) RefreshPermissions() error { return nil }
