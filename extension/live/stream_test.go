package live

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/openshift-ai/observability/extension/identity"
	"github.com/perses/perses/pkg/model/api/v1/role"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// authz is a function-type fake of upstream's authorization provider.
type authz struct {
	enabled bool
	deny    atomic.Bool
}

func (a *authz) IsEnabled() bool { return a.enabled }

func (a *authz) HasPermission(c echo.Context, action role.Action, project string, scope role.Scope) bool {
	return action == role.ReadAction && scope == role.DashboardScope && project == "team-a" && !a.deny.Load()
}

type testServer struct {
	url   string
	authz *authz
	store *store
	hub   *Hub
}

func startServer(t *testing.T, authEnabled, liveEnabled bool, maxPerUser int) *testServer {
	t.Helper()
	b, s := &backend{}, &store{}
	s.put(threeQueries(1))
	h := newTestHub(b, s)
	az := &authz{enabled: authEnabled}
	api := NewAPI("", liveEnabled, h, az, s.load, maxPerUser, 30*time.Millisecond, 10*time.Millisecond, nil)
	e := echo.New()
	// The user of a request, as identity's filter would put it.
	e.Pre(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if name := c.Request().Header.Get("X-Test-User"); name != "" {
				c.SetRequest(c.Request().WithContext(identity.WithUser(c.Request().Context(), &identity.User{Name: name})))
			}
			return next(c)
		}
	})
	e.Pre(Watch("", h))
	api.RegisterRoute(e)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	t.Cleanup(h.Close)
	return &testServer{url: srv.URL, authz: az, store: s, hub: h}
}

type sse struct{ typ, data string }

// open starts a stream and returns its answer and its events.
func open(t *testing.T, ctx context.Context, url, user string) (*http.Response, <-chan sse) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	if user != "" {
		req.Header.Set("X-Test-User", user)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	events := make(chan sse, 100)
	go func() {
		defer close(events)
		r := bufio.NewReader(resp.Body)
		var ev sse
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case line == "":
				if ev.typ != "" || ev.data != "" {
					events <- ev
				}
				ev = sse{}
			case strings.HasPrefix(line, "event: "):
				ev.typ = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			case strings.HasPrefix(line, "retry: "):
				ev.typ = "retry"
				ev.data = strings.TrimPrefix(line, "retry: ")
			}
		}
	}()
	return resp, events
}

// until reads events until one of type typ (failing after 5 s or at the end).
func until(t *testing.T, events <-chan sse, typ string) sse {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			require.True(t, ok, "the stream ended before a %s event", typ)
			if ev.typ == typ {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s event within 5 s", typ)
		}
	}
}

func TestStreamEvents(t *testing.T) {
	s := startServer(t, true, true, 10)
	resp, events := open(t, context.Background(), s.url+"/api/v1/projects/team-a/dashboards/d/stream?var-pod=p1", "alice")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/event-stream; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Equal(t, "no-cache", resp.Header.Get("Cache-Control"))
	assert.Equal(t, "no", resp.Header.Get("X-Accel-Buffering"))
	assert.Equal(t, sse{"retry", "10"}, <-events)
	panel := until(t, events, EventPanel)
	assert.Contains(t, panel.data, `"panel":"cpu"`)
	assert.Contains(t, panel.data, `pod=\"p1\"`)
	assert.Contains(t, until(t, events, EventHeartbeat).data, `"time":`)

	// A save the server was not told of (another replica's) is seen by the next poll.
	s.store.put(threeQueries(2))
	assert.Contains(t, until(t, events, EventDashboard).data, `"version":2`)

	// Deleted: the last events, then the end.
	s.store.remove("team-a", "d")
	assert.JSONEq(t, `{"project":"team-a","name":"d","deleted":true}`, until(t, events, EventDashboard).data)
	assert.Contains(t, until(t, events, EventClose).data, `"reason":"deleted"`)
	for range events {
	}
}

func TestStreamClosesWhenAccessEnds(t *testing.T) {
	s := startServer(t, true, true, 10)
	_, events := open(t, context.Background(), s.url+"/api/v1/projects/team-a/dashboards/d/stream", "alice")
	until(t, events, EventPanel)
	s.authz.deny.Store(true)
	ev := until(t, events, EventClose)
	assert.JSONEq(t, `{"reason":"access","message":"alice may no longer read dashboards in project \"team-a\""}`, ev.data)
	for range events {
	}
}

func TestStreamRefusals(t *testing.T) {
	on := startServer(t, true, true, 10)
	off := startServer(t, true, false, 10)
	for _, c := range []struct {
		name, url, user string
		status          int
		says            string
	}{
		{"no user", on.url + "/api/v1/projects/team-a/dashboards/d/stream", "", 401, "authentication required"},
		{"no right", on.url + "/api/v1/projects/team-b/dashboards/d/stream", "alice", 403, `alice may not read dashboards in project \"team-b\"`},
		{"missing dashboard", on.url + "/api/v1/projects/team-a/dashboards/nope/stream", "alice", 404, `dashboard \"nope\" in project \"team-a\"`},
		{"bad value", on.url + "/api/v1/projects/team-a/dashboards/d/stream?var-pod=%22%7D", "alice", 400, `variable \"pod\"`},
		{"short refresh", on.url + "/api/v1/projects/team-a/dashboards/d/stream?refresh=1ms", "alice", 400, "openshift_ai.live.min_interval"},
		{"unknown parameter", on.url + "/api/v1/projects/team-a/dashboards/d/stream?x=1", "alice", 400, `unknown parameter \"x\"`},
		{"disabled", off.url + "/api/v1/projects/team-a/dashboards/d/stream", "alice", 404, "openshift_ai.live.enabled"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, c.url, nil)
			require.NoError(t, err)
			if c.user != "" {
				req.Header.Set("X-Test-User", c.user)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			body := make([]byte, 4096)
			n, _ := resp.Body.Read(body)
			assert.Equal(t, c.status, resp.StatusCode, "%s", body[:n])
			assert.Contains(t, string(body[:n]), c.says)
		})
	}
}

func TestStreamLimitPerUser(t *testing.T) {
	s := startServer(t, true, true, 2)
	url := s.url + "/api/v1/projects/team-a/dashboards/d/stream"
	ctx, cancel := context.WithCancel(context.Background())
	for range 2 {
		resp, events := open(t, ctx, url, "alice")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		until(t, events, EventPanel)
	}
	third, _ := open(t, context.Background(), url, "alice")
	assert.Equal(t, http.StatusTooManyRequests, third.StatusCode)
	// Another user has a limit of their own.
	other, events := open(t, context.Background(), url, "bob")
	assert.Equal(t, http.StatusOK, other.StatusCode)
	until(t, events, EventPanel)
	assert.Equal(t, 1, s.hub.Pollers(), "every stream of the dashboard shares one poller")
	// Closing streams gives the places back.
	cancel()
	require.Eventually(t, func() bool {
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		require.NoError(t, err)
		req.Header.Set("X-Test-User", "alice")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 5*time.Second, 20*time.Millisecond)
}

func TestStreamAnonymousWhenAuthenticationIsOff(t *testing.T) {
	s := startServer(t, false, true, 1)
	url := s.url + "/api/v1/projects/team-a/dashboards/d/stream"
	resp, events := open(t, context.Background(), url, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	until(t, events, EventPanel)
	// The limit then counts per client address.
	second, _ := open(t, context.Background(), url, "")
	assert.Equal(t, http.StatusTooManyRequests, second.StatusCode)
}

func TestWatchNotifiesAfterSuccessfulWrites(t *testing.T) {
	b, s := &backend{}, &store{}
	d := threeQueries(1)
	d.RefreshInterval = time.Hour
	s.put(d)
	h := newTestHub(b, s)
	defer h.Close()
	sub, err := h.Subscribe(Key{Project: "team-a", Dashboard: "d"}, nil)
	require.NoError(t, err)
	collect(t, sub, 1)
	e := echo.New()
	e.Pre(Watch("/prefix", h))
	status := http.StatusOK
	e.PUT("/prefix/api/v1/projects/:project/dashboards/:name", func(c echo.Context) error {
		if status != http.StatusOK {
			return echo.NewHTTPError(status, "refused")
		}
		return c.JSON(status, map[string]string{})
	})
	put := func() {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "/prefix/api/v1/projects/team-a/dashboards/d", nil))
	}
	s.put(threeQueries(2))
	status = http.StatusConflict
	put() // a refused write: no notification
	time.Sleep(100 * time.Millisecond)
	assert.Empty(t, sub.C)
	status = http.StatusOK
	put()
	batches := collect(t, sub, 1)
	assert.Equal(t, EventDashboard, batches[0][0].Type)
}

func TestProjectPath(t *testing.T) {
	for _, c := range []struct {
		path string
		want []string
	}{
		{"/api/v1/projects/team-a/dashboards/d", []string{"team-a", "dashboards", "d"}},
		{"/p/api/v1/projects/team%2Da/dashboards/d/stream", []string{"team-a", "dashboards", "d", "stream"}},
		{"/api/v1/projects/team-a", []string{"team-a"}},
		{"/api/v1/projects/", nil},
		{"/api/v1/dashboards", nil},
		{"/api/v1/projects/a//b", nil},
	} {
		got, ok := projectPath(c.path, "/p")
		assert.Equal(t, c.want != nil, ok, c.path)
		assert.Equal(t, c.want, got, c.path)
	}
}
