package identity

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// WellKnownOAuth is where an OpenShift cluster's API server names its OAuth server (RFC 8414).
const WellKnownOAuth = "/.well-known/oauth-authorization-server"

// LoginClient is the OAuth client the server logs browsers in as.
type LoginClient struct {
	ID, Secret string
	Scopes     []string
	// HTTP reaches the authorization server (its TLS roots, its timeout).
	HTTP *http.Client
}

// HTTPClientWithRoots returns a client trusting the system's roots plus the given PEM
// bundles (a cluster's CA, a configured ca_file).
func HTTPClientWithRoots(timeout time.Duration, pems ...[]byte) (*http.Client, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for _, p := range pems {
		if len(p) > 0 && !pool.AppendCertsFromPEM(p) {
			return nil, errors.New("a CA bundle holds no PEM certificate")
		}
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Timeout: timeout, Transport: t}, nil
}

// exchangeError sorts the failures of a code exchange: a 4xx answer is a refusal
// (used, expired or foreign code, wrong verifier), anything else unavailability.
func exchangeError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500 {
		detail := re.ErrorCode
		if re.ErrorDescription != "" {
			detail += ": " + re.ErrorDescription
		}
		return fmt.Errorf("%w: the authorization server refused the code (%s)", ErrLoginRefused, detail)
	}
	return fmt.Errorf("%w: code exchange: %v", ErrUnavailable, err)
}

// OpenShiftLogin logs browsers in at the cluster's OpenShift OAuth server, found from
// the API server's /.well-known/oauth-authorization-server on first use (and again
// after a failure, so that the server starts while the cluster is away). The access
// token it issues (sha256~…) is then checked by TokenReview.
type OpenShiftLogin struct {
	apiURL string
	client LoginClient

	mu       sync.Mutex
	endpoint *oauth2.Endpoint
}

// NewOpenShiftLogin returns the login at the OAuth server of the cluster at apiURL.
func NewOpenShiftLogin(apiURL string, client LoginClient) *OpenShiftLogin {
	if len(client.Scopes) == 0 {
		client.Scopes = []string{"user:full"}
	}
	return &OpenShiftLogin{apiURL: strings.TrimSuffix(apiURL, "/"), client: client}
}

func (o *OpenShiftLogin) config(ctx context.Context, l loginState) (*oauth2.Config, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.endpoint == nil {
		ep, err := o.discover(ctx)
		if err != nil {
			return nil, err
		}
		o.endpoint = ep
	}
	return &oauth2.Config{ClientID: o.client.ID, ClientSecret: o.client.Secret, Endpoint: *o.endpoint, RedirectURL: l.RedirectURL, Scopes: o.client.Scopes}, nil
}

func (o *OpenShiftLogin) discover(ctx context.Context) (*oauth2.Endpoint, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.apiURL+WellKnownOAuth, nil)
	if err != nil {
		return nil, err
	}
	resp, err := o.client.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: OAuth server discovery at %s: %v", ErrUnavailable, o.apiURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: OAuth server discovery at %s: %s %v", ErrUnavailable, o.apiURL+WellKnownOAuth, resp.Status, err)
	}
	var meta struct {
		Authorization string `json:"authorization_endpoint"`
		Token         string `json:"token_endpoint"`
	}
	if err := json.Unmarshal(body, &meta); err != nil || meta.Authorization == "" || meta.Token == "" {
		return nil, fmt.Errorf("%w: OAuth server discovery at %s: no authorization and token endpoints", ErrUnavailable, o.apiURL)
	}
	return &oauth2.Endpoint{AuthURL: meta.Authorization, TokenURL: meta.Token}, nil
}

// AuthCodeURL implements LoginProvider.
func (o *OpenShiftLogin) AuthCodeURL(ctx context.Context, l loginState) (string, error) {
	c, err := o.config(ctx, l)
	if err != nil {
		return "", err
	}
	return c.AuthCodeURL(l.State, oauth2.S256ChallengeOption(l.Verifier)), nil
}

// Exchange implements LoginProvider.
func (o *OpenShiftLogin) Exchange(ctx context.Context, l loginState, code string) (Issued, error) {
	c, err := o.config(ctx, l)
	if err != nil {
		return Issued{}, err
	}
	tok, err := c.Exchange(context.WithValue(ctx, oauth2.HTTPClient, o.client.HTTP), code, oauth2.VerifierOption(l.Verifier))
	if err != nil {
		return Issued{}, exchangeError(err)
	}
	return Issued{Token: tok.AccessToken, Expiry: tok.Expiry}, nil
}

// OIDCLogin logs browsers in at an OpenID provider: the ID token is verified (signature,
// issuer, audience = the client, expiry, nonce), then the session keeps the access
// token (or the ID token), which the OIDC bearer verifier checks on every request.
type OIDCLogin struct {
	issuer     string
	client     LoginClient
	algorithms []string
	keepID     bool

	mu       sync.Mutex
	provider *oidc.Provider
}

// NewOIDCLogin returns the login at issuer; keepIDToken makes the session keep the ID
// token instead of the access token.
func NewOIDCLogin(issuer string, client LoginClient, algorithms []string, keepIDToken bool) *OIDCLogin {
	if len(client.Scopes) == 0 {
		client.Scopes = []string{oidc.ScopeOpenID, "profile", "email", "groups"}
	}
	return &OIDCLogin{issuer: issuer, client: client, algorithms: algorithms, keepID: keepIDToken}
}

func (o *OIDCLogin) get(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	p, err := oidc.NewProvider(oidc.ClientContext(context.WithoutCancel(ctx), o.client.HTTP), o.issuer)
	if err != nil {
		return nil, fmt.Errorf("%w: OIDC discovery of %s: %v", ErrUnavailable, o.issuer, err)
	}
	o.provider = p
	return p, nil
}

func (o *OIDCLogin) config(p *oidc.Provider, l loginState) *oauth2.Config {
	return &oauth2.Config{ClientID: o.client.ID, ClientSecret: o.client.Secret, Endpoint: p.Endpoint(), RedirectURL: l.RedirectURL, Scopes: o.client.Scopes}
}

// AuthCodeURL implements LoginProvider.
func (o *OIDCLogin) AuthCodeURL(ctx context.Context, l loginState) (string, error) {
	p, err := o.get(ctx)
	if err != nil {
		return "", err
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(l.Verifier), oidc.Nonce(l.Nonce)}
	if l.LoginHint != "" {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", l.LoginHint))
	}
	return o.config(p, l).AuthCodeURL(l.State, opts...), nil
}

// Exchange implements LoginProvider.
func (o *OIDCLogin) Exchange(ctx context.Context, l loginState, code string) (Issued, error) {
	p, err := o.get(ctx)
	if err != nil {
		return Issued{}, err
	}
	ctx = oidc.ClientContext(ctx, o.client.HTTP)
	tok, err := o.config(p, l).Exchange(ctx, code, oauth2.VerifierOption(l.Verifier))
	if err != nil {
		return Issued{}, exchangeError(err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return Issued{}, fmt.Errorf("%w: the token answer holds no id_token", ErrLoginRefused)
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: o.client.ID, SupportedSigningAlgs: o.algorithms}).Verify(ctx, rawID)
	if err != nil {
		return Issued{}, fmt.Errorf("%w: ID token: %v", ErrLoginRefused, err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(l.Nonce)) != 1 {
		return Issued{}, fmt.Errorf("%w: the ID token's nonce is not this login's", ErrLoginRefused)
	}
	if o.keepID {
		return Issued{Token: rawID, Expiry: idt.Expiry}, nil
	}
	if tok.AccessToken == "" {
		return Issued{}, fmt.Errorf("%w: no access token", ErrLoginRefused)
	}
	return Issued{Token: tok.AccessToken, Expiry: tok.Expiry}, nil
}

// readPEM reads a CA bundle ("" is none).
func readPEM(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	return os.ReadFile(path)
}
