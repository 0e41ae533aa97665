package postgres

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/openshift-ai/observability/extension/config"
	v1 "github.com/perses/perses/pkg/model/api/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// silentPort returns a loopback address that accepts connections and never answers, as a
// host that vanished behind a firewall would.
func silentPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return l.Addr().String()
}

// TestUnreachable: every call on a store whose PostgreSQL cannot be reached returns
// ErrUnavailable within the connect timeout (plus scheduling slack), names PostgreSQL, and
// never shows the password.
func TestUnreachable(t *testing.T) {
	const connectTimeout = 500 * time.Millisecond
	const slack = 500 * time.Millisecond
	for _, server := range []struct {
		name string
		addr func(*testing.T) string
	}{
		{"refused", closedPort},
		{"silent", silentPort},
	} {
		t.Run(server.name, func(t *testing.T) {
			cfg := config.Postgres{
				URL:              config.Secret("postgresql://perses:hunter2@" + server.addr(t) + "/perses?sslmode=disable"),
				MaxConns:         16, // the calls run in parallel: none waits for a pool slot
				StatementTimeout: config.Duration(time.Second),
				ConnectTimeout:   config.Duration(connectTimeout),
			}
			start := time.Now()
			d, err := New(context.Background(), cfg)
			require.NoError(t, err, "New does not connect")
			defer d.Close() //nolint:errcheck
			assert.Less(t, time.Since(start), slack)

			calls := map[string]func() error{
				"Create": func() error { return d.Create(dashboard("p1", "a", "1h")) },
				"Upsert": func() error { return d.Upsert(dashboard("p1", "a", "1h")) },
				"Get":    func() error { return d.Get(v1.KindDashboard, v1.NewProjectMetadata("p1", "a"), &v1.Dashboard{}) },
				"Query": func() error {
					var out []*v1.Dashboard
					return d.Query(mustQuery(t, v1.KindDashboard, "p1", ""), &out)
				},
				"RawQuery": func() error {
					_, err := d.RawQuery(mustQuery(t, v1.KindDashboard, "p1", ""))
					return err
				},
				"RawMetadataQuery": func() error {
					_, err := d.RawMetadataQuery(mustQuery(t, v1.KindDashboard, "p1", ""), v1.KindDashboard)
					return err
				},
				"Delete":        func() error { return d.Delete(v1.KindDashboard, v1.NewProjectMetadata("p1", "a")) },
				"DeleteByQuery": func() error { return d.DeleteByQuery(mustQuery(t, v1.KindDashboard, "p1", "")) },
				"GetLatestUpdateTime": func() error {
					_, err := d.GetLatestUpdateTime([]v1.Kind{v1.KindDashboard})
					return err
				},
				"Init": d.Init,
			}
			t.Run("calls", func(t *testing.T) { // returns once its parallel calls are done
				for name, call := range calls {
					t.Run(name, func(t *testing.T) {
						t.Parallel()
						start := time.Now()
						err := call()
						elapsed := time.Since(start)
						require.Error(t, err)
						assert.ErrorIs(t, err, ErrUnavailable)
						assert.Contains(t, err.Error(), "PostgreSQL")
						assert.NotContains(t, err.Error(), "hunter2")
						assert.Less(t, elapsed, connectTimeout+slack, "took %s", elapsed)
					})
				}
			})
			t.Run("HealthCheck", func(t *testing.T) {
				start := time.Now()
				assert.False(t, d.HealthCheck())
				assert.Less(t, time.Since(start), connectTimeout+slack)
			})
		})
	}
}

// TestStatementTimeout: a statement stuck behind a lock ends at the statement timeout,
// as ErrUnavailable.
func TestStatementTimeout(t *testing.T) {
	_, url := newDAO(t)
	cfg := testConfig(url)
	cfg.StatementTimeout = config.Duration(300 * time.Millisecond)
	d, err := New(context.Background(), cfg)
	require.NoError(t, err)
	defer d.Close() //nolint:errcheck
	require.NoError(t, d.Create(dashboard("p1", "a", "1h")))

	ctx := migrateCtx(t)
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(context.Background()) //nolint:errcheck
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(context.Background()) //nolint:errcheck
	_, err = tx.Exec(ctx, "SELECT 1 FROM perses_resource FOR UPDATE")
	require.NoError(t, err)

	start := time.Now()
	err = d.Upsert(dashboard("p1", "a", "2h"))
	assert.ErrorIs(t, err, ErrUnavailable)
	assert.Less(t, time.Since(start), 3*time.Second)
}

// TestRecoversAfterConnectionsDrop: when PostgreSQL drops every connection of the pool
// (as on a restart), the next calls succeed on new connections.
func TestRecoversAfterConnectionsDrop(t *testing.T) {
	d, url := newDAO(t)
	require.NoError(t, d.Create(dashboard("p1", "a", "1h")))
	exec(t, url, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = 'perses'`)
	got := &v1.Dashboard{}
	require.NoError(t, d.Get(v1.KindDashboard, v1.NewProjectMetadata("p1", "a"), got))
	assert.True(t, d.HealthCheck())
}
