package tenancy

import (
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRoute(t *testing.T) {
	cases := []struct {
		path   string
		want   Route
		ok     bool
		status int // 0: no error
	}{
		{"/api/v1/projects/x", Route{}, false, 0},
		{"/proxy/projects/team-a/datasources/prom/api/v1/query", Route{Kind: RouteProject, Project: "team-a", Name: "prom", API: "/api/v1/query"}, true, 0},
		{"/proxy/projects/team-a/dashboards/d/datasources/local/api/v1/series", Route{Kind: RouteDashboard, Project: "team-a", Dashboard: "d", Name: "local", API: "/api/v1/series"}, true, 0},
		{"/proxy/globaldatasources/prom/api/v1/query", Route{Kind: RouteGlobal, Name: "prom", API: "/api/v1/query"}, true, 0},
		{"/proxy/unsaved/projects/team-a/datasources/api/v1/query", Route{Kind: RouteProject, Unsaved: true, Project: "team-a", API: "/api/v1/query"}, true, 0},
		{"/proxy/unsaved/projects/team-a/dashboards/d/datasources/api/v1/query", Route{Kind: RouteDashboard, Unsaved: true, Project: "team-a", Dashboard: "d", API: "/api/v1/query"}, true, 0},
		{"/proxy/unsaved/globaldatasources/api/v1/query", Route{Kind: RouteGlobal, Unsaved: true, API: "/api/v1/query"}, true, 0},
		{"/proxy/projects/team-a/datasources/prom", Route{Kind: RouteProject, Project: "team-a", Name: "prom", API: "/"}, true, 0},
		{"/proxy/projects/team-a%2Fx/datasources/prom/api/v1/query", Route{}, true, http.StatusBadRequest},
		{"/proxy/projects/../datasources/prom/api/v1/query", Route{}, true, http.StatusBadRequest},
		{"/proxy/somewhere/else", Route{}, true, http.StatusNotFound},
		{"/proxy", Route{}, true, http.StatusNotFound},
	}
	for _, c := range cases {
		got, ok, err := ParseRoute(c.path, "")
		assert.Equal(t, c.ok, ok, c.path)
		if c.status != 0 {
			var se *statusError
			require.True(t, errors.As(err, &se), "%s: %v", c.path, err)
			assert.Equal(t, c.status, se.status, c.path)
			continue
		}
		require.NoError(t, err, c.path)
		if ok {
			assert.Equal(t, c.want, got, c.path)
		}
	}
}

func TestAPIOf(t *testing.T) {
	allowed := []string{"/api/v1/query", "/api/v1/query_range", "/api/v1/series", "/api/v1/labels", "/api/v1/label/job/values", "/api/v1/label/__name__/values", "/api/v1/query_exemplars"}
	for _, p := range allowed {
		_, err := apiOf(p)
		assert.NoError(t, err, p)
	}
	refused := map[string]int{
		"/":                                http.StatusForbidden,
		"/api/v1/status/config":            http.StatusForbidden,
		"/api/v1/admin/tsdb/delete_series": http.StatusForbidden,
		"/api/v1/query/":                   http.StatusBadRequest,
		"//api/v1/query":                   http.StatusBadRequest,
		"/api/v1/./query":                  http.StatusBadRequest,
		"/api/v1/../v1/query":              http.StatusBadRequest,
		"/api/v1/%71uery":                  http.StatusBadRequest,
		"/api%2Fv1/query":                  http.StatusBadRequest,
		"/api/v1/label/a-b/values":         http.StatusForbidden,
		"/api/v1/label/job/values/x":       http.StatusForbidden,
		"/federate":                        http.StatusForbidden,
		"/api/v1/write":                    http.StatusForbidden,
		"/api/v1/metadata":                 http.StatusForbidden,
	}
	for p, status := range refused {
		_, err := apiOf(p)
		var se *statusError
		require.True(t, errors.As(err, &se), p)
		assert.Equal(t, status, se.status, p)
	}
}

func TestReadParams(t *testing.T) {
	q, _ := apiOf("/api/v1/query")
	s, _ := apiOf("/api/v1/series")
	form := "application/x-www-form-urlencoded"
	cases := []struct {
		name, method, raw, ctype, body string
		a                              api
		status                         int
		want                           url.Values
	}{
		{"get", "GET", "query=up&time=1", "", "", q, 0, url.Values{"query": {"up"}, "time": {"1"}}},
		{"post body", "POST", "", form, "query=up", q, 0, url.Values{"query": {"up"}}},
		{"post split", "POST", "time=1", form, "query=up", q, 0, url.Values{"query": {"up"}, "time": {"1"}}},
		{"thanos", "GET", "query=up&dedup=true", "", "", q, 0, url.Values{"query": {"up"}, "dedup": {"true"}}},
		{"match repeated", "GET", "match[]=up&match[]=x", "", "", s, 0, url.Values{"match[]": {"up", "x"}}},
		{"both", "POST", "query=up", form, "query=x", q, http.StatusBadRequest, nil},
		{"duplicate", "GET", "query=up&query=x", "", "", q, http.StatusBadRequest, nil},
		{"duplicate in body", "POST", "", form, "query=up&query=x", q, http.StatusBadRequest, nil},
		{"unknown", "GET", "query=up&foo=1", "", "", q, http.StatusBadRequest, nil},
		{"semicolon", "GET", "query=up;x", "", "", q, http.StatusBadRequest, nil},
		{"bad escape", "GET", "query=%zz", "", "", q, http.StatusBadRequest, nil},
		{"json body", "POST", "", "application/json", `{"query":"up"}`, q, http.StatusBadRequest, nil},
		{"get body", "GET", "", form, "query=up", q, http.StatusBadRequest, nil},
		{"put", "PUT", "query=up", "", "", q, http.StatusMethodNotAllowed, nil},
		{"delete", "DELETE", "", "", "", s, http.StatusMethodNotAllowed, nil},
	}
	for _, c := range cases {
		got, err := readParams(c.method, c.raw, c.ctype, []byte(c.body), c.a)
		if c.status != 0 {
			var se *statusError
			require.True(t, errors.As(err, &se), "%s: %v", c.name, err)
			assert.Equal(t, c.status, se.status, c.name)
			assert.NotEmpty(t, se.msg, c.name)
			continue
		}
		require.NoError(t, err, c.name)
		assert.Equal(t, c.want, got, c.name)
	}
}

func TestEnforceForm(t *testing.T) {
	e, err := New(DefaultConfig())
	require.NoError(t, err)
	q, _ := apiOf("/api/v1/query")
	s, _ := apiOf("/api/v1/series")
	out, err := e.enforceForm(q, url.Values{"query": {"sum(up)"}, "time": {"1"}}, "team-a")
	require.NoError(t, err)
	assert.Equal(t, `sum(up{namespace="team-a"})`, out.Get("query"))
	assert.Equal(t, "1", out.Get("time"))

	out, err = e.enforceForm(s, url.Values{}, "team-a")
	require.NoError(t, err)
	assert.NotEmpty(t, out["match[]"], "match[] is added when absent")

	for in, status := range map[string]int{
		"":                       http.StatusBadRequest,
		"up{":                    http.StatusBadRequest,
		`up{namespace="team-b"}`: http.StatusForbidden,
		`{__name__=~".+"}`:       http.StatusForbidden,
	} {
		_, err := e.enforceForm(q, url.Values{"query": {in}}, "team-a")
		var se *statusError
		require.True(t, errors.As(err, &se), in)
		assert.Equal(t, status, se.status, in)
	}
}

func TestParseTarget(t *testing.T) {
	ok := `{"default":true,"plugin":{"kind":"PrometheusDatasource","spec":{"proxy":{"kind":"HTTPProxy","spec":{"url":"http://127.0.0.1:9090/prefix","headers":{"X-Scope":"a","Authorization":"Bearer x"}}}}}}`
	tg, err := parseTarget("p", []byte(ok))
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:9090/prefix", tg.url.String())
	assert.False(t, tg.secret)
	withSecret := `{"plugin":{"kind":"PrometheusDatasource","spec":{"proxy":{"kind":"HTTPProxy","spec":{"url":"http://a:1","secret":"s"}}}}}`
	tg, err = parseTarget("p", []byte(withSecret))
	require.NoError(t, err)
	assert.True(t, tg.secret)
	for name, spec := range map[string]string{
		"tempo":  `{"plugin":{"kind":"TempoDatasource","spec":{"proxy":{"kind":"HTTPProxy","spec":{"url":"http://a:1"}}}}}`,
		"sql":    `{"plugin":{"kind":"SQLDatasource","spec":{"proxy":{"kind":"SQLProxy","spec":{}}}}}`,
		"direct": `{"plugin":{"kind":"PrometheusDatasource","spec":{"directUrl":"http://a:1"}}}`,
		"nourl":  `{"plugin":{"kind":"PrometheusDatasource","spec":{"proxy":{"kind":"HTTPProxy","spec":{"url":"ftp://x"}}}}}`,
	} {
		_, err := parseTarget(name, []byte(spec))
		assert.Error(t, err, name)
	}
}

func TestOriginOf(t *testing.T) {
	for in, want := range map[string]string{
		"http://Prom:9090/x":      "http://prom:9090",
		"https://thanos.example/": "https://thanos.example:443",
		"http://127.0.0.1":        "http://127.0.0.1:80",
	} {
		u, err := url.Parse(in)
		require.NoError(t, err)
		assert.Equal(t, want, OriginOf(u), in)
	}
}
