// Package audit records who changed or was refused what: every mutation of a resource
// under /api (POST, PUT, PATCH, DELETE), every 401 and 403, and the browser login and
// logout routes, one record each, as JSON lines (standard output or a file) and, when
// PostgreSQL is the store, in its perses_audit table. Administrators (a cluster-wide
// SubjectAccessReview, the developer in development mode) read the records at
// GET /api/v1/audit with filters and paging. Bodies, query strings and headers other
// than X-Request-Id are never recorded, so no secret reaches the records.
package audit

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Record is one audited request.
type Record struct {
	Time      time.Time `json:"time"`
	User      string    `json:"user"`
	Groups    []string  `json:"groups"`
	Source    string    `json:"source"`
	RequestID string    `json:"request_id"`
	// Action is the method and the route pattern, e.g.
	// "DELETE /api/v1/projects/:project/dashboards/:name".
	Action  string `json:"action"`
	Kind    string `json:"kind"`
	Project string `json:"project"`
	Name    string `json:"name"`
	// Status is the HTTP status answered.
	Status int `json:"status"`
}

// Query selects records; empty fields select everything.
type Query struct {
	Project, User string
	// Action matches a whole action or only its method ("DELETE").
	Action       string
	Since, Until time.Time
	Limit        int
	// Continue is the opaque token of the previous page.
	Continue string
}

// Page is one page of records, newest first; Continue is empty on the last page.
type Page struct {
	Items    []Record `json:"items"`
	Continue string   `json:"continue,omitempty"`
}

// Writer keeps records.
type Writer interface {
	Write(ctx context.Context, r Record) error
}

// Reader reads records back.
type Reader interface {
	Read(ctx context.Context, q Query) (Page, error)
}

// Paging bounds.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Errors of the package; StatusOf maps them to HTTP statuses.
var (
	// ErrBadQuery: a parameter or the continue token cannot be read.
	ErrBadQuery = errors.New("bad audit query")
	// ErrNotReadable: the records go to standard output only.
	ErrNotReadable = errors.New("the audit records go to standard output only: set openshift_ai.audit.file, or use PostgreSQL as the store, to read them here")
	// ErrDisabled: audit logging is off.
	ErrDisabled = errors.New("audit logging is off (ENABLE_AUDIT_LOGGING or openshift_ai.audit.enabled)")
	// ErrForbidden: the caller is not an audit administrator.
	ErrForbidden = errors.New("forbidden: reading the audit records needs the audit administrator's right")
	// ErrUnavailable: the records or the decision cannot be reached now.
	ErrUnavailable = errors.New("audit records unavailable")
)

// StatusOf is the HTTP status of an error of the package: the one place they are mapped.
func StatusOf(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, ErrBadQuery):
		return http.StatusBadRequest
	case errors.Is(err, ErrNotReadable):
		return http.StatusNotImplemented
	case errors.Is(err, ErrDisabled):
		return http.StatusNotFound
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// matches says whether r is selected by q (cursor aside).
func (q Query) matches(r Record) bool {
	if q.Project != "" && r.Project != q.Project {
		return false
	}
	if q.User != "" && r.User != q.User {
		return false
	}
	if q.Action != "" && r.Action != q.Action && method(r.Action) != q.Action {
		return false
	}
	if !q.Since.IsZero() && r.Time.Before(q.Since) {
		return false
	}
	if !q.Until.IsZero() && !r.Time.Before(q.Until) {
		return false
	}
	return true
}

func method(action string) string {
	for i := range len(action) {
		if action[i] == ' ' {
			return action[:i]
		}
	}
	return action
}
