// Seam file (github.com/openshift-ai/observability).
//
// Package extend is the bridge between upstream Perses and the OpenShift AI extension:
// the one place outside internal/ that may reach upstream's internal packages. It
// re-exports only what the extension needs (the server builder, the dependency
// manager, the DAO and Authorization interfaces, upstream's error classes) and builds
// the server with an injected store and authorization provider. It holds no logic of
// its own beyond that adaptation.
package extend

import (
	"fmt"

	"github.com/perses/common/app"
	"github.com/perses/perses/internal/api/authorization"
	"github.com/perses/perses/internal/api/core"
	"github.com/perses/perses/internal/api/crypto"
	"github.com/perses/perses/internal/api/database"
	databaseModel "github.com/perses/perses/internal/api/database/model"
	"github.com/perses/perses/internal/api/dependency"
	"github.com/perses/perses/internal/api/impl/v1/view"
	apiinterface "github.com/perses/perses/internal/api/interface"
	"github.com/perses/perses/pkg/model/api/config"
	"github.com/prometheus/client_golang/prometheus"
)

type (
	// DAO is upstream's store interface (internal/api/database/model.DAO).
	DAO = databaseModel.DAO
	// Query is upstream's store query interface.
	Query = databaseModel.Query
	// StoreError is the error a DAO returns for a conflict or a missing key.
	StoreError = databaseModel.Error
	// Authorization is upstream's authorization provider interface.
	Authorization = authorization.Authorization
	// ProviderInfo names the identity provider behind a user (Authorization.GetProviderInfo).
	ProviderInfo = crypto.ProviderInfo
	// Manager gives access to upstream's persistence and service layers.
	Manager = dependency.Manager
	// Runner runs the HTTP server and the periodic tasks.
	Runner = app.Runner
	// APIError is upstream's HTTP error class, mapped to a status by its HandleError middleware.
	APIError = apiinterface.PersesError
)

// Options are what the extension hands upstream to build the server.
type Options struct {
	// Config is upstream's configuration.
	Config config.Config
	// EnablePprof exposes upstream's /debug/pprof routes.
	EnablePprof bool
	// Registry receives upstream's and the extension's metrics.
	Registry *prometheus.Registry
	// Banner is printed at start; %s is replaced by the version.
	Banner string
	// DAO, when set, replaces the store upstream would build from Config.Database.
	DAO DAO
	// Authorization, when set, replaces the provider upstream would pick from Config.Security.
	Authorization Authorization
}

// NewServer builds upstream's server (routes, UI, tasks) over the given options.
// It is not safe to call concurrently: the injection points are package state.
func NewServer(o Options) (*app.Runner, Manager, error) {
	if o.Registry == nil {
		return nil, nil, fmt.Errorf("extend: a metrics registry is required")
	}
	database.Inject(o.DAO)
	authorization.Inject(o.Authorization)
	defer database.Inject(nil)
	defer authorization.Inject(nil)
	return core.New(o.Config, o.EnablePprof, o.Registry, o.Banner)
}

// RegisterMetrics registers upstream's own metrics (the view counters).
func RegisterMetrics(r prometheus.Registerer) { view.RegisterMetrics(r) }

// Upstream's error classes, so that extension handlers answer like upstream's.
var (
	ErrBadRequest   = apiinterface.BadRequestError
	ErrUnauthorized = apiinterface.UnauthorizedError
	ErrForbidden    = apiinterface.ForbiddenError
	ErrNotFound     = apiinterface.NotFoundError
	ErrConflict     = apiinterface.ConflictError
	ErrInternal     = apiinterface.InternalError
)

// HandleError converts an error into upstream's HTTP error answer.
func HandleError(err error) error { return apiinterface.HandleError(err) }
