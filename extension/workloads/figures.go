package workloads

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// Window is the range of the rates and histograms of the figures.
const Window = "5m"

// Figure is one headline figure of a workload.
type Figure struct {
	// Value is the figure (the total, for figures by label), null without data.
	Value *float64 `json:"value"`
	// Values are the figure by label value (pipeline runs by phase), when it has them.
	Values map[string]float64 `json:"values,omitempty"`
	Unit   string             `json:"unit"`
	// Query is the PromQL that answered (before the namespace matcher tenancy adds), or
	// the first one tried when none did.
	Query string `json:"query"`
	// Note says why Value is null: "no data", "query failed: …", "not computed: …".
	Note string `json:"note,omitempty"`
}

// Notes of figures without a value.
const (
	NoteNoData = "no data"
)

// FigureSpec is a figure and the queries that may answer it, tried in order: the first
// that returns a (finite) sample is the figure.
type FigureSpec struct {
	Name     string
	Unit     string
	Variants []Variant
}

// Variant is one query for a figure. With By set the answer is a figure per value of
// that label (and Value their sum).
type Variant struct {
	Query string
	By    string
}

// Sample is one element of an instant query's answer.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// QueryFunc runs an instant PromQL query at a time, confined to the project's
// namespace (the tenancy proxy adds the matcher).
type QueryFunc func(ctx context.Context, project, query string, at time.Time) ([]Sample, error)

// Evaluate computes a figure with q: the first variant with data answers; an absent
// series is a null value noted "no data", a failing query one noted "query failed",
// never an error.
func Evaluate(ctx context.Context, q QueryFunc, project string, at time.Time, spec FigureSpec) Figure {
	f := Figure{Unit: spec.Unit, Note: NoteNoData}
	if len(spec.Variants) > 0 {
		f.Query = spec.Variants[0].Query
	}
	var firstErr error
	for _, v := range spec.Variants {
		samples, err := q(ctx, project, v.Query, at)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			if ctx.Err() != nil {
				break
			}
			continue
		}
		if got, ok := answer(samples, v.By); ok {
			got.Unit, got.Query = spec.Unit, v.Query
			return got
		}
	}
	if firstErr != nil {
		f.Note = "query failed: " + firstErr.Error()
		if errors.Is(firstErr, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			f.Note = "query failed: timed out (openshift_ai.workloads.metrics_timeout)"
		}
	}
	return f
}

// answer reads a figure from samples; ok is false when they hold no finite value.
func answer(samples []Sample, by string) (Figure, bool) {
	if by == "" {
		for _, s := range samples {
			if finite(s.Value) {
				v := s.Value
				return Figure{Value: &v}, true
			}
		}
		return Figure{}, false
	}
	values := map[string]float64{}
	total := 0.0
	for _, s := range samples {
		k := s.Labels[by]
		if k == "" || !finite(s.Value) {
			continue
		}
		values[k] += s.Value
		total += s.Value
	}
	if len(values) == 0 {
		return Figure{}, false
	}
	return Figure{Value: &total, Values: values}, true
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// notComputed is a figure skipped for reason.
func notComputed(spec FigureSpec, reason string) Figure {
	f := Figure{Unit: spec.Unit, Note: "not computed: " + reason}
	if len(spec.Variants) > 0 {
		f.Query = spec.Variants[0].Query
	}
	return f
}

// vllmPrefixes are the metric-name prefixes of vLLM: its own, and the one RHOAI's
// scrape configuration may add.
var vllmPrefixes = []string{"vllm:", "kserve_vllm:"}

// modelFigures are a model server's figures; model is the model_name label vLLM and
// KServe's Python server report (a validated name).
func modelFigures(model string) []FigureSpec {
	m := "model_name=" + quote(model)
	var rate, p95, errs []Variant
	for _, p := range vllmPrefixes {
		rate = append(rate, Variant{Query: fmt.Sprintf(`sum(rate(%srequest_success_total{%s}[%s]))`, p, m, Window)})
		p95 = append(p95, Variant{Query: fmt.Sprintf(`histogram_quantile(0.95, sum by (le) (rate(%se2e_request_latency_seconds_bucket{%s}[%s])))`, p, m, Window)})
		errs = append(errs, Variant{Query: fmt.Sprintf(`(sum(rate(%[1]srequest_success_total{%[2]s,finished_reason="abort"}[%[3]s])) or vector(0)) / sum(rate(%[1]srequest_success_total{%[2]s}[%[3]s]))`, p, m, Window)})
	}
	// KServe's Python model server (predictive models).
	rate = append(rate, Variant{Query: fmt.Sprintf(`sum(rate(request_predict_seconds_count{%s}[%s]))`, m, Window)})
	p95 = append(p95, Variant{Query: fmt.Sprintf(`histogram_quantile(0.95, sum by (le) (rate(request_predict_seconds_bucket{%s}[%s])))`, m, Window)})
	return []FigureSpec{
		{Name: "request_rate", Unit: "requests/s", Variants: rate},
		{Name: "p95_latency", Unit: "seconds", Variants: p95},
		{Name: "error_rate", Unit: "ratio", Variants: errs},
	}
}

// containerMatchers select a pod's containers, not cAdvisor's pod-level ("") and pause
// ("POD") series, which would count them twice.
const containerMatchers = `container!="",container!="POD"`

func cpuFigure(podRegex string) FigureSpec {
	return FigureSpec{Name: "cpu", Unit: "cores", Variants: []Variant{
		{Query: fmt.Sprintf(`sum(rate(container_cpu_usage_seconds_total{pod=~%s,%s}[%s]))`, quote(podRegex), containerMatchers, Window)},
	}}
}

func memoryFigure(podRegex string) FigureSpec {
	return FigureSpec{Name: "memory", Unit: "bytes", Variants: []Variant{
		{Query: fmt.Sprintf(`sum(container_memory_working_set_bytes{pod=~%s,%s})`, quote(podRegex), containerMatchers)},
	}}
}

// trainingFigures are a training job's: GPU utilisation and memory from the DCGM
// exporter (the workload's pod in exported_pod; tenancy pins exported_namespace), and
// CPU. podRegex matches the job's pod names.
func trainingFigures(podRegex string) []FigureSpec {
	pod := "exported_pod=~" + quote(podRegex)
	return []FigureSpec{
		{Name: "gpu_utilization", Unit: "percent", Variants: []Variant{
			{Query: fmt.Sprintf(`avg(DCGM_FI_DEV_GPU_UTIL{%s})`, pod)},
			{Query: fmt.Sprintf(`avg(DCGM_FI_PROF_GR_ENGINE_ACTIVE{%s}) * 100`, pod)},
		}},
		{Name: "gpu_memory_used", Unit: "bytes", Variants: []Variant{
			{Query: fmt.Sprintf(`sum(DCGM_FI_DEV_FB_USED{%s}) * 1048576`, pod)},
		}},
		cpuFigure(podRegex),
	}
}

// podFigures are CPU and memory of the pods whose names match podRegex (notebooks,
// pipeline runs).
func podFigures(podRegex string) []FigureSpec {
	return []FigureSpec{cpuFigure(podRegex), memoryFigure(podRegex)}
}

// pipelineServerFigures are the namespace's pipeline runs (Argo workflows) by phase:
// Argo ≥ 3.6's argo_workflows_gauge{phase}, else the older argo_workflows_count{status}.
func pipelineServerFigures() []FigureSpec {
	return []FigureSpec{{Name: "runs_by_phase", Unit: "workflows", Variants: []Variant{
		{Query: `sum by (phase) (argo_workflows_gauge)`, By: "phase"},
		{Query: `sum by (status) (argo_workflows_count)`, By: "status"},
	}}}
}
