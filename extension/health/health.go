// Package health answers GET /health: whether the server can reach its database, and
// its version. It is what probes and the quickstart's smoke test call; upstream's
// /api/v1/health stays as it is.
package health

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/common/version"
)

// Path is where the answer is served.
const Path = "/health"

// Status is the answer's body.
type Status struct {
	Status   string `json:"status"`
	Database string `json:"database"`
	Version  string `json:"version"`
}

// Check reports whether the database answers; it may block, Handler bounds it.
type Check func() bool

// Handler answers health requests.
type Handler struct {
	check   Check
	timeout time.Duration
}

// New returns a handler that runs check at most timeout per request.
func New(check Check, timeout time.Duration) *Handler {
	return &Handler{check: check, timeout: timeout}
}

// RegisterRoute implements upstream's route registration.
func (h *Handler) RegisterRoute(e *echo.Echo) {
	e.GET(Path, h.serve)
}

func (h *Handler) serve(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), h.timeout)
	defer cancel()
	ok := make(chan bool, 1)
	go func() { ok <- h.check() }()
	connected := false
	select {
	case connected = <-ok:
	case <-ctx.Done():
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	if !connected {
		return c.JSON(http.StatusServiceUnavailable, Status{Status: "unhealthy", Database: "disconnected", Version: version.Version})
	}
	return c.JSON(http.StatusOK, Status{Status: "healthy", Database: "connected", Version: version.Version})
}

// FileFolder checks the folder of upstream's file database: it must exist and be a
// folder (upstream's file store reports itself healthy unconditionally).
func FileFolder(folder string) Check {
	return func() bool {
		st, err := os.Stat(folder)
		return err == nil && st.IsDir()
	}
}

// All is healthy when every check is.
func All(checks ...Check) Check {
	return func() bool {
		for _, c := range checks {
			if !c() {
				return false
			}
		}
		return true
	}
}

// String describes the route for logs.
func (h *Handler) String() string { return fmt.Sprintf("GET %s", Path) }
