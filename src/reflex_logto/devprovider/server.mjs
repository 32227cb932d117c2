// The development OpenID provider: panva's oidc-provider, set up to look like
// Logto to a client (issuer <origin>/oidc, ES384-signed ID tokens with profile
// claims, refresh tokens for offline_access with prompt=consent, rotation,
// RP-initiated logout without a confirmation page), plus a sign-in page that
// shows the sample users' credentials and a small admin API for tests.
//
//   node devprovider/server.mjs --port 0 --state-dir .state/dev-provider
//
// DEV_PROVIDER_ADMIN_TOKEN guards the admin API. When ready it prints one JSON
// line {"issuer", "origin", "port"}, and writes it to --ready-file if given.

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

import { MemoryAdapter } from './adapter.mjs';
import { signInPage, signUpPage, logoutPage, errorPage, avatarSvg, escapeHtml } from './pages.mjs';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    'state-dir': { type: 'string', default: '.state/dev-provider' },
    users: { type: 'string', default: new URL('./users.json', import.meta.url).pathname },
    'owner-pid': { type: 'string' },
    'ready-file': { type: 'string' },
  },
});

const stateDir = path.resolve(args['state-dir']);
fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });

// Keys survive restarts, so tokens the app already holds stay verifiable.
function loadSecrets() {
  const file = path.join(stateDir, 'secrets.json');
  if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8'));
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const jwk = privateKey.export({ format: 'jwk' });
  const secrets = {
    signingKey: { ...jwk, kid: crypto.randomBytes(8).toString('hex'), alg: 'ES384', use: 'sig' },
    cookieKeys: [crypto.randomBytes(32).toString('base64url')],
  };
  fs.writeFileSync(file, JSON.stringify(secrets), { mode: 0o600 });
  return secrets;
}

const secrets = loadSecrets();
// The admin API adds users and clients; whoever started us holds its token.
const adminToken = process.env.DEV_PROVIDER_ADMIN_TOKEN;
if (!adminToken || adminToken.length < 32) {
  console.error('DEV_PROVIDER_ADMIN_TOKEN must be set (at least 32 characters)');
  process.exit(2);
}

// Users: those of the users file, plus any the admin API adds.
const users = new Map(); // username -> { username, password, claims, show }
function putUser(username, {
  password, claims = {}, show_on_sign_in_page: show = false, api_scopes: apiScopes = [], organizations = [], ...rest
}) {
  if (!username || typeof password !== 'string' || !password) {
    throw new Error('a user needs a username and a password');
  }
  const sub = claims.sub || crypto.createHash('sha256').update(username).digest('hex').slice(0, 12);
  users.set(username, {
    username, password, show, apiScopes, organizations, claims: { ...claims, sub }, createdAt: Date.now(),
    customData: rest.custom_data, identities: rest.identities,
  });
}

// API resources (RFC 8707), as Logto's: an indicator and the scopes it knows.
const resources = new Map(); // indicator -> { scopes }
// The users file: {"users": [...], "organization_roles": {role: [permission, ...]}}.
const usersFile = JSON.parse(fs.readFileSync(args.users, 'utf8'));
for (const user of usersFile.users ?? []) putUser(user.username, user);
const userBySub = (sub) => [...users.values()].find((user) => user.claims.sub === sub);

const server = http.createServer();
await new Promise((resolve) => server.listen(Number(args.port), args.host, resolve));
const { port } = server.address();
const origin = `http://${args.host}:${port}`;
const issuer = `${origin}/oidc`;

// What each organization role may do (Logto: organization role permissions), from the users file.
const ORGANIZATION_PERMISSIONS = usersFile.organization_roles ?? {};

// Counts per endpoint, so tests can assert how many token requests were made.
const counts = {};
// Artificial delays per path (ms) and outages (HTTP status), so tests can
// watch what a slow or broken provider looks like.
const delays = {};
const failures = {};

const provider = new Provider(issuer, {
  adapter: MemoryAdapter,
  jwks: { keys: [secrets.signingKey] },
  cookies: { keys: secrets.cookieKeys },
  clientDefaults: {
    grant_types: ['authorization_code', 'refresh_token'],
    id_token_signed_response_alg: 'ES384',
    token_endpoint_auth_method: 'client_secret_basic',
  },
  enabledJWA: { idTokenSigningAlgValues: ['ES384', 'ES256', 'RS256'] },
  extraClientMetadata: {
    properties: ['access_token_ttl', 'id_token_ttl', 'refresh_token_ttl'],
    validator(ctx, key, value) {
      if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
        throw new Error(`${key} must be a positive whole number of seconds`);
      }
    },
  },
  ttl: {
    AccessToken: (ctx, token, client) => client?.access_token_ttl ?? 3600,
    IdToken: (ctx, token, client) => client?.id_token_ttl ?? 3600,
    RefreshToken: (ctx, token, client) => client?.refresh_token_ttl ?? 14 * 24 * 3600,
    AuthorizationCode: 60,
    Interaction: 600,
    Session: 14 * 24 * 3600,
    Grant: 14 * 24 * 3600,
  },
  pkce: { required: () => true },
  // Logto's own authorization parameters: which screen first, which connector.
  extraParams: ['first_screen', 'interaction_mode', 'direct_sign_in'],
  // Organization permissions, as Logto's: asked for in `scope` at sign-in.
  scopes: ['openid', 'offline_access', 'custom_data', 'identities', ...new Set(Object.values(ORGANIZATION_PERMISSIONS).flat())],
  claims: {
    openid: ['sub'],
    profile: ['name', 'picture', 'username', 'given_name', 'family_name', 'created_at', 'updated_at'],
    email: ['email', 'email_verified'],
    phone: ['phone_number', 'phone_number_verified'],
    roles: ['roles'],
    custom_data: ['custom_data'],
    identities: ['identities'],
    'urn:logto:scope:organizations': ['organizations'],
    'urn:logto:scope:organization_roles': ['organization_roles'],
  },
  // Logto puts the scopes' claims in the ID token itself.
  conformIdTokenClaims: false,
  rotateRefreshToken: true,
  // Back-channel logout goes to apps on this machine, which the default
  // SSRF guard (rightly) refuses for a public provider.
  fetch: (url, options) => {
    delete options.dispatcher;
    return fetch(url, options);
  },
  features: {
    devInteractions: { enabled: false },
    backchannelLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // As Logto: a token request without `resource` gets a token for userinfo;
      // an API's token is asked for by name (refresh token grant with `resource`).
      defaultResource: async () => undefined,
      useGrantedResource: async () => false,
      getResourceServerInfo: async (ctx, indicator) => {
        const resource = resources.get(indicator);
        if (!resource) throw new errors.InvalidTarget();
        return {
          scope: resource.scopes.join(' '),
          audience: indicator,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES384' } },
        };
      },
    },
    revocation: { enabled: true },
    userinfo: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      // Logto ends the session without asking; the form posts itself.
      logoutSource: async (ctx, form) => {
        ctx.body = logoutPage(form);
      },
      postLogoutSuccessSource: async (ctx) => {
        ctx.body = errorPage('Signed out', 'You have been signed out of the development provider.');
      },
    },
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  renderError: async (ctx, out) => {
    ctx.type = 'html';
    ctx.body = errorPage(out.error, out.error_description);
  },
  findAccount: async (ctx, sub) => {
    const user = userBySub(sub);
    if (!user) return undefined;
    return {
      accountId: sub,
      claims: async (use) => ({
        // Logto gives these at the userinfo endpoint only.
        ...(use === 'userinfo' ? {
          custom_data: user.customData ?? {},
          identities: user.identities ?? {},
        } : {}),
        username: user.username,
        picture: `${origin}/avatar/${encodeURIComponent(user.username)}.svg`,
        // Logto states these in milliseconds.
        created_at: user.createdAt,
        updated_at: user.createdAt,
        organizations: user.organizations.map((org) => org.id),
        organization_roles: user.organizations.flatMap((org) => org.roles.map((role) => `${org.id}:${role}`)),
        ...user.claims,
      }),
    };
  },
});

provider.on('server_error', (ctx, error) => console.error('provider error:', error));
provider.on('backchannel.error', (ctx, error, client) => console.error(`back-channel logout to ${client.clientId} failed:`, error.message));

// --- routes outside the provider -------------------------------------------

async function readBody(req, limit = 1 << 20) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw Object.assign(new Error('body too large'), { status: 413 });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function send(res, status, body, type = 'text/html; charset=utf-8', headers = {}) {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers });
  res.end(body);
}

const sendJson = (res, status, value) => send(res, status, JSON.stringify(value), 'application/json');

// --- organization tokens, as Logto issues them -------------------------------
// A refresh token grant with `organization_id` (not a standard parameter, so
// handled here rather than by oidc-provider): a JWT for
// `urn:logto:organization:<id>` with the permissions of the user's roles there.
// The scope each grant was asked for at sign-in: oidc-provider keeps only the
// scopes it knows in the refresh token, and organization permissions aren't.
const askedScopes = new Map(); // grantId -> Set of scope words
const remember = (grantId, params) => askedScopes.set(grantId, new Set(String(params.scope ?? '').split(' ')));
const b64url = (value) => Buffer.from(value).toString('base64url');

async function organizationToken(req, res, form) {
  const refuse = (status, error) => sendJson(res, status, { error });
  const [scheme, credentials] = String(req.headers.authorization ?? '').split(' ');
  const [clientId, clientSecret] = scheme === 'Basic'
    ? Buffer.from(credentials ?? '', 'base64').toString().split(':').map(decodeURIComponent)
    : [form.get('client_id'), form.get('client_secret')];
  const client = clientId ? await provider.Client.find(clientId) : undefined;
  const given = Buffer.from(String(clientSecret ?? ''));
  const expected = Buffer.from(String(client?.clientSecret ?? ''));
  if (!client || given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) return refuse(401, 'invalid_client');
  const refreshToken = await provider.RefreshToken.find(String(form.get('refresh_token') ?? ''));
  const grant = refreshToken ? await provider.Grant.find(refreshToken.grantId) : undefined;
  // A rotated-out (consumed) refresh token, an ended grant, another client's token: refused.
  if (!refreshToken || !grant || refreshToken.consumed || refreshToken.clientId !== clientId || refreshToken.isExpired) {
    return refuse(400, 'invalid_grant');
  }
  const user = userBySub(refreshToken.accountId);
  const organizationId = form.get('organization_id');
  const membership = user?.organizations.find((org) => org.id === organizationId);
  if (!membership) return refuse(403, 'invalid_target');
  const asked = askedScopes.get(refreshToken.grantId) ?? new Set();
  if (!asked.has('urn:logto:scope:organizations')) return refuse(400, 'invalid_scope');
  const scope = [...new Set(membership.roles.flatMap((role) => ORGANIZATION_PERMISSIONS[role] ?? []))]
    .filter((permission) => asked.has(permission)).join(' ');
  const now = Math.floor(Date.now() / 1000);
  const ttl = client.access_token_ttl ?? 3600;
  const header = { alg: 'ES384', typ: 'at+jwt', kid: secrets.signingKey.kid };
  const claims = {
    iss: issuer, sub: refreshToken.accountId, aud: `urn:logto:organization:${organizationId}`,
    client_id: clientId, organization_id: organizationId, scope, iat: now, exp: now + ttl, jti: crypto.randomUUID(),
  };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const key = crypto.createPrivateKey({ key: secrets.signingKey, format: 'jwk' });
  const signature = crypto.sign('sha384', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return sendJson(res, 200, {
    access_token: `${input}.${signature.toString('base64url')}`, token_type: 'Bearer', expires_in: ttl, scope,
  });
}

// Grants everything the client asked for, as Logto does for its own apps.
// The resource scopes asked for that this user holds (Logto: from the user's roles).
function grantApiScopes(grant, params, user) {
  const asked = new Set(String(params.scope ?? '').split(' '));
  const indicators = [params.resource ?? []].flat().filter(Boolean);
  for (const indicator of indicators) {
    const resource = resources.get(indicator);
    if (!resource) continue;
    const wanted = resource.scopes.filter((scope) => asked.has(scope));
    const allowed = wanted.filter((scope) => user?.apiScopes?.includes(scope));
    const refused = wanted.filter((scope) => !allowed.includes(scope));
    if (allowed.length) grant.addResourceScope(indicator, allowed.join(' '));
    // Refused, not left open: otherwise the provider would ask for consent again.
    if (refused.length) grant.rejectResourceScope(indicator, refused.join(' '));
  }
}

async function grantRequested(details, accountId) {
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId, clientId: details.params.client_id });
  grant.addOIDCScope(String(details.params.scope ?? 'openid'));
  const missing = details.prompt.details ?? {};
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  grantApiScopes(grant, details.params, userBySub(accountId));
  const grantId = await grant.save();
  remember(grantId, details.params);
  return grantId;
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, errorPage('invalid_request', 'Interaction mismatch.'));
  const client = await provider.Client.find(String(details.params.client_id));
  const clientName = client?.clientName || client?.clientId || 'the application';

  if (details.prompt.name === 'consent') {
    const grantId = await grantRequested(details, details.session.accountId);
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }

  const demo = [...users.values()].filter((user) => user.show);
  const params = details.params;
  const signUp = params.first_screen === 'identifier:register' || params.interaction_mode === 'signUp';
  if (req.method !== 'POST' || !['login', 'register'].includes(action)) {
    if (signUp) return send(res, 200, signUpPage({ uid, clientName }));
    return send(res, 200, signInPage({ uid, clientName, demo, username: String(params.login_hint ?? '') }));
  }
  if (action === 'register') return register(req, res, details, { uid, clientName });

  const form = new URLSearchParams(await readBody(req));
  const username = form.get('username') ?? '';
  const user = users.get(username);
  const given = Buffer.from(form.get('password') ?? '');
  const expected = Buffer.from(user?.password ?? '');
  if (!user || given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) {
    return send(res, 200, signInPage({ uid, clientName, demo, username, error: 'Wrong username or password.' }));
  }
  // Sign in and consent in one step: one redirect fewer, as Logto's own flow.
  const accountId = user.claims.sub;
  const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
  grant.addOIDCScope(String(details.params.scope ?? 'openid'));
  grantApiScopes(grant, details.params, user);
  const grantId = await grant.save();
  remember(grantId, details.params);
  return provider.interactionFinished(
    req,
    res,
    { login: { accountId }, consent: { grantId } },
    { mergeWithLastSubmission: false },
  );
}

async function register(req, res, details, page) {
  const form = new URLSearchParams(await readBody(req));
  const username = (form.get('username') ?? '').trim();
  const password = form.get('password') ?? '';
  if (!/^[A-Za-z0-9_.-]{2,32}$/.test(username) || password.length < 8) {
    return send(res, 200, signUpPage({ ...page, username, error: 'Choose a username (letters, digits, . _ -) and a password of 8 or more characters.' }));
  }
  if (users.has(username)) return send(res, 200, signUpPage({ ...page, username, error: 'That username is taken.' }));
  const name = (form.get('name') ?? '').trim() || username;
  const email = (form.get('email') ?? '').trim();
  putUser(username, { password, claims: { name, ...(email ? { email, email_verified: false } : {}) } });
  const accountId = users.get(username).claims.sub;
  const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
  grant.addOIDCScope(String(details.params.scope ?? 'openid'));
  grantApiScopes(grant, details.params, users.get(username));
  const grantId = await grant.save();
  remember(grantId, details.params);
  return provider.interactionFinished(req, res, { login: { accountId }, consent: { grantId } }, { mergeWithLastSubmission: false });
}

function authorized(req) {
  const given = Buffer.from(req.headers.authorization ?? '');
  const expected = Buffer.from(`Bearer ${adminToken}`);
  return given.length === expected.length && crypto.timingSafeEqual(given, expected);
}

async function admin(req, res, route) {
  if (!authorized(req)) return sendJson(res, 401, { error: 'admin token required' });
  const [kind, id] = route;
  if (req.method === 'GET' && kind === 'counts') return sendJson(res, 200, counts);
  if (req.method === 'PUT' && (kind === 'delays' || kind === 'failures')) {
    const table = kind === 'delays' ? delays : failures;
    const wanted = JSON.parse(await readBody(req));
    for (const key of Object.keys(table)) delete table[key];
    Object.assign(table, wanted);
    return sendJson(res, 200, table);
  }
  if (req.method === 'PUT' && kind === 'clients' && id) {
    const metadata = { ...JSON.parse(await readBody(req)), client_id: id };
    await provider.Client.validate(metadata);
    await new MemoryAdapter('Client').upsert(id, metadata);
    return sendJson(res, 200, { client_id: id });
  }
  if (req.method === 'PUT' && kind === 'resources' && id) {
    const { scopes = [] } = JSON.parse(await readBody(req));
    resources.set(decodeURIComponent(id), { scopes });
    return sendJson(res, 200, { resource: decodeURIComponent(id), scopes });
  }
  if (req.method === 'PUT' && kind === 'users' && id) {
    putUser(id, JSON.parse(await readBody(req)));
    return sendJson(res, 200, { username: id, sub: users.get(id).claims.sub });
  }
  return sendJson(res, 404, { error: 'no such admin route' });
}

const providerCallback = provider.callback();

server.on('request', async (req, res) => {
  const url = new URL(req.url, origin);
  const route = url.pathname.split('/').filter(Boolean);
  counts[url.pathname] = (counts[url.pathname] ?? 0) + 1;
  if (delays[url.pathname]) await new Promise((resolve) => setTimeout(resolve, delays[url.pathname]));
  if (failures[url.pathname]) return send(res, failures[url.pathname], 'temporarily unavailable', 'text/plain');
  try {
    if (url.pathname === '/oidc/token' && req.method === 'POST') {
      const body = await readBody(req);
      const form = new URLSearchParams(body);
      if (form.get('grant_type') === 'refresh_token' && form.has('organization_id')) {
        return await organizationToken(req, res, form);
      }
      // Already read: oidc-provider takes a parsed body when the stream is spent.
      req.body = {};
      for (const [key, value] of form) {
        req.body[key] = key in req.body ? [req.body[key], value].flat() : value;  // repeated `resource` stays a list
      }
    }
    if (route[0] === 'oidc') {
      // Mounted under /oidc, as Logto's issuer is <endpoint>/oidc.
      req.originalUrl = req.url;
      req.url = req.url.slice('/oidc'.length) || '/';
      return providerCallback(req, res);
    }
    if (route[0] === 'interaction' && route[1]) return await interaction(req, res, route[1], route[2]);
    if (route[0] === '_dev') return await admin(req, res, route.slice(1));
    if (route[0] === 'avatar' && route[1]) {
      return send(res, 200, avatarSvg(decodeURIComponent(route[1].replace(/\.svg$/, ''))), 'image/svg+xml');
    }
    if (url.pathname === '/') {
      return send(res, 200, errorPage('Development provider', `Issuer: ${escapeHtml(issuer)}`));
    }
    return send(res, 404, errorPage('Not found', 'There is nothing here.'));
  } catch (error) {
    const status = error.status ?? (error.name === 'SessionNotFound' ? 400 : 500);
    if (status >= 500) console.error(error);
    return send(res, status, errorPage(error.error ?? 'error', error.error_description ?? error.message));
  }
});

// Stop with the process that started us, so no provider outlives its app.
if (args['owner-pid']) {
  const owner = Number(args['owner-pid']);
  setInterval(() => {
    try {
      process.kill(owner, 0);
    } catch {
      process.exit(0);
    }
  }, 1000).unref();
}
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));

const ready = JSON.stringify({ issuer, origin, port });
if (args['ready-file']) {
  // Written whole, then renamed, so a reader never sees half a line.
  fs.writeFileSync(`${args['ready-file']}.tmp`, ready);
  fs.renameSync(`${args['ready-file']}.tmp`, args['ready-file']);
}
console.log(ready);
