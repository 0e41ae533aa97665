//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/openshift-ai/observability/extension/apidoc"
	"github.com/openshift-ai/observability/internal/testenv"
	"github.com/openshift-ai/observability/internal/testenv/openshiftfake"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The logout page is HTML; kin-openapi decodes only JSON, text/plain and a few others.
func init() { openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder) }

// loginEnv is a real kube-apiserver behind the OpenShift fake (OAuth server and
// project API), and a Perses server in token_review mode with the browser login at
// the fake's OAuth server: alice edits team-a, bob edits team-b.
type loginEnv struct {
	kube   *testenv.Kube
	fake   *openshiftfake.Server
	perses *persesInstance
	// fakeCA trusts the fake's TLS certificate.
	fakeCA *x509.CertPool
}

const (
	loginClientID     = "perses"
	loginClientSecret = "perses-login-secret"
	loginCookie       = "perses-openshift-ai-session"
)

func startLoginEnv(t *testing.T) *loginEnv {
	t.Helper()
	ctx := context.Background()
	k, err := testenv.StartKube(ctx, testenv.KubeOptions{})
	require.NoError(t, err, "the login tests need kube-apiserver, etcd and kube-controller-manager: run `make tools`")
	t.Cleanup(func() { _ = k.Stop() })
	require.NoError(t, k.CreateNamespaces(ctx, "team-a", "team-b"))
	applyManifests(t, k, "rbac-users.yaml")
	require.NoError(t, k.BindClusterRole(ctx, "team-a", "edit", testenv.GroupSubject("team-a")))
	require.NoError(t, k.BindClusterRole(ctx, "team-b", "edit", testenv.GroupSubject("team-b")))
	waitAggregated(t, k)

	fake, err := openshiftfake.Start(openshiftfake.Config{
		Kube: k.Config(k.AdminUser()), Tokens: k.OpenShiftTokens(), User: "alice",
		// No port: OpenShift's rule then accepts the callback on any port of 127.0.0.1.
		Clients: []openshiftfake.OAuthClient{{ID: loginClientID, Secret: loginClientSecret, RedirectURIs: []string{"http://127.0.0.1/oauth/callback"}}},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = fake.Stop() })
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(fake.CAData))

	dir, err := os.MkdirTemp("/tmp", "perses-e2e-login-")
	require.NoError(t, err)
	kubeconfig := filepath.Join(dir, "server.kubeconfig")
	// The server reaches the "cluster" through the fake, as it would reach OpenShift's
	// API URL: TokenReview and SubjectAccessReview pass through to the real kube-apiserver.
	require.NoError(t, fake.WriteKubeconfig(kubeconfig, k.Token(k.AdminUser())))
	inst := launchForTest(t, dir, "", launchOptions{openshiftAI: fmt.Sprintf(`  kubernetes:
    kubeconfig: %q
  identity:
    token_review:
      enabled: true
    login:
      provider: openshift
      client_id: %s
      client_secret: %s
      session:
        secure: never
  access:
    projects: openshift
`, kubeconfig, loginClientID, loginClientSecret)})
	return &loginEnv{kube: k, fake: fake, perses: inst, fakeCA: pool}
}

// browser is an HTTP client with a cookie jar that trusts the fake; stopAt, when set,
// ends the redirects before that path is requested.
func (e *loginEnv) browser(t *testing.T, jar http.CookieJar, stopAt string) *http.Client {
	t.Helper()
	if jar == nil {
		var err error
		jar, err = cookiejar.New(nil)
		require.NoError(t, err)
	}
	return &http.Client{
		Jar:       jar,
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.fakeCA, MinVersion: tls.VersionTLS12}},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if stopAt != "" && req.URL.Path == stopAt {
				return http.ErrUseLastResponse
			}
			if len(via) > 10 {
				return fmt.Errorf("too many redirects")
			}
			return nil
		},
	}
}

type loginAnswer struct {
	status   int
	body     string
	location string
	url      *url.URL
}

func loginFetch(t *testing.T, c *http.Client, method, u string) loginAnswer {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	require.NoError(t, err)
	resp, err := c.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	return loginAnswer{status: resp.StatusCode, body: string(body), location: resp.Header.Get("Location"), url: resp.Request.URL}
}

// TestLoginFlow is the browser login with net/http and a cookie jar: the happy path
// through the real server, the fake OAuth server and the real TokenReview, then the
// ways it must fail.
func TestLoginFlow(t *testing.T) {
	e := startLoginEnv(t)
	base := e.perses.url
	u, _ := url.Parse(base)

	t.Run("API without credentials is 401 JSON", func(t *testing.T) {
		a := loginFetch(t, e.browser(t, nil, ""), http.MethodGet, base+"/api/v1/user/whoami")
		assert.Equal(t, http.StatusUnauthorized, a.status)
		var msg struct{ Message string }
		require.NoError(t, json.Unmarshal([]byte(a.body), &msg), a.body)
		assert.NotEmpty(t, msg.Message)
	})

	t.Run("UI page redirects to the login, and back after it", func(t *testing.T) {
		c := e.browser(t, nil, "")
		first := loginFetch(t, e.browser(t, nil, "/oauth/login"), http.MethodGet, base+"/projects/team-a?refresh=5s")
		assert.Equal(t, http.StatusFound, first.status)
		assert.Equal(t, "/oauth/login?then=%2Fprojects%2Fteam-a%3Frefresh%3D5s", first.location)

		a := loginFetch(t, c, http.MethodGet, base+"/projects/team-a?refresh=5s")
		require.Equal(t, http.StatusOK, a.status, a.body)
		assert.Equal(t, "/projects/team-a", a.url.Path)
		assert.Equal(t, "refresh=5s", a.url.RawQuery)
		assert.Contains(t, a.body, "<html", "the stock UI's page")

		var session *http.Cookie
		for _, ck := range c.Jar.Cookies(u) {
			if ck.Name == loginCookie {
				session = ck
			}
		}
		require.NotNil(t, session, "the session cookie")
		assert.NotContains(t, session.Value, "sha256~", "the token is encrypted")

		who := loginFetch(t, c, http.MethodGet, base+"/api/v1/user/whoami")
		require.Equal(t, http.StatusOK, who.status, who.body)
		assert.Contains(t, who.body, `"name":"alice"`)
		projects := loginFetch(t, c, http.MethodGet, base+"/api/v1/projects")
		require.Equal(t, http.StatusOK, projects.status, projects.body)
		assert.Contains(t, projects.body, `"team-a"`)
		assert.NotContains(t, projects.body, `"team-b"`)
		assert.Equal(t, http.StatusOK, loginFetch(t, c, http.MethodGet, base+"/api/v1/projects/team-a").status)
		assert.Equal(t, http.StatusForbidden, loginFetch(t, c, http.MethodGet, base+"/api/v1/projects/team-b").status)

		// The cookie does not work from another site of the same domain (CSRF).
		req, err := http.NewRequest(http.MethodDelete, base+"/api/v1/projects/team-a/dashboards/any", nil)
		require.NoError(t, err)
		req.Header.Set("Sec-Fetch-Site", "same-site")
		resp, err := c.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusForbidden, resp.StatusCode)

		// Tampered: no session (401 for the API, the login for a page).
		jar, _ := cookiejar.New(nil)
		v := []byte(session.Value)
		v[len(v)/2] ^= 0x01
		if !strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", rune(v[len(v)/2])) {
			v[len(v)/2] = 'A'
		}
		jar.SetCookies(u, []*http.Cookie{{Name: loginCookie, Value: string(v)}})
		tampered := loginFetch(t, e.browser(t, jar, "/oauth/login"), http.MethodGet, base+"/api/v1/user/whoami")
		assert.Equal(t, http.StatusUnauthorized, tampered.status)
		page := loginFetch(t, e.browser(t, jar, "/oauth/login"), http.MethodGet, base+"/projects/team-a")
		assert.Equal(t, http.StatusFound, page.status)

		// Logout clears the cookie; the page asks for the login again.
		out := loginFetch(t, c, http.MethodPost, base+"/oauth/logout")
		assert.Equal(t, http.StatusNoContent, out.status)
		assert.Equal(t, http.StatusUnauthorized, loginFetch(t, c, http.MethodGet, base+"/api/v1/user/whoami").status)
		again := loginFetch(t, e.browser(t, c.Jar, "/oauth/login"), http.MethodGet, base+"/projects/team-a")
		assert.Equal(t, http.StatusFound, again.status)
	})

	t.Run("another user", func(t *testing.T) {
		require.NoError(t, e.fake.SetUser("bob"))
		t.Cleanup(func() { _ = e.fake.SetUser("alice") })
		c := e.browser(t, nil, "")
		a := loginFetch(t, c, http.MethodGet, base+"/oauth/login?then=/api/v1/user/whoami")
		require.Equal(t, http.StatusOK, a.status, a.body)
		assert.Contains(t, a.body, `"name":"bob"`)
	})

	t.Run("open redirect refused", func(t *testing.T) {
		for _, then := range []string{"https://evil.example.com/", "//evil.example.com/", "/\\evil.example.com"} {
			c := e.browser(t, nil, "")
			a := loginFetch(t, c, http.MethodGet, base+"/oauth/login?then="+url.QueryEscape(then))
			require.Equal(t, http.StatusOK, a.status, a.body)
			assert.Equal(t, u.Host, a.url.Host, then)
			assert.Equal(t, "/", a.url.Path, then)
		}
	})

	t.Run("answers match the OpenAPI document", func(t *testing.T) {
		doc, err := openapi3.NewLoader().LoadFromData(apidoc.Document())
		require.NoError(t, err)
		doc.Servers = openapi3.Servers{{URL: base}}
		router, err := gorillamux.NewRouter(doc)
		require.NoError(t, err)
		checkLive(t, router, http.MethodGet, base+"/oauth/logout")
		checkLive(t, router, http.MethodPost, base+"/oauth/logout")
		checkLive(t, router, http.MethodGet, base+"/oauth/callback?state=nothing-started&code=x")
	})

	// begin starts a login and stops before the callback.
	begin := func(t *testing.T) (http.CookieJar, *url.URL) {
		t.Helper()
		c := e.browser(t, nil, "/oauth/callback")
		a := loginFetch(t, c, http.MethodGet, base+"/oauth/login?then=/projects/team-a")
		require.Equal(t, http.StatusFound, a.status, a.body)
		cb, err := url.Parse(a.location)
		require.NoError(t, err)
		require.NotEmpty(t, cb.Query().Get("code"))
		return c.Jar, cb
	}
	noFollow := func(t *testing.T, jar http.CookieJar) *http.Client {
		c := e.browser(t, jar, "")
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		return c
	}

	t.Run("bad state is 400", func(t *testing.T) {
		jar, cb := begin(t)
		q := cb.Query()
		q.Set("state", "forged")
		cb.RawQuery = q.Encode()
		a := loginFetch(t, noFollow(t, jar), http.MethodGet, cb.String())
		assert.Equal(t, http.StatusBadRequest, a.status, a.body)
	})

	t.Run("replayed code is refused", func(t *testing.T) {
		jar, cb := begin(t)
		callbackURL := &url.URL{Scheme: "http", Host: u.Host, Path: "/oauth/callback"}
		login := jar.Cookies(callbackURL)
		require.NotEmpty(t, login)
		a := loginFetch(t, noFollow(t, jar), http.MethodGet, cb.String())
		require.Equal(t, http.StatusSeeOther, a.status, a.body)
		assert.Equal(t, "/projects/team-a", a.location)

		again := loginFetch(t, noFollow(t, jar), http.MethodGet, cb.String())
		assert.Equal(t, http.StatusBadRequest, again.status, "no login in progress any more: %s", again.body)

		replay, _ := cookiejar.New(nil)
		replay.SetCookies(&url.URL{Scheme: "http", Host: u.Host, Path: "/oauth/"}, login)
		stolen := loginFetch(t, noFollow(t, replay), http.MethodGet, cb.String())
		assert.Equal(t, http.StatusUnauthorized, stolen.status, stolen.body)
		assert.Contains(t, stolen.body, "invalid_grant")
	})
}

// TestBrowserLogin logs in through the stock UI in Chromium: the page asked for sends to
// the login at the fake OpenShift OAuth server and back, the UI shows the user, the
// project page loads; logout ends the session and the page asks for the login again.
func TestBrowserLogin(t *testing.T) {
	e := startLoginEnv(t)
	chromium := os.Getenv("CHROMIUM_BIN")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("%s is missing: run `make deps` (apt-get install chromium)", chromium)
	}
	if _, err := os.Stat(filepath.Join(shared.repoRoot, "e2e", "browser", "node_modules", "playwright-core")); err != nil {
		t.Fatalf("e2e/browser/node_modules is missing: run `make deps` (npm ci in e2e/browser)")
	}
	node, err := exec.LookPath("node")
	require.NoError(t, err, "node is not installed: run `make deps`")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	screenshot := filepath.Join(shared.repoRoot, "build", "screenshots", "browser-login.png")
	cmd := exec.CommandContext(ctx, node, filepath.Join(shared.repoRoot, "e2e", "browser", "login.mjs"),
		"--user", "alice", e.perses.url+"/projects/team-a", screenshot)
	cmd.Env = append(os.Environ(), "CHROMIUM_BIN="+chromium)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err = cmd.Run()
	t.Logf("login.mjs in %s: %s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(stdout.String()))
	require.NoErrorf(t, err, "%s\nserver log:\n%s", strings.TrimSpace(stderr.String()), tail(e.perses.logPath, 30))

	var summary struct {
		OK          bool     `json:"ok"`
		LoginChain  []string `json:"loginChain"`
		AgainChain  []string `json:"againChain"`
		AccountMenu bool     `json:"accountMenuShowsUser"`
		LogoutText  string   `json:"logoutText"`
		Create      struct {
			Status int    `json:"status"`
			Body   string `json:"body"`
		} `json:"createDashboard"`
		PageText      string `json:"pageText"`
		SessionCookie []struct {
			HTTPOnly bool   `json:"httpOnly"`
			SameSite string `json:"sameSite"`
		} `json:"sessionCookie"`
	}
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &summary))
	assert.True(t, summary.OK)
	assert.Equal(t, []string{e.perses.url + "/projects/team-a", e.perses.url + "/oauth/login", e.fake.URL + "/oauth/authorize",
		e.perses.url + "/oauth/callback", e.perses.url + "/projects/team-a"}, summary.LoginChain)
	assert.True(t, summary.AccountMenu, "the account menu names alice")
	assert.Contains(t, summary.PageText, "team-a", "the project page loaded")
	require.Len(t, summary.SessionCookie, 1)
	assert.True(t, summary.SessionCookie[0].HTTPOnly)
	assert.Equal(t, "Lax", summary.SessionCookie[0].SameSite)
	assert.Equal(t, http.StatusOK, summary.Create.Status, "a dashboard created from the page: %s", summary.Create.Body)
	assert.Contains(t, summary.LogoutText, "Signed out")
	assert.Contains(t, summary.AgainChain, e.perses.url+"/oauth/login")
}

// TestOIDCLoginFlow is the browser login at a real OpenID provider (authorization code
// + PKCE + nonce, ID token verified), the session then keeping the JWT access token
// that the OIDC bearer verifier checks on every request.
func TestOIDCLoginFlow(t *testing.T) {
	ctx := context.Background()
	k, err := testenv.StartKube(ctx, testenv.KubeOptions{})
	require.NoError(t, err, "the login tests need kube-apiserver, etcd and kube-controller-manager: run `make tools`")
	t.Cleanup(func() { _ = k.Stop() })
	op, err := testenv.StartOIDC(ctx, testenv.OIDCOptions{RedirectURIs: []string{"http://127.0.0.1/oauth/callback"}})
	require.NoError(t, err, "the login tests need the OpenID provider: run `make deps` (npm ci --prefix hack/oidc)")
	t.Cleanup(func() { _ = op.Stop() })
	require.NoError(t, k.CreateNamespaces(ctx, "team-a", "team-b"))
	applyManifests(t, k, "rbac-users.yaml")
	require.NoError(t, k.BindClusterRole(ctx, "team-a", "edit", testenv.GroupSubject("team-a")))
	require.NoError(t, k.BindClusterRole(ctx, "team-b", "edit", testenv.GroupSubject("team-b")))
	waitAggregated(t, k)

	dir, err := os.MkdirTemp("/tmp", "perses-e2e-oidc-login-")
	require.NoError(t, err)
	kubeconfig := filepath.Join(dir, "server.kubeconfig")
	require.NoError(t, k.WriteKubeconfig(kubeconfig, k.AdminUser()))
	inst := launchForTest(t, dir, "", launchOptions{openshiftAI: fmt.Sprintf(`  kubernetes:
    kubeconfig: %q
  identity:
    oidc:
      issuer: %q
      audience: %q
    login:
      provider: oidc
      client_id: %s
      client_secret: %s
      session:
        secure: never
  access:
    projects: kubernetes
`, kubeconfig, op.Issuer, op.Audience, testenv.OIDCWebClientID, testenv.OIDCWebClientSecret)})
	e := &loginEnv{kube: k, perses: inst, fakeCA: x509.NewCertPool()}

	c := e.browser(t, nil, "")
	a := loginFetch(t, c, http.MethodGet, inst.url+"/oauth/login?login_hint=bob&then="+url.QueryEscape("/api/v1/projects"))
	require.Equal(t, http.StatusOK, a.status, "%s\n%s", a.body, tail(inst.logPath, 20))
	assert.Equal(t, "/api/v1/projects", a.url.Path)
	assert.Contains(t, a.body, `"team-b"`)
	assert.NotContains(t, a.body, `"team-a"`)
	who := loginFetch(t, c, http.MethodGet, inst.url+"/api/v1/user/whoami")
	require.Equal(t, http.StatusOK, who.status, who.body)
	assert.Contains(t, who.body, `"name":"bob"`)

	out := loginFetch(t, c, http.MethodGet, inst.url+"/oauth/logout")
	assert.Equal(t, http.StatusOK, out.status)
	assert.Contains(t, out.body, "Signed out")
	assert.Equal(t, http.StatusUnauthorized, loginFetch(t, c, http.MethodGet, inst.url+"/api/v1/user/whoami").status)
}
