package workloads

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/openshift-ai/observability/extension/identity"
	"github.com/perses/perses/pkg/model/api/v1/role"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

type fakeAuthz struct {
	off   bool
	allow bool
	asked []string
}

func (f *fakeAuthz) IsEnabled() bool { return !f.off }

func (f *fakeAuthz) HasPermission(_ echo.Context, action role.Action, project string, scope role.Scope) bool {
	f.asked = append(f.asked, fmt.Sprintf("%s %s %s", action, scope, project))
	return f.allow
}

// fakeCluster serves objects by resource and namespace; notServed resources are not
// installed, errs answer lists with an error, gone resources answer 404 although
// discovery says they are served.
type fakeCluster struct {
	mu        sync.Mutex
	objects   map[string][]unstructured.Unstructured // "<resource>/<namespace>"
	notServed map[string]bool
	gone      map[string]bool
	errs      map[string]error
	creds     []Credential
	forgot    []string
}

func (f *fakeCluster) Served(_ context.Context, gvr schema.GroupVersionResource) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.notServed[gvr.Resource], nil
}

func (f *fakeCluster) Forget(gvr schema.GroupVersionResource) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.forgot = append(f.forgot, gvr.Resource)
}

func (f *fakeCluster) List(_ context.Context, cred Credential, gvr schema.GroupVersionResource, ns string) ([]unstructured.Unstructured, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.creds = append(f.creds, cred)
	if err := f.errs[gvr.Resource]; err != nil {
		return nil, false, err
	}
	if f.gone[gvr.Resource] {
		return nil, false, apierrors.NewNotFound(gvr.GroupResource(), "")
	}
	return f.objects[gvr.Resource+"/"+ns], false, nil
}

func obj(name string, status map[string]any) unstructured.Unstructured {
	o := unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": name, "creationTimestamp": "2026-01-02T03:04:05Z"}}}
	if status != nil {
		o.Object["status"] = status
	}
	return o
}

func ready() map[string]any {
	return map[string]any{"conditions": []any{map[string]any{"type": "Ready", "status": "True"}}}
}

func testCluster() *fakeCluster {
	return &fakeCluster{objects: map[string][]unstructured.Unstructured{
		"inferenceservices/team-a":                {obj("m9", nil), obj("m1", ready())},
		"inferenceservices/team-b":                {obj("m2", ready())},
		"pytorchjobs/team-a":                      {obj("train-a", map[string]any{"conditions": []any{map[string]any{"type": "Running", "status": "True"}}})},
		"notebooks/team-a":                        {obj("notebook-a", map[string]any{"readyReplicas": int64(1)})},
		"workflows/team-a":                        {obj("iris-pipeline-a1b2c", map[string]any{"phase": "Running"})},
		"datasciencepipelinesapplications/team-a": {obj("dspa", ready())},
	}}
}

var (
	alice     = tokenUser(&identity.User{Name: "alice", Groups: []string{"team-a"}, Method: identity.MethodToken}, "alice-token")
	developer = devUser()
)

// tokenUser returns u carrying token, as TokenReview's cache hands users out.
func tokenUser(u *identity.User, token string) *identity.User {
	c := identity.NewTokenCache(func(context.Context, string) (*identity.User, error) { return u, nil }, time.Minute, time.Minute)
	got, err := c.Review(context.Background(), token)
	if err != nil {
		panic(err)
	}
	return got
}

func devUser() *identity.User {
	u, err := identity.NewDevelopment("developer", nil).Authenticate(httptest.NewRequest(http.MethodGet, "/", nil))
	if err != nil {
		panic(err)
	}
	return u
}

type response struct {
	status int
	body   Answer
	raw    string
}

func get(t *testing.T, a *API, u *identity.User, path string) response {
	t.Helper()
	e := echo.New()
	a.RegisterRoute(e)
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if u != nil {
		req = req.WithContext(identity.WithUser(req.Context(), u))
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	out := response{status: rec.Code, raw: rec.Body.String()}
	if rec.Code == http.StatusOK {
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out.body), rec.Body.String())
	}
	return out
}

func newTestAPI(authz Authorizer, c Cluster, q QueryFunc) *API {
	var cluster Cluster
	if c != nil {
		cluster = c
	}
	a := NewAPI("", authz, cluster, errors.New("unable to load in-cluster configuration"), q, Options{MetricsTimeout: 5 * time.Second, MetricsConcurrency: 4, MaxMetricsWorkloads: 100})
	a.now = func() time.Time { return time.Unix(1700000000, 0) }
	return a
}

func names(items []Workload) []string {
	out := make([]string, len(items))
	for i, w := range items {
		out[i] = w.Kind + "/" + w.Name
	}
	return out
}

func TestListAll(t *testing.T) {
	c := testCluster()
	c.notServed = map[string]bool{"llminferenceservices": true, "rayjobs": true, "trainjobs": true}
	p := &fakeProm{answers: map[string][]Sample{
		`sum(rate(vllm:request_success_total{model_name="m1"}[5m]))`:        one(1),
		`avg(DCGM_FI_DEV_GPU_UTIL{exported_pod=~"train-a-.*"})`:             one(40),
		`sum by (phase) (argo_workflows_gauge)`:                             {{Labels: map[string]string{"phase": "Running"}, Value: 2}},
		`sum(rate(kserve_vllm:request_success_total{model_name="m9"}[5m]))`: one(0.5),
	}}
	authz := &fakeAuthz{allow: true}
	r := get(t, newTestAPI(authz, c, p.query), alice, "/api/v1/projects/team-a/workloads")
	require.Equal(t, http.StatusOK, r.status, r.raw)
	assert.Equal(t, []string{"read Dashboard team-a"}, authz.asked)
	assert.Equal(t, "team-a", r.body.Project)
	assert.Equal(t, "2023-11-14T22:13:20Z", r.body.Time)
	assert.Equal(t, []string{
		"InferenceService/m1", "InferenceService/m9", "PyTorchJob/train-a", "Notebook/notebook-a",
		"DataSciencePipelinesApplication/dspa", "Workflow/iris-pipeline-a1b2c",
	}, names(r.body.Items))
	assert.Equal(t, []string{
		"CRD llminferenceservices.serving.kserve.io is not installed: no LLMInferenceService listed",
		"CRD trainjobs.trainer.kubeflow.org is not installed: no TrainJob listed",
		"CRD rayjobs.ray.io is not installed: no RayJob listed",
	}, r.body.Hints)
	for _, cr := range c.creds {
		assert.Equal(t, Credential{Token: "alice-token"}, cr, "listed with the caller's own token")
	}
	assert.Len(t, c.creds, 5)
	assert.Equal(t, "team-a", p.project)
	assert.Equal(t, time.Unix(1700000000, 0), p.at)

	m1 := r.body.Items[0]
	assert.Equal(t, "model_serving", string(m1.Type))
	assert.Equal(t, "Ready", m1.Status)
	assert.Equal(t, "serving.kserve.io/inferenceservice=m1", m1.PodSelector)
	assert.Equal(t, "serving.kserve.io/v1beta1", m1.APIVersion)
	assert.Equal(t, "2026-01-02T03:04:05Z", m1.Created)
	assert.InDelta(t, 1.0, value(t, m1.Metrics["request_rate"]), 1e-9)
	assert.Nil(t, m1.Metrics["p95_latency"].Value)
	assert.Equal(t, "no data", m1.Metrics["p95_latency"].Note)
	assert.Equal(t, "no data", m1.Metrics["error_rate"].Note)
	assert.Len(t, m1.Metrics, 3)

	m9 := r.body.Items[1]
	assert.Equal(t, "Unknown", m9.Status)
	assert.InDelta(t, 0.5, value(t, m9.Metrics["request_rate"]), 1e-9)
	assert.Equal(t, `sum(rate(kserve_vllm:request_success_total{model_name="m9"}[5m]))`, m9.Metrics["request_rate"].Query)

	train := r.body.Items[2]
	assert.Equal(t, "training", string(train.Type))
	assert.Equal(t, "Running", train.Status)
	assert.InDelta(t, 40.0, value(t, train.Metrics["gpu_utilization"]), 1e-9)
	assert.Equal(t, "percent", train.Metrics["gpu_utilization"].Unit)
	assert.Equal(t, "no data", train.Metrics["gpu_memory_used"].Note)
	assert.Equal(t, "no data", train.Metrics["cpu"].Note)

	nb := r.body.Items[3]
	assert.Equal(t, "Running", nb.Status)
	assert.Equal(t, "notebook-name=notebook-a", nb.PodSelector)
	assert.ElementsMatch(t, []string{"cpu", "memory"}, keys(nb.Metrics))

	dspa := r.body.Items[4]
	assert.Equal(t, map[string]float64{"Running": 2}, dspa.Metrics["runs_by_phase"].Values)

	// A null figure is written as null, with its note.
	assert.Contains(t, r.raw, `"p95_latency":{"value":null,"unit":"seconds","query":"histogram_quantile(0.95, sum by (le) (rate(vllm:e2e_request_latency_seconds_bucket{model_name=\"m1\"}[5m])))","note":"no data"}`)
}

func keys(m map[string]Figure) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestListOneType(t *testing.T) {
	c := testCluster()
	p := &fakeProm{}
	r := get(t, newTestAPI(&fakeAuthz{allow: true}, c, p.query), alice, "/api/v1/projects/team-b/workloads?type=model_serving&time=2023-11-14T22:00:00Z&metrics=false")
	require.Equal(t, http.StatusOK, r.status, r.raw)
	assert.Equal(t, []string{"InferenceService/m2"}, names(r.body.Items))
	assert.Empty(t, r.body.Items[0].Metrics, "metrics=false")
	assert.Contains(t, r.raw, `"metrics":{}`)
	assert.Equal(t, []string{}, r.body.Hints)
	assert.Contains(t, r.raw, `"hints":[]`)
	assert.Equal(t, "2023-11-14T22:00:00Z", r.body.Time)
	assert.Empty(t, p.asked)
	assert.Len(t, c.creds, 2, "InferenceService and LLMInferenceService only")

	r = get(t, newTestAPI(&fakeAuthz{allow: true}, testCluster(), p.query), alice, "/api/v1/projects/team-a/workloads?type=notebook&time=1700000123.5")
	require.Equal(t, http.StatusOK, r.status, r.raw)
	assert.Equal(t, []string{"Notebook/notebook-a"}, names(r.body.Items))
	assert.Equal(t, "2023-11-14T22:15:23.5Z", r.body.Time)
	assert.Equal(t, time.Unix(1700000123, 5e8).UTC(), p.at.UTC())
}

func TestEmptyProject(t *testing.T) {
	r := get(t, newTestAPI(&fakeAuthz{allow: true}, testCluster(), (&fakeProm{}).query), alice, "/api/v1/projects/empty/workloads")
	require.Equal(t, http.StatusOK, r.status, r.raw)
	assert.Contains(t, r.raw, `"items":[]`)
}

func TestRefusals(t *testing.T) {
	forbid := func(resource string) error {
		return apierrors.NewForbidden(schema.GroupResource{Group: "serving.kserve.io", Resource: resource}, "", errors.New(`User "carol" cannot list resource`))
	}
	for _, tc := range []struct {
		name    string
		authz   *fakeAuthz
		user    *identity.User
		cluster func() Cluster
		path    string
		status  int
		msg     string
	}{
		{name: "no user", authz: &fakeAuthz{allow: true}, path: "/api/v1/projects/team-a/workloads", status: 401},
		{name: "no right on dashboards", authz: &fakeAuthz{}, user: alice, path: "/api/v1/projects/team-b/workloads", status: 403,
			msg: `forbidden: alice may not read dashboards in project \"team-b\"`},
		{name: "cluster says no", authz: &fakeAuthz{allow: true}, user: alice, path: "/api/v1/projects/team-a/workloads", status: 403,
			cluster: func() Cluster {
				c := testCluster()
				c.errs = map[string]error{"inferenceservices": forbid("inferenceservices"), "llminferenceservices": forbid("llminferenceservices")}
				return c
			},
			msg: `forbidden: alice may not list inferenceservices.serving.kserve.io, llminferenceservices.serving.kserve.io in namespace \"team-a\"`},
		{name: "token refused by the cluster", authz: &fakeAuthz{allow: true}, user: alice, path: "/api/v1/projects/team-a/workloads", status: 403,
			cluster: func() Cluster {
				c := testCluster()
				c.errs = map[string]error{"notebooks": apierrors.NewUnauthorized("token expired")}
				return c
			}, msg: "the cluster did not accept the caller's credentials"},
		{name: "cluster unreachable", authz: &fakeAuthz{allow: true}, user: alice, path: "/api/v1/projects/team-a/workloads", status: 503,
			cluster: func() Cluster {
				c := testCluster()
				c.errs = map[string]error{"workflows": errors.New("dial tcp 127.0.0.1:6443: connection refused")}
				return c
			}, msg: "cannot list workloads now: workflows.argoproj.io: dial tcp"},
		{name: "no cluster connection", authz: &fakeAuthz{allow: true}, user: alice, path: "/api/v1/projects/team-a/workloads", status: 503,
			cluster: func() Cluster { return nil }, msg: "no connection to a Kubernetes cluster (openshift_ai.kubernetes): unable to load in-cluster configuration"},
		{name: "user without token", authz: &fakeAuthz{allow: true}, user: &identity.User{Name: "jwt-user", Method: identity.MethodOIDC}, path: "/api/v1/projects/team-a/workloads", status: 403,
			msg: "jwt-user presented no bearer token"},
		{name: "unknown type", authz: &fakeAuthz{allow: true}, user: alice, path: "/api/v1/projects/team-a/workloads?type=notebooks", status: 400,
			msg: `type \"notebooks\": want one of model_serving, training, notebook, pipeline`},
		{name: "unknown parameter", authz: &fakeAuthz{allow: true}, user: alice, path: "/api/v1/projects/team-a/workloads?name=x", status: 400, msg: `unknown parameter \"name\"`},
		{name: "repeated parameter", authz: &fakeAuthz{allow: true}, user: alice, path: "/api/v1/projects/team-a/workloads?type=notebook&type=training", status: 400, msg: "parameter type given 2 times"},
		{name: "bad time", authz: &fakeAuthz{allow: true}, user: alice, path: "/api/v1/projects/team-a/workloads?time=yesterday", status: 400, msg: "want RFC 3339 or Unix seconds"},
		{name: "bad metrics", authz: &fakeAuthz{allow: true}, user: alice, path: "/api/v1/projects/team-a/workloads?metrics=maybe", status: 400},
		{name: "project not a namespace name", authz: &fakeAuthz{allow: true}, user: alice, path: "/api/v1/projects/Team_A/workloads", status: 400, msg: "is not a namespace name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c Cluster = testCluster()
			if tc.cluster != nil {
				c = tc.cluster()
			}
			r := get(t, newTestAPI(tc.authz, c, (&fakeProm{}).query), tc.user, tc.path)
			assert.Equal(t, tc.status, r.status, r.raw)
			assert.Contains(t, r.raw, tc.msg)
		})
	}
}

func TestServerCredentials(t *testing.T) {
	c := testCluster()
	r := get(t, newTestAPI(&fakeAuthz{allow: true}, c, (&fakeProm{}).query), developer, "/api/v1/projects/team-a/workloads?type=notebook")
	require.Equal(t, http.StatusOK, r.status, r.raw)
	assert.Equal(t, []Credential{{Server: true}}, c.creds)
	assert.Equal(t, []string{"listed with the server's own Kubernetes credentials: development mode (no user token)"}, r.body.Hints)

	c = testCluster()
	authz := &fakeAuthz{off: true}
	r = get(t, newTestAPI(authz, c, (&fakeProm{}).query), nil, "/api/v1/projects/team-a/workloads?type=notebook")
	require.Equal(t, http.StatusOK, r.status, r.raw)
	assert.Equal(t, []Credential{{Server: true}}, c.creds)
	assert.Empty(t, authz.asked)
	assert.Equal(t, []string{"listed with the server's own Kubernetes credentials: authentication is off"}, r.body.Hints)

	// Refused to the server: the refusal says whose rights were used.
	c = testCluster()
	c.errs = map[string]error{"notebooks": apierrors.NewForbidden(schema.GroupResource{Group: "kubeflow.org", Resource: "notebooks"}, "", errors.New("no"))}
	r = get(t, newTestAPI(&fakeAuthz{allow: true}, c, (&fakeProm{}).query), developer, "/api/v1/projects/team-a/workloads?type=notebook")
	assert.Equal(t, http.StatusForbidden, r.status)
	assert.Contains(t, r.raw, `forbidden: the server's own credentials (development mode, user developer) may not list notebooks.kubeflow.org in namespace \"team-a\"`)
}

func TestRemovedCRD(t *testing.T) {
	c := testCluster()
	c.gone = map[string]bool{"inferenceservices": true}
	r := get(t, newTestAPI(&fakeAuthz{allow: true}, c, (&fakeProm{}).query), alice, "/api/v1/projects/team-a/workloads?type=model_serving")
	require.Equal(t, http.StatusOK, r.status, r.raw)
	assert.Empty(t, r.body.Items)
	assert.Equal(t, []string{"CRD inferenceservices.serving.kserve.io is not installed: no InferenceService listed"}, r.body.Hints)
	assert.Equal(t, []string{"inferenceservices"}, c.forgot, "discovery is asked again next time")
}

func TestFigureLimits(t *testing.T) {
	c := testCluster()
	p := &fakeProm{answers: map[string][]Sample{`sum(rate(vllm:request_success_total{model_name="m1"}[5m]))`: one(1)}}
	a := newTestAPI(&fakeAuthz{allow: true}, c, p.query)
	a.opts.MaxMetricsWorkloads = 1
	r := get(t, a, alice, "/api/v1/projects/team-a/workloads?type=model_serving")
	require.Equal(t, http.StatusOK, r.status, r.raw)
	require.Len(t, r.body.Items, 2)
	assert.InDelta(t, 1.0, value(t, r.body.Items[0].Metrics["request_rate"]), 1e-9)
	f := r.body.Items[1].Metrics["request_rate"]
	assert.Nil(t, f.Value)
	assert.Contains(t, f.Note, "not computed: figures are computed for the first 1 workloads")
	assert.Equal(t, []string{"headline figures computed for the first 1 of 2 workloads (openshift_ai.workloads.max_metrics_workloads); ask for one type with ?type="}, r.body.Hints)

	// A slow Prometheus: figures time out as notes, the list is answered.
	slow := func(ctx context.Context, _, _ string, _ time.Time) ([]Sample, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	a = newTestAPI(&fakeAuthz{allow: true}, testCluster(), slow)
	a.opts.MetricsTimeout = 50 * time.Millisecond
	a.opts.MetricsConcurrency = 1
	start := time.Now()
	r = get(t, a, alice, "/api/v1/projects/team-a/workloads")
	require.Equal(t, http.StatusOK, r.status, r.raw)
	assert.Less(t, time.Since(start), 5*time.Second)
	for _, w := range r.body.Items {
		for name, f := range w.Metrics {
			assert.Nil(t, f.Value, "%s %s", w.Name, name)
			assert.Contains(t, f.Note, "timed out", "%s %s", w.Name, name)
		}
	}
}
