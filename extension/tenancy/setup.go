package tenancy

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/openshift-ai/observability/extension/access"
	"github.com/openshift-ai/observability/extension/config"
	"github.com/openshift-ai/observability/extension/host"
	"github.com/openshift-ai/observability/extension/identity"
	"github.com/perses/perses/pkg/extend"
	v1 "github.com/perses/perses/pkg/model/api/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

// Setup puts the proxy before upstream's routing (after identity, audit and access's
// project guard), and gives every project its Prometheus datasource.
func Setup(h *host.Host) error {
	p, err := NewProxy(h)
	if err != nil {
		return err
	}
	b := h.Runner.HTTPServerBuilder()
	if prov := p.Provisioner; prov != nil {
		// Before the proxy, which answers /proxy requests without calling next: a
		// project's first request may be a proxied query, its datasource must exist.
		b.PreMiddleware(prov.Middleware(h.Config.APIPrefix))
		if err := prov.EnsureAll(); err != nil {
			return err
		}
	}
	b.PreMiddleware(p.Middleware())
	b.PreMiddleware(p.Cache.Middleware(h.Config.APIPrefix))
	current = p
	return nil
}

// current is the proxy of the running server, for capabilities that query through it
// (live updates).
var current *Proxy

// Current returns the running server's proxy (nil before Setup).
func Current() *Proxy { return current }

// NewProxy builds the proxy for a host.
func NewProxy(h *host.Host) (*Proxy, error) {
	t := h.Config.OpenShiftAI.Tenancy
	cfg := Config{Label: t.Label, MaxQueryBytes: t.MaxQueryBytes}
	for _, m := range t.Metrics {
		cfg.Metrics = append(cfg.Metrics, MetricLabel{Pattern: m.Pattern, Label: m.Label})
	}
	e, err := New(cfg)
	if err != nil {
		return nil, fmt.Errorf("openshift_ai.tenancy: %w", err)
	}
	authz := h.Deps.Service().GetAuthorization()
	p := &Proxy{
		Enforcer:  e,
		APIPrefix: h.Config.APIPrefix,
		MaxBody:   t.MaxBodyBytes,
		Timeout:   time.Duration(t.Timeout),
		Store:     daoStore{m: h.Deps},
		Authz:     authz,
		Bypass:    bypassFunc(t.Bypass, authz),
		Client:    &http.Client{Transport: NewTransport(time.Duration(t.Timeout))},
		Metrics:   NewMetrics(h.Registry),
		Cache:     NewSpecCache(DefaultSpecTTL),
	}
	prom := h.Config.OpenShiftAI.Prometheus
	if u, err := url.Parse(prom.URL); err == nil && u.Host != "" {
		p.Credential = &Credential{Origin: OriginOf(u), TokenFile: t.Credential.BearerTokenFile, ForwardUser: t.Credential.ForwardUserToken}
		if t.ProjectDatasource != "" {
			p.Provisioner = &Provisioner{Deps: h.Deps, Name: t.ProjectDatasource, URL: prom.URL, Written: p.Cache.Invalidate}
		}
	}
	return p, nil
}

// bypassFunc: nobody when off; when on, whom the cluster allows the configured verb on
// the configured resource cluster-wide (access's decider and cache), or the developer
// in development mode.
func bypassFunc(b config.TenancyBypass, authz extend.Authorization) BypassFunc {
	if !b.Enabled {
		return nil
	}
	if p, ok := authz.(interface{ Decider() *access.Decider }); ok {
		d := p.Decider()
		attrs := access.Attributes{Verb: b.Verb, Resource: b.Resource}
		return func(c echo.Context) (bool, error) {
			u, err := identity.UserOf(c)
			if err != nil {
				return false, nil
			}
			return d.Allowed(c.Request().Context(), u, attrs)
		}
	}
	if p, ok := authz.(*identity.Provider); ok && p.Development() {
		return func(echo.Context) (bool, error) { return true, nil }
	}
	return nil
}

// daoStore reads datasource specs from upstream's store.
type daoStore struct{ m extend.Manager }

func notFound(err error) error {
	var se *extend.StoreError
	if errors.As(err, &se) && se.Code == http.StatusNotFound {
		return ErrNotFound
	}
	return err
}

func (s daoStore) Datasource(project, name string) (json.RawMessage, error) {
	d, err := s.m.Persistence().GetDatasource().Get(project, name)
	if err != nil {
		return nil, notFound(err)
	}
	return json.Marshal(d.Spec)
}

func (s daoStore) DashboardDatasource(project, dashboard, name string) (json.RawMessage, error) {
	d, err := s.m.Persistence().GetDashboard().Get(project, dashboard)
	if err != nil {
		return nil, notFound(err)
	}
	spec, ok := d.Spec.Datasources[name]
	if !ok || spec == nil {
		return nil, ErrNotFound
	}
	return json.Marshal(spec)
}

func (s daoStore) GlobalDatasource(name string) (json.RawMessage, error) {
	d, err := s.m.Persistence().GetGlobalDatasource().Get(name)
	if err != nil {
		return nil, notFound(err)
	}
	return json.Marshal(d.Spec)
}

// managedMarker is how the provisioner recognises the datasources it wrote.
const managedMarker = "Managed by the server (openshift_ai.tenancy.project_datasource)"

// Provisioner gives every project a Prometheus datasource at the configured URL, marked
// default, so that dashboards resolve to the project route, which is confined to the
// project's namespace. A datasource of that name the server did not write is left alone.
type Provisioner struct {
	Deps extend.Manager
	Name string
	URL  string
	// Written, when set, is called after the provisioner wrote a datasource.
	Written func()
	known   sync.Map
}

// Datasource is the project's datasource.
func (pr *Provisioner) Datasource(project string) (*v1.Datasource, error) {
	doc := map[string]any{
		"kind":     v1.KindDatasource,
		"metadata": map[string]any{"name": pr.Name, "project": project},
		"spec": map[string]any{
			"display": map[string]any{"name": "Prometheus", "description": managedMarker},
			"default": true,
			"plugin": map[string]any{
				"kind": PrometheusKind,
				"spec": map[string]any{"proxy": map[string]any{"kind": "HTTPProxy", "spec": map[string]any{"url": pr.URL}}},
			},
		},
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	ds := &v1.Datasource{}
	if err := json.Unmarshal(raw, ds); err != nil {
		return nil, err
	}
	ds.Metadata.CreateNow()
	return ds, nil
}

// Ensure writes the project's datasource if it is missing, or managed and outdated.
func (pr *Provisioner) Ensure(project string) error {
	if _, ok := pr.known.Load(project); ok {
		return nil
	}
	dao := pr.Deps.Persistence().GetDatasource()
	want, err := pr.Datasource(project)
	if err != nil {
		return err
	}
	got, err := dao.Get(project, pr.Name)
	switch {
	case errors.Is(notFound(err), ErrNotFound):
		if _, err := pr.Deps.Persistence().GetProject().Get(project); err != nil {
			return nil // no such project (yet): nothing to provision
		}
		if err := dao.Create(want); err != nil {
			return fmt.Errorf("creating datasource %q in project %q: %w", pr.Name, project, err)
		}
		pr.written()
		logrus.Infof("tenancy: project %q got its Prometheus datasource %q", project, pr.Name)
	case err != nil:
		return err
	default:
		raw, _ := json.Marshal(got.Spec)
		wantRaw, _ := json.Marshal(want.Spec)
		if strings.Contains(string(raw), managedMarker) && string(raw) != string(wantRaw) {
			want.Metadata.Update(got.Metadata)
			if err := dao.Update(want); err != nil {
				return fmt.Errorf("updating datasource %q in project %q: %w", pr.Name, project, err)
			}
			pr.written()
		}
	}
	pr.known.Store(project, true)
	return nil
}

func (pr *Provisioner) written() {
	if pr.Written != nil {
		pr.Written()
	}
}

// EnsureAll provisions every existing project (at start).
func (pr *Provisioner) EnsureAll() error {
	q, err := extend.NewQuery(v1.KindProject, "", "")
	if err != nil {
		return err
	}
	var projects []*v1.Project
	if err := pr.Deps.Persistence().GetPersesDAO().Query(q, &projects); err != nil {
		return fmt.Errorf("tenancy: listing projects: %w", err)
	}
	for _, p := range projects {
		if err := pr.Ensure(p.Metadata.Name); err != nil {
			return fmt.Errorf("tenancy: %w", err)
		}
	}
	return nil
}

// Middleware provisions the project a request names before upstream serves it, so that
// the datasource exists by the time the UI lists a project's datasources.
func (pr *Provisioner) Middleware(apiPrefix string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			path := strings.TrimPrefix(c.Request().URL.Path, apiPrefix)
			var rest string
			switch {
			case strings.HasPrefix(path, "/api/v1/projects/"):
				rest = strings.TrimPrefix(path, "/api/v1/projects/")
			case strings.HasPrefix(path, "/proxy/projects/"):
				rest = strings.TrimPrefix(path, "/proxy/projects/")
			default:
				return next(c)
			}
			project, _, _ := strings.Cut(rest, "/")
			if project == "" || (c.Request().Method == http.MethodDelete && !strings.Contains(rest, "/")) {
				pr.known.Delete(project)
				return next(c)
			}
			if err := pr.Ensure(project); err != nil {
				logrus.WithError(err).Warnf("tenancy: cannot provision project %q", project)
			}
			return next(c)
		}
	}
}

// Metrics counts queries enforced, bypassed and refused, per datasource.
type Metrics struct {
	enforcedC, bypassedC *prometheus.CounterVec
	refusedC             *prometheus.CounterVec
}

// NewMetrics registers the counters (r may be nil).
func NewMetrics(r prometheus.Registerer) *Metrics {
	m := &Metrics{
		enforcedC: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: host.MetricNamespace, Subsystem: "tenancy", Name: "queries_enforced_total",
			Help: "Queries confined to their project's namespace and forwarded, by datasource (route/name).",
		}, []string{"datasource"}),
		bypassedC: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: host.MetricNamespace, Subsystem: "tenancy", Name: "queries_bypassed_total",
			Help: "Queries forwarded unconfined under the bypass permission, by datasource.",
		}, []string{"datasource"}),
		refusedC: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: host.MetricNamespace, Subsystem: "tenancy", Name: "queries_refused_total",
			Help: "Queries refused, by datasource and reason.",
		}, []string{"datasource", "reason"}),
	}
	if r != nil {
		r.MustRegister(m.enforcedC, m.bypassedC, m.refusedC)
	}
	return m
}

func (m *Metrics) enforced(ds string) {
	if m != nil {
		m.enforcedC.WithLabelValues(ds).Inc()
	}
}

func (m *Metrics) bypassed(ds string) {
	if m != nil {
		m.bypassedC.WithLabelValues(ds).Inc()
	}
}

func (m *Metrics) refused(ds, reason string) {
	if m != nil {
		m.refusedC.WithLabelValues(ds, reason).Inc()
	}
}
