//go:build e2e && bench

package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestAuthThroughput (make bench, not make test) measures a warm dashboard GET with our
// authentication and authorization (a TokenReview'd bearer token, SubjectAccessReview
// decisions from the cache) beside upstream's native JWT authentication and RBAC on the
// same route, in one run, and the reviews sent per 1,000 warm requests.
func TestAuthThroughput(t *testing.T) {
	const clients, cell, rounds = 4, 8 * time.Second, 2

	env := startAccessEnv(t)
	ours := env.client(env.kube.Token("alice"))
	ours.expect(t, http.StatusOK, http.MethodPost, "/api/v1/projects/team-a/dashboards", markdownDashboard("team-a", "bench", "bench"))

	prov := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(prov, "rbac.json"), []byte(`[
 {"kind":"User","metadata":{"name":"admin"},"spec":{"nativeProvider":{"password":"admin-password"}}},
 {"kind":"GlobalRole","metadata":{"name":"admin"},"spec":{"permissions":[{"actions":["*"],"scopes":["*"]}]}},
 {"kind":"GlobalRoleBinding","metadata":{"name":"admin"},"spec":{"role":"admin","subjects":[{"kind":"User","name":"admin"}]}}
]`), 0o600))
	dir, err := os.MkdirTemp("/tmp", "perses-e2e-native-")
	require.NoError(t, err)
	native, err := shared.launchPersesWith(dir, "", launchOptions{security: nativeAuthSecurity, provisioning: []string{prov}})
	require.NoError(t, err)
	t.Cleanup(func() { native.proc.stop(); _ = os.RemoveAll(dir) })
	upstream := login(t, native.url, "admin", "admin-password")
	upstream.expect(t, http.StatusOK, http.MethodPost, "/api/v1/projects", projectResource("team-a"))
	upstream.expect(t, http.StatusOK, http.MethodPost, "/api/v1/projects/team-a/dashboards", markdownDashboard("team-a", "bench", "bench"))

	path := "/api/v1/projects/team-a/dashboards/bench"
	sar0 := env.metric(t, "perses_openshift_ai_access_subject_access_reviews_total", "")
	tr0 := env.metric(t, "perses_openshift_ai_identity_token_reviews_total", "")
	results := map[string][]float64{}
	p99s := map[string][]time.Duration{}
	var oursRequests int
	for range rounds { // alternate, so that the machine's other load falls on both
		for _, peer := range []struct {
			name string
			c    *apiClient
		}{{"ours", ours}, {"upstream native", upstream}} {
			rps, p99, n := hammer(t, peer.c.base+path, peer.c.token, clients, cell)
			results[peer.name] = append(results[peer.name], rps)
			p99s[peer.name] = append(p99s[peer.name], p99)
			if peer.name == "ours" {
				oursRequests += n
			}
		}
	}
	sars := env.metric(t, "perses_openshift_ai_access_subject_access_reviews_total", "") - sar0
	trs := env.metric(t, "perses_openshift_ai_identity_token_reviews_total", "") - tr0

	mean := func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += x
		}
		return s / float64(len(v))
	}
	fmt.Printf("\nwarm dashboard GET, %d clients, %d rounds of %s per peer\n", clients, rounds, cell)
	fmt.Printf("%-18s %10s %10s\n", "peer", "req/s", "p99 ms")
	for _, name := range []string{"ours", "upstream native"} {
		fmt.Printf("%-18s %10.0f %10.2f\n", name, mean(results[name]), float64(slices.Max(p99s[name]).Microseconds())/1000)
	}
	fmt.Printf("ours / upstream native throughput: %.2fx\n", mean(results["ours"])/mean(results["upstream native"]))
	fmt.Printf("SubjectAccessReviews per 1,000 warm requests: %.2f; TokenReviews: %.2f (%d requests)\n\n",
		1000*sars/float64(oursRequests), 1000*trs/float64(oursRequests), oursRequests)
}

// hammer GETs url with a bearer token from several clients for d; it returns the
// throughput, the p99 latency and the number of successful requests.
func hammer(t *testing.T, url, token string, clients int, d time.Duration) (float64, time.Duration, int) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: 10 * time.Second}
	var (
		mu   sync.Mutex
		lat  []time.Duration
		fail error
		wg   sync.WaitGroup
	)
	end := time.Now().Add(d)
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []time.Duration
			for time.Now().Before(end) {
				req, _ := http.NewRequest(http.MethodGet, url, nil)
				req.Header.Set("Authorization", "Bearer "+token)
				t0 := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("GET %s: %s", url, resp.Status)
					}
				}
				if err != nil {
					mu.Lock()
					fail = err
					mu.Unlock()
					return
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	require.NoError(t, fail)
	slices.Sort(lat)
	return float64(len(lat)) / time.Since(start).Seconds(), lat[len(lat)*99/100], len(lat)
}
