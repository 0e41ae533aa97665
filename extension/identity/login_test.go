package identity

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSafeThen(t *testing.T) {
	for _, tc := range []struct {
		then, prefix, want string
	}{
		{"/projects/team-a/dashboards/x?start=1h", "", "/projects/team-a/dashboards/x?start=1h"},
		{"/", "", "/"},
		{"", "", "/"},
		{"//evil.example.com/x", "", "/"},
		{"/\\evil.example.com", "", "/"},
		{"https://evil.example.com/", "", "/"},
		{"javascript:alert(1)", "", "/"},
		{"evil.example.com", "", "/"},
		{"/%2F%2Fevil.example.com", "", "/%2F%2Fevil.example.com"}, // a path on this server
		{"/a\r\nSet-Cookie: x=1", "", "/"},
		{"/a\tb", "", "/"},
		{"/oauth/login?then=/", "", "/"},
		{"/oauth/logout", "", "/"},
		{"/" + strings.Repeat("a", maxThenLength), "", "/"},
		{"/perses/projects", "/perses", "/perses/projects"},
		{"/projects", "/perses", "/perses/"},
		{"/perses/oauth/callback", "/perses", "/perses/"},
	} {
		t.Run(fmt.Sprintf("%.40q", tc.then), func(t *testing.T) {
			assert.Equal(t, tc.want, SafeThen(tc.then, tc.prefix))
		})
	}
}

func TestIsUIPage(t *testing.T) {
	for _, tc := range []struct {
		method, path, prefix string
		want                 bool
	}{
		{http.MethodGet, "/", "", true},
		{http.MethodGet, "/projects/team-a/dashboards/d", "", true},
		{http.MethodHead, "/admin", "", true},
		{http.MethodGet, "/explore", "", true},
		{http.MethodPost, "/projects", "", false},
		{http.MethodGet, "/api/v1/projects", "", false},
		{http.MethodGet, "/api/config", "", false},
		{http.MethodGet, "/assets/index.js", "", false},
		{http.MethodGet, "/plugins/x/y.js", "", false},
		{http.MethodGet, "/projectsx", "", false},
		{http.MethodGet, "/oauth/login", "", false},
		{http.MethodGet, "/perses/projects", "/perses", true},
		{http.MethodGet, "/perses", "/perses", true},
		{http.MethodGet, "/projects", "/perses", false},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			assert.Equal(t, tc.want, isUIPage(tc.method, tc.path, tc.prefix))
		})
	}
}

// fakeOAuth is a tiny authorization server: discovery, an authorize endpoint that
// approves at once, a token endpoint with single-use codes and S256 PKCE.
type fakeOAuth struct {
	*httptest.Server
	mu    sync.Mutex
	codes map[string]string // code → challenge
	n     int
}

func newFakeOAuth(t *testing.T) *fakeOAuth {
	f := &fakeOAuth{codes: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+WellKnownOAuth, func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"authorization_endpoint": f.URL + "/authorize", "token_endpoint": f.URL + "/token"})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("client_id") != "perses" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.n++
		code := fmt.Sprintf("code-%d", f.n)
		f.codes[code] = q.Get("code_challenge")
		f.mu.Unlock()
		back, _ := url.Parse(q.Get("redirect_uri"))
		back.RawQuery = url.Values{"code": {code}, "state": {q.Get("state")}}.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		id, secret, _ := r.BasicAuth()
		if id == "" {
			id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		f.mu.Lock()
		challenge, ok := f.codes[r.PostForm.Get("code")]
		delete(f.codes, r.PostForm.Get("code"))
		f.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		w.Header().Set("Content-Type", "application/json")
		switch {
		case id != "perses" || secret != "s3cret":
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":"invalid_client"}`)
		case !ok || base64.RawURLEncoding.EncodeToString(sum[:]) != challenge:
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":"invalid_grant","error_description":"unknown code or bad verifier"}`)
		default:
			_, _ = io.WriteString(w, `{"access_token":"sha256~alice","token_type":"Bearer","expires_in":3600}`)
		}
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

// loginServer is echo with the identity filter, the gate, the login routes, a
// protected API route and a UI page, as the server sets them up.
func loginServer(t *testing.T, authServer string) (*httptest.Server, *Login) {
	reviews := AuthenticatorFunc(func(r *http.Request) (*User, error) {
		tok, err := BearerToken(r)
		if err != nil {
			return nil, err
		}
		if tok != "sha256~alice" {
			return nil, ErrInvalidCredentials
		}
		return &User{Name: "alice", token: tok}, nil
	})
	cookies := testCookies(t)
	cookies.Secure = false // httptest serves http, and the jar keeps Secure cookies for https
	l := NewLogin(LoginOptions{
		Provider: NewOpenShiftLogin(authServer, LoginClient{ID: "perses", Secret: "s3cret", HTTP: http.DefaultClient}),
		Cookies:  cookies, Authn: reviews, MaxAge: time.Hour,
	})
	e := echo.New()
	e.Pre(Filter(SessionAuthenticator{Cookies: cookies, Next: reviews}, false), l.Gate())
	l.RegisterRoute(e)
	prov := NewProvider(nil, false)
	e.GET("/api/v1/user/whoami", func(c echo.Context) error {
		u, err := prov.GetPublicUser(c)
		if err != nil {
			return HTTPError(err)
		}
		return c.JSON(http.StatusOK, u)
	})
	e.POST("/api/v1/projects", func(c echo.Context) error {
		if _, err := UserOf(c); err != nil {
			return HTTPError(err)
		}
		return c.NoContent(http.StatusOK)
	})
	e.GET("/projects/*", func(c echo.Context) error {
		assert.NotContains(t, c.Request().Header.Get("Cookie"), "sess=", "upstream must not see the session cookie")
		return c.HTML(http.StatusOK, "<html>ui</html>")
	})
	s := httptest.NewServer(e)
	t.Cleanup(s.Close)
	return s, l
}

func TestLoginFlow(t *testing.T) {
	auth := newFakeOAuth(t)
	srv, _ := loginServer(t, auth.URL)
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	var visited []string
	browser := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		visited = append(visited, req.URL.Path)
		return nil
	}}
	get := func(t *testing.T, c *http.Client, u string) (*http.Response, string) {
		t.Helper()
		resp, err := c.Get(u)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		return resp, string(body)
	}

	// API without credentials: 401 JSON, no redirect.
	resp, body := get(t, browser, srv.URL+"/api/v1/user/whoami")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Contains(t, body, "message")

	// A UI page: login at the authorization server and back to the page asked for.
	resp, body = get(t, browser, srv.URL+"/projects/team-a?x=1")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Equal(t, "/projects/team-a", resp.Request.URL.Path)
	assert.Equal(t, "x=1", resp.Request.URL.RawQuery)
	assert.Equal(t, []string{"/oauth/login", "/authorize", "/oauth/callback", "/projects/team-a"}, visited)

	resp, body = get(t, browser, srv.URL+"/api/v1/user/whoami")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, `"name":"alice"`)

	// Unsafe requests with the cookie: same origin yes, another site no (CSRF).
	for site, want := range map[string]int{"same-origin": http.StatusOK, "same-site": http.StatusForbidden, "cross-site": http.StatusForbidden} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/projects", nil)
		req.Header.Set("Sec-Fetch-Site", site)
		resp, err := browser.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, want, resp.StatusCode, site)
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/projects", nil)
	req.Header.Set("Origin", "https://evil.example.com")
	resp, err = browser.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "Origin of another host")

	// Logout clears the cookie; the UI sends to the login again.
	req, _ = http.NewRequest(http.MethodPost, srv.URL+PathLogout, nil)
	resp, err = browser.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	resp, _ = get(t, browser, srv.URL+"/api/v1/user/whoami")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	noFollow := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, _ = get(t, noFollow, srv.URL+"/projects/team-b")
	assert.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Equal(t, PathLogin+"?then=%2Fprojects%2Fteam-b", resp.Header.Get("Location"))
}

func TestLoginCallbackErrors(t *testing.T) {
	auth := newFakeOAuth(t)
	srv, l := loginServer(t, auth.URL)
	u, _ := url.Parse(srv.URL)

	// start begins a login and returns the jar (with the login cookie) and the callback URL
	// the authorization server sent the browser to.
	start := func(t *testing.T) (*cookiejar.Jar, *url.URL) {
		t.Helper()
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			if req.URL.Path == PathCallback {
				return http.ErrUseLastResponse
			}
			return nil
		}}
		resp, err := c.Get(srv.URL + PathLogin + "?then=/projects/p")
		require.NoError(t, err)
		_ = resp.Body.Close()
		loc, err := resp.Location()
		require.NoError(t, err)
		return jar, loc
	}
	call := func(t *testing.T, jar http.CookieJar, cb *url.URL) (int, string) {
		t.Helper()
		c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Get(cb.String())
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode, string(body)
	}
	with := func(cb *url.URL, key, value string) *url.URL {
		c := *cb
		q := c.Query()
		q.Set(key, value)
		c.RawQuery = q.Encode()
		return &c
	}

	t.Run("good", func(t *testing.T) {
		jar, cb := start(t)
		status, _ := call(t, jar, cb)
		assert.Equal(t, http.StatusSeeOther, status)
		assert.NotEmpty(t, jar.Cookies(u))
	})
	t.Run("bad state", func(t *testing.T) {
		jar, cb := start(t)
		status, body := call(t, jar, with(cb, "state", "forged"))
		assert.Equal(t, http.StatusBadRequest, status, body)
		status, _ = call(t, jar, cb)
		assert.Equal(t, http.StatusBadRequest, status, "the login ended with the failed callback")
	})
	t.Run("no login cookie (another browser)", func(t *testing.T) {
		_, cb := start(t)
		fresh, _ := cookiejar.New(nil)
		status, _ := call(t, fresh, cb)
		assert.Equal(t, http.StatusBadRequest, status)
	})
	t.Run("replayed callback", func(t *testing.T) {
		jar, cb := start(t)
		kept := jar.Cookies(&url.URL{Scheme: "http", Host: u.Host, Path: "/oauth/callback"})
		status, _ := call(t, jar, cb)
		require.Equal(t, http.StatusSeeOther, status)
		status, _ = call(t, jar, cb)
		assert.Equal(t, http.StatusBadRequest, status, "the login cookie is gone")
		// With a copy of the login cookie, the code itself is refused (single use).
		replay, _ := cookiejar.New(nil)
		replay.SetCookies(&url.URL{Scheme: "http", Host: u.Host, Path: "/oauth/"}, kept)
		status, body := call(t, replay, cb)
		assert.Equal(t, http.StatusUnauthorized, status, body)
		assert.Contains(t, body, "refused the code")
	})
	t.Run("wrong PKCE verifier", func(t *testing.T) {
		jar, cb := start(t)
		// A login cookie of this server for another login (its own verifier) with this state.
		st := loginState{State: cb.Query().Get("state"), Verifier: "another-verifier-another-verifier-another-verifier", Then: "/", RedirectURL: srv.URL + PathCallback}
		w := httptest.NewRecorder()
		require.NoError(t, l.cookies.SetLogin(w, st, time.Now().Add(time.Minute)))
		jar.SetCookies(&url.URL{Scheme: "http", Host: u.Host, Path: "/oauth/"}, w.Result().Cookies())
		status, body := call(t, jar, cb)
		assert.Equal(t, http.StatusUnauthorized, status, body)
	})
	t.Run("authorization server error", func(t *testing.T) {
		jar, cb := start(t)
		e := with(cb, "error", "access_denied")
		status, body := call(t, jar, e)
		assert.Equal(t, http.StatusUnauthorized, status, body)
		assert.Contains(t, body, "access_denied")
	})
	t.Run("tampered session cookie", func(t *testing.T) {
		jar, cb := start(t)
		status, _ := call(t, jar, cb)
		require.Equal(t, http.StatusSeeOther, status)
		var sess *http.Cookie
		for _, c := range jar.Cookies(u) {
			if c.Name == "sess" {
				sess = c
			}
		}
		require.NotNil(t, sess)
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/user/whoami", nil)
		swap := "A"
		if sess.Value[10] == 'A' {
			swap = "B"
		}
		req.Header.Set("Cookie", "sess="+sess.Value[:10]+swap+sess.Value[11:])
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		assert.Contains(t, resp.Header.Get("Set-Cookie"), "Max-Age=0", "a broken cookie is cleared")
	})
}
