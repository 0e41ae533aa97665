package templates

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// values are the instantiation values the tests (and the golden files) use.
var values = map[string]map[string]string{
	"model-serving": {"model_name": "granite-3.1-8b-instruct"},
	"training":      {"job_name": "llama-finetune", "loss_metric": "train_loss"},
	"notebook":      {"notebook_name": "my-workbench"},
	"data-pipeline": {"pipeline_name": "iris-training"},
}

func system(t *testing.T) *Registry {
	t.Helper()
	r, err := System()
	require.NoError(t, err)
	return r
}

func TestRegistry(t *testing.T) {
	r := system(t)
	var ids []string
	categories := map[Category]bool{}
	for _, tp := range r.List() {
		ids = append(ids, tp.ID)
		categories[tp.Category] = true
		got, err := r.Get(tp.ID)
		require.NoError(t, err)
		assert.Same(t, tp, got)
	}
	assert.Equal(t, []string{"model-serving", "training", "notebook", "data-pipeline"}, ids)
	assert.Len(t, categories, 4, "one template per category")

	_, err := r.Get("template-model-serving")
	assert.ErrorIs(t, err, ErrUnknownTemplate)
	assert.Contains(t, err.Error(), "model-serving, training, notebook, data-pipeline")

	_, err = NewRegistry(ModelServing(), ModelServing())
	assert.ErrorIs(t, err, ErrInvalidTemplate)
	assert.Contains(t, err.Error(), "used twice")

	// The list is a copy.
	r.List()[0] = nil
	assert.NotNil(t, r.List()[0])
}

func TestSummaryHasNoDashboard(t *testing.T) {
	data, err := json.Marshal(ModelServing().Summary())
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m))
	assert.NotContains(t, m, "dashboard")
	assert.ElementsMatch(t, []string{"id", "name", "description", "category", "variables"}, keys(m))
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestValidateRefusesInconsistentTemplates: each way a template can be wrong is caught
// when the registry is built (and so at start).
func TestValidateRefusesInconsistentTemplates(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Template)
		want   string
	}{
		{"bad id", func(tp *Template) { tp.ID = "Model_Serving" }, "id:"},
		{"unknown category", func(tp *Template) { tp.Category = "serving" }, `category "serving"`},
		{"no description", func(tp *Template) { tp.Description = "" }, "name and description"},
		{"bad variable name", func(tp *Template) { tp.Variables[0].Name = "Model" }, `variable name "Model"`},
		{"variable declared twice", func(tp *Template) { tp.Variables = append(tp.Variables, tp.Variables[0]) }, "declared twice"},
		{"required with a default", func(tp *Template) { tp.Variables[0].Default = "m" }, "required and has a default"},
		{"optional without a default", func(tp *Template) { tp.Variables[0].Required = false }, "optional and has no default"},
		{"default of the wrong type", func(tp *Template) {
			tp.Variables = append(tp.Variables, Variable{Name: "x", Type: TypeMetricName, Default: "not a metric", Label: "X", Description: "x"})
		}, `variable "x"`},
		{"unused variable", func(tp *Template) {
			tp.Variables = append(tp.Variables, Variable{Name: "unused", Type: TypeMetricName, Default: "m", Label: "U", Description: "u"})
		}, `variable "unused" is not used`},
		{"undeclared placeholder", func(tp *Template) { tp.Dashboard.Display.Name = "{{.nope}}" }, "{{.nope}} is not a variable"},
		{"label value written into a query", func(tp *Template) {
			tp.Dashboard.Panels["replicas"] = timeSeries("x", "x", nil, false, q(`up{model_name="{{.model_name}}"}`, ""))
		}, "only metric names may be"},
		{"unknown type", func(tp *Template) { tp.Variables[0].Type = "string" }, `unknown variable type "string"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp := ModelServing()
			tc.change(tp)
			_, err := NewRegistry(tp)
			require.ErrorIs(t, err, ErrInvalidTemplate)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestInstantiate(t *testing.T) {
	r := system(t)
	for _, tp := range r.List() {
		t.Run(tp.ID, func(t *testing.T) {
			before, err := json.Marshal(tp.Dashboard)
			require.NoError(t, err)
			spec, err := tp.Instantiate(values[tp.ID])
			require.NoError(t, err)

			data, err := json.Marshal(spec)
			require.NoError(t, err)
			assert.NotContains(t, string(data), "{{.", "every placeholder is filled")
			for _, v := range values[tp.ID] {
				assert.Contains(t, string(data), v)
			}
			after, err := json.Marshal(tp.Dashboard)
			require.NoError(t, err)
			assert.JSONEq(t, string(before), string(after), "the template itself is not changed")

			// The dashboard variables open on the instantiated workload.
			defaults, err := VariableDefaults(spec)
			require.NoError(t, err)
			require.Len(t, defaults, 1)
			given := map[string]bool{}
			for _, v := range values[tp.ID] {
				given[v] = true
			}
			for name, v := range defaults {
				assert.True(t, given[v], "dashboard variable %s opens on %q, not an instantiation value", name, v)
			}
			queries, err := PanelQueries(spec)
			require.NoError(t, err)
			require.NotEmpty(t, queries)
			for _, pq := range queries {
				assert.Equal(t, "PrometheusTimeSeriesQuery", pq.Kind)
				assert.NotContains(t, pq.Query, "namespace", "%s: the proxy confines queries; templates carry no namespace matcher", pq.Panel)
			}
		})
	}
}

func TestInstantiateDefaults(t *testing.T) {
	spec, err := Training().Instantiate(map[string]string{"job_name": "j"})
	require.NoError(t, err)
	queries, err := PanelQueries(spec)
	require.NoError(t, err)
	var got []string
	for _, pq := range queries {
		if pq.Panel == "loss" || pq.Panel == "accuracy" || pq.Panel == "throughput" {
			got = append(got, pq.Query)
		}
	}
	assert.Equal(t, []string{
		`training_accuracy{pod=~"$job-.+"}`,
		`training_loss{pod=~"$job-.+"}`,
		`sum(rate(training_samples_total{pod=~"$job-.+"}[5m]))`,
	}, got)
}

// TestInstantiateRefusesBadVariables: values that could leave a PromQL string or start a
// variable reference are refused, and the error names the variable.
func TestInstantiateRefusesBadVariables(t *testing.T) {
	for _, tc := range []struct {
		name     string
		template *Template
		values   map[string]string
		want     []string
	}{
		{"missing required", ModelServing(), map[string]string{}, []string{`variable "model_name" (Model name) is required`}},
		{"unknown variable", Notebook(), map[string]string{"notebook_name": "nb", "namespace": "team-b"}, []string{`variable "namespace" is not a variable of template "notebook"`}},
		{"quote", ModelServing(), map[string]string{"model_name": `m"} or up{x="`}, []string{`variable "model_name"`, "not a workload label value"}},
		{"backslash", ModelServing(), map[string]string{"model_name": `m\`}, []string{`variable "model_name"`}},
		{"newline", ModelServing(), map[string]string{"model_name": "m\nup"}, []string{`variable "model_name"`}},
		{"brace", ModelServing(), map[string]string{"model_name": "m{x}"}, []string{`variable "model_name"`}},
		{"dollar", ModelServing(), map[string]string{"model_name": "$model"}, []string{`variable "model_name"`}},
		{"space", ModelServing(), map[string]string{"model_name": "m 1"}, []string{`variable "model_name"`}},
		{"regex", ModelServing(), map[string]string{"model_name": ".*"}, []string{`variable "model_name"`}},
		{"empty", ModelServing(), map[string]string{"model_name": ""}, []string{`variable "model_name"`}},
		{"too long", ModelServing(), map[string]string{"model_name": strings.Repeat("m", 254)}, []string{`variable "model_name"`}},
		{"upper-case Kubernetes name", Notebook(), map[string]string{"notebook_name": "NB"}, []string{`variable "notebook_name"`, "not a Kubernetes name"}},
		{"Kubernetes name with a slash", DataPipeline(), map[string]string{"pipeline_name": "a/b"}, []string{`variable "pipeline_name"`}},
		{"metric name with a selector", Training(), map[string]string{"job_name": "j", "loss_metric": `up{namespace="team-b"}`}, []string{`variable "loss_metric"`, "not a metric name"}},
		{"metric name with an operator", Training(), map[string]string{"job_name": "j", "accuracy_metric": "a or b"}, []string{`variable "accuracy_metric"`}},
		{"every problem at once", Training(), map[string]string{"loss_metric": "x y", "extra": "1"}, []string{`variable "job_name"`, `variable "loss_metric"`, `variable "extra"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.template.Instantiate(tc.values)
			require.ErrorIs(t, err, ErrVariable)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestVariableTypes(t *testing.T) {
	for _, tc := range []struct {
		typ   VariableType
		value string
		ok    bool
	}{
		{TypeKubernetesName, "my-notebook", true},
		{TypeKubernetesName, "a.b-c", true},
		{TypeKubernetesName, "-a", false},
		{TypeKubernetesName, "a_b", false},
		{TypeLabelValue, "ibm-granite/granite-3.1-8b-instruct", true},
		{TypeLabelValue, "Meta-Llama-3.1-8B:latest", true},
		{TypeLabelValue, "m}", false},
		{TypeLabelValue, "/m", false},
		{TypeMetricName, "training_loss", true},
		{TypeMetricName, "job:loss:avg", true},
		{TypeMetricName, "1loss", false},
		{TypeMetricName, "loss-1", false},
	} {
		err := tc.typ.check(tc.value)
		assert.Equal(t, tc.ok, err == nil, "%s %q: %v", tc.typ, tc.value, err)
	}
}

func TestInterpolate(t *testing.T) {
	vars := map[string]string{"model": "m1", "job": "j", "model_name": "other"}
	for in, want := range map[string]string{
		`x{model_name=~"$model"}`:    `x{model_name=~"m1"}`,
		`x{pod=~"${job}-.+"}`:        `x{pod=~"j-.+"}`,
		`x{pod=~"$job-.+"}`:          `x{pod=~"j-.+"}`,
		`x{a="$model_name"}`:         `x{a="other"}`,
		`x{a="$unknown"}`:            `x{a="$unknown"}`,
		`histogram_quantile(0.5, x)`: `histogram_quantile(0.5, x)`,
	} {
		assert.Equal(t, want, Interpolate(in, vars), in)
	}
}

func TestCopyNames(t *testing.T) {
	names := copyNames("d")
	assert.Equal(t, []string{"d-copy", "d-copy-2", "d-copy-3"}, names[:3])
	assert.Len(t, names, cloneAttempts)
	for _, n := range copyNames(strings.Repeat("x", 75)) {
		assert.LessOrEqual(t, len(n), maxName)
	}
}

// A dashboard spec with a duplicate variable does not read back: substitute reports it
// as an invalid template, never as the caller's fault.
func TestSubstituteReportsUnreadableSpec(t *testing.T) {
	tp := Notebook()
	tp.Dashboard.Variables = append(tp.Dashboard.Variables, tp.Dashboard.Variables[0])
	_, err := tp.Instantiate(map[string]string{"notebook_name": "nb"})
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrInvalidTemplate))
	assert.False(t, errors.Is(err, ErrVariable))
}

// TestWorkloadVariables: each template's dashboard variable is an
// OpenShiftAIWorkloadVariable of the template's category, opening on the instantiated
// workload, which is also its fallback (offered when the workloads cannot be listed).
func TestWorkloadVariables(t *testing.T) {
	for _, tp := range system(t).List() {
		t.Run(tp.ID, func(t *testing.T) {
			required := ""
			for _, v := range tp.Variables {
				if v.Required {
					required = v.Name
				}
			}
			require.NotEmpty(t, required)
			spec, err := tp.Instantiate(values[tp.ID])
			require.NoError(t, err)
			data, err := json.Marshal(spec.Variables)
			require.NoError(t, err)
			var vars []struct {
				Kind string `json:"kind"`
				Spec struct {
					Name         string `json:"name"`
					DefaultValue string `json:"defaultValue"`
					Plugin       struct {
						Kind string            `json:"kind"`
						Spec map[string]string `json:"spec"`
					} `json:"plugin"`
				} `json:"spec"`
			}
			require.NoError(t, json.Unmarshal(data, &vars))
			require.Len(t, vars, 1)
			v := vars[0]
			want := values[tp.ID][required]
			assert.Equal(t, "ListVariable", v.Kind)
			assert.Equal(t, "OpenShiftAIWorkloadVariable", v.Spec.Plugin.Kind)
			assert.Equal(t, map[string]string{"type": string(tp.Category), "fallback": want}, v.Spec.Plugin.Spec)
			assert.Equal(t, want, v.Spec.DefaultValue)
			defaults, err := VariableDefaults(spec)
			require.NoError(t, err)
			assert.Equal(t, want, defaults[v.Spec.Name])
		})
	}
}
