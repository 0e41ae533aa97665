package workloads

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/openshift-ai/observability/extension/identity"
	"github.com/perses/perses/pkg/model/api/v1/role"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Path is the endpoint (after the API prefix).
const Path = "/api/v1/projects/:project/workloads"

// Authorizer is what the API asks of upstream's authorization provider.
type Authorizer interface {
	IsEnabled() bool
	HasPermission(c echo.Context, action role.Action, project string, scope role.Scope) bool
}

// Options are the API's settings (openshift_ai.workloads).
type Options struct {
	MetricsTimeout      time.Duration
	MetricsConcurrency  int
	MaxMetricsWorkloads int
}

// API serves GET /api/v1/projects/{project}/workloads.
type API struct {
	prefix  string
	authz   Authorizer
	cluster Cluster // nil: the server has no connection to a cluster (clusterErr says why)
	// clusterErr is why there is no cluster.
	clusterErr error
	query      QueryFunc // nil: no figures
	opts       Options
	now        func() time.Time
	// OnAnswer, when set, is told the status of every answer.
	OnAnswer func(status int)
}

// NewAPI lists workloads from cluster (nil: answers 503 with clusterErr) and computes
// their figures with query.
func NewAPI(apiPrefix string, authz Authorizer, cluster Cluster, clusterErr error, query QueryFunc, opts Options) *API {
	if opts.MetricsConcurrency < 1 {
		opts.MetricsConcurrency = 1
	}
	return &API{prefix: apiPrefix, authz: authz, cluster: cluster, clusterErr: clusterErr, query: query, opts: opts, now: time.Now}
}

// RegisterRoute registers the endpoint (upstream's APIRegistration).
func (a *API) RegisterRoute(e *echo.Echo) { e.GET(a.prefix+Path, a.serve) }

func (a *API) String() string { return "GET " + a.prefix + Path }

// Answer is the endpoint's body.
type Answer struct {
	Project string `json:"project"`
	// Time is when the figures are evaluated (RFC 3339).
	Time  string     `json:"time"`
	Items []Workload `json:"items"`
	// Hints say what the list may be missing and why (a CRD not installed, a list cut,
	// the server's own credentials used).
	Hints []string `json:"hints"`
}

// request is what the parameters ask.
type request struct {
	types   []Type
	at      time.Time
	metrics bool
}

func (a *API) serve(c echo.Context) error {
	err := a.answer(c)
	if a.OnAnswer != nil {
		status := c.Response().Status
		var he *echo.HTTPError
		if errors.As(err, &he) {
			status = he.Code
		} else if err != nil {
			status = http.StatusInternalServerError
		}
		a.OnAnswer(status)
	}
	return err
}

func (a *API) answer(c echo.Context) error {
	project := c.Param("project")
	var user *identity.User
	if a.authz.IsEnabled() {
		u, err := identity.UserOf(c)
		if err != nil {
			return identity.HTTPError(err)
		}
		user = u
	}
	if errs := validation.IsDNS1123Label(project); len(errs) > 0 {
		return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("project %q is not a namespace name: %s", project, strings.Join(errs, "; ")))
	}
	if a.authz.IsEnabled() && !a.authz.HasPermission(c, role.ReadAction, project, role.DashboardScope) {
		return echo.NewHTTPError(http.StatusForbidden, fmt.Sprintf("forbidden: %s may not read dashboards in project %q", user.Name, project))
	}
	req, err := a.parse(c)
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	var hints []string
	var cred Credential
	var who string // whom the cluster sees, in refusals
	switch {
	case user == nil:
		cred = Credential{Server: true}
		who = "the server's own credentials (authentication is off)"
		hints = append(hints, "listed with the server's own Kubernetes credentials: authentication is off")
	case user.Method == identity.MethodDevelopment:
		cred = Credential{Server: true}
		who = fmt.Sprintf("the server's own credentials (development mode, user %s)", user.Name)
		hints = append(hints, "listed with the server's own Kubernetes credentials: development mode (no user token)")
	case user.Token() != "":
		cred = Credential{Token: user.Token()}
		who = user.Name
	default:
		return echo.NewHTTPError(http.StatusForbidden, fmt.Sprintf("forbidden: %s presented no bearer token to list workloads with (they are listed with the caller's own Kubernetes rights)", user.Name))
	}
	if a.cluster == nil {
		msg := "no connection to a Kubernetes cluster (openshift_ai.kubernetes)"
		if a.clusterErr != nil {
			msg += ": " + a.clusterErr.Error()
		}
		return echo.NewHTTPError(http.StatusServiceUnavailable, msg)
	}
	ctx := c.Request().Context()
	items, listHints, err := a.list(ctx, cred, who, project, ResourcesOf(req.types...))
	if err != nil {
		return err
	}
	hints = append(hints, listHints...)
	out := Answer{Project: project, Time: req.at.UTC().Format(time.RFC3339Nano), Items: make([]Workload, 0, len(items)), Hints: hints}
	for _, it := range items {
		out.Items = append(out.Items, it.w)
	}
	if req.metrics {
		out.Hints = append(out.Hints, a.figures(ctx, project, req.at, items, out.Items)...)
	}
	if out.Hints == nil {
		out.Hints = []string{}
	}
	return c.JSON(http.StatusOK, out)
}

// parse reads the parameters: type, time, metrics; anything else, or any given twice,
// is refused.
func (a *API) parse(c echo.Context) (request, error) {
	r := request{at: a.now(), metrics: true}
	for k, vals := range c.QueryParams() {
		if len(vals) != 1 {
			return r, fmt.Errorf("parameter %s given %d times", k, len(vals))
		}
		v := vals[0]
		switch k {
		case "type":
			t, ok := ParseType(v)
			if !ok {
				return r, fmt.Errorf("type %q: want one of %s", v, joinTypes())
			}
			r.types = []Type{t}
		case "time":
			at, err := parseTime(v)
			if err != nil {
				return r, err
			}
			r.at = at
		case "metrics":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return r, fmt.Errorf("metrics %q: want true or false", v)
			}
			r.metrics = b
		default:
			return r, fmt.Errorf("unknown parameter %q (type, time, metrics)", k)
		}
	}
	return r, nil
}

func joinTypes() string {
	s := make([]string, len(Types))
	for i, t := range Types {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// parseTime reads RFC 3339 or Unix seconds (as Prometheus' time parameter).
func parseTime(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
		return time.Time{}, fmt.Errorf("time %q: want RFC 3339 or Unix seconds", v)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}

// item is a listed workload and what its figures are computed from.
type item struct {
	w   Workload
	res Resource
	obj *unstructured.Unstructured
}

// listed is one resource's outcome.
type listed struct {
	items     []unstructured.Unstructured
	truncated bool
	served    bool
	err       error
}

// list lists every resource (concurrently) and describes the workloads, in answer order.
func (a *API) list(ctx context.Context, cred Credential, who, namespace string, resources []Resource) ([]item, []string, error) {
	results := make([]listed, len(resources))
	var wg sync.WaitGroup
	for i, r := range resources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = a.listOne(ctx, cred, namespace, r)
		}()
	}
	wg.Wait()

	var hints, forbidden []string
	var unauthorized, failed error
	var items []item
	for i, r := range resources {
		res := results[i]
		switch {
		case res.err == nil && !res.served:
			hints = append(hints, fmt.Sprintf("CRD %s is not installed: no %s listed", r.CRD(), r.Kind))
		case apierrors.IsForbidden(res.err):
			forbidden = append(forbidden, r.CRD())
		case apierrors.IsUnauthorized(res.err):
			unauthorized = res.err
		case res.err != nil:
			if failed == nil {
				failed = fmt.Errorf("%s: %w", r.CRD(), res.err)
			}
		default:
			if res.truncated {
				hints = append(hints, fmt.Sprintf("only the first %d %s objects are listed", MaxListItems, r.Kind))
			}
			for j := range res.items {
				o := &res.items[j]
				items = append(items, item{w: r.Describe(o), res: r, obj: o})
			}
		}
	}
	switch {
	case len(forbidden) > 0:
		return nil, nil, echo.NewHTTPError(http.StatusForbidden, fmt.Sprintf(
			"forbidden: %s may not list %s in namespace %q (workloads are listed with the caller's own Kubernetes rights; ask for list on them, or choose a type with ?type=)",
			who, strings.Join(forbidden, ", "), namespace))
	case unauthorized != nil:
		// 403, not 401: the caller is authenticated here (a 401 would send a client back
		// to a login that cannot help, e.g. an OIDC token the cluster does not trust).
		return nil, nil, echo.NewHTTPError(http.StatusForbidden, "the cluster did not accept the caller's credentials to list workloads (workloads are listed with the caller's own Kubernetes credentials): "+unauthorized.Error())
	case failed != nil:
		return nil, nil, echo.NewHTTPError(http.StatusServiceUnavailable, "cannot list workloads now: "+failed.Error())
	}
	slices.SortStableFunc(items, func(x, y item) int {
		if c := slices.Index(Types, x.w.Type) - slices.Index(Types, y.w.Type); c != 0 {
			return c
		}
		if c := strings.Compare(x.w.Kind, y.w.Kind); c != 0 {
			return c
		}
		return strings.Compare(x.w.Name, y.w.Name)
	})
	return items, hints, nil
}

func (a *API) listOne(ctx context.Context, cred Credential, namespace string, r Resource) listed {
	served, err := a.cluster.Served(ctx, r.GVR)
	if err != nil {
		return listed{err: fmt.Errorf("discovery: %w", err)}
	}
	if !served {
		return listed{}
	}
	objs, truncated, err := a.cluster.List(ctx, cred, r.GVR, namespace)
	if apierrors.IsNotFound(err) {
		// Removed since discovery was asked: not served any more.
		a.cluster.Forget(r.GVR)
		return listed{}
	}
	if err != nil {
		return listed{err: err}
	}
	return listed{items: objs, truncated: truncated, served: true}
}

// figures computes the headline figures of the first MaxMetricsWorkloads items into
// out (the same order), at most MetricsConcurrency at once, all within
// MetricsTimeout; the rest are noted "not computed". It returns hints.
func (a *API) figures(ctx context.Context, project string, at time.Time, items []item, out []Workload) []string {
	var hints []string
	if a.query == nil {
		return []string{"headline figures not computed: no Prometheus query path (tenancy) on this server"}
	}
	ctx, cancel := context.WithTimeout(ctx, a.opts.MetricsTimeout)
	defer cancel()
	type job struct {
		i    int
		spec FigureSpec
	}
	var jobs []job
	for i, it := range items {
		specs, err := it.res.FiguresOf(it.obj)
		if err != nil {
			// Unreachable for objects the cluster stored (their names are DNS-1123).
			hints = append(hints, fmt.Sprintf("no figures for %s %q: %v", it.w.Kind, it.w.Name, err))
			continue
		}
		if i >= a.opts.MaxMetricsWorkloads {
			for _, s := range specs {
				out[i].Metrics[s.Name] = notComputed(s, fmt.Sprintf("figures are computed for the first %d workloads of an answer (openshift_ai.workloads.max_metrics_workloads)", a.opts.MaxMetricsWorkloads))
			}
			continue
		}
		for _, s := range specs {
			jobs = append(jobs, job{i: i, spec: s})
		}
	}
	if len(items) > a.opts.MaxMetricsWorkloads {
		hints = append(hints, fmt.Sprintf("headline figures computed for the first %d of %d workloads (openshift_ai.workloads.max_metrics_workloads); ask for one type with ?type=", a.opts.MaxMetricsWorkloads, len(items)))
	}
	results := make([]Figure, len(jobs))
	sem := make(chan struct{}, a.opts.MetricsConcurrency)
	var wg sync.WaitGroup
	for j, jb := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results[j] = notComputed(jb.spec, "timed out (openshift_ai.workloads.metrics_timeout)")
				return
			}
			defer func() { <-sem }()
			results[j] = Evaluate(ctx, a.query, project, at, jb.spec)
		}()
	}
	wg.Wait()
	for j, jb := range jobs {
		out[jb.i].Metrics[jb.spec.Name] = results[j]
	}
	return hints
}
