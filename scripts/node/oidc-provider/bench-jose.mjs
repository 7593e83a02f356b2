// Peer comparison for the `oidc` bench: Node `jose` (the library under oidc-provider and
// openid-client) verifying the same ID tokens the Rust bench validates, with the same checks
// that jose does (signature, iss, aud, exp/nbf/iat with 60 s tolerance) plus the nonce.
//
//   node scripts/node/oidc-provider/bench-jose.mjs
//
// Reads the tokens and JWKS of jsm-sso-oidc's fuzz seeds (valid RS256, ES256, EdDSA tokens at
// 2023-11-14T22:13:20Z) and prints the median microseconds per verify of 30 rounds.
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, jwtVerify } from 'jose';

const root = new URL('../../../', import.meta.url);
const jwks = JSON.parse(readFileSync(new URL('crates/jsm-sso-oidc/tests/vectors/fuzz-jwks.json', root)));
const keys = createLocalJWKSet(jwks);
const currentDate = new Date(1_700_000_000 * 1000);

for (const alg of ['rs256', 'es256', 'eddsa']) {
  const token = readFileSync(new URL(`fuzz/corpus/oidc_jwt/valid-${alg}.jwt`, root), 'utf8').trim();
  const verify = async () => {
    const { payload } = await jwtVerify(token, keys, {
      issuer: 'https://op.example', audience: 'portal', currentDate, clockTolerance: 60,
      requiredClaims: ['exp', 'iat', 'sub'],
    });
    if (payload.nonce !== 'n-fuzz') throw new Error('nonce');
  };
  for (let i = 0; i < 200; i += 1) await verify();
  const rounds = [];
  for (let r = 0; r < 30; r += 1) {
    const n = 200;
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i += 1) await verify();
    rounds.push(Number(process.hrtime.bigint() - t) / 1000 / n);
  }
  rounds.sort((a, b) => a - b);
  console.log(`jose/${alg}: ${rounds[15].toFixed(1)} us per verify (median of 30 rounds)`);
}
