//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openshift-ai/observability/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOIDCBearerTokensAndAudit runs the real bin/perses with JWTs of a real OpenID
// provider (client_credentials, RS256) and TokenReview side by side, decisions by the
// real kube-apiserver's RBAC for the OIDC user name (with its prefix), and audit on (a
// JSON lines file read back by the API): the 401s, the 403s and the mutations of the
// OIDC user are recorded, and only an audit administrator (a ClusterRoleBinding for
// get on audit) reads them.
func TestOIDCBearerTokensAndAudit(t *testing.T) {
	ctx := context.Background()
	k, err := testenv.StartKube(ctx, testenv.KubeOptions{})
	require.NoError(t, err, "the OIDC tests need kube-apiserver, etcd and kube-controller-manager: run `make tools`")
	t.Cleanup(func() { _ = k.Stop() })
	op, err := testenv.StartOIDC(ctx, testenv.OIDCOptions{ServiceUsername: "ci-bot", ServiceGroups: []string{"ml-ops"}})
	require.NoError(t, err, "the OIDC tests need the OpenID provider: run `make deps` (npm ci --prefix hack/oidc)")
	t.Cleanup(func() { _ = op.Stop() })

	require.NoError(t, k.CreateNamespaces(ctx, "team-a", "team-b", "perses"))
	applyManifests(t, k, "rbac-users.yaml", "rbac-server.yaml")
	// The JWT's user, as the cluster sees it: the claim with the configured prefix.
	require.NoError(t, k.BindClusterRole(ctx, "team-a", "edit", testenv.UserSubject("oidc:ci-bot")))
	require.NoError(t, k.BindClusterRole(ctx, "team-a", "edit", testenv.GroupSubject("team-a")))
	// The shipped audit reader role (overlays/base), bound cluster-wide.
	require.NoError(t, k.BindClusterRole(ctx, "", "perses-audit-reader", testenv.UserSubject("carol")))
	waitAggregated(t, k)

	dir, kubeconfig := serverKubeconfig(t, k, "oidc")
	auditFile := filepath.Join(dir, "audit.jsonl")
	inst := launchForTest(t, dir, "", launchOptions{openshiftAI: fmt.Sprintf(`  kubernetes:
    kubeconfig: %q
  identity:
    token_review:
      enabled: true
    oidc:
      issuer: %q
      audience: %q
      username_prefix: "oidc:"
      groups_prefix: "oidc:"
  access:
    projects: kubernetes
  audit:
    enabled: true
    file: %q
`, kubeconfig, op.Issuer, op.Audience, auditFile)})
	client := func(token string) *apiClient {
		return &apiClient{base: inst.url, http: &http.Client{Timeout: 30 * time.Second}, token: token}
	}

	jwt, err := op.ClientCredentialsToken(ctx, "")
	require.NoError(t, err)
	bot := client(jwt)

	t.Run("a JWT for our audience", func(t *testing.T) {
		r := bot.expect(t, http.StatusOK, http.MethodGet, "/api/v1/user/whoami", nil)
		assert.Contains(t, string(r.Body), `"name":"oidc:ci-bot"`)
		bot.expect(t, http.StatusOK, http.MethodGet, "/api/v1/projects/team-a/dashboards", nil)
		bot.expect(t, http.StatusOK, http.MethodPost, "/api/v1/projects/team-a/dashboards", markdownDashboard("team-a", "by-bot", "oidc"))
		bot.expect(t, http.StatusOK, http.MethodGet, "/api/v1/projects/team-a/dashboards/by-bot", nil)
		bot.expect(t, http.StatusForbidden, http.MethodPost, "/api/v1/projects/team-b/dashboards", markdownDashboard("team-b", "by-bot", "oidc"))
		bot.expect(t, http.StatusForbidden, http.MethodGet, "/api/v1/projects/team-b/dashboards", nil)
		assert.ElementsMatch(t, []string{"team-a"}, names(t, bot.expect(t, http.StatusOK, http.MethodGet, "/api/v1/projects", nil)))
	})

	t.Run("refused JWTs are 401", func(t *testing.T) {
		other, err := op.ClientCredentialsToken(ctx, "https://other.example")
		require.NoError(t, err)
		parts := strings.Split(jwt, ".")
		require.Len(t, parts, 3)
		for name, token := range map[string]string{
			"genuine, another audience":  other,
			"signature of another token": parts[0] + "." + parts[1] + "." + strings.Split(other, ".")[2],
			"alg none":                   "eyJhbGciOiJub25lIn0." + parts[1] + ".",
			"truncated":                  parts[0] + "." + parts[1],
		} {
			r := client(token).do(t, http.MethodGet, "/api/v1/projects/team-a/dashboards", nil)
			assert.Equal(t, http.StatusUnauthorized, r.Status, "%s: %s", name, r)
		}
		// TokenReview still serves the cluster's own tokens beside OIDC.
		client(k.Token("alice")).expect(t, http.StatusOK, http.MethodGet, "/api/v1/projects/team-a/dashboards", nil)
	})

	t.Run("audit", func(t *testing.T) {
		r := bot.do(t, http.MethodGet, "/api/v1/audit", nil)
		assert.Equal(t, http.StatusForbidden, r.Status, "%s", r)
		assert.Equal(t, http.StatusForbidden, client(k.Token("alice")).do(t, http.MethodGet, "/api/v1/audit", nil).Status)
		assert.Equal(t, http.StatusUnauthorized, client("").do(t, http.MethodGet, "/api/v1/audit", nil).Status)

		carol := client(k.Token("carol"))
		botRecords := auditRead(t, carol, url.Values{"user": {"oidc:ci-bot"}}, 3)
		type brief struct {
			Action, Project string
			Status          int
		}
		var got []brief
		for _, r := range botRecords {
			got = append(got, brief{r.Action, r.Project, r.Status})
			assert.Contains(t, r.Groups, "oidc:ml-ops")
		}
		assert.Equal(t, []brief{ // newest first
			{"GET /api/v1/audit", "", http.StatusForbidden},
			{"GET /api/v1/projects/:project/dashboards", "team-b", http.StatusForbidden},
			{"POST /api/v1/projects/:project/dashboards", "team-b", http.StatusForbidden},
			{"POST /api/v1/projects/:project/dashboards", "team-a", http.StatusOK},
		}, got)

		unauthenticated := auditRead(t, carol, url.Values{"project": {"team-a"}, "action": {"GET"}}, 100)
		statuses := map[int]int{}
		for _, r := range unauthenticated {
			assert.Empty(t, r.User)
			statuses[r.Status]++
		}
		assert.Equal(t, map[int]int{http.StatusUnauthorized: 4}, statuses, "one record per refused JWT")
		data, err := os.ReadFile(auditFile)
		require.NoError(t, err)
		assert.NotContains(t, string(data), jwtSignature(jwt), "no token in the records")
	})
}

// jwtSignature returns the signature of a JWT (a piece that must never be logged).
func jwtSignature(jwt string) string { return jwt[strings.LastIndex(jwt, ".")+1:] }
