package extension

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/openshift-ai/observability/extension/config"
	"github.com/openshift-ai/observability/extension/health"
	"github.com/openshift-ai/observability/extension/host"
	"github.com/perses/perses/pkg/extend"
	modelAPI "github.com/perses/perses/pkg/model/api"
	v1 "github.com/perses/perses/pkg/model/api/v1"
	v1Role "github.com/perses/perses/pkg/model/api/v1/role"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/version"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// storeFake is the smallest store: nothing is ever found, health is what the test says.
type storeFake struct{ healthy bool }

var _ extend.DAO = (*storeFake)(nil)

var errNotFound = &extend.StoreError{Code: 404, Key: "fake"}

func (s *storeFake) Close() error                                          { return nil }
func (s *storeFake) Init() error                                           { return nil }
func (s *storeFake) IsCaseSensitive() bool                                 { return true }
func (s *storeFake) Create(modelAPI.Entity) error                          { return nil }
func (s *storeFake) Upsert(modelAPI.Entity) error                          { return nil }
func (s *storeFake) Get(v1.Kind, modelAPI.Metadata, modelAPI.Entity) error { return errNotFound }
func (s *storeFake) Query(extend.Query, any) error                         { return nil }
func (s *storeFake) RawQuery(extend.Query) ([]json.RawMessage, error)      { return nil, nil }
func (s *storeFake) RawMetadataQuery(extend.Query, v1.Kind) ([]json.RawMessage, error) {
	return nil, nil
}
func (s *storeFake) Delete(v1.Kind, modelAPI.Metadata) error        { return errNotFound }
func (s *storeFake) DeleteByQuery(extend.Query) error               { return nil }
func (s *storeFake) HealthCheck() bool                              { return s.healthy }
func (s *storeFake) GetLatestUpdateTime([]v1.Kind) (*string, error) { return nil, nil }

// authzFake knows one user, whoever asks.
type authzFake struct{ user string }

var _ extend.Authorization = (*authzFake)(nil)

func (a *authzFake) IsEnabled() bool                          { return true }
func (a *authzFake) IsNativeAuthz() bool                      { return false }
func (a *authzFake) GetUser(echo.Context) (any, error)        { return a.user, nil }
func (a *authzFake) GetUsername(echo.Context) (string, error) { return a.user, nil }
func (a *authzFake) GetPublicUser(echo.Context) (*v1.PublicUser, error) {
	u := &v1.PublicUser{Kind: v1.KindUser}
	u.Metadata.Name = a.user
	return u, nil
}
func (a *authzFake) GetProviderInfo(echo.Context) (extend.ProviderInfo, error) {
	return extend.ProviderInfo{ProviderKind: "fake"}, nil
}
func (a *authzFake) Middleware(middleware.Skipper) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc { return next }
}
func (a *authzFake) GetUserProjects(echo.Context, v1Role.Action, v1Role.Scope) ([]string, error) {
	return nil, errors.New("not used")
}
func (a *authzFake) HasPermission(echo.Context, v1Role.Action, string, v1Role.Scope) bool {
	return true
}
func (a *authzFake) HasCreateProjectPermission(echo.Context, string) bool { return true }
func (a *authzFake) GetPermissions(echo.Context) (map[string][]*v1Role.Permission, error) {
	return nil, nil
}
func (a *authzFake) RefreshPermissions() error { return nil }

// testConfig loads a minimal configuration: upstream's file store in a temporary folder.
func testConfig(t *testing.T) config.Config {
	t.Helper()
	dir := t.TempDir()
	f := filepath.Join(dir, "config.yaml")
	body := fmt.Sprintf("database: {file: {folder: %s/data, extension: json}}\nplugin: {path: %s/plugins, archive_paths: []}\nfrontend: {disable: true}\nopenshift_ai: {prometheus: {datasource_name: ''}}\n", dir, dir)
	require.NoError(t, os.WriteFile(f, []byte(body), 0o600))
	conf, err := config.Load(f)
	require.NoError(t, err)
	return conf
}

// serve builds the whole server, with the given capabilities, as an http.Handler.
func serve(t *testing.T, caps []Capability) http.Handler {
	t.Helper()
	return handlerOf(t, testConfig(t), caps)
}

func handlerOf(t *testing.T, conf config.Config, caps []Capability) http.Handler {
	t.Helper()
	h, err := NewServer(conf, Options{Registry: prometheus.NewRegistry()}, caps)
	require.NoError(t, err)
	handler, err := h.Runner.HTTPServerBuilder().BuildHandler()
	require.NoError(t, err)
	return handler
}

func get(t *testing.T, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}

// The store and the authorization provider a capability prepares are the ones every
// upstream handler uses.
func TestSeamInjectsStoreAndAuthorization(t *testing.T) {
	for _, healthy := range []bool{true, false} {
		store := &storeFake{healthy: healthy}
		caps := []Capability{
			{Name: "inject", Prepare: func(p *host.Prepare) error {
				p.DAO = store
				p.Authorization = &authzFake{user: "seam-probe"}
				return nil
			}},
			{Name: "health", Setup: health.Setup},
		}
		h := serve(t, caps)

		rec := get(t, h, "/api/v1/user/whoami")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		assert.Contains(t, rec.Body.String(), `"seam-probe"`)

		rec = get(t, h, "/api/v1/projects/nowhere")
		assert.Equal(t, http.StatusNotFound, rec.Code, rec.Body.String())

		rec = get(t, h, health.Path)
		var st health.Status
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &st))
		if healthy {
			assert.Equal(t, http.StatusOK, rec.Code)
			assert.Equal(t, health.Status{Status: "healthy", Database: "connected", Version: st.Version}, st)
		} else {
			assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
			assert.Equal(t, "disconnected", st.Database)
		}
	}
}

// Without a capability preparing them, upstream builds its own store from the config:
// its file store creates its folder, and /health watches that folder.
func TestSeamLeavesUpstreamDefaults(t *testing.T) {
	conf := testConfig(t)
	folder := strings.ToLower(conf.Database.File.Folder)
	h := handlerOf(t, conf, []Capability{{Name: "health", Setup: health.Setup}})
	rec := get(t, h, health.Path)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.DirExists(t, folder)

	require.NoError(t, os.Rename(folder, folder+".gone"))
	rec = get(t, h, health.Path)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
	assert.JSONEq(t, fmt.Sprintf(`{"status":"unhealthy","database":"disconnected","version":%q}`, version.Version), rec.Body.String())
}

func TestCapabilityErrorsNameTheCapability(t *testing.T) {
	conf := testConfig(t)
	_, err := NewServer(conf, Options{Registry: prometheus.NewRegistry()}, []Capability{
		{Name: "broken", Prepare: func(*host.Prepare) error { return errors.New("boom") }},
	})
	require.EqualError(t, err, "broken: boom")
}
