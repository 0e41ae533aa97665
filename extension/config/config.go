// Package config is the product's configuration: upstream Perses' configuration, inlined
// unchanged, plus the openshift_ai section that the extension's capabilities read.
// Unknown keys anywhere are refused with the key named; every problem of the
// openshift_ai section is reported at once.
package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	commonConfig "github.com/perses/common/config"
	upstream "github.com/perses/perses/pkg/model/api/config"
	"gopkg.in/yaml.v3"
)

// Environment variables the quickstart documents; they override the file.
const (
	EnvPrometheusURL = "PROMETHEUS_URL"
	EnvDatabaseURL   = "DATABASE_URL"
	// EnvDevelopmentMode switches development mode on ("true") or off ("false").
	EnvDevelopmentMode = "DEVELOPMENT_MODE"
)

// Config is the whole configuration file.
type Config struct {
	upstream.Config `json:",inline" yaml:",inline"`
	// OpenShiftAI holds the settings of the product's own capabilities.
	OpenShiftAI OpenShiftAI `json:"openshift_ai" yaml:"openshift_ai"`
}

// OpenShiftAI is the openshift_ai section.
type OpenShiftAI struct {
	// Prometheus is the metrics backend (Prometheus or Thanos Querier) that dashboards query.
	Prometheus Prometheus `json:"prometheus" yaml:"prometheus"`
	// Postgres, when its URL is set (or DATABASE_URL), is the store instead of upstream's
	// file or MySQL database.
	Postgres Postgres `json:"postgres" yaml:"postgres"`
	// Kubernetes is the cluster the server asks about users and rights (TokenReview,
	// SubjectAccessReview, namespaces), with its own credentials.
	Kubernetes Kubernetes `json:"kubernetes" yaml:"kubernetes"`
	// Identity says who a request comes from.
	Identity Identity `json:"identity" yaml:"identity"`
	// Access says what that identity may do: a Perses project is a namespace.
	Access Access `json:"access" yaml:"access"`
	// Audit records mutations, denials, logins and logouts.
	Audit Audit `json:"audit" yaml:"audit"`
	// Tenancy confines every metrics query to the namespace of its project.
	Tenancy Tenancy `json:"tenancy" yaml:"tenancy"`
	// Live streams dashboard changes and panel data as server-sent events.
	Live Live `json:"live" yaml:"live"`
	// Workloads lists a project's OpenShift AI workloads with headline figures.
	Workloads Workloads `json:"workloads" yaml:"workloads"`
	// Templates provisions the workload dashboards of every project.
	Templates Templates `json:"templates" yaml:"templates"`
}

// Kubernetes is how the server reaches the cluster.
type Kubernetes struct {
	// Kubeconfig is a kubeconfig file (its current context) for the server's own
	// credentials; empty means the in-cluster service account.
	Kubeconfig string `json:"kubeconfig" yaml:"kubeconfig"`
	// QPS and Burst bound the server's requests to the API server.
	QPS   float32 `json:"qps" yaml:"qps"`
	Burst int     `json:"burst" yaml:"burst"`
	// Timeout bounds each request to the API server (a review that does not come back
	// in time is answered 503, never allowed).
	Timeout Duration `json:"timeout" yaml:"timeout"`
}

// Identity configures authentication. Any of its modes turns upstream's authentication
// on (security.enable_auth) with the extension as its provider.
type Identity struct {
	Development Development `json:"development" yaml:"development"`
	TokenReview TokenReview `json:"token_review" yaml:"token_review"`
	OIDC        OIDC        `json:"oidc" yaml:"oidc"`
	// Login is the browser login (authorization code + PKCE) and its session cookie.
	Login Login `json:"login" yaml:"login"`
}

// Enabled says whether the extension authenticates requests.
func (i Identity) Enabled() bool {
	return i.Development.Enabled || i.TokenReview.Enabled || i.OIDC.Enabled()
}

// Development is a fixed identity for a developer's machine.
type Development struct {
	// Enabled (or DEVELOPMENT_MODE=true) makes every request come from User.
	Enabled bool `json:"enabled" yaml:"enabled"`
	// Force allows development mode on an address that is not loopback.
	Force bool `json:"force" yaml:"force"`
	// User and Groups are the developer's identity.
	User   string   `json:"user" yaml:"user"`
	Groups []string `json:"groups" yaml:"groups"`
}

// TokenReview validates bearer tokens (OpenShift OAuth, service accounts) with the
// cluster's TokenReview API, caching each answer by the token's SHA-256.
type TokenReview struct {
	Enabled bool `json:"enabled" yaml:"enabled"`
	// SuccessTTL and FailureTTL are how long an accepted and a refused token are
	// remembered.
	SuccessTTL Duration `json:"success_ttl" yaml:"success_ttl"`
	FailureTTL Duration `json:"failure_ttl" yaml:"failure_ttl"`
	// Audiences, when set, are sent with each review (the token must be meant for one).
	Audiences []string `json:"audiences" yaml:"audiences"`
}

// OIDC verifies JWT bearer tokens of an external issuer locally.
type OIDC struct {
	// Issuer is the issuer URL (its discovery document and keys are fetched from it).
	Issuer string `json:"issuer" yaml:"issuer"`
	// Audience is the client id the tokens must be issued for.
	Audience string `json:"audience" yaml:"audience"`
	// UsernameClaim and GroupsClaim name the claims holding the user name and groups.
	UsernameClaim string `json:"username_claim" yaml:"username_claim"`
	GroupsClaim   string `json:"groups_claim" yaml:"groups_claim"`
	// UsernamePrefix and GroupsPrefix are prepended (e.g. "oidc:"), as kube-apiserver's
	// --oidc-username-prefix does, so that issuer names cannot pose as cluster users.
	UsernamePrefix string `json:"username_prefix" yaml:"username_prefix"`
	GroupsPrefix   string `json:"groups_prefix" yaml:"groups_prefix"`
	// Algorithms is the signature algorithm allowlist.
	Algorithms []string `json:"algorithms" yaml:"algorithms"`
	// CAFile is a PEM bundle trusted for the issuer's TLS (empty: the system's).
	CAFile string `json:"ca_file" yaml:"ca_file"`
}

// Enabled says whether OIDC tokens are accepted.
func (o OIDC) Enabled() bool { return o.Issuer != "" }

// Login providers.
const (
	LoginOpenShift = "openshift"
	LoginOIDC      = "oidc"
)

// Login is the browser login: OAuth 2.0 authorization code with PKCE against the
// cluster's OpenShift OAuth server or the OIDC issuer, the access token then kept in an
// encrypted session cookie that the identity filter accepts like a bearer token.
type Login struct {
	// Provider is openshift or oidc; empty: no browser login.
	Provider string `json:"provider" yaml:"provider"`
	// ClientID and ClientSecret are the OAuth client registered for the server.
	ClientID     string `json:"client_id" yaml:"client_id"`
	ClientSecret Secret `json:"client_secret" yaml:"client_secret"`
	// RedirectURL is the absolute URL of GET /oauth/callback as browsers reach it;
	// empty: built from each request's Host (only right without a rewriting proxy).
	RedirectURL string `json:"redirect_url" yaml:"redirect_url"`
	// Scopes asked for (defaults: user:full for openshift; openid, profile, email, groups for oidc).
	Scopes []string `json:"scopes" yaml:"scopes"`
	// APIURL is the cluster API URL whose /.well-known/oauth-authorization-server names
	// the OAuth server (openshift); empty: the server's kubeconfig or in-cluster host.
	APIURL string `json:"api_url" yaml:"api_url"`
	// CAFile is a PEM bundle trusted for the OAuth server (besides the system's and the
	// kubeconfig's CA).
	CAFile string `json:"ca_file" yaml:"ca_file"`
	// SessionToken is which token of the OIDC answer the session keeps and presents as
	// a bearer token: access_token (default) or id_token.
	SessionToken string `json:"session_token" yaml:"session_token"`
	// Session is the cookie.
	Session Session `json:"session" yaml:"session"`
}

// Session.Secure values.
const (
	SecureAuto   = "auto"
	SecureAlways = "always"
	SecureNever  = "never"
)

// Enabled says whether browsers may log in.
func (l Login) Enabled() bool { return l.Provider != "" }

// Session configures the session cookie.
type Session struct {
	// CookieName names the cookie.
	CookieName string `json:"cookie_name" yaml:"cookie_name"`
	// Key is the AES-256-GCM key, base64 of 32 bytes; empty: derived (HKDF-SHA256) from
	// upstream's security.encryption_key.
	Key Secret `json:"key" yaml:"key"`
	// MaxAge bounds a session (shorter when the token expires earlier).
	MaxAge Duration `json:"max_age" yaml:"max_age"`
	// Secure marks the cookies Secure: always, never, or auto (default: always unless
	// the server listens on a loopback address).
	Secure string `json:"secure" yaml:"secure"`
}

// Access configures authorization by SubjectAccessReview.
type Access struct {
	// APIGroup is the group of the resources reviewed (dashboards, datasources, ...).
	APIGroup string `json:"api_group" yaml:"api_group"`
	// AllowTTL and DenyTTL are how long a decision is remembered.
	AllowTTL Duration `json:"allow_ttl" yaml:"allow_ttl"`
	DenyTTL  Duration `json:"deny_ttl" yaml:"deny_ttl"`
	// Projects says where the namespaces a user may see come from: "openshift" (the
	// user's project.openshift.io list), "kubernetes" (reviews over a watched namespace
	// list) or "auto" (openshift when the cluster serves it).
	Projects string `json:"projects" yaml:"projects"`
	// ProjectsTTL is how long a user's project list is remembered.
	ProjectsTTL Duration `json:"projects_ttl" yaml:"projects_ttl"`
}

// Postgres configures the PostgreSQL store.
type Postgres struct {
	// URL is a libpq connection URL (postgresql://user:password@host:5432/db?sslmode=...).
	// DATABASE_URL overrides it. Never logged with its password.
	URL Secret `json:"url" yaml:"url"`
	// MaxConns is the pool size.
	MaxConns int32 `json:"max_conns" yaml:"max_conns"`
	// StatementTimeout bounds every statement on the server side.
	StatementTimeout Duration `json:"statement_timeout" yaml:"statement_timeout"`
	// ConnectTimeout bounds opening a connection.
	ConnectTimeout Duration `json:"connect_timeout" yaml:"connect_timeout"`
	// CaseSensitive compares names as given; false lower-cases them, as upstream's
	// database.*.case_sensitive does.
	CaseSensitive bool `json:"case_sensitive" yaml:"case_sensitive"`
}

// Enabled says whether PostgreSQL is the store.
func (p Postgres) Enabled() bool { return p.URL != "" }

// Prometheus describes the default metrics datasource the server provides.
type Prometheus struct {
	// DatasourceName is the name of the global datasource created at start. Empty disables it.
	DatasourceName string `json:"datasource_name" yaml:"datasource_name"`
	// URL of Prometheus or Thanos Querier; PROMETHEUS_URL overrides it.
	URL string `json:"url" yaml:"url"`
}

// Defaults used when the file leaves a setting out.
const (
	DefaultPrometheusURL          = "http://127.0.0.1:9090"
	DefaultDatasourceName         = "prometheus"
	DefaultPostgresMaxConns       = 10
	DefaultPostgresStatementLimit = Duration(5 * time.Second)
	DefaultPostgresConnectTimeout = Duration(5 * time.Second)
	DefaultKubernetesQPS          = 50
	DefaultKubernetesBurst        = 100
	DefaultKubernetesTimeout      = Duration(5 * time.Second)
	DefaultDeveloper              = "developer"
	DefaultTokenSuccessTTL        = Duration(2 * time.Minute)
	DefaultTokenFailureTTL        = Duration(10 * time.Second)
	DefaultUsernameClaim          = "preferred_username"
	DefaultGroupsClaim            = "groups"
	DefaultAPIGroup               = "perses.openshift.io"
	DefaultAllowTTL               = Duration(time.Minute)
	DefaultDenyTTL                = Duration(10 * time.Second)
	DefaultProjectsTTL            = Duration(30 * time.Second)
	DefaultSessionCookie          = "perses-openshift-ai-session"
	DefaultSessionMaxAge          = Duration(8 * time.Hour)
)

// DefaultDeveloperGroups are the development identity's groups.
var DefaultDeveloperGroups = []string{"system:authenticated", "developers"}

// DefaultOIDCAlgorithms is the signature allowlist: asymmetric algorithms only.
var DefaultOIDCAlgorithms = []string{"RS256", "ES256"}

// ProjectsSource values.
const (
	ProjectsAuto       = "auto"
	ProjectsOpenShift  = "openshift"
	ProjectsKubernetes = "kubernetes"
)

// Load reads the file (upstream's keys and ours), applies PERSES_* variables as upstream
// does, then the quickstart's variables, then checks everything.
func Load(file string) (Config, error) {
	c := Config{OpenShiftAI: OpenShiftAI{
		Prometheus: Prometheus{DatasourceName: DefaultDatasourceName, URL: DefaultPrometheusURL},
		Postgres: Postgres{
			MaxConns:         DefaultPostgresMaxConns,
			StatementTimeout: DefaultPostgresStatementLimit,
			ConnectTimeout:   DefaultPostgresConnectTimeout,
		},
		Kubernetes: Kubernetes{QPS: DefaultKubernetesQPS, Burst: DefaultKubernetesBurst, Timeout: DefaultKubernetesTimeout},
		Identity: Identity{
			Development: Development{User: DefaultDeveloper},
			TokenReview: TokenReview{SuccessTTL: DefaultTokenSuccessTTL, FailureTTL: DefaultTokenFailureTTL},
			OIDC:        OIDC{UsernameClaim: DefaultUsernameClaim, GroupsClaim: DefaultGroupsClaim},
			Login:       Login{SessionToken: "access_token", Session: Session{CookieName: DefaultSessionCookie, MaxAge: DefaultSessionMaxAge, Secure: SecureAuto}},
		},
		Access:    Access{APIGroup: DefaultAPIGroup, AllowTTL: DefaultAllowTTL, DenyTTL: DefaultDenyTTL, Projects: ProjectsAuto, ProjectsTTL: DefaultProjectsTTL},
		Audit:     defaultAudit(),
		Tenancy:   defaultTenancy(),
		Live:      defaultLive(),
		Workloads: defaultWorkloads(),
		Templates: defaultTemplates(),
	}}
	if err := commonConfig.NewResolver[Config]().SetConfigFile(file).SetEnvPrefix("PERSES").Resolve(&c).Verify(); err != nil {
		return c, withKeys(file, err)
	}
	if v, ok := os.LookupEnv(EnvPrometheusURL); ok && v != "" {
		c.OpenShiftAI.Prometheus.URL = v
	}
	if v, ok := os.LookupEnv(EnvDatabaseURL); ok && v != "" {
		c.OpenShiftAI.Postgres.URL = Secret(v)
	}
	if v, ok := os.LookupEnv(EnvDevelopmentMode); ok && v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return c, fmt.Errorf("%s: %q is not true or false", EnvDevelopmentMode, v)
		}
		c.OpenShiftAI.Identity.Development.Enabled = on
	}
	if err := c.OpenShiftAI.Audit.applyEnv(); err != nil {
		return c, err
	}
	id := &c.OpenShiftAI.Identity
	if id.Development.Enabled && id.Development.Groups == nil {
		id.Development.Groups = DefaultDeveloperGroups
	}
	if id.OIDC.Enabled() && len(id.OIDC.Algorithms) == 0 {
		id.OIDC.Algorithms = DefaultOIDCAlgorithms
	}
	if c.OpenShiftAI.Tenancy.Metrics == nil {
		c.OpenShiftAI.Tenancy.Metrics = DefaultTenancyMetrics
	}
	if err := c.OpenShiftAI.Validate(); err != nil {
		return c, err
	}
	if err := c.delegateAuthentication(); err != nil {
		return c, err
	}
	return c, nil
}

// delegateAuthentication turns upstream's authentication on with a delegated
// (Kubernetes-style) provider when the extension authenticates: upstream then calls
// the extension's provider on every protected route, keeps its own user, role and
// login endpoints off, and tells clients (GET /api/config) that tokens are Kubernetes
// bearer tokens. Upstream's own providers cannot be combined with ours.
func (c *Config) delegateAuthentication() error {
	if !c.OpenShiftAI.Identity.Enabled() {
		return nil
	}
	p := c.Security.Authentication.Providers
	if p.EnableNative || len(p.OIDC) > 0 || len(p.OAuth) > 0 {
		return errors.New("security.authentication.providers: openshift_ai.identity replaces upstream's native, OIDC and OAuth providers; remove them")
	}
	c.Security.EnableAuth = true
	c.Security.Authentication.Providers.KubernetesProvider.Enable = true
	c.Security.Authorization.Provider.Kubernetes.Enable = true
	c.Security.Authorization.Provider.Native.Enable = false
	return nil
}

// Validate reports every problem of the openshift_ai section, each naming its key.
func (o OpenShiftAI) Validate() error {
	var errs []error
	if o.Prometheus.DatasourceName != "" {
		if u, err := url.Parse(o.Prometheus.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("openshift_ai.prometheus.url: %q is not an absolute http(s) URL (set it in the file or with %s)", o.Prometheus.URL, EnvPrometheusURL))
		}
	}
	if p := o.Postgres; p.Enabled() {
		if u, err := url.Parse(string(p.URL)); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
			errs = append(errs, fmt.Errorf("openshift_ai.postgres.url: %s is not a postgres:// or postgresql:// URL with a host (set it in the file or with %s)", p.URL.Redacted(), EnvDatabaseURL))
		}
		if p.MaxConns < 1 {
			errs = append(errs, fmt.Errorf("openshift_ai.postgres.max_conns: %d, want at least 1", p.MaxConns))
		}
		if p.StatementTimeout <= 0 {
			errs = append(errs, fmt.Errorf("openshift_ai.postgres.statement_timeout: %s, want a positive duration", p.StatementTimeout))
		}
		if p.ConnectTimeout <= 0 {
			errs = append(errs, fmt.Errorf("openshift_ai.postgres.connect_timeout: %s, want a positive duration", p.ConnectTimeout))
		}
	}
	errs = append(errs, o.validateIdentity()...)
	errs = append(errs, o.Audit.validate()...)
	errs = append(errs, o.Tenancy.validate()...)
	errs = append(errs, o.Live.validate()...)
	errs = append(errs, o.Workloads.validate()...)
	errs = append(errs, o.Templates.validate()...)
	return errors.Join(errs...)
}

func (o OpenShiftAI) validateIdentity() []error {
	var errs []error
	id, k := o.Identity, o.Kubernetes
	positive := func(key string, d Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s: %s, want a positive duration", key, d))
		}
	}
	if id.Development.Enabled {
		if strings.TrimSpace(id.Development.User) == "" {
			errs = append(errs, errors.New("openshift_ai.identity.development.user: empty, want the developer's user name"))
		}
		if id.TokenReview.Enabled || id.OIDC.Enabled() {
			errs = append(errs, errors.New("openshift_ai.identity.development: cannot be combined with token_review or oidc (every request would be the developer)"))
		}
	}
	if id.TokenReview.Enabled {
		positive("openshift_ai.identity.token_review.success_ttl", id.TokenReview.SuccessTTL)
		positive("openshift_ai.identity.token_review.failure_ttl", id.TokenReview.FailureTTL)
	}
	if oc := id.OIDC; oc.Enabled() {
		if u, err := url.Parse(oc.Issuer); err != nil || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackHost(u.Hostname()))) || u.Host == "" {
			errs = append(errs, fmt.Errorf("openshift_ai.identity.oidc.issuer: %q is not an https URL (http only on loopback)", oc.Issuer))
		}
		if oc.Audience == "" {
			errs = append(errs, errors.New("openshift_ai.identity.oidc.audience: empty, want the client id tokens are issued for"))
		}
		if oc.UsernameClaim == "" {
			errs = append(errs, errors.New("openshift_ai.identity.oidc.username_claim: empty"))
		}
		for _, a := range oc.Algorithms {
			if !allowedAlgorithms[a] {
				errs = append(errs, fmt.Errorf("openshift_ai.identity.oidc.algorithms: %q is not an asymmetric JWS algorithm (RS256, RS384, RS512, ES256, ES384, ES512, PS256, PS384, PS512, EdDSA)", a))
			}
		}
	}
	errs = append(errs, validateLogin(id)...)
	if id.TokenReview.Enabled || id.OIDC.Enabled() || o.Access.Enabled(id) {
		if k.QPS <= 0 || k.Burst < 1 {
			errs = append(errs, fmt.Errorf("openshift_ai.kubernetes.qps/burst: %v/%d, want positive", k.QPS, k.Burst))
		}
		positive("openshift_ai.kubernetes.timeout", k.Timeout)
		if k.Kubeconfig != "" {
			if _, err := os.Stat(k.Kubeconfig); err != nil {
				errs = append(errs, fmt.Errorf("openshift_ai.kubernetes.kubeconfig: %v", err))
			}
		}
	}
	if o.Access.Enabled(id) {
		a := o.Access
		if a.APIGroup == "" || strings.ContainsAny(a.APIGroup, "/ ") {
			errs = append(errs, fmt.Errorf("openshift_ai.access.api_group: %q, want an API group such as %s", a.APIGroup, DefaultAPIGroup))
		}
		positive("openshift_ai.access.allow_ttl", a.AllowTTL)
		positive("openshift_ai.access.deny_ttl", a.DenyTTL)
		positive("openshift_ai.access.projects_ttl", a.ProjectsTTL)
		switch a.Projects {
		case ProjectsAuto, ProjectsOpenShift, ProjectsKubernetes:
		default:
			errs = append(errs, fmt.Errorf("openshift_ai.access.projects: %q, want auto, openshift or kubernetes", a.Projects))
		}
	}
	return errs
}

func validateLogin(id Identity) []error {
	l := id.Login
	if !l.Enabled() {
		return nil
	}
	var errs []error
	switch l.Provider {
	case LoginOpenShift:
		if !id.TokenReview.Enabled {
			errs = append(errs, errors.New("openshift_ai.identity.login.provider: openshift needs identity.token_review.enabled (the tokens it issues are checked by TokenReview)"))
		}
		if l.APIURL != "" {
			if u, err := url.Parse(l.APIURL); err != nil || u.Scheme != "https" || u.Host == "" {
				errs = append(errs, fmt.Errorf("openshift_ai.identity.login.api_url: %q is not an https URL", l.APIURL))
			}
		}
	case LoginOIDC:
		if !id.OIDC.Enabled() {
			errs = append(errs, errors.New("openshift_ai.identity.login.provider: oidc needs identity.oidc.issuer"))
		}
	default:
		errs = append(errs, fmt.Errorf("openshift_ai.identity.login.provider: %q, want openshift or oidc", l.Provider))
	}
	if l.ClientID == "" {
		errs = append(errs, errors.New("openshift_ai.identity.login.client_id: empty, want the OAuth client registered for the server"))
	}
	if l.RedirectURL != "" {
		if u, err := url.Parse(l.RedirectURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" {
			errs = append(errs, fmt.Errorf("openshift_ai.identity.login.redirect_url: %q is not an absolute http(s) URL", l.RedirectURL))
		}
	}
	switch l.SessionToken {
	case "access_token", "id_token":
	default:
		errs = append(errs, fmt.Errorf("openshift_ai.identity.login.session_token: %q, want access_token or id_token", l.SessionToken))
	}
	if l.CAFile != "" {
		if _, err := os.Stat(l.CAFile); err != nil {
			errs = append(errs, fmt.Errorf("openshift_ai.identity.login.ca_file: %v", err))
		}
	}
	s := l.Session
	if s.CookieName == "" || strings.ContainsAny(s.CookieName, " ;,=\"\t") {
		errs = append(errs, fmt.Errorf("openshift_ai.identity.login.session.cookie_name: %q is not a cookie name", s.CookieName))
	}
	switch s.Secure {
	case SecureAuto, SecureAlways, SecureNever:
	default:
		errs = append(errs, fmt.Errorf("openshift_ai.identity.login.session.secure: %q, want auto, always or never", s.Secure))
	}
	if s.MaxAge < Duration(time.Minute) {
		errs = append(errs, fmt.Errorf("openshift_ai.identity.login.session.max_age: %s, want at least 1m", s.MaxAge))
	}
	if s.Key != "" {
		if k, err := base64.StdEncoding.DecodeString(string(s.Key)); err != nil || len(k) != 32 {
			errs = append(errs, errors.New("openshift_ai.identity.login.session.key: want the base64 of 32 random bytes (openssl rand -base64 32)"))
		}
	}
	return errs
}

// Enabled says whether decisions are made by SubjectAccessReview: whenever tokens or
// OIDC identify users. Development mode asks no cluster: the developer may do everything.
func (a Access) Enabled(id Identity) bool {
	return id.TokenReview.Enabled || id.OIDC.Enabled()
}

var allowedAlgorithms = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true, "ES256": true, "ES384": true, "ES512": true,
	"PS256": true, "PS384": true, "PS512": true, "EdDSA": true,
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

var yamlLine = regexp.MustCompile(`line (\d+): `)

// withKeys adds to a YAML decoding error the dotted key of every line it names, so that
// "line 7: cannot unmarshal !!seq into config.Prometheus" says which key holds the bad value.
func withKeys(file string, err error) error {
	var typeErr *yaml.TypeError
	if file == "" || !errors.As(err, &typeErr) {
		return err
	}
	data, readErr := os.ReadFile(file)
	if readErr != nil {
		return err
	}
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil {
		return err
	}
	keys := map[int]string{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i].Value
				if path != "" {
					k = path + "." + k
				}
				keys[n.Content[i].Line] = k
				if _, seen := keys[n.Content[i+1].Line]; !seen {
					keys[n.Content[i+1].Line] = k
				}
				walk(n.Content[i+1], k)
			}
		}
	}
	walk(&root, "")
	msgs := make([]string, 0, len(typeErr.Errors))
	for _, m := range typeErr.Errors {
		if sub := yamlLine.FindStringSubmatch(m); sub != nil {
			if line, convErr := strconv.Atoi(sub[1]); convErr == nil && keys[line] != "" {
				m = fmt.Sprintf("%s (key %s)", m, keys[line])
			}
		}
		msgs = append(msgs, m)
	}
	return fmt.Errorf("invalid configuration:\n  %s", strings.Join(msgs, "\n  "))
}
