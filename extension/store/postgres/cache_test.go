package postgres

import (
	"context"
	"testing"
	"time"

	v1 "github.com/perses/perses/pkg/model/api/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// follow runs a listener that keeps d's cache fresh, waits until it listens, and
// returns the keys it hears of.
func follow(t *testing.T, d *DAO, url string) <-chan Change {
	t.Helper()
	listening := make(chan struct{}, 1)
	keys := make(chan Change, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	l := NewListener(testConfig(url), func(c Change) {
		d.Follow(c)
		if c.Resync {
			listening <- struct{}{}
		}
		if c.Key {
			keys <- c
		}
	}).OnDeaf(d.Deaf)
	go func() { done <- l.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
	})
	select {
	case <-listening:
	case <-time.After(5 * time.Second):
		t.Fatal("the listener did not start listening")
	}
	return keys
}

func cachedDuration(t *testing.T, d *DAO, project, name string) (string, error) {
	t.Helper()
	got := &v1.Dashboard{}
	err := d.Get(v1.KindDashboard, v1.NewProjectMetadata(project, name), got)
	return string(got.Spec.Duration), err
}

// TestCacheFollowsEveryWriter: a replica's cache answers repeated reads, and drops what
// another replica, or anyone with SQL, changes — within a second.
func TestCacheFollowsEveryWriter(t *testing.T) {
	writer, url := newDAO(t)
	reader, err := New(context.Background(), testConfig(url))
	require.NoError(t, err)
	t.Cleanup(func() { _ = reader.Close() })
	keys := follow(t, reader, url)

	require.NoError(t, writer.Create(dashboard("p1", "a", "1h")))
	select { // the create's own notification would drop what the first read caches
	case c := <-keys:
		assert.Equal(t, Change{Kind: "Dashboard", Project: "p1", Name: "a", Key: true}, c)
	case <-time.After(time.Second):
		t.Fatal("no notification of the create within 1s")
	}
	for range 3 {
		got, err := cachedDuration(t, reader, "p1", "a")
		require.NoError(t, err)
		assert.Equal(t, "1h", got)
	}
	hits, misses := reader.CacheStats()
	assert.Equal(t, uint64(2), hits, "the second and third reads come from the cache")
	assert.Equal(t, uint64(1), misses)

	eventually := func(what, want string) {
		t.Helper()
		start := time.Now()
		require.Eventually(t, func() bool {
			got, err := cachedDuration(t, reader, "p1", "a")
			if want == "404" {
				return err != nil
			}
			return err == nil && got == want
		}, time.Second, 5*time.Millisecond, what)
		t.Logf("%s: seen by the other replica after %s", what, time.Since(start))
	}
	require.NoError(t, writer.Upsert(dashboard("p1", "a", "2h")))
	eventually("an update through another DAO", "2h")
	exec(t, url, `UPDATE perses_resource SET doc = jsonb_set(doc, '{spec,duration}', '"3h"') WHERE kind = 'Dashboard' AND name = 'a'`)
	eventually("an update with SQL", "3h")
	require.NoError(t, writer.Delete(v1.KindDashboard, v1.NewProjectMetadata("p1", "a")))
	eventually("a delete", "404")

	// Lists are cached too, and dropped when a document of their project changes.
	listed := func() int {
		docs, err := reader.RawQuery(mustQuery(t, v1.KindDashboard, "p1", ""))
		require.NoError(t, err)
		return len(docs)
	}
	assert.Equal(t, 0, listed())
	hitsBefore, _ := reader.CacheStats()
	assert.Equal(t, 0, listed())
	hitsAfter, _ := reader.CacheStats()
	assert.Equal(t, hitsBefore+1, hitsAfter, "the second list comes from the cache")
	require.NoError(t, writer.Create(dashboard("p1", "c", "1h")))
	require.Eventually(t, func() bool { return listed() == 1 }, time.Second, 5*time.Millisecond, "a create through another DAO is listed")
	require.NoError(t, writer.Create(dashboard("p2", "other", "1h")))
	require.NoError(t, writer.DeleteByQuery(mustQuery(t, v1.KindDashboard, "p1", "")))
	require.Eventually(t, func() bool { return listed() == 0 }, time.Second, 5*time.Millisecond, "a delete by query through another DAO is listed")

	// Its own writes are seen at once, without waiting for a notification.
	require.NoError(t, reader.Create(dashboard("p1", "b", "1h")))
	_, _ = cachedDuration(t, reader, "p1", "b")
	require.NoError(t, reader.Upsert(dashboard("p1", "b", "5h")))
	got, err := cachedDuration(t, reader, "p1", "b")
	require.NoError(t, err)
	assert.Equal(t, "5h", got)
	assert.Equal(t, 1, listed())
	require.NoError(t, reader.Create(dashboard("p1", "d", "1h")))
	assert.Equal(t, 2, listed(), "its own create is listed at once")
}

// Without a listener the cache stays off: nothing tells it what others write.
func TestCacheIsOffWithoutListener(t *testing.T) {
	d, _ := newDAO(t)
	require.NoError(t, d.Create(dashboard("p1", "a", "1h")))
	for range 3 {
		_, err := cachedDuration(t, d, "p1", "a")
		require.NoError(t, err)
	}
	hits, _ := d.CacheStats()
	assert.Zero(t, hits)
	d.Follow(Change{Resync: true})
	d.Deaf()
	_, _ = cachedDuration(t, d, "p1", "a")
	_, _ = cachedDuration(t, d, "p1", "a")
	hits, _ = d.CacheStats()
	assert.Zero(t, hits, "a deaf listener turns the cache off")
}

// A read that raced with a write never puts the old document back.
func TestCacheFillLosesToDrop(t *testing.T) {
	c := newDocCache()
	c.reset(true)
	k := key{kind: "Dashboard", project: "p", name: "a"}
	_, gen, ok := c.get(k)
	require.False(t, ok)
	c.drop(k) // a write lands between the read and the fill
	c.fill(k, []byte(`{"old":true}`), gen)
	_, _, ok = c.get(k)
	assert.False(t, ok, "the stale read was cached")

	_, gen, _ = c.get(k)
	c.fill(k, []byte(`{"new":true}`), gen)
	doc, _, ok := c.get(k)
	require.True(t, ok)
	assert.JSONEq(t, `{"new":true}`, string(doc))
}
