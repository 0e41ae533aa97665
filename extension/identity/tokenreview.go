package identity

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	authenticationclient "k8s.io/client-go/kubernetes/typed/authentication/v1"
)

// ReviewFunc asks whether a token is valid: (user, nil) when it is, ErrInvalidCredentials
// (wrapped) when it is not, ErrUnavailable (wrapped) when nobody could say.
type ReviewFunc func(ctx context.Context, token string) (*User, error)

// NewTokenReviewFunc reviews tokens with the cluster's TokenReview API, with the
// server's own credentials.
func NewTokenReviewFunc(client authenticationclient.TokenReviewInterface, audiences []string, timeout time.Duration) ReviewFunc {
	return func(ctx context.Context, token string) (*User, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		res, err := client.Create(ctx, &authenticationv1.TokenReview{
			Spec: authenticationv1.TokenReviewSpec{Token: token, Audiences: audiences},
		}, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("%w: TokenReview: %v", ErrUnavailable, err)
		}
		if !res.Status.Authenticated {
			msg := res.Status.Error
			if msg == "" {
				msg = "token not authenticated"
			}
			return nil, fmt.Errorf("%w: %s", ErrInvalidCredentials, msg)
		}
		return &User{
			Name:   res.Status.User.Username,
			UID:    res.Status.User.UID,
			Groups: res.Status.User.Groups,
			Method: MethodToken,
		}, nil
	}
}

// TokenCache remembers reviews by the SHA-256 of the token (never the token itself):
// accepted tokens for the success TTL, refused ones for the failure TTL. A review that
// could not be made (ErrUnavailable) is not remembered.
type TokenCache struct {
	review     ReviewFunc
	successTTL time.Duration
	failureTTL time.Duration
	maxEntries int
	now        func() time.Time
	// OnReview is told of every review sent and its outcome (for metrics).
	OnReview func(result string)
	// OnHit is told of every answer served from the cache.
	OnHit func()

	mu      sync.Mutex
	entries map[[sha256.Size]byte]tokenEntry
}

type tokenEntry struct {
	user    *User
	err     error
	expires time.Time
}

// DefaultMaxTokenEntries bounds the cache; when full, expired entries go first, then all.
const DefaultMaxTokenEntries = 16384

// NewTokenCache wraps review with a cache.
func NewTokenCache(review ReviewFunc, successTTL, failureTTL time.Duration) *TokenCache {
	return &TokenCache{
		review: review, successTTL: successTTL, failureTTL: failureTTL,
		maxEntries: DefaultMaxTokenEntries, now: time.Now,
		entries: map[[sha256.Size]byte]tokenEntry{},
	}
}

// Review returns the remembered answer for token, or asks.
func (c *TokenCache) Review(ctx context.Context, token string) (*User, error) {
	key := sha256.Sum256([]byte(token))
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		if c.OnHit != nil {
			c.OnHit()
		}
		return e.answer(token)
	}
	u, err := c.review(ctx, token)
	result := "allowed"
	switch {
	case errors.Is(err, ErrUnavailable):
		result = "error"
	case err != nil:
		result = "denied"
	}
	if c.OnReview != nil {
		c.OnReview(result)
	}
	if errors.Is(err, ErrUnavailable) {
		return nil, err
	}
	ttl := c.successTTL
	if err != nil {
		ttl = c.failureTTL
	}
	e = tokenEntry{user: u, err: err, expires: now.Add(ttl)}
	c.mu.Lock()
	if len(c.entries) >= c.maxEntries {
		c.evictLocked(now)
	}
	c.entries[key] = e
	c.mu.Unlock()
	return e.answer(token)
}

func (e tokenEntry) answer(token string) (*User, error) {
	if e.err != nil {
		return nil, e.err
	}
	u := *e.user
	u.token = token
	return &u, nil
}

func (c *TokenCache) evictLocked(now time.Time) {
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
	if len(c.entries) >= c.maxEntries {
		clear(c.entries)
	}
}

// Len is the number of remembered answers.
func (c *TokenCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// BearerAuthenticator recognises the bearer token of a request with review.
type BearerAuthenticator struct{ Review ReviewFunc }

// Authenticate reviews the request's bearer token.
func (b BearerAuthenticator) Authenticate(r *http.Request) (*User, error) {
	token, err := BearerToken(r)
	if err != nil {
		return nil, err
	}
	return b.Review(r.Context(), token)
}
