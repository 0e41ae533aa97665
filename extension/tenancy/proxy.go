package tenancy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/perses/perses/pkg/extend"
	v1 "github.com/perses/perses/pkg/model/api/v1"
	"github.com/perses/perses/pkg/model/api/v1/role"
	"github.com/sirupsen/logrus"
	"github.com/tidwall/gjson"
)

// PrometheusKind is the datasource plugin kind the proxy serves. Every other kind is
// refused: its queries cannot be confined to a namespace here.
const PrometheusKind = "PrometheusDatasource"

// Store is what the proxy reads of upstream's store.
type Store interface {
	Datasource(project, name string) (json.RawMessage, error)
	DashboardDatasource(project, dashboard, name string) (json.RawMessage, error)
	GlobalDatasource(name string) (json.RawMessage, error)
}

// ErrNotFound: the datasource (or its dashboard) does not exist.
var ErrNotFound = errors.New("not found")

// BypassFunc says whether the caller may query without confinement.
type BypassFunc func(c echo.Context) (bool, error)

// Proxy serves upstream's datasource proxy routes for Prometheus datasources, every
// query confined to the project in the path.
type Proxy struct {
	Enforcer  *Enforcer
	APIPrefix string
	MaxBody   int64
	Timeout   time.Duration
	Store     Store
	// Authz is upstream's authorization provider: the proxy asks it what upstream's own
	// proxy handler would ask.
	Authz extend.Authorization
	// Bypass decides the unconfined global routes; nil refuses them.
	Bypass BypassFunc
	// Credential is the server's own for the configured Prometheus.
	Credential *Credential
	Client     *http.Client
	Metrics    *Metrics
	// Provisioner gives projects their datasource (nil: none configured).
	Provisioner *Provisioner
	// Cache keeps datasource specs read from the store for a short time (nil: none).
	Cache *SpecCache
}

// NewTransport is the pooled transport of the proxy's own forwarding.
func NewTransport(timeout time.Duration) *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
		ForceAttemptHTTP2:     true,
	}
}

// target is a resolved Prometheus datasource.
type target struct {
	url     *url.URL
	headers map[string]string
	// secret: the datasource authenticates with a Perses secret; upstream's own handler,
	// which decrypts secrets, then forwards the (already confined) request.
	secret bool
}

// parseTarget reads a datasource spec (the spec of a datasource, or a dashboard's
// datasource entry): it must be a Prometheus datasource reached through the server.
func parseTarget(name string, spec json.RawMessage) (target, error) {
	kind := gjson.GetBytes(spec, "plugin.kind").String()
	if kind != PrometheusKind {
		return target{}, refuse(http.StatusForbidden, "kind", "datasource %q is a %q: only %s datasources are served here, because only their queries can be confined to the project", name, kind, PrometheusKind)
	}
	ps := gjson.GetBytes(spec, "plugin.spec")
	if ps.Get("directUrl").Exists() {
		return target{}, refuse(http.StatusForbidden, "kind", "datasource %q has a directUrl: browsers would query it without the server, unconfined; give it a proxy instead", name)
	}
	if k := ps.Get("proxy.kind").String(); k != "HTTPProxy" {
		return target{}, refuse(http.StatusBadGateway, "datasource", "datasource %q has no HTTPProxy (proxy.kind is %q)", name, k)
	}
	u, err := url.Parse(ps.Get("proxy.spec.url").String())
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return target{}, refuse(http.StatusBadGateway, "datasource", "datasource %q has no absolute http(s) proxy URL", name)
	}
	t := target{url: u, headers: map[string]string{}, secret: ps.Get("proxy.spec.secret").String() != ""}
	ps.Get("proxy.spec.headers").ForEach(func(k, v gjson.Result) bool {
		t.headers[k.String()] = v.String()
		return true
	})
	if eps := ps.Get("proxy.spec.allowedEndpoints"); eps.IsArray() && len(eps.Array()) > 0 {
		t.secret = true // upstream checks its allowed endpoints: let it forward
	}
	return t, nil
}

// unsavedBody is upstream's body of the unsaved routes: the datasource spec travels with
// the request it proxies.
type unsavedBody struct {
	Method string          `json:"method"`
	Body   []byte          `json:"body,omitempty"`
	Spec   json.RawMessage `json:"spec"`
}

// Middleware takes every /proxy request before upstream routes it.
func (p *Proxy) Middleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			rt, ok, err := ParseRoute(c.Request().URL.EscapedPath(), p.APIPrefix)
			if !ok {
				return next(c)
			}
			if err == nil {
				err = p.serve(c, rt, next)
			}
			var se *statusError
			if errors.As(err, &se) {
				p.Metrics.refused(rt.Datasource(), se.reason)
				return writeError(c, se)
			}
			return err
		}
	}
}

func (p *Proxy) serve(c echo.Context, rt Route, next echo.HandlerFunc) error {
	req := c.Request()
	if err := p.authorize(c, rt); err != nil {
		return err
	}
	bypass := false
	if rt.Kind == RouteGlobal {
		ok, err := p.bypassAllowed(c)
		if err != nil {
			return err
		}
		if !ok {
			return refuse(http.StatusForbidden, "global", "global datasources carry no project, so their queries cannot be confined to a namespace: query the project's datasource (/proxy/projects/<project>/datasources/<name>/…) instead; unconfined queries need the tenancy bypass permission")
		}
		bypass = true
	}
	a, err := apiOf(rt.API)
	if err != nil {
		return err
	}
	body, err := readBody(req, p.MaxBody)
	if err != nil {
		return err
	}
	method, contentType := req.Method, req.Header.Get(echo.HeaderContentType)
	var spec json.RawMessage
	var unsaved unsavedBody
	if rt.Unsaved {
		if req.Method != http.MethodPost {
			return refuse(http.StatusMethodNotAllowed, "method", "the unsaved datasource routes take POST only")
		}
		if err := json.Unmarshal(body, &unsaved); err != nil {
			return refuse(http.StatusBadRequest, "params", "the unsaved datasource body is not {method, body, spec}: %v", err)
		}
		spec, method, body = unsaved.Spec, unsaved.Method, unsaved.Body
		contentType = "application/x-www-form-urlencoded"
	} else if spec, err = p.lookup(rt); err != nil {
		return err
	}
	name := rt.Name
	if rt.Unsaved {
		name = "unsaved"
	}
	t, err := parsedTargets.parse(name, spec)
	if err != nil {
		return err
	}
	form, err := readParams(method, req.URL.RawQuery, contentType, body, a)
	if err != nil {
		return err
	}
	if bypass {
		p.Metrics.bypassed(rt.Datasource())
	} else {
		if form, err = p.Enforcer.enforceForm(a, form, rt.Project); err != nil {
			return err
		}
		p.Metrics.enforced(rt.Datasource())
	}
	out := outgoing{api: a, form: form}
	if t.secret {
		return p.delegate(c, rt, out, unsaved, next)
	}
	return p.forward(c, t, out)
}

// authorize asks upstream's authorization provider what upstream's proxy handler asks.
func (p *Proxy) authorize(c echo.Context, rt Route) error {
	if p.Authz == nil || !p.Authz.IsEnabled() {
		return nil
	}
	project, scope, action := rt.Project, role.DatasourceScope, role.ReadAction
	if rt.Kind == RouteGlobal {
		project, scope = v1.WildcardProject, role.GlobalDatasourceScope
	}
	if rt.Unsaved {
		action = role.CreateAction
	}
	if !p.Authz.HasPermission(c, action, project, scope) {
		return refuse(http.StatusForbidden, "forbidden", "missing %q permission on %s in project %q", action, scope, project)
	}
	return nil
}

func (p *Proxy) bypassAllowed(c echo.Context) (bool, error) {
	if p.Bypass == nil {
		return false, nil
	}
	ok, err := p.Bypass(c)
	if err != nil {
		return false, refuse(http.StatusServiceUnavailable, "unavailable", "cannot decide the tenancy bypass permission: %v", err)
	}
	return ok, nil
}

func (p *Proxy) lookup(rt Route) (json.RawMessage, error) {
	key := keyOf(rt)
	spec, gen, ok := p.Cache.get(key)
	if ok {
		return spec, nil
	}
	var err error
	switch rt.Kind {
	case RouteProject:
		spec, err = p.Store.Datasource(rt.Project, rt.Name)
	case RouteDashboard:
		spec, err = p.Store.DashboardDatasource(rt.Project, rt.Dashboard, rt.Name)
	default:
		spec, err = p.Store.GlobalDatasource(rt.Name)
	}
	if errors.Is(err, ErrNotFound) {
		return nil, refuse(http.StatusNotFound, "not_found", "datasource %q does not exist", rt.Name)
	}
	if err != nil {
		logrus.WithError(err).Errorf("tenancy: cannot read datasource %q", rt.Name)
		return nil, refuse(http.StatusServiceUnavailable, "unavailable", "the store cannot be read")
	}
	p.Cache.put(key, spec, gen)
	return spec, nil
}

func readBody(req *http.Request, limit int64) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(req.Body, limit+1))
	if err != nil {
		return nil, refuse(http.StatusBadRequest, "params", "cannot read the body: %v", err)
	}
	if int64(len(b)) > limit {
		return nil, refuse(http.StatusRequestEntityTooLarge, "too_large", "the body is larger than %d bytes (openshift_ai.tenancy.max_body_bytes)", limit)
	}
	return b, nil
}

// outgoing is the confined request: the canonical path and the checked parameters.
type outgoing struct {
	api  api
	form url.Values
}

// forward sends the confined request with a fresh set of headers (none of the caller's:
// not its Authorization, not its cookies) and streams the answer back.
func (p *Proxy) forward(c echo.Context, t target, out outgoing) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), p.Timeout)
	defer cancel()
	resp, err := p.Do(ctx, t, out, c)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	h := c.Response().Header()
	for _, k := range []string{"Content-Type", "Content-Encoding", "Content-Length", "Cache-Control", "Vary", "Date"} {
		if v := resp.Header.Values(k); len(v) > 0 {
			h[k] = v
		}
	}
	c.Response().WriteHeader(resp.StatusCode)
	buf := copyBuffers.Get().(*[]byte)
	_, err = io.CopyBuffer(c.Response(), resp.Body, *buf)
	copyBuffers.Put(buf)
	if err != nil {
		logrus.WithError(err).Debug("tenancy: the answer could not be copied whole")
	}
	return nil
}

// Do sends a confined request to a datasource. c, when not nil, is the caller's
// context, for the credential that forwards the caller's own token.
func (p *Proxy) Do(ctx context.Context, t target, out outgoing, c echo.Context) (*http.Response, error) {
	u := *t.url
	u.Path = strings.TrimSuffix(u.Path, "/") + out.api.path
	u.RawPath = ""
	var body io.Reader
	encoded := out.form.Encode()
	if out.api.method == http.MethodGet {
		u.RawQuery = encoded
	} else {
		u.RawQuery = ""
		body = strings.NewReader(encoded)
	}
	req, err := http.NewRequestWithContext(ctx, out.api.method, u.String(), body)
	if err != nil {
		return nil, refuse(http.StatusBadGateway, "datasource", "cannot build the request: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if c != nil {
		for _, k := range []string{"Accept", "Accept-Encoding"} {
			if v := c.Request().Header.Get(k); v != "" {
				req.Header.Set(k, v)
			}
		}
	}
	for k, v := range t.headers {
		if http.CanonicalHeaderKey(k) == "Authorization" || http.CanonicalHeaderKey(k) == "Cookie" {
			continue // credentials come from secrets or the server's own credential only
		}
		req.Header.Set(k, v)
	}
	req.Header.Set("User-Agent", "perses-openshift-ai")
	if err := p.Credential.apply(req, t.url, c); err != nil {
		logrus.WithError(err).Error("tenancy: the server's Prometheus credential cannot be read")
		return nil, refuse(http.StatusBadGateway, "credential", "the server's Prometheus credential cannot be read")
	}
	resp, err := p.Client.Do(req)
	if err != nil {
		status := http.StatusBadGateway
		if errors.Is(err, context.DeadlineExceeded) {
			status = http.StatusGatewayTimeout
		}
		logrus.WithError(err).Warnf("tenancy: %s unreachable", t.url.Redacted())
		return nil, refuse(status, "upstream", "the datasource did not answer: %s", strings.TrimPrefix(err.Error(), req.Method+" "))
	}
	return resp, nil
}

// delegate hands the confined request to upstream's own proxy handler, for datasources
// that authenticate with a Perses secret (which only upstream decrypts) or list allowed
// endpoints. The caller's Authorization and cookies are removed first.
func (p *Proxy) delegate(c echo.Context, rt Route, out outgoing, unsaved unsavedBody, next echo.HandlerFunc) error {
	req := c.Request()
	encoded := out.form.Encode()
	stripCaller(req.Header)
	prefix := strings.TrimSuffix(req.URL.Path, rt.API)
	req.URL.Path, req.URL.RawPath = prefix+out.api.path, ""
	method, body, query := out.api.method, []byte(encoded), ""
	if method == http.MethodGet || rt.Unsaved {
		// Upstream's unsaved handler replays the inner body under the outer request's
		// JSON content type, which Prometheus would not read as a form: send GET.
		method, body, query = http.MethodGet, nil, encoded
	}
	req.URL.RawQuery = query
	if rt.Unsaved {
		unsaved.Method, unsaved.Body = method, body
		raw, err := json.Marshal(unsaved)
		if err != nil {
			return err
		}
		body = raw
		req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	} else {
		req.Method = method
		req.Header.Set(echo.HeaderContentType, "application/x-www-form-urlencoded")
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return next(c)
}

// stripCaller removes what identifies the caller to the server, so that it never
// reaches a datasource.
func stripCaller(h http.Header) {
	for _, k := range []string{"Authorization", "Cookie", "Proxy-Authorization", "X-Forwarded-Access-Token", "X-Auth-Request-Access-Token"} {
		h.Del(k)
	}
}

// writeError answers in the Prometheus API's error shape, which the Prometheus plugin
// shows as the panel's error.
func writeError(c echo.Context, e *statusError) error {
	typ := "bad_data"
	switch {
	case e.status == http.StatusForbidden:
		typ = "forbidden"
	case e.status == http.StatusNotFound:
		typ = "not_found"
	case e.status >= 500:
		typ = "unavailable"
	}
	if e.status == http.StatusMethodNotAllowed {
		c.Response().Header().Set("Allow", "GET, POST")
	}
	// "error" is the Prometheus API's field, "message" upstream's (the UI's fetch shows it).
	return c.JSON(e.status, map[string]string{"status": "error", "errorType": typ, "error": e.msg, "message": e.msg})
}

// String describes a refusal for logs and tests.
func (e *statusError) String() string { return fmt.Sprintf("%d %s: %s", e.status, e.reason, e.msg) }
