package openshiftfake_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/openshift-ai/observability/internal/testenv"
	"github.com/openshift-ai/observability/internal/testenv/openshiftfake"
)

const redirectURI = "http://127.0.0.1/oauth/callback"

// env is a real kube-apiserver with the fake in front of it: alice's group may get namespace
// team-a, bob may get team-b.
type env struct {
	kube *testenv.Kube
	fake *openshiftfake.Server
	// browser trusts the fake's CA and stops at redirects, as a test of a redirect wants.
	browser *http.Client
	oauth   oauth2.Config
}

func startEnv(t *testing.T) *env {
	t.Helper()
	ctx := t.Context()
	k, err := testenv.StartKube(ctx, testenv.KubeOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, k.Stop()) })
	require.NoError(t, k.CreateNamespaces(ctx, "team-a", "team-b"))
	require.NoError(t, k.BindClusterRole(ctx, "team-a", "view", testenv.GroupSubject("team-a")))
	require.NoError(t, k.BindClusterRole(ctx, "team-b", "view", testenv.UserSubject("bob")))

	start := time.Now()
	fake, err := openshiftfake.Start(openshiftfake.Config{
		Kube:    k.Config(k.AdminUser()),
		Tokens:  k.OpenShiftTokens(),
		User:    "alice",
		Clients: []openshiftfake.OAuthClient{{ID: "perses", Secret: "perses-secret", RedirectURIs: []string{redirectURI}}},
	})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, fake.Stop()) })
	t.Logf("openshift fake up in %s at %s", time.Since(start).Round(time.Millisecond), fake.URL)

	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(fake.CAData))
	browser := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
	return &env{kube: k, fake: fake, browser: browser, oauth: oauth2.Config{
		ClientID: "perses", ClientSecret: "perses-secret", RedirectURL: redirectURI, Scopes: []string{"user:full"},
	}}
}

func TestFake(t *testing.T) {
	e := startEnv(t)
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, e.browser)

	t.Run("oauth metadata", func(t *testing.T) {
		var meta struct {
			Issuer                        string   `json:"issuer"`
			AuthorizationEndpoint         string   `json:"authorization_endpoint"`
			TokenEndpoint                 string   `json:"token_endpoint"`
			CodeChallengeMethodsSupported []string `json:"code_challenge_methods_supported"`
		}
		resp, err := e.browser.Get(e.fake.URL + "/.well-known/oauth-authorization-server")
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&meta))
		assert.Equal(t, e.fake.URL, meta.Issuer)
		assert.Equal(t, e.fake.URL+"/oauth/authorize", meta.AuthorizationEndpoint)
		assert.Equal(t, e.fake.URL+"/oauth/token", meta.TokenEndpoint)
		assert.Contains(t, meta.CodeChallengeMethodsSupported, "S256")
		e.oauth.Endpoint = oauth2.Endpoint{AuthURL: meta.AuthorizationEndpoint, TokenURL: meta.TokenEndpoint, AuthStyle: oauth2.AuthStyleInHeader}
	})
	require.NotEmpty(t, e.oauth.Endpoint.TokenURL, "metadata failed")

	// authorize runs the authorization request and returns the code it redirects with.
	authorize := func(t *testing.T, state string, opts ...oauth2.AuthCodeOption) string {
		t.Helper()
		resp, err := e.browser.Get(e.oauth.AuthCodeURL(state, opts...))
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusFound, resp.StatusCode)
		loc, err := resp.Location()
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(loc.String(), redirectURI+"?"), loc.String())
		assert.Equal(t, state, loc.Query().Get("state"))
		require.NotEmpty(t, loc.Query().Get("code"), loc.String())
		return loc.Query().Get("code")
	}

	t.Run("code flow with PKCE passes TokenReview", func(t *testing.T) {
		for _, user := range []string{"alice", "bob"} {
			t.Run(user, func(t *testing.T) {
				require.NoError(t, e.fake.SetUser(user))
				verifier := oauth2.GenerateVerifier()
				code := authorize(t, "state-"+user, oauth2.S256ChallengeOption(verifier))
				tok, err := e.oauth.Exchange(ctx, code, oauth2.VerifierOption(verifier))
				require.NoError(t, err)
				assert.True(t, strings.HasPrefix(tok.AccessToken, "sha256~"), "an OpenShift-shaped token")

				review, err := e.kube.Admin.AuthenticationV1().TokenReviews().Create(ctx,
					&authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: tok.AccessToken}}, metav1.CreateOptions{})
				require.NoError(t, err)
				require.True(t, review.Status.Authenticated)
				assert.Equal(t, user, review.Status.User.Username)

				// A code is good once.
				_, err = e.oauth.Exchange(ctx, code, oauth2.VerifierOption(verifier))
				require.Error(t, err)
				assert.Contains(t, err.Error(), "invalid_grant")
			})
		}
		require.NoError(t, e.fake.SetUser("alice"))
	})

	t.Run("bad exchanges are refused", func(t *testing.T) {
		verifier := oauth2.GenerateVerifier()
		for _, tc := range []struct {
			name     string
			exchange func(code string) error
		}{
			{"wrong verifier", func(code string) error {
				_, err := e.oauth.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
				return err
			}},
			{"no verifier", func(code string) error {
				_, err := e.oauth.Exchange(ctx, code)
				return err
			}},
			{"wrong client secret", func(code string) error {
				other := e.oauth
				other.ClientSecret = "guess"
				_, err := other.Exchange(ctx, code, oauth2.VerifierOption(verifier))
				return err
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				code := authorize(t, "s", oauth2.S256ChallengeOption(verifier))
				require.Error(t, tc.exchange(code))
			})
		}
	})

	t.Run("unregistered redirect_uri is refused without redirecting", func(t *testing.T) {
		other := e.oauth
		other.RedirectURL = "https://evil.example.test/callback"
		resp, err := e.browser.Get(other.AuthCodeURL("s"))
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	})

	t.Run("users/~", func(t *testing.T) {
		for _, tc := range []struct {
			name, token string
			status      int
			user        string
		}{
			{"alice", e.kube.OpenShiftToken("alice"), http.StatusOK, "alice"},
			{"carol plain token", e.kube.Token("carol"), http.StatusOK, "carol"},
			{"unknown token", testenv.NewOpenShiftToken(), http.StatusUnauthorized, ""},
			{"no token", "", http.StatusForbidden, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var u struct {
					Kind     string `json:"kind"`
					Metadata struct {
						Name string `json:"name"`
					} `json:"metadata"`
					Groups []string `json:"groups"`
				}
				status := getAs(t, e, tc.token, "/apis/user.openshift.io/v1/users/~", &u)
				require.Equal(t, tc.status, status)
				if tc.user != "" {
					assert.Equal(t, "User", u.Kind)
					assert.Equal(t, tc.user, u.Metadata.Name)
					assert.Subset(t, u.Groups, e.kube.Groups(tc.user))
				}
			})
		}
	})

	t.Run("projects", func(t *testing.T) {
		for _, tc := range []struct {
			user     string
			projects []string
		}{
			{"alice", []string{"team-a"}},
			{"bob", []string{"team-b"}},
			{"carol", []string{}},
		} {
			t.Run(tc.user, func(t *testing.T) {
				var list struct {
					Kind  string `json:"kind"`
					Items []struct {
						Kind     string `json:"kind"`
						Metadata struct {
							Name string `json:"name"`
						} `json:"metadata"`
					} `json:"items"`
				}
				status := getAs(t, e, e.kube.OpenShiftToken(tc.user), "/apis/project.openshift.io/v1/projects", &list)
				require.Equal(t, http.StatusOK, status)
				assert.Equal(t, "ProjectList", list.Kind)
				names := []string{}
				for _, p := range list.Items {
					assert.Equal(t, "Project", p.Kind)
					names = append(names, p.Metadata.Name)
				}
				assert.Equal(t, tc.projects, names)
			})
		}
		t.Run("admin sees every namespace", func(t *testing.T) {
			var list struct {
				Items []json.RawMessage `json:"items"`
			}
			require.Equal(t, http.StatusOK, getAs(t, e, e.kube.Token("admin"), "/apis/project.openshift.io/v1/projects", &list))
			assert.GreaterOrEqual(t, len(list.Items), 5) // default, kube-system, kube-public, kube-node-lease, team-a, team-b
		})
		t.Run("get", func(t *testing.T) {
			assert.Equal(t, http.StatusOK, getAs(t, e, e.kube.OpenShiftToken("alice"), "/apis/project.openshift.io/v1/projects/team-a", nil))
			assert.Equal(t, http.StatusForbidden, getAs(t, e, e.kube.OpenShiftToken("alice"), "/apis/project.openshift.io/v1/projects/team-b", nil))
			assert.Equal(t, http.StatusNotFound, getAs(t, e, e.kube.Token("admin"), "/apis/project.openshift.io/v1/projects/nowhere", nil))
		})
	})

	t.Run("everything else reaches the real kube-apiserver", func(t *testing.T) {
		cs, err := kubernetes.NewForConfig(e.fake.Config(e.kube.OpenShiftToken("alice")))
		require.NoError(t, err)
		review, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		require.NoError(t, err)
		assert.Equal(t, "alice", review.Status.UserInfo.Username)
		_, err = cs.CoreV1().Namespaces().Get(ctx, "team-a", metav1.GetOptions{})
		require.NoError(t, err)
		_, err = cs.CoreV1().Namespaces().Get(ctx, "team-b", metav1.GetOptions{})
		require.Error(t, err, "alice may not get team-b")
	})
}

// getAs GETs path on the fake with a bearer token, decodes a 200 answer into v (when given)
// and returns the status.
func getAs(t *testing.T, e *env, token, path string, v any) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, e.fake.URL+path, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.browser.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK && v != nil {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(v))
	}
	return resp.StatusCode
}
