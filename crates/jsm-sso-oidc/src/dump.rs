//! [`TokenDump`]: what a refused sign-in's ID token (and userinfo) said, decoded but NOT
//! verified, for an administrator's troubleshooting page. Built only when a sign-in fails
//! after the token response arrived; the access token, the refresh token and the signature
//! are never kept.

use serde_json::{Map, Value};

use crate::jwt::MAX_TOKEN_BYTES;

/// The longest string (claim value or name) kept, in characters; longer ones are cut.
pub const MAX_DUMP_STRING_CHARS: usize = 512;
/// The most array items or object members kept per array or object.
pub const MAX_DUMP_ITEMS: usize = 64;
/// The deepest nesting kept; deeper values are replaced by a note.
pub const MAX_DUMP_DEPTH: usize = 8;
/// The largest text [`TokenDump::to_text`] returns, in bytes.
pub const MAX_DUMP_TEXT_BYTES: usize = 32 * 1024;

/// The first line of [`TokenDump::to_text`]: nothing below it was trusted.
pub const UNVERIFIED_BANNER: &str = "UNVERIFIED: decoded from the provider's answer to a refused sign-in; \
     none of it was accepted, and the signature may not have been checked";

/// The decoded, UNVERIFIED header and claims of an ID token that was refused, and the
/// userinfo response when one was fetched. Values are clipped (long strings, long arrays,
/// deep nesting), so the dump stays small whatever the provider sent.
///
/// `Debug` shows only the claim names, never their values, so a logged error does not carry
/// personal data.
///
/// ```
/// # use jsm_sso_oidc::TokenDump;
/// // A dump comes from `Error::unverified_token` after `RelyingParty::finish` failed;
/// // `TokenDump::to_text` is what a troubleshooting page shows.
/// fn show(dump: &TokenDump) -> String {
///     dump.to_text()
/// }
/// ```
#[derive(Clone, PartialEq)]
pub struct TokenDump {
    header: Option<Map<String, Value>>,
    claims: Option<Map<String, Value>>,
    userinfo: Option<Map<String, Value>>,
    clipped: bool,
}

impl std::fmt::Debug for TokenDump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenDump")
            .field("header", &names(self.header.as_ref()))
            .field("claims", &names(self.claims.as_ref()))
            .field("userinfo", &names(self.userinfo.as_ref()))
            .field("clipped", &self.clipped)
            .finish()
    }
}

/// The member names of `map`, for `Debug`.
fn names(map: Option<&Map<String, Value>>) -> Option<Vec<&str>> {
    map.map(|m| m.keys().map(String::as_str).collect())
}

impl TokenDump {
    /// The dump of `id_token` (header and claims) and `userinfo`; `None` when there is
    /// nothing to show: no userinfo and a token that is absent, too large, or not a compact
    /// JWS whose header and payload are base64url JSON objects.
    pub(crate) fn new(
        id_token: Option<&str>,
        userinfo: Option<Map<String, Value>>,
    ) -> Option<Self> {
        let decoded = id_token.and_then(decode_jws);
        if decoded.is_none() && userinfo.is_none() {
            return None;
        }
        let mut clipped = false;
        let mut clip_map = |m: Map<String, Value>| match clip(Value::Object(m), 0, &mut clipped) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let (header, claims) = match decoded {
            Some((h, c)) => (Some(clip_map(h)), Some(clip_map(c))),
            None => (None, None),
        };
        let userinfo = userinfo.map(&mut clip_map);
        Some(Self {
            header,
            claims,
            userinfo,
            clipped,
        })
    }

    /// The ID token's JOSE header (`alg`, `kid`, `typ`, ...), if an ID token was decoded.
    #[must_use]
    pub fn header(&self) -> Option<&Map<String, Value>> {
        self.header.as_ref()
    }

    /// The ID token's claims (`iss`, `aud`, `exp`, `email`, ...), if an ID token was decoded.
    #[must_use]
    pub fn claims(&self) -> Option<&Map<String, Value>> {
        self.claims.as_ref()
    }

    /// The userinfo response, if it was fetched before the sign-in was refused.
    #[must_use]
    pub fn userinfo(&self) -> Option<&Map<String, Value>> {
        self.userinfo.as_ref()
    }

    /// Whether anything was cut to the limits ([`MAX_DUMP_STRING_CHARS`],
    /// [`MAX_DUMP_ITEMS`], [`MAX_DUMP_DEPTH`]).
    #[must_use]
    pub fn clipped(&self) -> bool {
        self.clipped
    }

    /// The dump as one JSON object: `"unverified": true` and whichever of `header`,
    /// `claims` and `userinfo` are present.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("unverified".into(), Value::Bool(true));
        for (name, part) in [
            ("header", &self.header),
            ("claims", &self.claims),
            ("userinfo", &self.userinfo),
        ] {
            if let Some(part) = part {
                out.insert(name.into(), Value::Object(part.clone()));
            }
        }
        if self.clipped {
            out.insert("clipped".into(), Value::Bool(true));
        }
        Value::Object(out)
    }

    /// [`UNVERIFIED_BANNER`], then [`Self::to_json`] pretty-printed; at most
    /// [`MAX_DUMP_TEXT_BYTES`] bytes.
    #[must_use]
    pub fn to_text(&self) -> String {
        let json = serde_json::to_string_pretty(&self.to_json()).unwrap_or_default();
        let text = format!("{UNVERIFIED_BANNER}\n{json}");
        if text.len() <= MAX_DUMP_TEXT_BYTES {
            return text;
        }
        let note = "\n… (cut to the size limit)";
        let mut end = MAX_DUMP_TEXT_BYTES.saturating_sub(note.len());
        while !text.is_char_boundary(end) {
            end = end.saturating_sub(1);
        }
        format!("{}{note}", text.get(..end).unwrap_or_default())
    }
}

/// The header and payload of a compact JWS, each a JSON object; the signature is dropped.
fn decode_jws(token: &str) -> Option<(Map<String, Value>, Map<String, Value>)> {
    let token = token.trim_matches(|c: char| c.is_ascii_whitespace());
    if token.len() > MAX_TOKEN_BYTES {
        return None;
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let object = |part: &str| {
        let bytes = crate::b64::decode(part.as_bytes())?;
        serde_json::from_slice::<Map<String, Value>>(&bytes).ok()
    };
    Some((object(header)?, object(payload)?))
}

/// `value` cut to the limits; sets `clipped` when anything was cut.
fn clip(value: Value, depth: usize, clipped: &mut bool) -> Value {
    match value {
        Value::Array(_) | Value::Object(_) if depth >= MAX_DUMP_DEPTH => {
            *clipped = true;
            Value::String(format!("(nested deeper than {MAX_DUMP_DEPTH} levels)"))
        }
        Value::String(s) => Value::String(clip_str(s, clipped)),
        Value::Array(items) => {
            let total = items.len();
            let mut out: Vec<Value> = items
                .into_iter()
                .take(MAX_DUMP_ITEMS)
                .map(|v| clip(v, depth.saturating_add(1), clipped))
                .collect();
            if total > MAX_DUMP_ITEMS {
                *clipped = true;
                out.push(Value::String(format!(
                    "… {} more items",
                    total.saturating_sub(MAX_DUMP_ITEMS)
                )));
            }
            Value::Array(out)
        }
        Value::Object(members) => {
            let total = members.len();
            let mut out: Map<String, Value> = members
                .into_iter()
                .take(MAX_DUMP_ITEMS)
                .map(|(k, v)| {
                    (
                        clip_str(k, clipped),
                        clip(v, depth.saturating_add(1), clipped),
                    )
                })
                .collect();
            if total > MAX_DUMP_ITEMS {
                *clipped = true;
                out.insert(
                    "…".into(),
                    Value::String(format!(
                        "{} more members",
                        total.saturating_sub(MAX_DUMP_ITEMS)
                    )),
                );
            }
            Value::Object(out)
        }
        other => other,
    }
}

fn clip_str(s: String, clipped: &mut bool) -> String {
    let total = s.chars().count();
    if total <= MAX_DUMP_STRING_CHARS {
        return s;
    }
    *clipped = true;
    let kept: String = s.chars().take(MAX_DUMP_STRING_CHARS).collect();
    format!(
        "{kept}… ({} more characters)",
        total.saturating_sub(MAX_DUMP_STRING_CHARS)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::b64::encode;
    use serde_json::json;

    fn jws(header: &Value, claims: &Value) -> String {
        format!(
            "{}.{}.{}",
            encode(header.to_string().as_bytes()),
            encode(claims.to_string().as_bytes()),
            encode(b"signature bytes")
        )
    }

    #[test]
    fn decodes_header_and_claims_and_drops_the_signature() {
        let token = jws(
            &json!({"alg": "RS256", "kid": "k1"}),
            &json!({"iss": "https://op", "aud": "other", "email": "a@example.com"}),
        );
        let dump = TokenDump::new(Some(&token), None).unwrap();
        assert_eq!(dump.header().unwrap()["kid"], "k1");
        assert_eq!(dump.claims().unwrap()["aud"], "other");
        assert!(dump.userinfo().is_none() && !dump.clipped());
        let text = dump.to_text();
        assert!(text.starts_with("UNVERIFIED"), "{text}");
        assert!(text.contains("\"email\": \"a@example.com\""), "{text}");
        assert!(!text.contains(&encode(b"signature bytes")), "{text}");
        // Debug names the claims, never their values.
        let debug = format!("{dump:?}");
        assert!(
            debug.contains("\"email\"") && !debug.contains("a@example.com"),
            "{debug}"
        );
    }

    #[test]
    fn undecodable_tokens_give_no_dump() {
        let good_header = encode(br#"{"alg":"RS256"}"#);
        for token in [
            "not a token".to_owned(),
            "a.b".to_owned(),
            "a.b.c.d.e".to_owned(),
            format!("{good_header}.!!.c2ln"),
            format!("{good_header}.{}.c2ln", encode(b"[1,2]")),
            format!("{}.{}.c2ln", encode(b"not json"), encode(b"{}")),
            format!("{good_header}.{}.c2ln", "e30".repeat(MAX_TOKEN_BYTES)),
        ] {
            assert_eq!(TokenDump::new(Some(&token), None), None, "{token:.40}");
        }
        assert_eq!(TokenDump::new(None, None), None);
        // Userinfo alone is still shown.
        let mut info = Map::new();
        info.insert("sub".into(), "u1".into());
        let dump = TokenDump::new(Some("junk"), Some(info)).unwrap();
        assert!(dump.claims().is_none() && dump.header().is_none());
        assert_eq!(dump.userinfo().unwrap()["sub"], "u1");
    }

    #[test]
    fn hostile_claims_are_clipped() {
        let mut deep = json!("bottom");
        for _ in 0..20 {
            deep = json!([deep]);
        }
        let many: Vec<usize> = (0..1000).collect();
        let wide: Map<String, Value> = (0..200).map(|i| (format!("c{i:03}"), json!(i))).collect();
        let token = jws(
            &json!({"alg": "RS256"}),
            &json!({
                "long": "x".repeat(10_000),
                "groups": many,
                "deep": deep,
                "wide": wide,
                "ü".repeat(600): 1,
            }),
        );
        let dump = TokenDump::new(Some(&token), None).unwrap();
        assert!(dump.clipped());
        let claims = dump.claims().unwrap();
        let long = claims["long"].as_str().unwrap();
        assert!(long.ends_with("… (9488 more characters)"), "{long:.20}");
        let groups = claims["groups"].as_array().unwrap();
        assert_eq!(groups.len(), MAX_DUMP_ITEMS + 1);
        assert_eq!(groups[MAX_DUMP_ITEMS], "… 936 more items");
        assert_eq!(
            claims["wide"].as_object().unwrap().len(),
            MAX_DUMP_ITEMS + 1
        );
        assert_eq!(claims["wide"]["…"], "136 more members");
        let text = serde_json::to_string(&claims["deep"]).unwrap();
        assert!(text.contains("nested deeper than 8 levels") && !text.contains("bottom"));
        assert!(claims.keys().any(|k| k.ends_with("… (88 more characters)")));
        assert!(dump.to_text().len() <= MAX_DUMP_TEXT_BYTES);
        assert_eq!(dump.to_json()["clipped"], true);
    }

    #[test]
    fn text_is_cut_to_the_limit_on_a_char_boundary() {
        // 40 members of 512 two-byte characters: about 40 KiB of JSON, over the text limit
        // (and the token still under MAX_TOKEN_BYTES).
        let big: Map<String, Value> = (0..40)
            .map(|i| (format!("c{i}"), json!("é".repeat(MAX_DUMP_STRING_CHARS))))
            .collect();
        let token = jws(&json!({"alg": "RS256"}), &Value::Object(big));
        let dump = TokenDump::new(Some(&token), None).unwrap();
        assert!(!dump.clipped(), "each value is within the limits");
        let text = dump.to_text();
        assert!(text.len() <= MAX_DUMP_TEXT_BYTES);
        assert!(text.ends_with("… (cut to the size limit)"));
    }
}
