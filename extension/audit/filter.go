package audit

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/openshift-ai/observability/extension/identity"
	"github.com/perses/perses/pkg/extend"
	"github.com/sirupsen/logrus"
)

// Recorder writes one record per audited request.
type Recorder struct {
	writers   []Writer
	source    echo.IPExtractor
	apiPrefix string
	now       func() time.Time
	// OnWrite is told of every record written (nil: ok) and every failure.
	OnWrite func(err error)
}

// NewRecorder records to writers; source finds the source address.
func NewRecorder(apiPrefix string, source echo.IPExtractor, writers ...Writer) *Recorder {
	return &Recorder{writers: writers, source: source, apiPrefix: apiPrefix, now: time.Now}
}

// writeTimeout bounds writing one record to every writer.
const writeTimeout = 5 * time.Second

// Filter sets the request id on every answer and records the audited requests. It
// runs before routing, right after identity's filter, so that it also sees the 401s
// and 403s answered before routing (the access capability's project guard); when the
// request is routed, the route pattern is read after the handler returned.
func (rc *Recorder) Filter() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			rid := requestID(req.Header.Get(HeaderRequestID))
			c.Response().Header().Set(HeaderRequestID, rid)
			start := rc.now()
			err := next(c)
			path := strings.TrimPrefix(req.URL.Path, rc.apiPrefix)
			status := statusOf(c, err)
			if !audited(req.Method, path, status) {
				return err
			}
			t := targetOf(path)
			pattern := strings.TrimPrefix(c.Path(), rc.apiPrefix)
			if pattern == "" || (strings.HasSuffix(pattern, "*") && !strings.HasPrefix(path, "/proxy/")) {
				// Refused before routing, or fell to a catch-all route.
				pattern = t.pattern
			}
			r := Record{
				Time: start.UTC(), Groups: []string{}, Source: rc.source(req), RequestID: rid,
				Action: req.Method + " " + pattern, Kind: t.kind, Project: t.project, Name: t.name, Status: status,
			}
			if u, ok := identity.UserFrom(c.Request().Context()); ok {
				r.User, r.Groups = u.Name, append(r.Groups, u.Groups...)
			}
			rc.write(req.Context(), r)
			return err
		}
	}
}

// write gives r to every writer; a failure is logged and counted, never answered: the
// request has already been served.
func (rc *Recorder) write(ctx context.Context, r Record) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	for _, w := range rc.writers {
		err := w.Write(ctx, r)
		if err != nil {
			logrus.WithError(err).WithField("request_id", r.RequestID).Error("audit: a record could not be written")
		}
		if rc.OnWrite != nil {
			rc.OnWrite(err)
		}
	}
}

// statusOf is the status the request is answered with: the error's (as upstream's
// error handler will map it), or the one written.
func statusOf(c echo.Context, err error) int {
	if err == nil || c.Response().Committed {
		if c.Response().Status == 0 {
			return http.StatusOK
		}
		return c.Response().Status
	}
	var he *echo.HTTPError
	if errors.As(extend.HandleError(err), &he) {
		return he.Code
	}
	return http.StatusInternalServerError
}
