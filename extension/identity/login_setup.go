package identity

import (
	"encoding/base64"
	"fmt"
	"os"
	"time"

	"github.com/openshift-ai/observability/extension/config"
	"github.com/sirupsen/logrus"
)

// newLogin builds the browser login of openshift_ai.identity.login; authn checks the
// tokens it obtains (the bearer chain).
func newLogin(c config.Config, authn Authenticator, timeout time.Duration) (*Login, error) {
	lc := c.OpenShiftAI.Identity.Login
	key, err := sessionKey(lc.Session.Key, []byte(c.Security.EncryptionKey))
	if err != nil {
		return nil, err
	}
	sealer, err := NewSealer(key)
	if err != nil {
		return nil, err
	}
	secure := lc.Session.Secure == config.SecureAlways
	if lc.Session.Secure == config.SecureAuto {
		secure = CheckListenAddress(listenAddress(), false) != nil
	}
	if !secure {
		logrus.Warn("browser login: session cookies are not marked Secure (loopback listener or session.secure: never); serve through https elsewhere")
	}
	prefix := c.APIPrefix
	cookies := &Cookies{Sealer: sealer, Name: lc.Session.CookieName, Path: prefix + "/", LoginPath: prefix + "/oauth/", Secure: secure}

	extraCA, err := readPEM(lc.CAFile)
	if err != nil {
		return nil, fmt.Errorf("openshift_ai.identity.login.ca_file: %w", err)
	}
	client := LoginClient{ID: lc.ClientID, Secret: string(lc.ClientSecret), Scopes: lc.Scopes}
	var provider LoginProvider
	switch lc.Provider {
	case config.LoginOpenShift:
		apiURL, clusterCA := lc.APIURL, []byte(nil)
		if rc, rcErr := RESTConfig(c.OpenShiftAI.Kubernetes); rcErr == nil {
			if apiURL == "" {
				apiURL = rc.Host
			}
			clusterCA = rc.CAData
			if len(clusterCA) == 0 && rc.CAFile != "" {
				clusterCA, _ = os.ReadFile(rc.CAFile)
			}
		} else if apiURL == "" {
			return nil, fmt.Errorf("openshift_ai.identity.login: no api_url and %w", rcErr)
		}
		if client.HTTP, err = HTTPClientWithRoots(timeout, clusterCA, extraCA); err != nil {
			return nil, fmt.Errorf("openshift_ai.identity.login: %w", err)
		}
		provider = NewOpenShiftLogin(apiURL, client)
	case config.LoginOIDC:
		oc := c.OpenShiftAI.Identity.OIDC
		oidcCA, caErr := readPEM(oc.CAFile)
		if caErr != nil {
			return nil, fmt.Errorf("openshift_ai.identity.oidc.ca_file: %w", caErr)
		}
		if client.HTTP, err = HTTPClientWithRoots(timeout, oidcCA, extraCA); err != nil {
			return nil, fmt.Errorf("openshift_ai.identity.login: %w", err)
		}
		provider = NewOIDCLogin(oc.Issuer, client, oc.Algorithms, lc.SessionToken == "id_token")
	default:
		return nil, fmt.Errorf("openshift_ai.identity.login.provider: %q", lc.Provider)
	}
	return NewLogin(LoginOptions{
		Provider: provider, Cookies: cookies, Authn: authn, RedirectURL: lc.RedirectURL,
		APIPrefix: prefix, MaxAge: time.Duration(lc.Session.MaxAge), Nonce: lc.Provider == config.LoginOIDC,
	}), nil
}

// sessionKey is the configured key (base64 of 32 bytes), or one derived from upstream's
// encryption key.
func sessionKey(configured config.Secret, upstreamKey []byte) ([]byte, error) {
	if configured != "" {
		k, err := base64.StdEncoding.DecodeString(string(configured))
		if err != nil || len(k) != 32 {
			return nil, fmt.Errorf("openshift_ai.identity.login.session.key: want the base64 of 32 bytes")
		}
		return k, nil
	}
	if len(upstreamKey) == 0 {
		return nil, fmt.Errorf("openshift_ai.identity.login.session.key: empty, and no security.encryption_key to derive it from")
	}
	return DeriveSessionKey(upstreamKey)
}
