package live

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/openshift-ai/observability/extension/host"
	"github.com/openshift-ai/observability/extension/tenancy"
	"github.com/perses/perses/pkg/extend"
)

// Setup registers the stream, the filter that tells the hub of dashboard writes, and
// the task that ends the streams when the server stops. It needs the tenancy capability
// set up before it: every query goes through its enforcement.
func Setup(h *host.Host) error {
	cfg := h.Config.OpenShiftAI.Live
	b := h.Runner.HTTPServerBuilder()
	authz := h.Deps.Service().GetAuthorization()
	if !cfg.Enabled {
		b.APIRegistration(NewAPI(h.Config.APIPrefix, false, nil, authz, nil, 1, time.Second, time.Second, nil))
		return nil
	}
	proxy := tenancy.Current()
	if proxy == nil {
		return errors.New("live needs the tenancy capability set up before it (its queries are confined to the project by tenancy)")
	}
	m := NewMetrics(h.Registry)
	load := daoLoader(h.Deps)
	hub := NewHub(proxy.Query, load, time.Duration(cfg.DefaultInterval), time.Duration(cfg.MinInterval))
	hub.OnQuery, hub.OnPollers = m.Query, m.Pollers
	b.PreMiddleware(Watch(h.Config.APIPrefix, hub))
	b.APIRegistration(NewAPI(h.Config.APIPrefix, true, hub, authz, load, cfg.MaxStreamsPerUser,
		time.Duration(cfg.Heartbeat), time.Duration(cfg.MinInterval), m))
	h.Runner.WithTasks(closeTask{hub})
	return nil
}

// daoLoader reads dashboards from upstream's store.
func daoLoader(deps extend.Manager) LoadFunc {
	return func(project, name string) (*Dashboard, error) {
		d, err := deps.Persistence().GetDashboard().Get(project, name)
		var se *extend.StoreError
		if errors.As(err, &se) && se.Code == http.StatusNotFound {
			return nil, ErrNotFound
		}
		if err != nil {
			return nil, err
		}
		raw, err := json.Marshal(d)
		if err != nil {
			return nil, err
		}
		return ParseDashboard(raw)
	}
}

// Watch is the filter before routing that (1) tells the hub right after a dashboard was
// saved or deleted here (or its project deleted), so its pollers reload it at once —
// writes on other replicas are seen by the pollers' version check, one interval later
// at most — and (2) keeps streams uncompressed: upstream's gzip middleware would
// otherwise wrap them.
func Watch(apiPrefix string, hub *Hub) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			segs, ok := projectPath(r.URL.EscapedPath(), apiPrefix)
			if !ok {
				return next(c)
			}
			switch {
			case r.Method == http.MethodGet && len(segs) == 4 && segs[1] == "dashboards" && segs[3] == "stream":
				r.Header.Del("Accept-Encoding")
				return next(c)
			case r.Method == http.MethodPut || r.Method == http.MethodDelete:
			default:
				return next(c)
			}
			var name string
			switch {
			case len(segs) == 3 && segs[1] == "dashboards":
				name = segs[2]
			case len(segs) == 1 && r.Method == http.MethodDelete:
				name = "" // the whole project
			default:
				return next(c)
			}
			err := next(c)
			if s := c.Response().Status; err == nil && c.Response().Committed && s >= 200 && s < 300 {
				hub.Notify(segs[0], name)
			}
			return err
		}
	}
}

// projectPath reads /api/v1/projects/<project>/… into its unescaped segments after
// "projects".
func projectPath(escaped, apiPrefix string) ([]string, bool) {
	rest, ok := strings.CutPrefix(strings.TrimPrefix(escaped, apiPrefix), "/api/v1/projects/")
	if !ok || rest == "" {
		return nil, false
	}
	segs := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	for i, s := range segs {
		u, err := url.PathUnescape(s)
		if err != nil || u == "" {
			return nil, false
		}
		segs[i] = u
	}
	return segs, true
}

// closeTask ends the streams when the server stops, so that its graceful shutdown does
// not wait for them.
type closeTask struct{ hub *Hub }

func (t closeTask) String() string { return "live updates" }

func (t closeTask) Execute(ctx context.Context, _ context.CancelFunc) error {
	<-ctx.Done()
	t.hub.Close()
	return nil
}
