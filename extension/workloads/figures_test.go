package workloads

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openshift-ai/observability/extension/tenancy"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// fakeProm answers queries from a table (absent: an empty vector) and records them.
type fakeProm struct {
	mu      sync.Mutex
	answers map[string][]Sample
	errs    map[string]error
	asked   []string
	project string
	at      time.Time
}

func (f *fakeProm) query(_ context.Context, project, query string, at time.Time) ([]Sample, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, query)
	f.project, f.at = project, at
	if err := f.errs[query]; err != nil {
		return nil, err
	}
	return f.answers[query], nil
}

func one(v float64) []Sample { return []Sample{{Labels: map[string]string{}, Value: v}} }

func value(t *testing.T, f Figure) float64 {
	t.Helper()
	require.NotNil(t, f.Value, "figure has no value: %+v", f)
	return *f.Value
}

func TestModelFiguresFallBackAcrossMetricNames(t *testing.T) {
	specs := modelFigures("m1")
	require.Len(t, specs, 3)
	rate, p95, errRate := specs[0], specs[1], specs[2]
	assert.Equal(t, []string{
		`sum(rate(vllm:request_success_total{model_name="m1"}[5m]))`,
		`sum(rate(kserve_vllm:request_success_total{model_name="m1"}[5m]))`,
		`sum(rate(request_predict_seconds_count{model_name="m1"}[5m]))`,
	}, queries(rate))
	assert.Equal(t, []string{
		`histogram_quantile(0.95, sum by (le) (rate(vllm:e2e_request_latency_seconds_bucket{model_name="m1"}[5m])))`,
		`histogram_quantile(0.95, sum by (le) (rate(kserve_vllm:e2e_request_latency_seconds_bucket{model_name="m1"}[5m])))`,
		`histogram_quantile(0.95, sum by (le) (rate(request_predict_seconds_bucket{model_name="m1"}[5m])))`,
	}, queries(p95))
	assert.Equal(t, []string{
		`(sum(rate(vllm:request_success_total{model_name="m1",finished_reason="abort"}[5m])) or vector(0)) / sum(rate(vllm:request_success_total{model_name="m1"}[5m]))`,
		`(sum(rate(kserve_vllm:request_success_total{model_name="m1",finished_reason="abort"}[5m])) or vector(0)) / sum(rate(kserve_vllm:request_success_total{model_name="m1"}[5m]))`,
	}, queries(errRate))

	at := time.Unix(1700000000, 0)
	ctx := context.Background()
	t.Run("vLLM's own names", func(t *testing.T) {
		p := &fakeProm{answers: map[string][]Sample{rate.Variants[0].Query: one(2.5)}}
		f := Evaluate(ctx, p.query, "team-a", at, rate)
		assert.InDelta(t, 2.5, value(t, f), 1e-9)
		assert.Equal(t, rate.Variants[0].Query, f.Query)
		assert.Equal(t, "requests/s", f.Unit)
		assert.Empty(t, f.Note)
		assert.Equal(t, []string{rate.Variants[0].Query}, p.asked, "the first answer ends the search")
		assert.Equal(t, "team-a", p.project)
		assert.Equal(t, at, p.at)
	})
	t.Run("kserve_vllm prefix", func(t *testing.T) {
		p := &fakeProm{answers: map[string][]Sample{p95.Variants[1].Query: one(0.8)}}
		f := Evaluate(ctx, p.query, "team-a", at, p95)
		assert.InDelta(t, 0.8, value(t, f), 1e-9)
		assert.Equal(t, p95.Variants[1].Query, f.Query)
		assert.Equal(t, queries(p95)[:2], p.asked)
	})
	t.Run("KServe Python server", func(t *testing.T) {
		p := &fakeProm{answers: map[string][]Sample{rate.Variants[2].Query: one(7)}}
		f := Evaluate(ctx, p.query, "team-a", at, rate)
		assert.InDelta(t, 7.0, value(t, f), 1e-9)
		assert.Equal(t, rate.Variants[2].Query, f.Query)
	})
	t.Run("absent everywhere: null, no data", func(t *testing.T) {
		p := &fakeProm{}
		f := Evaluate(ctx, p.query, "team-a", at, errRate)
		assert.Nil(t, f.Value)
		assert.Equal(t, "no data", f.Note)
		assert.Equal(t, errRate.Variants[0].Query, f.Query, "the first query tried")
		assert.Equal(t, "ratio", f.Unit)
		assert.Equal(t, queries(errRate), p.asked)
	})
	t.Run("NaN (no requests) is no data, and the next name is tried", func(t *testing.T) {
		p := &fakeProm{answers: map[string][]Sample{errRate.Variants[0].Query: one(math.NaN()), errRate.Variants[1].Query: one(0.25)}}
		f := Evaluate(ctx, p.query, "team-a", at, errRate)
		assert.InDelta(t, 0.25, value(t, f), 1e-9)
		p = &fakeProm{answers: map[string][]Sample{errRate.Variants[0].Query: one(math.Inf(1))}}
		f = Evaluate(ctx, p.query, "team-a", at, errRate)
		assert.Nil(t, f.Value)
		assert.Equal(t, "no data", f.Note)
	})
	t.Run("a failing query: the next is tried, the failure noted when none answers", func(t *testing.T) {
		boom := errors.New("Prometheus answered 503: unavailable")
		p := &fakeProm{errs: map[string]error{rate.Variants[0].Query: boom}, answers: map[string][]Sample{rate.Variants[1].Query: one(1)}}
		f := Evaluate(ctx, p.query, "team-a", at, rate)
		assert.InDelta(t, 1.0, value(t, f), 1e-9)
		assert.Empty(t, f.Note)

		p = &fakeProm{errs: map[string]error{rate.Variants[0].Query: boom}}
		f = Evaluate(ctx, p.query, "team-a", at, rate)
		assert.Nil(t, f.Value)
		assert.Equal(t, "query failed: Prometheus answered 503: unavailable", f.Note)
	})
	t.Run("time out", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, time.Nanosecond)
		defer cancel()
		<-ctx.Done()
		q := func(ctx context.Context, _, _ string, _ time.Time) ([]Sample, error) { return nil, ctx.Err() }
		f := Evaluate(ctx, q, "team-a", at, rate)
		assert.Nil(t, f.Value)
		assert.Equal(t, "query failed: timed out (openshift_ai.workloads.metrics_timeout)", f.Note)
	})
}

func TestRunsByPhase(t *testing.T) {
	spec := pipelineServerFigures()[0]
	p := &fakeProm{answers: map[string][]Sample{
		spec.Variants[0].Query: {
			{Labels: map[string]string{"phase": "Running"}, Value: 2},
			{Labels: map[string]string{"phase": "Succeeded"}, Value: 5},
			{Labels: map[string]string{"phase": "Failed"}, Value: 1},
		},
	}}
	f := Evaluate(context.Background(), p.query, "team-a", time.Time{}, spec)
	assert.InDelta(t, 8.0, value(t, f), 1e-9)
	assert.Equal(t, map[string]float64{"Running": 2, "Succeeded": 5, "Failed": 1}, f.Values)
	assert.Equal(t, "workflows", f.Unit)

	// Argo before 3.6: argo_workflows_count{status}.
	p = &fakeProm{answers: map[string][]Sample{
		spec.Variants[1].Query: {{Labels: map[string]string{"status": "Running"}, Value: 3}, {Labels: map[string]string{}, Value: 9}},
	}}
	f = Evaluate(context.Background(), p.query, "team-a", time.Time{}, spec)
	assert.InDelta(t, 3.0, value(t, f), 1e-9, "a sample without the label is not counted")
	assert.Equal(t, map[string]float64{"Running": 3}, f.Values)
	assert.Equal(t, `sum by (status) (argo_workflows_count)`, f.Query)
}

func queries(s FigureSpec) []string {
	out := make([]string, len(s.Variants))
	for i, v := range s.Variants {
		out[i] = v.Query
	}
	return out
}

// Every query of every resource parses, names no namespace (tenancy adds it), and is
// accepted by tenancy's enforcer with its default table (DCGM on exported_namespace).
func TestQueriesAreConfinable(t *testing.T) {
	e, err := tenancy.New(tenancy.DefaultConfig())
	require.NoError(t, err)
	obj := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"name": "my.work-load"},
		"spec":     map[string]any{"model": map[string]any{"name": "granite"}},
		"status":   map[string]any{"rayClusterName": "my.work-load-raycluster-abc"},
	}}
	for _, r := range Resources {
		specs, err := r.FiguresOf(obj)
		require.NoError(t, err)
		require.NotEmpty(t, specs, r.Kind)
		for _, s := range specs {
			for _, v := range s.Variants {
				_, err := parser.ParseExpr(v.Query)
				require.NoError(t, err, "%s %s: %s", r.Kind, s.Name, v.Query)
				assert.NotContains(t, v.Query, "namespace")
				enforced, err := e.Enforce(v.Query, "team-a")
				require.NoError(t, err, "%s %s: %s", r.Kind, s.Name, v.Query)
				if strings.Contains(v.Query, "DCGM_") {
					assert.Contains(t, enforced, `exported_namespace="team-a"`)
				} else {
					assert.Contains(t, enforced, `namespace="team-a"`)
				}
			}
		}
	}
}

func TestNamesInQueries(t *testing.T) {
	obj := func(name string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": name}}}
	}
	// A dot is a regular-expression character: escaped, and the escape escaped in PromQL.
	specs, err := resource(t, "Notebook").FiguresOf(obj("my.nb"))
	require.NoError(t, err)
	assert.Equal(t, `sum(rate(container_cpu_usage_seconds_total{pod=~"my\\.nb-[0-9]+",container!="",container!="POD"}[5m]))`, specs[0].Variants[0].Query)
	assert.Equal(t, `sum(container_memory_working_set_bytes{pod=~"my\\.nb-[0-9]+",container!="",container!="POD"})`, specs[1].Variants[0].Query)
	expr, err := parser.ParseExpr(specs[0].Variants[0].Query)
	require.NoError(t, err)
	var matcher string
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			for _, m := range vs.LabelMatchers {
				if m.Name == "pod" {
					matcher = m.Value
					assert.True(t, m.Matches("my.nb-0"))
					assert.False(t, m.Matches("myxnb-0"))
					assert.False(t, m.Matches("my.nb-extra-0"))
				}
			}
		}
		return nil
	})
	assert.Equal(t, `my\.nb-[0-9]+`, matcher)

	specs, err = resource(t, "PyTorchJob").FiguresOf(obj("train-a"))
	require.NoError(t, err)
	assert.Equal(t, `avg(DCGM_FI_DEV_GPU_UTIL{exported_pod=~"train-a-.*"})`, specs[0].Variants[0].Query)
	assert.Equal(t, `avg(DCGM_FI_PROF_GR_ENGINE_ACTIVE{exported_pod=~"train-a-.*"}) * 100`, specs[0].Variants[1].Query)

	// Names that are not DNS-1123 never reach a query.
	for _, bad := range []string{`m1"} or up{x="`, "M1", "a b", "", strings.Repeat("a", 254), `x\y`, "ünï"} {
		_, err := resource(t, "InferenceService").FiguresOf(obj(bad))
		assert.Error(t, err, "%q", bad)
	}

	// An LLMInferenceService's served model name is used when it is a DNS-1123 name.
	llm := resource(t, "LLMInferenceService")
	o := obj("llm-a")
	o.Object["spec"] = map[string]any{"model": map[string]any{"name": "granite-3.1"}}
	specs, err = llm.FiguresOf(o)
	require.NoError(t, err)
	assert.Contains(t, specs[0].Variants[0].Query, `model_name="granite-3.1"`)
	o.Object["spec"] = map[string]any{"model": map[string]any{"name": `ibm/granite"}`}}
	specs, err = llm.FiguresOf(o)
	require.NoError(t, err)
	assert.Contains(t, specs[0].Variants[0].Query, `model_name="llm-a"`, "not a name: the resource's name instead")

	// A RayJob's pods are its RayCluster's.
	o = obj("ray-a")
	o.Object["status"] = map[string]any{"rayClusterName": "ray-a-raycluster-x7k2p"}
	specs, err = resource(t, "RayJob").FiguresOf(o)
	require.NoError(t, err)
	assert.Equal(t, `avg(DCGM_FI_DEV_GPU_UTIL{exported_pod=~"ray-a-raycluster-x7k2p-.*"})`, specs[0].Variants[0].Query)
}

func TestParseInstant(t *testing.T) {
	s, err := ParseInstant(http.StatusOK, []byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"phase":"Running"},"value":[1700000000.5,"2"]},{"metric":{},"value":[1700000000.5,"NaN"]}]}}`))
	require.NoError(t, err)
	require.Len(t, s, 2)
	assert.Equal(t, "Running", s[0].Labels["phase"])
	assert.InDelta(t, 2.0, s[0].Value, 1e-9)
	assert.True(t, math.IsNaN(s[1].Value))

	s, err = ParseInstant(http.StatusOK, []byte(`{"status":"success","data":{"resultType":"scalar","result":[1700000000,"+Inf"]}}`))
	require.NoError(t, err)
	require.Len(t, s, 1)
	assert.True(t, math.IsInf(s[0].Value, 1))

	s, err = ParseInstant(http.StatusOK, []byte(`{"status":"success","data":{"resultType":"vector","result":[]}}`))
	require.NoError(t, err)
	assert.Empty(t, s)

	_, err = ParseInstant(http.StatusBadRequest, []byte(`{"status":"error","errorType":"bad_data","error":"parse error"}`))
	assert.EqualError(t, err, "Prometheus answered 400: parse error")
	_, err = ParseInstant(http.StatusBadGateway, []byte(`<html>bad gateway</html>`))
	assert.ErrorContains(t, err, "Prometheus answered 502, not its API's JSON")
	_, err = ParseInstant(http.StatusOK, []byte(`{"status":"success","data":{"resultType":"matrix","result":[]}}`))
	assert.ErrorContains(t, err, `"matrix"`)
}

func TestTenancyQuery(t *testing.T) {
	var got struct {
		project, dashboard, name, path string
		form                           url.Values
	}
	proxy := func(_ context.Context, project, dashboard, name, apiPath string, form url.Values) (int, []byte, error) {
		got.project, got.dashboard, got.name, got.path, got.form = project, dashboard, name, apiPath, form
		return http.StatusOK, []byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"3"]}]}}`), nil
	}
	s, err := TenancyQuery(proxy)(context.Background(), "team-a", "sum(up)", time.UnixMilli(1700000000250))
	require.NoError(t, err)
	require.Len(t, s, 1)
	assert.Equal(t, "team-a", got.project)
	assert.Empty(t, got.dashboard, "no dashboard")
	assert.Empty(t, got.name, "the project's default datasource")
	assert.Equal(t, "/api/v1/query", got.path)
	assert.Equal(t, url.Values{"query": {"sum(up)"}, "time": {"1700000000.25"}}, got.form)

	refused := errors.New("tenancy: conflicting namespace matcher")
	_, err = TenancyQuery(func(context.Context, string, string, string, string, url.Values) (int, []byte, error) {
		return 0, nil, refused
	})(context.Background(), "team-a", "x", time.Time{})
	assert.ErrorIs(t, err, refused)
}
