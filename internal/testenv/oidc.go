package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// The clients hack/oidc/op.mjs registers, as StartOIDC configures it.
const (
	OIDCServiceClientID     = "perses-ci"
	OIDCServiceClientSecret = "ci-secret"
	OIDCWebClientID         = "perses-web"
	OIDCWebClientSecret     = "web-secret"
)

// OIDCUser is a user the provider's browser flow can log in as, with the groups its tokens carry.
type OIDCUser struct {
	Name   string
	Groups []string
}

// DefaultOIDCUsers mirror the non-admin users of DefaultKubeUsers.
func DefaultOIDCUsers() []OIDCUser {
	return []OIDCUser{
		{Name: "alice", Groups: []string{"team-a"}},
		{Name: "bob", Groups: []string{"team-b"}},
		{Name: "carol", Groups: []string{"auditors"}},
	}
}

// OIDCOptions configures StartOIDC. The zero value is ready to use.
type OIDCOptions struct {
	// Dir holds op.mjs and its node_modules: <repo>/hack/oidc when empty.
	Dir string
	// Node is the node executable: "node" from PATH when empty.
	Node string
	// Issuer overrides the issuer the provider advertises and signs into tokens (by default its
	// own URL). A different value makes a provider whose discovery does not match its URL.
	Issuer string
	// Audience of access tokens issued without a resource indicator: "perses" when empty.
	Audience string
	// TokenTTL is the lifetime of access and ID tokens: 10 min when zero (whole seconds).
	TokenTTL time.Duration
	// Users the browser flow can log in as (the first one unless login_hint names another);
	// DefaultOIDCUsers when empty.
	Users []OIDCUser
	// ServiceUsername and ServiceGroups are the preferred_username and groups claims of
	// client_credentials tokens: the client id and none when empty.
	ServiceUsername string
	ServiceGroups   []string
	// RedirectURIs of the web client. Loopback URIs match on any port (the client is
	// registered as native, RFC 8252): "http://127.0.0.1/oidc/callback" when empty.
	RedirectURIs []string
	// ReadyTimeout bounds the start when ctx has no earlier deadline; 30 s when zero.
	ReadyTimeout time.Duration
}

// OIDC is a running OpenID provider (npm oidc-provider, hack/oidc/op.mjs) on loopback.
type OIDC struct {
	// URL is where the provider listens; Issuer is what it advertises (the same unless
	// OIDCOptions.Issuer says otherwise).
	URL    string
	Issuer string
	// Audience of access tokens issued without a resource indicator.
	Audience string
	// Service is the client_credentials client.
	Service oauth2.Config
	// Web is the authorization-code + PKCE client (the browser flow); its Endpoint is set.
	Web oauth2.Config
	// RedirectURIs the web client accepts.
	RedirectURIs []string
	// Dir is the working folder with the provider's log (op.log).
	Dir string

	proc      *process
	removeDir bool
}

// discovery is the part of the OpenID provider metadata the helpers use.
type discovery struct {
	Issuer string `json:"issuer"`
}

// StartOIDC runs `node hack/oidc/op.mjs` on a free loopback port and waits for its discovery
// document. Stop ends it. It takes well under 2 s.
func StartOIDC(ctx context.Context, opts OIDCOptions) (_ *OIDC, err error) {
	dir, node, err := oidcProviderDir(opts.Dir, opts.Node)
	if err != nil {
		return nil, err
	}
	if opts.Audience == "" {
		opts.Audience = "perses"
	}
	if opts.TokenTTL == 0 {
		opts.TokenTTL = 10 * time.Minute
	}
	if len(opts.Users) == 0 {
		opts.Users = DefaultOIDCUsers()
	}
	if len(opts.RedirectURIs) == 0 {
		opts.RedirectURIs = []string{"http://127.0.0.1/oidc/callback"}
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 30 * time.Second
	}
	args := []string{filepath.Join(dir, "op.mjs"),
		"--port=0",
		"--audience=" + opts.Audience,
		fmt.Sprintf("--token-ttl=%d", max(1, int(opts.TokenTTL/time.Second))),
		"--service-client-id=" + OIDCServiceClientID,
		"--service-client-secret=" + OIDCServiceClientSecret,
		"--service-username=" + opts.ServiceUsername,
		"--service-groups=" + strings.Join(opts.ServiceGroups, ","),
		"--web-client-id=" + OIDCWebClientID,
		"--web-client-secret=" + OIDCWebClientSecret,
	}
	if opts.Issuer != "" {
		args = append(args, "--issuer="+opts.Issuer)
	}
	for _, u := range opts.RedirectURIs {
		args = append(args, "--redirect-uri="+u)
	}
	for _, u := range opts.Users {
		args = append(args, "--user="+u.Name+"="+strings.Join(u.Groups, ","))
	}

	o := &OIDC{Audience: opts.Audience, RedirectURIs: opts.RedirectURIs}
	if o.Dir, err = os.MkdirTemp("", "testenv-oidc-"); err != nil {
		return nil, err
	}
	o.removeDir = os.Getenv(EnvKeepDirs) != "1"
	defer func() {
		if err != nil {
			_ = o.Stop()
		}
	}()

	ctx, cancel := context.WithTimeout(ctx, opts.ReadyTimeout)
	defer cancel()
	logPath := filepath.Join(o.Dir, "op.log")
	ready := newReadyLine(logPath)
	// Flags win over op.mjs's environment variables; OP_ISSUER, the one flag not always
	// given, is cleared so that the caller's environment cannot leak in.
	env := []string{"OP_ISSUER="}
	if o.proc, err = startProcess("oidc provider", logPath, ready, env, node, args...); err != nil {
		return nil, err
	}
	var announced struct {
		Port int `json:"port"`
	}
	if err := o.proc.waitReady(ctx, 50*time.Millisecond, func(context.Context) error {
		line, ok := ready.line()
		if !ok {
			return errors.New("no ready line on stdout yet")
		}
		return json.Unmarshal([]byte(line), &announced)
	}); err != nil {
		return nil, err
	}
	o.URL = fmt.Sprintf("http://127.0.0.1:%d", announced.Port)

	var meta discovery
	if err := o.proc.waitReady(ctx, 50*time.Millisecond, func(ctx context.Context) error {
		return getJSON(ctx, http.DefaultClient, o.URL+"/.well-known/openid-configuration", &meta)
	}); err != nil {
		return nil, err
	}
	o.Issuer = meta.Issuer
	// The endpoints are taken from the listening URL: with an overridden issuer the
	// advertised ones would point elsewhere.
	endpoint := oauth2.Endpoint{
		AuthURL:   o.URL + "/auth",
		TokenURL:  o.URL + "/token",
		AuthStyle: oauth2.AuthStyleInHeader,
	}
	o.Service = oauth2.Config{ClientID: OIDCServiceClientID, ClientSecret: OIDCServiceClientSecret, Endpoint: endpoint}
	o.Web = oauth2.Config{
		ClientID: OIDCWebClientID, ClientSecret: OIDCWebClientSecret, Endpoint: endpoint,
		RedirectURL: opts.RedirectURIs[0], Scopes: []string{"openid", "profile", "email", "groups"},
	}
	return o, nil
}

// Stop ends the provider (by its PID) and removes its working folder. Safe to call twice.
func (o *OIDC) Stop() error {
	var errs []error
	if o.proc != nil {
		errs = append(errs, o.proc.stop())
	}
	if o.removeDir && o.Dir != "" {
		errs = append(errs, os.RemoveAll(o.Dir))
		o.removeDir = false
	}
	return errors.Join(errs...)
}

// ClientCredentialsToken gets a JWT access token for the service client. With resource "" its
// audience is o.Audience; otherwise the token is for that resource (RFC 8707), which becomes
// its audience: a genuine token for the wrong audience.
func (o *OIDC) ClientCredentialsToken(ctx context.Context, resource string) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	if resource != "" {
		form.Set("resource", resource)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.Service.Endpoint.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(o.Service.ClientID, o.Service.ClientSecret)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := doJSON(http.DefaultClient, req, &tok); err != nil {
		return "", fmt.Errorf("testenv: client_credentials token: %w", err)
	}
	return tok.AccessToken, nil
}

// UserTokens logs user in through the web client's authorization-code flow with PKCE, as a
// browser would (cookies, redirects; the provider approves without a form), and returns the
// tokens: AccessToken is a JWT for o.Audience, Extra("id_token") the ID token.
func (o *OIDC) UserTokens(ctx context.Context, user string) (*oauth2.Token, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	redirect, err := url.Parse(o.Web.RedirectURL)
	if err != nil {
		return nil, err
	}
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Host == redirect.Host && req.URL.Path == redirect.Path {
			return http.ErrUseLastResponse // arrived at the client: stop before the callback
		}
		if len(via) > 10 {
			return errors.New("too many redirects")
		}
		return nil
	}}
	verifier := oauth2.GenerateVerifier()
	state := randomHex(8)
	authURL := o.Web.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("login_hint", user))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := browser.Do(req)
	if err != nil {
		return nil, fmt.Errorf("testenv: authorization request: %w", err)
	}
	_ = resp.Body.Close()
	callback, err := resp.Location()
	if err != nil {
		return nil, fmt.Errorf("testenv: authorization request ended with %s, not a redirect to the client", resp.Status)
	}
	q := callback.Query()
	if e := q.Get("error"); e != "" {
		return nil, fmt.Errorf("testenv: authorization error %s: %s", e, q.Get("error_description"))
	}
	if q.Get("state") != state {
		return nil, errors.New("testenv: authorization response with another state")
	}
	tok, err := o.Web.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, fmt.Errorf("testenv: code exchange: %w", err)
	}
	return tok, nil
}

// readyLine is the stdout of op.mjs: its first line announces the issuer and port; every byte
// is also appended to the log.
type readyLine struct {
	logPath string
	first   chan string
	buf     strings.Builder
	done    bool
}

func newReadyLine(logPath string) *readyLine {
	return &readyLine{logPath: logPath, first: make(chan string, 1)}
}

// Write is called by os/exec's copying goroutine only.
func (r *readyLine) Write(p []byte) (int, error) {
	if f, err := os.OpenFile(r.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err == nil {
		_, _ = f.Write(p)
		_ = f.Close()
	}
	if !r.done {
		r.buf.Write(p)
		if line, _, found := strings.Cut(r.buf.String(), "\n"); found {
			r.first <- line
			r.done = true
		}
	}
	return len(p), nil
}

// line returns the first line once it is there; it keeps returning it afterwards.
func (r *readyLine) line() (string, bool) {
	select {
	case l := <-r.first:
		r.first <- l
		return l, true
	default:
		return "", false
	}
}

func oidcProviderDir(dir, node string) (string, string, error) {
	if dir == "" {
		root, err := RepoRoot()
		if err != nil {
			return "", "", err
		}
		dir = filepath.Join(root, "hack", "oidc")
	}
	if node == "" {
		node = "node"
	}
	nodePath, err := exec.LookPath(node)
	if err != nil {
		return "", "", fmt.Errorf("testenv: %s not found: the OIDC provider needs Node.js 20 or newer (run `make deps`)", node)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "oidc-provider", "package.json")); err != nil {
		return "", "", fmt.Errorf("testenv: oidc-provider is not installed in %s: run `npm ci --prefix hack/oidc` (or `make deps`)", dir)
	}
	return dir, nodePath, nil
}

// getJSON GETs url and decodes a 200 JSON answer into v.
func getJSON(ctx context.Context, c *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	return doJSON(c, req, v)
}

func doJSON(c *http.Client, req *http.Request, v any) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", req.Method, req.URL, resp.Status, strings.TrimSpace(string(body)))
	}
	return json.Unmarshal(body, v)
}

var _ io.Writer = (*readyLine)(nil)
