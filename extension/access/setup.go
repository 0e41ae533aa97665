package access

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/openshift-ai/observability/extension/config"
	"github.com/openshift-ai/observability/extension/host"
	"github.com/openshift-ai/observability/extension/identity"
	v1 "github.com/perses/perses/pkg/model/api/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"k8s.io/client-go/kubernetes"
)

// Prepare wraps the identity provider with decisions by SubjectAccessReview.
func Prepare(p *host.Prepare) error {
	o := p.Config.OpenShiftAI
	if !o.Access.Enabled(o.Identity) {
		return nil
	}
	idp, ok := p.Authorization.(*identity.Provider)
	if !ok {
		return fmt.Errorf("access needs the identity capability set up before it (the authorization provider is %T)", p.Authorization)
	}
	rc, err := identity.RESTConfig(o.Kubernetes)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	timeout := time.Duration(o.Kubernetes.Timeout)
	m := newMetrics(p.Registry)
	d := NewDecider(NewSARFunc(cs.AuthorizationV1().SubjectAccessReviews(), o.Access.APIGroup, timeout),
		time.Duration(o.Access.AllowTTL), time.Duration(o.Access.DenyTTL))
	d.OnReview = func(result string) { m.reviews.WithLabelValues(result).Inc() }
	d.OnHit = m.hits.Inc

	ns := WatchNamespaces(context.Background(), cs)
	syncCtx, cancel := context.WithTimeout(context.Background(), 2*timeout)
	defer cancel()
	if !ns.WaitForSync(syncCtx) {
		logrus.Warn("access: the namespace list could not be read yet; requests that need it answer 503 until it is")
	}
	prov := &Provider{Provider: idp, decider: d, namespaces: ns}
	if useOpenShift(o.Access, cs) {
		op, err := NewOpenShiftProjects(rc, time.Duration(o.Access.ProjectsTTL))
		if err != nil {
			return err
		}
		prov.userProjects = op.For
	}
	p.Authorization = prov
	return nil
}

// useOpenShift says whether project lists come from project.openshift.io.
func useOpenShift(a config.Access, cs kubernetes.Interface) bool {
	switch a.Projects {
	case config.ProjectsOpenShift:
		return true
	case config.ProjectsKubernetes:
		return false
	}
	_, err := cs.Discovery().ServerResourcesForGroupVersion("project.openshift.io/v1")
	return err == nil
}

// Setup gives the provider upstream's project store and puts the project guard before
// routing (after identity's filter).
func Setup(h *host.Host) error {
	o := h.Config.OpenShiftAI
	if !o.Access.Enabled(o.Identity) {
		return nil
	}
	prov, ok := h.Deps.Service().GetAuthorization().(*Provider)
	if !ok {
		return fmt.Errorf("upstream's authorization provider is %T, not access's", h.Deps.Service().GetAuthorization())
	}
	prov.store = daoStore{dao: h.Deps.Persistence().GetProject()}
	h.Runner.HTTPServerBuilder().PreMiddleware(prov.Guard(h.Config.APIPrefix))
	return nil
}

type projectDAO interface {
	Get(name string) (*v1.Project, error)
	Create(entity *v1.Project) error
}

type daoStore struct{ dao projectDAO }

func (s daoStore) Exists(name string) bool {
	_, err := s.dao.Get(name)
	return err == nil
}

func (s daoStore) Create(name string) error {
	p := &v1.Project{Kind: v1.KindProject, Metadata: *v1.NewMetadata(name)}
	p.Metadata.CreateNow()
	if err := s.dao.Create(p); err != nil {
		return errors.Join(ErrUnavailable, fmt.Errorf("creating project %q: %w", name, err))
	}
	logrus.Infof("access: created the Perses project of namespace %q", name)
	return nil
}

type metrics struct {
	reviews *prometheus.CounterVec
	hits    prometheus.Counter
}

func newMetrics(r prometheus.Registerer) metrics {
	m := metrics{
		reviews: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: host.MetricNamespace, Subsystem: "access", Name: "subject_access_reviews_total",
			Help: "SubjectAccessReviews sent to the cluster, by result (allowed, denied, error).",
		}, []string{"result"}),
		hits: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: host.MetricNamespace, Subsystem: "access", Name: "decision_cache_hits_total",
			Help: "Decisions answered from the cache, without a SubjectAccessReview.",
		}),
	}
	if r != nil {
		r.MustRegister(m.reviews, m.hits)
	}
	return m
}
