package live

import (
	"github.com/openshift-ai/observability/extension/host"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts streams, pollers, backend queries and events. A nil *Metrics counts nothing.
type Metrics struct {
	open    prometheus.Gauge
	pollers prometheus.Gauge
	queries *prometheus.CounterVec
	events  *prometheus.CounterVec
	refused *prometheus.CounterVec
	ends    *prometheus.CounterVec
}

// NewMetrics registers the metrics (r may be nil).
func NewMetrics(r prometheus.Registerer) *Metrics {
	m := &Metrics{
		open: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: host.MetricNamespace, Subsystem: "live", Name: "streams_open",
			Help: "Live streams open on this replica.",
		}),
		pollers: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: host.MetricNamespace, Subsystem: "live", Name: "pollers",
			Help: "Pollers running: one per (dashboard, variables, range, interval) with at least one stream.",
		}),
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: host.MetricNamespace, Subsystem: "live", Name: "backend_queries_total",
			Help: "Queries the pollers sent to datasources, by result (success, error).",
		}, []string{"result"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: host.MetricNamespace, Subsystem: "live", Name: "events_sent_total",
			Help: "Events written to streams, by type (dashboard, panel, heartbeat, close).",
		}, []string{"type"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: host.MetricNamespace, Subsystem: "live", Name: "streams_refused_total",
			Help: "Streams refused before they opened, by reason (unauthenticated, forbidden, bad_request, not_found, limit, unavailable, disabled).",
		}, []string{"reason"}),
		ends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: host.MetricNamespace, Subsystem: "live", Name: "streams_closed_total",
			Help: "Streams ended, by reason (client, access, deleted, slow, shutdown).",
		}, []string{"reason"}),
	}
	if r != nil {
		r.MustRegister(m.open, m.pollers, m.queries, m.events, m.refused, m.ends)
	}
	return m
}

func (m *Metrics) opened() {
	if m != nil {
		m.open.Inc()
	}
}

func (m *Metrics) closed() {
	if m != nil {
		m.open.Dec()
	}
}

func (m *Metrics) ended(reason string) {
	if m != nil {
		m.ends.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) refusedStream(reason string) {
	if m != nil {
		m.refused.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) sent(typ string) {
	if m != nil {
		m.events.WithLabelValues(typ).Inc()
	}
}

// Query counts one backend query (Hub.OnQuery).
func (m *Metrics) Query(ok bool) {
	if m == nil {
		return
	}
	result := "success"
	if !ok {
		result = "error"
	}
	m.queries.WithLabelValues(result).Inc()
}

// Pollers follows the pollers running (Hub.OnPollers).
func (m *Metrics) Pollers(delta int) {
	if m != nil {
		m.pollers.Add(float64(delta))
	}
}
