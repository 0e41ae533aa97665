package live

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/openshift-ai/observability/extension/identity"
	"github.com/perses/perses/pkg/model/api/v1/role"
	"github.com/prometheus/common/model"
)

// Path is the stream's route (after the API prefix).
const Path = "/api/v1/projects/:project/dashboards/:name/stream"

// Authorizer is what the stream asks of upstream's authorization provider.
type Authorizer interface {
	IsEnabled() bool
	HasPermission(c echo.Context, action role.Action, project string, scope role.Scope) bool
}

// Errors of the HTTP layer.
var (
	errDisabled    = errors.New("live updates are disabled (openshift_ai.live.enabled)")
	errForbidden   = errors.New("forbidden")
	errLimit       = errors.New("too many streams")
	errUnavailable = errors.New("unavailable")
)

// unauthenticated is a stream without a user; identity maps its error to 401 or 503.
type unauthenticated struct{ err error }

func (e *unauthenticated) Error() string { return e.err.Error() }
func (e *unauthenticated) Unwrap() error { return e.err }

// API serves the stream.
type API struct {
	path    string
	enabled bool
	hub     *Hub
	authz   Authorizer
	load    LoadFunc
	limits  *limiter
	// Heartbeat is the period of heartbeat events; MinInterval the least refresh a
	// stream may ask for; Retry the reconnection delay the stream advises.
	Heartbeat, MinInterval, Retry time.Duration
	// WriteTimeout bounds writing one event to a client that does not read.
	WriteTimeout time.Duration
	metrics      *Metrics
}

// NewAPI serves streams of hub's pollers; disabled answers 404.
func NewAPI(apiPrefix string, enabled bool, hub *Hub, authz Authorizer, load LoadFunc, maxPerUser int, heartbeat, minInterval time.Duration, m *Metrics) *API {
	return &API{
		path: apiPrefix + Path, enabled: enabled, hub: hub, authz: authz, load: load,
		limits: &limiter{max: maxPerUser, open: map[string]int{}}, Heartbeat: heartbeat, MinInterval: minInterval,
		Retry: minInterval, WriteTimeout: 30 * time.Second, metrics: m,
	}
}

// RegisterRoute registers the stream (upstream's APIRegistration).
func (a *API) RegisterRoute(e *echo.Echo) { e.GET(a.path, a.serve) }

func (a *API) String() string { return "GET " + a.path }

func (a *API) serve(c echo.Context) error {
	s, err := a.open(c)
	if err != nil {
		a.metrics.refusedStream(reasonOf(err))
		return httpError(err)
	}
	defer s.release()
	return a.stream(c, s)
}

// session is one open stream, before its events flow.
type session struct {
	user, project, name string
	interval            time.Duration
	sub                 *Subscription
	release             func()
}

// open authenticates, authorises, reads the parameters and the dashboard, takes a
// place under the user's limit and subscribes.
func (a *API) open(c echo.Context) (*session, error) {
	if !a.enabled {
		return nil, errDisabled
	}
	project, name := c.Param("project"), c.Param("name")
	user, err := a.user(c)
	if err != nil {
		return nil, err
	}
	if !a.authz.HasPermission(c, role.ReadAction, project, role.DashboardScope) {
		return nil, fmt.Errorf("%w: %s may not read dashboards in project %q", errForbidden, user, project)
	}
	params, err := ParseParams(c.QueryParams(), a.MinInterval)
	if err != nil {
		return nil, err
	}
	d, err := a.load(project, name)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: dashboard %q in project %q", ErrNotFound, name, project)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: the dashboard cannot be read: %v", errUnavailable, err)
	}
	release, ok := a.limits.acquire(user)
	if !ok {
		return nil, fmt.Errorf("%w: %s already has %d live streams open, the most a user may (openshift_ai.live.max_streams_per_user); close one first", errLimit, user, a.limits.max)
	}
	key := Key{Project: project, Dashboard: name, Vars: Canonical(params.Vars), Range: params.Range, Interval: params.Refresh}
	sub, err := a.hub.Subscribe(key, params.Vars)
	if err != nil {
		release()
		return nil, fmt.Errorf("%w: %v", errUnavailable, err)
	}
	return &session{
		user: user, project: project, name: name, interval: a.hub.Interval(d, params.Refresh), sub: sub,
		release: func() { sub.Close(); release() },
	}, nil
}

// user is who the stream's limit counts against: the authenticated user, or, with
// authentication off, the client's address.
func (a *API) user(c echo.Context) (string, error) {
	if !a.authz.IsEnabled() {
		host, _, err := net.SplitHostPort(c.Request().RemoteAddr)
		if err != nil {
			host = c.Request().RemoteAddr
		}
		return "anonymous@" + host, nil
	}
	u, err := identity.UserOf(c)
	if err != nil {
		return "", &unauthenticated{err}
	}
	return u.Name, nil
}

// stream writes events until the client leaves, the subscription ends, or access does.
func (a *API) stream(c echo.Context, s *session) error {
	a.metrics.opened()
	defer a.metrics.closed()
	w := &eventWriter{c: c, timeout: a.WriteTimeout, metrics: a.metrics}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	c.Response().WriteHeader(http.StatusOK)
	if err := w.raw(fmt.Sprintf("retry: %d\n: live updates of dashboard %s/%s, every %s\n\n", a.Retry.Milliseconds(), s.project, s.name, model.Duration(s.interval))); err != nil {
		return nil //nolint:nilerr // the client left
	}
	heartbeat := time.NewTicker(a.Heartbeat)
	defer heartbeat.Stop()
	recheck := time.NewTicker(s.interval)
	defer recheck.Stop()
	done := c.Request().Context().Done()
	for {
		select {
		case <-done:
			a.metrics.ended(ReasonClient)
			return nil
		case batch, ok := <-s.sub.C:
			if !ok {
				reason, detail := s.sub.Reason()
				a.metrics.ended(reason)
				_ = w.event(EventClose, closeData(reason, detail))
				return nil
			}
			for _, e := range batch {
				if err := w.event(e.Type, e.Data); err != nil {
					a.metrics.ended(ReasonClient)
					return nil
				}
			}
		case now := <-heartbeat.C:
			if err := w.event(EventHeartbeat, []byte(`{"time":"`+now.UTC().Format(time.RFC3339)+`"}`)); err != nil {
				a.metrics.ended(ReasonClient)
				return nil
			}
		case <-recheck.C:
			if !a.authz.HasPermission(c, role.ReadAction, s.project, role.DashboardScope) {
				a.metrics.ended(ReasonAccess)
				_ = w.event(EventClose, closeData(ReasonAccess, fmt.Sprintf("%s may no longer read dashboards in project %q", s.user, s.project)))
				return nil
			}
		}
	}
}

func closeData(reason, detail string) []byte {
	data, _ := json.Marshal(map[string]string{"reason": reason, "message": detail})
	return data
}

// eventWriter writes server-sent events, flushing each.
type eventWriter struct {
	c       echo.Context
	timeout time.Duration
	metrics *Metrics
}

func (w *eventWriter) raw(s string) error {
	rc := http.NewResponseController(w.c.Response().Writer)
	if w.timeout > 0 {
		_ = rc.SetWriteDeadline(time.Now().Add(w.timeout)) // unsupported writers: no deadline
	}
	if _, err := w.c.Response().Write([]byte(s)); err != nil {
		return err
	}
	if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// event writes one event; data is JSON on one line.
func (w *eventWriter) event(typ string, data []byte) error {
	if err := w.raw("event: " + typ + "\ndata: " + string(data) + "\n\n"); err != nil {
		return err
	}
	w.metrics.sent(typ)
	return nil
}

// limiter counts each user's open streams.
type limiter struct {
	max  int
	mu   sync.Mutex
	open map[string]int
}

func (l *limiter) acquire(user string) (func(), bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[user] >= l.max {
		return nil, false
	}
	l.open[user]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.open[user]--; l.open[user] <= 0 {
				delete(l.open, user)
			}
		})
	}, true
}

// reasonOf is the refusal's label in the metrics.
func reasonOf(err error) string {
	switch {
	case errors.Is(err, errDisabled):
		return "disabled"
	case errors.As(err, new(*unauthenticated)):
		return "unauthenticated"
	case errors.Is(err, errForbidden):
		return "forbidden"
	case errors.Is(err, ErrBadRequest):
		return "bad_request"
	case errors.Is(err, ErrNotFound):
		return "not_found"
	case errors.Is(err, errLimit):
		return "limit"
	default:
		return "unavailable"
	}
}

// httpError is the answer to a refused stream: the one place errors become statuses.
func httpError(err error) error {
	var ua *unauthenticated
	if errors.As(err, &ua) {
		return identity.HTTPError(ua.err)
	}
	switch reasonOf(err) {
	case "disabled", "not_found":
		return echo.NewHTTPError(http.StatusNotFound, err.Error())
	case "forbidden":
		return echo.NewHTTPError(http.StatusForbidden, err.Error())
	case "bad_request":
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	case "limit":
		return echo.NewHTTPError(http.StatusTooManyRequests, err.Error())
	}
	return echo.NewHTTPError(http.StatusServiceUnavailable, err.Error())
}
