package tenancy

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingStore answers one spec per datasource name and counts the reads.
type countingStore struct {
	specs map[string]string
	reads int
}

func (s *countingStore) Datasource(_, name string) (json.RawMessage, error) {
	s.reads++
	spec, ok := s.specs[name]
	if !ok {
		return nil, ErrNotFound
	}
	return json.RawMessage(spec), nil
}

func (s *countingStore) DashboardDatasource(_, _, name string) (json.RawMessage, error) {
	return s.Datasource("", name)
}

func (s *countingStore) GlobalDatasource(name string) (json.RawMessage, error) {
	return s.Datasource("", name)
}

func TestSpecCache(t *testing.T) {
	now := time.Unix(1700000000, 0)
	store := &countingStore{specs: map[string]string{"prom": `{"v":1}`}}
	cache := NewSpecCache(2 * time.Second)
	cache.now = func() time.Time { return now }
	p := &Proxy{Store: store, Cache: cache}
	rt := Route{Kind: RouteProject, Project: "team-a", Name: "prom"}

	get := func(rt Route) string {
		t.Helper()
		spec, err := p.lookup(rt)
		require.NoError(t, err)
		return string(spec)
	}
	assert.Equal(t, `{"v":1}`, get(rt))
	assert.Equal(t, `{"v":1}`, get(rt))
	assert.Equal(t, 1, store.reads, "read once within the TTL")

	// Keys: another project, a dashboard's datasource of the same name, a global one.
	get(Route{Kind: RouteProject, Project: "team-b", Name: "prom"})
	get(Route{Kind: RouteDashboard, Project: "team-a", Dashboard: "d", Name: "prom"})
	get(Route{Kind: RouteGlobal, Name: "prom"})
	assert.Equal(t, 4, store.reads, "each route kind and project is its own entry")

	// Expiry.
	store.specs["prom"] = `{"v":2}`
	now = now.Add(2 * time.Second)
	assert.Equal(t, `{"v":2}`, get(rt), "read again once the TTL is over")
	assert.Equal(t, 5, store.reads)

	// Not found is never kept.
	_, err := p.lookup(Route{Kind: RouteProject, Project: "team-a", Name: "missing"})
	require.Error(t, err)
	store.specs["missing"] = `{"v":3}`
	assert.Equal(t, `{"v":3}`, get(Route{Kind: RouteProject, Project: "team-a", Name: "missing"}))

	// Invalidation, and a read that raced with it is not kept.
	store.specs["prom"] = `{"v":4}`
	cache.Invalidate()
	assert.Equal(t, `{"v":4}`, get(rt))
	_, gen, ok := cache.get(keyOf(rt))
	require.True(t, ok)
	cache.Invalidate()
	cache.put(keyOf(rt), json.RawMessage(`{"v":"stale"}`), gen)
	_, _, ok = cache.get(keyOf(rt))
	assert.False(t, ok, "a spec read before an invalidation is not kept after it")

	// No cache: every lookup reads.
	reads := store.reads
	p.Cache = nil
	get(rt)
	get(rt)
	assert.Equal(t, reads+2, store.reads)
}

func TestSpecCacheBound(t *testing.T) {
	c := NewSpecCache(time.Minute)
	for i := range maxSpecs + 10 {
		c.put(specKey{name: string(rune('a' + i%26)), project: time.Duration(i).String()}, json.RawMessage(`{}`), 0)
	}
	assert.LessOrEqual(t, len(c.m), maxSpecs)
}

func TestSpecCacheMiddleware(t *testing.T) {
	cases := []struct {
		method, path string
		invalidates  bool
	}{
		{http.MethodGet, "/api/v1/projects/team-a/datasources/prom", false},
		{http.MethodPost, "/proxy/projects/team-a/datasources/prom/api/v1/query", false},
		{http.MethodPost, "/prefix/proxy/unsaved/projects/team-a/datasources/api/v1/query", false},
		{http.MethodPut, "/api/v1/projects/team-a/datasources/prom", true},
		{http.MethodDelete, "/api/v1/projects/team-a", true},
		{http.MethodPost, "/api/v1/datasources", true},
		{http.MethodPost, "/api/v1/globaldatasources", true},
		{http.MethodPatch, "/api/v1/projects/team-a/dashboards/d", true},
	}
	for _, tc := range cases {
		c := NewSpecCache(time.Minute)
		c.put(specKey{name: "prom"}, json.RawMessage(`{}`), 0)
		e := echo.New()
		rec := httptest.NewRecorder()
		ctx := e.NewContext(httptest.NewRequest(tc.method, tc.path, nil), rec)
		err := c.Middleware("/prefix")(func(echo.Context) error { return nil })(ctx)
		require.NoError(t, err)
		_, _, kept := c.get(specKey{name: "prom"})
		assert.Equalf(t, !tc.invalidates, kept, "%s %s", tc.method, tc.path)
	}
}
