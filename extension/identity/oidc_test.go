package identity

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testIssuer is an OpenID issuer on loopback: discovery and a JWKS with one RSA key.
type testIssuer struct {
	srv *httptest.Server
	key *rsa.PrivateKey
	kid string
}

func newTestIssuer(t *testing.T) *testIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	iss := &testIssuer{key: key, kid: "k1"}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": iss.srv.URL, "jwks_uri": iss.srv.URL + "/jwks",
			"authorization_endpoint": iss.srv.URL + "/auth", "token_endpoint": iss.srv.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		pub := key.PublicKey
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "alg": "RS256", "use": "sig", "kid": iss.kid,
			"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		}}})
	})
	iss.srv = httptest.NewServer(mux)
	t.Cleanup(iss.srv.Close)
	return iss
}

func b64json(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	require.NoError(t, err)
	return base64.RawURLEncoding.EncodeToString(data)
}

// signRS256 signs header.claims with key.
func signRS256(t *testing.T, key *rsa.PrivateKey, header, claims map[string]any) string {
	t.Helper()
	input := b64json(t, header) + "." + b64json(t, claims)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	require.NoError(t, err)
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func (i *testIssuer) claims(aud string, now time.Time) map[string]any {
	return map[string]any{
		"iss": i.srv.URL, "aud": aud, "sub": "u-123", "preferred_username": "alice",
		"groups": []string{"team-a", "ml"}, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

func TestOIDCReview(t *testing.T) {
	iss := newTestIssuer(t)
	now := time.Now()
	header := map[string]any{"alg": "RS256", "typ": "JWT", "kid": iss.kid}
	valid := func() map[string]any { return iss.claims("perses", now) }
	with := func(k string, v any) map[string]any { c := valid(); c[k] = v; return c }

	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	pubDER, err := x509.MarshalPKIXPublicKey(&iss.key.PublicKey)
	require.NoError(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	// Algorithm confusion: HS256 keyed with the issuer's public key, as a verifier that
	// takes "the key" for an HMAC secret would accept.
	hsInput := b64json(t, map[string]any{"alg": "HS256", "typ": "JWT", "kid": iss.kid}) + "." + b64json(t, valid())
	mac := hmac.New(sha256.New, pubPEM)
	mac.Write([]byte(hsInput))
	hs256 := hsInput + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	none := b64json(t, map[string]any{"alg": "none", "typ": "JWT"}) + "." + b64json(t, valid()) + "."
	good := signRS256(t, iss.key, header, valid())
	parts := strings.Split(good, ".")

	cases := []struct {
		name  string
		token string
	}{
		{"expired", signRS256(t, iss.key, header, with("exp", now.Add(-time.Minute).Unix()))},
		{"not yet valid", signRS256(t, iss.key, header, with("nbf", now.Add(time.Hour).Unix()))},
		{"wrong audience", signRS256(t, iss.key, header, with("aud", "someone-else"))},
		{"wrong issuer", signRS256(t, iss.key, header, with("iss", "https://evil.example"))},
		{"alg none", none},
		{"alg none with a signature", none + parts[2]},
		{"HS256 keyed with the public key", hs256},
		{"re-signed with another key", signRS256(t, otherKey, header, valid())},
		{"claims swapped under a valid signature", parts[0] + "." + b64json(t, with("preferred_username", "admin")) + "." + parts[2]},
		{"malformed: two parts", parts[0] + "." + parts[1]},
		{"malformed: not base64", "!!!.???.***"},
		{"malformed: empty", ""},
		{"malformed: garbage JSON", base64.RawURLEncoding.EncodeToString([]byte("{")) + "." + parts[1] + "." + parts[2]},
		{"oversized", parts[0] + "." + strings.Repeat("A", 1<<20) + "." + parts[2]},
		{"no user name claim", signRS256(t, iss.key, header, with("preferred_username", nil))},
		{"user name not a string", signRS256(t, iss.key, header, with("preferred_username", 42))},
	}

	v, err := NewOIDC(OIDCOptions{
		Issuer: iss.srv.URL, Audience: "perses", UsernameClaim: "preferred_username", GroupsClaim: "groups",
		UsernamePrefix: "oidc:", GroupsPrefix: "oidc:", Algorithms: []string{"RS256"}, Timeout: 5 * time.Second,
	})
	require.NoError(t, err)

	t.Run("valid", func(t *testing.T) {
		u, err := v.Review(context.Background(), good)
		require.NoError(t, err)
		assert.Equal(t, "oidc:alice", u.Name)
		assert.Equal(t, "u-123", u.UID)
		assert.Equal(t, []string{"oidc:team-a", "oidc:ml", "system:authenticated"}, u.Groups)
		assert.Equal(t, MethodOIDC, u.Method)
		assert.Equal(t, good, u.Token())
		assert.True(t, v.Issues(good))
	})
	t.Run("groups as one string", func(t *testing.T) {
		u, err := v.Review(context.Background(), signRS256(t, iss.key, header, with("groups", "solo")))
		require.NoError(t, err)
		assert.Equal(t, []string{"oidc:solo", "system:authenticated"}, u.Groups)
	})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			require.NotPanics(t, func() { _, err = v.Review(context.Background(), c.token) })
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidCredentials)
			assert.Equal(t, http.StatusUnauthorized, StatusOf(err))
		})
	}

	// Through the HTTP layer: the filter and the route middleware answer 401 (the header
	// bound refuses the oversized token unread).
	t.Run("through the filter", func(t *testing.T) {
		chain := BearerChain{OIDC: v}
		for _, c := range append(cases, struct{ name, token string }{"huge header", strings.Repeat("x", 20000)}) {
			r := httptest.NewRequest(http.MethodGet, "/api/v1/projects", nil)
			r.Header.Set("Authorization", "Bearer "+c.token)
			var err error
			require.NotPanics(t, func() { _, err = chain.Authenticate(r) }, c.name)
			assert.Equal(t, http.StatusUnauthorized, StatusOf(err), c.name)
		}
	})
}

func TestOIDCIssuerDown(t *testing.T) {
	iss := newTestIssuer(t)
	token := signRS256(t, iss.key, map[string]any{"alg": "RS256", "kid": iss.kid}, iss.claims("perses", time.Now()))
	url := iss.srv.URL
	iss.srv.Close()
	v, err := NewOIDC(OIDCOptions{Issuer: url, Audience: "perses", UsernameClaim: "preferred_username", Algorithms: []string{"RS256"}, Timeout: time.Second})
	require.NoError(t, err)
	_, err = v.Review(context.Background(), token)
	require.ErrorIs(t, err, ErrUnavailable)
	assert.Equal(t, http.StatusServiceUnavailable, StatusOf(err))
}
