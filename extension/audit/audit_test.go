package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/openshift-ai/observability/extension/identity"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type memory struct {
	mu      sync.Mutex
	records []Record
}

func (m *memory) Write(_ context.Context, r Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.records = append(m.records, r)
	return nil
}

func (m *memory) take() []Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.records
	m.records = nil
	return out
}

// testServer: a user from the X-Test-User header (as identity's filter would), the
// recorder, a guard refusing project "secret" before routing, and a few routes.
func testServer(t *testing.T, trusted ...string) (*echo.Echo, *memory, *bytes.Buffer) {
	t.Helper()
	var nets []*net.IPNet
	for _, s := range trusted {
		_, n, err := net.ParseCIDR(s)
		require.NoError(t, err)
		nets = append(nets, n)
	}
	mem, lines := &memory{}, &bytes.Buffer{}
	rec := NewRecorder("", SourceExtractor(nets), mem, NewLines(lines))
	rec.now = func() time.Time { return time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC) }
	e := echo.New()
	e.Pre(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if name := c.Request().Header.Get("X-Test-User"); name != "" {
				u := &identity.User{Name: name, Groups: []string{"team-a"}}
				c.SetRequest(c.Request().WithContext(identity.WithUser(c.Request().Context(), u)))
			}
			return next(c)
		}
	})
	e.Pre(rec.Filter())
	e.Pre(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if strings.Contains(c.Request().URL.Path, "/projects/secret") {
				return echo.NewHTTPError(http.StatusForbidden, "forbidden")
			}
			return next(c)
		}
	})
	ok := func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{}) }
	e.GET("/api/v1/projects/:project/dashboards/:name", ok)
	e.POST("/api/v1/projects/:project/dashboards", ok)
	e.PUT("/api/v1/projects/:project/dashboards/:name", ok)
	e.DELETE("/api/v1/projects/:project/dashboards/:name", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	e.POST("/api/v1/globaldatasources", func(c echo.Context) error { return echo.NewHTTPError(http.StatusConflict, "exists") })
	e.GET("/api/v1/user/whoami", func(c echo.Context) error { return echo.NewHTTPError(http.StatusUnauthorized, "who?") })
	e.POST("/api/validate/dashboards", ok)
	return e, mem, lines
}

func TestRecorder(t *testing.T) {
	cases := []struct {
		name, method, path, user string
		header                   map[string]string
		want                     *Record // nil: nothing recorded
	}{
		{name: "create", method: http.MethodPost, path: "/api/v1/projects/team-a/dashboards", user: "alice",
			want: &Record{User: "alice", Groups: []string{"team-a"}, Action: "POST /api/v1/projects/:project/dashboards", Kind: "Dashboard", Project: "team-a", Status: 200}},
		{name: "update", method: http.MethodPut, path: "/api/v1/projects/team-a/dashboards/d1", user: "alice",
			want: &Record{User: "alice", Groups: []string{"team-a"}, Action: "PUT /api/v1/projects/:project/dashboards/:name", Kind: "Dashboard", Project: "team-a", Name: "d1", Status: 200}},
		{name: "delete", method: http.MethodDelete, path: "/api/v1/projects/team-a/dashboards/d1", user: "alice",
			want: &Record{User: "alice", Groups: []string{"team-a"}, Action: "DELETE /api/v1/projects/:project/dashboards/:name", Kind: "Dashboard", Project: "team-a", Name: "d1", Status: 204}},
		{name: "failed mutation keeps its status", method: http.MethodPost, path: "/api/v1/globaldatasources", user: "alice",
			want: &Record{User: "alice", Groups: []string{"team-a"}, Action: "POST /api/v1/globaldatasources", Kind: "GlobalDatasource", Status: 409}},
		{name: "403 before routing", method: http.MethodGet, path: "/api/v1/projects/secret/dashboards/d1", user: "bob",
			want: &Record{User: "bob", Groups: []string{"team-a"}, Action: "GET /api/v1/projects/:project/dashboards/:name", Kind: "Dashboard", Project: "secret", Name: "d1", Status: 403}},
		{name: "401 without a user", method: http.MethodGet, path: "/api/v1/user/whoami",
			want: &Record{Groups: []string{}, Action: "GET /api/v1/user/whoami", Kind: "User", Name: "whoami", Status: 401}},
		{name: "read is not recorded", method: http.MethodGet, path: "/api/v1/projects/team-a/dashboards/d1", user: "alice"},
		{name: "mutation of an unknown route is recorded", method: http.MethodPost, path: "/api/v1/nothing", user: "alice",
			want: &Record{User: "alice", Groups: []string{"team-a"}, Action: "POST /api/v1/nothing", Kind: "nothing", Status: 404}},
		{name: "outside /api is not", method: http.MethodPost, path: "/proxy/x", user: "alice"},
	}
	e, mem, lines := testServer(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(c.method, c.path, strings.NewReader(`{"spec":{"secret":"hunter2"}}`))
			r.RemoteAddr = "192.0.2.7:5555"
			r.Header.Set("Authorization", "Bearer hunter2-token")
			r.Header.Set("X-Forwarded-For", "203.0.113.9")
			if c.user != "" {
				r.Header.Set("X-Test-User", c.user)
			}
			w := httptest.NewRecorder()
			e.ServeHTTP(w, r)
			rid := w.Header().Get(HeaderRequestID)
			assert.Len(t, rid, 32, "a request id is made when none is sent")
			got := mem.take()
			if c.want == nil {
				assert.Empty(t, got)
				return
			}
			require.Len(t, got, 1)
			want := *c.want
			want.Time, want.Source, want.RequestID = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC), "192.0.2.7", rid
			assert.Equal(t, want, got[0])
			assert.Equal(t, want.Status, w.Code)
		})
	}
	assert.NotContains(t, lines.String(), "hunter2", "no body, no Authorization header in the records")
	assert.Equal(t, 7, strings.Count(lines.String(), "\n"))
}

func TestRequestIDAndSource(t *testing.T) {
	cases := []struct {
		name, in, wantID string
		trusted          []string
		remote, xff      string
		wantSource       string
	}{
		{name: "client id kept", in: "abc-123", wantID: "abc-123", remote: "192.0.2.7:1", xff: "203.0.113.9", wantSource: "192.0.2.7"},
		{name: "id with a newline replaced", in: "a\nforged", remote: "192.0.2.7:1", wantSource: "192.0.2.7"},
		{name: "too long id replaced", in: strings.Repeat("a", 200), remote: "192.0.2.7:1", wantSource: "192.0.2.7"},
		{name: "XFF of a trusted proxy", trusted: []string{"192.0.2.0/24"}, remote: "192.0.2.7:1", xff: "203.0.113.9", wantSource: "203.0.113.9"},
		{name: "XFF of an untrusted peer", trusted: []string{"10.0.0.0/8"}, remote: "192.0.2.7:1", xff: "203.0.113.9", wantSource: "192.0.2.7"},
		{name: "spoofed chain through a trusted proxy", trusted: []string{"192.0.2.0/24"}, remote: "192.0.2.7:1", xff: "1.1.1.1, 203.0.113.9", wantSource: "203.0.113.9"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, mem, _ := testServer(t, c.trusted...)
			r := httptest.NewRequest(http.MethodPost, "/api/v1/projects/team-a/dashboards", nil)
			r.RemoteAddr = c.remote
			if c.in != "" {
				r.Header.Set(HeaderRequestID, c.in)
			}
			if c.xff != "" {
				r.Header.Set("X-Forwarded-For", c.xff)
			}
			w := httptest.NewRecorder()
			e.ServeHTTP(w, r)
			got := mem.take()
			require.Len(t, got, 1)
			if c.wantID != "" {
				assert.Equal(t, c.wantID, w.Header().Get(HeaderRequestID))
			} else {
				assert.Regexp(t, "^[0-9a-f]{32}$", w.Header().Get(HeaderRequestID))
			}
			assert.Equal(t, w.Header().Get(HeaderRequestID), got[0].RequestID)
			assert.Equal(t, c.wantSource, got[0].Source)
		})
	}
}

func TestParseQuery(t *testing.T) {
	cases := []struct {
		name, raw string
		want      Query
		wantErr   string
	}{
		{name: "defaults", raw: "", want: Query{Limit: DefaultLimit}},
		{name: "all", raw: "project=p&user=u&action=DELETE&since=2026-01-01T00:00:00Z&until=2026-02-01T00:00:00Z&limit=1000&continue=x",
			want: Query{Project: "p", User: "u", Action: "DELETE", Since: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), Limit: 1000, Continue: "x"}},
		{name: "limit too big", raw: "limit=1001", wantErr: "limit"},
		{name: "limit zero", raw: "limit=0", wantErr: "limit"},
		{name: "limit not a number", raw: "limit=ten", wantErr: "limit"},
		{name: "bad time", raw: "since=yesterday", wantErr: "since"},
		{name: "unknown parameter", raw: "projects=p", wantErr: "unknown parameter"},
		{name: "repeated parameter", raw: "user=a&user=b", wantErr: "2 times"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := url.ParseQuery(c.raw)
			require.NoError(t, err)
			q, err := ParseQuery(v)
			if c.wantErr != "" {
				require.ErrorIs(t, err, ErrBadQuery)
				assert.Contains(t, err.Error(), c.wantErr)
				assert.Equal(t, http.StatusBadRequest, StatusOf(err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, q)
		})
	}
}

func TestFileReaderFiltersAndPages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	f, err := OpenFile(path)
	require.NoError(t, err)
	l := NewLines(f)
	base := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	for i := range 25 {
		project, user, method := "team-a", "alice", "POST"
		if i%2 == 1 {
			project, user, method = "team-b", "bob", "DELETE"
		}
		require.NoError(t, l.Write(context.Background(), Record{
			Time: base.Add(time.Duration(i) * time.Second), User: user, Project: project, Name: "d" + string(rune('a'+i)),
			Action: method + " /api/v1/projects/:project/dashboards", Status: 200,
		}))
	}
	_, err = f.WriteString("not json\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	r := FileReader{Path: path}

	all := func(q Query) []Record {
		var out []Record
		for range 100 {
			p, err := r.Read(context.Background(), q)
			require.NoError(t, err)
			require.LessOrEqual(t, len(p.Items), q.Limit)
			out = append(out, p.Items...)
			if p.Continue == "" {
				return out
			}
			q.Continue = p.Continue
		}
		t.Fatal("paging does not end")
		return nil
	}
	got := all(Query{Limit: 4})
	require.Len(t, got, 25)
	for i := 1; i < len(got); i++ {
		assert.True(t, got[i-1].Time.After(got[i].Time), "newest first")
	}
	assert.Len(t, all(Query{Limit: 5, Project: "team-b"}), 12)
	assert.Len(t, all(Query{Limit: 100, User: "alice"}), 13)
	assert.Len(t, all(Query{Limit: 3, Action: "DELETE"}), 12)
	assert.Len(t, all(Query{Limit: 3, Action: "POST /api/v1/projects/:project/dashboards"}), 13)
	assert.Len(t, all(Query{Limit: 3, Since: base.Add(10 * time.Second), Until: base.Add(20 * time.Second)}), 10)

	_, err = r.Read(context.Background(), Query{Limit: 3, Continue: "%%%"})
	assert.ErrorIs(t, err, ErrBadQuery)
	p, err := FileReader{Path: filepath.Join(t.TempDir(), "none")}.Read(context.Background(), Query{Limit: 3})
	require.NoError(t, err)
	assert.Empty(t, p.Items)
}

func TestAPI(t *testing.T) {
	reader := readerFunc(func(_ context.Context, q Query) (Page, error) {
		return Page{Items: []Record{{User: "x", Groups: []string{}, Status: 201}}}, nil
	})
	isAdmin := func(_ echo.Context, u *identity.User) (bool, error) { return u.Name == "admin", nil }
	cases := []struct {
		name   string
		api    *API
		user   string
		query  string
		status int
		body   string
	}{
		{name: "off", api: NewAPI("", false, nil, nil), user: "admin", status: 404, body: "audit logging is off"},
		{name: "no user", api: NewAPI("", true, reader, isAdmin), status: 401},
		{name: "not an admin", api: NewAPI("", true, reader, isAdmin), user: "alice", status: 403, body: "forbidden"},
		{name: "nobody is admin", api: NewAPI("", true, reader, nil), user: "admin", status: 403},
		{name: "decision unavailable", api: NewAPI("", true, reader, func(echo.Context, *identity.User) (bool, error) {
			return false, context.DeadlineExceeded
		}), user: "admin", status: 503},
		{name: "stdout only", api: NewAPI("", true, nil, isAdmin), user: "admin", status: 501, body: "standard output only"},
		{name: "bad query", api: NewAPI("", true, reader, isAdmin), user: "admin", query: "?limit=5000", status: 400},
		{name: "admin", api: NewAPI("", true, reader, isAdmin), user: "admin", status: 200, body: `"items":[{`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := echo.New()
			c.api.RegisterRoute(e)
			r := httptest.NewRequest(http.MethodGet, Path+c.query, nil)
			if c.user != "" {
				r = r.WithContext(identity.WithUser(r.Context(), &identity.User{Name: c.user}))
			}
			w := httptest.NewRecorder()
			e.ServeHTTP(w, r)
			assert.Equal(t, c.status, w.Code, w.Body.String())
			assert.Contains(t, w.Body.String(), c.body)
			var body map[string]any
			assert.NoError(t, json.Unmarshal(w.Body.Bytes(), &body), "a JSON answer")
		})
	}
}

type readerFunc func(ctx context.Context, q Query) (Page, error)

func (f readerFunc) Read(ctx context.Context, q Query) (Page, error) { return f(ctx, q) }
