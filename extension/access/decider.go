package access

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/openshift-ai/observability/extension/identity"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	authorizationclient "k8s.io/client-go/kubernetes/typed/authorization/v1"
)

// ReviewFunc asks the cluster one question: (true, nil) allowed, (false, nil) denied,
// an error wrapping ErrUnavailable when it could not answer.
type ReviewFunc func(ctx context.Context, u *identity.User, a Attributes) (bool, error)

// NewSARFunc asks with SubjectAccessReviews (the server's own credentials) on apiGroup.
func NewSARFunc(client authorizationclient.SubjectAccessReviewInterface, apiGroup string, timeout time.Duration) ReviewFunc {
	return func(ctx context.Context, u *identity.User, a Attributes) (bool, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		res, err := client.Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: u.Name, UID: u.UID, Groups: u.Groups,
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: a.Namespace, Verb: a.Verb, Group: apiGroup, Resource: a.Resource, Subresource: a.Subresource,
			},
		}}, metav1.CreateOptions{})
		if err != nil {
			return false, fmt.Errorf("%w: SubjectAccessReview: %v", ErrUnavailable, err)
		}
		return res.Status.Allowed && !res.Status.Denied, nil
	}
}

// Decider remembers decisions: allows for allowTTL, denies for denyTTL. A review that
// could not be made is not remembered.
type Decider struct {
	review     ReviewFunc
	allowTTL   time.Duration
	denyTTL    time.Duration
	maxEntries int
	now        func() time.Time
	// OnReview is told of every review sent (allowed, denied, error); OnHit of every
	// decision served from the cache.
	OnReview func(result string)
	OnHit    func()

	mu      sync.Mutex
	entries map[string]decision
}

type decision struct {
	allowed bool
	expires time.Time
}

// DefaultMaxDecisions bounds the cache; when full, expired entries go first, then all.
const DefaultMaxDecisions = 65536

// NewDecider wraps review with a cache.
func NewDecider(review ReviewFunc, allowTTL, denyTTL time.Duration) *Decider {
	return &Decider{review: review, allowTTL: allowTTL, denyTTL: denyTTL, maxEntries: DefaultMaxDecisions, now: time.Now, entries: map[string]decision{}}
}

func key(u *identity.User, a Attributes) string {
	groups := slices.Clone(u.Groups)
	slices.Sort(groups)
	return strings.Join([]string{u.Name, u.UID, strings.Join(groups, "\x01"), a.Namespace, a.Verb, a.Resource, a.Subresource}, "\x00")
}

// Allowed decides, from the cache when it can.
func (d *Decider) Allowed(ctx context.Context, u *identity.User, a Attributes) (bool, error) {
	if u == nil {
		return false, errors.New("no user")
	}
	k := key(u, a)
	now := d.now()
	d.mu.Lock()
	e, ok := d.entries[k]
	d.mu.Unlock()
	if ok && now.Before(e.expires) {
		if d.OnHit != nil {
			d.OnHit()
		}
		return e.allowed, nil
	}
	allowed, err := d.review(ctx, u, a)
	if d.OnReview != nil {
		switch {
		case err != nil:
			d.OnReview("error")
		case allowed:
			d.OnReview("allowed")
		default:
			d.OnReview("denied")
		}
	}
	if err != nil {
		return false, err
	}
	ttl := d.denyTTL
	if allowed {
		ttl = d.allowTTL
	}
	d.mu.Lock()
	if len(d.entries) >= d.maxEntries {
		for k, e := range d.entries {
			if !now.Before(e.expires) {
				delete(d.entries, k)
			}
		}
		if len(d.entries) >= d.maxEntries {
			clear(d.entries)
		}
	}
	d.entries[k] = decision{allowed: allowed, expires: now.Add(ttl)}
	d.mu.Unlock()
	return allowed, nil
}
