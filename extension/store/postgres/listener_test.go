package postgres

import (
	"context"
	"testing"
	"time"

	v1 "github.com/perses/perses/pkg/model/api/v1"
	"github.com/stretchr/testify/require"
)

// startListener runs a listener on url and returns the kinds it reports, once it listens.
func startListener(t *testing.T, url string) <-chan string {
	t.Helper()
	kinds := make(chan string, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	report := func(c Change) {
		if !c.Key {
			kinds <- c.Kind
		}
	}
	go func() { done <- NewListener(testConfig(url), report).Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
	})
	requireKind(t, kinds, AllKinds, 5*time.Second)
	return kinds
}

func requireKind(t *testing.T, kinds <-chan string, want string, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case got := <-kinds:
			if got == want {
				return
			}
		case <-deadline:
			require.Failf(t, "no notification", "kind %q not reported within %s", want, within)
		}
	}
}

// TestListenerSeesWritesOfAnotherInstance: a write through one store is reported to a
// listener of another within a second, for creates, updates and deletes of any kind.
func TestListenerSeesWritesOfAnotherInstance(t *testing.T) {
	writer, url := newDAO(t)
	kinds := startListener(t, url)
	writes := []struct {
		kind  v1.Kind
		write func() error
	}{
		{v1.KindDashboard, func() error { return writer.Create(dashboard("p1", "a", "1h")) }},
		{v1.KindDashboard, func() error { return writer.Upsert(dashboard("p1", "a", "2h")) }},
		{v1.KindProject, func() error { return writer.Create(project("p1", "")) }},
		{v1.KindDashboard, func() error { return writer.Delete(v1.KindDashboard, v1.NewProjectMetadata("p1", "a")) }},
		{v1.KindProject, func() error { return writer.DeleteByQuery(mustQuery(t, v1.KindProject, "", "")) }},
	}
	for _, w := range writes {
		require.NoError(t, w.write())
		requireKind(t, kinds, string(w.kind), time.Second)
	}
}

// TestListenerComesBack: when its connection is killed, the listener reconnects, reports
// AllKinds (it may have missed writes) and then reports writes again.
func TestListenerComesBack(t *testing.T) {
	writer, url := newDAO(t)
	kinds := startListener(t, url)
	exec(t, url, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = 'perses-listener'`)
	requireKind(t, kinds, AllKinds, 5*time.Second)
	require.NoError(t, writer.Create(dashboard("p1", "a", "1h")))
	requireKind(t, kinds, string(v1.KindDashboard), time.Second)
}
