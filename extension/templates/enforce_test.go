package templates

import (
	"encoding/json"
	"regexp"
	"sort"
	"testing"

	"github.com/openshift-ai/observability/extension/tenancy"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const tenant = "team-a"

// tenantLabel is the label the default tenancy configuration pins a metric to.
func tenantLabel(metric string) string {
	if regexp.MustCompile(`^(?:DCGM_.*|accelerator_.*)$`).MatchString(metric) {
		return "exported_namespace"
	}
	return "namespace"
}

// TestQueriesPassTheTenancyEnforcer: every panel query of every instantiated template,
// with its dashboard variables interpolated as the UI does, goes through the tenancy
// enforcer of the default configuration, and the enforcer changes nothing but adding
// the tenant matcher (exported_namespace for DCGM metrics) to each selector.
func TestQueriesPassTheTenancyEnforcer(t *testing.T) {
	enforcer, err := tenancy.New(tenancy.DefaultConfig())
	require.NoError(t, err)
	for _, tp := range system(t).List() {
		spec, err := tp.Instantiate(values[tp.ID])
		require.NoError(t, err)
		defaults, err := VariableDefaults(spec)
		require.NoError(t, err)
		queries, err := PanelQueries(spec)
		require.NoError(t, err)
		for _, pq := range queries {
			t.Run(tp.ID+"/"+pq.Panel, func(t *testing.T) {
				in := Interpolate(pq.Query, defaults)
				assert.NotContains(t, in, "$", "every dashboard variable is interpolated")
				out, err := enforcer.Enforce(in, tenant)
				require.NoError(t, err, in)

				inExpr, err := parser.ParseExpr(in)
				require.NoError(t, err)
				outExpr, err := parser.ParseExpr(out)
				require.NoError(t, err)
				selectors := 0
				parser.Inspect(inExpr, func(n parser.Node, _ []parser.Node) error {
					if vs, ok := n.(*parser.VectorSelector); ok {
						selectors++
						for _, m := range vs.LabelMatchers {
							assert.NotContains(t, []string{"namespace", "exported_namespace"}, m.Name, "the template's query carries a tenant matcher: %s", in)
						}
					}
					return nil
				})
				require.Positive(t, selectors)
				parser.Inspect(outExpr, func(n parser.Node, _ []parser.Node) error {
					vs, ok := n.(*parser.VectorSelector)
					if !ok {
						return nil
					}
					label := tenantLabel(vs.Name)
					var kept []*labels.Matcher
					pinned := 0
					for _, m := range vs.LabelMatchers {
						if m.Name == label && m.Type == labels.MatchEqual && m.Value == tenant {
							pinned++
							continue
						}
						assert.NotEqual(t, "namespace", m.Name, "%s: another namespace matcher in %s", vs.Name, out)
						kept = append(kept, m)
					}
					assert.Equal(t, 1, pinned, "%s is pinned to %s=%q exactly once in %s", vs.Name, label, tenant, out)
					vs.LabelMatchers = kept
					return nil
				})
				sortMatchers(inExpr)
				sortMatchers(outExpr)
				assert.Equal(t, inExpr.String(), outExpr.String(), "the enforcer changed more than the tenant matchers:\n in: %s\nout: %s", in, out)
			})
		}
	}
}

func sortMatchers(e parser.Expr) {
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			sort.SliceStable(vs.LabelMatchers, func(i, j int) bool {
				a, b := vs.LabelMatchers[i], vs.LabelMatchers[j]
				if a.Name != b.Name {
					return a.Name < b.Name
				}
				if a.Type != b.Type {
					return a.Type < b.Type
				}
				return a.Value < b.Value
			})
		}
		return nil
	})
}

// TestVariableMatchersPassTheTenancyEnforcer: the label-values variable's match[]
// selectors are confined too (the proxy refuses a selector without a concrete name).
func TestVariableMatchersPassTheTenancyEnforcer(t *testing.T) {
	enforcer, err := tenancy.New(tenancy.DefaultConfig())
	require.NoError(t, err)
	for _, tp := range system(t).List() {
		spec, err := tp.Instantiate(values[tp.ID])
		require.NoError(t, err)
		data, err := json.Marshal(spec.Variables)
		require.NoError(t, err)
		var vars []struct {
			Spec struct {
				Plugin struct {
					Kind string `json:"kind"`
					Spec struct {
						Matchers []string `json:"matchers"`
					} `json:"spec"`
				} `json:"plugin"`
			} `json:"spec"`
		}
		require.NoError(t, json.Unmarshal(data, &vars))
		for _, v := range vars {
			if v.Spec.Plugin.Kind != "PrometheusLabelValuesVariable" {
				continue
			}
			require.NotEmpty(t, v.Spec.Plugin.Spec.Matchers, "%s: a label-values variable names its metrics", tp.ID)
			out, err := enforcer.EnforceMatchers(v.Spec.Plugin.Spec.Matchers, tenant)
			require.NoError(t, err)
			for i, m := range out {
				assert.Equal(t, v.Spec.Plugin.Spec.Matchers[i]+`{namespace="team-a"}`, m)
			}
		}
	}
}
