package identity

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// loginIssuer is a minimal OpenID provider for the login: discovery, keys, and a token
// endpoint whose ID token the test shapes through idClaims.
type loginIssuer struct {
	*httptest.Server
	key      *rsa.PrivateKey
	idClaims func(nonce string) map[string]any
	nonces   map[string]string // code → nonce of its authorization request
}

func newLoginIssuer(t *testing.T) *loginIssuer {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	li := &loginIssuer{key: key, nonces: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": li.URL, "authorization_endpoint": li.URL + "/auth", "token_endpoint": li.URL + "/token",
			"jwks_uri": li.URL + "/jwks", "id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, _ *http.Request) {
		b := func(x []byte) string { return base64.RawURLEncoding.EncodeToString(x) }
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]any{{
			"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
			"n": b(key.N.Bytes()), "e": b(big.NewInt(int64(key.E)).Bytes()),
		}}})
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		resp := map[string]any{"access_token": "access-jwt", "token_type": "Bearer", "expires_in": 300}
		if claims := li.idClaims(li.nonces[r.PostForm.Get("code")]); claims != nil {
			resp["id_token"] = li.sign(t, claims)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
	})
	li.Server = httptest.NewServer(mux)
	t.Cleanup(li.Close)
	return li
}

func (li *loginIssuer) sign(t *testing.T, claims map[string]any) string {
	enc := func(v any) string {
		raw, err := json.Marshal(v)
		require.NoError(t, err)
		return base64.RawURLEncoding.EncodeToString(raw)
	}
	input := enc(map[string]any{"alg": "RS256", "kid": "k1", "typ": "JWT"}) + "." + enc(claims)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, li.key, crypto.SHA256, sum[:])
	require.NoError(t, err)
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestOIDCLogin(t *testing.T) {
	li := newLoginIssuer(t)
	login := NewOIDCLogin(li.URL, LoginClient{ID: "perses-web", Secret: "s", HTTP: http.DefaultClient}, []string{"RS256"}, false)
	valid := func(nonce string) map[string]any {
		now := time.Now()
		return map[string]any{"iss": li.URL, "aud": "perses-web", "sub": "u1", "nonce": nonce,
			"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
	}

	for _, tc := range []struct {
		name     string
		idClaims func(nonce string) map[string]any
		keepID   bool
		wantErr  error
	}{
		{name: "valid", idClaims: valid},
		{name: "valid, keep the ID token", idClaims: valid, keepID: true},
		{name: "another nonce", idClaims: func(string) map[string]any { return valid("replayed-nonce") }, wantErr: ErrLoginRefused},
		{name: "no nonce", idClaims: func(string) map[string]any { return valid("") }, wantErr: ErrLoginRefused},
		{name: "another audience", idClaims: func(n string) map[string]any {
			c := valid(n)
			c["aud"] = "someone-else"
			return c
		}, wantErr: ErrLoginRefused},
		{name: "expired", idClaims: func(n string) map[string]any {
			c := valid(n)
			c["exp"] = time.Now().Add(-time.Minute).Unix()
			return c
		}, wantErr: ErrLoginRefused},
		{name: "no ID token", idClaims: func(string) map[string]any { return nil }, wantErr: ErrLoginRefused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			li.idClaims = tc.idClaims
			login.keepID = tc.keepID
			st := loginState{State: randomToken(), Verifier: "v-" + randomToken(), Nonce: randomToken(), RedirectURL: "http://127.0.0.1/oauth/callback"}
			to, err := login.AuthCodeURL(t.Context(), st)
			require.NoError(t, err)
			u, err := url.Parse(to)
			require.NoError(t, err)
			q := u.Query()
			assert.Equal(t, li.URL+"/auth", strings.Split(to, "?")[0])
			assert.Equal(t, "S256", q.Get("code_challenge_method"))
			sum := sha256.Sum256([]byte(st.Verifier))
			assert.Equal(t, base64.RawURLEncoding.EncodeToString(sum[:]), q.Get("code_challenge"))
			assert.Equal(t, st.State, q.Get("state"))
			assert.Equal(t, st.Nonce, q.Get("nonce"))
			assert.Contains(t, q.Get("scope"), "openid")

			code := "code-" + tc.name
			li.nonces[code] = q.Get("nonce")
			got, err := login.Exchange(t.Context(), st, code)
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			if tc.keepID {
				assert.Equal(t, 3, strings.Count(got.Token, ".")+1, "the ID token")
			} else {
				assert.Equal(t, "access-jwt", got.Token)
			}
			assert.WithinDuration(t, time.Now().Add(5*time.Minute), got.Expiry, 10*time.Second)
		})
	}
}

func TestOpenShiftLoginDiscovery(t *testing.T) {
	down := NewOpenShiftLogin("http://127.0.0.1:1", LoginClient{ID: "perses", HTTP: &http.Client{Timeout: time.Second}})
	_, err := down.AuthCodeURL(t.Context(), loginState{State: "s", Verifier: "v"})
	assert.ErrorIs(t, err, ErrUnavailable)

	auth := newFakeOAuth(t)
	o := NewOpenShiftLogin(auth.URL, LoginClient{ID: "perses", Secret: "s3cret", HTTP: http.DefaultClient})
	to, err := o.AuthCodeURL(t.Context(), loginState{State: "st", Verifier: "ver", RedirectURL: "http://127.0.0.1/oauth/callback"})
	require.NoError(t, err)
	u, err := url.Parse(to)
	require.NoError(t, err)
	assert.Equal(t, auth.URL+"/authorize", u.Scheme+"://"+u.Host+u.Path)
	assert.Equal(t, "user:full", u.Query().Get("scope"))
	assert.Equal(t, "S256", u.Query().Get("code_challenge_method"))
	assert.Empty(t, u.Query().Get("nonce"))
}
