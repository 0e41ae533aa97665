// Seam file (github.com/openshift-ai/observability): lets the bridge (pkg/extend) hand
// New a store of its own. See patches/internal/api/database/inject.diff.

package database

import databaseModel "github.com/perses/perses/internal/api/database/model"

// injected, when set, is the client New wraps instead of the configured file or SQL store.
var injected databaseModel.DAO

// Inject makes New use client until Inject(nil). Only the bridge calls it, once, before
// the server is built.
func Inject(client databaseModel.DAO) { injected = client }
