//go:build e2e

package e2e

// Query tenancy against the real server and the real Prometheus: a table of bypass
// attempts (every class of FIELD-NOTES "Tenancy: known ways around a label enforcer")
// sent for project team-a through the shared server's datasource proxy, and the same
// corpus through the real prom-label-proxy for comparison.
//
// The oracle. Before the cases run, every series of the test Prometheus is read
// directly (/api/v1/series, over the backfilled range) and split with the tenancy rule,
// written out here independently of the enforcer: a series is team-a's when its tenant
// label is team-a, the tenant label being exported_namespace for DCGM_.* and
// accelerator_.* metrics and namespace for the rest. That gives, per label, the values
// team-a's series carry and the values only other series carry ("foreign": team-b, m2,
// notebook-b-0, train-b-0, m2-predictor:8080, ...). An answer is team-a-only when none
// of its series carries a foreign value (labels the query writes itself, by
// label_replace/label_join or absent()'s copied matchers, are not evidence and are named
// per case), every tenant label it carries is team-a, and for the metadata endpoints
// every series, label name and label value is one of team-a's series'. Queries are
// evaluated at the last backfilled sample (t0) and the metadata endpoints read the
// backfilled range, so series other tests push meanwhile (remote write, at the current
// time) and Prometheus' own never take part.
//
// Label values of `namespace` are therefore {team-a, nvidia-gpu-operator}: the DCGM
// exporter is scraped in the GPU operator's namespace, so team-a's own GPU series carry
// namespace="nvidia-gpu-operator" (and exported_namespace="team-a"). That value names
// the operator's namespace, not another tenant's data; prom-label-proxy, which confines
// DCGM series on namespace too, leaves it out (and team-a's GPU series with it).
//
// Every accepted case is also proven exact: the enforced query (or match[] set) of
// tenancy.New(tenancy.DefaultConfig()).Enforce(q, "team-a") is the case's golden file
// (testdata/tenancy/<case>.golden, rewritten with -update), every selector of it is
// checked to carry the tenant matcher, and Prometheus' direct answer to it, at the same
// pinned evaluation time, must equal the proxy's answer.

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openshift-ai/observability/extension/tenancy"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var updateTenancyGolden = flag.Bool("update", false, "rewrite e2e/testdata/tenancy/*.golden from the enforcer's current output")

const (
	tenancyProject = "team-a"
	// gpuOperatorNamespace is the namespace label of every DCGM series of the test data
	// (hack/prometheus/start.sh): where the exporter is scraped.
	gpuOperatorNamespace = "nvidia-gpu-operator"
	tenancyGoldenDir     = "testdata/tenancy"
)

// Routes a case is sent through (the prefix before the Prometheus API path).
const (
	viaProject       = ""               // /proxy/projects/team-a/datasources/prometheus
	viaDashboard     = "dashboard"      // /proxy/projects/team-a/dashboards/<d>/datasources/local
	viaGlobal        = "global"         // /proxy/globaldatasources/e2e-prometheus
	viaGlobalServer  = "global-server"  // /proxy/globaldatasources/prometheus
	viaUnsaved       = "unsaved"        // POST /proxy/unsaved/projects/team-a/datasources + {method, body, spec}
	viaUnsavedGlobal = "unsaved-global" // POST /proxy/unsaved/globaldatasources + {method, body, spec}
	// GET /proxy/unsaved/projects/team-a/datasources…?<query>, no body.
	viaUnsavedOuterGet = "unsaved-outer-get"
)

// Explained differences between our proxy and prom-label-proxy (the same request sent
// to both; for our server-only routes, the request inside). A difference is: one
// answers and the other does not, or both answer with different data. Every case whose
// outcome differs names its key; TestTenancyPromLabelProxy fails on a difference
// without a key and on a key without a difference, so this list stays true.
var plpExplained = map[string]string{
	"dcgm": "prom-label-proxy forces namespace=\"team-a\" on every selector, but DCGM series carry the " +
		"GPU operator's namespace (the workload's is exported_namespace): team-a's GPU panel is empty through it, " +
		"its exported_namespace matchers are not checked (answered empty), and a namespace filter on a DCGM metric " +
		"is refused as a conflict; we confine DCGM_.*/accelerator_.* on exported_namespace. For the metadata " +
		"endpoints without match[] our default selectors include team-a's GPU series (labels exported_*, gpu; " +
		"namespace value nvidia-gpu-operator), prom-label-proxy's {namespace=\"team-a\"} does not",
	"overlap": "prom-label-proxy's -error-on-replace lets through namespace matchers that team-a satisfies " +
		"(!=\"team-b\", =~\"team-.*\", =~\"team-a|team-b\", =~\".+\", =~\"team-a\") and intersects them with " +
		"namespace=\"team-a\"; we refuse every namespace matcher but =\"team-a\" (403), so a user asking for " +
		"more is told instead of silently getting less",
	"name": "prom-label-proxy has no metric table: a selector without a concrete metric name " +
		"({__name__=~\".+\"}, {__name__=~\"DCGM_.*\"}, {model_name=...}) is confined on namespace like any; we " +
		"refuse it (403) because the name decides which label confines it",
	"match-conflict": "prom-label-proxy's -error-on-replace covers query only: to a match[] selector it " +
		"appends namespace=\"team-a\" whatever the selector says (namespace=\"team-b\" answers empty, " +
		"namespace=~\".+\" answers team-a's); we refuse a conflicting match[] like a conflicting query (403)",
	"post-match": "prom-label-proxy adds match[]={namespace=\"team-a\"} to the URL when the URL has none, " +
		"even when the POST body has match[]; Prometheus reads both, so a POST series or labels request answers " +
		"every team-a series instead of the ones asked (wider, still team-a's). We forward exactly the selectors " +
		"asked, confined",
	"path-encoding": "prom-label-proxy routes with Go's ServeMux on the decoded path (/api/v1/%71uery is " +
		"/api/v1/query) and forwards the raw path; we refuse encoded characters (400). Neither leaks",
	"trailing-slash": "upstream Perses' RemoveTrailingSlash pre-middleware strips a trailing slash (and, as " +
		"URL.RawPath then no longer matches, decodes the path) before ours runs: we serve /api/v1/query, " +
		"confined; prom-label-proxy forwards the slash and Prometheus answers a redirect",
	"hygiene": "prom-label-proxy enforces the first (or every) copy of a parameter and passes the rest and " +
		"unknown parameters through; Prometheus reads the body's value first, ignores unknown parameters and a " +
		"GET body. We refuse duplicates, URL+body copies, unknown parameters and GET bodies (400). Neither leaks",
	"size": "prom-label-proxy has no query or body bound (Go's 10 MB form limit); we refuse a query over " +
		"max_query_bytes (64 KiB, 400) and a body over max_body_bytes (256 KiB, 413)",
	"route": "routes of our server that prom-label-proxy has no counterpart for: global datasources carry no " +
		"project and are refused (403), as is an unsaved datasource with a directUrl or an unsaved GET; " +
		"prom-label-proxy, given the inner request, confines it like any",
	"passthrough": "prom-label-proxy also serves /federate (match[] confined), /api/v1/rules and " +
		"/api/v1/alerts (answers filtered on the label); we proxy only the query, series, labels, label values, " +
		"exemplars and parse_query endpoints (403)",
}

// tenancyCase is one request and what our proxy must do with it.
type tenancyCase struct {
	name  string
	class string
	via   string
	// method of the request ("" GET); for the unsaved routes, of the inner request
	// (POST when it has a body, else GET); the outer one is POST.
	method string
	// api is the Prometheus endpoint the request means; path, when set, is sent
	// instead, verbatim (encodings, dot segments).
	api, path string
	// query is the raw URL query; body the raw body (form unless ctype says otherwise;
	// for the unsaved routes, the inner body).
	query, body, ctype string
	// spec replaces the unsaved datasource spec (default: a proxy to the test Prometheus).
	spec object
	// status is ours (0: 200, answered and team-a-only); errHas a substring of the refusal.
	status int
	errHas string
	// own are labels whose values the query writes itself (label_replace targets,
	// absent()'s copied matchers): not evidence of whose series they are.
	own []string
	// nonEmpty: the answer must hold team-a data; want: its sample values, sorted.
	nonEmpty bool
	want     []string
	// plp is the plpExplained key of the difference with prom-label-proxy, if any.
	plp string
}

// Case classes: FIELD-NOTES' list of ways around a label enforcer, and the issue's.
var tenancyClasses = []string{
	"logical", "arithmetic", "subquery", "absent", "label_replace", "matchers", "name", "conflict",
	"modifiers", "aggregation", "dcgm", "injection", "range", "metadata", "paths", "params", "method",
	"size", "routes",
}

// qs encodes key/value pairs in order (duplicates kept), as a raw query or form body.
func qs(kv ...string) string {
	parts := make([]string, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		parts = append(parts, url.QueryEscape(kv[i])+"="+url.QueryEscape(kv[i+1]))
	}
	return strings.Join(parts, "&")
}

// tenancyCorpus is the table; t0 is the pinned evaluation time.
func tenancyCorpus(t0 string) []tenancyCase {
	at := func(q string) string { return qs("query", q, "time", t0) }
	start := func(d int) string {
		v, _ := strconv.ParseFloat(t0, 64)
		return strconv.FormatFloat(v-float64(d), 'f', -1, 64)
	}
	q := "/api/v1/query"
	series, lbls, exemplars, rng := "/api/v1/series", "/api/v1/labels", "/api/v1/query_exemplars", "/api/v1/query_range"
	values := func(l string) string { return "/api/v1/label/" + l + "/values" }
	const running = "vllm:num_requests_running"
	big := func(n int) string { return running + strings.Repeat(" ", n-len(running)) }
	cases := []tenancyCase{
		// Logical operators: both operands are confined, whatever on()/ignoring() say.
		{name: "or_operands", class: "logical", api: q, query: at(`up or vllm:num_requests_running`), want: []string{"1", "3"}},
		{name: "or_on_empty", class: "logical", api: q, query: at(`up or on() vllm:num_requests_running{model_name="m2"}`), want: []string{"1"}},
		{name: "and_on_empty", class: "logical", api: q, query: at(`vllm:num_requests_running and on() up`), want: []string{"3"}},
		{name: "unless_on", class: "logical", api: q, query: at(`vllm:num_requests_running unless on(model_name) vllm:num_requests_waiting{model_name="m2"}`), want: []string{"3"}},
		{name: "unless_ignoring_conflict", class: "logical", api: q, query: at(`up unless ignoring(namespace) up{namespace="team-b"}`), status: 403, errHas: "conflicting namespace matcher"},
		{name: "or_rhs_conflict", class: "logical", api: q, query: at(`up or on() up{namespace="team-b"}`), status: 403, errHas: "conflicting namespace matcher"},

		// Arithmetic with vector matching.
		{name: "arith_ignoring_namespace", class: "arithmetic", api: q, query: at(`vllm:num_requests_running - ignoring(namespace) vllm:num_requests_waiting`), want: []string{"2"}},
		{name: "arith_group_left", class: "arithmetic", api: q, query: at(`vllm:num_requests_running / ignoring(model_name) group_left vllm:num_requests_waiting`), want: []string{"3"}},
		{name: "arith_on_empty", class: "arithmetic", api: q, query: at(`sum(vllm:num_requests_running) + on() group_left sum(vllm:num_requests_waiting)`), want: []string{"4"}},
		{name: "arith_scalar", class: "arithmetic", api: q, query: at(`scalar(sum(vllm:num_requests_running)) * vector(1)`), want: []string{"3"}},
		{name: "arith_conflict", class: "arithmetic", api: q, query: at(`up * on() group_left up{namespace=~".+"}`), status: 403, errHas: "conflicting namespace matcher", plp: "overlap"},

		// Subqueries, nested.
		{name: "subquery", class: "subquery", api: q, query: at(`max_over_time(vllm:num_requests_running[30m:1m])`), want: []string{"3"}},
		{name: "subquery_nested", class: "subquery", api: q, query: at(`avg_over_time(max_over_time(rate(vllm:request_success_total[5m])[10m:1m])[30m:5m])`), nonEmpty: true},
		{name: "subquery_nested_conflict", class: "subquery", api: q, query: at(`max_over_time(max_over_time(up{namespace!="team-a"}[5m:1m])[30m:5m])`), status: 403, errHas: "conflicting namespace matcher"},

		// absent()/absent_over_time(): confined, they say nothing about other namespaces
		// (the labels they copy from the query's matchers are the query's own).
		{name: "absent_other_model", class: "absent", api: q, query: at(`absent(vllm:num_requests_running{model_name="m2"})`), own: []string{"model_name"}, want: []string{"1"}},
		{name: "absent_over_time_other_pod", class: "absent", api: q, query: at(`absent_over_time(container_memory_working_set_bytes{pod="notebook-b-0"}[1h])`), own: []string{"pod"}, want: []string{"1"}},
		{name: "absent_present", class: "absent", api: q, query: at(`absent(up)`), want: []string{}},
		{name: "absent_or", class: "absent", api: q, query: at(`absent(up{job="none"}) or vllm:num_requests_running`), own: []string{"job"}, want: []string{"1", "3"}},
		{name: "absent_conflict", class: "absent", api: q, query: at(`absent(up{namespace="team-b"})`), status: 403, errHas: "conflicting namespace matcher"},

		// label_replace/label_join rename labels of series already confined.
		{name: "label_replace_namespace", class: "label_replace", api: q, query: at(`label_replace(up, "namespace", "team-b", "", "")`), own: []string{"namespace"}, want: []string{"1"}},
		{name: "label_replace_from_exported", class: "label_replace", api: q, query: at(`label_replace(DCGM_FI_DEV_GPU_UTIL{gpu="0"}, "namespace", "$1", "exported_namespace", "(.*)")`), want: []string{"40"}, plp: "dcgm"},
		{name: "label_join_namespace", class: "label_replace", api: q, query: at(`label_join(vllm:num_requests_running, "namespace", ",", "model_name", "namespace")`), own: []string{"namespace"}, want: []string{"3"}},
		{name: "label_replace_conflict", class: "label_replace", api: q, query: at(`label_replace(up{namespace="team-b"}, "namespace", "team-a", "", "")`), status: 403, errHas: "conflicting namespace matcher"},

		// Regex, negative and empty matchers on namespace: refused; on other labels: kept.
		{name: "ns_regex_all", class: "matchers", api: q, query: at(`up{namespace=~".+"}`), status: 403, errHas: "conflicting namespace matcher", plp: "overlap"},
		{name: "ns_empty", class: "matchers", api: q, query: at(`up{namespace=""}`), status: 403, errHas: "conflicting namespace matcher"},
		{name: "ns_not_own", class: "matchers", api: q, query: at(`up{namespace!="team-a"}`), status: 403, errHas: "conflicting namespace matcher"},
		{name: "ns_not_other", class: "matchers", api: q, query: at(`up{namespace!="team-b"}`), status: 403, errHas: "conflicting namespace matcher", plp: "overlap"},
		{name: "ns_regex_both", class: "matchers", api: q, query: at(`up{namespace=~"team-a|team-b"}`), status: 403, errHas: "conflicting namespace matcher", plp: "overlap"},
		{name: "ns_regex_prefix", class: "matchers", api: q, query: at(`up{namespace=~"team-.*"}`), status: 403, errHas: "conflicting namespace matcher", plp: "overlap"},
		{name: "ns_regex_own", class: "matchers", api: q, query: at(`up{namespace=~"team-a"}`), status: 403, errHas: "conflicting namespace matcher", plp: "overlap"},
		{name: "ns_not_regex", class: "matchers", api: q, query: at(`up{namespace!~"team-a"}`), status: 403, errHas: "conflicting namespace matcher"},
		{name: "other_labels_regex", class: "matchers", api: q, query: at(`up{job=~".+",instance!=""}`), want: []string{"1"}},

		// Selectors by __name__.
		{name: "name_equal", class: "name", api: q, query: at(`{__name__="vllm:num_requests_running"}`), want: []string{"3"}},
		{name: "name_set", class: "name", api: q, query: at(`{__name__=~"vllm:num_requests_running|vllm:num_requests_waiting"}`), want: []string{"1", "3"}},
		{name: "name_regex_all", class: "name", api: q, query: at(`{__name__=~".+"}`), status: 403, errHas: "metric name not concrete", plp: "name"},
		{name: "name_regex_dcgm", class: "name", api: q, query: at(`{__name__=~"DCGM_.*"}`), status: 403, errHas: "metric name not concrete", plp: "name"},
		{name: "name_absent", class: "name", api: q, query: at(`{model_name="m2"}`), status: 403, errHas: "metric name not concrete", plp: "name"},
		{name: "name_count_by_namespace", class: "name", api: q, query: at(`count by (namespace) ({__name__=~".+"})`), status: 403, errHas: "metric name not concrete", plp: "name"},

		// A namespace matcher of one's own is kept; another is refused.
		{name: "conflict_other", class: "conflict", api: q, query: at(`up{namespace="team-b"}`), status: 403, errHas: "conflicting namespace matcher"},
		{name: "conflict_twice", class: "conflict", api: q, query: at(`up{namespace="team-a",namespace="team-b"}`), status: 403, errHas: "conflicting namespace matcher"},
		{name: "conflict_equal_own", class: "conflict", api: q, query: at(`up{namespace="team-a"}`), want: []string{"1"}},

		// offset and @.
		{name: "offset", class: "modifiers", api: q, query: at(`vllm:num_requests_running offset 10m`), want: []string{"3"}},
		{name: "at_time", class: "modifiers", api: q, query: at(`vllm:num_requests_running @ ` + t0), want: []string{"3"}},
		{name: "at_end_offset", class: "modifiers", api: q, query: at(`max_over_time(vllm:num_requests_running[10m] @ end() offset 5m)`), want: []string{"3"}},
		{name: "offset_conflict", class: "modifiers", api: q, query: at(`up{namespace="team-b"} offset 1h`), status: 403, errHas: "conflicting namespace matcher"},

		// Aggregations: confined before they aggregate.
		{name: "count_by_namespace", class: "aggregation", api: q, query: at(`count by (namespace) (up)`), want: []string{"1"}},
		{name: "sum_all", class: "aggregation", api: q, query: at(`sum(container_memory_working_set_bytes{container="notebook"})`), want: []string{"536870912"}},
		{name: "sum_without_namespace", class: "aggregation", api: q, query: at(`sum without (namespace) (vllm:num_requests_running)`), want: []string{"3"}},
		{name: "topk_count_values", class: "aggregation", api: q, query: at(`topk(5, vllm:num_requests_running) or count_values("v", up)`), want: []string{"1", "3"}},

		// GPU metrics: confined on exported_namespace; namespace is only a filter there.
		{name: "dcgm_plain", class: "dcgm", api: q, query: at(`DCGM_FI_DEV_GPU_UTIL`), nonEmpty: true, plp: "dcgm"},
		{name: "dcgm_operator_namespace", class: "dcgm", api: q, query: at(`DCGM_FI_DEV_GPU_UTIL{namespace="nvidia-gpu-operator",gpu="0"}`), want: []string{"40"}, plp: "dcgm"},
		{name: "dcgm_exported_own", class: "dcgm", api: q, query: at(`avg by (exported_namespace, namespace) (DCGM_FI_DEV_GPU_UTIL{exported_namespace="team-a",gpu="0"})`), want: []string{"40"}, plp: "dcgm"},
		{name: "dcgm_exported_other", class: "dcgm", api: q, query: at(`DCGM_FI_DEV_GPU_UTIL{exported_namespace="team-b"}`), status: 403, errHas: "conflicting namespace matcher", plp: "dcgm"},
		{name: "dcgm_exported_regex", class: "dcgm", api: q, query: at(`DCGM_FI_DEV_GPU_UTIL{exported_namespace=~".+"}`), status: 403, errHas: "conflicting namespace matcher", plp: "dcgm"},
		{name: "dcgm_other_namespace", class: "dcgm", api: q, query: at(`DCGM_FI_DEV_GPU_UTIL{namespace="team-b"}`), want: []string{}, plp: "dcgm"},

		// PromQL built by pasting unescaped variable values ($model) into
		// vllm:num_requests_running{model_name="$model"}.
		{name: "inject_or_other_namespace", class: "injection", api: q, query: at(`vllm:num_requests_running{model_name="m1"} or vllm:num_requests_running{namespace="team-b"}`), status: 403, errHas: "conflicting namespace matcher"},
		{name: "inject_or_any_metric", class: "injection", api: q, query: at(`vllm:num_requests_running{model_name="m1"} or {__name__=~".+"}`), status: 403, errHas: "metric name not concrete", plp: "name"},
		{name: "inject_regex_value", class: "injection", api: q, query: at(`vllm:num_requests_running{model_name=~".*"} or vllm:num_requests_running{model_name=~".*"}`), want: []string{"3"}},

		// Range queries and exemplars.
		{name: "range", class: "range", api: rng, query: qs("query", `vllm:num_requests_running`, "start", start(1800), "end", t0, "step", "60"), nonEmpty: true},
		{name: "range_or", class: "range", api: rng, query: qs("query", `up or vllm:num_requests_running`, "start", start(600), "end", t0, "step", "60"), nonEmpty: true},
		{name: "range_conflict", class: "range", api: rng, query: qs("query", `up{namespace=~"team-b"}`, "start", start(600), "end", t0, "step", "60"), status: 403, errHas: "conflicting namespace matcher"},
		{name: "exemplars", class: "range", api: exemplars, query: qs("query", `vllm:num_requests_running`, "start", start(3600), "end", t0)},
		{name: "exemplars_conflict", class: "range", api: exemplars, query: qs("query", `up{namespace="team-b"}`, "start", start(3600), "end", t0), status: 403, errHas: "conflicting namespace matcher"},

		// Metadata endpoints, with and without match[].
		{name: "series_match", class: "metadata", api: series, query: qs("match[]", "up"), nonEmpty: true},
		{name: "series_two_matches", class: "metadata", api: series, query: qs("match[]", "up", "match[]", `DCGM_FI_DEV_GPU_UTIL`), nonEmpty: true, plp: "dcgm"},
		{name: "series_post", class: "metadata", api: series, method: http.MethodPost, body: qs("match[]", "up"), nonEmpty: true, plp: "post-match"},
		{name: "series_no_match", class: "metadata", api: series, nonEmpty: true, plp: "dcgm"},
		{name: "series_match_other", class: "metadata", api: series, query: qs("match[]", `up{namespace="team-b"}`), status: 403, errHas: "conflicting namespace matcher", plp: "match-conflict"},
		{name: "series_match_regex", class: "metadata", api: series, query: qs("match[]", `up{namespace=~".+"}`), status: 403, errHas: "conflicting namespace matcher", plp: "match-conflict"},
		{name: "series_match_function", class: "metadata", api: series, query: qs("match[]", `rate(up[5m])`), status: 400, errHas: "not a series selector"},
		{name: "series_match_any", class: "metadata", api: series, query: qs("match[]", `{__name__=~".+"}`), status: 403, errHas: "metric name not concrete", plp: "name"},
		{name: "labels_no_match", class: "metadata", api: lbls, nonEmpty: true, plp: "dcgm"},
		{name: "labels_match", class: "metadata", api: lbls, query: qs("match[]", "vllm:num_requests_running"), want: []string{"__name__", "model_name", "namespace"}},
		{name: "labels_match_other", class: "metadata", api: lbls, query: qs("match[]", `up{namespace="team-b"}`), status: 403, errHas: "conflicting namespace matcher", plp: "match-conflict"},
		// team-a's namespace, and the namespace label of team-a's own GPU series.
		{name: "values_namespace", class: "metadata", api: values("namespace"), want: []string{gpuOperatorNamespace, tenancyProject}, plp: "dcgm"},
		{name: "values_namespace_match", class: "metadata", api: values("namespace"), query: qs("match[]", "up"), want: []string{tenancyProject}},
		{name: "values_namespace_match_other", class: "metadata", api: values("namespace"), query: qs("match[]", `up{namespace="team-b"}`), status: 403, errHas: "conflicting namespace matcher", plp: "match-conflict"},
		{name: "values_namespace_match_function", class: "metadata", api: values("namespace"), query: qs("match[]", `absent(up)`), status: 400, errHas: "not a series selector"},
		{name: "values_exported_namespace", class: "metadata", api: values("exported_namespace"), want: []string{tenancyProject}, plp: "dcgm"},
		{name: "values_model_name", class: "metadata", api: values("model_name"), query: qs("match[]", running), want: []string{"m1"}},
		{name: "values_metric_names", class: "metadata", api: values("__name__"), nonEmpty: true, plp: "dcgm"},

		// Paths: encoded or doubled slashes, dot segments, other Prometheus endpoints.
		{name: "path_double_slash", class: "paths", api: q, path: "/api/v1//query", query: at("up"), status: 400, errHas: "empty or dot segment"},
		{name: "path_encoded_letter", class: "paths", api: q, path: "/api/v1/%71uery", query: at("up"), status: 400, errHas: "encoded", plp: "path-encoding"},
		{name: "path_encoded_slash", class: "paths", api: q, path: "/api%2Fv1/query", query: at("up"), status: 400, errHas: "encoded"},
		{name: "path_encoded_dots", class: "paths", api: q, path: "/api/v1/%2e%2e/v1/query", query: at("up"), status: 400, errHas: "encoded"},
		{name: "path_dot_dot", class: "paths", api: q, path: "/api/v1/../v1/query", query: at("up"), status: 400, errHas: "empty or dot segment"},
		{name: "path_dot", class: "paths", api: q, path: "/api/v1/./query", query: at("up"), status: 400, errHas: "empty or dot segment"},
		{name: "path_dot_dot_project", class: "paths", api: q, path: "/../../../../team-b/datasources/prometheus/api/v1/query", query: at("up"), status: 400, errHas: "empty or dot segment"},
		{name: "path_backslash", class: "paths", api: q, path: `/api/v1\query`, query: at("up"), status: 400, errHas: "escaped"},
		// Upstream's RemoveTrailingSlash runs before us: served as /api/v1/query, confined.
		{name: "path_trailing_slash", class: "paths", api: q, path: "/api/v1/query/", query: at("vllm:num_requests_running"), want: []string{"3"}, plp: "trailing-slash"},
		{name: "path_trailing_slash_encoded", class: "paths", api: q, path: "/api/v1/%71uery/", query: at("vllm:num_requests_running"), want: []string{"3"}, plp: "trailing-slash"},
		{name: "path_status_config", class: "paths", api: "/api/v1/status/config", status: 403, errHas: "not allowed"},
		{name: "path_targets", class: "paths", api: "/api/v1/targets", status: 403, errHas: "not allowed"},
		{name: "path_metadata", class: "paths", api: "/api/v1/metadata", status: 403, errHas: "not allowed"},
		{name: "path_format_query", class: "paths", api: "/api/v1/format_query", query: qs("query", `up{namespace="team-b"}`), status: 403, errHas: "not allowed"},
		{name: "path_admin_delete_series", class: "paths", api: "/api/v1/admin/tsdb/delete_series", method: http.MethodPost, body: qs("match[]", "up"), status: 403, errHas: "not allowed"},
		{name: "path_remote_write", class: "paths", api: "/api/v1/write", method: http.MethodPost, body: "x", ctype: "application/x-protobuf", status: 403, errHas: "not allowed"},
		{name: "path_federate", class: "paths", api: "/federate", query: qs("match[]", `{__name__=~".+"}`), status: 403, errHas: "not allowed", plp: "passthrough"},
		{name: "path_rules", class: "paths", api: "/api/v1/rules", status: 403, errHas: "not allowed", plp: "passthrough"},
		{name: "path_alerts", class: "paths", api: "/api/v1/alerts", status: 403, errHas: "not allowed", plp: "passthrough"},

		// Parameters: URL and body, duplicates, unknown, malformed.
		{name: "params_split", class: "params", api: q, method: http.MethodPost, query: qs("time", t0), body: qs("query", running), want: []string{"3"}},
		{name: "params_url_and_body_same", class: "params", api: q, method: http.MethodPost, query: at("up"), body: qs("query", "up"), status: 400, errHas: "both in the URL and in the body", plp: "hygiene"},
		{name: "params_url_and_body_conflict", class: "params", api: q, method: http.MethodPost, query: at("up"), body: qs("query", `up{namespace="team-b"}`), status: 400, errHas: "both in the URL and in the body"},
		{name: "params_duplicate_query", class: "params", api: q, query: qs("query", "up", "query", `{__name__=~".+"}`, "time", t0), status: 400, errHas: "given 2 times", plp: "hygiene"},
		{name: "params_duplicate_query_body", class: "params", api: q, method: http.MethodPost, body: qs("query", "up", "query", `up{namespace="team-b"}`, "time", t0), status: 400, errHas: "given 2 times", plp: "hygiene"},
		{name: "params_duplicate_time", class: "params", api: q, query: qs("query", "up", "time", t0, "time", "0"), status: 400, errHas: "given 2 times", plp: "hygiene"},
		{name: "params_duplicate_match", class: "params", api: series, query: qs("match[]", "up", "match[]", "up"), nonEmpty: true},
		{name: "params_unknown", class: "params", api: q, query: qs("query", "up", "time", t0, "namespace", "team-b"), status: 400, errHas: "not taken", plp: "hygiene"},
		{name: "params_unknown_series", class: "params", api: series, query: qs("match[]", "up", "namespace", "team-b"), status: 400, errHas: "not taken", plp: "hygiene"},
		{name: "params_malformed", class: "params", api: q, query: "query=%zz&time=" + t0, status: 400, errHas: "malformed"},
		{name: "params_semicolon", class: "params", api: q, query: "query=up;query=up%7Bnamespace%3D%22team-b%22%7D&time=" + t0, status: 400, errHas: "malformed"},
		{name: "params_no_query", class: "params", api: q, query: qs("time", t0), status: 400, errHas: "required"},
		{name: "params_multipart", class: "params", api: q, method: http.MethodPost, body: "multipart", status: 400, errHas: "x-www-form-urlencoded"},
		{name: "params_text_body", class: "params", api: q, method: http.MethodPost, body: qs("query", `up{namespace="team-b"}`), ctype: "text/plain", status: 400, errHas: "x-www-form-urlencoded"},
		{name: "params_get_with_body", class: "params", api: q, query: at("up"), body: qs("query", `up{namespace="team-b"}`), status: 400, errHas: "carries no body", plp: "hygiene"},

		// Methods.
		{name: "method_get", class: "method", api: q, query: at(running), want: []string{"3"}},
		{name: "method_post", class: "method", api: q, method: http.MethodPost, body: at(running), want: []string{"3"}},
		{name: "method_put", class: "method", api: q, method: http.MethodPut, query: at("up"), status: 405, errHas: "not allowed"},
		{name: "method_delete", class: "method", api: series, method: http.MethodDelete, query: qs("match[]", "up"), status: 405, errHas: "not allowed"},

		// Sizes: a query over 64 KiB, a body over 256 KiB.
		{name: "size_query_under", class: "size", api: q, method: http.MethodPost, body: qs("query", big(60000), "time", t0), want: []string{"3"}},
		{name: "size_query_over", class: "size", api: q, method: http.MethodPost, body: qs("query", big(66000), "time", t0), status: 400, errHas: "too large", plp: "size"},
		{name: "size_query_over_url", class: "size", api: q, query: qs("query", big(66000), "time", t0), status: 400, errHas: "too large", plp: "size"},
		{name: "size_match_over", class: "size", api: series, method: http.MethodPost, body: qs("match[]", "up", "match[]", big(66000)), status: 400, errHas: "too large", plp: "size"},
		{name: "size_body_over", class: "size", api: q, method: http.MethodPost, body: qs("query", big(300000), "time", t0), status: 413, errHas: "larger than", plp: "size"},

		// Other routes of the server.
		{name: "unsaved_post", class: "routes", via: viaUnsaved, api: q, body: at(running), want: []string{"3"}},
		{name: "unsaved_get", class: "routes", via: viaUnsaved, api: q, method: http.MethodGet, query: at(running), want: []string{"3"}},
		{name: "unsaved_series", class: "routes", via: viaUnsaved, api: series, body: qs("match[]", "up"), nonEmpty: true, plp: "post-match"},
		{name: "unsaved_conflict", class: "routes", via: viaUnsaved, api: q, body: at(`up{namespace="team-b"}`), status: 403, errHas: "conflicting namespace matcher"},
		{name: "unsaved_put", class: "routes", via: viaUnsaved, api: q, method: http.MethodPut, body: at("up"), status: 405, errHas: "not allowed"},
		{name: "unsaved_outer_get", class: "routes", via: viaUnsavedOuterGet, api: q, query: at("up"), status: 405, errHas: "POST only", plp: "route"},
		{name: "unsaved_direct_url", class: "routes", via: viaUnsaved, api: q, body: at("up"), spec: object{"default": false, "plugin": object{"kind": "PrometheusDatasource", "spec": object{"directUrl": "http://127.0.0.1:1"}}}, status: 403, errHas: "directUrl", plp: "route"},
		{name: "unsaved_global", class: "routes", via: viaUnsavedGlobal, api: q, body: at("up"), status: 403, errHas: "cannot be confined", plp: "route"},
		{name: "dashboard_local", class: "routes", via: viaDashboard, api: q, query: at(running), want: []string{"3"}},
		{name: "dashboard_local_conflict", class: "routes", via: viaDashboard, api: q, query: at(`up{namespace="team-b"}`), status: 403, errHas: "conflicting namespace matcher"},
		{name: "global_shared", class: "routes", via: viaGlobal, api: q, query: at("up"), status: 403, errHas: "cannot be confined", plp: "route"},
		{name: "global_server", class: "routes", via: viaGlobalServer, api: q, query: at("up"), status: 403, errHas: "cannot be confined", plp: "route"},
	}
	// The metadata endpoints read the backfilled range only: the series other tests push
	// meanwhile (remote write, at the current time) and Prometheus' own come later.
	span := qs("start", start(3*3600), "end", t0)
	for i, c := range cases {
		if c.api != series && c.api != lbls && !isLabelValues(c.api) || strings.Contains(c.query, "start=") {
			continue
		}
		switch {
		case c.body != "":
			cases[i].body += "&" + span
		case c.query != "":
			cases[i].query += "&" + span
		default:
			cases[i].query = span
		}
	}
	return cases
}

// --- the environment -------------------------------------------------------------

type tenancyEnv struct {
	server, prom string
	t0, t0At     string
	dashboard    string
	enforcer     *tenancy.Enforcer
	world        *tenancyWorld
	http         *http.Client
}

func newTenancyEnv(t *testing.T) *tenancyEnv {
	t.Helper()
	e := &tenancyEnv{
		server: serverURL(t),
		prom:   prometheusURL(t),
		// Redirects are answers too: never follow them.
		http: &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
	api := newAPIClient(t)
	// team-a is one of TestMain's shared projects; create it if a run has none.
	if r := api.do(t, http.MethodGet, "/api/v1/projects/"+tenancyProject, nil); r.Status == http.StatusNotFound {
		createProject(t, api, tenancyProject)
	}
	api.expect(t, http.StatusOK, http.MethodGet, "/api/v1/projects/"+tenancyProject+"/datasources/"+projectDatasource, nil)

	// The evaluation time: the last backfilled sample (hack/prometheus/start.sh), where
	// every series has its fixed last value.
	var m struct {
		Data struct {
			Result []struct {
				Values [][]any `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	status, _, body := e.send(t, http.MethodGet, e.prom, "/api/v1/query", qs("query", `up{job="workload",namespace="team-a"}[12h]`), "", "")
	require.Equalf(t, http.StatusOK, status, "%s", body)
	require.NoError(t, json.Unmarshal(body, &m))
	require.Len(t, m.Data.Result, 1, "the backfilled up{namespace=\"team-a\"} series")
	vals := m.Data.Result[0].Values
	require.NotEmpty(t, vals)
	last, ok := vals[len(vals)-1][0].(float64)
	require.True(t, ok)
	e.t0 = strconv.FormatFloat(last, 'f', -1, 64)
	e.t0At = strconv.FormatFloat(last, 'f', 3, 64) // as the printer writes `@ <t0>`

	e.world = readTenancyWorld(t, e)

	var err error
	e.enforcer, err = tenancy.New(tenancy.DefaultConfig())
	require.NoError(t, err)

	// A dashboard of team-a with a datasource of its own.
	e.dashboard = uniqueName(t, "tenancy")
	d := markdownDashboard(tenancyProject, e.dashboard, "dashboard-local datasource")
	d["spec"].(object)["datasources"] = object{"local": object{"default": false, "plugin": prometheusPluginProxy(e.prom, "")}}
	createIn(t, api, "/api/v1/projects/"+tenancyProject+"/dashboards", e.dashboard, d)
	return e
}

// send sends a request with its path exactly as given (no cleaning, no re-encoding) and
// answers status, headers and body. body "multipart" is a multipart form holding
// query=up{namespace="team-b"}.
func (e *tenancyEnv) send(t *testing.T, method, base, path, rawQuery, body, ctype string) (int, http.Header, []byte) {
	t.Helper()
	if method == "" {
		method = http.MethodGet
	}
	var reader io.Reader
	if body != "" {
		reader = strings.NewReader(body)
		if ctype == "" {
			ctype = "application/x-www-form-urlencoded"
		}
		if body == "multipart" {
			var buf bytes.Buffer
			w := multipart.NewWriter(&buf)
			require.NoError(t, w.WriteField("query", `up{namespace="team-b"}`))
			require.NoError(t, w.Close())
			reader, ctype = &buf, w.FormDataContentType()
		}
	}
	u, err := url.Parse(base)
	require.NoError(t, err)
	req, err := http.NewRequest(method, base+"/", reader)
	require.NoError(t, err)
	req.URL = &url.URL{Scheme: u.Scheme, Host: u.Host, Opaque: "//" + u.Host + u.Path + path, RawQuery: rawQuery}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := e.http.Do(req)
	require.NoErrorf(t, err, "%s %s%s", method, base, path)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, data
}

// ours sends a case through our server.
func (e *tenancyEnv) ours(t *testing.T, c tenancyCase) (int, []byte) {
	t.Helper()
	path := c.api
	if c.path != "" {
		path = c.path
	}
	prefix := "/proxy/projects/" + tenancyProject + "/datasources/" + projectDatasource
	switch c.via {
	case viaDashboard:
		prefix = "/proxy/projects/" + tenancyProject + "/dashboards/" + e.dashboard + "/datasources/local"
	case viaGlobal:
		prefix = "/proxy/globaldatasources/" + sharedDatasource
	case viaGlobalServer:
		prefix = "/proxy/globaldatasources/" + projectDatasource
	case viaUnsavedOuterGet:
		prefix = "/proxy/unsaved/projects/" + tenancyProject + "/datasources"
	case viaUnsaved, viaUnsavedGlobal:
		prefix = "/proxy/unsaved/projects/" + tenancyProject + "/datasources"
		if c.via == viaUnsavedGlobal {
			prefix = "/proxy/unsaved/globaldatasources"
		}
		spec := c.spec
		if spec == nil {
			spec = object{"default": false, "plugin": prometheusPluginProxy(e.prom, "")}
		}
		inner := object{"method": c.innerMethod(), "spec": spec}
		if c.body != "" {
			inner["body"] = []byte(c.body) // base64 in JSON, as upstream's client sends it
		}
		raw, err := json.Marshal(inner)
		require.NoError(t, err)
		status, _, body := e.send(t, http.MethodPost, e.server+prefix, path, c.query, string(raw), "application/json")
		return status, body
	}
	status, _, body := e.send(t, c.method, e.server+prefix, path, c.query, c.body, c.ctype)
	return status, body
}

func (c tenancyCase) innerMethod() string {
	switch {
	case c.method != "":
		return c.method
	case c.body != "":
		return http.MethodPost
	}
	return http.MethodGet
}

// direct sends the case's parameters to Prometheus itself, at the canonical endpoint,
// with the query (or match[]) replaced when replace is set.
func (e *tenancyEnv) direct(t *testing.T, c tenancyCase, replace func(url.Values)) (int, []byte) {
	t.Helper()
	params := c.params(t)
	if replace != nil {
		replace(params)
	}
	if isLabelValues(c.api) {
		status, _, body := e.send(t, http.MethodGet, e.prom, c.api, params.Encode(), "", "")
		return status, body
	}
	status, _, body := e.send(t, http.MethodPost, e.prom, c.api, "", params.Encode(), "")
	return status, body
}

// params are the case's URL and body parameters together (accepted cases have no
// parameter in both), as far as they parse.
func (c tenancyCase) params(t *testing.T) url.Values {
	t.Helper()
	out, _ := url.ParseQuery(c.query)
	if c.body != "" && c.ctype == "" && c.body != "multipart" {
		b, _ := url.ParseQuery(c.body)
		for k, v := range b {
			out[k] = append(out[k], v...)
		}
	}
	return out
}

func isQueryAPI(api string) bool {
	return api == "/api/v1/query" || api == "/api/v1/query_range" || api == "/api/v1/query_exemplars"
}

func isLabelValues(api string) bool {
	return strings.HasPrefix(api, "/api/v1/label/") && strings.HasSuffix(api, "/values")
}

// isDataAPI: an endpoint our proxy serves, whose direct answer is a control.
func isDataAPI(api string) bool {
	return isQueryAPI(api) || isLabelValues(api) || api == "/api/v1/series" || api == "/api/v1/labels"
}

// --- the oracle --------------------------------------------------------------------

// tenancyWorld is every series of the test Prometheus, split by the tenancy rule.
type tenancyWorld struct {
	mine    map[string]bool            // team-a's series, by their canonical label set
	values  map[string]map[string]bool // label → values on team-a's series ("" key: label names)
	foreign map[string]map[string]bool // label → values found only on other series
}

var gpuMetric = regexp.MustCompile(`^(?:DCGM_.*|accelerator_.*)$`)

// tenantLabel is the label that carries a metric's namespace (the rule, written out).
func tenantLabel(metric string) string {
	if gpuMetric.MatchString(metric) {
		return "exported_namespace"
	}
	return "namespace"
}

func seriesKey(ls map[string]string) string {
	b, _ := json.Marshal(ls) // maps marshal sorted
	return string(b)
}

func readTenancyWorld(t *testing.T, e *tenancyEnv) *tenancyWorld {
	t.Helper()
	t0, err := strconv.ParseFloat(e.t0, 64)
	require.NoError(t, err)
	start := strconv.FormatFloat(t0-24*3600, 'f', -1, 64)
	status, _, body := e.send(t, http.MethodGet, e.prom, "/api/v1/series", qs("match[]", `{__name__=~".+"}`, "start", start, "end", e.t0), "", "")
	require.Equalf(t, http.StatusOK, status, "%s", body)
	var answer struct {
		Data []map[string]string `json:"data"`
	}
	require.NoError(t, json.Unmarshal(body, &answer))
	w := &tenancyWorld{mine: map[string]bool{}, values: map[string]map[string]bool{"": {}}, foreign: map[string]map[string]bool{}}
	others := map[string]map[string]bool{}
	for _, ls := range answer.Data {
		if ls[tenantLabel(ls["__name__"])] == tenancyProject {
			w.mine[seriesKey(ls)] = true
			for k, v := range ls {
				if w.values[k] == nil {
					w.values[k] = map[string]bool{}
				}
				w.values[k][v] = true
				w.values[""][k] = true
			}
			continue
		}
		for k, v := range ls {
			if others[k] == nil {
				others[k] = map[string]bool{}
			}
			others[k][v] = true
		}
	}
	for k, vs := range others {
		for v := range vs {
			if !w.values[k][v] {
				if w.foreign[k] == nil {
					w.foreign[k] = map[string]bool{}
				}
				w.foreign[k][v] = true
			}
		}
	}
	require.NotEmpty(t, w.mine, "team-a has series")
	require.True(t, w.foreign["namespace"]["team-b"], "team-b has series")
	require.Equal(t, map[string]bool{tenancyProject: true, gpuOperatorNamespace: true}, w.values["namespace"],
		"the namespace values of team-a's series: its own, and the GPU operator's on its DCGM series")
	return w
}

// verdict is what an answer holds.
type verdict struct {
	status   int
	answered bool     // 2xx with a Prometheus success answer (or /federate's text)
	count    int      // series, names or values in it
	values   []string // sample values of an instant vector or scalar, sorted
	leaks    []string // what in it is not team-a's
	data     any      // the data, normalized for comparison
	errType  string
	errMsg   string
}

func (v verdict) String() string {
	switch {
	case v.answered && len(v.leaks) > 0:
		return fmt.Sprintf("%d LEAK", v.status)
	case v.answered:
		return fmt.Sprintf("%d team-a(%d)", v.status, v.count)
	case v.status >= 200 && v.status <= 299:
		return fmt.Sprintf("%d no answer", v.status) // prom-label-proxy's empty 200
	}
	return fmt.Sprintf("%d refused", v.status)
}

var labelPair = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

// judge reads an answer of endpoint api; own are labels the query writes itself.
func (w *tenancyWorld) judge(api string, status int, body []byte, own []string) verdict {
	v := verdict{status: status}
	if status < 200 || status > 299 {
		var e struct{ ErrorType, Error string }
		_ = json.Unmarshal(body, &e)
		v.errType, v.errMsg = e.ErrorType, e.Error
		return v
	}
	if api == "/federate" {
		v.answered = true
		for _, line := range strings.Split(string(body), "\n") {
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			ls := map[string]string{}
			for _, m := range labelPair.FindAllStringSubmatch(line, -1) {
				ls[m[1]] = m[2]
			}
			v.count++
			v.leaks = append(v.leaks, w.checkSeries(ls, own)...)
		}
		v.data = string(body)
		return v
	}
	var answer struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &answer); err != nil || answer.Status != "success" {
		return v // e.g. prom-label-proxy's empty 200 when it finds no query
	}
	v.answered = true
	switch {
	case api == "/api/v1/query" || api == "/api/v1/query_range":
		var d struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		}
		mustUnmarshal(&d, answer.Data)
		switch d.ResultType {
		case "vector", "matrix":
			var rs []struct {
				Metric map[string]string `json:"metric"`
				Value  []any             `json:"value"`
			}
			mustUnmarshal(&rs, d.Result)
			v.values = []string{}
			for _, r := range rs {
				v.count++
				v.leaks = append(v.leaks, w.checkSeries(r.Metric, own)...)
				if len(r.Value) == 2 {
					v.values = append(v.values, fmt.Sprint(r.Value[1]))
				}
			}
		default: // scalar, string
			var r []any
			mustUnmarshal(&r, d.Result)
			v.count = 1
			v.values = []string{fmt.Sprint(r[1])}
		}
		sort.Strings(v.values)
	case api == "/api/v1/series":
		var rs []map[string]string
		mustUnmarshal(&rs, answer.Data)
		for _, ls := range rs {
			v.count++
			v.leaks = append(v.leaks, w.checkSeries(ls, own)...)
			if !w.mine[seriesKey(ls)] {
				v.leaks = append(v.leaks, "series "+seriesKey(ls)+" is not team-a's")
			}
		}
	case api == "/api/v1/labels" || isLabelValues(api):
		label := ""
		if isLabelValues(api) {
			label = strings.TrimSuffix(strings.TrimPrefix(api, "/api/v1/label/"), "/values")
		}
		var names []string
		mustUnmarshal(&names, answer.Data)
		for _, n := range names {
			v.count++
			if !w.values[label][n] {
				v.leaks = append(v.leaks, fmt.Sprintf("%q is not a value of %q on team-a's series", n, label))
			}
		}
		v.values = append([]string{}, names...)
		sort.Strings(v.values)
	case api == "/api/v1/query_exemplars":
		var rs []struct {
			SeriesLabels map[string]string `json:"seriesLabels"`
		}
		mustUnmarshal(&rs, answer.Data)
		for _, r := range rs {
			v.count++
			v.leaks = append(v.leaks, w.checkSeries(r.SeriesLabels, own)...)
		}
	default: // rules, alerts: no series, but no other tenant's namespace either
		for ns := range w.foreign["namespace"] {
			if bytes.Contains(answer.Data, []byte(strconv.Quote(ns))) {
				v.leaks = append(v.leaks, "mentions namespace "+ns)
			}
		}
	}
	var data any
	mustUnmarshal(&data, answer.Data)
	v.data = normalize(data)
	return v
}

// checkSeries: no label (but the query's own) has a value only other series have, and
// the tenant labels are team-a's (namespace may be the GPU operator's on a series whose
// exported_namespace is team-a).
func (w *tenancyWorld) checkSeries(ls map[string]string, own []string) []string {
	var leaks []string
	for k, val := range ls {
		if slices.Contains(own, k) {
			continue
		}
		if w.foreign[k][val] {
			leaks = append(leaks, fmt.Sprintf("%s=%q is not team-a's in %v", k, val, ls))
		}
	}
	exported, hasExported := ls["exported_namespace"]
	if hasExported && !slices.Contains(own, "exported_namespace") && exported != tenancyProject {
		leaks = append(leaks, fmt.Sprintf("exported_namespace=%q in %v", exported, ls))
	}
	if ns, ok := ls["namespace"]; ok && !slices.Contains(own, "namespace") && ns != tenancyProject {
		if !hasExported || exported != tenancyProject || !w.values["namespace"][ns] {
			leaks = append(leaks, fmt.Sprintf("namespace=%q in %v", ns, ls))
		}
	}
	return leaks
}

func mustUnmarshal(v any, data []byte) {
	if err := json.Unmarshal(data, v); err != nil {
		panic(fmt.Sprintf("decoding %s: %v", data, err))
	}
}

// normalize sorts the arrays whose order Prometheus does not promise.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
		keys := make([]string, len(x))
		for i, e := range x {
			b, _ := json.Marshal(e)
			keys[i] = string(b)
		}
		idx := make([]int, len(x))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return keys[idx[a]] < keys[idx[b]] })
		out := make([]any, len(x))
		for i, j := range idx {
			out[i] = x[j]
		}
		return out
	}
	return v
}

// --- golden files and pinning --------------------------------------------------------

// enforced is what the enforcer makes of the case's query or match[] set, and the
// function that puts it into the parameters.
func (e *tenancyEnv) enforced(t *testing.T, c tenancyCase) (string, func(url.Values)) {
	t.Helper()
	params := c.params(t)
	if isQueryAPI(c.api) {
		q, err := e.enforcer.Enforce(params.Get("query"), tenancyProject)
		require.NoError(t, err)
		return q, func(p url.Values) { p.Set("query", q) }
	}
	m, err := e.enforcer.EnforceMatchers(params["match[]"], tenancyProject)
	require.NoError(t, err)
	return strings.Join(m, "\n"), func(p url.Values) { p["match[]"] = m }
}

func tenancyGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join(tenancyGoldenDir, name+".golden")
	if *updateTenancyGolden {
		require.NoError(t, os.MkdirAll(tenancyGoldenDir, 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got+"\n"), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoErrorf(t, err, "missing golden file: go test -tags e2e -run TestTenancyBypassTable ./e2e/ -update")
	assert.Equal(t, strings.TrimSuffix(string(want), "\n"), got, "golden %s", path)
}

// assertSelectorsPinned: every selector of an enforced query (or match[] selector)
// carries exactly one matcher on its tenant label, equal to team-a. A selector without
// a concrete name must be one of the default match[] set, pinned on either label.
func assertSelectorsPinned(t *testing.T, query string) {
	t.Helper()
	expr, err := parser.ParseExpr(query)
	require.NoErrorf(t, err, "the enforced query must parse: %s", query)
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		var names []string
		if vs.Name != "" {
			names = []string{vs.Name}
		}
		for _, m := range vs.LabelMatchers {
			if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
				names = []string{m.Value}
			}
			if m.Name == labels.MetricName && m.Type == labels.MatchRegexp && names == nil && regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*(\|[a-zA-Z_:][a-zA-Z0-9_:]*)*$`).MatchString(m.Value) {
				names = strings.Split(m.Value, "|")
			}
		}
		candidates := []string{"namespace", "exported_namespace"}
		if len(names) > 0 {
			candidates = []string{tenantLabel(names[0])}
			for _, n := range names {
				assert.Equalf(t, candidates[0], tenantLabel(n), "selector %s mixes tenant labels", vs)
			}
		}
		pinned := 0
		for _, m := range vs.LabelMatchers {
			if slices.Contains(candidates, m.Name) {
				assert.Equalf(t, labels.MatchEqual, m.Type, "selector %s", vs)
				assert.Equalf(t, tenancyProject, m.Value, "selector %s", vs)
				pinned++
			}
		}
		assert.Equalf(t, 1, pinned, "selector %s must carry one tenant matcher", vs)
		return nil
	})
}

// --- the tests -------------------------------------------------------------------------

// tenancyOutcome is a case's result through our proxy, with the direct control.
type tenancyOutcome struct {
	c           tenancyCase
	ours        verdict
	directLeaks bool // the same request, direct to Prometheus, answers other data too
}

// runOurs sends a case through our proxy and asserts what it must do.
func runOurs(t *testing.T, e *tenancyEnv, c tenancyCase) tenancyOutcome {
	t.Helper()
	status, body := e.ours(t, c)
	v := e.world.judge(c.api, status, body, c.own)
	out := tenancyOutcome{c: c, ours: v}
	if isDataAPI(c.api) {
		ds, db := e.direct(t, c, nil)
		dv := e.world.judge(c.api, ds, db, c.own)
		out.directLeaks = dv.answered && len(dv.leaks) > 0
	}
	want := c.status
	if want == 0 {
		want = http.StatusOK
	}
	if !assert.Equalf(t, want, status, "%s: %s", c.name, truncate(string(body), 400)) {
		return out
	}
	if want != http.StatusOK {
		assert.Equalf(t, "error", jsonField(body, "status"), "%s: Prometheus' error shape: %s", c.name, body)
		assert.NotEmptyf(t, v.errType, "%s: errorType: %s", c.name, body)
		assert.Containsf(t, v.errMsg, c.errHas, "%s: the refusal says why", c.name)
		return out
	}
	require.Truef(t, v.answered, "%s: a Prometheus answer: %s", c.name, truncate(string(body), 400))
	assert.Emptyf(t, v.leaks, "%s: only team-a's data", c.name)
	if c.nonEmpty {
		assert.Positivef(t, v.count, "%s: team-a has data here", c.name)
	}
	if c.want != nil {
		assert.Equalf(t, c.want, v.values, "%s: values", c.name)
	}

	// Exactness: the proxy sent the golden query.
	golden, replace := e.enforced(t, c)
	tenancyGolden(t, c.name, strings.ReplaceAll(golden, e.t0At, "<t0>"))
	if isQueryAPI(c.api) || c.params(t).Has("match[]") {
		for _, sel := range strings.Split(golden, "\n") {
			assertSelectorsPinned(t, sel)
		}
	}
	ds, db := e.direct(t, c, replace)
	require.Equalf(t, http.StatusOK, ds, "%s: Prometheus on the golden query: %s", c.name, db)
	dv := e.world.judge(c.api, ds, db, c.own)
	assert.Equalf(t, dv.data, v.data, "%s: the proxy's answer is Prometheus' answer to the golden query", c.name)
	return out
}

func jsonField(body []byte, key string) string {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	s, _ := m[key].(string)
	return s
}

// TestTenancyBypassTable sends every bypass attempt for project team-a through the
// shared server's proxy: each is refused with its status and a message, or answered
// with team-a's data only, exactly Prometheus' answer to the golden enforced query.
func TestTenancyBypassTable(t *testing.T) {
	t.Parallel()
	e := newTenancyEnv(t)
	corpus := tenancyCorpus(e.t0)
	seen := map[string]bool{}
	refused, accepted := 0, 0
	positive, control := map[string]bool{}, map[string]bool{}
	for _, c := range corpus {
		require.Falsef(t, seen[c.name], "case %s twice", c.name)
		seen[c.name] = true
		require.Containsf(t, tenancyClasses, c.class, "case %s", c.name)
		t.Run(c.name, func(t *testing.T) {
			o := runOurs(t, e, c)
			if o.ours.answered {
				accepted++
				if o.ours.count > 0 && len(o.ours.leaks) == 0 {
					positive[c.class] = true
				}
			} else {
				refused++
			}
			if o.directLeaks {
				control[c.class] = true
			}
		})
	}
	for _, class := range tenancyClasses {
		assert.Truef(t, positive[class], "class %s: at least one case answers team-a data (else \"only team-a\" is vacuous)", class)
		assert.Truef(t, control[class], "class %s: at least one case, sent to Prometheus directly, answers other namespaces' data", class)
	}
	t.Logf("%d cases in %d classes: %d answered with team-a data only, %d refused", len(corpus), len(tenancyClasses), accepted, refused)
}

// TestTenancyPromLabelProxy sends the same corpus through the real prom-label-proxy
// (-label namespace -label-value team-a -enable-label-apis -error-on-replace), the
// enforcer of OpenShift's tenancy port, and compares: ours never leaks, neither does
// prom-label-proxy, and every difference between the two is one of plpExplained.
func TestTenancyPromLabelProxy(t *testing.T) {
	t.Parallel()
	e := newTenancyEnv(t)
	plp := startLabelProxy(t, e.prom)
	corpus := tenancyCorpus(e.t0)
	var rows []string
	diffs := map[string]int{}
	for _, c := range corpus {
		// Ours, as the bypass table checks it.
		status, body := e.ours(t, c)
		ours := e.world.judge(c.api, status, body, c.own)
		assert.Emptyf(t, ours.leaks, "%s: ours answers team-a's data only", c.name)

		// prom-label-proxy, given the request (for our server-only routes, the inner one).
		path := c.api
		if c.path != "" {
			path = c.path
		}
		method, reqBody := c.method, c.body
		if c.via == viaUnsaved || c.via == viaUnsavedGlobal || c.via == viaUnsavedOuterGet {
			method = c.innerMethod()
		}
		pStatus, _, pBody := e.send(t, method, plp, path, c.query, reqBody, c.ctype)
		theirs := e.world.judge(c.api, pStatus, pBody, c.own)
		if isDataAPI(c.api) {
			assert.Emptyf(t, theirs.leaks, "%s: prom-label-proxy answers team-a's data only: %s", c.name, truncate(string(pBody), 300))
		}

		differs := ours.answered != theirs.answered || (ours.answered && !assert.ObjectsAreEqual(ours.data, theirs.data))
		mark := ""
		switch {
		case differs && c.plp == "":
			t.Errorf("%s: ours %s, prom-label-proxy %s: a difference not in plpExplained; explain it (ours %s | theirs %s)",
				c.name, ours, theirs, truncate(string(body), 200), truncate(string(pBody), 200))
			mark = "UNEXPLAINED"
		case !differs && c.plp != "":
			t.Errorf("%s: explained as %q but ours and prom-label-proxy agree (%s): drop the key", c.name, c.plp, ours)
			mark = "NO-DIFFERENCE"
		case differs:
			_, known := plpExplained[c.plp]
			require.Truef(t, known, "%s: unknown explanation key %q", c.name, c.plp)
			diffs[c.plp]++
			mark = c.plp
		}
		rows = append(rows, fmt.Sprintf("%-34s %-13s ours %-15s plp %-15s %s", c.name, c.class, ours, theirs, mark))
	}
	t.Logf("case                               class         ours                plp                 difference\n%s", strings.Join(rows, "\n"))
	keys := make([]string, 0, len(plpExplained))
	for k := range plpExplained {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		assert.Positivef(t, diffs[k], "explanation %q is used by no case: drop it", k)
		t.Logf("%-15s %2d cases: %s", k, diffs[k], plpExplained[k])
	}
}

// startLabelProxy starts build/tools/prom-label-proxy for team-a in front of upstream,
// stopped by PID when the test ends.
func startLabelProxy(t *testing.T, upstream string) string {
	t.Helper()
	bin := binaryFromEnv("PROM_LABEL_PROXY_BIN", filepath.Join(shared.repoRoot, "build", "tools", "prom-label-proxy"))
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s is missing: run `make tools`, or `go build -o build/tools/prom-label-proxy github.com/prometheus-community/prom-label-proxy`", bin)
	}
	port, err := freePort()
	require.NoError(t, err)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin, "-insecure-listen-address", addr, "-upstream", upstream,
		"-label", "namespace", "-label-value", tenancyProject, "-enable-label-apis", "-error-on-replace")
	logPath := filepath.Join(t.TempDir(), "prom-label-proxy.log")
	p, err := shared.spawn("prom-label-proxy", cmd, logPath)
	require.NoError(t, err)
	t.Cleanup(p.stop)
	base := "http://" + addr
	if err := p.waitHTTP(base+"/healthz", nil); err != nil {
		t.Fatalf("%v\n%s", err, tail(logPath, 20))
	}
	return base
}

// TestTenancyProjectDatasourceOnFirstQuery: a project's datasource exists for the first
// request that names the project, even when that request is a proxied query.
func TestTenancyProjectDatasourceOnFirstQuery(t *testing.T) {
	t.Parallel()
	api := newAPIClient(t)
	project := uniqueName(t, "tenancy-fresh")
	createProject(t, api, project)
	r := api.do(t, http.MethodGet, "/proxy/projects/"+project+"/datasources/"+projectDatasource+"/api/v1/query?query=up", nil)
	require.Equalf(t, http.StatusOK, r.Status, "the first query of a new project: %s", r)
	assert.Equal(t, "success", jsonField(r.Body, "status"))
	assert.Contains(t, string(r.Body), `"result":[]`, "namespace %s has no series", project)
}
