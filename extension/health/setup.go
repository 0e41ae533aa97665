package health

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/openshift-ai/observability/extension/host"
)

// Timeout bounds one database check.
const Timeout = 2 * time.Second

// Setup registers /health on the server.
func Setup(h *host.Host) error {
	checks := []Check{h.Deps.Persistence().GetPersesDAO().HealthCheck}
	if f := h.Config.Database.File; f != nil && h.UpstreamStore {
		folder := f.Folder
		if !f.CaseSensitive {
			// upstream's file store lower-cases the whole path, folder included
			folder = strings.ToLower(folder)
		}
		// The store creates its folder on the first write; create it now so that a
		// missing folder means a lost volume, not a fresh start.
		if err := os.MkdirAll(folder, 0o750); err != nil {
			return fmt.Errorf("health: the file database folder %q: %w", folder, err)
		}
		checks = append(checks, FileFolder(folder))
	}
	h.Runner.HTTPServerBuilder().APIRegistration(New(All(checks...), Timeout))
	return nil
}
