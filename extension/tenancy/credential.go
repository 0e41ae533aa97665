package tenancy

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/openshift-ai/observability/extension/identity"
)

// Credential is how the server authenticates to the configured Prometheus (or Thanos
// Querier). It is applied only to requests for that origin: a datasource a user points
// elsewhere never receives it.
type Credential struct {
	// Origin is scheme://host[:port] of openshift_ai.prometheus.url.
	Origin string
	// TokenFile is read for a bearer token; re-read when it changes (rotation).
	TokenFile string
	// ForwardUser sends the caller's own bearer token instead, when it has one.
	ForwardUser bool

	mu      sync.Mutex
	token   string
	modTime time.Time
	size    int64
}

// OriginOf is scheme://host of a URL, lower-cased, with the default port made explicit.
func OriginOf(u *url.URL) string {
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return u.Scheme + "://" + host + ":" + port
}

// apply sets Authorization for a request to the credential's origin.
func (cr *Credential) apply(req *http.Request, target *url.URL, c echo.Context) error {
	if cr == nil || cr.Origin == "" || OriginOf(target) != cr.Origin {
		return nil
	}
	if cr.ForwardUser && c != nil {
		if u, err := identity.UserOf(c); err == nil && u.Token() != "" {
			req.Header.Set("Authorization", "Bearer "+u.Token())
			return nil
		}
	}
	if cr.TokenFile == "" {
		return nil
	}
	tok, err := cr.read()
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	return nil
}

// read returns the token, re-reading the file when its modification time changed (a
// stat per request: projected service-account tokens rotate in place).
func (cr *Credential) read() (string, error) {
	st, err := os.Stat(cr.TokenFile)
	if err != nil {
		return "", err
	}
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if cr.token != "" && st.ModTime().Equal(cr.modTime) && st.Size() == cr.size {
		return cr.token, nil
	}
	b, err := os.ReadFile(cr.TokenFile)
	if err != nil {
		return "", err
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("%s is empty", cr.TokenFile)
	}
	cr.token, cr.modTime, cr.size = tok, st.ModTime(), st.Size()
	return tok, nil
}
