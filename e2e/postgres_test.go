//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests start servers on PostgreSQL whatever E2E_STORE says; make e2e runs them in
// its PostgreSQL pass only (-skip TestPostgres in the file pass).

// A PostgreSQL database shared by the replicas of one test.
func replicaDatabase(t *testing.T, prefix string) string {
	t.Helper()
	name := strings.ReplaceAll(uniqueName(t, prefix), "-", "_")
	url, err := createDatabase(name)
	require.NoError(t, err)
	t.Cleanup(func() { dropDatabase(name) })
	return url
}

// startReplica runs one bin/perses on databaseURL, stopped when the test ends.
func startReplica(t *testing.T, databaseURL string, o launchOptions) *persesInstance {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "perses-e2e-replica-")
	require.NoError(t, err)
	return launchForTest(t, dir, databaseURL, o)
}

const nativeAuthSecurity = `  enable_auth: true
  encryption_key: "e2e-only-key-0123456789abcdefghi"
  cookie:
    secure: false
  authentication:
    providers:
      enable_native: true
  authorization:
    provider:
      native:
        enable: true
        # Far beyond the test: a replica sees permission changes only through PostgreSQL's
        # notifications, not through upstream's periodic check.
        check_latest_update_interval: 10m
`

// login returns an API client carrying the native login's access token.
func login(t *testing.T, base, user, password string) *apiClient {
	t.Helper()
	anon := &apiClient{base: base, http: newAPIClient(t).http}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	var r apiResponse
	require.Eventually(t, func() bool {
		r = anon.do(t, http.MethodPost, "/api/auth/providers/native/login", object{"login": user, "password": password})
		return r.Status == http.StatusOK
	}, 10*time.Second, 100*time.Millisecond, "login of %s: %s", user, r)
	r.decode(t, &tok)
	require.NotEmpty(t, tok.AccessToken)
	return &apiClient{base: base, http: anon.http, token: tok.AccessToken}
}

// waitFor polls check until it holds and returns how long that took.
func waitFor(t *testing.T, limit time.Duration, what string, check func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !check() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// Two servers on one database: what one writes, the other serves within a second, and
// a permission granted on one is enforced by both.
func TestPostgresReplicas(t *testing.T) {
	t.Parallel()
	url := replicaDatabase(t, "replicas")

	prov := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(prov, "rbac.json"), []byte(`[
 {"kind":"User","metadata":{"name":"admin"},"spec":{"nativeProvider":{"password":"admin-password"}}},
 {"kind":"User","metadata":{"name":"bob"},"spec":{"nativeProvider":{"password":"bob-password"}}},
 {"kind":"GlobalRole","metadata":{"name":"admin"},"spec":{"permissions":[{"actions":["*"],"scopes":["*"]}]}},
 {"kind":"GlobalRoleBinding","metadata":{"name":"admin"},"spec":{"role":"admin","subjects":[{"kind":"User","name":"admin"}]}}
]`), 0o600))
	a := startReplica(t, url, launchOptions{security: nativeAuthSecurity, provisioning: []string{prov}})
	b := startReplica(t, url, launchOptions{security: nativeAuthSecurity})

	adminA := login(t, a.url, "admin", "admin-password")
	adminB := login(t, b.url, "admin", "admin-password")
	bobA := login(t, a.url, "bob", "bob-password")
	bobB := login(t, b.url, "bob", "bob-password")

	const project = "team-a"
	adminA.expect(t, http.StatusOK, http.MethodPost, "/api/v1/projects", projectResource(project))

	t.Run("a dashboard written on one replica is listed by the other within 1s", func(t *testing.T) {
		adminA.expect(t, http.StatusOK, http.MethodPost, "/api/v1/projects/"+project+"/dashboards", markdownDashboard(project, "from-a", "written on replica A"))
		took := waitFor(t, time.Second, "replica B lists the dashboard", func() bool {
			r := adminB.do(t, http.MethodGet, "/api/v1/projects/"+project+"/dashboards", nil)
			return r.Status == http.StatusOK && strings.Contains(string(r.Body), `"from-a"`)
		})
		t.Logf("replica B listed replica A's dashboard after %s", took)
		adminB.expect(t, http.StatusNoContent, http.MethodDelete, "/api/v1/projects/"+project+"/dashboards/from-a", nil)
		waitFor(t, time.Second, "replica A sees the delete", func() bool {
			return adminA.do(t, http.MethodGet, "/api/v1/projects/"+project+"/dashboards/from-a", nil).Status == http.StatusNotFound
		})
	})

	t.Run("a permission granted on one replica is enforced by both", func(t *testing.T) {
		list := "/api/v1/projects/" + project + "/dashboards"
		bobA.expect(t, http.StatusForbidden, http.MethodGet, list, nil)
		bobB.expect(t, http.StatusForbidden, http.MethodGet, list, nil)

		adminA.expect(t, http.StatusOK, http.MethodPost, "/api/v1/projects/"+project+"/roles", object{
			"kind": "Role", "metadata": object{"name": "dashboard-reader", "project": project},
			"spec": object{"permissions": []object{{"actions": []string{"read"}, "scopes": []string{"*"}}}},
		})
		granted := time.Now()
		adminA.expect(t, http.StatusOK, http.MethodPost, "/api/v1/projects/"+project+"/rolebindings", object{
			"kind": "RoleBinding", "metadata": object{"name": "bob-viewer", "project": project},
			"spec": object{"role": "dashboard-reader", "subjects": []object{{"kind": "User", "name": "bob"}}},
		})
		for name, c := range map[string]*apiClient{"A": bobA, "B": bobB} {
			waitFor(t, 2*time.Second, "replica "+name+" lets bob read", func() bool {
				return c.do(t, http.MethodGet, list, nil).Status == http.StatusOK
			})
			t.Logf("replica %s enforced the grant %s after it was written", name, time.Since(granted))
		}

		adminB.expect(t, http.StatusNoContent, http.MethodDelete, "/api/v1/projects/"+project+"/rolebindings/bob-viewer", nil)
		revoked := time.Now()
		for name, c := range map[string]*apiClient{"A": bobA, "B": bobB} {
			waitFor(t, 2*time.Second, "replica "+name+" refuses bob again", func() bool {
				return c.do(t, http.MethodGet, list, nil).Status == http.StatusForbidden
			})
			t.Logf("replica %s enforced the revocation %s after it was written", name, time.Since(revoked))
		}
	})
}

// throwawayPostgres is a PostgreSQL cluster of the test's own, on a free loopback port,
// so that the test may stop and start it without disturbing anyone.
type throwawayPostgres struct {
	bin, data, port string
}

func startThrowawayPostgres(t *testing.T) *throwawayPostgres {
	t.Helper()
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	require.NotEmpty(t, matches, "PostgreSQL's server binaries are missing: apt-get install postgresql")
	port, err := freePort()
	require.NoError(t, err)
	dir, err := os.MkdirTemp("/tmp", "perses-e2e-pg-")
	require.NoError(t, err)
	pg := &throwawayPostgres{bin: filepath.Dir(matches[len(matches)-1]), data: filepath.Join(dir, "data"), port: fmt.Sprint(port)}
	require.NoError(t, os.Chmod(dir, 0o777))
	require.NoError(t, os.MkdirAll(pg.data, 0o700))
	pg.asPostgres(t, "chown", "-R", "postgres:postgres", dir)
	pg.asPostgres(t, filepath.Join(pg.bin, "initdb"), "-D", pg.data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
	pg.start(t)
	t.Cleanup(func() {
		_ = exec.Command("runuser", "-u", "postgres", "--", filepath.Join(pg.bin, "pg_ctl"), "-D", pg.data, "-m", "immediate", "-w", "stop").Run()
		if !t.Failed() {
			_ = os.RemoveAll(dir)
		}
	})
	return pg
}

func (pg *throwawayPostgres) asPostgres(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	if args[0] != "chown" {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--"}, args...)...)
	}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s: %s (the throwaway PostgreSQL needs root and the postgres user)", strings.Join(args, " "), out)
}

func (pg *throwawayPostgres) start(t *testing.T) {
	pg.asPostgres(t, filepath.Join(pg.bin, "pg_ctl"), "-D", pg.data, "-l", filepath.Join(pg.data, "server.log"), "-w",
		"-o", "-c listen_addresses=127.0.0.1 -p "+pg.port+" -k "+pg.data, "start")
}

func (pg *throwawayPostgres) stop(t *testing.T) {
	pg.asPostgres(t, filepath.Join(pg.bin, "pg_ctl"), "-D", pg.data, "-m", "fast", "-w", "stop")
}

func (pg *throwawayPostgres) url(db string) string {
	return fmt.Sprintf("postgresql://postgres@127.0.0.1:%s/%s?sslmode=disable", pg.port, db)
}

// PostgreSQL goes away for a while under a write load: the server answers 503 naming
// the database meanwhile (never another error, never a hang), /health says
// disconnected, it recovers by itself, and every write it acknowledged is there.
func TestPostgresOutage(t *testing.T) {
	t.Parallel()
	pg := startThrowawayPostgres(t)
	srv := startReplica(t, pg.url("postgres"), launchOptions{})
	api := &apiClient{base: srv.url, http: &http.Client{Timeout: 15 * time.Second}}
	const project = "outage"
	api.expect(t, http.StatusOK, http.MethodPost, "/api/v1/projects", projectResource(project))

	type outcome struct {
		name   string
		status int
		took   time.Duration
		body   string
	}
	var (
		mu       sync.Mutex
		outcomes []outcome
		seq      atomic.Int64
		stopLoad = make(chan struct{})
		wg       sync.WaitGroup
	)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stopLoad:
					return
				default:
				}
				name := fmt.Sprintf("d-%05d", seq.Add(1))
				body, err := json.Marshal(markdownDashboard(project, name, "load"))
				if err != nil {
					panic(err)
				}
				start := time.Now()
				o := outcome{name: name}
				// Not api.do: a transport error here must be recorded, not end the test from
				// a goroutine that is not the test's.
				resp, err := api.http.Post(srv.url+"/api/v1/projects/"+project+"/dashboards", "application/json", bytes.NewReader(body))
				if err != nil {
					o.body = "transport error: " + err.Error()
				} else {
					data, _ := io.ReadAll(resp.Body)
					_ = resp.Body.Close()
					o.status, o.body = resp.StatusCode, truncate(string(data), 200)
				}
				o.took = time.Since(start)
				mu.Lock()
				outcomes = append(outcomes, o)
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}

	time.Sleep(6 * time.Second)
	pg.stop(t)
	down := time.Now()
	var health struct{ Status, Database string }
	healthDown := waitFor(t, 10*time.Second, "/health says disconnected", func() bool {
		r := api.do(t, http.MethodGet, "/health", nil)
		if r.Status != http.StatusServiceUnavailable {
			return false
		}
		require.NoError(t, json.Unmarshal(r.Body, &health))
		return health.Database == "disconnected"
	})
	time.Sleep(6 * time.Second)
	pg.start(t)
	up := time.Now()
	recovered := waitFor(t, 30*time.Second, "writes succeed again", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for i := len(outcomes) - 1; i >= 0; i-- {
			if outcomes[i].status == http.StatusOK {
				return true
			}
			break
		}
		return false
	})
	time.Sleep(4 * time.Second)
	close(stopLoad)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	var ok, unavailable int
	var slowest time.Duration
	for _, o := range outcomes {
		slowest = max(slowest, o.took)
		switch o.status {
		case http.StatusOK:
			ok++
		case http.StatusServiceUnavailable:
			unavailable++
			assert.Contains(t, o.body, "PostgreSQL", "a 503 names the database")
		default:
			t.Errorf("create %s answered %d %s during the outage test: only 200 and 503 are acceptable", o.name, o.status, o.body)
		}
	}
	t.Logf("%d creates: %d acknowledged, %d refused with 503; PostgreSQL down %s after /health noticed in %s; writes again %s after it came back; slowest answer %s",
		len(outcomes), ok, unavailable, up.Sub(down).Round(time.Millisecond), healthDown.Round(time.Millisecond), recovered.Round(time.Millisecond), slowest.Round(time.Millisecond))
	assert.Positive(t, unavailable, "no request met the outage: the test proved nothing")
	assert.Less(t, slowest, 12*time.Second, "an answer took longer than the configured timeouts allow")

	for _, o := range outcomes {
		if o.status != http.StatusOK {
			continue
		}
		r := api.do(t, http.MethodGet, "/api/v1/projects/"+project+"/dashboards/"+o.name, nil)
		assert.Equalf(t, http.StatusOK, r.Status, "the acknowledged write %s is lost: %s", o.name, r)
	}
	api.expect(t, http.StatusOK, http.MethodGet, "/health", nil)
}
