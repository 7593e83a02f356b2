// Node oidc-provider (OpenID Certified OP) on 127.0.0.1 for jsm-sso-oidc's interop tests.
//
//   node provider.mjs PORT
//
// Issuer http://127.0.0.1:PORT. Three confidential clients (client_secret_basic, secret
// "jsm-secret", redirect URI http://127.0.0.1:1/callback, which is never called: the test reads
// the Location header), one per ID token algorithm:
//   jsm-rs256 (RS256), jsm-es256 (ES256), jsm-eddsa (EdDSA)
// A fourth client for the portal gateway's browser test (examples/portal-gateway/tests/
// browser.rs): `jsm-gateway`, same secret, RS256, redirect URI
// http://127.0.0.1/oidc/callback/oidc-provider (the gateway's BASE/oidc/callback/{idp}). It is
// a `native` client so that, as RFC 8252 section 7.3 asks for loopback redirects, any port
// matches: the test's gateway listens on a port picked at run time.
// PKCE required, devInteractions login/consent pages (any password), accounts alice
// (verified email, groups) and bob (unverified email), a `groups` scope and claim.
//
// Key rotation without restarting the server: `POST /__test/rotate` puts a fresh key per
// algorithm with a new kid first in the JWKS (the OP signs with it), keeping the old ones
// published, and answers with the new kids. The OP's in-memory state survives (the memory
// adapter is process-wide).
import { createServer } from 'node:http';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.argv[2] || process.env.PORT || 0);
const issuer = `http://127.0.0.1:${port}`;

const accounts = {
  alice: {
    email: 'alice@example.com', email_verified: true, name: 'Alice Example', groups: ['customers', 'gold'],
  },
  bob: {
    email: 'bob@example.com', email_verified: false, name: 'Bob Example', groups: ['customers'],
  },
};

function key(alg, generation) {
  const kid = `${alg.toLowerCase()}-${generation}-${randomUUID().slice(0, 8)}`;
  let pair;
  if (alg === 'RS256') pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  else if (alg === 'ES256') pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  else pair = generateKeyPairSync('ed25519');
  return { ...pair.privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
}

let generation = 1;
let keys = ['RS256', 'ES256', 'EdDSA'].map((alg) => key(alg, generation));

function client(id, alg) {
  return {
    client_id: id,
    client_secret: 'jsm-secret',
    redirect_uris: ['http://127.0.0.1:1/callback'],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: alg,
  };
}

function gatewayClient() {
  return {
    ...client('jsm-gateway', 'RS256'),
    application_type: 'native',
    redirect_uris: ['http://127.0.0.1/oidc/callback/oidc-provider'],
  };
}

function makeProvider() {
  const provider = new Provider(issuer, {
    clients: [client('jsm-rs256', 'RS256'), client('jsm-es256', 'ES256'), client('jsm-eddsa', 'EdDSA'), gatewayClient()],
    jwks: { keys },
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true } },
    conformIdTokenClaims: false,
    scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
    claims: {
      openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'],
    },
    cookies: { keys: ['jsm-sso-interop-only-cookie-key'] },
    async findAccount(ctx, id) {
      if (!accounts[id]) return undefined;
      return { accountId: id, async claims() { return { sub: id, ...accounts[id] }; } };
    },
  });
  provider.on('server_error', (ctx, err) => console.error('server_error', err));
  return provider;
}

let provider = makeProvider();
let handler = provider.callback();

const server = createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/__test/rotate') {
    generation += 1;
    const fresh = ['RS256', 'ES256', 'EdDSA'].map((alg) => key(alg, generation));
    keys = [...fresh, ...keys];
    provider = makeProvider();
    handler = provider.callback();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kids: fresh.map((k) => k.kid) }));
    return;
  }
  handler(req, res);
});

server.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider ${issuer} ready`);
});
