// Loopback OIDC issuer for tmi-auth integration tests (see README.md).
// stdout carries exactly one line, `LISTENING <port>`; everything else goes to stderr.
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

// oidc-provider prints notices with console.info; keep stdout for the port line only.
console.log = console.info = console.error;
const { default: Provider } = await import('oidc-provider');

const { CLIENT_ID, CLIENT_SECRET, REDIRECT_URI } = process.env;
if (!CLIENT_ID || !CLIENT_SECRET || !REDIRECT_URI) {
  console.error('CLIENT_ID, CLIENT_SECRET and REDIRECT_URI must be set');
  process.exit(2);
}

// Real signing key (published in the JWKS) and an unrelated key for `bad_signature`.
const kid = `fixture-${randomUUID()}`;
const real = await generateKeyPair('RS256', { extractable: true });
const rogue = await generateKeyPair('RS256', { extractable: true });
// A key the issuer starts publishing (and signing with) at `rotated_key`: tests JWKS refresh.
const nextKid = `fixture-next-${randomUUID()}`;
const next = await generateKeyPair('RS256', { extractable: true });
const nextPublicJwk = { ...(await exportJWK(next.publicKey)), kid: nextKid, alg: 'RS256', use: 'sig' };
let rotated = false;
const privateJwk = { ...(await exportJWK(real.privateKey)), kid, alg: 'RS256', use: 'sig' };

const MODES = new Set(['none', 'wrong_nonce', 'wrong_aud', 'expired', 'wrong_iss',
  'bad_signature', 'no_id_token', 'wrong_azp', 'rotated_key', 'unknown_kid', 'string_claims',
  'hs256']);
let mode = 'none'; // one-shot: applied to the next successful token response, then reset

async function tamper(idToken, m) {
  const claims = JSON.parse(Buffer.from(idToken.split('.')[1], 'base64url').toString('utf8'));
  const now = Math.floor(Date.now() / 1000);
  let key = real.privateKey;
  let signingKid = kid;
  switch (m) {
    case 'wrong_nonce': claims.nonce = 'tampered-nonce'; break;
    case 'wrong_aud': claims.aud = 'someone-else'; break;
    case 'expired': claims.iat = now - 7200; claims.exp = now - 3600; break;
    case 'wrong_iss': claims.iss = 'http://evil.example'; break;
    case 'bad_signature': key = rogue.privateKey; break;
    case 'wrong_azp': claims.aud = [CLIENT_ID, 'other']; claims.azp = 'other'; break;
    case 'rotated_key': rotated = true; key = next.privateKey; signingKid = nextKid; break;
    case 'unknown_kid': key = rogue.privateKey; signingKid = `unpublished-${randomUUID()}`; break;
    // As AWS Cognito sends them: booleans as strings, and a date as an RFC 3339 string.
    case 'string_claims':
      claims.email_verified = String(claims.email_verified);
      claims.updated_at = new Date(now * 1000).toISOString();
      break;
    // MACed with the client secret, which discovery allows (HS256 is listed).
    case 'hs256':
      return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .sign(new TextEncoder().encode(CLIENT_SECRET));
    default: throw new Error(`unhandled mode ${m}`);
  }
  return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: signingKid, typ: 'JWT' }).sign(key);
}

const claimsOf = (id) => ({
  sub: id,
  email: `${id}@example.test`,
  email_verified: !id.startsWith('unverified'),
  name: `${id.charAt(0).toUpperCase()}${id.slice(1)} Example`,
  groups: ['oidc-devs', 'oidc-all'],
});

const server = http.createServer();
// Tests use the defaults. The compose smoke test (deploy/smoke) runs the fixture in place of
// Keycloak: LISTEN=0.0.0.0:8081 and ISSUER_HOST=localhost.
const [listenHost, listenPort] = (process.env.LISTEN ?? '127.0.0.1:0').split(':');
await new Promise((resolve) => server.listen(Number(listenPort), listenHost, resolve));
const { port } = server.address();
const issuerHost = process.env.ISSUER_HOST ?? '127.0.0.1';

const provider = new Provider(`http://${issuerHost}:${port}`, {
  clients: [{
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    redirect_uris: [REDIRECT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [privateJwk] },
  cookies: { keys: ['tmi-fixture-cookie-key-1', 'tmi-fixture-cookie-key-2'] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'groups'],
  },
  conformIdTokenClaims: false, // scope claims go into the ID token too, not only userinfo
  features: { devInteractions: { enabled: false } },
  // HS256 listed, as many providers do: tmi-auth must still refuse HS256 ID tokens by default.
  enabledJWA: { idTokenSigningAlgValues: ['RS256', 'HS256'] },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  findAccount: (ctx, id) => ({ accountId: id, claims: () => claimsOf(id) }),
});
provider.on('server_error', (ctx, err) => console.error('server_error', err));
provider.on('grant.error', (ctx, err) => console.error('grant.error', err.message));

// One-shot ID token tampering on the token endpoint (ctx.body is a plain object here).
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === '/token' && ctx.status === 200 && mode !== 'none') {
    const m = mode;
    mode = 'none';
    const body = { ...ctx.body };
    if (m === 'no_id_token') delete body.id_token;
    else if (body.id_token) body.id_token = await tamper(body.id_token, m);
    ctx.body = body;
  }
  if (ctx.path === '/jwks' && ctx.status === 200 && rotated) {
    ctx.body = { keys: [...ctx.body.keys, nextPublicJwk] };
  }
});

// Auto-completing interaction: log in as login_hint (or alice), consent to everything asked.
async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session, grantId } = details;
  let result;
  if (prompt.name === 'login') {
    result = { login: { accountId: params.login_hint || 'alice' } };
  } else if (prompt.name === 'consent') {
    const grant = grantId
      ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const d = prompt.details;
    if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
    if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(d.missingResourceScopes || {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    result = { consent: { grantId: await grant.save() } };
  } else {
    throw new Error(`unsupported prompt ${prompt.name}`);
  }
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

async function setMode(req, res) {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  let next;
  try { next = JSON.parse(raw).mode; } catch { next = undefined; }
  if (!MODES.has(next)) {
    res.writeHead(400, { 'content-type': 'text/plain' }).end(`unknown mode ${next}\n`);
    return;
  }
  mode = next;
  res.writeHead(204).end();
}

const callback = provider.callback();
server.on('request', (req, res) => {
  const { pathname } = new URL(req.url, 'http://fixture');
  let handler;
  if (req.method === 'GET' && /^\/interaction\/[^/]+$/.test(pathname)) handler = interaction;
  else if (req.method === 'POST' && pathname === '/__test/mode') handler = setMode;
  else return callback(req, res);
  handler(req, res).catch((err) => {
    console.error(`${req.method} ${pathname} failed:`, err);
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(`${err.message}\n`);
  });
});

process.stdout.write(`LISTENING ${port}\n`);
const exit = () => process.exit(0);
process.on('SIGTERM', exit);
process.on('SIGINT', exit);
// Exit when the parent goes away (stdin must be a pipe the parent keeps open).
process.stdin.on('end', exit);
process.stdin.resume();
