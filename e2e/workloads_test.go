//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/openshift-ai/observability/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"
)

// wlResource is one of the eight workload resources (e2e/testdata/crds).
type wlResource struct {
	kind string
	gvr  schema.GroupVersionResource
}

var wlResources = []wlResource{
	{"InferenceService", schema.GroupVersionResource{Group: "serving.kserve.io", Version: "v1beta1", Resource: "inferenceservices"}},
	{"LLMInferenceService", schema.GroupVersionResource{Group: "serving.kserve.io", Version: "v1alpha1", Resource: "llminferenceservices"}},
	{"PyTorchJob", schema.GroupVersionResource{Group: "kubeflow.org", Version: "v1", Resource: "pytorchjobs"}},
	{"TrainJob", schema.GroupVersionResource{Group: "trainer.kubeflow.org", Version: "v1alpha1", Resource: "trainjobs"}},
	{"RayJob", schema.GroupVersionResource{Group: "ray.io", Version: "v1", Resource: "rayjobs"}},
	{"Notebook", schema.GroupVersionResource{Group: "kubeflow.org", Version: "v1", Resource: "notebooks"}},
	{"DataSciencePipelinesApplication", schema.GroupVersionResource{Group: "datasciencepipelinesapplications.opendatahub.io", Version: "v1", Resource: "datasciencepipelinesapplications"}},
	{"Workflow", schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "workflows"}},
}

func wlGVR(t *testing.T, kind string) schema.GroupVersionResource {
	t.Helper()
	for _, r := range wlResources {
		if r.kind == kind {
			return r.gvr
		}
	}
	t.Fatalf("no resource %s", kind)
	return schema.GroupVersionResource{}
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// The workload instances: named so that the backfilled series of hack/prometheus/start.sh
// are theirs (m1, train-a, notebook-a, iris-pipeline-a1b2c in team-a), or are another
// namespace's (m2 and notebook-b are team-b's names: in team-a they have no data).
type wlInstance struct {
	namespace, kind, name string
	spec, status          map[string]any
}

func wlCondition(typ, status, reason string) map[string]any {
	return map[string]any{"type": typ, "status": status, "reason": reason}
}

var wlInstances = []wlInstance{
	{"team-a", "InferenceService", "m1", nil, map[string]any{"conditions": []any{wlCondition("PredictorReady", "True", ""), wlCondition("Ready", "True", "")}}},
	{"team-a", "InferenceService", "m2", nil, map[string]any{"conditions": []any{wlCondition("Ready", "False", "RevisionMissing")}}},
	{"team-a", "LLMInferenceService", "llm-a", map[string]any{"model": map[string]any{"uri": "hf://ibm-granite/granite-3.1-2b-instruct"}}, nil},
	{"team-a", "PyTorchJob", "train-a", nil, map[string]any{"conditions": []any{wlCondition("Created", "True", "PyTorchJobCreated"), wlCondition("Running", "True", "PyTorchJobRunning")}}},
	{"team-a", "TrainJob", "tj-a", nil, nil},
	{"team-a", "RayJob", "ray-a", nil, map[string]any{"jobDeploymentStatus": "Running", "jobStatus": "RUNNING", "rayClusterName": "ray-a-raycluster-x7k2p"}},
	{"team-a", "Notebook", "notebook-a", nil, map[string]any{"readyReplicas": int64(1)}},
	{"team-a", "Notebook", "notebook-b", nil, map[string]any{"readyReplicas": int64(0)}},
	{"team-a", "DataSciencePipelinesApplication", "dspa", nil, map[string]any{"conditions": []any{wlCondition("Ready", "True", "MinimumReplicasAvailable")}}},
	{"team-a", "Workflow", "iris-pipeline-a1b2c", nil, map[string]any{"phase": "Running"}},
	{"team-b", "InferenceService", "m2", nil, map[string]any{"conditions": []any{wlCondition("Ready", "True", "")}}},
	{"team-b", "Notebook", "notebook-b", nil, map[string]any{"readyReplicas": int64(1)}},
}

// workloadsEnv is a real kube-apiserver with the eight CRDs and their instances in
// team-a and team-b, and a Perses server of the test's own (TokenReview, access by
// SubjectAccessReview, PROMETHEUS_URL the suite's Prometheus).
type workloadsEnv struct {
	kube       *testenv.Kube
	admin      dynamic.Interface
	perses     *persesInstance
	kubeconfig string // the server's: its service account perses/perses
	t0         string // the last backfilled sample's time: the figures' evaluation time
	router     routers.Router
}

func startWorkloadsEnv(t *testing.T) *workloadsEnv {
	t.Helper()
	ctx := context.Background()
	k := startTeamsKube(t, "workloads")

	admin, err := dynamic.NewForConfig(k.Config(k.AdminUser()))
	require.NoError(t, err)
	env := &workloadsEnv{kube: k, admin: admin}
	env.installCRDs(t)

	// The shipped ClusterRoles grant nothing on these resources: each team gets a Role
	// that lists them in its own namespace (the stock edit role does not, here: no
	// KServe or Kubeflow aggregation labels). Carol (view in team-a) gets none.
	var rule rbacv1.PolicyRule
	for _, r := range wlResources {
		rule.APIGroups = append(rule.APIGroups, r.gvr.Group)
		rule.Resources = append(rule.Resources, r.gvr.Resource)
	}
	rule.Verbs = []string{"get", "list", "watch"}
	for _, team := range []string{"team-a", "team-b"} {
		require.NoError(t, k.CreateRole(ctx, team, "workloads-reader", rule))
		require.NoError(t, k.BindRole(ctx, team, "workloads-reader", testenv.GroupSubject(team)))
	}
	for _, in := range wlInstances {
		env.create(t, in)
	}
	env.waitAllowed(t, "team-a", "alice", k.Groups("alice"), "notebooks")
	env.waitAllowed(t, "team-b", "bob", k.Groups("bob"), "notebooks")

	dir, kubeconfig := serverKubeconfig(t, k, "workloads")
	env.kubeconfig = kubeconfig
	databaseURL := ""
	if shared.store == storePostgres {
		databaseURL, err = createDatabase(filepath.Base(dir))
		require.NoError(t, err)
		t.Cleanup(func() { dropDatabase(filepath.Base(dir)) })
	}
	env.perses = launchForTest(t, dir, databaseURL, launchOptions{openshiftAI: fmt.Sprintf(`  kubernetes:
    kubeconfig: %q
  identity:
    token_review:
      enabled: true
  access:
    projects: kubernetes
  workloads:
    discovery_ttl: 2s
`, kubeconfig)})
	env.t0 = lastBackfilledSample(t)
	env.router = documentRouter(t, env.perses.url)
	return env
}

// installCRDs creates the CRDs of e2e/testdata/crds and waits until they are served.
func (e *workloadsEnv) installCRDs(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	files, err := filepath.Glob(filepath.Join(shared.repoRoot, "e2e", "testdata", "crds", "*.yaml"))
	require.NoError(t, err)
	require.Len(t, files, len(wlResources))
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		var o unstructured.Unstructured
		require.NoError(t, yaml.Unmarshal(data, &o.Object), f)
		_, err = e.admin.Resource(crdGVR).Create(ctx, &o, metav1.CreateOptions{})
		require.NoError(t, err, f)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, r := range wlResources {
		for {
			_, err := e.admin.Resource(r.gvr).Namespace("team-a").List(ctx, metav1.ListOptions{})
			if err == nil {
				break
			}
			require.True(t, time.Now().Before(deadline), "%s not served within 30 s: %v", r.gvr, err)
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// create makes an instance, and sets its status through the status subresource.
func (e *workloadsEnv) create(t *testing.T, in wlInstance) {
	t.Helper()
	ctx := context.Background()
	gvr := wlGVR(t, in.kind)
	o := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": gvr.GroupVersion().String(), "kind": in.kind,
		"metadata": map[string]any{"name": in.name, "namespace": in.namespace},
		"spec":     map[string]any{},
	}}
	if in.spec != nil {
		o.Object["spec"] = in.spec
	}
	created, err := e.admin.Resource(gvr).Namespace(in.namespace).Create(ctx, o, metav1.CreateOptions{})
	require.NoError(t, err, "%s %s/%s", in.kind, in.namespace, in.name)
	if in.status == nil {
		return
	}
	created.Object["status"] = in.status
	_, err = e.admin.Resource(gvr).Namespace(in.namespace).UpdateStatus(ctx, created, metav1.UpdateOptions{})
	require.NoError(t, err, "status of %s %s/%s", in.kind, in.namespace, in.name)
}

// waitAllowed waits until the cluster's RBAC (its informers) lets user list resource
// (kubeflow.org) in namespace.
func (e *workloadsEnv) waitAllowed(t *testing.T, namespace, user string, groups []string, resource string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := e.kube.Admin.AuthorizationV1().SubjectAccessReviews().Create(context.Background(), &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{User: user, Groups: groups, ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: namespace, Verb: "list", Group: "kubeflow.org", Resource: resource,
			}},
		}, metav1.CreateOptions{})
		require.NoError(t, err)
		if res.Status.Allowed {
			return
		}
		require.True(t, time.Now().Before(deadline), "%s may not list %s within 30 s", user, resource)
		time.Sleep(50 * time.Millisecond)
	}
}

// lastBackfilledSample is the time of the backfill's last sample, where every series has
// its fixed last value (hack/prometheus/start.sh).
func lastBackfilledSample(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(prometheusURL(t) + "/api/v1/query?query=" + url.QueryEscape(`up{job="workload",namespace="team-a"}[12h]`))
	require.NoError(t, err)
	defer resp.Body.Close()
	var m struct {
		Data struct {
			Result []struct {
				Values [][]any `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
	require.Len(t, m.Data.Result, 1)
	vals := m.Data.Result[0].Values
	require.NotEmpty(t, vals)
	last, ok := vals[len(vals)-1][0].(float64)
	require.True(t, ok)
	return strconv.FormatFloat(last, 'f', -1, 64)
}

// wlAnswer is the endpoint's answer.
type wlAnswer struct {
	Project string `json:"project"`
	Time    string `json:"time"`
	Items   []struct {
		Name        string              `json:"name"`
		Kind        string              `json:"kind"`
		APIVersion  string              `json:"api_version"`
		Type        string              `json:"type"`
		Status      string              `json:"status"`
		Message     string              `json:"message"`
		Created     string              `json:"created"`
		PodSelector string              `json:"pod_selector"`
		Metrics     map[string]wlFigure `json:"metrics"`
	} `json:"items"`
	Hints []string `json:"hints"`
}

type wlFigure struct {
	Value  *float64           `json:"value"`
	Values map[string]float64 `json:"values"`
	Unit   string             `json:"unit"`
	Query  string             `json:"query"`
	Note   string             `json:"note"`
}

func (a wlAnswer) names() []string {
	out := make([]string, len(a.Items))
	for i, it := range a.Items {
		out[i] = it.Kind + "/" + it.Name
	}
	return out
}

// get asks as user, expects want, and checks the answer against the OpenAPI document.
func (e *workloadsEnv) get(t *testing.T, user, path string, want int) (wlAnswer, apiResponse) {
	t.Helper()
	token := ""
	if user != "" {
		token = e.kube.Token(user)
	}
	api := &apiClient{base: e.perses.url, http: &http.Client{Timeout: 60 * time.Second}, token: token}
	r := api.do(t, http.MethodGet, path, nil)
	require.Equalf(t, want, r.Status, "%s as %s: %s", path, user, r)
	req, err := http.NewRequest(http.MethodGet, e.perses.url+path, nil)
	require.NoError(t, err)
	route, params, err := e.router.FindRoute(req)
	require.NoError(t, err, "the document has no route for %s", path)
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	if want < 400 {
		require.NoError(t, openapi3filter.ValidateRequest(context.Background(), in), "the request does not fit the document")
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: r.Status, Header: r.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	out.SetBodyBytes(r.Body)
	require.NoError(t, openapi3filter.ValidateResponse(context.Background(), out), "%s answered %s, which the document does not allow", path, r)
	var a wlAnswer
	if r.Status == http.StatusOK {
		r.decode(t, &a)
	}
	return a, r
}

func figureOf(t *testing.T, a wlAnswer, kind, name, figure string) wlFigure {
	t.Helper()
	for _, it := range a.Items {
		if it.Kind == kind && it.Name == name {
			f, ok := it.Metrics[figure]
			require.True(t, ok, "%s %s has no figure %s: %v", kind, name, figure, it.Metrics)
			return f
		}
	}
	t.Fatalf("no %s %s in %v", kind, name, a.names())
	return wlFigure{}
}

func requireValue(t *testing.T, f wlFigure, want, delta float64) {
	t.Helper()
	require.NotNil(t, f.Value, "no value: %+v", f)
	assert.InDelta(t, want, *f.Value, delta, "%+v", f)
	assert.Empty(t, f.Note)
}

func requireNoData(t *testing.T, f wlFigure) {
	t.Helper()
	assert.Nil(t, f.Value, "%+v", f)
	assert.Equal(t, "no data", f.Note, "%+v", f)
}

func TestWorkloads(t *testing.T) {
	e := startWorkloadsEnv(t)
	at := "?time=" + e.t0
	base := "/api/v1/projects/team-a/workloads"

	t.Run("alice lists team-a's workloads with their figures", func(t *testing.T) {
		a, r := e.get(t, "alice", base+at, http.StatusOK)
		assert.Equal(t, "team-a", a.Project)
		assert.Equal(t, []string{
			"InferenceService/m1", "InferenceService/m2", "LLMInferenceService/llm-a",
			"PyTorchJob/train-a", "RayJob/ray-a", "TrainJob/tj-a",
			"Notebook/notebook-a", "Notebook/notebook-b",
			"DataSciencePipelinesApplication/dspa", "Workflow/iris-pipeline-a1b2c",
		}, a.names(), "team-a's only, by type, kind and name")
		assert.Equal(t, []string{}, a.Hints, "%s", r)

		byName := map[string]int{}
		for i, it := range a.Items {
			byName[it.Kind+"/"+it.Name] = i
			_, err := time.Parse(time.RFC3339, it.Created)
			assert.NoError(t, err, "created of %s", it.Name)
		}
		check := func(key, typ, apiVersion, status, selector string) {
			t.Helper()
			it := a.Items[byName[key]]
			assert.Equal(t, typ, it.Type, key)
			assert.Equal(t, apiVersion, it.APIVersion, key)
			assert.Equal(t, status, it.Status, key)
			assert.Equal(t, selector, it.PodSelector, key)
		}
		check("InferenceService/m1", "model_serving", "serving.kserve.io/v1beta1", "Ready", "serving.kserve.io/inferenceservice=m1")
		check("InferenceService/m2", "model_serving", "serving.kserve.io/v1beta1", "NotReady", "serving.kserve.io/inferenceservice=m2")
		check("LLMInferenceService/llm-a", "model_serving", "serving.kserve.io/v1alpha1", "Unknown", "app.kubernetes.io/name=llm-a,app.kubernetes.io/part-of=llminferenceservice")
		check("PyTorchJob/train-a", "training", "kubeflow.org/v1", "Running", "training.kubeflow.org/job-name=train-a")
		check("TrainJob/tj-a", "training", "trainer.kubeflow.org/v1alpha1", "Pending", "jobset.sigs.k8s.io/jobset-name=tj-a")
		check("RayJob/ray-a", "training", "ray.io/v1", "Running", "ray.io/cluster=ray-a-raycluster-x7k2p")
		check("Notebook/notebook-a", "notebook", "kubeflow.org/v1", "Running", "notebook-name=notebook-a")
		check("Notebook/notebook-b", "notebook", "kubeflow.org/v1", "Pending", "notebook-name=notebook-b")
		check("DataSciencePipelinesApplication/dspa", "pipeline", "datasciencepipelinesapplications.opendatahub.io/v1", "Ready", "dspa=dspa")
		check("Workflow/iris-pipeline-a1b2c", "pipeline", "argoproj.io/v1alpha1", "Running", "workflows.argoproj.io/workflow=iris-pipeline-a1b2c")
		assert.Equal(t, "RevisionMissing", a.Items[byName["InferenceService/m2"]].Message)

		// The backfilled series (hack/prometheus/start.sh) at their last sample.
		requireValue(t, figureOf(t, a, "InferenceService", "m1", "request_rate"), 1, 0.01)
		p95 := figureOf(t, a, "InferenceService", "m1", "p95_latency")
		requireValue(t, p95, 4.0625, 0.01) // 95 % of requests within 2.5 + 2.5·(0.95-0.9)/(0.98-0.9) s
		assert.Equal(t, `histogram_quantile(0.95, sum by (le) (rate(vllm:e2e_request_latency_seconds_bucket{model_name="m1"}[5m])))`, p95.Query)
		requireValue(t, figureOf(t, a, "InferenceService", "m1", "error_rate"), 0, 1e-9) // no aborted request
		assert.Equal(t, "seconds", p95.Unit)
		requireValue(t, figureOf(t, a, "PyTorchJob", "train-a", "gpu_utilization"), 40, 1e-9)
		requireValue(t, figureOf(t, a, "PyTorchJob", "train-a", "gpu_memory_used"), 20480*1048576, 1)
		requireValue(t, figureOf(t, a, "PyTorchJob", "train-a", "cpu"), 2, 0.01)
		requireValue(t, figureOf(t, a, "Notebook", "notebook-a", "cpu"), 0.25, 0.01)
		requireValue(t, figureOf(t, a, "Notebook", "notebook-a", "memory"), 536870912, 1)
		runs := figureOf(t, a, "DataSciencePipelinesApplication", "dspa", "runs_by_phase")
		requireValue(t, runs, 8, 1e-9)
		assert.Equal(t, map[string]float64{"Running": 2, "Succeeded": 5, "Failed": 1}, runs.Values)
		requireValue(t, figureOf(t, a, "Workflow", "iris-pipeline-a1b2c", "cpu"), 0.5, 0.01)

		// No series: null with "no data". m2 and notebook-b have series in team-b only:
		// tenancy confines the queries to team-a.
		for _, f := range []string{"request_rate", "p95_latency", "error_rate"} {
			requireNoData(t, figureOf(t, a, "InferenceService", "m2", f))
			requireNoData(t, figureOf(t, a, "LLMInferenceService", "llm-a", f))
		}
		for _, f := range []string{"gpu_utilization", "gpu_memory_used", "cpu"} {
			requireNoData(t, figureOf(t, a, "TrainJob", "tj-a", f))
			requireNoData(t, figureOf(t, a, "RayJob", "ray-a", f))
		}
		requireNoData(t, figureOf(t, a, "Notebook", "notebook-b", "cpu"))
		requireNoData(t, figureOf(t, a, "Notebook", "notebook-b", "memory"))
		requireNoData(t, figureOf(t, a, "Workflow", "iris-pipeline-a1b2c", "memory"))
		assert.Contains(t, string(r.Body), `"value":null`)
	})

	t.Run("one type", func(t *testing.T) {
		a, _ := e.get(t, "alice", base+at+"&type=notebook", http.StatusOK)
		assert.Equal(t, []string{"Notebook/notebook-a", "Notebook/notebook-b"}, a.names())
		a, _ = e.get(t, "alice", base+"?type=training&metrics=false", http.StatusOK)
		assert.Equal(t, []string{"PyTorchJob/train-a", "RayJob/ray-a", "TrainJob/tj-a"}, a.names())
		for _, it := range a.Items {
			assert.Empty(t, it.Metrics)
		}
		e.get(t, "alice", base+"?type=notebooks", http.StatusBadRequest)
	})

	t.Run("bob lists team-b's, with team-b's figures", func(t *testing.T) {
		a, _ := e.get(t, "bob", "/api/v1/projects/team-b/workloads"+at, http.StatusOK)
		assert.Equal(t, []string{"InferenceService/m2", "Notebook/notebook-b"}, a.names())
		requireValue(t, figureOf(t, a, "InferenceService", "m2", "request_rate"), 1, 0.01)
		requireValue(t, figureOf(t, a, "Notebook", "notebook-b", "cpu"), 0.5, 0.01)
		requireValue(t, figureOf(t, a, "Notebook", "notebook-b", "memory"), 1073741824, 1)
	})

	t.Run("bob may not list team-a's (the project guard)", func(t *testing.T) {
		_, r := e.get(t, "bob", base, http.StatusForbidden)
		assert.Contains(t, string(r.Body), "bob")
		assert.Contains(t, string(r.Body), "team-a")
		_, r = e.get(t, "bob", base+"?type=notebook", http.StatusForbidden)
		assert.NotContains(t, string(r.Body), "notebook-a")
	})

	t.Run("carol may read team-a's dashboards but not list its workloads (Kubernetes RBAC)", func(t *testing.T) {
		_, r := e.get(t, "carol", base, http.StatusForbidden)
		for _, res := range wlResources {
			assert.Contains(t, string(r.Body), res.gvr.Resource+"."+res.gvr.Group, "the refusal names every resource")
		}
		assert.Contains(t, string(r.Body), "carol")
		_, r = e.get(t, "carol", base+"?type=model_serving", http.StatusForbidden)
		assert.Contains(t, string(r.Body), "inferenceservices.serving.kserve.io")
		assert.NotContains(t, string(r.Body), "notebooks.kubeflow.org")
		// Granted list on notebooks in team-a, carol lists them.
		ctx := context.Background()
		require.NoError(t, e.kube.CreateRole(ctx, "team-a", "notebook-lister", rbacv1.PolicyRule{
			APIGroups: []string{"kubeflow.org"}, Resources: []string{"notebooks"}, Verbs: []string{"list"},
		}))
		require.NoError(t, e.kube.BindRole(ctx, "team-a", "notebook-lister", testenv.UserSubject("carol")))
		e.waitAllowed(t, "team-a", "carol", e.kube.Groups("carol"), "notebooks")
		a, _ := e.get(t, "carol", base+at+"&type=notebook", http.StatusOK)
		assert.Equal(t, []string{"Notebook/notebook-a", "Notebook/notebook-b"}, a.names())
		requireValue(t, figureOf(t, a, "Notebook", "notebook-a", "cpu"), 0.25, 0.01)
	})

	t.Run("no credentials", func(t *testing.T) {
		e.get(t, "", base, http.StatusUnauthorized)
	})

	t.Run("development mode: the server's own credentials, and it says so", func(t *testing.T) {
		ctx := context.Background()
		dir, err := os.MkdirTemp("/tmp", "perses-e2e-workloads-dev-")
		require.NoError(t, err)
		dev := launchForTest(t, dir, "", launchOptions{env: []string{"DEVELOPMENT_MODE=true"}, openshiftAI: fmt.Sprintf(`  kubernetes:
    kubeconfig: %q
`, e.kubeconfig)})
		devEnv := *e
		devEnv.perses, devEnv.router = dev, documentRouter(t, dev.url)
		// Without the access capability nothing creates projects on demand.
		(&apiClient{base: dev.url, http: &http.Client{Timeout: 30 * time.Second}}).expect(t, http.StatusOK, http.MethodPost, "/api/v1/projects", projectResource("team-a"))
		// The server's service account may list nothing of these: refused, naming them.
		_, r := devEnv.get(t, "", base+"?type=notebook", http.StatusForbidden)
		assert.Contains(t, string(r.Body), "notebooks.kubeflow.org")
		assert.Contains(t, string(r.Body), "developer")
		require.NoError(t, e.kube.BindRole(ctx, "team-a", "workloads-reader", testenv.ServiceAccountSubject("perses", "perses")))
		e.waitAllowed(t, "team-a", "system:serviceaccount:perses:perses", []string{"system:serviceaccounts", "system:serviceaccounts:perses"}, "notebooks")
		a, _ := devEnv.get(t, "", base+at+"&type=notebook", http.StatusOK)
		assert.Equal(t, []string{"Notebook/notebook-a", "Notebook/notebook-b"}, a.names())
		assert.Equal(t, []string{"listed with the server's own Kubernetes credentials: development mode (no user token)"}, a.Hints)
		requireValue(t, figureOf(t, a, "Notebook", "notebook-a", "memory"), 536870912, 1)
	})

	t.Run("a CRD removed: an empty list and a hint", func(t *testing.T) {
		ctx := context.Background()
		require.NoError(t, e.admin.Resource(crdGVR).Delete(ctx, "rayjobs.ray.io", metav1.DeleteOptions{}))
		deadline := time.Now().Add(60 * time.Second)
		for {
			if _, err := e.admin.Resource(crdGVR).Get(ctx, "rayjobs.ray.io", metav1.GetOptions{}); apierrors.IsNotFound(err) {
				break
			}
			require.True(t, time.Now().Before(deadline), "the CRD was not deleted within 60 s")
			time.Sleep(200 * time.Millisecond)
		}
		var a wlAnswer
		for {
			a, _ = e.get(t, "alice", base+"?type=training&metrics=false", http.StatusOK)
			if len(a.Hints) > 0 {
				break
			}
			require.True(t, time.Now().Before(deadline), "no hint within 60 s: %v", a)
			time.Sleep(200 * time.Millisecond)
		}
		assert.Equal(t, []string{"CRD rayjobs.ray.io is not installed: no RayJob listed"}, a.Hints)
		assert.Equal(t, []string{"PyTorchJob/train-a", "TrainJob/tj-a"}, a.names())

		// All the type's CRDs gone: an empty list, not an error.
		require.NoError(t, e.admin.Resource(crdGVR).Delete(ctx, "workflows.argoproj.io", metav1.DeleteOptions{}))
		require.NoError(t, e.admin.Resource(crdGVR).Delete(ctx, "datasciencepipelinesapplications.datasciencepipelinesapplications.opendatahub.io", metav1.DeleteOptions{}))
		for {
			_, r := e.get(t, "alice", "/api/v1/projects/team-a/workloads?type=pipeline", http.StatusOK)
			a = wlAnswer{}
			r.decode(t, &a)
			if len(a.Hints) == 2 {
				assert.True(t, bytes.Contains(r.Body, []byte(`"items":[]`)), "%s", r)
				break
			}
			require.True(t, time.Now().Before(deadline), "no hints within 60 s: %s", r)
			time.Sleep(200 * time.Millisecond)
		}
		assert.Equal(t, []string{
			"CRD datasciencepipelinesapplications.datasciencepipelinesapplications.opendatahub.io is not installed: no DataSciencePipelinesApplication listed",
			"CRD workflows.argoproj.io is not installed: no Workflow listed",
		}, a.Hints)
		// Carol, without list rights on them, is not refused for resources that do not exist.
		a, _ = e.get(t, "carol", "/api/v1/projects/team-a/workloads?type=pipeline", http.StatusOK)
		assert.Empty(t, a.Items)
		assert.Len(t, a.Hints, 2)
	})

	t.Run("counted", func(t *testing.T) {
		r := (&apiClient{base: e.perses.url, http: &http.Client{Timeout: 30 * time.Second}}).do(t, http.MethodGet, "/metrics", nil)
		require.Equal(t, http.StatusOK, r.Status)
		body := string(r.Body)
		assert.Contains(t, body, `perses_openshift_ai_workloads_requests_total{code="200"}`)
		assert.Contains(t, body, `perses_openshift_ai_workloads_requests_total{code="403"}`)
		assert.True(t, strings.Contains(body, `perses_openshift_ai_workloads_figure_queries_total{result="data"}`))
		assert.True(t, strings.Contains(body, `perses_openshift_ai_workloads_figure_queries_total{result="empty"}`))
	})
}
