// Seam file (github.com/openshift-ai/observability).

package extend

import (
	"fmt"

	"github.com/perses/perses/internal/api/database"
	"github.com/perses/perses/internal/api/interface/v1/dashboard"
	"github.com/perses/perses/internal/api/interface/v1/datasource"
	"github.com/perses/perses/internal/api/interface/v1/ephemeraldashboard"
	"github.com/perses/perses/internal/api/interface/v1/folder"
	"github.com/perses/perses/internal/api/interface/v1/globaldatasource"
	"github.com/perses/perses/internal/api/interface/v1/globalrole"
	"github.com/perses/perses/internal/api/interface/v1/globalrolebinding"
	"github.com/perses/perses/internal/api/interface/v1/globalsecret"
	"github.com/perses/perses/internal/api/interface/v1/globalvariable"
	"github.com/perses/perses/internal/api/interface/v1/project"
	"github.com/perses/perses/internal/api/interface/v1/role"
	"github.com/perses/perses/internal/api/interface/v1/rolebinding"
	"github.com/perses/perses/internal/api/interface/v1/secret"
	"github.com/perses/perses/internal/api/interface/v1/user"
	"github.com/perses/perses/internal/api/interface/v1/variable"
	"github.com/perses/perses/pkg/model/api/config"
	v1 "github.com/perses/perses/pkg/model/api/v1"
)

// NewUpstreamDAO builds upstream's own store (file or MySQL) from a database config,
// as upstream does: for comparisons and conformance tests.
func NewUpstreamDAO(conf config.Database) (DAO, error) { return database.New(conf) }

// QueryTarget says what a store query asks for: the kind listed, the project (empty for
// a global kind, or for every project) and the name prefix. Upstream's query types are
// internal; this is the only place that knows them.
func QueryTarget(q Query) (kind v1.Kind, projectName, namePrefix string, err error) {
	switch qt := q.(type) {
	case *dashboard.Query:
		return v1.KindDashboard, qt.Project, qt.NamePrefix, nil
	case *datasource.Query:
		return v1.KindDatasource, qt.Project, qt.NamePrefix, nil
	case *ephemeraldashboard.Query:
		return v1.KindEphemeralDashboard, qt.Project, qt.NamePrefix, nil
	case *folder.Query:
		return v1.KindFolder, qt.Project, qt.NamePrefix, nil
	case *role.Query:
		return v1.KindRole, qt.Project, qt.NamePrefix, nil
	case *rolebinding.Query:
		return v1.KindRoleBinding, qt.Project, qt.NamePrefix, nil
	case *secret.Query:
		return v1.KindSecret, qt.Project, qt.NamePrefix, nil
	case *variable.Query:
		return v1.KindVariable, qt.Project, qt.NamePrefix, nil
	case *globaldatasource.Query:
		return v1.KindGlobalDatasource, "", qt.NamePrefix, nil
	case *globalrole.Query:
		return v1.KindGlobalRole, "", qt.NamePrefix, nil
	case *globalrolebinding.Query:
		return v1.KindGlobalRoleBinding, "", qt.NamePrefix, nil
	case *globalsecret.Query:
		return v1.KindGlobalSecret, "", qt.NamePrefix, nil
	case *globalvariable.Query:
		return v1.KindGlobalVariable, "", qt.NamePrefix, nil
	case *project.Query:
		return v1.KindProject, "", qt.NamePrefix, nil
	case *user.Query:
		return v1.KindUser, "", qt.NamePrefix, nil
	}
	return "", "", "", fmt.Errorf("store: query type %T is not known", q)
}

// NewQuery builds upstream's query for a kind, as its list endpoints do; for tests and
// for capabilities that list resources through the store.
func NewQuery(kind v1.Kind, projectName, namePrefix string) (Query, error) {
	switch kind {
	case v1.KindDashboard:
		return &dashboard.Query{Project: projectName, NamePrefix: namePrefix}, nil
	case v1.KindDatasource:
		return &datasource.Query{Project: projectName, NamePrefix: namePrefix}, nil
	case v1.KindEphemeralDashboard:
		return &ephemeraldashboard.Query{Project: projectName, NamePrefix: namePrefix}, nil
	case v1.KindFolder:
		return &folder.Query{Project: projectName, NamePrefix: namePrefix}, nil
	case v1.KindRole:
		return &role.Query{Project: projectName, NamePrefix: namePrefix}, nil
	case v1.KindRoleBinding:
		return &rolebinding.Query{Project: projectName, NamePrefix: namePrefix}, nil
	case v1.KindSecret:
		return &secret.Query{Project: projectName, NamePrefix: namePrefix}, nil
	case v1.KindVariable:
		return &variable.Query{Project: projectName, NamePrefix: namePrefix}, nil
	case v1.KindGlobalDatasource:
		return &globaldatasource.Query{NamePrefix: namePrefix}, nil
	case v1.KindGlobalRole:
		return &globalrole.Query{NamePrefix: namePrefix}, nil
	case v1.KindGlobalRoleBinding:
		return &globalrolebinding.Query{NamePrefix: namePrefix}, nil
	case v1.KindGlobalSecret:
		return &globalsecret.Query{NamePrefix: namePrefix}, nil
	case v1.KindGlobalVariable:
		return &globalvariable.Query{NamePrefix: namePrefix}, nil
	case v1.KindProject:
		return &project.Query{NamePrefix: namePrefix}, nil
	case v1.KindUser:
		return &user.Query{NamePrefix: namePrefix}, nil
	}
	return nil, fmt.Errorf("store: kind %q has no query", kind)
}
