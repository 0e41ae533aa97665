// Package store makes PostgreSQL the server's store when openshift_ai.postgres.url (or
// DATABASE_URL) is set: it hands upstream the PostgreSQL DAO (store/postgres), answers
// 503 naming the database while PostgreSQL cannot be reached, and listens for writes of
// other replicas so that upstream's caches follow them within a second. Without a URL,
// upstream's own store (file or MySQL) stays in place.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/openshift-ai/observability/extension/config"
	"github.com/openshift-ai/observability/extension/host"
	"github.com/openshift-ai/observability/extension/store/postgres"
	"github.com/perses/perses/pkg/extend"
	modelAPI "github.com/perses/perses/pkg/model/api"
	v1 "github.com/perses/perses/pkg/model/api/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

// Prepare builds the PostgreSQL DAO when configured; upstream migrates it in Init.
func Prepare(p *host.Prepare) error {
	pg := p.Config.OpenShiftAI.Postgres
	if !pg.Enabled() {
		return nil
	}
	dao, err := postgres.New(context.Background(), pg, postgres.CaseSensitive(pg.CaseSensitive))
	if err != nil {
		return err
	}
	logrus.Infof("store: PostgreSQL at %s", pg.URL.Redacted())
	p.DAO = Unavailable503{DAO: dao}
	return nil
}

// Setup listens for the writes of every replica and refreshes upstream's caches.
func Setup(h *host.Host) error {
	pg := h.Config.OpenShiftAI.Postgres
	if !pg.Enabled() {
		return nil
	}
	u, ok := h.Store.(Unavailable503)
	if !ok {
		return fmt.Errorf("store: the prepared store is %T, not PostgreSQL's", h.Store)
	}
	dao, ok := u.DAO.(*postgres.DAO)
	if !ok {
		return fmt.Errorf("store: the prepared store is %T, not PostgreSQL's", u.DAO)
	}
	authz := h.Deps.Service().GetAuthorization()
	listener := postgres.NewListener(pg, func(c postgres.Change) {
		// Follow first: the refresh below lists roles through the cache, which must
		// already have dropped what this change replaced. Key reports come after the
		// kind's, so refresh on those.
		dao.Follow(c)
		if !c.Resync && !(c.Key && permissionKind(c.Kind)) {
			return
		}
		if err := authz.RefreshPermissions(); err != nil {
			logrus.WithError(err).Warn("store: refreshing permissions after a change of another replica")
		}
	}).OnDeaf(dao.Deaf)
	h.Runner.WithTasks(listenTask{listener})
	registerCacheMetrics(h, dao)
	return nil
}

// registerCacheMetrics exposes the document cache's hits and misses.
func registerCacheMetrics(h *host.Host, dao *postgres.DAO) {
	for _, m := range []struct {
		name, help string
		value      func() float64
	}{
		{"cache_hits_total", "Reads of single documents answered by the replica's cache.", func() float64 { hits, _ := dao.CacheStats(); return float64(hits) }},
		{"cache_misses_total", "Reads of single documents that went to PostgreSQL while the cache was on.", func() float64 { _, misses := dao.CacheStats(); return float64(misses) }},
	} {
		h.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: host.MetricNamespace, Subsystem: "store", Name: m.name, Help: m.help,
		}, m.value))
	}
}

// permissionKind says whether a change of kind alters who may do what.
func permissionKind(kind string) bool {
	switch v1.Kind(kind) {
	case v1.KindRole, v1.KindRoleBinding, v1.KindGlobalRole, v1.KindGlobalRoleBinding, v1.KindUser:
		return true
	}
	return false
}

// listenTask runs the listener for as long as the server runs.
type listenTask struct{ l *postgres.Listener }

func (t listenTask) String() string { return "postgres change listener" }

func (t listenTask) Execute(ctx context.Context, _ context.CancelFunc) error {
	if err := t.l.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// Unavailable503 turns the DAO's "PostgreSQL is unavailable" errors into an HTTP 503
// that upstream's error handler passes through unchanged (it keeps *echo.HTTPError as
// it is); every other error goes through as the DAO returned it.
type Unavailable503 struct{ extend.DAO }

var _ extend.DAO = Unavailable503{}

func as503(err error) error {
	if err == nil || !errors.Is(err, postgres.ErrUnavailable) {
		return err
	}
	return echo.NewHTTPError(http.StatusServiceUnavailable, "the database (PostgreSQL) is unavailable; retry later").SetInternal(err)
}

func (u Unavailable503) Create(e modelAPI.Entity) error { return as503(u.DAO.Create(e)) }
func (u Unavailable503) Upsert(e modelAPI.Entity) error { return as503(u.DAO.Upsert(e)) }
func (u Unavailable503) Get(k v1.Kind, m modelAPI.Metadata, e modelAPI.Entity) error {
	return as503(u.DAO.Get(k, m, e))
}
func (u Unavailable503) Query(q extend.Query, slice any) error { return as503(u.DAO.Query(q, slice)) }
func (u Unavailable503) RawQuery(q extend.Query) ([]json.RawMessage, error) {
	r, err := u.DAO.RawQuery(q)
	return r, as503(err)
}
func (u Unavailable503) RawMetadataQuery(q extend.Query, k v1.Kind) ([]json.RawMessage, error) {
	r, err := u.DAO.RawMetadataQuery(q, k)
	return r, as503(err)
}
func (u Unavailable503) Delete(k v1.Kind, m modelAPI.Metadata) error {
	return as503(u.DAO.Delete(k, m))
}
func (u Unavailable503) DeleteByQuery(q extend.Query) error { return as503(u.DAO.DeleteByQuery(q)) }
func (u Unavailable503) GetLatestUpdateTime(k []v1.Kind) (*string, error) {
	r, err := u.DAO.GetLatestUpdateTime(k)
	return r, as503(err)
}

// Migrate runs the operator's `perses migrate up|down|version` against the configured
// PostgreSQL and prints the outcome.
func Migrate(ctx context.Context, pg config.Postgres, direction string) (string, error) {
	if !pg.Enabled() {
		return "", fmt.Errorf("migrate: no PostgreSQL configured (openshift_ai.postgres.url or %s)", config.EnvDatabaseURL)
	}
	url := string(pg.URL)
	switch direction {
	case "up", "down":
		if err := postgres.Migrate(ctx, url, direction); err != nil {
			return "", err
		}
	case "version":
	default:
		return "", fmt.Errorf("migrate: unknown direction %q, want up, down or version", direction)
	}
	v, dirty, err := postgres.Version(ctx, url)
	if err != nil {
		return "", err
	}
	if dirty {
		return fmt.Sprintf("%d (dirty)", v), nil
	}
	return fmt.Sprint(v), nil
}
