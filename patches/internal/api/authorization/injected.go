// Seam file (github.com/openshift-ai/observability): lets the bridge (pkg/extend) hand
// New an authorization provider of its own. See patches/internal/api/authorization/inject.diff.

package authorization

// injected, when set, is returned by New instead of the provider chosen from the config.
var injected Authorization

// Inject makes New return provider until Inject(nil). Only the bridge calls it, once,
// before the server is built.
func Inject(provider Authorization) { injected = provider }
