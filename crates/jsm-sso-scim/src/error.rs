//! The crate's [`Error`]: each variant maps to an HTTP status, a SCIM `scimType`
//! (RFC 7644 §3.12) and a stable code.

use http::StatusCode;
use jsm_sso_core::CodedError;
use serde_json::json;

use crate::filter::FilterError;
use crate::hook::HookError;
use crate::schema;
use crate::store::StoreError;

/// The `scimType` detail error keywords of RFC 7644 §3.12 (table 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    /// The filter syntax was invalid or the filter is not supported.
    InvalidFilter,
    /// The filter would yield too many results.
    TooMany,
    /// A unique attribute value is already taken.
    Uniqueness,
    /// An attempt to change an attribute that cannot change.
    Mutability,
    /// The request body is not valid SCIM.
    InvalidSyntax,
    /// The PATCH path is invalid.
    InvalidPath,
    /// The PATCH path matched nothing.
    NoTarget,
    /// A value is of the wrong type, missing, or not allowed.
    InvalidValue,
    /// Unsupported SCIM protocol version.
    InvalidVers,
    /// The request contained personal data in the URL.
    Sensitive,
}

impl ScimType {
    /// The keyword as written in error responses.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidFilter => "invalidFilter",
            Self::TooMany => "tooMany",
            Self::Uniqueness => "uniqueness",
            Self::Mutability => "mutability",
            Self::InvalidSyntax => "invalidSyntax",
            Self::InvalidPath => "invalidPath",
            Self::NoTarget => "noTarget",
            Self::InvalidValue => "invalidValue",
            Self::InvalidVers => "invalidVers",
            Self::Sensitive => "sensitive",
        }
    }
}

/// Everything that makes a SCIM request fail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No `Authorization: Bearer` header.
    #[error("missing bearer token")]
    MissingToken,
    /// The bearer token matches no configured IdP.
    #[error("bearer token not recognised")]
    InvalidToken,
    /// The body is larger than the configured limit.
    #[error("request body of {actual} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// The limit.
        limit: usize,
        /// The body size.
        actual: usize,
    },
    /// A body with a content type that is not JSON.
    #[error("content type {actual:?} is not application/scim+json")]
    UnsupportedMediaType {
        /// The `Content-Type` sent.
        actual: String,
    },
    /// The body is not JSON or not the expected shape.
    #[error("malformed request body: {detail}")]
    MalformedBody {
        /// What is wrong.
        detail: String,
    },
    /// The `schemas` list does not name the expected schema.
    #[error("schemas must include {expected}")]
    MissingSchema {
        /// The schema URN expected.
        expected: &'static str,
    },
    /// No such endpoint.
    #[error("no SCIM endpoint at {path}")]
    UnknownEndpoint {
        /// The request path.
        path: String,
    },
    /// The method is not allowed on this endpoint.
    #[error("method {method} not allowed on {path}")]
    MethodNotAllowed {
        /// The method.
        method: String,
        /// The path.
        path: String,
    },
    /// A SCIM feature this service provider does not offer (`/Bulk`, `/Me`).
    #[error("{feature} is not supported")]
    NotImplemented {
        /// What was asked for.
        feature: &'static str,
    },
    /// No resource with that id.
    #[error("{kind} {id} not found")]
    NotFound {
        /// `User` or `Group`.
        kind: &'static str,
        /// The id asked for.
        id: String,
    },
    /// `If-Match` names another version.
    #[error("version mismatch: If-Match {expected}, current {actual}")]
    VersionMismatch {
        /// The `If-Match` value.
        expected: String,
        /// The current ETag.
        actual: String,
    },
    /// A unique attribute value is taken.
    #[error("{attribute} {value:?} is already taken")]
    Uniqueness {
        /// The attribute.
        attribute: &'static str,
        /// The value.
        value: String,
    },
    /// A value is of the wrong type, missing or not allowed.
    #[error("invalid value for {attribute}: {detail}")]
    InvalidValue {
        /// The attribute path.
        attribute: String,
        /// What is wrong.
        detail: String,
    },
    /// A read-only, immutable or required attribute would change or disappear.
    #[error("{attribute} cannot be changed: {detail}")]
    Mutability {
        /// The attribute path.
        attribute: String,
        /// Why.
        detail: String,
    },
    /// A filter was refused.
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// A PATCH path could not be parsed or names an unknown attribute.
    #[error("invalid path {path:?}: {detail}")]
    InvalidPath {
        /// The path.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// A PATCH operation is malformed (unknown op, missing value).
    #[error("invalid PATCH operation {index}: {detail}")]
    InvalidOperation {
        /// The operation's index in `Operations`.
        index: usize,
        /// What is wrong.
        detail: String,
    },
    /// A PATCH path with a filter matched nothing (or `remove` without a path).
    #[error("PATCH target not found: {path}")]
    NoTarget {
        /// The path.
        path: String,
    },
    /// More PATCH operations than the limit.
    #[error("{actual} PATCH operations exceed the limit of {limit}")]
    TooManyOperations {
        /// The limit.
        limit: usize,
        /// How many were sent.
        actual: usize,
    },
    /// The resource store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The provisioning hook refused or failed.
    #[error(transparent)]
    Hook(#[from] HookError),
    /// The audit log did not take the event (it fails closed).
    #[error("audit log unavailable: {reason}")]
    Audit {
        /// The audit log's error code.
        reason: String,
    },
}

impl Error {
    /// The HTTP status of the error response.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingToken | Self::InvalidToken => StatusCode::UNAUTHORIZED,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::UnknownEndpoint { .. } | Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotImplemented { .. } => StatusCode::NOT_IMPLEMENTED,
            Self::VersionMismatch { .. } => StatusCode::PRECONDITION_FAILED,
            Self::Uniqueness { .. } => StatusCode::CONFLICT,
            Self::MalformedBody { .. }
            | Self::MissingSchema { .. }
            | Self::InvalidValue { .. }
            | Self::Mutability { .. }
            | Self::Filter(_)
            | Self::InvalidPath { .. }
            | Self::InvalidOperation { .. }
            | Self::NoTarget { .. }
            | Self::TooManyOperations { .. } => StatusCode::BAD_REQUEST,
            Self::Store(e) => e.status(),
            Self::Hook(e) => e.status(),
            Self::Audit { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The `scimType`, for 400 and 409 responses.
    #[must_use]
    pub fn scim_type(&self) -> Option<ScimType> {
        Some(match self {
            Self::MalformedBody { .. }
            | Self::MissingSchema { .. }
            | Self::InvalidOperation { .. } => ScimType::InvalidSyntax,
            Self::Uniqueness { .. } => ScimType::Uniqueness,
            Self::InvalidValue { .. } | Self::TooManyOperations { .. } => ScimType::InvalidValue,
            Self::Mutability { .. } => ScimType::Mutability,
            Self::Filter(_) => ScimType::InvalidFilter,
            Self::InvalidPath { .. } => ScimType::InvalidPath,
            Self::NoTarget { .. } => ScimType::NoTarget,
            Self::Store(StoreError::Uniqueness { .. }) => ScimType::Uniqueness,
            _ => return None,
        })
    }

    /// The SCIM error response body (RFC 7644 §3.12). `detail` is this error's message: it
    /// names the offending request part, never stored data or secrets.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        let mut body = json!({
            "schemas": [schema::ERROR],
            "status": self.status().as_u16().to_string(),
            "detail": self.to_string(),
        });
        if let (Some(t), Some(map)) = (self.scim_type(), body.as_object_mut()) {
            map.insert("scimType".into(), json!(t.as_str()));
        }
        body
    }
}

impl CodedError for Error {
    fn code(&self) -> &'static str {
        match self {
            Self::MissingToken => "scim.auth.missing",
            Self::InvalidToken => "scim.auth.invalid",
            Self::TooLarge { .. } => "scim.request.too_large",
            Self::UnsupportedMediaType { .. } => "scim.request.media_type",
            Self::MalformedBody { .. } => "scim.request.malformed",
            Self::MissingSchema { .. } => "scim.request.schema",
            Self::UnknownEndpoint { .. } => "scim.request.endpoint",
            Self::MethodNotAllowed { .. } => "scim.request.method",
            Self::NotImplemented { .. } => "scim.request.unsupported",
            Self::NotFound { .. } => "scim.resource.not_found",
            Self::VersionMismatch { .. } => "scim.resource.version_mismatch",
            Self::Uniqueness { .. } => "scim.resource.uniqueness",
            Self::InvalidValue { .. } => "scim.attribute.invalid_value",
            Self::Mutability { .. } => "scim.attribute.mutability",
            Self::Filter(e) => e.code(),
            Self::InvalidPath { .. } => "scim.patch.invalid_path",
            Self::InvalidOperation { .. } => "scim.patch.invalid_operation",
            Self::NoTarget { .. } => "scim.patch.no_target",
            Self::TooManyOperations { .. } => "scim.patch.too_many_operations",
            Self::Store(e) => e.code(),
            Self::Hook(e) => e.code(),
            Self::Audit { .. } => "scim.audit.unavailable",
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Self::MissingToken => "configure the IdP's SCIM connector with the bearer token",
            Self::InvalidToken => {
                "the IdP's SCIM token does not match any configured token; rotate it on both sides"
            }
            Self::TooLarge { .. } => {
                "raise ScimServiceBuilder::max_body_bytes or have the IdP send smaller batches"
            }
            Self::UnsupportedMediaType { .. } => {
                "send Content-Type: application/scim+json (or application/json)"
            }
            Self::MalformedBody { .. } => "the body must be a SCIM JSON object (RFC 7643)",
            Self::MissingSchema { .. } => "the body's schemas list must name the resource's schema",
            Self::UnknownEndpoint { .. } => {
                "point the IdP at the SCIM base URL (ending before /Users)"
            }
            Self::MethodNotAllowed { .. } => "this endpoint does not take that method",
            Self::NotImplemented { .. } => "see /ServiceProviderConfig for the supported features",
            Self::NotFound { .. } => {
                "the IdP holds a stale id; let it re-match the user by userName or externalId"
            }
            Self::VersionMismatch { .. } => "re-read the resource and retry with its current ETag",
            Self::Uniqueness { .. } => {
                "another resource uses that userName (case-insensitively); match instead of create"
            }
            Self::InvalidValue { .. } => "check the attribute's type in /Schemas",
            Self::Mutability { .. } => {
                "read-only and required attributes cannot be set, changed or removed"
            }
            Self::Filter(e) => e.hint(),
            Self::InvalidPath { .. } => {
                "use attribute paths from /Schemas, e.g. emails[type eq \"work\"].value"
            }
            Self::InvalidOperation { .. } => "op must be add, remove or replace, with a value",
            Self::NoTarget { .. } => "the path's filter matched no value",
            Self::TooManyOperations { .. } => "split the PATCH into several requests",
            Self::Store(e) => e.hint(),
            Self::Hook(e) => e.hint(),
            Self::Audit { .. } => "the audit store is failing; SCIM writes stop until it is back",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_status_string_and_scim_type() {
        let e = Error::Uniqueness {
            attribute: "userName",
            value: "a".into(),
        };
        let body = e.to_json();
        assert_eq!(body["status"], "409");
        assert_eq!(body["scimType"], "uniqueness");
        assert_eq!(body["schemas"][0], schema::ERROR);
        let e = Error::NotFound {
            kind: "User",
            id: "x".into(),
        };
        assert!(e.to_json().get("scimType").is_none());
        assert_eq!(e.code(), "scim.resource.not_found");
    }
}
