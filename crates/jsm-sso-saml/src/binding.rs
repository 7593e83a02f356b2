//! The HTTP-Redirect and HTTP-POST bindings (SAML bindings §3.4 and §3.5).

use std::io::{Read, Write};

use base64::Engine;
use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use jsm_sso_xmldsig::{SignatureMethod, SigningKey, TrustedKey, TrustedKeys};

use crate::error::Error;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Which parameter carries the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// `SAMLRequest` (AuthnRequest, LogoutRequest).
    Request,
    /// `SAMLResponse` (LogoutResponse).
    Response,
}

impl MessageKind {
    /// The query or form parameter name.
    pub fn parameter(self) -> &'static str {
        match self {
            MessageKind::Request => "SAMLRequest",
            MessageKind::Response => "SAMLResponse",
        }
    }
}

fn encode_component(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Builds a Redirect-binding URL: `location?SAMLRequest=..[&RelayState=..][&SigAlg=..&Signature=..]`.
///
/// The message is DEFLATE-compressed (raw, RFC 1951) and base64-encoded; when a key is given
/// the signature covers `SAMLRequest=value&RelayState=value&SigAlg=value` with each value
/// URL-encoded exactly as it appears in the URL, in that order (bindings §3.4.4.1).
pub fn redirect_url(
    location: &str,
    kind: MessageKind,
    xml: &str,
    relay_state: Option<&str>,
    key: Option<&SigningKey>,
) -> Result<String, Error> {
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
    encoder
        .write_all(xml.as_bytes())
        .and_then(|()| encoder.try_finish())
        .map_err(|e| Error::config(format!("deflate: {e}")))?;
    let deflated = encoder.get_ref();
    let mut query = format!(
        "{}={}",
        kind.parameter(),
        encode_component(&B64.encode(deflated))
    );
    if let Some(relay) = relay_state {
        query.push_str("&RelayState=");
        query.push_str(&encode_component(relay));
    }
    if let Some(key) = key {
        query.push_str("&SigAlg=");
        query.push_str(&encode_component(key.signature_method().uri()));
        let signature = key
            .sign_detached(query.as_bytes())
            .map_err(|e| Error::config(format!("signing the redirect query: {e}")))?;
        query.push_str("&Signature=");
        query.push_str(&encode_component(&B64.encode(signature)));
    }
    let separator = if location.contains('?') { '&' } else { '?' };
    Ok(format!("{location}{separator}{query}"))
}

/// A Redirect-binding message as received, before any trust is placed in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectMessage {
    /// Which parameter carried it.
    pub kind: MessageKind,
    /// The inflated XML.
    pub xml: Vec<u8>,
    /// `RelayState`, decoded.
    pub relay_state: Option<String>,
    /// `SigAlg` and the raw signed octets and signature, when signed.
    signed: Option<QuerySignature>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct QuerySignature {
    algorithm: String,
    signed_octets: String,
    signature: Vec<u8>,
}

/// Finds one parameter in a raw query string, refusing repeats; returns it still encoded.
fn raw_parameter<'q>(query: &'q str, name: &'static str) -> Result<Option<&'q str>, Error> {
    let mut found = None;
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key == name {
            if found.is_some() {
                return Err(Error::QueryParameter {
                    name,
                    detail: "appears more than once",
                });
            }
            found = Some(value);
        }
    }
    Ok(found)
}

fn percent_decode(raw: &str, name: &'static str) -> Result<String, Error> {
    let bytes: Vec<u8> = url::form_urlencoded::parse(format!("x={raw}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned().into_bytes())
        .unwrap_or_default();
    String::from_utf8(bytes).map_err(|_| Error::QueryParameter {
        name,
        detail: "is not UTF-8 after percent-decoding",
    })
}

/// Inflates raw DEFLATE data, refusing output over `limit` bytes (deflate bombs reach ratios
/// over 1000:1, so the compressed size alone says nothing).
pub(crate) fn inflate(data: &[u8], what: &'static str, limit: usize) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    DeflateDecoder::new(data)
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|_| Error::Inflate { what })?;
    if out.len() > limit {
        return Err(Error::TooLarge {
            what,
            size: out.len(),
            limit,
        });
    }
    Ok(out)
}

impl RedirectMessage {
    /// Reads a Redirect-binding message from the raw query string exactly as received (the
    /// part after `?`, not re-encoded: ADFS and Entra percent-encode in lower case, and the
    /// signature covers their bytes, not ours). `limit` caps the base64 and the inflated sizes.
    pub fn from_query(query: &str, limit: usize) -> Result<Self, Error> {
        let (kind, raw) = match (
            raw_parameter(query, "SAMLRequest")?,
            raw_parameter(query, "SAMLResponse")?,
        ) {
            (Some(raw), None) => (MessageKind::Request, raw),
            (None, Some(raw)) => (MessageKind::Response, raw),
            (Some(_), Some(_)) => {
                return Err(Error::QueryParameter {
                    name: "SAMLRequest",
                    detail: "both SAMLRequest and SAMLResponse present",
                });
            }
            (None, None) => {
                return Err(Error::QueryParameter {
                    name: "SAMLRequest",
                    detail: "neither SAMLRequest nor SAMLResponse present",
                });
            }
        };
        let parameter = kind.parameter();
        let deflated =
            crate::response::decode_base64(&percent_decode(raw, "SAMLRequest")?, parameter, limit)?;
        let xml = inflate(&deflated, parameter, limit)?;
        let raw_relay = raw_parameter(query, "RelayState")?;
        let relay_state = raw_relay
            .map(|r| percent_decode(r, "RelayState"))
            .transpose()?;
        let signed = match (
            raw_parameter(query, "SigAlg")?,
            raw_parameter(query, "Signature")?,
        ) {
            (Some(alg), Some(sig)) => {
                let mut signed_octets = format!("{parameter}={raw}");
                if let Some(relay) = raw_relay {
                    signed_octets.push_str("&RelayState=");
                    signed_octets.push_str(relay);
                }
                signed_octets.push_str("&SigAlg=");
                signed_octets.push_str(alg);
                let signature = crate::response::decode_base64(
                    &percent_decode(sig, "Signature")?,
                    "Signature",
                    4096,
                )?;
                Some(QuerySignature {
                    algorithm: percent_decode(alg, "SigAlg")?,
                    signed_octets,
                    signature,
                })
            }
            (None, None) => None,
            (Some(_), None) => {
                return Err(Error::QueryParameter {
                    name: "Signature",
                    detail: "SigAlg without Signature",
                });
            }
            (None, Some(_)) => {
                return Err(Error::QueryParameter {
                    name: "SigAlg",
                    detail: "Signature without SigAlg",
                });
            }
        };
        Ok(RedirectMessage {
            kind,
            xml,
            relay_state,
            signed,
        })
    }

    /// Whether the query carried a signature.
    pub fn is_signed(&self) -> bool {
        self.signed.is_some()
    }

    /// Verifies the query signature against the IdP's keys; returns the key that verified.
    ///
    /// # Errors
    /// `saml.signature.missing` when unsigned; the signature codes of [`Error::Signature`]
    /// otherwise (SHA-1 only with `allow_sha1`).
    pub fn verify<'k>(
        &self,
        keys: &'k TrustedKeys,
        allow_sha1: bool,
    ) -> Result<&'k TrustedKey, Error> {
        let what = match self.kind {
            MessageKind::Request => "SAMLRequest",
            MessageKind::Response => "SAMLResponse",
        };
        let signed = self
            .signed
            .as_ref()
            .ok_or(Error::QuerySignatureMissing { what })?;
        let wrap = |source| Error::Signature {
            element: what,
            tried: format!("{} trusted keys", keys.len()),
            source,
        };
        let method = SignatureMethod::from_algorithm_uri(&signed.algorithm, allow_sha1)
            .map_err(|e| wrap(jsm_sso_xmldsig::Error::Signature(e)))?;
        keys.verify_detached(method, signed.signed_octets.as_bytes(), &signed.signature)
            .map_err(wrap)
    }
}

/// An HTTP-POST binding form: the page that makes the browser post a message onward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostForm {
    /// Where the form posts to.
    pub action: String,
    /// The fields: `SAMLRequest` or `SAMLResponse`, and `RelayState` if any.
    pub fields: Vec<(String, String)>,
}

fn escape_html(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

impl PostForm {
    /// A form carrying `xml` base64-encoded in the `kind` field.
    pub fn new(action: &str, kind: MessageKind, xml: &str, relay_state: Option<&str>) -> Self {
        let mut fields = vec![(kind.parameter().to_owned(), B64.encode(xml.as_bytes()))];
        if let Some(relay) = relay_state {
            fields.push(("RelayState".to_owned(), relay.to_owned()));
        }
        PostForm {
            action: action.to_owned(),
            fields,
        }
    }

    /// The HTML page. No inline script (a strict Content-Security-Policy holds): the form is
    /// submitted by `script_src` when given (a script of the front end's own that submits
    /// `form#saml-post`), or by the visible button.
    pub fn to_html(&self, script_src: Option<&str>) -> String {
        let mut html = String::from(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Signing in</title>",
        );
        if let Some(src) = script_src {
            html.push_str(&format!(
                "<script src=\"{}\" defer></script>",
                escape_html(src)
            ));
        }
        html.push_str(&format!(
            "</head><body><form id=\"saml-post\" method=\"post\" action=\"{}\">",
            escape_html(&self.action)
        ));
        for (name, value) in &self.fields {
            html.push_str(&format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape_html(name),
                escape_html(value)
            ));
        }
        html.push_str("<noscript><p>Press the button to continue.</p></noscript><button type=\"submit\">Continue</button></form></body></html>\n");
        html
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inflate_caps_the_output() {
        let mut e = DeflateEncoder::new(Vec::new(), Compression::best());
        e.write_all(&vec![b'a'; 100_000]).unwrap();
        let bomb = e.finish().unwrap();
        assert!(bomb.len() < 1_000);
        let err = inflate(&bomb, "SAMLRequest", 10_000).unwrap_err();
        assert!(matches!(err, Error::TooLarge { limit: 10_000, .. }));
        assert_eq!(
            inflate(&bomb, "SAMLRequest", 100_000).unwrap().len(),
            100_000
        );
        assert!(matches!(
            inflate(b"\xff\xff\xff", "SAMLRequest", 10).unwrap_err(),
            Error::Inflate { .. }
        ));
    }

    #[test]
    fn repeated_parameters_are_refused() {
        let err = RedirectMessage::from_query("SAMLRequest=a&SAMLRequest=b", 1000).unwrap_err();
        assert!(matches!(
            err,
            Error::QueryParameter {
                name: "SAMLRequest",
                ..
            }
        ));
    }

    #[test]
    fn html_escapes_values() {
        let form = PostForm {
            action: "https://sp/acs?a=1&b=\"2\"".into(),
            fields: vec![("RelayState".into(), "<script>".into())],
        };
        let html = form.to_html(None);
        assert!(html.contains("a=1&amp;b=&quot;2&quot;"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(!html.contains("<script>"));
    }
}
