package templates

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/openshift-ai/observability/extension/host"
	"github.com/perses/perses/pkg/extend"
	v1 "github.com/perses/perses/pkg/model/api/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

// Setup checks the system templates and registers the endpoints. Requests are
// authenticated here (our routes get none from upstream); the access capability's
// project guard has authorised the project routes before routing, and the handlers ask
// upstream's authorization provider again, so the checks hold in every mode.
func Setup(h *host.Host) error {
	registry, err := System()
	if err != nil {
		return err
	}
	caseSensitive := h.Deps.Persistence().GetPersesDAO().IsCaseSensitive()
	api := NewAPI(h.Config.APIPrefix, registry, h.Deps.Service().GetAuthorization(), serviceStore{h.Deps}, caseSensitive)
	api.OnCreate = newMetrics(h.Registry).created
	h.Runner.HTTPServerBuilder().APIRegistration(api)
	logrus.Infof("templates: %d system templates (%s)", len(registry.list), registry.ids())
	return nil
}

// serviceStore reads dashboards from upstream's store and creates them through
// upstream's dashboard service: the same validation (plugin schemas, variables) as
// POST /api/v1/projects/{project}/dashboards.
type serviceStore struct{ m extend.Manager }

var _ Dashboards = serviceStore{}

func (s serviceStore) Get(project, name string) (*v1.Dashboard, error) {
	d, err := s.m.Persistence().GetDashboard().Get(project, name)
	if storeCode(err) == http.StatusNotFound {
		return nil, fmt.Errorf("dashboard %q in project %q: %w", name, project, ErrNotFound)
	}
	return d, err
}

func (s serviceStore) Create(c echo.Context, d *v1.Dashboard) (*v1.Dashboard, error) {
	created, err := s.m.Service().GetDashboard().Create(c, d)
	if storeCode(err) == http.StatusConflict {
		return nil, fmt.Errorf("dashboard %q in project %q: %w", d.Metadata.Name, d.Metadata.Project, ErrExists)
	}
	return created, err
}

func storeCode(err error) int {
	var se *extend.StoreError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

type metrics struct {
	dashboards *prometheus.CounterVec
}

func newMetrics(r prometheus.Registerer) metrics {
	m := metrics{dashboards: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: host.MetricNamespace, Subsystem: "templates", Name: "dashboards_created_total",
		Help: "Dashboards created from a template (source: its id) or as a clone (source: clone).",
	}, []string{"source"})}
	if r != nil {
		r.MustRegister(m.dashboards)
	}
	return m
}

func (m metrics) created(source string) { m.dashboards.WithLabelValues(source).Inc() }
