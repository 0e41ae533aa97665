package health

import (
	"time"

	"github.com/openshift-ai/observability/extension/host"
)

// Timeout bounds one database check.
const Timeout = 2 * time.Second

// Setup registers /health on the server.
func Setup(h *host.Host) error {
	checks := []Check{h.Deps.Persistence().GetPersesDAO().HealthCheck}
	if f := h.Config.Database.File; f != nil {
		checks = append(checks, FileFolder(f.Folder))
	}
	h.Runner.HTTPServerBuilder().APIRegistration(New(All(checks...), Timeout))
	return nil
}
