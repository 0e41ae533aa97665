package workloads

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/openshift-ai/observability/extension/host"
	"github.com/openshift-ai/observability/extension/identity"
	"github.com/openshift-ai/observability/extension/tenancy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

// Setup registers GET /api/v1/projects/{project}/workloads. It needs the tenancy
// capability set up before it: every figure is queried through its enforcement. A
// server without a cluster connection (openshift_ai.kubernetes: no kubeconfig and not
// in a pod) still starts; the endpoint then answers 503 saying why.
func Setup(h *host.Host) error {
	proxy := tenancy.Current()
	if proxy == nil {
		return errors.New("workloads needs the tenancy capability set up before it (its figures are queried through tenancy's enforcement)")
	}
	cfg := h.Config.OpenShiftAI.Workloads
	var cluster Cluster
	rc, err := identity.RESTConfig(h.Config.OpenShiftAI.Kubernetes)
	if err == nil {
		var kc *KubeCluster
		if kc, err = NewKubeCluster(rc, time.Duration(cfg.DiscoveryTTL)); err == nil {
			cluster = kc
		}
	}
	if err != nil {
		logrus.Warnf("workloads: no cluster connection, GET …/workloads answers 503: %v", err)
	}
	m := newMetrics(h.Registry)
	api := NewAPI(h.Config.APIPrefix, h.Deps.Service().GetAuthorization(), cluster, err, m.counted(TenancyQuery(proxy.Query)), Options{
		MetricsTimeout:      time.Duration(cfg.MetricsTimeout),
		MetricsConcurrency:  cfg.MetricsConcurrency,
		MaxMetricsWorkloads: cfg.MaxMetricsWorkloads,
	})
	api.OnAnswer = m.answered
	h.Runner.HTTPServerBuilder().APIRegistration(api)
	return nil
}

type metrics struct {
	answers *prometheus.CounterVec
	queries *prometheus.CounterVec
}

func newMetrics(r prometheus.Registerer) metrics {
	m := metrics{
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: host.MetricNamespace, Subsystem: "workloads", Name: "requests_total",
			Help: "Answers of GET /api/v1/projects/{project}/workloads, by HTTP status code.",
		}, []string{"code"}),
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: host.MetricNamespace, Subsystem: "workloads", Name: "figure_queries_total",
			Help: "Prometheus queries made for headline figures, by result (data, empty, error).",
		}, []string{"result"}),
	}
	if r != nil {
		r.MustRegister(m.answers, m.queries)
	}
	return m
}

func (m metrics) answered(status int) { m.answers.WithLabelValues(strconv.Itoa(status)).Inc() }

// counted counts the queries of q by result.
func (m metrics) counted(q QueryFunc) QueryFunc {
	return func(ctx context.Context, project, query string, at time.Time) ([]Sample, error) {
		s, err := q(ctx, project, query, at)
		switch {
		case err != nil:
			m.queries.WithLabelValues("error").Inc()
		case len(s) == 0:
			m.queries.WithLabelValues("empty").Inc()
		default:
			m.queries.WithLabelValues("data").Inc()
		}
		return s, err
	}
}
