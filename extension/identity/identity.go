// Package identity says who a request comes from: a fixed developer in development
// mode, the user behind a bearer token (Kubernetes TokenReview, cached by the token's
// SHA-256) or behind a JWT of an external OIDC issuer (verified locally). It is
// upstream's Authorization provider (the bridge injects it), so every upstream handler
// sees the same user; what that user may do is decided by the access capability,
// which wraps this provider. Without access, development mode allows everything and
// any other mode allows nothing.
package identity

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
)

// User is an authenticated identity.
type User struct {
	// Name and Groups are what the cluster's RBAC sees (TokenReview's user, or the OIDC
	// claims with their prefixes).
	Name   string
	UID    string
	Groups []string
	// Method says how the user was recognised: development, token, oidc.
	Method string
	// token is the credential the user presented, kept to ask the cluster on the user's
	// behalf (their OpenShift project list); never logged or serialised.
	token string
}

// Token is the bearer credential the user presented, or "" (development mode).
func (u *User) Token() string { return u.token }

// InGroup says whether the user is a member of group.
func (u *User) InGroup(group string) bool { return slices.Contains(u.Groups, group) }

// Methods of recognising a user.
const (
	MethodDevelopment = "development"
	MethodToken       = "token"
	MethodOIDC        = "oidc"
)

// Errors of authentication; StatusOf maps them to HTTP statuses.
var (
	// ErrNoCredentials: the request carries no credentials at all.
	ErrNoCredentials = errors.New("no credentials: send an Authorization: Bearer token")
	// ErrInvalidCredentials: credentials were sent and refused.
	ErrInvalidCredentials = errors.New("invalid credentials")
	// ErrUnavailable: the component that would judge the credentials cannot be reached
	// and no earlier answer is remembered. Never read as a refusal or an acceptance.
	ErrUnavailable = errors.New("identity service unavailable")
)

// StatusOf is the HTTP status of an authentication error: the one place they are mapped.
func StatusOf(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable
	default:
		return http.StatusUnauthorized
	}
}

// Authenticator recognises the user of a request. It returns ErrNoCredentials when
// the request carries none, so that anonymous routes can still be served.
type Authenticator interface {
	Authenticate(r *http.Request) (*User, error)
}

// AuthenticatorFunc is a function Authenticator.
type AuthenticatorFunc func(r *http.Request) (*User, error)

// Authenticate calls f.
func (f AuthenticatorFunc) Authenticate(r *http.Request) (*User, error) { return f(r) }

// MaxTokenLength bounds the bearer tokens looked at; longer ones are refused unread.
const MaxTokenLength = 16 << 10

// BearerToken returns the token of an "Authorization: Bearer ..." header.
func BearerToken(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", ErrNoCredentials
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", errors.Join(ErrInvalidCredentials, errors.New("the Authorization header is not a Bearer token"))
	}
	token = strings.TrimSpace(token)
	switch {
	case token == "":
		return "", errors.Join(ErrInvalidCredentials, errors.New("empty bearer token"))
	case len(token) > MaxTokenLength:
		return "", errors.Join(ErrInvalidCredentials, errors.New("bearer token too long"))
	}
	return token, nil
}

type userKey struct{}

type failureKey struct{}

// WithUser returns a context carrying the user.
func WithUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFrom returns the user a context carries.
func UserFrom(ctx context.Context) (*User, bool) {
	u, ok := ctx.Value(userKey{}).(*User)
	return u, ok && u != nil
}

// withFailure records why a request has no user, for the routes that need one.
func withFailure(ctx context.Context, err error) context.Context {
	return context.WithValue(ctx, failureKey{}, err)
}

// FailureFrom returns why the request has no user (ErrNoCredentials when it was not
// authenticated at all).
func FailureFrom(ctx context.Context) error {
	if err, ok := ctx.Value(failureKey{}).(error); ok {
		return err
	}
	return ErrNoCredentials
}
