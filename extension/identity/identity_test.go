package identity

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	upstreamconfig "github.com/perses/perses/pkg/model/api/config"
	"github.com/perses/perses/pkg/model/api/v1/role"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBearerToken(t *testing.T) {
	for _, tc := range []struct {
		header  string
		want    string
		wantErr error
	}{
		{header: "", wantErr: ErrNoCredentials},
		{header: "Bearer abc", want: "abc"},
		{header: "bearer  abc ", want: "abc"},
		{header: "Basic YWxpY2U6cHc=", wantErr: ErrInvalidCredentials},
		{header: "Bearer", wantErr: ErrInvalidCredentials},
		{header: "Bearer ", wantErr: ErrInvalidCredentials},
		{header: "Bearer " + strings.Repeat("x", MaxTokenLength+1), wantErr: ErrInvalidCredentials},
	} {
		t.Run(fmt.Sprintf("%.20q", tc.header), func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			got, err := BearerToken(r)
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestCheckListenAddress(t *testing.T) {
	for _, tc := range []struct {
		addr  string
		force bool
		ok    bool
	}{
		{"127.0.0.1:8080", false, true},
		{"[::1]:8080", false, true},
		{"localhost:8080", false, true},
		{"127.0.0.2:8080", false, true},
		{":8080", false, false},
		{"0.0.0.0:8080", false, false},
		{"[::]:8080", false, false},
		{"10.1.2.3:8080", false, false},
		{"perses.example.com:8080", false, false},
		{"0.0.0.0:8080", true, true},
		{"garbage", false, false},
	} {
		t.Run(fmt.Sprintf("%s force=%v", tc.addr, tc.force), func(t *testing.T) {
			err := CheckListenAddress(tc.addr, tc.force)
			if tc.ok {
				assert.NoError(t, err)
			} else {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "development mode")
			}
		})
	}
}

// fakeClock is a settable clock for cache tests.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestTokenCache(t *testing.T) {
	alice := &User{Name: "alice", Groups: []string{"team-a"}, Method: MethodToken}
	type step struct {
		advance   time.Duration
		token     string
		wantUser  string
		wantErr   error
		wantCalls int // reviews sent so far
	}
	for _, tc := range []struct {
		name    string
		answers map[string]error // token -> error of the fake review (nil: alice)
		steps   []step
	}{
		{name: "success remembered for the success TTL", answers: map[string]error{"good": nil}, steps: []step{
			{token: "good", wantUser: "alice", wantCalls: 1},
			{advance: 59 * time.Second, token: "good", wantUser: "alice", wantCalls: 1},
			{advance: time.Second, token: "good", wantUser: "alice", wantCalls: 2},
		}},
		{name: "failure remembered for the failure TTL", answers: map[string]error{"bad": ErrInvalidCredentials}, steps: []step{
			{token: "bad", wantErr: ErrInvalidCredentials, wantCalls: 1},
			{advance: 9 * time.Second, token: "bad", wantErr: ErrInvalidCredentials, wantCalls: 1},
			{advance: time.Second, token: "bad", wantErr: ErrInvalidCredentials, wantCalls: 2},
		}},
		{name: "unavailable never remembered", answers: map[string]error{"t": ErrUnavailable}, steps: []step{
			{token: "t", wantErr: ErrUnavailable, wantCalls: 1},
			{token: "t", wantErr: ErrUnavailable, wantCalls: 2},
		}},
		{name: "tokens are told apart", answers: map[string]error{"good": nil, "bad": ErrInvalidCredentials}, steps: []step{
			{token: "good", wantUser: "alice", wantCalls: 1},
			{token: "bad", wantErr: ErrInvalidCredentials, wantCalls: 2},
			{token: "good", wantUser: "alice", wantCalls: 2},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
			calls := 0
			c := NewTokenCache(func(_ context.Context, token string) (*User, error) {
				calls++
				if err := tc.answers[token]; err != nil {
					return nil, fmt.Errorf("%w: fake", err)
				}
				return alice, nil
			}, time.Minute, 10*time.Second)
			c.now = clock.now
			for i, s := range tc.steps {
				clock.t = clock.t.Add(s.advance)
				u, err := c.Review(context.Background(), s.token)
				if s.wantErr != nil {
					assert.ErrorIs(t, err, s.wantErr, "step %d", i)
				} else {
					require.NoError(t, err, "step %d", i)
					assert.Equal(t, s.wantUser, u.Name)
					assert.Equal(t, s.token, u.Token(), "the user carries the token presented")
				}
				assert.Equal(t, s.wantCalls, calls, "reviews after step %d", i)
			}
		})
	}
}

func TestTokenCacheKeepsOnlyHashesAndIsBounded(t *testing.T) {
	c := NewTokenCache(func(_ context.Context, _ string) (*User, error) { return &User{Name: "u"}, nil }, time.Minute, time.Second)
	c.maxEntries = 3
	for i := range 10 {
		_, err := c.Review(context.Background(), fmt.Sprintf("secret-token-%d", i))
		require.NoError(t, err)
	}
	assert.LessOrEqual(t, c.Len(), 3)
	for k, e := range c.entries {
		assert.NotContains(t, string(k[:]), "secret-token")
		assert.Empty(t, e.user.Token(), "the cached user holds no token")
	}
}

// serve runs a request through Filter and the provider's route middleware, as the
// server composes them, and returns the recorder.
func serve(t *testing.T, authn Authenticator, development bool, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	e := echo.New()
	p := NewProvider(authn, development)
	e.Pre(Filter(authn, development))
	e.GET("/api/v1/user/whoami", func(c echo.Context) error {
		u, err := p.GetPublicUser(c)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, u)
	}, p.Middleware(nil))
	e.GET("/api/config", func(c echo.Context) error { return c.String(http.StatusOK, "anonymous") })
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, r)
	return rec
}

func TestFilterAndMiddleware(t *testing.T) {
	review := func(_ context.Context, token string) (*User, error) {
		switch token {
		case "alice-token":
			return &User{Name: "alice", Groups: []string{"team-a"}, Method: MethodToken}, nil
		case "down":
			return nil, fmt.Errorf("%w: connection refused", ErrUnavailable)
		}
		return nil, fmt.Errorf("%w: unknown token", ErrInvalidCredentials)
	}
	bearer := BearerChain{TokenReview: review}
	for _, tc := range []struct {
		name       string
		authn      Authenticator
		dev        bool
		path       string
		header     string
		wantStatus int
		wantBody   string
		wantDev    bool
	}{
		{name: "token user", authn: bearer, path: "/api/v1/user/whoami", header: "Bearer alice-token", wantStatus: 200, wantBody: `"name":"alice"`},
		{name: "no credentials", authn: bearer, path: "/api/v1/user/whoami", wantStatus: 401, wantBody: "authentication required"},
		{name: "bad token", authn: bearer, path: "/api/v1/user/whoami", header: "Bearer nope", wantStatus: 401, wantBody: "invalid credentials"},
		{name: "basic auth", authn: bearer, path: "/api/v1/user/whoami", header: "Basic eDp5", wantStatus: 401},
		{name: "reviewer down", authn: bearer, path: "/api/v1/user/whoami", header: "Bearer down", wantStatus: 503, wantBody: "unreachable"},
		{name: "anonymous route, bad token", authn: bearer, path: "/api/config", header: "Bearer nope", wantStatus: 200},
		{name: "development: no credentials needed", authn: NewDevelopment("dev", []string{"g"}), dev: true, path: "/api/v1/user/whoami", wantStatus: 200, wantBody: `"name":"dev"`, wantDev: true},
		{name: "development: header on anonymous routes too", authn: NewDevelopment("dev", nil), dev: true, path: "/api/config", wantStatus: 200, wantDev: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tc.path, nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			rec := serve(t, tc.authn, tc.dev, r)
			assert.Equal(t, tc.wantStatus, rec.Code, rec.Body.String())
			assert.Contains(t, rec.Body.String(), tc.wantBody)
			if tc.wantStatus >= 400 {
				assert.Equal(t, echo.MIMEApplicationJSON, strings.Split(rec.Header().Get("Content-Type"), ";")[0])
			}
			assert.Equal(t, tc.wantDev, rec.Header().Get(HeaderDevelopmentMode) != "")
		})
	}
}

func TestProviderDecisionsWithoutAccess(t *testing.T) {
	ctxWith := func(u *User) echo.Context {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if u != nil {
			r = r.WithContext(WithUser(r.Context(), u))
		}
		return echo.New().NewContext(r, httptest.NewRecorder())
	}
	dev := NewProvider(NewDevelopment("dev", nil), true)
	closed := NewProvider(BearerChain{}, false)
	u := &User{Name: "alice"}

	assert.True(t, dev.HasPermission(ctxWith(u), role.DeleteAction, "any", role.DashboardScope))
	assert.True(t, dev.HasCreateProjectPermission(ctxWith(u), "any"))
	projects, err := dev.GetUserProjects(ctxWith(u), role.ReadAction, role.DashboardScope)
	require.NoError(t, err)
	assert.Equal(t, []string{"*"}, projects)

	assert.False(t, closed.HasPermission(ctxWith(u), role.ReadAction, "any", role.DashboardScope), "without access, nothing is allowed")
	assert.False(t, closed.HasCreateProjectPermission(ctxWith(u), "any"))
	projects, err = closed.GetUserProjects(ctxWith(u), role.ReadAction, role.DashboardScope)
	require.NoError(t, err)
	assert.Empty(t, projects)

	_, err = closed.GetUserProjects(ctxWith(nil), role.ReadAction, role.DashboardScope)
	var he *echo.HTTPError
	require.True(t, errors.As(err, &he))
	assert.Equal(t, http.StatusUnauthorized, he.Code)
	name, err := closed.GetUsername(ctxWith(nil))
	assert.NoError(t, err)
	assert.Empty(t, name)
}

func TestDevelopmentConfigTellsClientsAuthIsOff(t *testing.T) {
	var up upstreamconfig.Config
	up.Security.EnableAuth = true
	up.Security.Authentication.Providers.KubernetesProvider.Enable = true
	up.Security.Authorization.Provider.Kubernetes.Enable = true
	e := echo.New()
	e.Pre(DevelopmentConfig("/prefix", up))
	e.GET("/prefix/api/config", func(c echo.Context) error { return c.String(http.StatusTeapot, "upstream") })
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/prefix/api/config", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), `"enable_auth":false`)
	assert.NotContains(t, rec.Body.String(), `"kubernetes":{"enable":true`)
	assert.True(t, up.Security.EnableAuth, "the server's own configuration is untouched")
}
