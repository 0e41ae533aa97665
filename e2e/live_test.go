//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	"github.com/openshift-ai/observability/internal/testenv"
	"github.com/prometheus/prometheus/prompb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The live capability's tests: server-sent events of dashboard changes and panel data
// (extension/live/README.md), against the suite's Prometheus and real servers. They
// are not parallel: the backend query counts are read from Prometheus' own counter,
// which every query of the run increments.

const liveInterval = 5 * time.Second // the dashboards' refreshInterval (the minimum)

// sseEvent is one server-sent event as a client sees it.
type sseEvent struct {
	Type, Data string
	At         time.Time
}

// liveStream is one open stream.
type liveStream struct {
	Status int
	Header http.Header
	Body   string // the answer of a refused stream
	Events <-chan sseEvent
	cancel context.CancelFunc
}

// openStream opens GET path on base (a stream when the answer is 200) and closes it
// when the test ends.
func openStream(t *testing.T, base, path, token string) *liveStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	s := &liveStream{Status: resp.StatusCode, Header: resp.Header, cancel: cancel}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		s.Body = string(body)
		return s
	}
	events := make(chan sseEvent, 4096)
	s.Events = events
	go func() {
		defer resp.Body.Close()
		defer close(events)
		r := bufio.NewReader(resp.Body)
		var ev sseEvent
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "" && ev.Type != "":
				ev.At = time.Now()
				events <- ev
				ev = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.Type = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.Data = strings.TrimPrefix(line, "data: ")
			case strings.HasPrefix(line, "retry: "):
				ev.Type, ev.Data = "retry", strings.TrimPrefix(line, "retry: ")
			}
		}
	}()
	return s
}

// close ends the stream from the client's side.
func (s *liveStream) close() { s.cancel() }

// next waits for the next event of type typ for which match (when given) is true; it
// fails the test when the stream ends or nothing comes within timeout.
func (s *liveStream) next(t *testing.T, typ string, timeout time.Duration, match func(sseEvent) bool) sseEvent {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-s.Events:
			require.Truef(t, ok, "the stream ended before a %s event", typ)
			if ev.Type == typ && (match == nil || match(ev)) {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s event within %s", typ, timeout)
		}
	}
}

// ended waits until the stream ends and returns its last events.
func (s *liveStream) ended(t *testing.T, timeout time.Duration) []sseEvent {
	t.Helper()
	var got []sseEvent
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-s.Events:
			if !ok {
				return got
			}
			got = append(got, ev)
		case <-deadline:
			t.Fatalf("the stream did not end within %s (last events %v)", timeout, got)
		}
	}
}

// lastPanelOfPoll reads events until the panel event of the dashboard's last panel key
// (the end of a poll's batch), and returns its time.
func (s *liveStream) lastPanelOfPoll(t *testing.T, lastKey string) string {
	t.Helper()
	ev := s.next(t, "panel", 3*liveInterval, func(ev sseEvent) bool { return strings.Contains(ev.Data, `"panel":"`+lastKey+`"`) })
	return regexp.MustCompile(`"time":"([^"]+)"`).FindStringSubmatch(ev.Data)[1]
}

// promQuery is a PrometheusTimeSeriesQuery through the project's default datasource.
func promQuery(query string) object {
	return object{"kind": "TimeSeriesQuery", "spec": object{"plugin": object{
		"kind": "PrometheusTimeSeriesQuery",
		"spec": object{"datasource": object{"kind": "PrometheusDatasource"}, "query": query},
	}}}
}

// liveDashboard has one TimeSeriesChart panel per query, keyed p0, p1, …
func liveDashboard(project, name, refresh string, queries ...string) object {
	panels := object{}
	var items []any
	for i, q := range queries {
		key := fmt.Sprintf("p%d", i)
		panels[key] = object{"kind": "Panel", "spec": object{
			"display": object{"name": key},
			"plugin":  object{"kind": "TimeSeriesChart", "spec": object{}},
			"queries": []any{promQuery(q)},
		}}
		items = append(items, object{"x": 0, "y": 4 * i, "width": 12, "height": 4, "content": object{"$ref": "#/spec/panels/" + key}})
	}
	return object{
		"kind":     "Dashboard",
		"metadata": object{"name": name, "project": project},
		"spec": object{
			"display": object{"name": name}, "duration": "1h", "refreshInterval": refresh,
			"panels": panels, "layouts": []any{object{"kind": "Grid", "spec": object{"items": items}}},
		},
	}
}

// ensureProject creates a project unless it exists; one it created is deleted when the
// test ends.
func ensureProject(t *testing.T, c *apiClient, name string) {
	t.Helper()
	r := c.do(t, http.MethodPost, "/api/v1/projects", projectResource(name))
	switch r.Status {
	case http.StatusOK:
		t.Cleanup(func() { c.do(t, http.MethodDelete, "/api/v1/projects/"+name, nil) })
	case http.StatusConflict:
	default:
		t.Fatalf("POST project %s: %s", name, r)
	}
}

// pushSample writes one sample to Prometheus with its remote-write receiver.
func pushSample(t *testing.T, promURL string, labels map[string]string, value float64, at time.Time) {
	t.Helper()
	ts := prompb.TimeSeries{Samples: []prompb.Sample{{Value: value, Timestamp: at.UnixMilli()}}}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		ts.Labels = append(ts.Labels, prompb.Label{Name: k, Value: labels[k]})
	}
	data, err := (&prompb.WriteRequest{Timeseries: []prompb.TimeSeries{ts}}).Marshal()
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, promURL+"/api/v1/write", bytes.NewReader(snappy.Encode(nil, data)))
	require.NoError(t, err)
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equalf(t, http.StatusNoContent, resp.StatusCode, "remote write: %s", body)
}

// metricSum reads base/metrics and sums the samples of name whose labels contain every
// one of labels.
func metricSum(t *testing.T, base, name string, labels ...string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `(\{[^}]*\})? ([0-9.e+-]+)$`)
	total := 0.0
	for _, m := range re.FindAllStringSubmatch(string(body), -1) {
		keep := true
		for _, l := range labels {
			keep = keep && strings.Contains(m[1], l)
		}
		if !keep {
			continue
		}
		v, err := strconv.ParseFloat(m[2], 64)
		require.NoError(t, err)
		total += v
	}
	return total
}

// prometheusRangeQueries is how many range queries the test Prometheus has answered.
func prometheusRangeQueries(t *testing.T) float64 {
	t.Helper()
	return metricSum(t, prometheusURL(t), "prometheus_http_requests_total", `handler="/api/v1/query_range"`)
}

const (
	liveQueriesMetric = "perses_openshift_ai_live_backend_queries_total"
	liveOpenMetric    = "perses_openshift_ai_live_streams_open"
	livePollersMetric = "perses_openshift_ai_live_pollers"
)

// waitNoStreams waits until base has no stream open and no poller running (the
// server notices closed clients asynchronously).
func waitNoStreams(t *testing.T, base string) {
	t.Helper()
	require.Eventually(t, func() bool {
		return metricSum(t, base, liveOpenMetric) == 0 && metricSum(t, base, livePollersMetric) == 0
	}, 10*time.Second, 50*time.Millisecond, "streams or pollers still running on %s", base)
}

// liveServer starts a server of the test's own (on PostgreSQL in the PostgreSQL pass)
// with the live settings given (YAML under openshift_ai.live, indented by four spaces).
func liveServer(t *testing.T, live string) *persesInstance {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "perses-e2e-live-")
	require.NoError(t, err)
	databaseURL := ""
	if shared.store == storePostgres {
		databaseURL, err = createDatabase(filepath.Base(dir))
		require.NoError(t, err)
		t.Cleanup(func() { dropDatabase(filepath.Base(dir)) })
	}
	return launchForTest(t, dir, databaseURL, launchOptions{openshiftAI: "  live:\n" + live})
}

// TestLivePanelShowsAPushedSample: a sample pushed to Prometheus is in a panel event
// within two intervals.
func TestLivePanelShowsAPushedSample(t *testing.T) {
	api := newAPIClient(t)
	ensureProject(t, api, "team-a")
	metric := strings.ReplaceAll(uniqueName(t, "live_e2e"), "-", "_")
	name := uniqueName(t, "live")
	createIn(t, api, "/api/v1/projects/team-a/dashboards", name, liveDashboard("team-a", name, "5s", metric))

	s := openStream(t, serverURL(t), "/api/v1/projects/team-a/dashboards/"+name+"/stream", "")
	require.Equal(t, http.StatusOK, s.Status, s.Body)
	assert.Equal(t, "text/event-stream; charset=utf-8", s.Header.Get("Content-Type"))
	assert.Equal(t, "no-cache", s.Header.Get("Cache-Control"))
	assert.Equal(t, "no", s.Header.Get("X-Accel-Buffering"))
	assert.Empty(t, s.Header.Get("Content-Encoding"))
	retry := s.next(t, "retry", 5*time.Second, nil)
	assert.Equal(t, "5000", retry.Data)
	first := s.next(t, "panel", 2*liveInterval, nil)
	assert.Contains(t, first.Data, `"panel":"p0"`)
	assert.Contains(t, first.Data, `"status":"success"`)
	assert.Contains(t, first.Data, `"result":[]`, "the metric has no sample yet")

	// The sample, and one of another namespace the panel must not show.
	pushed := time.Now()
	pushSample(t, prometheusURL(t), map[string]string{"__name__": metric, "namespace": "team-b", "pod": "other"}, 7, pushed)
	pushSample(t, prometheusURL(t), map[string]string{"__name__": metric, "namespace": "team-a", "pod": "live"}, 42, pushed)
	ev := s.next(t, "panel", 2*liveInterval, func(ev sseEvent) bool { return strings.Contains(ev.Data, `"42"`) })
	t.Logf("a pushed sample reached a panel event %s after the push (interval %s)", ev.At.Sub(pushed).Round(time.Millisecond), liveInterval)
	assert.Contains(t, ev.Data, `"namespace":"team-a"`)
	assert.NotContains(t, ev.Data, `"team-b"`, "the query was confined to the project's namespace")
	assert.Contains(t, ev.Data, `"resultType":"matrix"`)
	s.close()
}

// TestLiveOneBackendQueryPerIntervalWhateverTheSubscribers: 50 streams of one dashboard
// cost Prometheus what one does.
func TestLiveOneBackendQueryPerIntervalWhateverTheSubscribers(t *testing.T) {
	const polls = 2
	inst := liveServer(t, "    max_streams_per_user: 60\n")
	api := &apiClient{base: inst.url, http: &http.Client{Timeout: 30 * time.Second}}
	api.expect(t, http.StatusOK, http.MethodPost, "/api/v1/projects", projectResource("team-a"))
	api.expect(t, http.StatusOK, http.MethodPost, "/api/v1/projects/team-a/dashboards",
		liveDashboard("team-a", "fanout", "5s", "vllm:num_requests_running", `sum(rate(container_cpu_usage_seconds_total[$__rate_interval]))`))
	path := "/api/v1/projects/team-a/dashboards/fanout/stream"

	// measure counts the queries of `polls` whole polls, seen by s, and returns the
	// time of the last one.
	measure := func(s *liveStream) (prom, ours float64, last string) {
		s.lastPanelOfPoll(t, "p1")
		p0, o0 := prometheusRangeQueries(t), metricSum(t, inst.url, liveQueriesMetric)
		for range polls {
			last = s.lastPanelOfPoll(t, "p1")
		}
		return prometheusRangeQueries(t) - p0, metricSum(t, inst.url, liveQueriesMetric) - o0, last
	}

	one := openStream(t, inst.url, path, "")
	require.Equal(t, http.StatusOK, one.Status, one.Body)
	prom1, ours1, _ := measure(one)

	streams := []*liveStream{one}
	for range 49 {
		s := openStream(t, inst.url, path, "")
		require.Equal(t, http.StatusOK, s.Status, s.Body)
		streams = append(streams, s)
	}
	assert.Equal(t, 50.0, metricSum(t, inst.url, liveOpenMetric))
	assert.Equal(t, 1.0, metricSum(t, inst.url, livePollersMetric))
	prom50, ours50, want := measure(one)
	// Every stream got the same polls: the last one measured is in each.
	for _, s := range streams[1:] {
		s.next(t, "panel", 3*liveInterval, func(ev sseEvent) bool {
			return strings.Contains(ev.Data, `"panel":"p1"`) && strings.Contains(ev.Data, `"time":"`+want+`"`)
		})
	}

	t.Logf("over %d polls of a 2-query dashboard: 1 stream: %.0f Prometheus range queries (%.0f counted by the server); 50 streams: %.0f (%.0f)", polls, prom1, ours1, prom50, ours50)
	assert.Equal(t, float64(2*polls), ours1)
	assert.Equal(t, ours1, ours50)
	assert.Equal(t, float64(2*polls), prom1)
	assert.Equal(t, prom1, prom50)
	for _, s := range streams {
		s.close()
	}
	waitNoStreams(t, inst.url)
}

// TestLiveStreamClosesWhenAccessIsRevoked: alice's RoleBinding deleted, her stream ends
// with a reason within allow_ttl and two intervals.
func TestLiveStreamClosesWhenAccessIsRevoked(t *testing.T) {
	const allowTTL = 2 * time.Second
	ctx := context.Background()
	k, err := testenv.StartKube(ctx, testenv.KubeOptions{})
	require.NoError(t, err, "the live access test needs kube-apiserver, etcd and kube-controller-manager: run `make tools`")
	t.Cleanup(func() { _ = k.Stop() })
	require.NoError(t, k.CreateNamespaces(ctx, "team-a", "perses"))
	applyManifests(t, k, "rbac-users.yaml", "rbac-server.yaml")
	binding, err := k.Admin.RbacV1().RoleBindings("team-a").Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "alice-views-team-a", Namespace: "team-a"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
		Subjects:   []rbacv1.Subject{testenv.UserSubject("alice")},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	allowed := func() bool {
		res, err := k.Admin.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{User: "alice", Groups: k.Groups("alice"), ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: "team-a", Verb: "get", Group: "perses.openshift.io", Resource: "dashboards",
			}},
		}, metav1.CreateOptions{})
		require.NoError(t, err)
		return res.Status.Allowed
	}
	require.Eventually(t, allowed, 30*time.Second, 200*time.Millisecond, "perses-viewer was not aggregated into view")

	dir, kubeconfig := serverKubeconfig(t, k, "live-access")
	inst := launchForTest(t, dir, "", launchOptions{openshiftAI: fmt.Sprintf(`  kubernetes:
    kubeconfig: %q
  identity:
    token_review:
      enabled: true
  access:
    projects: kubernetes
    allow_ttl: %s
`, kubeconfig, allowTTL)})
	admin := &apiClient{base: inst.url, http: &http.Client{Timeout: 30 * time.Second}, token: k.Token("admin")}
	admin.expect(t, http.StatusOK, http.MethodPost, "/api/v1/projects/team-a/dashboards", liveDashboard("team-a", "watched", "5s", "vllm:num_requests_running"))
	path := "/api/v1/projects/team-a/dashboards/watched/stream"

	// Without credentials, and for bob (no right in team-a): refused before any stream.
	assert.Equal(t, http.StatusUnauthorized, openStream(t, inst.url, path, "").Status)
	assert.Equal(t, http.StatusForbidden, openStream(t, inst.url, path, k.Token("bob")).Status)

	s := openStream(t, inst.url, path, k.Token("alice"))
	require.Equal(t, http.StatusOK, s.Status, s.Body)
	ev := s.next(t, "panel", 2*liveInterval, nil)
	assert.Contains(t, ev.Data, `"3"`, "alice sees team-a's backfilled series")

	require.NoError(t, k.Admin.RbacV1().RoleBindings("team-a").Delete(ctx, binding.Name, metav1.DeleteOptions{}))
	revoked := time.Now()
	require.Eventually(t, func() bool { return !allowed() }, 5*time.Second, 50*time.Millisecond)
	last := s.ended(t, allowTTL+2*liveInterval+2*time.Second)
	took := time.Since(revoked)
	require.NotEmpty(t, last)
	end := last[len(last)-1]
	assert.Equal(t, "close", end.Type)
	assert.Contains(t, end.Data, `"reason":"access"`)
	assert.Contains(t, end.Data, `alice may no longer read dashboards in project \"team-a\"`)
	t.Logf("the stream closed %s after the RoleBinding was deleted (allow_ttl %s, interval %s)", took.Round(time.Millisecond), allowTTL, liveInterval)
	assert.LessOrEqual(t, took, allowTTL+2*liveInterval)
	// And a new stream is refused.
	assert.Equal(t, http.StatusForbidden, openStream(t, inst.url, path, k.Token("alice")).Status)
}

// TestLiveStreamLimitPerUser: the 11th stream of a user is refused with 429.
func TestLiveStreamLimitPerUser(t *testing.T) {
	base := serverURL(t)
	api := newAPIClient(t)
	ensureProject(t, api, "team-a")
	name := uniqueName(t, "live")
	createIn(t, api, "/api/v1/projects/team-a/dashboards", name, liveDashboard("team-a", name, "5s", "up"))
	waitNoStreams(t, base)
	path := "/api/v1/projects/team-a/dashboards/" + name + "/stream"
	var streams []*liveStream
	for range 10 {
		s := openStream(t, base, path, "")
		require.Equal(t, http.StatusOK, s.Status, s.Body)
		streams = append(streams, s)
	}
	refused0 := metricSum(t, base, "perses_openshift_ai_live_streams_refused_total", `reason="limit"`)
	eleventh := openStream(t, base, path, "")
	assert.Equal(t, http.StatusTooManyRequests, eleventh.Status)
	assert.Contains(t, eleventh.Body, "10 live streams open")
	assert.Contains(t, eleventh.Body, "openshift_ai.live.max_streams_per_user")
	assert.Equal(t, refused0+1, metricSum(t, base, "perses_openshift_ai_live_streams_refused_total", `reason="limit"`))
	// A stream closed gives its place back.
	streams[0].close()
	require.Eventually(t, func() bool { return metricSum(t, base, liveOpenMetric) == 9 }, 10*time.Second, 50*time.Millisecond)
	again := openStream(t, base, path, "")
	assert.Equal(t, http.StatusOK, again.Status, again.Body)
	for _, s := range append(streams, again) {
		s.close()
	}
	waitNoStreams(t, base)
}

// TestLiveDashboardEvents: a PUT is a dashboard event at once (not at the next poll),
// followed by the new panels' data; a DELETE ends the stream.
func TestLiveDashboardEvents(t *testing.T) {
	base := serverURL(t)
	api := newAPIClient(t)
	ensureProject(t, api, "team-a")
	name := uniqueName(t, "live")
	col := "/api/v1/projects/team-a/dashboards"
	// A long refresh: only the server's notification can explain a prompt event.
	api.expect(t, http.StatusOK, http.MethodPost, col, liveDashboard("team-a", name, "1h", "vllm:num_requests_running"))
	t.Cleanup(func() { api.do(t, http.MethodDelete, col+"/"+name, nil) })

	// Bad requests are refused before any stream, with the variable named.
	bad := openStream(t, base, col+"/"+name+"/stream?var-model="+url.QueryEscape(`m1"} or up{x="`), "")
	assert.Equal(t, http.StatusBadRequest, bad.Status)
	assert.Contains(t, bad.Body, `variable \"model\"`)
	assert.Equal(t, http.StatusBadRequest, openStream(t, base, col+"/"+name+"/stream?refresh=1s", "").Status)
	assert.Equal(t, http.StatusNotFound, openStream(t, base, col+"/nope/stream", "").Status)

	s := openStream(t, base, col+"/"+name+"/stream", "")
	require.Equal(t, http.StatusOK, s.Status, s.Body)
	s.next(t, "panel", 2*liveInterval, nil)

	var current struct {
		Metadata struct {
			Version uint64 `json:"version"`
		} `json:"metadata"`
	}
	api.expect(t, http.StatusOK, http.MethodGet, col+"/"+name, nil).decode(t, &current)
	updated := liveDashboard("team-a", name, "1h", "vllm:num_requests_running", "vllm:num_requests_waiting")
	saved := time.Now()
	api.expect(t, http.StatusOK, http.MethodPut, col+"/"+name, updated)
	ev := s.next(t, "dashboard", 3*time.Second, nil)
	t.Logf("the dashboard event came %s after the PUT", ev.At.Sub(saved).Round(time.Millisecond))
	assert.Contains(t, ev.Data, `"project":"team-a"`)
	assert.Contains(t, ev.Data, `"name":"`+name+`"`)
	assert.Contains(t, ev.Data, fmt.Sprintf(`"version":%d`, current.Metadata.Version+1))
	assert.Contains(t, ev.Data, `"updatedAt":"`)
	p1 := s.next(t, "panel", 3*time.Second, func(ev sseEvent) bool { return strings.Contains(ev.Data, `"panel":"p1"`) })
	assert.Contains(t, p1.Data, `"1"`, "the new panel's query ran (team-a's waiting requests end at 1)")

	api.expect(t, http.StatusNoContent, http.MethodDelete, col+"/"+name, nil)
	last := s.ended(t, 3*time.Second)
	require.Len(t, last, 2, "%v", last)
	assert.Equal(t, "dashboard", last[0].Type)
	assert.JSONEq(t, fmt.Sprintf(`{"project":"team-a","name":%q,"deleted":true}`, name), last[0].Data)
	assert.Equal(t, "close", last[1].Type)
	assert.Contains(t, last[1].Data, `"reason":"deleted"`)
}
