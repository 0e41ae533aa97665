package templates

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/openshift-ai/observability/extension/host"
	"github.com/openshift-ai/observability/extension/identity"
	"github.com/openshift-ai/observability/extension/workloads"
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
	setupProvisioning(h, registry, caseSensitive)
	return nil
}

// setupProvisioning puts the auto-provisioner before routing (after identity, audit,
// access's project guard and tenancy), when it is on and the server has a cluster
// connection; without one it says so once, and nothing is provisioned.
func setupProvisioning(h *host.Host, registry *Registry, caseSensitive bool) {
	cfg := h.Config.OpenShiftAI.Templates
	if !cfg.AutoProvision {
		logrus.Info("templates: auto-provisioning is off (openshift_ai.templates.auto_provision)")
		return
	}
	rc, err := identity.RESTConfig(h.Config.OpenShiftAI.Kubernetes)
	var cluster *workloads.KubeCluster
	if err == nil {
		cluster, err = workloads.NewKubeCluster(rc, time.Duration(h.Config.OpenShiftAI.Workloads.DiscoveryTTL))
	}
	if err != nil {
		logrus.Warnf("templates: auto-provisioning: no cluster connection, no dashboard is provisioned: %v", err)
		return
	}
	m := newProvisionMetrics(h.Registry)
	p := &Provisioner{
		Registry: registry,
		Store:    managerStore{h.Deps},
		Lister:   ClusterLister{Cluster: cluster},
		TTL:      time.Duration(cfg.ProvisionTTL),
		OnResult: m.result,
	}
	h.Runner.HTTPServerBuilder().PreMiddleware(p.Middleware(h.Config.APIPrefix, caseSensitive))
	logrus.Infof("templates: auto-provisioning on: each project gets the dashboards of the workload types it runs (checked every %s)", time.Duration(cfg.ProvisionTTL))
}

// managerStore is the provisioner's store: upstream's DAOs, with dashboards validated
// by upstream's dashboard service (the plugins' schemas) before they are written.
type managerStore struct{ m extend.Manager }

var _ ProvisionStore = managerStore{}

func (s managerStore) Project(name string) (*v1.Project, error) {
	p, err := s.m.Persistence().GetProject().Get(name)
	if storeCode(err) == http.StatusNotFound {
		return nil, fmt.Errorf("project %q: %w", name, ErrNotFound)
	}
	return p, err
}

func (s managerStore) UpdateProject(p *v1.Project) error {
	dao := s.m.Persistence().GetProject()
	old, err := dao.Get(p.Metadata.Name)
	if err != nil {
		return err
	}
	p.Metadata.Update(old.Metadata)
	return dao.Update(p)
}

func (s managerStore) Dashboard(project, name string) (*v1.Dashboard, error) {
	return serviceStore(s).Get(project, name)
}

func (s managerStore) CreateDashboard(d *v1.Dashboard) error {
	// Upstream's service does not use the request context (there is none here).
	_, err := serviceStore(s).Create(nil, d)
	return err
}

func (s managerStore) UpdateDashboard(d *v1.Dashboard) error {
	if err := s.m.Service().GetDashboard().Validate(d); err != nil {
		return err
	}
	dao := s.m.Persistence().GetDashboard()
	old, err := dao.Get(d.Metadata.Project, d.Metadata.Name)
	if err != nil {
		return err
	}
	d.Metadata.Update(old.Metadata)
	return dao.Update(d)
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

type provisionMetrics struct{ decisions *prometheus.CounterVec }

func newProvisionMetrics(r prometheus.Registerer) provisionMetrics {
	m := provisionMetrics{decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: host.MetricNamespace, Subsystem: "templates", Name: "provisioning_total",
		Help: "Auto-provisioning decisions, by template and result (created, upgraded, current, edited, deleted, foreign, failed).",
	}, []string{"template", "result"})}
	if r != nil {
		r.MustRegister(m.decisions)
	}
	return m
}

func (m provisionMetrics) result(template, result string) {
	m.decisions.WithLabelValues(template, result).Inc()
}
