package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/openshift-ai/observability/extension/store/postgres"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testDatabase is a fresh database on the test PostgreSQL (PERSES_TEST_POSTGRES_URL, as
// the store's tests), migrated up, dropped at the end.
func testDatabase(t *testing.T) string {
	t.Helper()
	admin := os.Getenv("PERSES_TEST_POSTGRES_URL")
	if admin == "" {
		admin = "postgresql://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	require.NoError(t, err, "PostgreSQL is not reachable (set PERSES_TEST_POSTGRES_URL; `make deps` starts the machine's)")
	defer conn.Close(context.Background()) //nolint:errcheck
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "perses_audit_test_" + hex.EncodeToString(b)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+name)
	require.NoError(t, err)
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), admin)
		if err == nil {
			_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			_ = c.Close(context.Background())
		}
	})
	u, err := url.Parse(admin)
	require.NoError(t, err)
	u.Path = "/" + name
	require.NoError(t, postgres.Migrate(ctx, u.String(), "up"))
	return u.String()
}

func TestPostgresWritesAndPages(t *testing.T) {
	p, err := NewPostgres(testDatabase(t), 5*time.Second, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(p.Close)
	ctx := context.Background()
	base := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	for i := range 25 {
		r := Record{
			// Pairs of records share a time: paging must still neither skip nor repeat.
			Time: base.Add(time.Duration(i/2) * time.Second), User: "alice", Groups: []string{"team-a"}, Project: "team-a",
			Action: "POST /api/v1/projects/:project/dashboards", Kind: "Dashboard", Name: "d", Status: 200, RequestID: hex.EncodeToString([]byte{byte(i)}),
		}
		if i%2 == 1 {
			r.User, r.Project, r.Action, r.Groups = "bob", "team-b", "DELETE /api/v1/projects/:project/dashboards/:name", nil
		}
		require.NoError(t, p.Write(ctx, r))
	}
	all := func(q Query) []Record {
		var out []Record
		for range 100 {
			page, err := p.Read(ctx, q)
			require.NoError(t, err)
			require.LessOrEqual(t, len(page.Items), q.Limit)
			out = append(out, page.Items...)
			if page.Continue == "" {
				return out
			}
			q.Continue = page.Continue
		}
		t.Fatal("paging does not end")
		return nil
	}
	got := all(Query{Limit: 4})
	require.Len(t, got, 25)
	seen := map[string]bool{}
	for i, r := range got {
		assert.False(t, seen[r.RequestID], "record %s repeated", r.RequestID)
		seen[r.RequestID] = true
		if i > 0 {
			assert.False(t, r.Time.After(got[i-1].Time), "newest first")
		}
	}
	assert.Equal(t, all(Query{Limit: 1000}), got)
	assert.Len(t, all(Query{Limit: 5, Project: "team-b"}), 12)
	assert.Len(t, all(Query{Limit: 5, User: "alice"}), 13)
	assert.Len(t, all(Query{Limit: 5, Action: "DELETE"}), 12)
	assert.Len(t, all(Query{Limit: 5, Action: "POST /api/v1/projects/:project/dashboards"}), 13)
	assert.Len(t, all(Query{Limit: 5, Since: base.Add(2 * time.Second), Until: base.Add(4 * time.Second)}), 4)
	bob := all(Query{Limit: 1, User: "bob"})
	assert.Equal(t, []string{}, bob[0].Groups)

	for _, token := range []string{"%%%", encodeToken(rowCursor{}), "eyJ9"} {
		_, err := p.Read(ctx, Query{Limit: 3, Continue: token})
		assert.ErrorIs(t, err, ErrBadQuery, token)
	}
}
