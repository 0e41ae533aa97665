// Package openshiftfake is a FAKE of the few OpenShift-only APIs the product talks to, for
// tests against a plain kube-apiserver (testenv.StartKube). It is written from OpenShift's
// published API, not from its code, and serves only what the real kube-apiserver cannot:
//
//   - GET /.well-known/oauth-authorization-server: the OAuth server metadata a cluster advertises;
//   - GET /oauth/authorize and POST /oauth/token: the OAuth server's authorization-code flow
//     (PKCE S256 or plain, state echoed), approving a configured user without a login page;
//   - GET /apis/user.openshift.io/v1/users/~: the caller's User;
//   - GET /apis/project.openshift.io/v1/projects[/{name}]: the projects (namespaces) the caller
//     may get, decided by the real kube-apiserver (TokenReview, then SubjectAccessReview).
//
// Every other request is proxied unchanged to the real kube-apiserver, so the fake's URL works
// as the API URL of an "OpenShift cluster": one kubeconfig reaches TokenReview,
// SubjectAccessReview and RBAC (real) and the OpenShift-only paths (fake).
//
// The token trick: a real OpenShift OAuth server stores the tokens it issues as
// OAuthAccessToken objects, which the cluster's authenticator then accepts. Here the fake
// hands out, for the approved user, a "sha256~" token registered in advance in the real
// kube-apiserver's static token file (testenv.Kube.OpenShiftTokens), so the token it issues
// passes the real TokenReview. The same user therefore always gets the same token, and
// "revoking" one is not possible.
package openshiftfake

import (
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/openshift-ai/observability/internal/testenv"
)

// OAuthClient is a registered OAuth client (OpenShift's OAuthClient object, reduced).
type OAuthClient struct {
	ID     string
	Secret string
	// RedirectURIs allowed for the client. As OpenShift does, a redirect_uri matches a
	// registered one with the same scheme and host, the same port (any port if the registered
	// one has none) and a path under the registered path.
	RedirectURIs []string
}

// Config configures Start.
type Config struct {
	// Kube is the real kube-apiserver, with credentials allowed to create TokenReviews and
	// SubjectAccessReviews and to list namespaces (a cluster admin's).
	Kube *rest.Config
	// Tokens maps each user the OAuth server may log in to the bearer token it hands out for
	// them; the real kube-apiserver must accept these (testenv.Kube.OpenShiftTokens).
	Tokens map[string]string
	// User is the user /oauth/authorize approves; SetUser changes it. Must be in Tokens.
	User string
	// Clients are the registered OAuth clients.
	Clients []OAuthClient
	// TokenLifetime is the expires_in of issued tokens: 24 h (OpenShift's default) when zero.
	TokenLifetime time.Duration
}

// Server is the running fake, on a loopback https port with its own CA.
type Server struct {
	// URL is the fake's base URL: the "cluster API" and the OAuth server's issuer at once.
	URL string
	// CAData is the PEM of the CA that signed the fake's serving certificate.
	CAData []byte

	cfg     Config
	admin   kubernetes.Interface
	clients map[string]OAuthClient
	srv     *http.Server

	mu    sync.Mutex
	user  string
	codes map[string]authCode
}

// Start validates cfg and serves the fake on a free loopback port until Stop.
func Start(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.TokenLifetime == 0 {
		cfg.TokenLifetime = 24 * time.Hour
	}
	admin, err := kubernetes.NewForConfig(cfg.Kube)
	if err != nil {
		return nil, fmt.Errorf("openshiftfake: kube client: %w", err)
	}
	upstream, err := url.Parse(cfg.Kube.Host)
	if err != nil {
		return nil, fmt.Errorf("openshiftfake: kube URL: %w", err)
	}
	// The proxy carries the caller's own credentials, never the admin's.
	transport, err := rest.TransportFor(rest.AnonymousClientConfig(cfg.Kube))
	if err != nil {
		return nil, fmt.Errorf("openshiftfake: kube transport: %w", err)
	}
	ca, err := testenv.NewCA("openshiftfake CA")
	if err != nil {
		return nil, err
	}
	_, _, pair, err := ca.ServingCert("openshiftfake")
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}

	s := &Server{
		URL:     "https://" + ln.Addr().String(),
		CAData:  ca.PEM,
		cfg:     cfg,
		admin:   admin,
		clients: make(map[string]OAuthClient, len(cfg.Clients)),
		user:    cfg.User,
		codes:   make(map[string]authCode),
	}
	for _, c := range cfg.Clients {
		s.clients[c.ID] = c
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/oauth-authorization-server", s.metadata)
	mux.HandleFunc("/oauth/authorize", s.authorize)
	mux.HandleFunc("/oauth/token", s.token)
	mux.HandleFunc("/apis/user.openshift.io/", s.users)
	mux.HandleFunc("/apis/project.openshift.io/", s.projects)
	mux.Handle("/", &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(upstream)
			r.Out.Host = upstream.Host
		},
		Transport:     transport,
		FlushInterval: -1, // watches stream through
	})
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12},
	}
	go func() { _ = s.srv.ServeTLS(ln, "", "") }()
	return s, nil
}

func (c Config) validate() error {
	var errs []error
	if c.Kube == nil || c.Kube.Host == "" {
		errs = append(errs, errors.New("openshiftfake: Kube is required"))
	}
	if len(c.Tokens) == 0 {
		errs = append(errs, errors.New("openshiftfake: Tokens is required"))
	}
	if _, ok := c.Tokens[c.User]; !ok {
		errs = append(errs, fmt.Errorf("openshiftfake: User %q has no token (have %v)", c.User, slices.Sorted(maps.Keys(c.Tokens))))
	}
	if len(c.Clients) == 0 {
		errs = append(errs, errors.New("openshiftfake: at least one OAuth client is required"))
	}
	for _, cl := range c.Clients {
		if cl.ID == "" || len(cl.RedirectURIs) == 0 {
			errs = append(errs, fmt.Errorf("openshiftfake: client %q needs an id and redirect URIs", cl.ID))
		}
	}
	return errors.Join(errs...)
}

// SetUser changes the user that /oauth/authorize approves from now on.
func (s *Server) SetUser(name string) error {
	if _, ok := s.cfg.Tokens[name]; !ok {
		return fmt.Errorf("openshiftfake: user %q has no token", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user = name
	return nil
}

// Config returns a rest.Config for the fake's URL with a bearer token: client-go then sees
// an "OpenShift cluster".
func (s *Server) Config(token string) *rest.Config {
	return testenv.RESTConfig(s.URL, s.CAData, token)
}

// WriteKubeconfig writes a kubeconfig for the fake's URL with a bearer token.
func (s *Server) WriteKubeconfig(path, token string) error {
	return testenv.WriteKubeconfig(path, s.URL, s.CAData, token)
}

// Stop closes the server and its connections (watches proxied through it too).
func (s *Server) Stop() error {
	if err := s.srv.Close(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
