package live

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// backend is a stub QueryFunc that counts the queries and answers a Prometheus matrix.
type backend struct {
	calls atomic.Int64
	mu    sync.Mutex
	forms []url.Values
}

func (b *backend) query(_ context.Context, project, dashboard, datasource, apiPath string, form url.Values) (int, []byte, error) {
	b.calls.Add(1)
	b.mu.Lock()
	b.forms = append(b.forms, form)
	b.mu.Unlock()
	if form.Get("query") == "fail" {
		return 400, []byte(`{"status":"error","errorType":"bad_data","error":"parse error"}`), nil
	}
	return 200, []byte(fmt.Sprintf(`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"q":%q,"p":%q},"values":[[1,"1"]]}]}}`, form.Get("query"), project)), nil
}

// store is a stub LoadFunc over dashboards that tests change.
type store struct {
	mu sync.Mutex
	d  map[string]*Dashboard
}

func (s *store) load(project, name string) (*Dashboard, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.d[project+"/"+name]
	if !ok {
		return nil, ErrNotFound
	}
	c := *d
	return &c, nil
}

func (s *store) put(d *Dashboard) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.d == nil {
		s.d = map[string]*Dashboard{}
	}
	s.d[d.Project+"/"+d.Name] = d
}

func (s *store) remove(project, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.d, project+"/"+name)
}

// threeQueries is a dashboard with two query panels (three Prometheus queries) and a
// Markdown panel.
func threeQueries(version uint64) *Dashboard {
	return &Dashboard{
		Project: "team-a", Name: "d", Version: version, RefreshInterval: 50 * time.Millisecond,
		Panels: []Panel{
			{Key: "cpu", Queries: []Query{{Kind: PrometheusQueryKind, Expr: `rate(cpu{pod="$pod"}[$__rate_interval])`}, {Kind: PrometheusQueryKind, Expr: "mem"}}},
			{Key: "notes"},
			{Key: "up", Queries: []Query{{Kind: PrometheusQueryKind, Expr: "up"}}},
		},
	}
}

func newTestHub(b *backend, s *store) *Hub {
	h := NewHub(b.query, s.load, time.Second, 10*time.Millisecond)
	return h
}

// collect reads batches from sub until n panel batches arrived (or the deadline).
func collect(t *testing.T, sub *Subscription, n int) [][]Event {
	t.Helper()
	var got [][]Event
	deadline := time.After(5 * time.Second)
	for panels := 0; panels < n; {
		select {
		case batch, ok := <-sub.C:
			require.True(t, ok, "subscription closed early")
			got = append(got, batch)
			if batch[0].Type == EventPanel {
				panels++
			}
		case <-deadline:
			t.Fatalf("only %d of %d batches within 5 s", len(got), n)
		}
	}
	return got
}

func TestHubFanOutOneQueryPerPollWhateverTheSubscribers(t *testing.T) {
	const polls = 4
	for _, n := range []int{1, 50} {
		t.Run(fmt.Sprintf("%d subscribers", n), func(t *testing.T) {
			b, s := &backend{}, &store{}
			s.put(threeQueries(1))
			h := newTestHub(b, s)
			key := Key{Project: "team-a", Dashboard: "d", Vars: Canonical(map[string][]string{"pod": {"p1"}})}
			subs := make([]*Subscription, n)
			for i := range subs {
				sub, err := h.Subscribe(key, map[string][]string{"pod": {"p1"}})
				require.NoError(t, err)
				subs[i] = sub
			}
			assert.Equal(t, 1, h.Pollers())
			var wg sync.WaitGroup
			received := make([]int, n)
			for i, sub := range subs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					batches := collect(t, sub, polls)
					received[i] = len(batches)
					// Every batch holds one event per panel with queries, in key order.
					for _, batch := range batches {
						require.Len(t, batch, 2)
						var cpu PanelData
						require.NoError(t, json.Unmarshal(batch[0].Data, &cpu))
						assert.Equal(t, "cpu", cpu.Panel)
						require.Len(t, cpu.Results, 2)
						assert.Equal(t, "success", cpu.Results[0].Status)
						assert.Contains(t, string(cpu.Results[0].Data), `rate(cpu{pod=\"p1\"}[1m])`)
						assert.Equal(t, int64(15), cpu.Results[0].Step)
					}
				}()
			}
			wg.Wait()
			for _, sub := range subs {
				sub.Close()
			}
			assert.Equal(t, 0, h.Pollers(), "the last subscriber leaving stops the poller")
			calls := b.calls.Load()
			// Three queries a poll; the subscribers saw every poll (but a last one in
			// flight when they left): the count does not grow with the subscribers.
			assert.GreaterOrEqual(t, calls, int64(3*polls))
			assert.LessOrEqual(t, calls, int64(3*(polls+2)), "%d queries for %d subscribers", calls, n)
			for i := range received {
				assert.GreaterOrEqual(t, received[i], polls)
			}
			// Stopped: no more queries.
			time.Sleep(150 * time.Millisecond)
			assert.LessOrEqual(t, b.calls.Load(), calls+3)
		})
	}
}

func TestHubKeysAreSeparatePollers(t *testing.T) {
	b, s := &backend{}, &store{}
	s.put(threeQueries(1))
	h := newTestHub(b, s)
	p1 := map[string][]string{"pod": {"p1"}}
	p2 := map[string][]string{"pod": {"p2"}}
	a, err := h.Subscribe(Key{Project: "team-a", Dashboard: "d", Vars: Canonical(p1)}, p1)
	require.NoError(t, err)
	c, err := h.Subscribe(Key{Project: "team-a", Dashboard: "d", Vars: Canonical(p2)}, p2)
	require.NoError(t, err)
	r, err := h.Subscribe(Key{Project: "team-a", Dashboard: "d", Vars: Canonical(p1), Range: 5 * time.Minute}, p1)
	require.NoError(t, err)
	assert.Equal(t, 3, h.Pollers())
	var pd PanelData
	require.NoError(t, json.Unmarshal(collect(t, c, 1)[0][0].Data, &pd))
	assert.Contains(t, string(pd.Results[0].Data), `pod=\"p2\"`)
	require.NoError(t, json.Unmarshal(collect(t, r, 1)[0][0].Data, &pd))
	assert.Equal(t, 5*time.Minute, pd.End.Sub(pd.Start))
	for _, sub := range []*Subscription{a, c, r} {
		sub.Close()
	}
	assert.Equal(t, 0, h.Pollers())
}

func TestHubLateSubscriberGetsTheLatestPollAtOnce(t *testing.T) {
	b, s := &backend{}, &store{}
	d := threeQueries(1)
	d.RefreshInterval = time.Hour // no second poll during the test
	s.put(d)
	h := newTestHub(b, s)
	key := Key{Project: "team-a", Dashboard: "d"}
	first, err := h.Subscribe(key, nil)
	require.NoError(t, err)
	defer first.Close()
	collect(t, first, 1)
	late, err := h.Subscribe(key, nil)
	require.NoError(t, err)
	defer late.Close()
	collect(t, late, 1)
	assert.Equal(t, int64(3), b.calls.Load())
}

func TestHubDropsASlowSubscriber(t *testing.T) {
	b, s := &backend{}, &store{}
	s.put(threeQueries(1))
	h := newTestHub(b, s)
	h.Buffer = 2
	key := Key{Project: "team-a", Dashboard: "d"}
	slow, err := h.Subscribe(key, nil)
	require.NoError(t, err)
	fast, err := h.Subscribe(key, nil)
	require.NoError(t, err)
	defer fast.Close()
	collect(t, fast, 5) // the slow one reads nothing meanwhile
	n := 0
	for range slow.C {
		n++
	}
	reason, detail := slow.Reason()
	assert.Equal(t, ReasonSlow, reason)
	assert.Contains(t, detail, "did not keep up")
	assert.Equal(t, 2, n, "what was buffered is still delivered")
	collect(t, fast, 2) // the others go on
}

func TestHubDashboardChangesAndDeletion(t *testing.T) {
	b, s := &backend{}, &store{}
	d := threeQueries(1)
	d.RefreshInterval = time.Hour // only notifications make it poll again
	s.put(d)
	h := newTestHub(b, s)
	sub, err := h.Subscribe(Key{Project: "team-a", Dashboard: "d"}, nil)
	require.NoError(t, err)
	collect(t, sub, 1)

	// A notification without a change: nothing is sent, nothing queried.
	h.Notify("team-a", "d")
	time.Sleep(100 * time.Millisecond)
	assert.Equal(t, int64(3), b.calls.Load())
	assert.Empty(t, sub.C)

	// A save: the dashboard event, then the new panels' results at once.
	changed := threeQueries(2)
	changed.RefreshInterval = time.Hour
	changed.Panels = changed.Panels[2:]
	s.put(changed)
	h.Notify("team-a", "")
	batches := collect(t, sub, 1)
	require.Len(t, batches, 2)
	assert.Equal(t, EventDashboard, batches[0][0].Type)
	assert.JSONEq(t, `{"project":"team-a","name":"d","version":2,"updatedAt":"0001-01-01T00:00:00Z"}`, string(batches[0][0].Data))
	require.Len(t, batches[1], 1)
	assert.Contains(t, string(batches[1][0].Data), `"panel":"up"`)

	// A deletion: the dashboard event, then the end.
	s.remove("team-a", "d")
	h.Notify("team-a", "d")
	var got []Event
	for batch := range sub.C {
		got = append(got, batch...)
	}
	require.Len(t, got, 1)
	assert.JSONEq(t, `{"project":"team-a","name":"d","deleted":true}`, string(got[0].Data))
	reason, _ := sub.Reason()
	assert.Equal(t, ReasonDeleted, reason)
	assert.Equal(t, 0, h.Pollers())
	sub.Close() // closing an ended subscription is harmless
}

func TestHubVersionCheckOnEveryPoll(t *testing.T) {
	// A save on another replica: no notification here, the poll sees the new version.
	b, s := &backend{}, &store{}
	s.put(threeQueries(1))
	h := newTestHub(b, s)
	sub, err := h.Subscribe(Key{Project: "team-a", Dashboard: "d"}, nil)
	require.NoError(t, err)
	defer sub.Close()
	collect(t, sub, 1)
	s.put(threeQueries(7))
	deadline := time.After(5 * time.Second)
	for {
		select {
		case batch := <-sub.C:
			if batch[0].Type == EventDashboard {
				assert.Contains(t, string(batch[0].Data), `"version":7`)
				return
			}
		case <-deadline:
			t.Fatal("no dashboard event within 5 s")
		}
	}
}

func TestHubQueryResults(t *testing.T) {
	b, s := &backend{}, &store{}
	d := threeQueries(1)
	d.Duration = 24 * time.Hour
	d.Panels = []Panel{{Key: "p", Queries: []Query{
		{Kind: PrometheusQueryKind, Expr: "fail"},
		{Kind: "LokiLogQuery", Expr: "{}"},
		{Kind: PrometheusQueryKind, Expr: "sum(x[$__range])", MinStep: time.Minute},
		{Kind: PrometheusQueryKind, Expr: `x{a="$text"}`},
	}}}
	d.Defaults = map[string][]string{"text": {`bad"`}}
	s.put(d)
	h := newTestHub(b, s)
	h.Now = func() time.Time { return time.Unix(1_700_000_000, 700_000_000) }
	sub, err := h.Subscribe(Key{Project: "team-a", Dashboard: "d"}, nil)
	require.NoError(t, err)
	defer sub.Close()
	var pd PanelData
	require.NoError(t, json.Unmarshal(collect(t, sub, 1)[0][0].Data, &pd))
	require.Len(t, pd.Results, 4)
	assert.Equal(t, Result{Query: 0, Status: "error", Error: "parse error", Step: 346}, pd.Results[0])
	assert.Equal(t, "skipped", pd.Results[1].Status)
	assert.Contains(t, pd.Results[1].Note, `"LokiLogQuery"`)
	assert.Equal(t, "success", pd.Results[2].Status)
	assert.Equal(t, int64(346), pd.Results[2].Step)
	assert.Equal(t, "error", pd.Results[3].Status)
	assert.Contains(t, pd.Results[3].Error, `default value of variable "text"`)
	assert.Equal(t, time.Unix(1_700_000_000, 0).UTC(), pd.End)
	assert.Equal(t, 24*time.Hour, pd.End.Sub(pd.Start))
	b.mu.Lock()
	defer b.mu.Unlock()
	require.Len(t, b.forms, 2)
	for _, f := range b.forms {
		assert.Equal(t, "1700000000", f.Get("end"))
		assert.Equal(t, "1699913600", f.Get("start"))
		assert.Equal(t, "346", f.Get("step"))
	}
}

func TestHubClose(t *testing.T) {
	b, s := &backend{}, &store{}
	s.put(threeQueries(1))
	h := newTestHub(b, s)
	sub, err := h.Subscribe(Key{Project: "team-a", Dashboard: "d"}, nil)
	require.NoError(t, err)
	h.Close()
	for range sub.C {
	}
	reason, _ := sub.Reason()
	assert.Equal(t, ReasonShutdown, reason)
	_, err = h.Subscribe(Key{Project: "team-a", Dashboard: "d"}, nil)
	assert.ErrorIs(t, err, ErrClosed)
}
