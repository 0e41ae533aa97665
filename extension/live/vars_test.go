package live

import (
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSubstitute(t *testing.T) {
	vars := map[string][]string{
		"ns":    {"team-a"},
		"model": {"m1", "m2"},
		"job":   {"vllm.x"},
	}
	builtins := Builtins(time.Hour, 15*time.Second, 0)
	for _, c := range []struct{ in, want string }{
		{`up{namespace="$ns"}`, `up{namespace="team-a"}`},
		{`up{namespace="${ns}"}`, `up{namespace="team-a"}`},
		{`up{namespace="${ns:raw}"}`, `up{namespace="team-a"}`},
		{`up{model=~"$model"}`, `up{model=~"(m1|m2)"}`},
		{`up{model=~"${model:pipe}"}`, `up{model=~"m1|m2"}`},
		{`up{model=~"${model:csv}"}`, `up{model=~"m1,m2"}`},
		{`up{job=~"${job:regex}"}`, `up{job=~"(vllm\.x)"}`},
		{`up{model="${model:doublequote}"}`, `up{model=""m1","m2""}`},
		{`rate(x[$__rate_interval])`, `rate(x[1m])`},
		{`rate(x[$__interval])`, `rate(x[15s])`},
		{`x / $__interval_ms`, `x / 15000`},
		{`increase(x[$__range])`, `increase(x[1h])`},
		{`x * $__range_s + $__range_ms`, `x * 3600 + 3600000`},
		{`rate(x[${__interval}])`, `rate(x[15s])`},
		// Unknown references stay (Prometheus then says what is wrong); a regex anchor
		// before a quote is no reference.
		{`up{a="$unknown"}`, `up{a="$unknown"}`},
		{`up{a=~"x$"}`, `up{a=~"x$"}`},
		{`$ns$ns`, `team-ateam-a`},
		// Built-ins win over a variable of the same name (such names are refused in
		// requests, but a dashboard's defaults could carry one).
		{`$__range`, `1h`},
	} {
		t.Run(c.in, func(t *testing.T) {
			assert.Equal(t, c.want, Substitute(c.in, vars, builtins))
		})
	}
}

func TestBuiltins(t *testing.T) {
	b := Builtins(24*time.Hour, Step(24*time.Hour, 0), 30*time.Second)
	assert.Equal(t, map[string]string{
		"__interval":      "5m46s",
		"__interval_ms":   "346000",
		"__rate_interval": "6m16s", // max(346 s + 30 s, 4 × 30 s)
		"__range":         "1d",
		"__range_s":       "86400",
		"__range_ms":      "86400000",
	}, b)
	// A small interval: 4 × minStep wins.
	assert.Equal(t, "1m", Builtins(time.Hour, 15*time.Second, 0)["__rate_interval"])
}

func TestStep(t *testing.T) {
	for _, c := range []struct {
		rng, minStep, want time.Duration
	}{
		{time.Hour, 0, 15 * time.Second},                            // 14.4 s → 15 s, the default minStep
		{time.Hour, 5 * time.Second, 15 * time.Second},              // 14.4 s rounded up
		{24 * time.Hour, 0, 346 * time.Second},                      // 345.6 s rounded up
		{5 * time.Minute, time.Second, 2 * time.Second},             // 1.2 s rounded up
		{5 * time.Minute, 0, 15 * time.Second},                      // minStep wins
		{5 * time.Minute, 1500 * time.Millisecond, 2 * time.Second}, // whole seconds
		{10 * time.Second, time.Millisecond, time.Second},           // at least 1 s
		{7 * 24 * time.Hour, time.Minute, 2420 * time.Second},       // 2419.2 s rounded up
	} {
		assert.Equal(t, c.want, Step(c.rng, c.minStep), "range %s, minStep %s", c.rng, c.minStep)
	}
}

func TestParseParams(t *testing.T) {
	ok := []struct {
		query string
		want  Params
	}{
		{"", Params{Vars: map[string][]string{}}},
		{"refresh=15s&range=30m", Params{Vars: map[string][]string{}, Refresh: 15 * time.Second, Range: 30 * time.Minute}},
		{"refresh=5s", Params{Vars: map[string][]string{}, Refresh: 5 * time.Second}},
		{"var-ns=team-a&var-model=m1&var-model=m2", Params{Vars: map[string][]string{"ns": {"team-a"}, "model": {"m1", "m2"}}}},
		{"var-x=a%20b.c%2Fd%3D%28%29%7C%5B%5D", Params{Vars: map[string][]string{"x": {"a b.c/d=()|[]"}}}},
		{"range=1d", Params{Vars: map[string][]string{}, Range: 24 * time.Hour}},
	}
	for _, c := range ok {
		t.Run(c.query, func(t *testing.T) {
			q, err := url.ParseQuery(c.query)
			require.NoError(t, err)
			got, err := ParseParams(q, 5*time.Second)
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}
	refused := []struct{ query, says string }{
		{"var-ns=" + url.QueryEscape(`a"} or up{x="`), `variable "ns"`},
		{"var-ns=" + url.QueryEscape(`a\`), `variable "ns"`},
		{"var-ns=" + url.QueryEscape("a\nb"), `variable "ns"`},
		{"var-ns=" + url.QueryEscape("a{"), `variable "ns"`},
		{"var-ns=" + url.QueryEscape("a}"), `variable "ns"`},
		{"var-ns=" + url.QueryEscape("a'"), `variable "ns"`},
		{"var-ns=" + url.QueryEscape("a`"), `variable "ns"`},
		{"var-ok=x&var-pod=" + url.QueryEscape(`p"`), `variable "pod"`},
		{"refresh=2s", "below the minimum interval 5s"},
		{"refresh=0s", "not a positive duration"},
		{"refresh=soon", "not a positive duration"},
		{"refresh=5s&refresh=10s", "refresh given 2 times"},
		{"range=-1h", "not a positive duration"},
		{"from=now-1h", `unknown parameter "from"`},
		{"var-a.b=x", `"a.b" is not a variable name`},
		{"var-=x", `"" is not a variable name`},
		{"var-__interval=1m", "built-ins"},
	}
	for _, c := range refused {
		t.Run(c.query, func(t *testing.T) {
			q, err := url.ParseQuery(c.query)
			require.NoError(t, err)
			_, err = ParseParams(q, 5*time.Second)
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrBadRequest), "%v", err)
			assert.Contains(t, err.Error(), c.says)
		})
	}
}

func TestCanonical(t *testing.T) {
	a := Canonical(map[string][]string{"b": {"2"}, "a": {"1", "x"}})
	b := Canonical(map[string][]string{"a": {"1", "x"}, "b": {"2"}})
	assert.Equal(t, a, b)
	assert.NotEqual(t, a, Canonical(map[string][]string{"a": {"x", "1"}, "b": {"2"}}))
	assert.Equal(t, "", Canonical(nil))
}

func TestParseDashboard(t *testing.T) {
	raw := []byte(`{"kind":"Dashboard","metadata":{"name":"d","project":"team-a","version":3,"updatedAt":"2026-01-02T03:04:05.123Z"},
"spec":{"duration":"30m","refreshInterval":"10s",
 "variables":[
  {"kind":"ListVariable","spec":{"name":"model","defaultValue":["m1","m2"]}},
  {"kind":"ListVariable","spec":{"name":"pod","defaultValue":"p1"}},
  {"kind":"TextVariable","spec":{"name":"text","value":"hello"}},
  {"kind":"ListVariable","spec":{"name":"none"}}],
 "panels":{
  "z":{"kind":"Panel","spec":{"plugin":{"kind":"Markdown","spec":{}}}},
  "a":{"kind":"Panel","spec":{"queries":[
   {"kind":"TimeSeriesQuery","spec":{"plugin":{"kind":"PrometheusTimeSeriesQuery","spec":{"query":"up","datasource":{"kind":"PrometheusDatasource","name":"prom"},"minStep":"30s"}}}},
   {"kind":"TimeSeriesQuery","spec":{"plugin":{"kind":"TempoTraceQuery","spec":{"query":"{}"}}}}]}}}}}`)
	d, err := ParseDashboard(raw)
	require.NoError(t, err)
	assert.Equal(t, &Dashboard{
		Project: "team-a", Name: "d", Version: 3,
		UpdatedAt:       time.Date(2026, 1, 2, 3, 4, 5, 123e6, time.UTC),
		RefreshInterval: 10 * time.Second, Duration: 30 * time.Minute,
		Panels: []Panel{
			{Key: "a", Queries: []Query{
				{Kind: PrometheusQueryKind, Expr: "up", Datasource: "prom", MinStep: 30 * time.Second},
				{Kind: "TempoTraceQuery", Expr: "{}"},
			}},
			{Key: "z"},
		},
		Defaults: map[string][]string{"model": {"m1", "m2"}, "pod": {"p1"}, "text": {"hello"}},
	}, d)

	_, err = ParseDashboard([]byte(`{"spec":{"refreshInterval":"soon"}}`))
	assert.ErrorContains(t, err, "spec.refreshInterval")
	_, err = ParseDashboard([]byte(`not json`))
	assert.Error(t, err)
}
