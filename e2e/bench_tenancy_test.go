//go:build e2e && bench

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openshift-ai/observability/extension/tenancy"
	"github.com/stretchr/testify/require"
)

// benchQueries are what a team-a dashboard asks, unconfined. GPU (DCGM) metrics are
// left out: we confine them on exported_namespace, prom-label-proxy on namespace, so the
// peers would rightly disagree.
var benchQueries = []string{
	`sum by (model_name) (rate(vllm:request_success_total[5m]))`,
	`vllm:num_requests_running`,
	`sum by (pod) (rate(container_cpu_usage_seconds_total[5m]))`,
	`avg_over_time(container_memory_working_set_bytes[5m])`,
}

// TestTenancyProxyThroughput (make bench, not make test) measures query latency and
// throughput, in one run, of three peers answering the same team-a queries: Prometheus
// itself given the already confined queries, prom-label-proxy (-error-on-replace) and
// our datasource proxy (/proxy/projects/team-a/datasources/prometheus) given them
// unconfined. Two workloads: instant queries (time pinned) and 1 h range queries (step
// 15 s). 16 concurrent connections, a warm-up, then rounds in which the peers take turns
// (the first peer rotates), so drift of this shared machine falls on all of them.
// Nothing is asserted about speed; every answer must be 200 and equal to the direct one.
//
// The table also gives the CPU time per request of the load generator (this process),
// Prometheus and the proxy, from /proc: on a shared machine a steadier figure than
// throughput, and the proxy's own cost.
//
// Environment: BENCH_SECONDS (per peer, workload and round; default 5), BENCH_ROUNDS
// (default 3), BENCH_CONNS (default 16; 1 shows a hop's latency without queueing), BENCH_WARMUP (seconds, default 2), BENCH_CPUPROFILE=<dir> (then our
// server runs with --pprof, and CPU profiles of it under each workload's load and its
// allocation profile are written to <dir>/ours-<workload>.pprof, <dir>/ours-allocs.pprof;
// BENCH_PROFILE_SECONDS, default BENCH_SECONDS, is how long each CPU profile lasts),
// BENCH_FLOOR=1 (one more peer: a bare Go reverse proxy in this process given the
// confined queries, the floor of any proxy hop; its CPU counts as the client's),
// BENCH_COMPARE_BIN=<perses binary> (one more peer: our proxy on a server of that
// binary, to compare two builds in one run),
// PROM_LABEL_PROXY_BIN (default ../build/tools/prom-label-proxy, built by make tools).
func TestTenancyProxyThroughput(t *testing.T) {
	const namespace = "team-a"
	conns := int(envFloat(t, "BENCH_CONNS", 16))
	cell := time.Duration(envFloat(t, "BENCH_SECONDS", 5) * float64(time.Second))
	warm := time.Duration(envFloat(t, "BENCH_WARMUP", 2) * float64(time.Second))
	rounds := int(envFloat(t, "BENCH_ROUNDS", 3))
	profileDir := os.Getenv("BENCH_CPUPROFILE")
	prom := prometheusURL(t)

	// Our server, auth off like the shared one, with project team-a and its datasource.
	dir, err := os.MkdirTemp("/tmp", "perses-e2e-bench-tenancy-")
	require.NoError(t, err)
	opts := launchOptions{}
	if profileDir != "" {
		opts.args = []string{"--pprof"}
	}
	inst := launchForTest(t, dir, "", opts)
	admin := &apiClient{base: inst.url, http: &http.Client{Timeout: 30 * time.Second}}
	admin.expect(t, http.StatusOK, http.MethodPost, "/api/v1/projects", projectResource(namespace))
	ds := admin.expect(t, http.StatusOK, http.MethodGet, "/api/v1/projects/"+namespace+"/datasources", nil)
	require.Containsf(t, string(ds.Body), `"name":"`+projectDatasource+`"`, "project %s got no datasource %q: %s", namespace, projectDatasource, ds)

	plp := startPromLabelProxy(t, prom, namespace)

	enf, err := tenancy.New(tenancy.DefaultConfig())
	require.NoError(t, err)
	queries := make([]benchQuery, len(benchQueries))
	for i, q := range benchQueries {
		e, err := enf.Enforce(q, namespace)
		require.NoError(t, err)
		queries[i] = benchQuery{raw: q, enforced: e}
	}
	peers := []benchPeer{
		{name: "prometheus direct", base: prom, enforced: true},
		{name: "prom-label-proxy", base: plp.url, pid: plp.pid},
		{name: "ours", base: inst.url + "/proxy/projects/" + namespace + "/datasources/" + projectDatasource, pid: inst.proc.cmd.Process.Pid},
	}
	if alt := os.Getenv("BENCH_COMPARE_BIN"); alt != "" {
		adir, err := os.MkdirTemp("/tmp", "perses-e2e-bench-tenancy-alt-")
		require.NoError(t, err)
		ainst := launchForTest(t, adir, "", launchOptions{bin: alt})
		a := &apiClient{base: ainst.url, http: &http.Client{Timeout: 30 * time.Second}}
		a.expect(t, http.StatusOK, http.MethodPost, "/api/v1/projects", projectResource(namespace))
		a.expect(t, http.StatusOK, http.MethodGet, "/api/v1/projects/"+namespace+"/datasources", nil)
		peers = append(peers, benchPeer{name: "ours (compare bin)", base: ainst.url + "/proxy/projects/" + namespace + "/datasources/" + projectDatasource, pid: ainst.proc.cmd.Process.Pid})
	}
	if os.Getenv("BENCH_FLOOR") != "" {
		peers = append(peers, benchPeer{name: "null proxy (floor)", base: nullProxy(t, prom), enforced: true})
	}
	promPID := sharedPID(t, "prometheus")

	// Pinned in the backfilled range (hack/prometheus/start.sh: the last 3 hours up to the
	// start of the suite), so every answer is the same for the whole run.
	pinned := time.Now().Add(-2 * time.Minute).Truncate(15 * time.Second)
	ts := func(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }
	workloads := []benchWorkload{
		{name: "instant", api: "/api/v1/query", params: url.Values{"time": {ts(pinned)}}},
		{name: "range 1h", api: "/api/v1/query_range", params: url.Values{
			"start": {ts(pinned.Add(-time.Hour))}, "end": {ts(pinned)}, "step": {"15"},
		}},
	}

	client := &http.Client{
		Transport: &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: max(conns, 16), IdleConnTimeout: time.Minute},
		Timeout:   30 * time.Second,
	}

	// Reference answers: Prometheus itself, given the confined queries; each peer must
	// give the same data (checked once here in full, then on every answer of the load).
	for wi := range workloads {
		w := &workloads[wi]
		w.expected = make([][]byte, len(queries))
		for qi, q := range queries {
			status, body, err := benchRequest(context.Background(), client, peers[0], *w, q)
			require.NoError(t, err)
			require.Equalf(t, http.StatusOK, status, "direct %s %s: %s", w.name, q.enforced, body)
			var ans struct {
				Status string `json:"status"`
				Data   struct {
					Result []json.RawMessage `json:"result"`
				} `json:"data"`
			}
			require.NoError(t, json.Unmarshal(body, &ans))
			require.Equal(t, "success", ans.Status)
			require.NotEmptyf(t, ans.Data.Result, "direct %s %s answered no series: the comparison would prove nothing", w.name, q.enforced)
			w.expected[qi] = body
			for _, p := range peers[1:] {
				status, got, err := benchRequest(context.Background(), client, p, *w, q)
				require.NoError(t, err)
				require.Equalf(t, http.StatusOK, status, "%s %s %s: %s", p.name, w.name, q.raw, got)
				require.Truef(t, sameAnswer(got, body), "%s %s %s answered\n%s\ndirect answered\n%s", p.name, w.name, q.raw, got, body)
			}
		}
	}

	type stats struct {
		n       int
		elapsed time.Duration
		lat     []time.Duration
		rps     []float64 // per round
		// CPU time spent by the load generator (this process), Prometheus and the proxy.
		clientCPU, promCPU, proxyCPU time.Duration
	}
	results := map[string]map[string]*stats{} // workload → peer → stats
	var failures []string
	for _, w := range workloads {
		results[w.name] = map[string]*stats{}
		for _, p := range peers {
			results[w.name][p.name] = &stats{}
			if warm > 0 {
				r := benchCell(client, p, w, queries, conns, warm)
				failures = append(failures, r.failures...)
			}
		}
		for round := range rounds {
			for j := range peers {
				p := peers[(round+j)%len(peers)]
				c0, pr0, px0 := cpuTime(t, os.Getpid()), cpuTime(t, promPID), cpuTime(t, p.pid)
				r := benchCell(client, p, w, queries, conns, cell)
				failures = append(failures, r.failures...)
				s := results[w.name][p.name]
				s.clientCPU += cpuTime(t, os.Getpid()) - c0
				s.promCPU += cpuTime(t, promPID) - pr0
				s.proxyCPU += cpuTime(t, p.pid) - px0
				s.n += len(r.lat)
				s.elapsed += r.elapsed
				s.lat = append(s.lat, r.lat...)
				s.rps = append(s.rps, float64(len(r.lat))/r.elapsed.Seconds())
			}
		}
	}

	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	t.Logf("tenancy proxy benchmark: namespace %s, %d queries, %d connections, warm-up %s, %d rounds × %s per peer per workload, POST form bodies, gzip answers",
		namespace, len(queries), conns, warm, rounds, cell)
	t.Logf("%-9s %-18s %7s %11s %6s %6s %8s %10s %10s | %s %9s", "workload", "peer", "req/s", "rounds", "p50 ms", "p99 ms", "requests", "rps/direct", "p50/direct",
		"CPU µs/req: client  prom proxy total", "CPU-bound")
	// measured: throughput over direct's. cpuBound: direct's CPU per request over the
	// peer's, the throughput ratio on a machine doing nothing else (this one is shared).
	measured, cpuBound := map[string]map[string]float64{}, map[string]map[string]float64{}
	for _, w := range workloads {
		measured[w.name], cpuBound[w.name] = map[string]float64{}, map[string]float64{}
		d := results[w.name][peers[0].name]
		slices.Sort(d.lat)
		directRPS := float64(d.n) / d.elapsed.Seconds()
		directP50 := percentile(d.lat, 50)
		directCPU := float64(d.clientCPU+d.promCPU+d.proxyCPU) / float64(d.n)
		for _, p := range peers {
			s := results[w.name][p.name]
			slices.Sort(s.lat)
			if len(s.lat) == 0 {
				t.Errorf("%s %s: no successful request", w.name, p.name)
				continue
			}
			rps := float64(s.n) / s.elapsed.Seconds()
			per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(s.n) }
			total := s.clientCPU + s.promCPU + s.proxyCPU
			measured[w.name][p.name] = rps / directRPS
			cpuBound[w.name][p.name] = directCPU / (float64(total) / float64(s.n))
			spread := fmt.Sprintf("%.0f–%.0f", slices.Min(s.rps), slices.Max(s.rps))
			t.Logf("%-9s %-18s %7.0f %11s %6.2f %6.2f %8d %9.2f× %9.2f× | %18.0f %5.0f %5.0f %5.0f %8.2f×", w.name, p.name, rps, spread,
				ms(percentile(s.lat, 50)), ms(percentile(s.lat, 99)), s.n, rps/directRPS, float64(percentile(s.lat, 50))/float64(directP50),
				per(s.clientCPU), per(s.promCPU), per(s.proxyCPU), per(total), cpuBound[w.name][p.name])
		}
	}
	targets := map[string]float64{"instant": 0.8, "range 1h": 0.9}
	issue := map[string]float64{"instant": 0.56, "range 1h": 0.76}
	verdict := func(r, target float64) string {
		if r >= target {
			return "met"
		}
		return "MISSED"
	}
	for _, w := range workloads {
		target := targets[w.name]
		m, c := measured[w.name], cpuBound[w.name]
		t.Logf("%-9s ours/direct %.2f× measured (target ≥ %.1f×: %s), %.2f× CPU-bound (%s); prom-label-proxy/direct %.2f× measured, %.2f× CPU-bound (the issue measured %.2f×)",
			w.name, m["ours"], target, verdict(m["ours"], target), c["ours"], verdict(c["ours"], target), m["prom-label-proxy"], c["prom-label-proxy"], issue[w.name])
	}

	if profileDir != "" {
		require.NoError(t, os.MkdirAll(profileDir, 0o750))
		for _, w := range workloads {
			name := "ours-" + strings.Fields(w.name)[0] + ".pprof"
			path := filepath.Join(profileDir, name)
			d := time.Duration(envFloat(t, "BENCH_PROFILE_SECONDS", cell.Seconds()) * float64(time.Second))
			profileUnderLoad(t, client, inst.url, peers[2], w, queries, conns, d, path)
			t.Logf("CPU profile of our server under the %s load: %s (go tool pprof -top %s)", w.name, path, path)
		}
		path := filepath.Join(profileDir, "ours-allocs.pprof")
		r := admin.expect(t, http.StatusOK, http.MethodGet, "/debug/pprof/allocs", nil)
		require.NoError(t, os.WriteFile(path, r.Body, 0o600))
		t.Logf("allocations of our server since its start: %s (go tool pprof -sample_index=alloc_space -top %s)", path, path)
	}

	if len(failures) > 0 {
		t.Errorf("%d answers were wrong, e.g.:\n%s", len(failures), strings.Join(failures[:min(len(failures), 10)], "\n"))
	}
}

type benchQuery struct{ raw, enforced string }

// benchPeer is a Prometheus API base URL (the API path is appended).
type benchPeer struct {
	name string
	base string
	// enforced: the peer is given the confined queries (Prometheus itself).
	enforced bool
	// pid is the proxy's process (0: none).
	pid int
}

type benchWorkload struct {
	name     string
	api      string
	params   url.Values
	expected [][]byte // per query, the direct answer
}

// benchRequest POSTs one query as a form, as the Perses Prometheus plugin does.
func benchRequest(ctx context.Context, client *http.Client, p benchPeer, w benchWorkload, q benchQuery) (int, []byte, error) {
	form := url.Values{}
	for k, v := range w.params {
		form[k] = v
	}
	form.Set("query", q.raw)
	if p.enforced {
		form.Set("query", q.enforced)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+w.api, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

type cellResult struct {
	lat      []time.Duration
	elapsed  time.Duration
	failures []string
}

// benchCell runs conns closed-loop clients against one peer for d; each client cycles
// through the queries from its own offset. Every answer is checked; a client stops at
// its first wrong one.
func benchCell(client *http.Client, p benchPeer, w benchWorkload, queries []benchQuery, conns int, d time.Duration) cellResult {
	var (
		mu  sync.Mutex
		out cellResult
		wg  sync.WaitGroup
	)
	start := time.Now()
	end := start.Add(d)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 4096)
			var fail string
			for k := i; time.Now().Before(end); k++ {
				qi := k % len(queries)
				t0 := time.Now()
				status, body, err := benchRequest(context.Background(), client, p, w, queries[qi])
				lat := time.Since(t0)
				switch {
				case err != nil:
					fail = fmt.Sprintf("%s %s %s: %v", p.name, w.name, queries[qi].raw, err)
				case status != http.StatusOK:
					fail = fmt.Sprintf("%s %s %s: %d %s", p.name, w.name, queries[qi].raw, status, body)
				case !sameAnswer(body, w.expected[qi]):
					fail = fmt.Sprintf("%s %s %s: answer differs from direct: %s", p.name, w.name, queries[qi].raw, body)
				}
				if fail != "" {
					break
				}
				local = append(local, lat)
			}
			mu.Lock()
			out.lat = append(out.lat, local...)
			if fail != "" {
				out.failures = append(out.failures, fail)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	out.elapsed = time.Since(start)
	return out
}

// profileUnderLoad puts the workload on our server for d while its CPU profile is taken.
func profileUnderLoad(t *testing.T, client *http.Client, server string, p benchPeer, w benchWorkload, queries []benchQuery, conns int, d time.Duration, path string) {
	t.Helper()
	type answer struct {
		body []byte
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		c := &http.Client{Timeout: d + 30*time.Second}
		resp, err := c.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", server, int(d.Seconds())))
		if err != nil {
			got <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("%s: %s", resp.Status, b)
		}
		got <- answer{body: b, err: err}
	}()
	r := benchCell(client, p, w, queries, conns, d+time.Second)
	require.Empty(t, r.failures)
	a := <-got
	require.NoError(t, a.err)
	require.NoError(t, os.WriteFile(path, a.body, 0o600))
}

// sameAnswer: the same bytes, or the same JSON.
func sameAnswer(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, len(sorted)*p/100)]
}

func envFloat(t *testing.T, key string, def float64) float64 {
	t.Helper()
	v := os.Getenv(key)
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	require.NoErrorf(t, err, "%s=%q", key, v)
	require.Positivef(t, f, "%s must be positive", key)
	return f
}

// nullProxy is a bare reverse proxy to upstream in this process, for the floor.
func nullProxy(t *testing.T, upstream string) string {
	t.Helper()
	u, err := url.Parse(upstream)
	require.NoError(t, err)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv.URL
}

// cpuTime is the CPU time (user and system) a process has used, from /proc; 0 for pid 0.
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	require.NoError(t, err)
	// Fields after "pid (comm) ": state is the 1st, utime the 12th, stime the 13th.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	utime, err := strconv.ParseInt(f[11], 10, 64)
	require.NoError(t, err)
	stime, err := strconv.ParseInt(f[12], 10, 64)
	require.NoError(t, err)
	const clockTick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	return time.Duration(utime+stime) * clockTick
}

// sharedPID is the PID of a process TestMain started (hack/prometheus/start.sh execs
// Prometheus, so its PID is Prometheus').
func sharedPID(t *testing.T, name string) int {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	for _, p := range shared.processes {
		if p.name == name {
			return p.cmd.Process.Pid
		}
	}
	t.Fatalf("no %s started by TestMain", name)
	return 0
}

type labelProxy struct {
	url string
	pid int
}

// startPromLabelProxy starts build/tools/prom-label-proxy in front of Prometheus,
// enforcing namespace=<value> with -error-on-replace, and stops it, by PID, when the
// test ends.
func startPromLabelProxy(t *testing.T, upstream, value string) labelProxy {
	t.Helper()
	bin := binaryFromEnv("PROM_LABEL_PROXY_BIN", filepath.Join(shared.repoRoot, "build", "tools", "prom-label-proxy"))
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s is missing: run `make tools` first", bin)
	}
	port, err := freePort()
	require.NoError(t, err)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin, "-insecure-listen-address", addr, "-upstream", upstream,
		"-label", "namespace", "-label-value", value, "-error-on-replace")
	logPath := filepath.Join(t.TempDir(), "prom-label-proxy.log")
	p, err := shared.spawn("prom-label-proxy", cmd, logPath)
	require.NoError(t, err)
	t.Cleanup(p.stop)
	base := "http://" + addr
	if err := p.waitHTTP(base+"/api/v1/query?query=vllm:num_requests_running", nil); err != nil {
		t.Fatalf("%v\n%s", err, tail(logPath, 20))
	}
	return labelProxy{url: base, pid: p.cmd.Process.Pid}
}
