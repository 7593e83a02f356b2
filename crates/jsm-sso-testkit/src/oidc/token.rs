//! [`TestIssuer`] and [`IdTokenBuilder`]: ID tokens with every part adjustable.

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use jsm_sso_core::Clock;
use serde_json::{Map, Value, json};

use super::{TestKey, b64};

/// An issuer's identity: URL, client id, signing keys (one active), clock.
#[derive(Debug, Clone)]
pub struct TestIssuer {
    issuer: String,
    client_id: String,
    keys: Vec<TestKey>,
    active: usize,
    extra_jwks: Vec<Value>,
    clock: Arc<dyn Clock>,
}

impl TestIssuer {
    /// An issuer at `issuer` for client `client_id`, signing with [`TestKey::rs256`].
    pub fn new(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            keys: vec![TestKey::rs256()],
            active: 0,
            extra_jwks: Vec::new(),
            clock,
        }
    }

    /// The issuer URL.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The client id tokens are issued to.
    #[must_use]
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The key tokens are signed with.
    #[must_use]
    #[expect(clippy::indexing_slicing, reason = "active always indexes keys")]
    pub fn active_key(&self) -> &TestKey {
        &self.keys[self.active]
    }

    /// Publishes `key` too and signs with it from now on (a key rotation). The old keys
    /// stay published until [`Self::retire`].
    pub fn rotate(&mut self, key: TestKey) {
        self.keys.retain(|k| k.kid() != key.kid());
        self.keys.push(key);
        self.active = self.keys.len() - 1;
    }

    /// Publishes `key` without signing with it.
    pub fn publish(&mut self, key: TestKey) {
        let active = self.active_key().kid().to_owned();
        self.keys.retain(|k| k.kid() != key.kid());
        self.keys.push(key);
        self.active = self
            .keys
            .iter()
            .position(|k| k.kid() == active)
            .unwrap_or(0);
    }

    /// Stops publishing the key with `kid` (unless it is the active one).
    pub fn retire(&mut self, kid: &str) {
        let active = self.active_key().kid().to_owned();
        if kid != active {
            self.keys.retain(|k| k.kid() != kid);
            self.active = self
                .keys
                .iter()
                .position(|k| k.kid() == active)
                .unwrap_or(0);
        }
    }

    /// Adds a raw JWK to the published set (a weak key, an encryption key, junk).
    pub fn publish_raw(&mut self, jwk: Value) {
        self.extra_jwks.push(jwk);
    }

    /// The published JWKS.
    #[must_use]
    pub fn jwks(&self) -> Value {
        let mut keys: Vec<Value> = self.keys.iter().map(TestKey::jwk).collect();
        keys.extend(self.extra_jwks.iter().cloned());
        json!({ "keys": keys })
    }

    /// Now, in seconds since the epoch, from the clock.
    #[must_use]
    pub fn now(&self) -> i64 {
        self.clock
            .now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    }

    /// A token with the usual claims: `iss`, `sub` `alice`, `aud` the client id, `iat`
    /// now, `exp` in five minutes, `auth_time` now; header `alg` and `kid` of the active
    /// key, `typ` `JWT`.
    pub fn id_token(&self) -> IdTokenBuilder {
        let now = self.now();
        let key = self.active_key().clone();
        let mut header = Map::new();
        header.insert("alg".into(), key.alg().into());
        header.insert("kid".into(), key.kid().into());
        header.insert("typ".into(), "JWT".into());
        let mut claims = Map::new();
        claims.insert("iss".into(), self.issuer.clone().into());
        claims.insert("sub".into(), "alice".into());
        claims.insert("aud".into(), self.client_id.clone().into());
        claims.insert("iat".into(), now.into());
        claims.insert("exp".into(), (now + 300).into());
        claims.insert("auth_time".into(), now.into());
        IdTokenBuilder {
            header,
            claims,
            signer: Signer::Key(key),
            corrupt_signature: false,
        }
    }
}

#[derive(Debug, Clone)]
enum Signer {
    Key(TestKey),
    Hmac(Vec<u8>),
    None,
}

/// An ID token being built: set, remove or break anything, then [`Self::build`].
#[derive(Debug, Clone)]
#[must_use]
pub struct IdTokenBuilder {
    header: Map<String, Value>,
    claims: Map<String, Value>,
    signer: Signer,
    corrupt_signature: bool,
}

impl IdTokenBuilder {
    /// Sets a claim (any JSON value: a string `exp` too).
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.insert(name.into(), value.into());
        self
    }

    /// Removes a claim.
    pub fn without(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// Sets a header field.
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.header.insert(name.into(), value.into());
        self
    }

    /// Removes a header field.
    pub fn without_header(mut self, name: &str) -> Self {
        self.header.remove(name);
        self
    }

    /// Shifts `iat`, `exp` and `auth_time` by `seconds` (negative: into the past).
    pub fn shift_times(mut self, seconds: i64) -> Self {
        for name in ["iat", "exp", "auth_time", "nbf"] {
            if let Some(t) = self.claims.get(name).and_then(Value::as_i64) {
                self.claims.insert(name.into(), (t + seconds).into());
            }
        }
        self
    }

    /// Signs with `key` (header `alg` and `kid` follow it).
    pub fn sign_with(mut self, key: &TestKey) -> Self {
        self.header.insert("alg".into(), key.alg().into());
        self.header.insert("kid".into(), key.kid().into());
        self.signer = Signer::Key(key.clone());
        self
    }

    /// Signs with HMAC-SHA256 keyed with `secret` (header `alg` `HS256`, `kid` kept).
    pub fn hmac(mut self, secret: &[u8]) -> Self {
        self.header.insert("alg".into(), "HS256".into());
        self.signer = Signer::Hmac(secret.to_vec());
        self
    }

    /// No signature: header `alg` `none`, empty signature part.
    pub fn unsigned(mut self) -> Self {
        self.header.insert("alg".into(), "none".into());
        self.header.remove("kid");
        self.signer = Signer::None;
        self
    }

    /// Flips a bit of the signature after signing.
    pub fn corrupt_signature(mut self) -> Self {
        self.corrupt_signature = true;
        self
    }

    /// The claims as they stand.
    #[must_use]
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// The compact JWS.
    #[must_use]
    pub fn build(self) -> String {
        let header = Value::Object(self.header).to_string();
        let claims = Value::Object(self.claims).to_string();
        let input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
        let mut signature = match &self.signer {
            Signer::Key(key) => key.sign(input.as_bytes()),
            Signer::Hmac(secret) => {
                let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
                ring::hmac::sign(&key, input.as_bytes()).as_ref().to_vec()
            }
            Signer::None => Vec::new(),
        };
        if let (true, Some(last)) = (self.corrupt_signature, signature.last_mut()) {
            *last ^= 1;
        }
        format!("{input}.{}", b64(&signature))
    }
}

/// The `at_hash` / `c_hash` of `value` for a token signed with `alg`: the left half of
/// the algorithm's hash (SHA-512 for EdDSA), base64url.
#[must_use]
pub fn half_hash(alg: &str, value: &str) -> String {
    let digest_alg = match alg {
        "RS384" | "PS384" | "ES384" | "HS384" => &ring::digest::SHA384,
        "RS512" | "PS512" | "HS512" | "EdDSA" => &ring::digest::SHA512,
        _ => &ring::digest::SHA256,
    };
    let digest = ring::digest::digest(digest_alg, value.as_bytes());
    let bytes = digest.as_ref();
    b64(bytes.get(..bytes.len() / 2).unwrap_or_default())
}
