package tenancy

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

const ns = "team-a"

// golden compares got with testdata/<name>.golden, or writes it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got+"\n"), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run go test ./extension/tenancy -update")
	assert.Equal(t, strings.TrimSuffix(string(want), "\n"), got)
}

// assertPinned re-parses out and checks the invariant the enforcer promises: every
// selector carries exactly one matcher on its enforced label, `label="namespace"`.
func assertPinned(t *testing.T, e *Enforcer, out, namespace string) {
	t.Helper()
	expr, err := parser.ParseExpr(out)
	require.NoError(t, err, "rewritten query must parse: %s", out)
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		label, err := e.labelFor(vs)
		require.NoError(t, err, "selector %s", vs)
		count := 0
		for _, m := range vs.LabelMatchers {
			if m.Name == label {
				count++
				assert.Equal(t, labels.MatchEqual, m.Type, "selector %s", vs)
				assert.Equal(t, namespace, m.Value, "selector %s", vs)
			}
		}
		assert.Equal(t, 1, count, "selector %s must carry one %s matcher", vs, label)
		return nil
	})
}

func newEnforcer(t *testing.T, cfg Config) *Enforcer {
	t.Helper()
	e, err := New(cfg)
	require.NoError(t, err)
	return e
}

// enforceCases covers every bypass class listed in FIELD-NOTES "Tenancy: known ways
// around a label enforcer" that lives in the query itself. A case either has a golden
// file (testdata/<name>.golden) or names the sentinel it must be refused with.
var enforceCases = []struct {
	name      string
	query     string
	namespace string // ns when empty
	noTable   bool   // enforce with an empty metric table
	err       error
}{
	// Plain selectors.
	{name: "vector", query: `up`},
	{name: "matrix", query: `rate(http_requests_total{code="500"}[5m])`},
	{name: "colon_name", query: `histogram_quantile(0.9, sum by (le) (rate(vllm:e2e_request_latency_seconds_bucket[5m])))`},
	{name: "quoted_name", query: `{"up", job="x"}`},

	// Logical and set operators: both operands are enforced.
	{name: "or_operands", query: `up or process_start_time_seconds`},
	{name: "unless_operands", query: `up unless on (job) up{job="x"}`},
	{name: "and_operands", query: `up and on (pod) kube_pod_info`},

	// Subqueries, nested.
	{name: "subquery", query: `max_over_time(rate(http_requests_total[5m])[1h:5m])`},
	{name: "subquery_nested", query: `avg_over_time(max_over_time(up[10m:1m])[1h:])`},

	// absent() and absent_over_time() would answer "1" for other tenants' absence otherwise.
	{name: "absent", query: `absent(up{job="x"})`},
	{name: "absent_over_time", query: `absent_over_time(up[5m])`},

	// label_replace/label_join only rename labels on already-pinned series.
	{name: "label_replace", query: `label_replace(up, "namespace", "team-b", "", "")`},
	{name: "label_join", query: `label_join(up or kube_pod_info, "namespace", ",", "pod")`},

	// Regex, negative and empty matchers on the enforced label: refused.
	{name: "regex_all", query: `up{namespace=~".*"}`, err: ErrConflict},
	{name: "regex_including_own", query: `up{namespace=~"team-a|team-b"}`, err: ErrConflict},
	{name: "regex_exact_own", query: `up{namespace=~"team-a"}`, err: ErrConflict},
	{name: "not_regex", query: `up{namespace!~"team-a"}`, err: ErrConflict},
	{name: "not_equal_other", query: `up{namespace!="team-b"}`, err: ErrConflict},
	{name: "empty_value", query: `up{namespace=""}`, err: ErrConflict},
	{name: "other_value", query: `up{namespace="team-b"}`, err: ErrConflict},
	{name: "second_conflicting", query: `up{namespace="team-a",namespace="team-b"}`, err: ErrConflict},
	{name: "conflict_in_or_rhs", query: `up or up{namespace="team-b"}`, err: ErrConflict},
	{name: "conflict_in_subquery", query: `max_over_time(up{namespace=~".+"}[1h:])`, err: ErrConflict},
	{name: "equal_own", query: `up{namespace="team-a"}`},
	{name: "equal_own_twice", query: `up{namespace="team-a",namespace="team-a"}`},
	{name: "regex_other_labels_kept", query: `up{job=~".*",pod!="",instance!~"x"}`},

	// Selectors without a concrete metric name.
	{name: "name_regex_all", query: `{__name__=~".+"}`, err: ErrAmbiguousMetric},
	{name: "name_regex_all_no_table", query: `{__name__=~".+"}`, noTable: true},
	{name: "no_name", query: `{job="x"}`, err: ErrAmbiguousMetric},
	{name: "no_name_no_table", query: `count({job="x"})`, noTable: true},
	{name: "name_not_equal", query: `{__name__!="up",job="x"}`, err: ErrAmbiguousMetric},
	{name: "name_regex_open_dcgm", query: `{__name__=~"DCGM_.*"}`, err: ErrAmbiguousMetric},
	{name: "name_regex_case_insensitive", query: `{__name__=~"(?i)dcgm_fi_dev_gpu_util"}`, err: ErrAmbiguousMetric},
	{name: "name_set_normal", query: `{__name__=~"up|process_start_time_seconds"}`},
	{name: "name_set_dcgm", query: `{__name__=~"DCGM_FI_DEV_GPU_UTIL|DCGM_FI_DEV_FB_USED"}`},
	{name: "name_set_mixed", query: `{__name__=~"up|DCGM_FI_DEV_GPU_UTIL"}`, err: ErrAmbiguousMetric},
	{name: "name_equal_matcher_dcgm", query: `{__name__="DCGM_FI_DEV_GPU_UTIL"}`},

	// Modifiers are kept.
	{name: "offset_and_at", query: `rate(up[5m] offset 1h) + up @ 1700000000 - up @ end() offset -5m`},
	{name: "subquery_offset_at", query: `max_over_time(up[1h:1m] @ start() offset 1d)`},

	// Aggregations and vector matching.
	{name: "aggregation_without", query: `sum without (namespace, pod) (rate(container_cpu_usage_seconds_total[5m]))`},
	{name: "topk_count_values", query: `topk(5, up) or count_values("v", up)`},
	{name: "binary_on_group_left", query: `rate(x[5m]) / on (namespace, pod) group_left (node) kube_pod_info`},
	{name: "binary_ignoring", query: `a - ignoring (namespace) b`},
	{name: "unary_and_paren", query: `-(up)`},

	// GPU metrics are enforced on exported_namespace.
	{name: "dcgm", query: `avg by (gpu) (DCGM_FI_DEV_GPU_UTIL)`},
	{name: "dcgm_namespace_is_a_filter", query: `DCGM_FI_DEV_FB_USED{namespace="nvidia-gpu-operator"}`},
	{name: "dcgm_conflict", query: `DCGM_FI_DEV_FB_USED{exported_namespace="team-b"}`, err: ErrConflict},
	{name: "dcgm_regex_conflict", query: `DCGM_FI_DEV_FB_USED{exported_namespace=~".+"}`, err: ErrConflict},
	{name: "dcgm_no_table", query: `DCGM_FI_DEV_GPU_UTIL`, noTable: true},
	{name: "accelerator", query: `rate(accelerator_duty_cycle[5m])`},
	{name: "mixed_dcgm_normal", query: `DCGM_FI_DEV_GPU_UTIL * on (exported_pod) group_left label_replace(kube_pod_info, "exported_pod", "$1", "pod", "(.*)")`},
	{name: "mixed_or", query: `up or DCGM_FI_DEV_POWER_USAGE unless accelerator_memory_used_bytes`},

	// No selector at all.
	{name: "number", query: `1 + 2`},
	{name: "string", query: `"hello"`},
	{name: "vector_time", query: `vector(time())`},

	// Namespace values are escaped, never pasted.
	{name: "escape_quotes", query: `up`, namespace: `team-"a"\`},
	{name: "escape_injection", query: `up`, namespace: `a"} or up{x="`},
	{name: "escape_unicode", query: `DCGM_FI_DEV_GPU_UTIL`, namespace: "t\u00e9am\n"},

	// Malformed input.
	{name: "parse_error", query: `up{`, err: ErrBadQuery},
	{name: "parse_empty", query: ``, err: ErrBadQuery},
	{name: "parse_trailing", query: `up) or (`, err: ErrBadQuery},
	{name: "empty_namespace", query: `up`, namespace: "-", err: ErrNamespace},
}

func TestEnforce(t *testing.T) {
	withTable := newEnforcer(t, DefaultConfig())
	noTable := newEnforcer(t, Config{})
	for _, tc := range enforceCases {
		t.Run(tc.name, func(t *testing.T) {
			e := withTable
			if tc.noTable {
				e = noTable
			}
			namespace := tc.namespace
			switch namespace {
			case "":
				namespace = ns
			case "-":
				namespace = ""
			}
			got, err := e.Enforce(tc.query, namespace)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				assert.Empty(t, got)
				return
			}
			require.NoError(t, err)
			golden(t, tc.name, got)
			assertPinned(t, e, got, namespace)

			again, err := e.Enforce(got, namespace)
			require.NoError(t, err, "enforcing an enforced query must succeed")
			assert.Equal(t, got, again, "enforcement must be idempotent")
		})
	}
}

func TestEnforceTooLarge(t *testing.T) {
	e := newEnforcer(t, DefaultConfig())
	big := "up" + strings.Repeat(" ", DefaultMaxQueryBytes)
	_, err := e.Enforce(big, ns)
	require.ErrorIs(t, err, ErrTooLarge)

	small := newEnforcer(t, Config{MaxQueryBytes: 10})
	_, err = small.Enforce(`up{job="abcdef"}`, ns)
	require.ErrorIs(t, err, ErrTooLarge)
	_, err = small.Enforce(`up`, ns)
	require.NoError(t, err)
}

func TestEnforceMatchers(t *testing.T) {
	withTable := newEnforcer(t, DefaultConfig())
	noTable := newEnforcer(t, Config{Label: "tenant"})
	for _, tc := range []struct {
		name    string
		match   []string
		noTable bool
		err     error
	}{
		{name: "match_none", match: nil},
		{name: "match_none_no_table", match: nil, noTable: true},
		{name: "match_metrics", match: []string{`up`, `DCGM_FI_DEV_GPU_UTIL{gpu="0"}`, `{__name__="accelerator_duty_cycle"}`}},
		{name: "match_own_value", match: []string{`up{namespace="team-a"}`}},
		{name: "match_no_name_no_table", match: []string{`{job="x"}`, `{__name__=~".+"}`}, noTable: true},
		{name: "match_no_name", match: []string{`{job="x"}`}, err: ErrAmbiguousMetric},
		{name: "match_name_regex", match: []string{`up`, `{__name__=~".+"}`}, err: ErrAmbiguousMetric},
		{name: "match_conflict", match: []string{`up{namespace=~".*"}`}, err: ErrConflict},
		{name: "match_conflict_dcgm", match: []string{`DCGM_FI_DEV_GPU_UTIL{exported_namespace!="team-b"}`}, err: ErrConflict},
		{name: "match_not_selector", match: []string{`rate(up[5m])`}, err: ErrBadQuery},
		{name: "match_matrix", match: []string{`up[5m]`}, err: ErrBadQuery},
		{name: "match_parse_error", match: []string{`up{`}, err: ErrBadQuery},
		{name: "match_too_large", match: []string{`up`, strings.Repeat("u", DefaultMaxQueryBytes)}, err: ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := withTable
			if tc.noTable {
				e = noTable
			}
			got, err := e.EnforceMatchers(tc.match, ns)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			golden(t, tc.name, strings.Join(got, "\n"))
			for _, m := range got {
				if len(tc.match) == 0 {
					// The injected defaults may carry a name regex; their
					// pinning is checked by the golden file.
					continue
				}
				assertPinned(t, e, m, ns)
			}
		})
	}

	_, err := withTable.EnforceMatchers([]string{`up`}, "")
	require.ErrorIs(t, err, ErrNamespace)
}

func TestConfigValidate(t *testing.T) {
	err := Config{
		Label:         "bad-label",
		MaxQueryBytes: -1,
		Metrics: []MetricLabel{
			{Pattern: "", Label: "exported_namespace"},
			{Pattern: "DCGM_(", Label: "__name__"},
		},
	}.Validate()
	require.Error(t, err)
	for _, want := range []string{`label "bad-label"`, "maxQueryBytes -1", "metrics[0]: empty pattern", "metrics[1]: pattern", `metrics[1]: label "__name__"`} {
		assert.Contains(t, err.Error(), want)
	}

	_, err = New(Config{Metrics: []MetricLabel{{Pattern: "x", Label: ""}}})
	require.Error(t, err)

	require.NoError(t, DefaultConfig().Validate())
	e := newEnforcer(t, Config{})
	assert.Equal(t, "namespace", e.label)
	assert.Equal(t, DefaultMaxQueryBytes, e.max)
}

// FuzzEnforce asserts the enforcer's invariant on arbitrary input: whatever it
// accepts comes back parseable, with every selector pinned, and stable.
func FuzzEnforce(f *testing.F) {
	for _, tc := range enforceCases {
		f.Add(tc.query)
	}
	e, err := New(DefaultConfig())
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, q string) {
		got, err := e.Enforce(q, ns)
		if err != nil {
			return
		}
		// Prometheus' printer does not always round-trip (`x[0]` prints as `x[0s]`,
		// which its parser refuses). Output that does not parse is refused upstream
		// too, so it cannot leak; everything that parses must be pinned.
		if _, perr := parser.ParseExpr(got); perr != nil {
			return
		}
		assertPinned(t, e, got, ns)
		again, err := e.Enforce(got, ns)
		require.NoError(t, err)
		assert.Equal(t, got, again)
	})
}

// TestDefaultMatchersSelectExactlyTheNamespace evaluates the injected match[] set
// against sample series, as Prometheus would (a series is returned when any selector
// matches it), because those selectors cannot be checked by assertPinned.
func TestDefaultMatchersSelectExactlyTheNamespace(t *testing.T) {
	e := newEnforcer(t, DefaultConfig())
	sels, err := e.EnforceMatchers(nil, ns)
	require.NoError(t, err)
	var parsed [][]*labels.Matcher
	for _, s := range sels {
		ms, err := parser.ParseMetricSelector(s)
		require.NoError(t, err)
		parsed = append(parsed, ms)
	}
	selected := func(ls labels.Labels) bool {
		for _, ms := range parsed {
			ok := true
			for _, m := range ms {
				ok = ok && m.Matches(ls.Get(m.Name))
			}
			if ok {
				return true
			}
		}
		return false
	}
	for _, tc := range []struct {
		series labels.Labels
		want   bool
	}{
		{labels.FromStrings("__name__", "up", "namespace", "team-a"), true},
		{labels.FromStrings("__name__", "up", "namespace", "team-b"), false},
		{labels.FromStrings("__name__", "up"), false},
		{labels.FromStrings("__name__", "DCGM_FI_DEV_GPU_UTIL", "namespace", "gpu-operator", "exported_namespace", "team-a"), true},
		{labels.FromStrings("__name__", "DCGM_FI_DEV_GPU_UTIL", "namespace", "team-a", "exported_namespace", "team-b"), false},
		{labels.FromStrings("__name__", "DCGM_FI_DEV_GPU_UTIL", "namespace", "team-a"), false},
		{labels.FromStrings("__name__", "accelerator_duty_cycle", "exported_namespace", "team-a"), true},
		{labels.FromStrings("__name__", "accelerator_duty_cycle", "namespace", "team-a", "exported_namespace", "team-b"), false},
	} {
		assert.Equal(t, tc.want, selected(tc.series), "%s", tc.series)
	}
}
