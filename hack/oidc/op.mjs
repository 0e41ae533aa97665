#!/usr/bin/env node
// A real OpenID provider (the certified npm oidc-provider) on loopback, for the tests only
// (internal/testenv starts it). It offers exactly what the product's external-OIDC identity
// needs to be tested against something real:
//   - a "service" client that gets RS256 JWT access tokens by client_credentials, for a
//     configurable audience (API clients, percli);
//   - a "web" client for the authorization-code flow with PKCE (S256), whose login completes
//     without a human: the interaction is auto-approved for a configured test user, so a Go
//     HTTP client or Chromium follows redirects and lands on the redirect URI with a code.
// Keys, cookies and grants live in memory and are new at every start. See README.md for flags.
import crypto from 'node:crypto';
import http from 'node:http';
import process from 'node:process';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const env = process.env;
const list = (s) => (s ?? '').split(',').map((x) => x.trim()).filter(Boolean);

const { values: flags } = parseArgs({
  strict: true,
  options: {
    port: { type: 'string', default: env.OP_PORT ?? '0' },
    issuer: { type: 'string', default: env.OP_ISSUER ?? '' },
    audience: { type: 'string', default: env.OP_AUDIENCE ?? 'perses' },
    'token-ttl': { type: 'string', default: env.OP_TOKEN_TTL ?? '600' },
    'service-client-id': { type: 'string', default: env.OP_SERVICE_CLIENT_ID ?? 'perses-ci' },
    'service-client-secret': { type: 'string', default: env.OP_SERVICE_CLIENT_SECRET ?? 'ci-secret' },
    'service-username': { type: 'string', default: env.OP_SERVICE_USERNAME ?? '' },
    'service-groups': { type: 'string', default: env.OP_SERVICE_GROUPS ?? '' },
    'web-client-id': { type: 'string', default: env.OP_WEB_CLIENT_ID ?? 'perses-web' },
    'web-client-secret': { type: 'string', default: env.OP_WEB_CLIENT_SECRET ?? 'web-secret' },
    'redirect-uri': { type: 'string', multiple: true, default: list(env.OP_REDIRECT_URIS ?? 'http://127.0.0.1/oidc/callback') },
    user: { type: 'string', multiple: true, default: (env.OP_USERS ?? 'alice=team-a').split(/[;\s]+/).filter(Boolean) },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (flags.help) {
  process.stdout.write('usage: node op.mjs [--port N] [--issuer URL] [--audience AUD] [--token-ttl SECONDS]\n'
    + '  [--service-client-id ID] [--service-client-secret S] [--service-username NAME] [--service-groups g1,g2]\n'
    + '  [--web-client-id ID] [--web-client-secret S] [--redirect-uri URI]... [--user name=g1,g2]...\n'
    + 'See README.md. Prints one JSON line {"issuer":...,"port":...} on stdout when ready.\n');
  process.exit(0);
}

function fail(msg) {
  process.stderr.write(`op: ${msg}\n`);
  process.exit(2);
}

const port = Number(flags.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port ${flags.port}: not a port`);
const tokenTTL = Number(flags['token-ttl']);
if (!Number.isInteger(tokenTTL) || tokenTTL < 1) fail(`--token-ttl ${flags['token-ttl']}: not a positive number of seconds`);
if (flags['redirect-uri'].length === 0) fail('--redirect-uri: at least one is needed');

// --user name=group,group (repeatable; OP_USERS holds several, separated by ';').
const users = new Map();
for (const spec of flags.user) {
  const [name, groups = ''] = spec.split('=', 2);
  if (!name) fail(`--user ${spec}: empty name`);
  users.set(name, { name, groups: groups.split(',').map((g) => g.trim()).filter(Boolean) });
}
if (users.size === 0) fail('--user: at least one is needed');
const defaultUser = users.values().next().value;

const serviceIdentity = {
  username: flags['service-username'] || flags['service-client-id'],
  groups: list(flags['service-groups']),
};

// Access tokens are JWTs for one resource server. A client that asks for no resource gets
// DEFAULT_RESOURCE, whose audience is --audience; a client that names another resource
// (RFC 8707 "resource" parameter) gets that resource as audience: a real token with the
// wrong audience, for negative tests.
const DEFAULT_RESOURCE = 'urn:perses-test:api';
const RESOURCE_SCOPE = 'openid profile email groups';

function accountClaims(user) {
  return {
    sub: user.name,
    preferred_username: user.name,
    name: user.name,
    email: `${user.name}@example.test`,
    email_verified: true,
    groups: user.groups,
  };
}

// The key pair is made at start: nothing secret is committed, and a restart rotates keys.
const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: crypto.randomUUID(), use: 'sig', alg: 'RS256' };

let handle = (_req, res) => { res.writeHead(503).end(); };
const server = http.createServer((req, res) => handle(req, res));
server.listen(port, '127.0.0.1', () => {
  const actualPort = server.address().port;
  const issuer = flags.issuer || `http://127.0.0.1:${actualPort}`;
  let issuerURL;
  try {
    issuerURL = new URL(issuer);
  } catch {
    fail(`--issuer ${issuer}: not a URL`);
  }
  if (issuerURL.pathname !== '/') fail(`--issuer ${issuer}: a path is not supported`);

  const provider = newProvider(issuer.replace(/\/$/, ''));
  const callback = provider.callback();
  handle = (req, res) => {
    if (req.url.startsWith('/interaction/')) {
      autoApprove(provider, req, res).catch((err) => {
        process.stderr.write(`op: interaction: ${err.stack || err}\n`);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end('interaction failed\n');
      });
      return;
    }
    callback(req, res);
  };
  process.stdout.write(`${JSON.stringify({ issuer: issuer.replace(/\/$/, ''), port: actualPort })}\n`);
});
server.on('error', (err) => fail(`listen 127.0.0.1:${port}: ${err.message}`));

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}

function newProvider(issuer) {
  const provider = new Provider(issuer, {
    jwks: { keys: [signingKey] },
    cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
    clients: [
      {
        client_id: flags['service-client-id'],
        client_secret: flags['service-client-secret'],
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
      },
      {
        client_id: flags['web-client-id'],
        client_secret: flags['web-client-secret'],
        // "native" makes loopback redirect URIs match on any port (RFC 8252, section 7.3):
        // the product under test listens on a port picked at run time.
        application_type: 'native',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: flags['redirect-uri'],
        post_logout_redirect_uris: flags['redirect-uri'],
      },
    ],
    pkce: { required: () => true },
    scopes: ['openid', 'profile', 'email', 'groups'],
    claims: {
      openid: ['sub'],
      profile: ['preferred_username', 'name'],
      email: ['email', 'email_verified'],
      groups: ['groups'],
    },
    // Claims of the granted scopes go into the ID token too, not only to userinfo.
    conformIdTokenClaims: false,
    findAccount: (_ctx, id) => {
      const user = users.get(id);
      if (!user) return undefined;
      return { accountId: id, claims: () => accountClaims(user) };
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    ttl: {
      AccessToken: tokenTTL,
      ClientCredentials: tokenTTL,
      IdToken: tokenTTL,
    },
    features: {
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: (_ctx, _client, oneOf) => oneOf ?? DEFAULT_RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => ({
          scope: RESOURCE_SCOPE,
          audience: resource === DEFAULT_RESOURCE ? flags.audience : resource,
          accessTokenTTL: tokenTTL,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
    // Identity claims in JWT access tokens, as an API server reading a bearer token expects.
    extraTokenClaims: (_ctx, token) => {
      if (token.kind === 'ClientCredentials') {
        return { preferred_username: serviceIdentity.username, groups: serviceIdentity.groups };
      }
      const user = token.accountId && users.get(token.accountId);
      return user ? { preferred_username: user.name, groups: user.groups } : undefined;
    },
  });
  provider.on('server_error', (_ctx, err) => process.stderr.write(`op: server error: ${err.stack || err}\n`));
  return provider;
}

// autoApprove completes the login and consent prompts at once: login as the user named by
// the authorization request's login_hint (access_denied if it names no --user), else as the
// first --user, and grant every scope, claim and resource scope the request asked for.
async function autoApprove(provider, req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  if (prompt.name === 'login') {
    if (params.login_hint && !users.has(params.login_hint)) {
      await provider.interactionFinished(req, res, { error: 'access_denied', error_description: `no user ${params.login_hint}` }, { mergeWithLastSubmission: false });
      return;
    }
    const user = users.get(params.login_hint) ?? defaultUser;
    await provider.interactionFinished(req, res, { login: { accountId: user.name } }, { mergeWithLastSubmission: false });
    return;
  }
  if (prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [resource, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(resource, scopes.join(' '));
    }
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }
  throw new Error(`prompt ${prompt.name} is not handled`);
}
