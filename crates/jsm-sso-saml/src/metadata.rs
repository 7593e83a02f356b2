//! SAML metadata: reading IdP metadata (single entities and aggregates, optionally signed)
//! and writing the SP's own.

use std::time::{Duration, SystemTime};

use base64::Engine;
use jsm_sso_xmldsig::{
    Document, Element, Limits, Placement, TrustedKeys, Verifier, VerifyOptions, sign_enveloped,
};

use crate::attributes::AttributeProfile;
use crate::config::{Endpoint, IdentityProvider, ServiceProvider, binding};
use crate::error::Error;
use crate::ns::{DS, MD};
use crate::time;
use crate::xml::escape;

const SAML2_PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
/// Metadata documents larger than this are refused (aggregates of thousands of entities, as
/// eduGAIN publishes, need a higher limit on purpose).
pub const DEFAULT_MAX_METADATA_BYTES: usize = 8 * 1024 * 1024;

/// How to read IdP metadata.
#[derive(Debug, Clone)]
pub struct MetadataOptions {
    /// The time against `validUntil`.
    pub now: SystemTime,
    /// When set, the metadata document must carry a signature by one of these keys (the
    /// federation's or IdP's pinned metadata-signing certificate).
    pub signed_by: Option<TrustedKeys>,
    /// Document size limit.
    pub max_bytes: usize,
}

impl MetadataOptions {
    /// Unsigned metadata accepted, checked against `now`.
    pub fn new(now: SystemTime) -> Self {
        MetadataOptions {
            now,
            signed_by: None,
            max_bytes: DEFAULT_MAX_METADATA_BYTES,
        }
    }
}

fn metadata_error(detail: impl Into<String>) -> Error {
    Error::Metadata {
        detail: detail.into(),
    }
}

/// Parses an `xs:duration` of the forms metadata uses (`PT1H`, `P1D`, `PT30M15S`, `P7DT12H`).
/// Years and months are refused (their length is not fixed).
fn parse_duration(value: &str) -> Option<Duration> {
    let rest = value.trim().strip_prefix('P')?;
    let (date, clock) = match rest.split_once('T') {
        Some((d, c)) => (d, Some(c)),
        None => (rest, None),
    };
    let mut seconds: f64 = 0.0;
    let mut read = |part: &str, units: &[(char, f64)]| -> Option<()> {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
            } else {
                let factor = units.iter().find(|(u, _)| *u == c)?.1;
                seconds += number.parse::<f64>().ok()? * factor;
                number.clear();
            }
        }
        number.is_empty().then_some(())
    };
    read(date, &[('W', 604_800.0), ('D', 86_400.0)])?;
    if let Some(clock) = clock {
        read(clock, &[('H', 3_600.0), ('M', 60.0), ('S', 1.0)])?;
    }
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds))
}

fn valid_until(element: Element<'_>) -> Result<Option<SystemTime>, Error> {
    element
        .attribute("validUntil")
        .map(|v| time::parse("validUntil", v))
        .transpose()
}

fn endpoints(descriptor: Element<'_>, name: &str) -> Vec<Endpoint> {
    descriptor
        .children_named(MD, name)
        .filter_map(|e| {
            Some(Endpoint {
                binding: e.attribute("Binding")?.to_owned(),
                location: e.attribute("Location")?.to_owned(),
                response_location: e.attribute("ResponseLocation").map(str::to_owned),
            })
        })
        .collect()
}

/// The signing keys of a role descriptor: `KeyDescriptor`s with `use="signing"` or no `use`.
fn signing_keys(descriptor: Element<'_>, entity_id: &str) -> Result<TrustedKeys, Error> {
    let mut keys = Vec::new();
    let mut problems = Vec::new();
    for key_descriptor in descriptor.children_named(MD, "KeyDescriptor") {
        if !matches!(key_descriptor.attribute("use"), None | Some("signing")) {
            continue;
        }
        let certificates = key_descriptor
            .children_named(DS, "KeyInfo")
            .flat_map(|info| info.children_named(DS, "X509Data").collect::<Vec<_>>())
            .flat_map(|data| {
                data.children_named(DS, "X509Certificate")
                    .collect::<Vec<_>>()
            });
        for certificate in certificates {
            match TrustedKeys::from_certificate_base64(&certificate.text()) {
                // The same certificate listed twice (signing and unspecified use) is one key.
                Ok(found) => {
                    for key in found.iter() {
                        if !keys.iter().any(|k: &jsm_sso_xmldsig::TrustedKey| {
                            k.fingerprint() == key.fingerprint()
                        }) {
                            keys.push(key.clone());
                        }
                    }
                }
                Err(e) => problems.push(e.to_string()),
            }
        }
    }
    TrustedKeys::new(keys).map_err(|_| {
        metadata_error(format!(
            "IdP {entity_id:?} has no usable signing certificate{}",
            if problems.is_empty() {
                String::new()
            } else {
                format!(" ({})", problems.join("; "))
            }
        ))
    })
}

fn read_entity(
    entity: Element<'_>,
    inherited_valid_until: Option<SystemTime>,
    options: &MetadataOptions,
) -> Result<Option<IdentityProvider>, Error> {
    let entity_id = entity
        .attribute("entityID")
        .ok_or_else(|| metadata_error("EntityDescriptor without entityID"))?;
    let Some(descriptor) = entity.children_named(MD, "IDPSSODescriptor").find(|d| {
        d.attribute("protocolSupportEnumeration")
            .is_some_and(|p| p.split_whitespace().any(|x| x == SAML2_PROTOCOL))
    }) else {
        return Ok(None);
    };
    let until = [
        inherited_valid_until,
        valid_until(entity)?,
        valid_until(descriptor)?,
    ]
    .into_iter()
    .flatten()
    .min();
    if let Some(until) = until
        && options.now >= until
    {
        return Err(Error::MetadataExpired {
            entity_id: entity_id.to_owned(),
            valid_until: time::format(until),
        });
    }
    let keys = signing_keys(descriptor, entity_id)?;
    Ok(Some(IdentityProvider {
        id: entity_id.to_owned().into(),
        entity_id: entity_id.to_owned(),
        keys,
        sso: endpoints(descriptor, "SingleSignOnService"),
        slo: endpoints(descriptor, "SingleLogoutService"),
        allow_sha1: false,
        check_certificate_expiry: false,
        profile: AttributeProfile::generic(),
        require_signed_redirect: true,
        want_authn_requests_signed: descriptor.attribute("WantAuthnRequestsSigned") == Some("true"),
        valid_until: until,
        cache_duration: entity
            .attribute("cacheDuration")
            .or_else(|| descriptor.attribute("cacheDuration"))
            .and_then(parse_duration),
    }))
}

fn collect(
    element: Element<'_>,
    inherited: Option<SystemTime>,
    options: &MetadataOptions,
    out: &mut Vec<IdentityProvider>,
) -> Result<(), Error> {
    if element.is(MD, "EntityDescriptor") {
        if let Some(idp) = read_entity(element, inherited, options)? {
            out.push(idp);
        }
        Ok(())
    } else if element.is(MD, "EntitiesDescriptor") {
        let until = [inherited, valid_until(element)?]
            .into_iter()
            .flatten()
            .min();
        if let Some(until) = until
            && options.now >= until
        {
            return Err(Error::MetadataExpired {
                entity_id: element.attribute("Name").unwrap_or("aggregate").to_owned(),
                valid_until: time::format(until),
            });
        }
        for child in element.child_elements() {
            if child.is(MD, "EntityDescriptor") || child.is(MD, "EntitiesDescriptor") {
                collect(child, until, options, out)?;
            }
        }
        Ok(())
    } else {
        Err(metadata_error(format!(
            "root element is {:?}, not md:EntityDescriptor or md:EntitiesDescriptor",
            element.local_name()
        )))
    }
}

/// Reads every SAML 2.0 IdP described by a metadata document (`EntityDescriptor` or an
/// `EntitiesDescriptor` aggregate).
///
/// # Errors
/// `saml.metadata.invalid` for a document that is not metadata or an IdP without a usable
/// signing certificate; `saml.metadata.expired` past `validUntil`; the signature codes when
/// [`MetadataOptions::signed_by`] is set and the signature fails.
pub fn read_idp_metadata(
    xml: &[u8],
    options: &MetadataOptions,
) -> Result<Vec<IdentityProvider>, Error> {
    let doc = Document::parse(
        xml,
        &Limits::default()
            .with_max_bytes(options.max_bytes)
            .with_max_nodes(10_000_000),
    )?;
    let root = match &options.signed_by {
        Some(keys) => Verifier::new(keys.clone(), VerifyOptions::default())
            .verify_enveloped(doc.root())
            .map_err(|source| Error::Signature {
                element: "metadata",
                tried: format!("{} pinned metadata keys", keys.len()),
                source,
            })?
            .element(),
        None => doc.root(),
    };
    let mut out = Vec::new();
    collect(root, None, options, &mut out)?;
    Ok(out)
}

impl IdentityProvider {
    /// The IdP with `entity_id` from a metadata document (or the only IdP in it when
    /// `entity_id` is `None`).
    ///
    /// # Errors
    /// As [`read_idp_metadata`], and `saml.metadata.entity_not_found`.
    pub fn from_metadata(
        xml: &[u8],
        entity_id: Option<&str>,
        options: &MetadataOptions,
    ) -> Result<Self, Error> {
        let mut all = read_idp_metadata(xml, options)?;
        match entity_id {
            Some(wanted) => all
                .into_iter()
                .find(|i| i.entity_id == wanted)
                .ok_or_else(|| Error::MetadataEntityNotFound {
                    entity_id: wanted.to_owned(),
                }),
            None if all.len() == 1 => all.pop().ok_or_else(|| metadata_error("no IdP")),
            None if all.is_empty() => Err(metadata_error("the metadata describes no SAML 2.0 IdP")),
            None => Err(metadata_error(format!(
                "the metadata describes {} IdPs; name the entity ID",
                all.len()
            ))),
        }
    }
}

/// Reads the DER certificate out of a PEM `CERTIFICATE` block.
pub fn certificate_der_from_pem(pem: &[u8]) -> Result<Vec<u8>, Error> {
    let text =
        std::str::from_utf8(pem).map_err(|_| Error::config("certificate PEM is not text"))?;
    let start = text
        .find("-----BEGIN CERTIFICATE-----")
        .ok_or_else(|| Error::config("no CERTIFICATE block in the PEM"))?;
    let body = text
        .get(start + "-----BEGIN CERTIFICATE-----".len()..)
        .unwrap_or_default();
    let end = body
        .find("-----END CERTIFICATE-----")
        .ok_or_else(|| Error::config("unterminated CERTIFICATE block"))?;
    let b64: String = body
        .get(..end)
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| Error::config("CERTIFICATE block is not base64"))
}

fn key_descriptor(usage: &str, der: &[u8]) -> String {
    format!(
        "<md:KeyDescriptor use=\"{usage}\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
        base64::engine::general_purpose::STANDARD.encode(der)
    )
}

/// Certificates published in the SP metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpCertificates {
    /// DER certificate of the SP signing key (`use="signing"`).
    pub signing: Option<Vec<u8>>,
    /// DER certificate of the SP decryption key (`use="encryption"`).
    pub encryption: Option<Vec<u8>>,
}

impl ServiceProvider {
    /// The SP's metadata: entity ID, ACS URLs (POST binding), SLO endpoints, the certificates
    /// given, `AuthnRequestsSigned` when the SP has a signing key, and
    /// `WantAssertionsSigned="true"`. Signed (enveloped, RSA-SHA256 or ECDSA) when `sign` is
    /// set and the SP has a signing key.
    pub fn metadata(&self, certificates: &SpCertificates, sign: bool) -> Result<String, Error> {
        let config = &self.config;
        let id = crate::login::new_id()?;
        let mut xml = format!(
            "<md:EntityDescriptor xmlns:md=\"{MD}\" xmlns:ds=\"{DS}\" ID=\"{id}\" entityID=\"{}\"><md:SPSSODescriptor AuthnRequestsSigned=\"{}\" WantAssertionsSigned=\"true\" protocolSupportEnumeration=\"{SAML2_PROTOCOL}\">",
            escape(&config.entity_id),
            config.signing_key.is_some(),
        );
        if let Some(der) = &certificates.signing {
            xml.push_str(&key_descriptor("signing", der));
        }
        if let Some(der) = &certificates.encryption {
            xml.push_str(&key_descriptor("encryption", der));
        }
        if let Some(slo) = &config.slo_url {
            for b in [binding::REDIRECT, binding::POST] {
                xml.push_str(&format!(
                    "<md:SingleLogoutService Binding=\"{b}\" Location=\"{}\"/>",
                    escape(slo)
                ));
            }
        }
        if let Some(format) = &config.name_id_format {
            xml.push_str(&format!(
                "<md:NameIDFormat>{}</md:NameIDFormat>",
                escape(format)
            ));
        }
        for (index, acs) in config.acs_urls.iter().enumerate() {
            xml.push_str(&format!(
                "<md:AssertionConsumerService Binding=\"{}\" Location=\"{}\" index=\"{index}\"{}/>",
                binding::POST,
                escape(acs),
                if index == 0 {
                    " isDefault=\"true\""
                } else {
                    ""
                }
            ));
        }
        xml.push_str("</md:SPSSODescriptor></md:EntityDescriptor>");
        match (&config.signing_key, sign) {
            (Some(key), true) => sign_enveloped(xml.as_bytes(), &id, key, &Placement::FirstChild)
                .map_err(|e| Error::config(format!("signing the metadata: {e}"))),
            (None, true) => Err(Error::config(
                "signed metadata asked for, and the SP has no signing key",
            )),
            (_, false) => Ok(xml),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("PT1H"), Some(Duration::from_secs(3600)));
        assert_eq!(
            parse_duration("P1DT30M"),
            Some(Duration::from_secs(86_400 + 1800))
        );
        assert_eq!(parse_duration("PT0.5S"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("P1Y"), None);
        assert_eq!(parse_duration("1H"), None);
        assert_eq!(parse_duration("PT1X"), None);
    }
}
