// Package extension is the OpenShift AI product built on upstream Perses: the list of
// capabilities below is the whole of what it adds, in the order they are set up.
package extension

import (
	"github.com/openshift-ai/observability/extension/access"
	"github.com/openshift-ai/observability/extension/apidoc"
	"github.com/openshift-ai/observability/extension/audit"
	"github.com/openshift-ai/observability/extension/gallery"
	"github.com/openshift-ai/observability/extension/health"
	"github.com/openshift-ai/observability/extension/host"
	"github.com/openshift-ai/observability/extension/identity"
	"github.com/openshift-ai/observability/extension/live"
	"github.com/openshift-ai/observability/extension/nameguard"
	"github.com/openshift-ai/observability/extension/prometheus"
	"github.com/openshift-ai/observability/extension/store"
	"github.com/openshift-ai/observability/extension/templates"
	"github.com/openshift-ai/observability/extension/tenancy"
	"github.com/openshift-ai/observability/extension/workloads"
)

// Capability is one thing the product adds. Prepare (optional) runs before upstream's
// server is built and may supply its store or authorization provider; Setup runs
// after, and registers routes, middleware and tasks.
type Capability struct {
	Name    string
	Prepare func(*host.Prepare) error
	Setup   func(*host.Host) error
}

// Capabilities is the product, one line a capability.
var Capabilities = []Capability{
	{Name: "identity", Prepare: identity.Prepare, Setup: identity.Setup}, // who a request comes from: development mode, TokenReview, OIDC; upstream's authorization provider
	{Name: "audit", Setup: audit.Setup},                                  // one record per mutation, 401, 403, login, logout; GET /api/v1/audit for admins (before nameguard and access, so it sees their refusals)
	{Name: "nameguard", Setup: nameguard.Setup},                          // refuse "." and ".." as names: they are paths to upstream's file store
	{Name: "store", Prepare: store.Prepare, Setup: store.Setup},          // PostgreSQL as upstream's store, when configured
	{Name: "access", Prepare: access.Prepare, Setup: access.Setup},       // what a user may do: SubjectAccessReview per namespace, projects on demand
	{Name: "tenancy", Setup: tenancy.Setup},                              // every metrics query confined to its project's namespace; projects get their Prometheus datasource
	{Name: "live", Setup: live.Setup},                                    // GET …/dashboards/{name}/stream: dashboard changes and panel data as server-sent events, one backend query per dashboard and interval
	{Name: "templates", Setup: templates.Setup},                          // the four workload templates: GET /api/v1/templates, POST …/templates/{id}/instantiate, POST …/dashboards/{name}/clone
	{Name: "workloads", Setup: workloads.Setup},                          // GET …/workloads: a project's model servers, training jobs, notebooks, pipelines (listed with the caller's Kubernetes rights), status, pod selector, headline figures through tenancy
	{Name: "gallery", Setup: gallery.Setup},                              // GET /templates: the template gallery page (pick a template and a workload, create, open the dashboard)
	{Name: "health", Setup: health.Setup},                                // GET /health: database and version
	{Name: "prometheus", Setup: prometheus.Setup},                        // the default Prometheus datasource
	{Name: "apidoc", Setup: apidoc.Setup},                                // the OpenAPI document of our endpoints
}
