package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/golang-migrate/migrate/v4"
	migratepgx "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/openshift-ai/observability/extension/config"
)

// The migrations, embedded in the binary. The folder is in the layout the migrate CLI
// reads (NNN_name.up.sql / NNN_name.down.sql), and the version is kept in its
// schema_migrations table, so `migrate -database $DATABASE_URL -path migrations version`
// reads what this package writes.
//
//go:embed migrations/*.sql
var migrations embed.FS

// MigrationTimeout bounds one Migrate call: waiting for another replica's migration, and
// running ours.
const MigrationTimeout = 2 * time.Minute

// migrationLockID is the advisory lock held around the whole check-and-migrate, so a
// replica never reads the dirty flag another one sets while it migrates. It differs
// from the lock golang-migrate takes inside (derived from the database name), which
// still guards against the migrate CLI run at the same time.
const migrationLockID int64 = 0x7065727365730001 // "perses" + 1

// LatestVersion is the newest schema version this binary knows.
func LatestVersion() (uint, error) {
	src, err := iofs.New(migrations, "migrations")
	if err != nil {
		return 0, err
	}
	defer src.Close() //nolint:errcheck
	v, err := src.First()
	if err != nil {
		return 0, err
	}
	for {
		next, err := src.Next(v)
		if errors.Is(err, fs.ErrNotExist) {
			return v, nil
		}
		if err != nil {
			return 0, err
		}
		v = next
	}
}

// Migrate moves the schema "up" to LatestVersion or "down" to nothing (every table of
// this package dropped), under an advisory lock. A dirty schema, or one newer than this
// binary, is an error saying what to do, and nothing is changed.
func Migrate(ctx context.Context, url, direction string) error {
	return migrateSchema(ctx, defaultConfig(url), direction)
}

// defaultConfig is the configuration of a URL alone, with the default timeouts.
func defaultConfig(url string) config.Postgres {
	return config.Postgres{
		URL:              config.Secret(url),
		StatementTimeout: config.DefaultPostgresStatementLimit,
		ConnectTimeout:   config.DefaultPostgresConnectTimeout,
	}
}

func migrateSchema(ctx context.Context, cfg config.Postgres, direction string) error {
	if direction != "up" && direction != "down" {
		return fmt.Errorf("postgres: migrate %q: want up or down", direction)
	}
	return withMigrator(ctx, cfg, func(m *migrate.Migrate) error {
		latest, err := LatestVersion()
		if err != nil {
			return err
		}
		version, dirty, err := m.Version()
		if err != nil && !errors.Is(err, migrate.ErrNilVersion) {
			return storeErr("read schema version", err)
		}
		switch {
		case dirty:
			return fmt.Errorf("postgres: the schema is dirty at version %d: a migration stopped half-way. "+
				"Repair the schema by hand, then mark the version clean with "+
				"`migrate -database \"$DATABASE_URL\" -path extension/store/postgres/migrations force %d` "+
				"(or the version before it)", version, version)
		case version > latest:
			return fmt.Errorf("postgres: the schema is at version %d, newer than version %d this binary knows: "+
				"run a newer binary, or migrate down with the binary that wrote it", version, latest)
		}
		if direction == "up" {
			err = m.Up()
		} else {
			err = m.Down()
		}
		if err != nil && !errors.Is(err, migrate.ErrNoChange) {
			return storeErr("migrate "+direction, err)
		}
		return nil
	})
}

// Version reads the schema version: 0 and not dirty for an empty database.
func Version(ctx context.Context, url string) (version uint, dirty bool, err error) {
	err = withMigrator(ctx, defaultConfig(url), func(m *migrate.Migrate) error {
		var verr error
		version, dirty, verr = m.Version()
		if errors.Is(verr, migrate.ErrNilVersion) {
			return nil
		}
		return storeErr("read schema version", verr)
	})
	return version, dirty, err
}

// withMigrator opens a migrator on url, holding migrationLockID for the duration of f;
// ctx bounds the whole.
func withMigrator(ctx context.Context, cfg config.Postgres, f func(*migrate.Migrate) error) (err error) {
	cc, err := connConfig(cfg)
	if err != nil {
		return err
	}
	if deadline, ok := ctx.Deadline(); ok {
		// Migrations may take longer than a request's statement; the context bounds them.
		cc.RuntimeParams["statement_timeout"] = fmt.Sprint(time.Until(deadline).Milliseconds())
	} else {
		cc.RuntimeParams["statement_timeout"] = fmt.Sprint(MigrationTimeout.Milliseconds())
	}

	// The lock lives on its own connection, released when that connection ends.
	lockConn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return storeErr("connect to migrate", err)
	}
	defer lockConn.Close(context.Background()) //nolint:errcheck
	if _, err := lockConn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLockID); err != nil {
		return storeErr("wait for the migration lock", err)
	}
	defer func() {
		connect, _ := timeouts(cfg)
		unlockCtx, cancel := context.WithTimeout(context.Background(), connect)
		defer cancel()
		_, _ = lockConn.Exec(unlockCtx, "SELECT pg_advisory_unlock($1)", migrationLockID)
	}()

	db := stdlib.OpenDB(*cc)
	drv, err := migratepgx.WithInstance(db, &migratepgx.Config{StatementTimeout: MigrationTimeout})
	if err != nil {
		_ = db.Close()
		return storeErr("open migrations table", err)
	}
	src, err := iofs.New(migrations, "migrations")
	if err != nil {
		_ = drv.Close()
		return err
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", drv)
	if err != nil {
		_ = src.Close()
		_ = drv.Close()
		return err
	}
	defer m.Close() //nolint:errcheck
	m.LockTimeout = MigrationTimeout
	stop := context.AfterFunc(ctx, func() {
		// Stop between two migrations, never inside one.
		select {
		case m.GracefulStop <- true:
		default:
		}
	})
	defer stop()
	return f(m)
}
