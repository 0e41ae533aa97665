package identity

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// OIDCOptions configure the verification of an external issuer's JWTs.
type OIDCOptions struct {
	Issuer, Audience             string
	UsernameClaim, GroupsClaim   string
	UsernamePrefix, GroupsPrefix string
	Algorithms                   []string
	CAFile                       string
	Timeout                      time.Duration
}

// OIDC verifies JWT bearer tokens locally: signature against the issuer's published
// keys (algorithm allowlist), issuer, audience and expiry. The issuer's discovery
// document is fetched on the first token, and again after a failure, so that a server
// starts while its issuer is down (tokens are answered 503 meanwhile).
type OIDC struct {
	o      OIDCOptions
	client *http.Client

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
}

// NewOIDC returns the verifier for o.
func NewOIDC(o OIDCOptions) (*OIDC, error) {
	client := &http.Client{Timeout: o.Timeout}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("oidc: ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("oidc: ca_file %s holds no PEM certificate", o.CAFile)
		}
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	return &OIDC{o: o, client: client}, nil
}

func (v *OIDC) get(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.verifier != nil {
		return v.verifier, nil
	}
	// The key set outlives this request: it refreshes keys in the background of later ones.
	p, err := oidc.NewProvider(oidc.ClientContext(context.WithoutCancel(ctx), v.client), v.o.Issuer)
	if err != nil {
		return nil, fmt.Errorf("%w: OIDC discovery of %s: %v", ErrUnavailable, v.o.Issuer, err)
	}
	v.verifier = p.Verifier(&oidc.Config{ClientID: v.o.Audience, SupportedSigningAlgs: v.o.Algorithms})
	return v.verifier, nil
}

// Issues says whether token looks like a JWT of this issuer (unverified: only to
// choose who verifies it).
func (v *OIDC) Issues(token string) bool {
	return unverifiedIssuer(token) == v.o.Issuer
}

// Review verifies token and maps its claims to a user.
func (v *OIDC) Review(ctx context.Context, token string) (*User, error) {
	verifier, err := v.get(ctx)
	if err != nil {
		return nil, err
	}
	idt, err := verifier.Verify(oidc.ClientContext(ctx, v.client), token)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidCredentials, err)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrInvalidCredentials, err)
	}
	name, _ := claims[v.o.UsernameClaim].(string)
	if name == "" {
		return nil, fmt.Errorf("%w: claim %q is missing or not a string", ErrInvalidCredentials, v.o.UsernameClaim)
	}
	u := &User{Name: v.o.UsernamePrefix + name, UID: idt.Subject, Method: MethodOIDC, token: token}
	switch g := claims[v.o.GroupsClaim].(type) {
	case string:
		u.Groups = []string{v.o.GroupsPrefix + g}
	case []any:
		for _, x := range g {
			if s, ok := x.(string); ok {
				u.Groups = append(u.Groups, v.o.GroupsPrefix+s)
			}
		}
	}
	// As the cluster does for authenticated users, so that RBAC bound to it applies.
	u.Groups = append(u.Groups, "system:authenticated")
	return u, nil
}

// unverifiedIssuer reads the iss claim of a JWT without verifying anything.
func unverifiedIssuer(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return ""
	}
	return c.Iss
}

// BearerChain routes a bearer token to the OIDC verifier when it names that issuer,
// and to the cluster's TokenReview otherwise (either may be nil).
type BearerChain struct {
	OIDC        *OIDC
	TokenReview ReviewFunc
}

// Authenticate recognises the request's bearer token.
func (b BearerChain) Authenticate(r *http.Request) (*User, error) {
	token, err := BearerToken(r)
	if err != nil {
		return nil, err
	}
	if b.OIDC != nil && (b.TokenReview == nil || b.OIDC.Issues(token)) {
		return b.OIDC.Review(r.Context(), token)
	}
	if b.TokenReview != nil {
		return b.TokenReview(r.Context(), token)
	}
	return nil, errors.Join(ErrInvalidCredentials, errors.New("no verifier for bearer tokens"))
}
