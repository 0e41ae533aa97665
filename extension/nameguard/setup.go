package nameguard

import "github.com/openshift-ai/observability/extension/host"

// Setup puts the guard before upstream's routing.
func Setup(h *host.Host) error {
	h.Runner.HTTPServerBuilder().PreMiddleware(Middleware(h.Config.APIPrefix))
	return nil
}
