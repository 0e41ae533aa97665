package postgres

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql" // upstream's SQL store talks to MariaDB through it
	"github.com/jackc/pgx/v5"
	"github.com/openshift-ai/observability/extension/config"
	upstreamConfig "github.com/perses/perses/pkg/model/api/config"
	"github.com/perses/perses/pkg/model/api/v1/secret"
	"github.com/stretchr/testify/require"
)

// The real servers the tests use, each test in a throwaway database of its own.
const (
	envPostgresURL   = "PERSES_TEST_POSTGRES_URL"
	envMySQLAddr     = "PERSES_TEST_MYSQL_ADDR"
	defaultAdminURL  = "postgresql://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	defaultMySQLAddr = "127.0.0.1:3306"
)

func adminURL() string {
	if v := os.Getenv(envPostgresURL); v != "" {
		return v
	}
	return defaultAdminURL
}

func mysqlAddr() string {
	if v := os.Getenv(envMySQLAddr); v != "" {
		return v
	}
	return defaultMySQLAddr
}

func randomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// newDatabase creates an empty PostgreSQL database, dropped when the test ends, and
// returns its URL.
func newDatabase(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, adminURL())
	require.NoError(t, err, "PostgreSQL is not reachable at %s (set %s to another admin URL). "+
		"Start it with `pg_ctlcluster --skip-systemctl-redirect 15 main start` "+
		"(trust authentication for user postgres on 127.0.0.1).", config.Secret(adminURL()).Redacted(), envPostgresURL)
	defer admin.Close(context.Background()) //nolint:errcheck
	name := randomName("perses_test_")
	_, err = admin.Exec(ctx, "CREATE DATABASE "+name)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		admin, err := pgx.Connect(ctx, adminURL())
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer admin.Close(context.Background()) //nolint:errcheck
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(adminURL())
	require.NoError(t, err)
	u.Path = "/" + name
	return u.String()
}

// testConfig is the store configuration the tests use on url.
func testConfig(url string) config.Postgres {
	return config.Postgres{
		URL:              config.Secret(url),
		MaxConns:         4,
		StatementTimeout: config.Duration(5 * time.Second),
		ConnectTimeout:   config.Duration(3 * time.Second),
	}
}

// newDAO builds our DAO on a fresh database, migrated, closed when the test ends.
func newDAO(t *testing.T, opts ...Option) (*DAO, string) {
	t.Helper()
	url := newDatabase(t)
	d, err := New(context.Background(), testConfig(url), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	require.NoError(t, d.Init())
	return d, url
}

// newMySQLDatabase creates an empty MariaDB database, dropped when the test ends, and
// returns upstream's SQL store configuration for it.
func newMySQLDatabase(t *testing.T, caseSensitive bool) *upstreamConfig.SQL {
	t.Helper()
	db, err := sql.Open("mysql", "root@tcp("+mysqlAddr()+")/?timeout=5s")
	require.NoError(t, err)
	defer db.Close() //nolint:errcheck
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, db.PingContext(ctx), "MariaDB is not reachable at %s as root without a password (set %s to another address). "+
		"Start it with `service mariadb start` (or `mysqld_safe &`).", mysqlAddr(), envMySQLAddr)
	name := randomName("perses_test_")
	_, err = db.ExecContext(ctx, "CREATE DATABASE "+name)
	require.NoError(t, err)
	t.Cleanup(func() {
		db, err := sql.Open("mysql", "root@tcp("+mysqlAddr()+")/?timeout=5s")
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer db.Close() //nolint:errcheck
		if _, err := db.Exec("DROP DATABASE IF EXISTS " + name); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return &upstreamConfig.SQL{
		User:          "root",
		Net:           "tcp",
		Addr:          secret.Hidden(mysqlAddr()),
		DBName:        name,
		CaseSensitive: caseSensitive,
	}
}

// exec runs one statement on url, for tests that tamper with the schema.
func exec(t *testing.T, url, statement string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(context.Background()) //nolint:errcheck
	_, err = conn.Exec(ctx, statement, args...)
	require.NoError(t, err, fmt.Sprintf("exec %q", statement))
}
