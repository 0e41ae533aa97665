//go:build e2e && bench

package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLiveBackendQueries (make bench, not make test) prints the backend queries per
// minute of one live dashboard watched by 1, 10 and 100 streams, from Prometheus' own
// counter of range queries, over whole polls (a 2-query dashboard refreshed every 5 s).
// The target is flat: 24 a minute whatever the number of streams.
func TestLiveBackendQueries(t *testing.T) {
	const polls = 3
	inst := liveServer(t, "    max_streams_per_user: 120\n")
	api := &apiClient{base: inst.url, http: &http.Client{Timeout: 30 * time.Second}}
	api.expect(t, http.StatusOK, http.MethodPost, "/api/v1/projects", projectResource("team-a"))
	api.expect(t, http.StatusOK, http.MethodPost, "/api/v1/projects/team-a/dashboards",
		liveDashboard("team-a", "bench", "5s", "vllm:num_requests_running", `sum(rate(container_cpu_usage_seconds_total[$__rate_interval]))`))
	path := "/api/v1/projects/team-a/dashboards/bench/stream"

	var lines []string
	for _, n := range []int{1, 10, 100} {
		streams := make([]*liveStream, n)
		for i := range streams {
			streams[i] = openStream(t, inst.url, path, "")
			require.Equal(t, http.StatusOK, streams[i].Status, streams[i].Body)
		}
		first := streams[0]
		first.lastPanelOfPoll(t, "p1")
		start := time.Now()
		p0, o0 := prometheusRangeQueries(t), metricSum(t, inst.url, liveQueriesMetric)
		e0 := metricSum(t, inst.url, "perses_openshift_ai_live_events_sent_total", `type="panel"`)
		for range polls {
			first.lastPanelOfPoll(t, "p1")
		}
		elapsed := time.Since(start)
		prom, ours := prometheusRangeQueries(t)-p0, metricSum(t, inst.url, liveQueriesMetric)-o0
		sent := metricSum(t, inst.url, "perses_openshift_ai_live_events_sent_total", `type="panel"`) - e0
		lines = append(lines, fmt.Sprintf("%4d streams: %5.1f backend queries/min (Prometheus: %.0f range queries in %s, %d polls; server: %.0f); %.0f panel events sent",
			n, prom*60/elapsed.Seconds(), prom, elapsed.Round(time.Millisecond), polls, ours, sent))
		for _, s := range streams {
			s.close()
		}
		waitNoStreams(t, inst.url)
	}
	t.Logf("live updates, one 2-query dashboard at a 5 s refresh:\n%s", strings.Join(lines, "\n"))
}
