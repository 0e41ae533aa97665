package tenancy

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Route kinds: upstream's datasource proxy routes (internal/api/impl/proxy), each with
// an unsaved variant whose datasource spec travels in the request body.
const (
	RouteProject   = "project"   // /proxy/projects/{project}/datasources/{name}/…
	RouteDashboard = "dashboard" // /proxy/projects/{project}/dashboards/{dashboard}/datasources/{name}/…
	RouteGlobal    = "global"    // /proxy/globaldatasources/{name}/…
)

// Route is a datasource proxy request, read from its raw path.
type Route struct {
	Kind      string
	Unsaved   bool
	Project   string // empty for RouteGlobal
	Dashboard string // RouteDashboard only
	Name      string // empty when Unsaved
	// API is the Prometheus API path asked for, e.g. /api/v1/query (checked by apiOf).
	API string
}

// Datasource is how the counters name the datasource: route kind and datasource name,
// without the project (bounded cardinality).
func (r Route) Datasource() string {
	if r.Unsaved {
		return r.Kind + "/unsaved"
	}
	return r.Kind + "/" + r.Name
}

// statusError is a refusal with its status; its message is what the caller reads.
type statusError struct {
	status int
	reason string // counter label
	msg    string
}

func (e *statusError) Error() string { return e.msg }

func refuse(status int, reason, format string, args ...any) *statusError {
	return &statusError{status: status, reason: reason, msg: fmt.Sprintf(format, args...)}
}

// ParseRoute reads a request path below the API prefix. ok is false when the path is
// not under /proxy at all.
func ParseRoute(escapedPath, apiPrefix string) (r Route, ok bool, err error) {
	p := strings.TrimPrefix(escapedPath, apiPrefix)
	if p != "/proxy" && !strings.HasPrefix(p, "/proxy/") {
		return r, false, nil
	}
	segs := strings.Split(strings.TrimPrefix(p, "/proxy"), "/")[1:] // leading "" dropped
	name := func(i int, what string) (string, error) {
		if i >= len(segs) {
			return "", refuse(http.StatusNotFound, "route", "no %s in the proxy path", what)
		}
		v, err := url.PathUnescape(segs[i])
		if err != nil || v == "" || strings.ContainsAny(v, "/\\") || v == "." || v == ".." {
			return "", refuse(http.StatusBadRequest, "route", "the %s %q in the proxy path is not a name", what, segs[i])
		}
		return v, nil
	}
	rest := func(i int) string { return "/" + strings.Join(segs[min(i, len(segs)):], "/") }
	if len(segs) > 0 && segs[0] == "unsaved" {
		r.Unsaved = true
		segs = segs[1:]
	}
	switch {
	case len(segs) >= 1 && segs[0] == "globaldatasources":
		r.Kind = RouteGlobal
		if r.Unsaved {
			r.API = rest(1)
			return r, true, nil
		}
		if r.Name, err = name(1, "datasource"); err != nil {
			return r, true, err
		}
		r.API = rest(2)
	case len(segs) >= 3 && segs[0] == "projects" && segs[2] == "datasources":
		r.Kind = RouteProject
		if r.Project, err = name(1, "project"); err != nil {
			return r, true, err
		}
		if r.Unsaved {
			r.API = rest(3)
			return r, true, nil
		}
		if r.Name, err = name(3, "datasource"); err != nil {
			return r, true, err
		}
		r.API = rest(4)
	case len(segs) >= 5 && segs[0] == "projects" && segs[2] == "dashboards" && segs[4] == "datasources":
		r.Kind = RouteDashboard
		if r.Project, err = name(1, "project"); err != nil {
			return r, true, err
		}
		if r.Dashboard, err = name(3, "dashboard"); err != nil {
			return r, true, err
		}
		if r.Unsaved {
			r.API = rest(5)
			return r, true, nil
		}
		if r.Name, err = name(5, "datasource"); err != nil {
			return r, true, err
		}
		r.API = rest(6)
	default:
		return r, true, refuse(http.StatusNotFound, "route", "%s is not a datasource proxy route", p)
	}
	return r, true, nil
}

// Prometheus HTTP API paths that may be proxied, and the parameters each accepts.
// Single-valued parameters may appear once; match[] any number of times.
var (
	queryParams  = []string{"query", "time", "timeout", "limit", "lookback_delta", "stats"}
	rangeParams  = []string{"query", "start", "end", "step", "timeout", "limit", "lookback_delta", "stats"}
	seriesParams = []string{"match[]", "start", "end", "limit"}
	exemplarsPar = []string{"query", "start", "end"}
	// Thanos Querier's read options: they choose replicas and resolutions, never series.
	thanosParams = []string{"dedup", "partial_response", "max_source_resolution", "engine"}
)

// api is one allowed Prometheus endpoint.
type api struct {
	path   string // canonical, e.g. /api/v1/label/job/values
	params []string
	// method is how it is forwarded: POST (form body) where Prometheus takes it, GET
	// for label values, which Prometheus serves on GET only.
	method string
	// query: the endpoint takes a PromQL expression (query), else match[] selectors.
	query bool
}

// apiOf checks the Prometheus API path of a route. Encoded characters, empty or dot
// segments are refused rather than cleaned (a trailing slash never arrives: upstream's
// RemoveTrailingSlash runs first): what is checked is
// exactly what is forwarded.
func apiOf(path string) (api, error) {
	if strings.ContainsAny(path, "%\\") {
		return api{}, refuse(http.StatusBadRequest, "path", "the Prometheus API path %q has encoded or escaped characters: write it plainly", path)
	}
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for _, s := range segs {
		if path != "/" && (s == "" || s == "." || s == "..") {
			return api{}, refuse(http.StatusBadRequest, "path", "the Prometheus API path %q has an empty or dot segment", path)
		}
	}
	switch {
	case path == "/api/v1/query":
		return api{path: path, params: queryParams, method: http.MethodPost, query: true}, nil
	case path == "/api/v1/query_range":
		return api{path: path, params: rangeParams, method: http.MethodPost, query: true}, nil
	case path == "/api/v1/parse_query":
		// The query editor's tree view: no data, but parsed as confined, so the tree
		// shows what runs.
		return api{path: path, params: []string{"query"}, method: http.MethodPost, query: true}, nil
	case path == "/api/v1/query_exemplars":
		return api{path: path, params: exemplarsPar, method: http.MethodPost, query: true}, nil
	case path == "/api/v1/series", path == "/api/v1/labels":
		return api{path: path, params: seriesParams, method: http.MethodPost}, nil
	case len(segs) == 5 && segs[0] == "api" && segs[1] == "v1" && segs[2] == "label" && segs[4] == "values" && labelNameRE.MatchString(segs[3]):
		return api{path: path, params: seriesParams, method: http.MethodGet}, nil
	}
	return api{}, refuse(http.StatusForbidden, "path", "the Prometheus API path %q is not allowed: only /api/v1/query, query_range, series, labels, label/<name>/values, query_exemplars and parse_query are proxied", path)
}
