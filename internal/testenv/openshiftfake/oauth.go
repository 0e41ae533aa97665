package openshiftfake

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// codeLifetime is how long an authorization code can be exchanged (OpenShift: 5 min).
const codeLifetime = 5 * time.Minute

// authCode is what an issued authorization code stands for until it is exchanged once.
type authCode struct {
	client        string
	redirectURI   string
	challenge     string
	method        string
	user          string
	scope         string
	expires       time.Time
	redirectGiven bool
}

// metadata serves the OAuth 2.0 authorization server metadata (RFC 8414) in the shape an
// OpenShift cluster publishes at /.well-known/oauth-authorization-server.
func (s *Server) metadata(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeStatus(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "only GET")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                           s.URL,
		"authorization_endpoint":           s.URL + "/oauth/authorize",
		"token_endpoint":                   s.URL + "/oauth/token",
		"scopes_supported":                 []string{"user:check-access", "user:full", "user:info", "user:list-projects", "user:list-scoped-projects"},
		"response_types_supported":         []string{"code", "token"},
		"grant_types_supported":            []string{"authorization_code", "implicit"},
		"code_challenge_methods_supported": []string{"plain", "S256"},
	})
}

// authorize approves the configured user at once (no login page, no consent) and redirects
// to the client with a code and the request's state. Errors before the client and its
// redirect URI are verified get a plain 400; later ones go back to the client (RFC 6749 4.1.2.1).
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		http.Error(w, "only GET and POST", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	q := r.Form
	client, ok := s.clients[q.Get("client_id")]
	if !ok {
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	}
	redirectURI := q.Get("redirect_uri")
	if redirectURI == "" {
		redirectURI = client.RedirectURIs[0]
	}
	if !redirectAllowed(client.RedirectURIs, redirectURI) {
		http.Error(w, "redirect_uri not registered for the client", http.StatusBadRequest)
		return
	}
	back := func(params url.Values) {
		u, _ := url.Parse(redirectURI) // parsed by redirectAllowed already
		query := u.Query()
		for k, v := range params {
			query[k] = v
		}
		if state := q.Get("state"); state != "" {
			query.Set("state", state)
		}
		u.RawQuery = query.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
	if q.Get("response_type") != "code" {
		back(url.Values{"error": {"unsupported_response_type"}, "error_description": {"this fake issues codes only"}})
		return
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	if challenge != "" && method == "" {
		method = "plain" // RFC 7636 4.3
	}
	if method != "" && (challenge == "" || (method != "S256" && method != "plain")) {
		back(url.Values{"error": {"invalid_request"}, "error_description": {"bad code_challenge or code_challenge_method"}})
		return
	}
	scope := q.Get("scope")
	if scope == "" {
		scope = "user:full"
	}
	s.mu.Lock()
	code := randomString()
	s.codes[code] = authCode{
		client: client.ID, redirectURI: redirectURI, redirectGiven: q.Get("redirect_uri") != "",
		challenge: challenge, method: method, user: s.user, scope: scope,
		expires: time.Now().Add(codeLifetime),
	}
	s.mu.Unlock()
	back(url.Values{"code": {code}})
}

// token exchanges an authorization code for the approved user's token (see the package
// comment for why it is a token known in advance).
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "only POST")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "bad form")
		return
	}
	clientID, secret, basic := r.BasicAuth()
	if !basic {
		clientID, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	client, ok := s.clients[clientID]
	if !ok || subtle.ConstantTimeCompare([]byte(secret), []byte(client.Secret)) != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="oauth"`)
		oauthError(w, http.StatusUnauthorized, "invalid_client", "unknown client or wrong secret")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "authorization_code" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "this fake supports authorization_code only")
		return
	}

	s.mu.Lock()
	code, ok := s.codes[r.PostForm.Get("code")]
	delete(s.codes, r.PostForm.Get("code")) // single use, whatever happens next
	s.mu.Unlock()
	switch {
	case !ok || time.Now().After(code.expires):
		oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown, used or expired code")
		return
	case code.client != client.ID:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "code issued to another client")
		return
	case code.redirectGiven && r.PostForm.Get("redirect_uri") != code.redirectURI:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the authorization request")
		return
	case !pkceVerified(code, r.PostForm.Get("code_verifier")):
		oauthError(w, http.StatusBadRequest, "invalid_grant", "code_verifier does not match the code_challenge")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": s.cfg.Tokens[code.user],
		"token_type":   "Bearer",
		"expires_in":   int(s.cfg.TokenLifetime / time.Second),
		"scope":        code.scope,
	})
}

func pkceVerified(code authCode, verifier string) bool {
	switch code.method {
	case "":
		return true // no PKCE in the authorization request
	case "S256":
		sum := sha256.Sum256([]byte(verifier))
		return verifier != "" && subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(code.challenge)) == 1
	default: // plain
		return verifier != "" && subtle.ConstantTimeCompare([]byte(verifier), []byte(code.challenge)) == 1
	}
}

// redirectAllowed matches OpenShift's rule for OAuthClient redirect URIs: same scheme and
// host, same port unless the registered URI names none, and a path at or under the
// registered path.
func redirectAllowed(registered []string, candidate string) bool {
	c, err := url.Parse(candidate)
	if err != nil || c.Fragment != "" || !c.IsAbs() {
		return false
	}
	for _, reg := range registered {
		r, err := url.Parse(reg)
		if err != nil || r.Scheme != c.Scheme || r.Hostname() != c.Hostname() {
			continue
		}
		if r.Port() != "" && r.Port() != c.Port() {
			continue
		}
		base := strings.TrimSuffix(r.Path, "/")
		if c.Path == r.Path || c.Path == base || strings.HasPrefix(c.Path, base+"/") {
			return true
		}
	}
	return false
}

func oauthError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randomString() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
