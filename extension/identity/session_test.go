package identity

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testSealer(t *testing.T, key byte) *Sealer {
	t.Helper()
	s, err := NewSealer(bytes.Repeat([]byte{key}, 32))
	require.NoError(t, err)
	return s
}

func TestSealer(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := testSealer(t, 1)
	s.now = func() time.Time { return now }
	good, err := s.Seal(purposeSession, session{Token: "sha256~abc"}, now.Add(time.Hour))
	require.NoError(t, err)
	assert.NotContains(t, good, "abc", "the token must not be readable in the cookie")

	flip := func(v string, at int) string {
		raw, _ := base64.RawURLEncoding.DecodeString(v)
		raw[at] ^= 0x01
		return base64.RawURLEncoding.EncodeToString(raw)
	}
	other := testSealer(t, 2)
	otherValue, err := other.Seal(purposeSession, session{Token: "x"}, now.Add(time.Hour))
	require.NoError(t, err)
	expired, err := s.Seal(purposeSession, session{Token: "x"}, now)
	require.NoError(t, err)
	login, err := s.Seal(purposeLogin, session{Token: "x"}, now.Add(time.Hour))
	require.NoError(t, err)

	for _, tc := range []struct {
		name    string
		value   string
		sealer  *Sealer
		wantErr error
	}{
		{name: "genuine", value: good},
		{name: "ciphertext bit flipped", value: flip(good, 20), wantErr: ErrSealBroken},
		{name: "nonce bit flipped", value: flip(good, 3), wantErr: ErrSealBroken},
		{name: "tag bit flipped", value: flip(good, len(good)*3/4-2), wantErr: ErrSealBroken},
		{name: "version changed", value: flip(good, 0), wantErr: ErrSealBroken},
		{name: "truncated", value: good[:len(good)-4], wantErr: ErrSealBroken},
		{name: "empty", value: "", wantErr: ErrSealBroken},
		{name: "not base64", value: "!!!" + good, wantErr: ErrSealBroken},
		{name: "another key", value: otherValue, wantErr: ErrSealBroken},
		{name: "opened with another key", value: good, sealer: other, wantErr: ErrSealBroken},
		{name: "another purpose (login cookie as session)", value: login, wantErr: ErrSealBroken},
		{name: "expired", value: expired, wantErr: ErrSealExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sealer := s
			if tc.sealer != nil {
				sealer = tc.sealer
				sealer.now = s.now
			}
			var got session
			err := sealer.Open(purposeSession, tc.value, &got)
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "sha256~abc", got.Token)
		})
	}

	t.Run("expires later", func(t *testing.T) {
		later := *s
		later.now = func() time.Time { return now.Add(time.Hour + time.Second) }
		var got session
		assert.ErrorIs(t, later.Open(purposeSession, good, &got), ErrSealExpired)
	})
	t.Run("two seals of one value differ", func(t *testing.T) {
		again, err := s.Seal(purposeSession, session{Token: "sha256~abc"}, now.Add(time.Hour))
		require.NoError(t, err)
		assert.NotEqual(t, good, again)
	})
}

func TestNewSealerWantsA256BitKey(t *testing.T) {
	_, err := NewSealer(make([]byte, 16))
	assert.Error(t, err)
	k1, err := DeriveSessionKey([]byte("upstream key"))
	require.NoError(t, err)
	k2, err := DeriveSessionKey([]byte("upstream key!"))
	require.NoError(t, err)
	assert.Len(t, k1, 32)
	assert.NotEqual(t, k1, k2)
	assert.NotEqual(t, []byte("upstream key"), k1[:12])
}

func testCookies(t *testing.T) *Cookies {
	return &Cookies{Sealer: testSealer(t, 7), Name: "sess", Path: "/", LoginPath: "/oauth/", Secure: true}
}

func TestCookies(t *testing.T) {
	c := testCookies(t)
	w := httptest.NewRecorder()
	require.NoError(t, c.SetSession(w, "sha256~tok", time.Now().Add(time.Hour)))
	set := w.Result().Cookies()
	require.Len(t, set, 1)
	ck := set[0]
	assert.Equal(t, "sess", ck.Name)
	assert.True(t, ck.HttpOnly)
	assert.True(t, ck.Secure)
	assert.Equal(t, http.SameSiteLaxMode, ck.SameSite)
	assert.Equal(t, "/", ck.Path)
	assert.InDelta(t, 3600, ck.MaxAge, 5)

	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(ck)
	tok, err := c.Session(r)
	require.NoError(t, err)
	assert.Equal(t, "sha256~tok", tok)

	r = httptest.NewRequest(http.MethodGet, "/", nil)
	_, err = c.Session(r)
	assert.ErrorIs(t, err, ErrNoCredentials)

	w = httptest.NewRecorder()
	c.ClearSession(w)
	assert.Contains(t, w.Header().Get("Set-Cookie"), "Max-Age=0")

	w = httptest.NewRecorder()
	assert.Error(t, c.SetSession(w, strings.Repeat("x", 4000), time.Now().Add(time.Hour)), "too long for a cookie")
}

func TestStripCookies(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Cookie", "a=1; sess=secret; b=2")
	stripCookies(r, "sess")
	assert.Equal(t, "a=1; b=2", r.Header.Get("Cookie"))
	r.Header.Set("Cookie", "sess=secret")
	stripCookies(r, "sess")
	assert.Empty(t, r.Header.Values("Cookie"))
}

func TestSessionAuthenticator(t *testing.T) {
	c := testCookies(t)
	var seen []string
	next := AuthenticatorFunc(func(r *http.Request) (*User, error) {
		tok, err := BearerToken(r)
		if err != nil {
			return nil, err
		}
		seen = append(seen, tok)
		if tok == "revoked" {
			return nil, ErrInvalidCredentials
		}
		return &User{Name: "u-" + tok, token: tok}, nil
	})
	a := SessionAuthenticator{Cookies: c, Next: next}
	withSession := func(token string) *http.Request {
		w := httptest.NewRecorder()
		require.NoError(t, c.SetSession(w, token, time.Now().Add(time.Hour)))
		r := httptest.NewRequest(http.MethodGet, "/api/v1/user/whoami", nil)
		r.AddCookie(w.Result().Cookies()[0])
		return r
	}

	u, err := a.Authenticate(withSession("good"))
	require.NoError(t, err)
	assert.Equal(t, "u-good", u.Name)

	r := withSession("good")
	r.Header.Set("Authorization", "Bearer explicit")
	u, err = a.Authenticate(r)
	require.NoError(t, err)
	assert.Equal(t, "u-explicit", u.Name, "a bearer token wins over the cookie")

	_, err = a.Authenticate(withSession("revoked"))
	assert.ErrorIs(t, err, ErrInvalidCredentials)

	r = withSession("good")
	r.Header.Set("Cookie", strings.Replace(r.Header.Get("Cookie"), "sess=", "sess=x", 1))
	seen = nil
	_, err = a.Authenticate(r)
	assert.ErrorIs(t, err, ErrNoCredentials, "a tampered cookie is no session")
	assert.Empty(t, seen, "a tampered cookie is never sent for review")

	r = withSession("good")
	_, _ = a.Authenticate(r)
	assert.Empty(t, r.Header.Get("Authorization"), "the request itself is not changed")
}
