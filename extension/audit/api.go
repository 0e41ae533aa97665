package audit

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/openshift-ai/observability/extension/identity"
)

// Path is the records' endpoint (after the API prefix).
const Path = "/api/v1/audit"

// AdminFunc decides whether u may read the records: (false, nil) is a refusal, an
// error is a decision that could not be made.
type AdminFunc func(c echo.Context, u *identity.User) (bool, error)

// API serves GET /api/v1/audit.
type API struct {
	path    string
	enabled bool
	reader  Reader // nil: the records cannot be read back
	admin   AdminFunc
}

// NewAPI serves the records of reader to the users admin allows; disabled answers 404.
func NewAPI(apiPrefix string, enabled bool, reader Reader, admin AdminFunc) *API {
	return &API{path: apiPrefix + Path, enabled: enabled, reader: reader, admin: admin}
}

// RegisterRoute registers the endpoint (upstream's APIRegistration).
func (a *API) RegisterRoute(e *echo.Echo) { e.GET(a.path, a.serve) }

func (a *API) String() string { return "GET " + a.path }

func (a *API) serve(c echo.Context) error {
	if err := a.authorize(c); err != nil {
		return err
	}
	q, err := ParseQuery(c.QueryParams())
	if err != nil {
		return httpError(err)
	}
	if a.reader == nil {
		return httpError(ErrNotReadable)
	}
	page, err := a.reader.Read(c.Request().Context(), q)
	if err != nil {
		return httpError(err)
	}
	return c.JSON(http.StatusOK, page)
}

// authorize: 404 when audit is off, 401 without a user, 403 unless an administrator.
func (a *API) authorize(c echo.Context) error {
	if !a.enabled {
		return httpError(ErrDisabled)
	}
	u, err := identity.UserOf(c)
	if err != nil {
		return identity.HTTPError(err)
	}
	if a.admin == nil {
		return httpError(ErrForbidden)
	}
	ok, err := a.admin(c, u)
	if err != nil {
		return httpError(fmt.Errorf("%w: %v", ErrUnavailable, err))
	}
	if !ok {
		return httpError(ErrForbidden)
	}
	return nil
}

func httpError(err error) error {
	return echo.NewHTTPError(StatusOf(err), err.Error())
}

// ParseQuery reads the endpoint's parameters; an unknown or repeated one is refused.
func ParseQuery(v url.Values) (Query, error) {
	q := Query{Limit: DefaultLimit}
	for k, vals := range v {
		if len(vals) != 1 {
			return q, fmt.Errorf("%w: %s given %d times", ErrBadQuery, k, len(vals))
		}
		val := vals[0]
		var err error
		switch k {
		case "project":
			q.Project = val
		case "user":
			q.User = val
		case "action":
			q.Action = val
		case "since":
			q.Since, err = parseTime(k, val)
		case "until":
			q.Until, err = parseTime(k, val)
		case "continue":
			q.Continue = val
		case "limit":
			n, convErr := strconv.Atoi(val)
			if convErr != nil || n < 1 || n > MaxLimit {
				err = fmt.Errorf("%w: limit %q, want 1 to %d", ErrBadQuery, val, MaxLimit)
			}
			q.Limit = n
		default:
			err = fmt.Errorf("%w: unknown parameter %q (project, user, action, since, until, limit, continue)", ErrBadQuery, k)
		}
		if err != nil {
			return q, err
		}
	}
	return q, nil
}

func parseTime(key, val string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, val)
	if err != nil {
		return t, fmt.Errorf("%w: %s %q is not an RFC 3339 time", ErrBadQuery, key, val)
	}
	return t, nil
}
