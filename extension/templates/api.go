package templates

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"github.com/openshift-ai/observability/extension/identity"
	"github.com/perses/common/set"
	"github.com/perses/perses/pkg/extend"
	v1 "github.com/perses/perses/pkg/model/api/v1"
	"github.com/perses/perses/pkg/model/api/v1/role"
	"github.com/perses/spec/go/common"
)

// Routes (after the API prefix).
const (
	PathList        = "/api/v1/templates"
	PathGet         = "/api/v1/templates/:id"
	PathInstantiate = "/api/v1/projects/:project/templates/:id/instantiate"
	PathClone       = "/api/v1/projects/:project/dashboards/:name/clone"
)

const (
	// maxBody bounds the request bodies (a few names and values).
	maxBody = 64 << 10
	// maxDisplayName bounds a display name, as the quickstart's clone contract does.
	maxDisplayName = 128
	// TagPrefix marks a dashboard made from a template: "template:<id>".
	TagPrefix = "template:"
	// cloneAttempts bounds the names tried for a clone without a dashboard_name.
	cloneAttempts = 20
)

// Authorizer is what the API asks of upstream's authorization provider.
type Authorizer interface {
	IsEnabled() bool
	HasPermission(c echo.Context, action role.Action, project string, scope role.Scope) bool
}

// Dashboards is the store as the API uses it: reads, and creations through upstream's
// service (which validates the dashboard against the plugins' schemas).
type Dashboards interface {
	// Get returns the dashboard, or an error wrapping ErrNotFound.
	Get(project, name string) (*v1.Dashboard, error)
	// Create validates and stores d; a name in use is an error wrapping ErrExists.
	Create(c echo.Context, d *v1.Dashboard) (*v1.Dashboard, error)
}

// API serves the templates and the clone endpoint.
type API struct {
	prefix        string
	registry      *Registry
	authz         Authorizer
	dashboards    Dashboards
	caseSensitive bool
	// OnCreate, when set, is told of each dashboard made (source: a template id, or
	// "clone").
	OnCreate func(source string)
}

// NewAPI serves registry's templates; dashboards are created in dashboards.
// caseSensitive is the store's: names and projects are lower-cased otherwise, as
// upstream's own handlers do.
func NewAPI(apiPrefix string, registry *Registry, authz Authorizer, dashboards Dashboards, caseSensitive bool) *API {
	return &API{prefix: apiPrefix, registry: registry, authz: authz, dashboards: dashboards, caseSensitive: caseSensitive}
}

// RegisterRoute registers the endpoints (upstream's APIRegistration). The clone route
// sits under upstream's /projects/:project/dashboards/:name: the router prefers its
// static /clone suffix, and upstream has no POST there.
func (a *API) RegisterRoute(e *echo.Echo) {
	e.GET(a.prefix+PathList, a.list)
	e.GET(a.prefix+PathGet, a.get)
	e.POST(a.prefix+PathInstantiate, a.instantiate)
	e.POST(a.prefix+PathClone, a.clone)
}

func (a *API) String() string {
	return fmt.Sprintf("GET %[1]s%[2]s, GET %[1]s%[3]s, POST %[1]s%[4]s, POST %[1]s%[5]s", a.prefix, PathList, PathGet, PathInstantiate, PathClone)
}

func (a *API) list(c echo.Context) error {
	if err := a.authenticate(c); err != nil {
		return err
	}
	if err := noParameters(c); err != nil {
		return httpError(err)
	}
	out := make([]Summary, 0, len(a.registry.list))
	for _, t := range a.registry.list {
		out = append(out, t.Summary())
	}
	return c.JSON(http.StatusOK, out)
}

func (a *API) get(c echo.Context) error {
	if err := a.authenticate(c); err != nil {
		return err
	}
	if err := noParameters(c); err != nil {
		return httpError(err)
	}
	t, err := a.registry.Get(c.Param("id"))
	if err != nil {
		return httpError(err)
	}
	return c.JSON(http.StatusOK, t)
}

// InstantiateRequest is the body of POST …/templates/{id}/instantiate.
type InstantiateRequest struct {
	// DashboardName is the new dashboard's name (metadata.name).
	DashboardName string `json:"dashboard_name"`
	// DisplayName replaces the template's display name when set.
	DisplayName string `json:"display_name,omitempty"`
	// Variables are the template's variables, by name.
	Variables Values `json:"variables"`
}

// Values are variable values by name; each must be a JSON string.
type Values map[string]string

// UnmarshalJSON names the variable whose value is not a string.
func (v *Values) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("variables must be an object of strings: %w", err)
	}
	out := make(Values, len(raw))
	for name, value := range raw {
		var s string
		if err := json.Unmarshal(value, &s); err != nil {
			return fmt.Errorf("%w: variable %q: the value must be a string", ErrVariable, name)
		}
		out[name] = s
	}
	*v = out
	return nil
}

func (a *API) instantiate(c echo.Context) error {
	if err := a.authenticate(c); err != nil {
		return err
	}
	project := a.fold(c.Param("project"))
	if err := a.authorize(c, project, role.CreateAction); err != nil {
		return httpError(err)
	}
	t, err := a.registry.Get(c.Param("id"))
	if err != nil {
		return httpError(err)
	}
	var req InstantiateRequest
	if err := decodeBody(c, &req); err != nil {
		return httpError(err)
	}
	name, err := a.dashboardName(req.DashboardName, true)
	if err != nil {
		return httpError(err)
	}
	if err := checkDisplayName("display_name", req.DisplayName); err != nil {
		return httpError(err)
	}
	spec, err := t.Instantiate(req.Variables)
	if err != nil {
		return httpError(err)
	}
	if req.DisplayName != "" {
		spec.Display.Name = req.DisplayName
	}
	d := &v1.Dashboard{Kind: v1.KindDashboard, Metadata: *v1.NewProjectMetadata(project, name), Spec: spec}
	d.Metadata.Tags = set.New(TagPrefix + t.ID)
	created, err := a.dashboards.Create(c, d)
	if err != nil {
		return httpError(err)
	}
	a.created(t.ID)
	return c.JSON(http.StatusCreated, created)
}

// CloneRequest is the body of POST …/dashboards/{name}/clone; both fields are optional.
type CloneRequest struct {
	// Name is the copy's display name (default: the original's, with " (copy)").
	Name string `json:"name,omitempty"`
	// DashboardName is the copy's metadata.name (default: <name>-copy, or the first of
	// <name>-copy-2, -3, … not in use).
	DashboardName string `json:"dashboard_name,omitempty"`
}

func (a *API) clone(c echo.Context) error {
	if err := a.authenticate(c); err != nil {
		return err
	}
	project, source := a.fold(c.Param("project")), a.fold(c.Param("name"))
	if err := a.authorize(c, project, role.ReadAction); err != nil {
		return httpError(err)
	}
	if err := a.authorize(c, project, role.CreateAction); err != nil {
		return httpError(err)
	}
	var req CloneRequest
	if err := decodeBody(c, &req); err != nil {
		return httpError(err)
	}
	if err := checkDisplayName("name", req.Name); err != nil {
		return httpError(err)
	}
	var names []string
	if req.DashboardName != "" {
		name, err := a.dashboardName(req.DashboardName, false)
		if err != nil {
			return httpError(err)
		}
		names = []string{name}
	}
	original, err := a.dashboards.Get(project, source)
	if err != nil {
		return httpError(err)
	}
	if names == nil {
		names = copyNames(source)
	}
	display := req.Name
	if display == "" {
		display = source
		if original.Spec.Display != nil && original.Spec.Display.Name != "" {
			display = original.Spec.Display.Name
		}
		display = truncate(display+" (copy)", maxDisplayName)
	}
	for i, name := range names {
		d, err := copyOf(original, project, name, display)
		if err != nil {
			return httpError(err)
		}
		created, err := a.dashboards.Create(c, d)
		if errors.Is(err, ErrExists) && req.DashboardName == "" && i < len(names)-1 {
			continue
		}
		if err != nil {
			return httpError(err)
		}
		a.created("clone")
		return c.JSON(http.StatusCreated, created)
	}
	return httpError(fmt.Errorf("%w: no free name for a copy of %q", ErrExists, source))
}

// copyOf is a fresh dashboard with original's spec and tags (but auto-provisioning's).
func copyOf(original *v1.Dashboard, project, name, display string) (*v1.Dashboard, error) {
	data, err := json.Marshal(original.Spec)
	if err != nil {
		return nil, err
	}
	d := &v1.Dashboard{Kind: v1.KindDashboard, Metadata: *v1.NewProjectMetadata(project, name)}
	if err := json.Unmarshal(data, &d.Spec); err != nil {
		return nil, err
	}
	if d.Spec.Display == nil {
		d.Spec.Display = &common.Display{}
	}
	d.Spec.Display.Name = display
	// The copy is the user's: auto-provisioning's version and content tags stay behind.
	for tag := range original.Metadata.Tags {
		if strings.HasPrefix(tag, VersionTagPrefix) || strings.HasPrefix(tag, ContentTagPrefix) {
			continue
		}
		if d.Metadata.Tags == nil {
			d.Metadata.Tags = set.New[string]()
		}
		d.Metadata.Tags.Add(tag)
	}
	return d, nil
}

// copyNames are the names tried for a copy of source: source-copy, source-copy-2, …,
// each within the 75 characters of a Perses name.
func copyNames(source string) []string {
	out := make([]string, 0, cloneAttempts)
	for i := 1; i <= cloneAttempts; i++ {
		suffix := "-copy"
		if i > 1 {
			suffix = fmt.Sprintf("-copy-%d", i)
		}
		out = append(out, truncate(source, maxName-len(suffix))+suffix)
	}
	return out
}

// maxName is the longest Perses name (common.ValidateID).
const maxName = 75

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

func (a *API) created(source string) {
	if a.OnCreate != nil {
		a.OnCreate(source)
	}
}

// authenticate: with authorization on, the request must carry a user (401, or 503
// when the identity service cannot tell); with it off, as upstream, anyone.
func (a *API) authenticate(c echo.Context) error {
	if !a.authz.IsEnabled() {
		return nil
	}
	if _, err := identity.UserOf(c); err != nil {
		return identity.HTTPError(err)
	}
	return nil
}

// authorize asks upstream's provider (the access capability's SubjectAccessReviews, or
// development mode's yes) whether the user may act on dashboards in project.
func (a *API) authorize(c echo.Context, project string, action role.Action) error {
	if !a.authz.IsEnabled() || a.authz.HasPermission(c, action, project, role.DashboardScope) {
		return nil
	}
	who := "the caller"
	if u, err := identity.UserOf(c); err == nil {
		who = u.Name
	}
	return fmt.Errorf("%w: %s may not %s dashboards in project %q", ErrForbidden, who, action, project)
}

// fold lower-cases a name unless the store compares names as given (upstream does the
// same to its path parameters and metadata).
func (a *API) fold(s string) string {
	if a.caseSensitive {
		return s
	}
	return strings.ToLower(s)
}

// dashboardName checks a requested dashboard name (field dashboard_name).
func (a *API) dashboardName(name string, required bool) (string, error) {
	if name == "" {
		if required {
			return "", fmt.Errorf("%w: dashboard_name is required", ErrBadRequest)
		}
		return "", nil
	}
	if err := common.ValidateID(name); err != nil {
		return "", fmt.Errorf("%w: dashboard_name: %v", ErrBadRequest, err)
	}
	return a.fold(name), nil
}

func checkDisplayName(field, s string) error {
	switch {
	case utf8.RuneCountInString(s) > maxDisplayName:
		return fmt.Errorf("%w: %s is longer than %d characters", ErrBadRequest, field, maxDisplayName)
	case strings.TrimSpace(s) != s:
		return fmt.Errorf("%w: %s starts or ends with white space", ErrBadRequest, field)
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("%w: %s contains control characters", ErrBadRequest, field)
	}
	return nil
}

// noParameters refuses query parameters: the endpoints take none.
func noParameters(c echo.Context) error {
	for k := range c.QueryParams() {
		return fmt.Errorf("%w: unknown parameter %q (this endpoint takes none)", ErrBadRequest, k)
	}
	return nil
}

// decodeBody reads a JSON body of at most maxBody bytes into v; an unknown field,
// trailing data, or another content type is refused. An empty body is an empty object.
func decodeBody(c echo.Context, v any) error {
	if err := noParameters(c); err != nil {
		return err
	}
	r := c.Request()
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return fmt.Errorf("%w: cannot read the body: %v", ErrBadRequest, err)
	}
	if len(body) > maxBody {
		return fmt.Errorf("%w: the body is larger than %d bytes", ErrBadRequest, maxBody)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	} else if ct := r.Header.Get(echo.HeaderContentType); !strings.HasPrefix(ct, echo.MIMEApplicationJSON) {
		return fmt.Errorf("%w: the body must be application/json, not %q", errUnsupportedMedia, ct)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, ErrVariable) {
			return err
		}
		return fmt.Errorf("%w: the body: %v", ErrBadRequest, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: the body holds more than one JSON value", ErrBadRequest)
	}
	return nil
}

var errUnsupportedMedia = errors.New("unsupported media type")

// statusOf maps the package's errors to HTTP statuses: the one place they are mapped.
// Errors of upstream's service (schema validation 400, and the like) keep upstream's.
func statusOf(err error) (int, bool) {
	switch {
	case errors.Is(err, ErrUnknownTemplate), errors.Is(err, ErrNotFound):
		return http.StatusNotFound, true
	case errors.Is(err, ErrVariable), errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest, true
	case errors.Is(err, errUnsupportedMedia):
		return http.StatusUnsupportedMediaType, true
	case errors.Is(err, ErrExists):
		return http.StatusConflict, true
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden, true
	case errors.Is(err, ErrInvalidTemplate):
		return http.StatusInternalServerError, true
	}
	return 0, false
}

func httpError(err error) error {
	if status, ok := statusOf(err); ok {
		return echo.NewHTTPError(status, err.Error())
	}
	return extend.HandleError(err)
}
