package postgres

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func migrateCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// tables lists this package's tables and the migrate CLI's in the database.
func tables(t *testing.T, url string) []string {
	t.Helper()
	ctx := migrateCtx(t)
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(context.Background()) //nolint:errcheck
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() ORDER BY table_name`)
	require.NoError(t, err)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return names
}

func TestMigrateUpDownUp(t *testing.T) {
	url := newDatabase(t)
	ctx := migrateCtx(t)
	latest, err := LatestVersion()
	require.NoError(t, err)
	require.Equal(t, uint(3), latest)

	steps := []struct {
		direction   string
		wantVersion uint
		wantTables  []string
	}{
		{"up", latest, []string{"perses_audit", "perses_change", "perses_resource", "schema_migrations"}},
		{"up", latest, []string{"perses_audit", "perses_change", "perses_resource", "schema_migrations"}}, // no change
		{"down", 0, []string{"schema_migrations"}},
		{"down", 0, []string{"schema_migrations"}}, // no change
		{"up", latest, []string{"perses_audit", "perses_change", "perses_resource", "schema_migrations"}},
	}
	version, dirty, err := Version(ctx, url)
	require.NoError(t, err)
	assert.Equal(t, uint(0), version)
	assert.False(t, dirty)
	for i, s := range steps {
		require.NoError(t, Migrate(ctx, url, s.direction), "step %d: %s", i, s.direction)
		version, dirty, err := Version(ctx, url)
		require.NoError(t, err)
		assert.Equal(t, s.wantVersion, version, "step %d: %s", i, s.direction)
		assert.False(t, dirty)
		assert.Equal(t, s.wantTables, tables(t, url), "step %d: %s", i, s.direction)
	}
	require.Error(t, Migrate(ctx, url, "sideways"))
}

// TestMigrationsTableIsMigrateCLIs checks the shape the migrate CLI reads.
func TestMigrationsTableIsMigrateCLIs(t *testing.T) {
	url := newDatabase(t)
	ctx := migrateCtx(t)
	require.NoError(t, Migrate(ctx, url, "up"))
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(context.Background()) //nolint:errcheck
	rows, err := conn.Query(ctx, `SELECT column_name || ' ' || data_type FROM information_schema.columns
		WHERE table_name = 'schema_migrations' ORDER BY ordinal_position`)
	require.NoError(t, err)
	columns, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	assert.Equal(t, []string{"version bigint", "dirty boolean"}, columns)
	var version int64
	var dirty bool
	require.NoError(t, conn.QueryRow(ctx, "SELECT version, dirty FROM schema_migrations").Scan(&version, &dirty))
	assert.Equal(t, int64(3), version)
	assert.False(t, dirty)
}

// TestConcurrentInitMigratesOnce starts several stores on one empty database at once, as
// replicas do: each must start, the schema must be migrated once (a second run of the
// initial migration would fail on its CREATE TABLE).
func TestConcurrentInitMigratesOnce(t *testing.T) {
	url := newDatabase(t)
	const replicas = 4
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := New(context.Background(), testConfig(url))
			if err != nil {
				errs[i] = err
				return
			}
			defer d.Close() //nolint:errcheck
			<-start
			errs[i] = d.Init()
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		assert.NoError(t, err, "replica %d", i)
	}
	version, dirty, err := Version(migrateCtx(t), url)
	require.NoError(t, err)
	assert.Equal(t, uint(3), version)
	assert.False(t, dirty)
}

func TestStartRefusesSchemaItCannotUse(t *testing.T) {
	cases := []struct {
		name    string
		tamper  string
		wantErr []string
	}{
		{
			name:    "dirty",
			tamper:  "UPDATE schema_migrations SET dirty = true",
			wantErr: []string{"dirty at version 3", "force 3"},
		},
		{
			name:    "newer than this binary",
			tamper:  "UPDATE schema_migrations SET version = 42",
			wantErr: []string{"version 42", "newer than version 3"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, url := newDAO(t)
			exec(t, url, c.tamper)
			err := d.Init()
			require.Error(t, err)
			for _, w := range c.wantErr {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotErrorIs(t, err, ErrUnavailable)
			// Nothing was changed: the schema still says what it said.
			err = Migrate(migrateCtx(t), url, "down")
			require.Error(t, err)
			assert.Equal(t, []string{"perses_audit", "perses_change", "perses_resource", "schema_migrations"}, tables(t, url))
		})
	}
}
