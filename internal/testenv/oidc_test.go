package testenv_test

import (
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openshift-ai/observability/internal/testenv"
)

// tokenClaims are the claims the provider puts into access and ID tokens.
type tokenClaims struct {
	PreferredUsername string   `json:"preferred_username"`
	Groups            []string `json:"groups"`
	ClientID          string   `json:"client_id"`
}

func TestOIDC(t *testing.T) {
	ctx := t.Context()
	start := time.Now()
	o, err := testenv.StartOIDC(ctx, testenv.OIDCOptions{ServiceGroups: []string{"robots"}})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, o.Stop()) })
	t.Logf("oidc provider ready in %s at %s", time.Since(start).Round(time.Millisecond), o.Issuer)

	// Discovery and keys, as the product's go-oidc verifier will fetch them.
	provider, err := oidc.NewProvider(ctx, o.Issuer)
	require.NoError(t, err)
	accessTokens := provider.Verifier(&oidc.Config{ClientID: o.Audience, SupportedSigningAlgs: []string{oidc.RS256}})

	t.Run("client credentials", func(t *testing.T) {
		raw, err := o.ClientCredentialsToken(ctx, "")
		require.NoError(t, err)
		tok, err := accessTokens.Verify(ctx, raw)
		require.NoError(t, err)
		var claims tokenClaims
		require.NoError(t, tok.Claims(&claims))
		assert.Equal(t, testenv.OIDCServiceClientID, tok.Subject)
		assert.Equal(t, []string{"perses"}, tok.Audience)
		assert.Equal(t, tokenClaims{PreferredUsername: testenv.OIDCServiceClientID, Groups: []string{"robots"}, ClientID: testenv.OIDCServiceClientID}, claims)
	})

	t.Run("wrong audience is refused", func(t *testing.T) {
		raw, err := o.ClientCredentialsToken(ctx, "https://other.example.test")
		require.NoError(t, err)
		_, err = accessTokens.Verify(ctx, raw)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "audience")
	})

	t.Run("browser flow with PKCE", func(t *testing.T) {
		for _, user := range []struct {
			name   string
			groups []string
		}{{"alice", []string{"team-a"}}, {"bob", []string{"team-b"}}} {
			t.Run(user.name, func(t *testing.T) {
				tokens, err := o.UserTokens(ctx, user.name)
				require.NoError(t, err)

				access, err := accessTokens.Verify(ctx, tokens.AccessToken)
				require.NoError(t, err)
				var claims tokenClaims
				require.NoError(t, access.Claims(&claims))
				assert.Equal(t, user.name, access.Subject)
				assert.Equal(t, tokenClaims{PreferredUsername: user.name, Groups: user.groups, ClientID: testenv.OIDCWebClientID}, claims)

				rawID, ok := tokens.Extra("id_token").(string)
				require.True(t, ok, "no id_token")
				id, err := provider.Verifier(&oidc.Config{ClientID: o.Web.ClientID}).Verify(ctx, rawID)
				require.NoError(t, err)
				var idClaims tokenClaims
				require.NoError(t, id.Claims(&idClaims))
				assert.Equal(t, user.name, idClaims.PreferredUsername)
				assert.Equal(t, user.groups, idClaims.Groups)
			})
		}
	})

	t.Run("unknown user is refused", func(t *testing.T) {
		_, err := o.UserTokens(ctx, "mallory")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "access_denied")
	})
}

func TestOIDCMissingModules(t *testing.T) {
	_, err := testenv.StartOIDC(t.Context(), testenv.OIDCOptions{Dir: t.TempDir()})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "npm ci --prefix hack/oidc")
}

func TestOIDCTokenLifetime(t *testing.T) {
	ctx := t.Context()
	o, err := testenv.StartOIDC(ctx, testenv.OIDCOptions{TokenTTL: 5 * time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, o.Stop()) })
	provider, err := oidc.NewProvider(ctx, o.Issuer)
	require.NoError(t, err)

	raw, err := o.ClientCredentialsToken(ctx, "")
	require.NoError(t, err)
	tok, err := provider.Verifier(&oidc.Config{ClientID: o.Audience}).Verify(ctx, raw)
	require.NoError(t, err)
	assert.Equal(t, 5*time.Second, tok.Expiry.Sub(tok.IssuedAt))

	// The same token, seen a minute later, is refused as expired.
	later := provider.Verifier(&oidc.Config{ClientID: o.Audience, Now: func() time.Time { return time.Now().Add(time.Minute) }})
	_, err = later.Verify(ctx, raw)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "expired")
}
