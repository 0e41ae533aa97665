package identity

import (
	"flag"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/openshift-ai/observability/extension/config"
	"github.com/openshift-ai/observability/extension/host"
	upstreamconfig "github.com/perses/perses/pkg/model/api/config"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Prepare builds the provider from openshift_ai.identity and hands it to upstream.
func Prepare(p *host.Prepare) error {
	id := p.Config.OpenShiftAI.Identity
	if !id.Enabled() {
		return nil
	}
	if id.Development.Enabled {
		if err := CheckListenAddress(listenAddress(), id.Development.Force); err != nil {
			return err
		}
		for range 3 {
			logrus.Warnf("DEVELOPMENT MODE: every request acts as %q (groups %s) and may do everything, without credentials. "+
				"Never expose this server; every response carries %s.", id.Development.User, strings.Join(id.Development.Groups, ", "), HeaderDevelopmentMode)
		}
		p.Authorization = NewProvider(NewDevelopment(id.Development.User, id.Development.Groups), true)
		return nil
	}
	m := newMetrics(p.Registry)
	timeout := time.Duration(p.Config.OpenShiftAI.Kubernetes.Timeout)
	var chain BearerChain
	if id.TokenReview.Enabled {
		rc, err := RESTConfig(p.Config.OpenShiftAI.Kubernetes)
		if err != nil {
			return err
		}
		cs, err := kubernetes.NewForConfig(rc)
		if err != nil {
			return fmt.Errorf("token_review: %w", err)
		}
		cache := NewTokenCache(NewTokenReviewFunc(cs.AuthenticationV1().TokenReviews(), id.TokenReview.Audiences, timeout),
			time.Duration(id.TokenReview.SuccessTTL), time.Duration(id.TokenReview.FailureTTL))
		cache.OnReview = func(result string) { m.reviews.WithLabelValues(result).Inc() }
		cache.OnHit = m.hits.Inc
		chain.TokenReview = cache.Review
	}
	if oc := id.OIDC; oc.Enabled() {
		v, err := NewOIDC(OIDCOptions{
			Issuer: oc.Issuer, Audience: oc.Audience, UsernameClaim: oc.UsernameClaim, GroupsClaim: oc.GroupsClaim,
			UsernamePrefix: oc.UsernamePrefix, GroupsPrefix: oc.GroupsPrefix, Algorithms: oc.Algorithms, CAFile: oc.CAFile, Timeout: timeout,
		})
		if err != nil {
			return err
		}
		chain.OIDC = v
	}
	var authn Authenticator = chain
	var login *Login
	if id.Login.Enabled() {
		var err error
		if login, err = newLogin(p.Config, chain, timeout); err != nil {
			return err
		}
		authn = SessionAuthenticator{Cookies: login.Cookies(), Next: chain}
	}
	prov := NewProvider(authn, false)
	prov.login = login
	p.Authorization = prov
	return nil
}

// Setup puts the authentication filter before routing, so that every later filter
// (access's project check included) and every upstream handler sees the user.
func Setup(h *host.Host) error {
	if !h.Config.OpenShiftAI.Identity.Enabled() {
		return nil
	}
	p, ok := h.Deps.Service().GetAuthorization().(interface{ IdentityProvider() *Provider })
	if !ok {
		return fmt.Errorf("upstream's authorization provider is %T, not the identity provider (another capability replaced it)", h.Deps.Service().GetAuthorization())
	}
	prov := p.IdentityProvider()
	b := h.Runner.HTTPServerBuilder()
	if prov.Development() {
		b.PreMiddleware(DevelopmentConfig(h.Config.APIPrefix, h.Config.Config))
	}
	b.PreMiddleware(Filter(prov.Authenticator(), prov.Development()))
	if l := prov.Login(); l != nil {
		b.PreMiddleware(l.Gate())
		b.APIRegistration(l)
	}
	return nil
}

// IdentityProvider returns p (wrappers of the provider promote it).
func (p *Provider) IdentityProvider() *Provider { return p }

// Filter recognises the user of every request and puts it (or why there is none) in
// the request's context. It refuses nothing: upstream's anonymous routes (config,
// health, UI) stay open, and protected ones answer 401 through Provider.Middleware.
func Filter(authn Authenticator, development bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			u, err := authn.Authenticate(r)
			ctx := r.Context()
			if err != nil {
				ctx = withFailure(ctx, err)
			} else {
				ctx = WithUser(ctx, u)
			}
			if development && u != nil {
				c.Response().Header().Set(HeaderDevelopmentMode, "on; user="+u.Name)
			}
			c.SetRequest(r.WithContext(ctx))
			return next(c)
		}
	}
}

// DevelopmentConfig answers GET /api/config in development mode as if authentication
// were off: clients (the stock UI, percli login) then send no credentials, and the
// server still treats every request as the developer.
func DevelopmentConfig(apiPrefix string, upstream upstreamconfig.Config) echo.MiddlewareFunc {
	shown := upstream
	shown.Security.EnableAuth = false
	shown.Security.Authentication.Providers.KubernetesProvider.Enable = false
	shown.Security.Authorization.Provider.Kubernetes.Enable = false
	path := apiPrefix + "/api/config"
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if c.Request().Method == http.MethodGet && c.Request().URL.Path == path {
				c.Response().Header().Set(HeaderDevelopmentMode, "on")
				return c.JSON(http.StatusOK, shown)
			}
			return next(c)
		}
	}
}

// RESTConfig is the server's own connection to the cluster: the kubeconfig's current
// context, or the in-cluster service account.
func RESTConfig(k config.Kubernetes) (*rest.Config, error) {
	var rc *rest.Config
	var err error
	if k.Kubeconfig != "" {
		rc, err = clientcmd.BuildConfigFromFlags("", k.Kubeconfig)
	} else {
		rc, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("openshift_ai.kubernetes: %w (set kubeconfig, or run in a pod with a service account)", err)
	}
	rc.QPS, rc.Burst, rc.Timeout = k.QPS, k.Burst, time.Duration(k.Timeout)
	rc.UserAgent = "perses-openshift-ai"
	return rc, nil
}

// listenAddress is upstream's --web.listen-address (":8080" when not given).
func listenAddress() string {
	if f := flag.Lookup("web.listen-address"); f != nil {
		return f.Value.String()
	}
	return ":8080"
}

type metrics struct {
	reviews *prometheus.CounterVec
	hits    prometheus.Counter
}

func newMetrics(r prometheus.Registerer) metrics {
	m := metrics{
		reviews: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: host.MetricNamespace, Subsystem: "identity", Name: "token_reviews_total",
			Help: "TokenReviews sent to the cluster, by result (allowed, denied, error).",
		}, []string{"result"}),
		hits: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: host.MetricNamespace, Subsystem: "identity", Name: "token_cache_hits_total",
			Help: "Bearer tokens answered from the cache, without a TokenReview.",
		}),
	}
	if r != nil {
		r.MustRegister(m.reviews, m.hits)
	}
	return m
}
