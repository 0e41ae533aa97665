package identity

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Errors of sealed values (session and login cookies). Both mean "no session": the
// request is then treated as one without credentials.
var (
	// ErrSealBroken: the value was not sealed with this key for this purpose, or was
	// changed since.
	ErrSealBroken = errors.New("sealed value invalid (tampered, truncated or another key)")
	// ErrSealExpired: the value was genuine but its time is up.
	ErrSealExpired = errors.New("sealed value expired")
)

// sealVersion is the first byte of every sealed value, so that the format can change.
const sealVersion = 1

// Sealer encrypts and authenticates small values for cookies with AES-256-GCM. Each
// value is bound to a purpose (additional data), so that a login cookie cannot be
// presented as a session cookie, and carries its own expiry, checked on opening
// (a cookie kept beyond its Max-Age by a client is still refused).
type Sealer struct {
	aead cipher.AEAD
	now  func() time.Time
}

// NewSealer returns a sealer for a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("session key: %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead, now: time.Now}, nil
}

// DeriveSessionKey derives the cookie key from another secret (upstream's
// security.encryption_key), so that the two are never the same key.
func DeriveSessionKey(secret []byte) ([]byte, error) {
	return hkdf.Key(sha256.New, secret, nil, "perses-openshift-ai session cookie v1", 32)
}

type sealed struct {
	Expires int64           `json:"exp"`
	Value   json.RawMessage `json:"v"`
}

func additionalData(purpose string) []byte {
	return []byte("perses-openshift-ai/" + purpose)
}

// Seal returns v, encrypted for purpose until expires, as a cookie-safe string.
func (s *Sealer) Seal(purpose string, v any, expires time.Time) (string, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	plain, err := json.Marshal(sealed{Expires: expires.Unix(), Value: raw})
	if err != nil {
		return "", err
	}
	out := make([]byte, 1+s.aead.NonceSize(), 1+s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return "", err
	}
	out = s.aead.Seal(out, out[1:], plain, additionalData(purpose))
	return base64.RawURLEncoding.EncodeToString(out), nil
}

// Open decrypts a value sealed for purpose into v: ErrSealBroken or ErrSealExpired
// when it cannot be used.
func (s *Sealer) Open(purpose, value string, v any) error {
	data, err := base64.RawURLEncoding.DecodeString(value)
	n := s.aead.NonceSize()
	if err != nil || len(data) < 1+n+s.aead.Overhead() || data[0] != sealVersion {
		return ErrSealBroken
	}
	plain, err := s.aead.Open(nil, data[1:1+n], data[1+n:], additionalData(purpose))
	if err != nil {
		return ErrSealBroken
	}
	var env sealed
	if err := json.Unmarshal(plain, &env); err != nil {
		return ErrSealBroken
	}
	if !s.now().Before(time.Unix(env.Expires, 0)) {
		return ErrSealExpired
	}
	if err := json.Unmarshal(env.Value, v); err != nil {
		return ErrSealBroken
	}
	return nil
}

// Purposes of sealed values.
const (
	purposeSession = "session"
	purposeLogin   = "login"
)

// MaxCookieLength bounds the session cookie: browsers drop cookies over 4096 bytes
// (name and attributes included).
const MaxCookieLength = 3800

// session is what the session cookie holds.
type session struct {
	// Token is the bearer token the provider issued, presented on every request.
	Token string `json:"t"`
}

// Cookies writes and reads the session cookie and the short-lived login cookie (the
// state, PKCE verifier, nonce and destination of a login in progress).
type Cookies struct {
	Sealer *Sealer
	// Name is the session cookie's; the login cookie is Name + "-login".
	Name string
	// Path is where the session cookie is sent ("/" or the API prefix).
	Path string
	// LoginPath is where the login cookie is sent (the callback's folder).
	LoginPath string
	// Secure marks both cookies Secure.
	Secure bool
}

// LoginName is the login cookie's name.
func (c *Cookies) LoginName() string { return c.Name + "-login" }

// SetSession writes the session cookie for token, valid until expires.
func (c *Cookies) SetSession(w http.ResponseWriter, token string, expires time.Time) error {
	v, err := c.Sealer.Seal(purposeSession, session{Token: token}, expires)
	if err != nil {
		return err
	}
	if len(c.Name)+len(v) > MaxCookieLength {
		return fmt.Errorf("the issued token is too long for a session cookie (%d bytes sealed, at most %d)", len(v), MaxCookieLength)
	}
	http.SetCookie(w, c.cookie(c.Name, c.Path, v, expires))
	return nil
}

// Session returns the token of the request's session cookie: ErrNoCredentials when there
// is none, ErrSealBroken or ErrSealExpired when it cannot be used.
func (c *Cookies) Session(r *http.Request) (string, error) {
	ck, err := r.Cookie(c.Name)
	if err != nil || ck.Value == "" {
		return "", ErrNoCredentials
	}
	var s session
	if err := c.Sealer.Open(purposeSession, ck.Value, &s); err != nil {
		return "", err
	}
	if s.Token == "" || len(s.Token) > MaxTokenLength {
		return "", ErrSealBroken
	}
	return s.Token, nil
}

// HasSession says whether the request carries a session cookie at all.
func (c *Cookies) HasSession(r *http.Request) bool {
	ck, err := r.Cookie(c.Name)
	return err == nil && ck.Value != ""
}

// ClearSession removes the session cookie.
func (c *Cookies) ClearSession(w http.ResponseWriter) {
	http.SetCookie(w, c.cookie(c.Name, c.Path, "", time.Time{}))
}

// SetLogin writes the login cookie.
func (c *Cookies) SetLogin(w http.ResponseWriter, l loginState, expires time.Time) error {
	v, err := c.Sealer.Seal(purposeLogin, l, expires)
	if err != nil {
		return err
	}
	http.SetCookie(w, c.cookie(c.LoginName(), c.LoginPath, v, expires))
	return nil
}

// Login returns the login in progress.
func (c *Cookies) Login(r *http.Request) (loginState, error) {
	var l loginState
	ck, err := r.Cookie(c.LoginName())
	if err != nil || ck.Value == "" {
		return l, ErrNoCredentials
	}
	err = c.Sealer.Open(purposeLogin, ck.Value, &l)
	return l, err
}

// ClearLogin removes the login cookie.
func (c *Cookies) ClearLogin(w http.ResponseWriter) {
	http.SetCookie(w, c.cookie(c.LoginName(), c.LoginPath, "", time.Time{}))
}

// cookie builds a cookie; a zero expiry deletes it.
func (c *Cookies) cookie(name, path, value string, expires time.Time) *http.Cookie {
	ck := &http.Cookie{
		Name: name, Value: value, Path: path,
		HttpOnly: true, Secure: c.Secure,
		// Lax: sent on the top-level redirect back from the authorization server (a
		// cross-site navigation), never on cross-site subrequests or form posts.
		SameSite: http.SameSiteLaxMode,
	}
	if expires.IsZero() {
		ck.MaxAge = -1
	} else {
		ck.Expires = expires.UTC()
		ck.MaxAge = max(1, int(time.Until(expires).Seconds()))
	}
	return ck
}

// stripCookies removes the named cookies from the request, so that upstream (its
// datasource proxy forwards the caller's cookies) never passes them on.
func stripCookies(r *http.Request, names ...string) {
	all := r.Cookies()
	kept := make([]string, 0, len(all))
	removed := false
	for _, ck := range all {
		drop := false
		for _, n := range names {
			if ck.Name == n {
				drop = true
			}
		}
		if drop {
			removed = true
			continue
		}
		kept = append(kept, ck.Name+"="+ck.Value)
	}
	if !removed {
		return
	}
	if len(kept) == 0 {
		r.Header.Del("Cookie")
		return
	}
	r.Header.Set("Cookie", strings.Join(kept, "; "))
}

// SessionAuthenticator recognises the token of the session cookie as if it had come as
// a bearer token (same verifiers, same caches). An Authorization header, when present,
// wins over the cookie; a cookie that cannot be opened is no credential at all.
type SessionAuthenticator struct {
	Cookies *Cookies
	Next    Authenticator
}

// Authenticate recognises the request's session, or its bearer token.
func (a SessionAuthenticator) Authenticate(r *http.Request) (*User, error) {
	if r.Header.Get("Authorization") != "" {
		return a.Next.Authenticate(r)
	}
	token, err := a.Cookies.Session(r)
	if err != nil {
		return nil, ErrNoCredentials
	}
	return reviewToken(r, a.Next, token)
}

// reviewToken asks authn about token as if r had carried it as a bearer token; r
// itself is left unchanged.
func reviewToken(r *http.Request, authn Authenticator, token string) (*User, error) {
	as := r.Clone(r.Context())
	as.Header.Set("Authorization", "Bearer "+token)
	return authn.Authenticate(as)
}
