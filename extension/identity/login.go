package identity

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/sirupsen/logrus"
	"golang.org/x/oauth2"
)

// Paths of the browser login, under upstream's API prefix. They sit apart from
// upstream's /api/auth/... (off in delegated mode) so that the two never collide.
const (
	PathLogin    = "/oauth/login"
	PathCallback = "/oauth/callback"
	PathLogout   = "/oauth/logout"
)

// Errors of the browser login; loginStatus maps them (and ErrUnavailable) to statuses.
var (
	// ErrLoginState: the callback does not continue a login this browser started
	// (no or expired login cookie, another state, no code).
	ErrLoginState = errors.New("no matching login in progress")
	// ErrLoginRefused: the authorization server refused the login or the code, or the
	// token it issued is not accepted.
	ErrLoginRefused = errors.New("login refused")
)

func loginStatus(err error) int {
	switch {
	case errors.Is(err, ErrLoginState):
		return http.StatusBadRequest
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable
	default:
		return http.StatusUnauthorized
	}
}

// LoginTTL bounds a login in progress (from /oauth/login to the callback).
const LoginTTL = 10 * time.Minute

// maxThenLength bounds the page a login returns to.
const maxThenLength = 2048

// loginState is what the login cookie keeps between /oauth/login and the callback.
type loginState struct {
	State       string `json:"s"`
	Verifier    string `json:"v"`
	Nonce       string `json:"n,omitempty"`
	Then        string `json:"t"`
	RedirectURL string `json:"r"`
	LoginHint   string `json:"h,omitempty"`
}

// Issued is what a provider hands out for a code: the token the session keeps.
type Issued struct {
	Token string
	// Expiry is when the token expires (zero: not said).
	Expiry time.Time
}

// LoginProvider is an authorization server the browser logs in at.
type LoginProvider interface {
	// AuthCodeURL is where the browser goes to log in (PKCE S256 challenge included).
	AuthCodeURL(ctx context.Context, l loginState) (string, error)
	// Exchange trades the code for the token to keep (checking the ID token and its
	// nonce where there is one).
	Exchange(ctx context.Context, l loginState, code string) (Issued, error)
}

// Login serves the browser login routes and sends browsers without a session to them.
type Login struct {
	provider    LoginProvider
	cookies     *Cookies
	authn       Authenticator
	redirectURL string
	apiPrefix   string
	maxAge      time.Duration
	nonce       bool
	now         func() time.Time
	// csrf refuses cross-origin unsafe requests that carry the session cookie: SameSite=Lax
	// does not stop other sites of the same registrable domain (every route of an
	// OpenShift cluster's apps domain).
	csrf *http.CrossOriginProtection
}

// LoginOptions configure NewLogin.
type LoginOptions struct {
	Provider LoginProvider
	Cookies  *Cookies
	// Authn checks the issued token before a session is made (the same verifiers that
	// will check it on every request).
	Authn Authenticator
	// RedirectURL is the callback's absolute URL; empty: built from each request.
	RedirectURL string
	APIPrefix   string
	MaxAge      time.Duration
	// Nonce asks the provider for an ID token bound to a nonce (OIDC).
	Nonce bool
}

// NewLogin returns the login routes.
func NewLogin(o LoginOptions) *Login {
	return &Login{
		provider: o.Provider, cookies: o.Cookies, authn: o.Authn, redirectURL: o.RedirectURL,
		apiPrefix: strings.TrimSuffix(o.APIPrefix, "/"), maxAge: o.MaxAge, nonce: o.Nonce, now: time.Now,
		csrf: http.NewCrossOriginProtection(),
	}
}

// Cookies returns the cookies the login writes.
func (l *Login) Cookies() *Cookies { return l.cookies }

// RegisterRoute registers the login routes (upstream's route registration). They need
// no authentication.
func (l *Login) RegisterRoute(e *echo.Echo) {
	e.GET(l.apiPrefix+PathLogin, l.handle(l.login))
	e.GET(l.apiPrefix+PathCallback, l.handle(l.callback))
	e.GET(l.apiPrefix+PathLogout, l.handle(l.logoutPage))
	e.POST(l.apiPrefix+PathLogout, l.handle(l.logout))
}

// String names the routes for upstream's route listing.
func (l *Login) String() string {
	return fmt.Sprintf("GET %s, GET %s, GET|POST %s", PathLogin, PathCallback, PathLogout)
}

// handle turns a handler's error into its status: the one place login errors are mapped.
func (l *Login) handle(h func(echo.Context) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "no-store")
		err := h(c)
		if err == nil {
			return nil
		}
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return he
		}
		logrus.WithError(err).Info("browser login failed")
		return echo.NewHTTPError(loginStatus(err), err.Error())
	}
}

func (l *Login) login(c echo.Context) error {
	r := c.Request()
	st := loginState{
		State:       randomToken(),
		Verifier:    oauth2.GenerateVerifier(),
		Then:        SafeThen(c.QueryParam("then"), l.apiPrefix),
		RedirectURL: l.callbackURL(r),
		LoginHint:   c.QueryParam("login_hint"),
	}
	if len(st.LoginHint) > 256 {
		st.LoginHint = ""
	}
	if l.nonce {
		st.Nonce = randomToken()
	}
	to, err := l.provider.AuthCodeURL(r.Context(), st)
	if err != nil {
		return err
	}
	if err := l.cookies.SetLogin(c.Response(), st, l.now().Add(LoginTTL)); err != nil {
		return err
	}
	return c.Redirect(http.StatusFound, to)
}

func (l *Login) callback(c echo.Context) error {
	r := c.Request()
	st, err := l.cookies.Login(r)
	// One callback per login, whatever its outcome: a replayed callback finds no login.
	l.cookies.ClearLogin(c.Response())
	if err != nil {
		return fmt.Errorf("%w (%v): start again at %s", ErrLoginState, err, l.apiPrefix+PathLogin)
	}
	q := r.URL.Query()
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(st.State)) != 1 {
		return fmt.Errorf("%w: the state does not match the login this browser started", ErrLoginState)
	}
	if e := q.Get("error"); e != "" {
		return fmt.Errorf("%w: the authorization server answered %s: %s", ErrLoginRefused, e, q.Get("error_description"))
	}
	code := q.Get("code")
	if code == "" {
		return fmt.Errorf("%w: no code", ErrLoginState)
	}
	issued, err := l.provider.Exchange(r.Context(), st, code)
	if err != nil {
		return err
	}
	u, err := reviewToken(r, l.authn, issued.Token)
	if err != nil {
		if errors.Is(err, ErrUnavailable) {
			return err
		}
		return fmt.Errorf("%w: the issued token is not accepted: %v", ErrLoginRefused, err)
	}
	expires := l.now().Add(l.maxAge)
	if !issued.Expiry.IsZero() && issued.Expiry.Before(expires) {
		expires = issued.Expiry
	}
	if err := l.cookies.SetSession(c.Response(), issued.Token, expires); err != nil {
		return err
	}
	// Who logged in, for filters that look at the request after the handler (audit).
	c.SetRequest(r.WithContext(WithUser(r.Context(), u)))
	logrus.WithFields(logrus.Fields{"user": u.Name, "expires": expires.UTC().Format(time.RFC3339)}).Info("browser login")
	return c.Redirect(http.StatusSeeOther, st.Then)
}

// logout ends the session (scripts: 204).
func (l *Login) logout(c echo.Context) error {
	l.cookies.ClearSession(c.Response())
	l.cookies.ClearLogin(c.Response())
	return c.NoContent(http.StatusNoContent)
}

// logoutPage ends the session and says so, with a link to log in again (a redirect to
// the UI would log the browser straight back in where the authorization server keeps
// its own session).
func (l *Login) logoutPage(c echo.Context) error {
	l.cookies.ClearSession(c.Response())
	l.cookies.ClearLogin(c.Response())
	again := html.EscapeString(l.apiPrefix + PathLogin + "?then=" + url.QueryEscape(l.apiPrefix+"/"))
	return c.HTML(http.StatusOK, `<!doctype html><html><head><meta charset="utf-8"><title>Signed out</title></head>`+
		`<body><main><h1>Signed out</h1><p>Your Perses session has ended.</p><p><a id="login" href="`+again+`">Sign in again</a></p></main></body></html>`)
}

// callbackURL is the configured redirect URL, or the callback on the host the browser
// used (only right when no proxy rewrites the host or the scheme).
func (l *Login) callbackURL(r *http.Request) string {
	if l.redirectURL != "" {
		return l.redirectURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + l.apiPrefix + PathCallback
}

// SafeThen returns then when it is a path on this server (open-redirect safe), or the
// UI's home page: no scheme, no host, no "//" or backslash that a browser could read
// as another host, no control characters, and not one of the login routes.
func SafeThen(then, apiPrefix string) string {
	home := apiPrefix + "/"
	if then == "" || len(then) > maxThenLength || !strings.HasPrefix(then, "/") ||
		strings.HasPrefix(then, "//") || strings.ContainsAny(then, "\\") {
		return home
	}
	for _, ch := range then {
		if ch < 0x20 || ch == 0x7f {
			return home
		}
	}
	u, err := url.Parse(then)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return home
	}
	if apiPrefix != "" && u.Path != apiPrefix && !strings.HasPrefix(u.Path, apiPrefix+"/") {
		return home
	}
	if strings.HasPrefix(u.Path, apiPrefix+"/oauth/") {
		return home
	}
	return then
}

// uiPages are the stock UI's page routes (under the API prefix): a browser opening
// one without a session is sent to the login. Everything else (API, assets, plugins)
// is answered as upstream answers it (401 JSON on protected API routes).
var uiPages = []string{"/projects", "/admin", "/explore", "/import", "/config", "/profile", "/sign-in", "/sign-up", "/delegated-auth-error"}

func isUIPage(method, path, apiPrefix string) bool {
	if method != http.MethodGet && method != http.MethodHead {
		return false
	}
	if apiPrefix != "" {
		if path != apiPrefix && !strings.HasPrefix(path, apiPrefix+"/") {
			return false
		}
		path = strings.TrimPrefix(path, apiPrefix)
	}
	if path == "" || path == "/" {
		return true
	}
	for _, p := range uiPages {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

// Gate runs after the identity filter: it refuses cross-origin unsafe requests made
// with the session cookie (403), sends browsers opening a UI page without a valid
// session to the login and back, clears session cookies that no longer work, and
// removes the session cookie from the request before upstream sees it (its datasource
// proxy forwards cookies).
func (l *Login) Gate() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if r.Header.Get("Authorization") == "" && l.cookies.HasSession(r) {
				if err := l.csrf.Check(r); err != nil {
					return echo.NewHTTPError(http.StatusForbidden, "cross-origin request with the session cookie refused")
				}
			}
			if _, ok := UserFrom(r.Context()); !ok {
				failure := FailureFrom(r.Context())
				if errors.Is(failure, ErrUnavailable) {
					stripCookies(r, l.cookies.Name)
					return next(c)
				}
				if l.cookies.HasSession(r) && r.Header.Get("Authorization") == "" {
					l.cookies.ClearSession(c.Response())
				}
				if isUIPage(r.Method, r.URL.Path, l.apiPrefix) {
					c.Response().Header().Set("Cache-Control", "no-store")
					return c.Redirect(http.StatusFound, l.apiPrefix+PathLogin+"?then="+url.QueryEscape(r.URL.RequestURI()))
				}
			}
			stripCookies(r, l.cookies.Name)
			return next(c)
		}
	}
}

// randomToken is 256 random bits, base64url.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}
