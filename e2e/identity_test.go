//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
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

	"github.com/openshift-ai/observability/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// accessEnv is a real kube-apiserver with the shipped RBAC (overlays/base), the
// namespaces team-a and team-b, and a Perses server authenticating by TokenReview and
// authorising by SubjectAccessReview with the shipped server ClusterRole's rights only.
type accessEnv struct {
	kube   *testenv.Kube
	perses *persesInstance
}

// startTeamsKube starts a real kube-apiserver (stopped when the test ends) with the shipped
// RBAC (overlays/base: users' ClusterRoles, the server's service account) and the
// namespaces team-a, team-b and perses: alice edits team-a, bob edits team-b, carol views
// team-a, admin is in system:masters. what names the tests in the error when the control
// plane is missing.
func startTeamsKube(t *testing.T, what string) *testenv.Kube {
	t.Helper()
	ctx := context.Background()
	k, err := testenv.StartKube(ctx, testenv.KubeOptions{})
	require.NoError(t, err, "the "+what+" tests need kube-apiserver, etcd and kube-controller-manager: run `make tools`")
	t.Cleanup(func() { _ = k.Stop() })
	require.NoError(t, k.CreateNamespaces(ctx, "team-a", "team-b", "perses"))
	applyManifests(t, k, "rbac-users.yaml", "rbac-server.yaml")
	require.NoError(t, k.BindClusterRole(ctx, "team-a", "edit", testenv.GroupSubject("team-a")))
	require.NoError(t, k.BindClusterRole(ctx, "team-b", "edit", testenv.GroupSubject("team-b")))
	require.NoError(t, k.BindClusterRole(ctx, "team-a", "view", testenv.UserSubject("carol")))
	waitAggregated(t, k)
	return k
}

// startAccessEnv: startTeamsKube, and a server authenticating by TokenReview and
// authorising by SubjectAccessReview.
func startAccessEnv(t *testing.T) *accessEnv {
	t.Helper()
	k := startTeamsKube(t, "identity")

	// The server runs as the shipped service account: a real token from TokenRequest.
	dir, kubeconfig := serverKubeconfig(t, k, "identity")

	inst := launchForTest(t, dir, "", launchOptions{openshiftAI: fmt.Sprintf(`  kubernetes:
    kubeconfig: %q
  identity:
    token_review:
      enabled: true
  access:
    projects: kubernetes
  tenancy:
    bypass:
      enabled: true
`, kubeconfig)})
	return &accessEnv{kube: k, perses: inst}
}

func ptr[T any](v T) *T { return &v }

// serverKubeconfig writes, in a new folder of /tmp named after what, a kubeconfig with a
// real token of the shipped service account perses/perses (TokenRequest, one hour): the
// server's own credentials, as in a pod.
func serverKubeconfig(t *testing.T, k *testenv.Kube, what string) (dir, kubeconfig string) {
	t.Helper()
	tr, err := k.Admin.CoreV1().ServiceAccounts("perses").CreateToken(context.Background(), "perses", &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(3600))},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	dir, err = os.MkdirTemp("/tmp", "perses-e2e-"+what+"-")
	require.NoError(t, err)
	kubeconfig = filepath.Join(dir, "server.kubeconfig")
	require.NoError(t, testenv.WriteKubeconfig(kubeconfig, k.URL, k.CAData, tr.Status.Token))
	return dir, kubeconfig
}

// applyManifests creates the ClusterRoles, bindings and service accounts of overlays/base.
func applyManifests(t *testing.T, k *testenv.Kube, files ...string) {
	t.Helper()
	ctx := context.Background()
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(shared.repoRoot, "overlays", "base", f))
		require.NoError(t, err)
		for _, doc := range strings.Split(string(data), "\n---\n") {
			var head struct{ Kind string }
			require.NoError(t, yaml.Unmarshal([]byte(doc), &head))
			switch head.Kind {
			case "ClusterRole":
				var o rbacv1.ClusterRole
				require.NoError(t, yaml.Unmarshal([]byte(doc), &o))
				_, err = k.Admin.RbacV1().ClusterRoles().Create(ctx, &o, metav1.CreateOptions{})
			case "ClusterRoleBinding":
				var o rbacv1.ClusterRoleBinding
				require.NoError(t, yaml.Unmarshal([]byte(doc), &o))
				_, err = k.Admin.RbacV1().ClusterRoleBindings().Create(ctx, &o, metav1.CreateOptions{})
			case "ServiceAccount":
				var o corev1.ServiceAccount
				require.NoError(t, yaml.Unmarshal([]byte(doc), &o))
				_, err = k.Admin.CoreV1().ServiceAccounts("perses").Create(ctx, &o, metav1.CreateOptions{})
			default:
				t.Fatalf("%s: kind %q not handled by the test", f, head.Kind)
			}
			require.NoError(t, err, "%s: %s", f, head.Kind)
		}
	}
}

// waitAggregated waits until the controller manager aggregated perses-editor into edit.
func waitAggregated(t *testing.T, k *testenv.Kube) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := k.Admin.AuthorizationV1().SubjectAccessReviews().Create(context.Background(), &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{User: "alice", Groups: k.Groups("alice"), ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: "team-a", Verb: "create", Group: "perses.openshift.io", Resource: "dashboards",
			}},
		}, metav1.CreateOptions{})
		require.NoError(t, err)
		if res.Status.Allowed {
			return
		}
		require.True(t, time.Now().Before(deadline), "perses-editor was not aggregated into edit within 30 s")
		time.Sleep(200 * time.Millisecond)
	}
}

func (e *accessEnv) client(token string) *apiClient {
	return &apiClient{base: e.perses.url, http: &http.Client{Timeout: 30 * time.Second}, token: token}
}

// metric reads one counter (summed over its labels, or the one matching label) from /metrics.
func (e *accessEnv) metric(t *testing.T, name, label string) float64 {
	t.Helper()
	r := e.client("").do(t, http.MethodGet, "/metrics", nil)
	require.Equal(t, http.StatusOK, r.Status)
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `(\{[^}]*\})? ([0-9.e+]+)$`)
	total := 0.0
	for _, m := range re.FindAllStringSubmatch(string(r.Body), -1) {
		if label != "" && !strings.Contains(m[1], label) {
			continue
		}
		v, err := strconv.ParseFloat(m[2], 64)
		require.NoError(t, err)
		total += v
	}
	return total
}

func TestIdentityAndAccess(t *testing.T) {
	env := startAccessEnv(t)
	k := env.kube
	admin := env.client(k.Token("admin"))
	for _, p := range []string{"team-a", "team-b"} {
		admin.expect(t, http.StatusOK, http.MethodPost, "/api/v1/projects/"+p+"/dashboards", markdownDashboard(p, "seed", "seed"))
	}

	t.Run("access matrix", func(t *testing.T) {
		type expect struct{ list, get, create, update, delete int }
		allowed := expect{200, 200, 200, 200, 204}
		denied := expect{403, 403, 403, 403, 403}
		readOnly := expect{200, 200, 403, 403, 403}
		matrix := map[string]map[string]expect{
			"alice": {"team-a": allowed, "team-b": denied, "nowhere": denied},
			"bob":   {"team-a": denied, "team-b": allowed, "nowhere": denied},
			"carol": {"team-a": readOnly, "team-b": denied, "nowhere": denied},
			"admin": {"team-a": allowed, "team-b": allowed},
		}
		for user, row := range matrix {
			for project, want := range row {
				t.Run(user+"/"+project, func(t *testing.T) {
					c := env.client(k.Token(user))
					base := "/api/v1/projects/" + project + "/dashboards"
					mine := "m-" + user
					got := expect{
						list:   c.do(t, http.MethodGet, base, nil).Status,
						get:    c.do(t, http.MethodGet, base+"/seed", nil).Status,
						create: c.do(t, http.MethodPost, base, markdownDashboard(project, mine, "created")).Status,
					}
					target := "seed"
					if got.create == http.StatusOK {
						target = mine
					}
					got.update = c.do(t, http.MethodPut, base+"/"+target, markdownDashboard(project, target, "updated")).Status
					got.delete = c.do(t, http.MethodDelete, base+"/"+target, nil).Status
					assert.Equal(t, want, got)
				})
			}
		}
	})

	t.Run("the same answer for a project that exists and one that does not", func(t *testing.T) {
		alice := env.client(k.Token("alice"))
		existing := alice.do(t, http.MethodGet, "/api/v1/projects/team-b/dashboards/seed", nil)
		missing := alice.do(t, http.MethodGet, "/api/v1/projects/nowhere/dashboards/seed", nil)
		assert.Equal(t, http.StatusForbidden, existing.Status)
		assert.Equal(t, existing.Status, missing.Status)
		assert.Equal(t, strings.ReplaceAll(string(existing.Body), "team-b", "X"), strings.ReplaceAll(string(missing.Body), "nowhere", "X"))
		// Without credentials: 401 before anything about the project.
		anon := env.client("")
		assert.Equal(t, http.StatusUnauthorized, anon.do(t, http.MethodGet, "/api/v1/projects/nowhere/dashboards", nil).Status)
		assert.Equal(t, http.StatusUnauthorized, anon.do(t, http.MethodGet, "/api/v1/projects/team-a/dashboards", nil).Status)
		body := anon.do(t, http.MethodPost, "/api/v1/dashboards", markdownDashboard("nowhere", "x", "x"))
		assert.Equal(t, http.StatusUnauthorized, body.Status, "%s", body)
	})

	t.Run("project lists show what the user may see", func(t *testing.T) {
		for user, want := range map[string][]string{"alice": {"team-a"}, "bob": {"team-b"}, "carol": {"team-a"}} {
			r := env.client(k.Token(user)).expect(t, http.StatusOK, http.MethodGet, "/api/v1/projects", nil)
			assert.ElementsMatch(t, want, names(t, r), user)
		}
		all := names(t, admin.expect(t, http.StatusOK, http.MethodGet, "/api/v1/projects", nil))
		assert.Subset(t, all, []string{"team-a", "team-b"})
		// Cross-project list through ?project= is decided like the path.
		assert.Equal(t, http.StatusForbidden, env.client(k.Token("alice")).do(t, http.MethodGet, "/api/v1/dashboards?project=team-b", nil).Status)
		r := env.client(k.Token("alice")).expect(t, http.StatusOK, http.MethodGet, "/api/v1/dashboards", nil)
		for _, n := range names(t, r) {
			assert.NotEqual(t, "m-bob", n)
		}
	})

	t.Run("whoami", func(t *testing.T) {
		r := env.client(k.OpenShiftToken("bob")).expect(t, http.StatusOK, http.MethodGet, "/api/v1/user/whoami", nil)
		assert.Contains(t, string(r.Body), `"name":"bob"`)
	})

	t.Run("bad credentials are 401, never a panic", func(t *testing.T) {
		sa, err := k.Admin.CoreV1().ServiceAccounts("perses").CreateToken(context.Background(), "perses", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		require.NoError(t, err)
		parts := strings.Split(sa.Status.Token, ".")
		require.Len(t, parts, 3)
		for name, header := range map[string]string{
			"unknown token":            "Bearer not-a-token",
			"unknown OpenShift token":  "Bearer " + testenv.NewOpenShiftToken(),
			"malformed JWT":            "Bearer a.b.c",
			"re-signed (tampered) JWT": "Bearer " + parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])),
			"alg none":                 "Bearer eyJhbGciOiJub25lIn0." + parts[1] + ".",
			"empty bearer":             "Bearer ",
			"basic auth":               "Basic YWxpY2U6cGFzc3dvcmQ=",
			"oversized token":          "Bearer " + strings.Repeat("x", 20000),
			"control characters":       "Bearer \x01\x02",
		} {
			t.Run(name, func(t *testing.T) {
				req, err := http.NewRequest(http.MethodGet, env.perses.url+"/api/v1/projects/team-a/dashboards", nil)
				require.NoError(t, err)
				req.Header["Authorization"] = []string{header}
				resp, err := http.DefaultClient.Do(req)
				if err != nil && name == "control characters" {
					return // refused by the client itself
				}
				require.NoError(t, err)
				resp.Body.Close()
				assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
				assert.Equal(t, "application/json", strings.Split(resp.Header.Get("Content-Type"), ";")[0])
			})
		}
		// The service account's genuine token is a user too (system:serviceaccount:perses:perses),
		// with no right in team-a.
		assert.Equal(t, http.StatusForbidden, env.client(sa.Status.Token).do(t, http.MethodGet, "/api/v1/projects/team-a/dashboards", nil).Status)
	})

	t.Run("percli with a bearer token", func(t *testing.T) {
		p := newPercli(t)
		out := p.ok("login", env.perses.url, "--token", k.Token("alice"))
		assert.Contains(t, out, "successfully logged in")
		dir := t.TempDir()
		for _, project := range []string{"team-a", "team-b"} {
			f := filepath.Join(dir, project+".json")
			require.NoError(t, os.WriteFile(f, []byte(mustJSON(t, markdownDashboard(project, "by-percli", "percli"))), 0o600))
			_, stderr, err := p.run("apply", "-f", f)
			if project == "team-a" {
				require.NoError(t, err, stderr)
				assert.Contains(t, p.ok("get", "dashboards", "--project", "team-a"), "by-percli")
				p.ok("delete", "dashboards", "by-percli", "--project", "team-a")
			} else {
				require.Error(t, err, "apply in team-b must be refused")
				assert.Contains(t, stderr, "forbidden")
				_, _, err = p.run("get", "dashboards", "--project", "team-b")
				assert.Error(t, err)
			}
		}
	})

	t.Run("proxy queries follow read access to the project", func(t *testing.T) {
		for _, p := range []string{"team-a", "team-b"} {
			admin.expect(t, http.StatusOK, http.MethodPost, "/api/v1/projects/"+p+"/datasources",
				datasourceResource(p, "prom", prometheusPluginProxy(prometheusURL(t), "")))
		}
		query := func(user, project string) int {
			return env.client(k.Token(user)).do(t, http.MethodGet,
				"/proxy/projects/"+project+"/datasources/prom/api/v1/query?query=up", nil).Status
		}
		for _, c := range []struct {
			user, project string
			want          int
		}{
			{"alice", "team-a", http.StatusOK}, {"alice", "team-b", http.StatusForbidden},
			{"bob", "team-b", http.StatusOK}, {"bob", "team-a", http.StatusForbidden},
			{"carol", "team-a", http.StatusOK}, {"carol", "team-b", http.StatusForbidden},
			{"alice", "nowhere", http.StatusForbidden},
		} {
			assert.Equal(t, c.want, query(c.user, c.project), "%s querying through %s's datasource", c.user, c.project)
		}
		anonymous := env.client("").do(t, http.MethodGet, "/proxy/projects/team-a/datasources/prom/api/v1/query?query=up", nil)
		assert.Equal(t, http.StatusUnauthorized, anonymous.Status)
	})

	t.Run("queries are confined to the project; global datasources need the bypass", func(t *testing.T) {
		namespaces := func(user, path string) (int, []string) {
			r := env.client(k.Token(user)).do(t, http.MethodGet, path+"/api/v1/query?query="+url.QueryEscape(`count by (namespace) (last_over_time(up{job="workload"}[1h]))`), nil)
			var resp struct {
				Data struct {
					Result []struct {
						Metric map[string]string `json:"metric"`
					} `json:"result"`
				} `json:"data"`
			}
			if r.Status == http.StatusOK {
				require.NoError(t, json.Unmarshal(r.Body, &resp))
			}
			var ns []string
			for _, s := range resp.Data.Result {
				ns = append(ns, s.Metric["namespace"])
			}
			slices.Sort(ns)
			return r.Status, ns
		}
		// The project's provisioned datasource answers its namespace only, to its readers.
		status, ns := namespaces("alice", "/proxy/projects/team-a/datasources/"+projectDatasource)
		assert.Equal(t, http.StatusOK, status)
		assert.Equal(t, []string{"team-a"}, ns)
		status, ns = namespaces("carol", "/proxy/projects/team-a/datasources/"+projectDatasource)
		assert.Equal(t, http.StatusOK, status)
		assert.Equal(t, []string{"team-a"}, ns)
		status, _ = namespaces("alice", "/proxy/projects/team-b/datasources/"+projectDatasource)
		assert.Equal(t, http.StatusForbidden, status)

		// The global datasource: refused without the bypass permission (alice, even as a
		// namespace editor), answered unconfined with it (admin: system:masters).
		status, _ = namespaces("alice", "/proxy/globaldatasources/"+projectDatasource)
		assert.Equal(t, http.StatusForbidden, status, "alice has no bypass permission")
		status, ns = namespaces("admin", "/proxy/globaldatasources/"+projectDatasource)
		assert.Equal(t, http.StatusOK, status)
		assert.Equal(t, []string{"team-a", "team-b"}, ns, "the bypass is unconfined")

		// Binding the shipped bypass role to bob lets him (once the deny TTL passed).
		ctx := context.Background()
		_, err := k.Admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "bob-tenancy-bypass"},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "perses-tenancy-bypass"},
			Subjects:   []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "bob"}},
		}, metav1.CreateOptions{})
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			status, ns = namespaces("bob", "/proxy/globaldatasources/"+projectDatasource)
			return status == http.StatusOK && len(ns) == 2
		}, 30*time.Second, 500*time.Millisecond, "bob with perses-tenancy-bypass: %d %v", status, ns)
		assert.Greater(t, env.metric(t, "perses_openshift_ai_tenancy_queries_bypassed_total", ""), 0.0)
	})

	t.Run("reviews per 1000 warm requests", func(t *testing.T) {
		alice := env.client(k.Token("alice"))
		alice.expect(t, http.StatusOK, http.MethodGet, "/api/v1/projects/team-a/dashboards/seed", nil) // warm
		sar0 := env.metric(t, "perses_openshift_ai_access_subject_access_reviews_total", "")
		tr0 := env.metric(t, "perses_openshift_ai_identity_token_reviews_total", "")
		start := time.Now()
		for range 1000 {
			alice.expect(t, http.StatusOK, http.MethodGet, "/api/v1/projects/team-a/dashboards/seed", nil)
		}
		elapsed := time.Since(start)
		sars := env.metric(t, "perses_openshift_ai_access_subject_access_reviews_total", "") - sar0
		trs := env.metric(t, "perses_openshift_ai_identity_token_reviews_total", "") - tr0
		t.Logf("1000 warm GETs of a dashboard: %.0f SubjectAccessReviews, %.0f TokenReviews, %s (%.0f req/s, one client)", sars, trs, elapsed, 1000/elapsed.Seconds())
		assert.Zero(t, sars)
		assert.Zero(t, trs)
	})

	// Last: the cluster goes away.
	t.Run("fail closed when the cluster is unreachable", func(t *testing.T) {
		alice := env.client(k.Token("alice"))
		alice.expect(t, http.StatusOK, http.MethodGet, "/api/v1/projects/team-a/dashboards/seed", nil)
		require.NoError(t, k.Stop())
		// Cached token and decision: still served.
		alice.expect(t, http.StatusOK, http.MethodGet, "/api/v1/projects/team-a/dashboards/seed", nil)
		// A decision not in the cache: 503, not 403 and never 200.
		r := alice.do(t, http.MethodGet, "/api/v1/projects/team-a/variables", nil)
		assert.Equal(t, http.StatusServiceUnavailable, r.Status, "%s", r)
		assert.Contains(t, string(r.Body), "unreachable")
		// A token never seen: 503 too.
		r = env.client(k.OpenShiftToken("carol")).do(t, http.MethodGet, "/api/v1/projects/team-a/dashboards", nil)
		assert.Equal(t, http.StatusServiceUnavailable, r.Status, "%s", r)
	})
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	require.NoError(t, err)
	return string(data)
}
