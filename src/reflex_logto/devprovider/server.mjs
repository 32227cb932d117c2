// The development OpenID provider: panva's oidc-provider, set up to look like
// Logto to a client (issuer <origin>/oidc, ES384-signed ID tokens with profile
// claims, refresh tokens for offline_access with prompt=consent, Logto's
// refresh token rotation and organization tokens, Logto's error bodies,
// RP-initiated logout without a confirmation page), plus a sign-in page that
// shows the sample users' credentials and a small admin API for tests.
// README.md beside this file lists what still differs from Logto.
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
// The refresh token grant below is a copy of oidc-provider's own with Logto's
// changes (as Logto's packages/core/src/oidc/grants/refresh-token.ts is), so it
// uses the same internals; package-lock.json pins the version they come from.
import difference from 'oidc-provider/lib/helpers/_/difference.js';
import certificateThumbprint from 'oidc-provider/lib/helpers/certificate_thumbprint.js';
import { checkAttestBinding } from 'oidc-provider/lib/helpers/check_attest_binding.js';
import { boolean, resourceServer as validateResourceServer } from 'oidc-provider/lib/helpers/configuration_result.js';
import { pluralize } from 'oidc-provider/lib/helpers/formatters.js';
import {
  applyMtlsBinding, checkAccountMismatch, createAccessToken, issueIdToken, validateAccount,
} from 'oidc-provider/lib/helpers/grant_common.js';
import * as grantHelpers from 'oidc-provider/lib/helpers/grants.js';
import resolveResource from 'oidc-provider/lib/helpers/resolve_resource.js';
import revoke from 'oidc-provider/lib/helpers/revoke.js';
import presence from 'oidc-provider/lib/helpers/validate_presence.js';
import instance from 'oidc-provider/lib/helpers/weak_cache.js';

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
// Logto's names (@logto/core-kit): the scope that asks for organizations, the
// resource an authorization request names to be granted organization
// permissions, and the audience prefix of an organization token.
const ORGANIZATIONS_SCOPE = 'urn:logto:scope:organizations';
const ORGANIZATIONS_RESOURCE = 'urn:logto:resource:organizations';
const organizationAudience = (id) => `urn:logto:organization:${id}`;
// Logto's tenant-wide organization scopes: every permission some role has.
const allOrganizationPermissions = () => [...new Set(Object.values(ORGANIZATION_PERMISSIONS).flat())];
// Logto's token lifetimes (packages/core/src/oidc/init.ts, resource.ts; @logto/schemas customClientMetadataDefault).
const HOUR = 3600;
const DAY = 24 * HOUR;

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
    // Lifetimes in seconds (Logto: idTokenTtl, refreshTokenTtl(InDays)); rotate_refresh_token
    // is Logto's rotateRefreshToken (false: a refresh token is never rotated).
    properties: ['access_token_ttl', 'id_token_ttl', 'refresh_token_ttl', 'rotate_refresh_token'],
    validator(ctx, key, value) {
      if (value === undefined) return;
      if (key === 'rotate_refresh_token') {
        if (typeof value !== 'boolean') throw new Error(`${key} must be true or false`);
      } else if (!(Number.isInteger(value) && value > 0)) {
        throw new Error(`${key} must be a positive whole number of seconds`);
      }
    },
  },
  ttl: {
    // Logto: 1 hour, or an API resource's accessTokenTtl; here a client may shorten it for tests.
    AccessToken: (ctx, token, client) => client?.access_token_ttl ?? HOUR,
    IdToken: (ctx, token, client) => client?.id_token_ttl ?? HOUR,
    // Logto (init.ts, defaults.ts): a public SPA's rotated refresh token keeps what was left of
    // the old one's life; any other refresh token lives the client's TTL (14 days by default).
    RefreshToken: (ctx, token, client) => {
      if (
        ctx?.oidc?.entities.RotatedRefreshToken && client.applicationType === 'web'
        && client.clientAuthMethod === 'none' && !token.isSenderConstrained()
      ) {
        return ctx.oidc.entities.RotatedRefreshToken.remainingTTL;
      }
      return client?.refresh_token_ttl ?? 14 * DAY;
    },
    AuthorizationCode: 60,
    Interaction: HOUR,
    Session: 14 * DAY,
    // Logto: the longest a refresh token may be allowed to live.
    Grant: 180 * DAY,
  },
  pkce: { required: () => true },
  // Logto's own authorization parameters: which screen first, which connector.
  extraParams: ['first_screen', 'interaction_mode', 'direct_sign_in'],
  // Organization permissions are not OIDC scopes, as at Logto: a request that names no
  // resource loses them (oidc-provider keeps only these); they are the scopes of the
  // resource urn:logto:resource:organizations.
  scopes: ['openid', 'offline_access', 'custom_data', 'identities'],
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
  // Logto's policy (init.ts, defaults.ts): never when the client says so; else not after a
  // year of rotations; always for a public client's token that is not sender-constrained;
  // otherwise only once the token is 70% through its life. A confidential client (the app)
  // thus keeps the same refresh token for most of its life.
  rotateRefreshToken: (ctx) => {
    const { RefreshToken: refreshToken, Client: client } = ctx.oidc.entities;
    if (!refreshToken || !client || client.metadata().rotate_refresh_token === false) return false;
    if (refreshToken.totalLifetime() >= 365.25 * DAY) return false;
    if (client.clientAuthMethod === 'none' && !refreshToken.isSenderConstrained()) return true;
    return refreshToken.ttlPercentagePassed() >= 70;
  },
  // Logto (extra-token-claims.ts): an API resource's token asked for with `organization_id`
  // carries that organization in an `organization_id` claim; an organization token does not.
  extraTokenClaims: (ctx, token) => {
    const { organization_id: organizationId, resource } = ctx.oidc.params ?? {};
    if (!organizationId || !resource || !(token instanceof ctx.oidc.provider.AccessToken)) return undefined;
    return { organization_id: organizationId };
  },
  // Back-channel logout goes to apps on this machine, which the default
  // SSRF guard (rightly) refuses for a public provider.
  fetch: (url, options) => {
    delete options.dispatcher;
    return fetch(url, options);
  },
  features: {
    devInteractions: { enabled: false },
    // Logto turns off DPoP, which oidc-provider 9 turns on by default.
    dPoP: { enabled: false },
    backchannelLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // As Logto: a token request without `resource` gets a token for userinfo;
      // an API's token is asked for by name (refresh token grant with `resource`).
      defaultResource: async () => undefined,
      useGrantedResource: async () => false,
      getResourceServerInfo: async (ctx, indicator) => {
        // Logto's reserved resource: its scopes are all the organization permissions.
        const resource = indicator === ORGANIZATIONS_RESOURCE
          ? { scopes: allOrganizationPermissions() }
          : resources.get(indicator);
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

// --- the refresh token grant, as Logto's -------------------------------------
// Logto replaces oidc-provider's refresh token grant with a copy that also
// issues organization tokens (its RFC 0001; packages/core/src/oidc/grants/
// refresh-token.ts and grants/utils.ts). This is the same: oidc-provider's
// grant, with Logto's parts marked "Logto". With `organization_id` and no
// `resource` it issues a JWT for urn:logto:organization:<id> with the
// permissions the user's roles there give, among the grant's scopes; with
// `organization_id` and `resource`, the API's token with an `organization_id`
// claim (extraTokenClaims above).
const boundGrantHelpers = Object.fromEntries(
  Object.entries(grantHelpers).map(([name, helper]) => [name, helper.bind(undefined, provider)]),
);

function accessDenied(description) {
  const error = new errors.AccessDenied(description);
  error.status = 403; // Logto answers its organization checks with 403
  error.statusCode = 403;
  return error;
}

async function refreshTokenGrant(ctx) {
  const {
    checkDpopReplay, checkDpopRequired, validateDpop, validateGrant, applyAuthorizationDetails, buildTokenResponse,
  } = boundGrantHelpers;
  const { InvalidGrant, InvalidScope, InsufficientScope } = errors;
  const gty = 'refresh_token';

  presence(ctx, 'refresh_token');

  const {
    rotateRefreshToken,
    features: { userinfo, mTLS: { getCertificate }, resourceIndicators },
  } = instance(provider).configuration;
  const { RefreshToken } = provider;
  const { client, params } = ctx.oidc;

  const dPoP = await validateDpop(ctx);

  let refreshTokenValue = params.refresh_token;
  let refreshToken = await RefreshToken.find(refreshTokenValue, { ignoreExpiration: true });
  if (!refreshToken) throw new InvalidGrant('refresh token not found');
  if (refreshToken.clientId !== client.clientId) throw new InvalidGrant('client mismatch');
  if (refreshToken.isExpired) throw new InvalidGrant('refresh token is expired');

  let cert;
  if (client.tlsClientCertificateBoundAccessTokens || refreshToken['x5t#S256']) {
    cert = getCertificate(ctx);
    if (!cert) throw new InvalidGrant('mutual TLS client certificate not provided');
  }
  checkDpopRequired(ctx, dPoP);
  if (refreshToken['x5t#S256'] && refreshToken['x5t#S256'] !== certificateThumbprint(cert)) {
    throw new InvalidGrant('failed x5t#S256 verification');
  }
  // Logto: refused before the grant is looked up.
  if (!refreshToken.grantId) throw new InvalidGrant('grantId not found');

  const grant = await validateGrant(ctx, refreshToken.grantId);

  // A `scope` may only narrow the refresh token's: what the authorization request lost
  // (organization permissions without urn:logto:resource:organizations) is refused here,
  // before any organization check.
  if (params.scope) {
    const missing = difference([...ctx.oidc.requestParamScopes], [...refreshToken.scopes]);
    if (missing.length !== 0) {
      throw new InvalidScope(`refresh token missing requested ${pluralize('scope', missing.length)}`, missing.join(' '));
    }
  }

  await checkDpopReplay(ctx, dPoP, client.clientId, InvalidGrant);
  if (refreshToken.jkt && (!dPoP || refreshToken.jkt !== dPoP.thumbprint)) {
    throw new InvalidGrant('failed jkt verification');
  }
  if (['attest_jwt_client_auth', 'attest_jwt_client_auth_dpop'].includes(client.clientAuthMethod)) {
    await checkAttestBinding(ctx, refreshToken);
  }

  ctx.oidc.entity('RefreshToken', refreshToken);
  ctx.oidc.entity('Grant', grant);

  const account = await validateAccount(provider, ctx, refreshToken, 'refresh token');
  checkAccountMismatch(refreshToken, grant);
  ctx.oidc.entity('Account', account);

  if (refreshToken.consumed) {
    await Promise.all([refreshToken.destroy(), revoke(ctx, refreshToken.grantId)]);
    throw new InvalidGrant('refresh token already used');
  }

  // === Logto: organization access (grants/utils.ts checkOrganizationAccess) ===
  // A first-party app is granted every organization the user is a member of.
  const organizationId = params.organization_id ? String(params.organization_id) : undefined;
  let membership;
  if (organizationId) {
    membership = userBySub(account.accountId)?.organizations.find((org) => org.id === organizationId);
    if (!membership) throw accessDenied('user is not a member of the organization');
    if (!refreshToken.scopes.has(ORGANIZATIONS_SCOPE)) {
      throw new InsufficientScope('refresh token missing required scope', ORGANIZATIONS_SCOPE);
    }
  }
  // === end Logto ===

  if (
    rotateRefreshToken === true
    || (typeof rotateRefreshToken === 'function' && boolean(await rotateRefreshToken(ctx), 'rotateRefreshToken'))
  ) {
    await refreshToken.consume();
    ctx.oidc.entity('RotatedRefreshToken', refreshToken);
    refreshToken = new RefreshToken({
      accountId: refreshToken.accountId,
      acr: refreshToken.acr,
      amr: refreshToken.amr,
      authTime: refreshToken.authTime,
      claims: refreshToken.claims,
      client,
      expiresWithSession: refreshToken.expiresWithSession,
      iiat: refreshToken.iiat,
      grantId: refreshToken.grantId,
      gty: refreshToken.gty,
      nonce: refreshToken.nonce,
      resource: refreshToken.resource,
      rotations: typeof refreshToken.rotations === 'number' ? refreshToken.rotations + 1 : 1,
      scope: refreshToken.scope,
      sessionUid: refreshToken.sessionUid,
      sid: refreshToken.sid,
      rar: refreshToken.rar,
      'x5t#S256': refreshToken['x5t#S256'],
      jkt: refreshToken.jkt,
      attestationJkt: refreshToken.attestationJkt,
    });
    if (refreshToken.gty && !refreshToken.gty.endsWith(gty)) refreshToken.gty = `${refreshToken.gty} ${gty}`;
    ctx.oidc.entity('RefreshToken', refreshToken);
    refreshTokenValue = await refreshToken.save();
  }

  const at = createAccessToken(provider, ctx, {
    accountId: account.accountId,
    expiresWithSession: refreshToken.expiresWithSession,
    grantId: refreshToken.grantId,
    sessionUid: refreshToken.sessionUid,
    sid: refreshToken.sid,
  }, refreshToken.gty);
  applyMtlsBinding(at, cert);
  if (dPoP) at.setThumbprint('jkt', dPoP.thumbprint);
  if (at.gty && !at.gty.endsWith(gty)) at.gty = `${at.gty} ${gty}`;

  // The scopes asked for; without `scope`, the refresh token's.
  const scope = params.scope ? ctx.oidc.requestParamScopes : refreshToken.scopes;

  if (organizationId && !params.resource) {
    // === Logto: the organization token (grants/utils.ts handleOrganizationToken) ===
    const available = [...new Set(membership.roles.flatMap((role) => ORGANIZATION_PERMISSIONS[role] ?? []))];
    const audience = organizationAudience(organizationId);
    at.resourceServer = new provider.ResourceServer(audience, {
      audience,
      scope: available.join(' '),
      accessTokenFormat: 'jwt',
      accessTokenTTL: HOUR,
      jwt: { sign: { alg: 'ES384' } },
    });
    at.scope = available.filter((name) => scope.has(name)).join(' ');
    // === end Logto ===
  } else {
    const resource = await resolveResource(ctx, refreshToken, { userinfo, resourceIndicators }, scope);
    if (resource) {
      const resourceServerInfo = validateResourceServer(
        await resourceIndicators.getResourceServerInfo(ctx, resource, client),
      );
      at.resourceServer = new provider.ResourceServer(resource, resourceServerInfo);
      at.scope = grant.getResourceScopeFiltered(
        resource,
        [...scope].filter(Set.prototype.has.bind(at.resourceServer.scopes)),
      );
    } else {
      at.claims = refreshToken.claims;
      at.scope = grant.getOIDCScopeFiltered(scope);
    }
  }

  await applyAuthorizationDetails(ctx, at, refreshToken);
  ctx.oidc.entity('AccessToken', at);
  const accessToken = await at.save();

  // An ID token whenever the scopes used (asked for, or the refresh token's) hold `openid`:
  // on a plain refresh, and on one for an API or an organization that asks for no `scope`.
  const idToken = await issueIdToken(provider, ctx, refreshToken, at, grant, scope);

  ctx.body = buildTokenResponse({
    accessToken,
    authorizationDetails: at.rar,
    expiresIn: at.expiration,
    idToken,
    refreshToken: refreshTokenValue,
    scope: refreshToken.scope ? at.scope : (at.scope || undefined),
    tokenType: at.tokenType,
  });
}

provider.registerGrantType(
  'refresh_token', refreshTokenGrant, ['refresh_token', 'scope', 'organization_id', 'resource'], ['resource'],
);

// --- error bodies, as Logto's ------------------------------------------------
// Logto's koaOidcErrorHandler (packages/core/src/middleware/koa-oidc-error-handler.ts)
// adds `code`, `message` (its English phrases, placeholders and all) and, for
// invalid_grant, `error_uri` to every JSON error; `?parse_error=false` keeps the plain body.
const ERROR_MESSAGES = {
  'oidc.aborted': 'The end-user aborted interaction.',
  'oidc.invalid_scope': 'Invalid scope: {{error_description}}.',
  'oidc.invalid_token': 'Invalid token provided.',
  'oidc.invalid_client_metadata': 'Invalid client metadata provided.',
  'oidc.insufficient_scope': 'Token missing scope `{{scope}}`.',
  'oidc.invalid_request': 'Request is invalid.',
  'oidc.invalid_grant': 'Grant request is invalid.',
  'oidc.invalid_issuer': 'Invalid issuer.',
  'oidc.invalid_redirect_uri': "`redirect_uri` did not match any of the client's registered `redirect_uris`.",
  'oidc.access_denied': 'Access denied.',
  'oidc.invalid_target': 'Invalid resource indicator.',
  'oidc.unsupported_grant_type': 'Unsupported `grant_type` requested.',
  'oidc.unsupported_response_mode': 'Unsupported `response_mode` requested.',
  'oidc.unsupported_response_type': 'Unsupported `response_type` requested.',
  'oidc.server_error': 'An unknown OIDC error occurred. Please try again later.',
  'session.not_found': 'Session not found. Please go back and sign in again.',
};
const ERROR_URIS = { invalid_grant: 'https://openid.sh/debug/invalid_grant' };

provider.use(async (ctx, next) => {
  await next();
  const body = ctx.body;
  if (ctx.status < 400 || !body || typeof body !== 'object' || Buffer.isBuffer(body) || typeof body.pipe === 'function') return;
  if (typeof body.error !== 'string' || ctx.query.parse_error === 'false') return;
  const description = typeof body.error_description === 'string' ? body.error_description : '';
  const sessionNotFound = (description.includes('session') && description.includes('not found'))
    || description.includes('authorization request has expired');
  const code = sessionNotFound ? 'session.not_found' : `oidc.${body.error}`;
  ctx.body = {
    code,
    message: ERROR_MESSAGES[code] ?? `An OIDC error occurred: ${code}.`,
    ...(ERROR_URIS[body.error] ? { error_uri: ERROR_URIS[body.error] } : {}),
    ...body,
  };
});

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

// The OIDC scopes among those asked for (Logto's consent adds only these to the grant's
// OIDC scope; API and organization permissions go to their resources).
function oidcScopes(scope) {
  const known = instance(provider).configuration.scopes;
  return String(scope ?? 'openid').split(' ').filter((word) => known.has(word)).join(' ') || 'openid';
}

// Grants everything the client asked for, as Logto does for its own apps.
// The resource scopes asked for that this user holds (Logto: from the user's roles).
function grantApiScopes(grant, params, user) {
  const asked = new Set(String(params.scope ?? '').split(' '));
  const indicators = [params.resource ?? []].flat().filter(Boolean);
  for (const indicator of indicators) {
    if (indicator === ORGANIZATIONS_RESOURCE) {
      // Logto grants every organization permission asked for here; an organization token
      // then holds those of them the user's roles in that organization give.
      const wanted = allOrganizationPermissions().filter((scope) => asked.has(scope));
      if (wanted.length) grant.addResourceScope(indicator, wanted.join(' '));
      continue;
    }
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
  grant.addOIDCScope(oidcScopes(details.params.scope));
  const missing = details.prompt.details ?? {};
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  grantApiScopes(grant, details.params, userBySub(accountId));
  return grant.save();
}

// Logto's first screen (oidc/utils.ts buildLoginPromptUrl): `first_screen`, else the older
// `interaction_mode`; a value Logto doesn't know voids them all (its guard fails) and the
// sign-in screen opens. Both register screens open this provider's one sign-up page;
// Logto's others (reset password, single sign-on) open the sign-in page here.
const FIRST_SCREENS = new Set(['sign_in', 'register', 'reset_password', 'identifier:sign_in', 'identifier:register', 'single_sign_on', 'signIn']);
const INTERACTION_MODES = new Set(['signIn', 'signUp']);
function opensOnSignUp({ first_screen: firstScreen, interaction_mode: mode }) {
  if (firstScreen !== undefined && !FIRST_SCREENS.has(firstScreen)) return false;
  if (mode !== undefined && !INTERACTION_MODES.has(mode)) return false;
  return ['register', 'identifier:register', 'signUp'].includes(firstScreen ?? mode);
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
  const signUp = opensOnSignUp(params);
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
  grant.addOIDCScope(oidcScopes(details.params.scope));
  grantApiScopes(grant, details.params, user);
  const grantId = await grant.save();
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
  grant.addOIDCScope(oidcScopes(details.params.scope));
  grantApiScopes(grant, details.params, users.get(username));
  const grantId = await grant.save();
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
