//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// The store the suite's servers use: upstream's file database (default) or PostgreSQL
// (E2E_STORE=postgres; make e2e runs both).
const (
	storeFile     = "file"
	storePostgres = "postgres"
)

func storeFromEnv() string {
	if os.Getenv("E2E_STORE") == storePostgres {
		return storePostgres
	}
	return storeFile
}

// postgresAdminURL reaches a PostgreSQL server where the suite may create databases.
func postgresAdminURL() string {
	if v := os.Getenv("PERSES_TEST_POSTGRES_URL"); v != "" {
		return v
	}
	return "postgresql://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// databaseURL is the URL of database name on the admin URL's server.
func databaseURL(name string) string {
	cfg, err := pgx.ParseConfig(postgresAdminURL())
	if err != nil {
		return ""
	}
	user := cfg.User
	if cfg.Password != "" {
		user += ":" + cfg.Password
	}
	return fmt.Sprintf("postgresql://%s@%s:%d/%s?sslmode=disable", user, cfg.Host, cfg.Port, name)
}

func adminExec(sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, postgresAdminURL())
	if err != nil {
		return fmt.Errorf("PostgreSQL is not reachable at %s (%v): start it (`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`) or set PERSES_TEST_POSTGRES_URL", postgresAdminURL(), err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// createDatabase makes an empty database for one server (or several replicas).
func createDatabase(name string) (string, error) {
	name = strings.ReplaceAll(name, "-", "_")
	if err := adminExec(fmt.Sprintf("CREATE DATABASE %s", pgx.Identifier{name}.Sanitize())); err != nil {
		return "", err
	}
	return databaseURL(name), nil
}

func dropDatabase(name string) {
	name = strings.ReplaceAll(name, "-", "_")
	_ = adminExec(fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", pgx.Identifier{name}.Sanitize()))
}

// storedDocuments returns every document the shared server's store holds, keyed by
// where it lives (a file path, or kind/project/name of a row).
func storedDocuments(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	if shared.store == storePostgres {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, shared.databaseURL)
		require.NoError(t, err)
		defer conn.Close(ctx)
		rows, err := conn.Query(ctx, `SELECT kind || '/' || project || '/' || name, doc::text FROM perses_resource`)
		require.NoError(t, err)
		for rows.Next() {
			var where, doc string
			require.NoError(t, rows.Scan(&where, &doc))
			out[where] = doc
		}
		require.NoError(t, rows.Err())
		require.NotEmpty(t, out, "the PostgreSQL store holds no document")
		return out
	}
	// Other tests write to the same database meanwhile: a file or folder that vanished
	// between listing and reading is skipped, not an error.
	err := filepath.WalkDir(databaseFolder(t), func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || d.IsDir() {
			return err
		}
		data, readErr := os.ReadFile(path)
		if errors.Is(readErr, fs.ErrNotExist) {
			return nil
		}
		if readErr != nil {
			return readErr
		}
		out[path] = string(data)
		return nil
	})
	require.NoError(t, err)
	return out
}
