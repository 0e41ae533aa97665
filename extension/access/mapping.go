// Package access decides what a user may do, with the cluster's RBAC: a Perses project
// is a namespace, and every upstream (action, scope) is a SubjectAccessReview on a
// resource of one API group (perses.openshift.io by default). Decisions are cached with
// explicit allow and deny TTLs; a decision the cluster cannot make and the cache does
// not hold is a 503, never an allow. Project lists come from what the user may see (the
// user's OpenShift projects, or reviews over a watched namespace list), Perses projects
// are created on demand for namespaces the user may use, and a request naming a
// project is authorised before upstream looks the project up, so that nobody learns
// whether a project they may not see exists.
package access

import (
	"errors"
	"net/http"

	"github.com/perses/perses/pkg/model/api/v1/role"
)

// Attributes is one question to the cluster: may the user <Verb> <Resource>[/<Subresource>]
// in <Namespace> ("" for the whole cluster)?
type Attributes struct {
	Namespace   string
	Verb        string
	Resource    string
	Subresource string
}

// Resources of the API group, one per Perses kind.
var scopeResources = map[role.Scope]string{
	role.ProjectScope:            "projects",
	role.DashboardScope:          "dashboards",
	role.EphemeralDashboardScope: "ephemeraldashboards",
	role.DatasourceScope:         "datasources",
	role.FolderScope:             "folders",
	role.SecretScope:             "secrets",
	role.VariableScope:           "variables",
	role.GlobalDatasourceScope:   "globaldatasources",
	role.GlobalSecretScope:       "globalsecrets",
	role.GlobalVariableScope:     "globalvariables",
	role.UserScope:               "users",
	role.WildcardScope:           "*",
}

var actionVerbs = map[role.Action]string{
	role.ReadAction:     "get",
	role.CreateAction:   "create",
	role.UpdateAction:   "update",
	role.DeleteAction:   "delete",
	role.WildcardAction: "*",
}

// Sharing a dashboard (share links) is the subresource dashboards/share, verbs create
// and delete; the sharing capability asks with these attributes.
const (
	ResourceDashboards = "dashboards"
	SubresourceShare   = "share"
)

// ErrNotMapped: the scope has no resource (upstream's native roles and role bindings:
// here the cluster's RBAC is the only one).
var ErrNotMapped = errors.New("this kind is not managed through Perses here: use the cluster's RBAC")

// ErrUnavailable: the cluster could not decide and no decision is cached.
var ErrUnavailable = errors.New("authorization service unavailable")

// ErrForbidden: the cluster said no.
var ErrForbidden = errors.New("forbidden")

// StatusOf maps the package's errors to HTTP statuses: the one place they are mapped.
func StatusOf(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable
	default:
		return http.StatusForbidden
	}
}

// Map translates upstream's (action, project, scope) into review attributes. list says
// the request reads a collection (GET without a name): the verb is then list.
func Map(action role.Action, project string, scope role.Scope, list bool) (Attributes, error) {
	res, ok := scopeResources[scope]
	if !ok {
		return Attributes{}, ErrNotMapped
	}
	verb, ok := actionVerbs[action]
	if !ok {
		return Attributes{}, ErrNotMapped
	}
	if list && action == role.ReadAction {
		verb = "list"
	}
	ns := project
	if role.IsGlobalScope(scope) || project == "*" {
		ns = ""
	}
	return Attributes{Namespace: ns, Verb: verb, Resource: res}, nil
}
