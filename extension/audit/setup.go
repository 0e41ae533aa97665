package audit

import (
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/openshift-ai/observability/extension/access"
	"github.com/openshift-ai/observability/extension/config"
	"github.com/openshift-ai/observability/extension/host"
	"github.com/openshift-ai/observability/extension/identity"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

// Setup puts the recorder before routing (right after identity's filter: the capability
// is listed before access, whose project guard answers 403s before routing) and
// registers GET /api/v1/audit. The endpoint is registered when audit is off too, and
// answers 404 saying so.
func Setup(h *host.Host) error {
	a := h.Config.OpenShiftAI.Audit
	b := h.Runner.HTTPServerBuilder()
	if !a.Enabled {
		b.APIRegistration(NewAPI(h.Config.APIPrefix, false, nil, nil))
		return nil
	}
	var trusted []*net.IPNet
	for _, p := range a.TrustedProxies {
		n, err := config.ParseTrustedProxy(p)
		if err != nil {
			return fmt.Errorf("openshift_ai.audit.trusted_proxies: %w", err)
		}
		trusted = append(trusted, n)
	}
	var out io.Writer = os.Stdout
	var reader Reader
	if a.File != "" {
		f, err := OpenFile(a.File)
		if err != nil {
			return err
		}
		out, reader = f, FileReader{Path: a.File}
	}
	writers := []Writer{NewLines(out)}
	if pg := h.Config.OpenShiftAI.Postgres; pg.Enabled() {
		p, err := NewPostgres(string(pg.URL), time.Duration(pg.ConnectTimeout), time.Duration(pg.StatementTimeout))
		if err != nil {
			return err
		}
		writers, reader = append(writers, p), p
	}
	m := newMetrics(h.Registry)
	rec := NewRecorder(h.Config.APIPrefix, SourceExtractor(trusted), writers...)
	rec.OnWrite = func(err error) {
		if err != nil {
			m.errors.Inc()
			return
		}
		m.records.Inc()
	}
	b.PreMiddleware(rec.Filter())
	b.APIRegistration(NewAPI(h.Config.APIPrefix, true, reader, adminFunc(h, a)))
	to := "standard output"
	if a.File != "" {
		to = a.File
	}
	if len(writers) > 1 {
		to += " and PostgreSQL (perses_audit)"
	}
	logrus.Infof("audit: recording mutations, 401s, 403s, logins and logouts to %s", to)
	return nil
}

// adminFunc is who may read the records: the developer in development mode, otherwise
// whoever the cluster allows <admin_verb> on <admin_resource> of access's API group,
// cluster-wide (the access capability's decider and its cache).
func adminFunc(h *host.Host, a config.Audit) AdminFunc {
	authz := h.Deps.Service().GetAuthorization()
	if p, ok := authz.(interface{ Decider() *access.Decider }); ok {
		d := p.Decider()
		attrs := access.Attributes{Verb: a.AdminVerb, Resource: a.AdminResource}
		return func(c echo.Context, u *identity.User) (bool, error) {
			return d.Allowed(c.Request().Context(), u, attrs)
		}
	}
	if p, ok := authz.(interface{ IdentityProvider() *identity.Provider }); ok && p.IdentityProvider().Development() {
		return func(echo.Context, *identity.User) (bool, error) { return true, nil }
	}
	return nil // nobody
}

type metrics struct {
	records, errors prometheus.Counter
}

func newMetrics(r prometheus.Registerer) metrics {
	m := metrics{
		records: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: host.MetricNamespace, Subsystem: "audit", Name: "records_total",
			Help: "Audit records written, counted once per destination (JSON lines, PostgreSQL).",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: host.MetricNamespace, Subsystem: "audit", Name: "write_errors_total",
			Help: "Audit records a destination failed to keep (each is logged with its request id).",
		}),
	}
	if r != nil {
		r.MustRegister(m.records, m.errors)
	}
	return m
}
