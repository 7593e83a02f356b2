//! Test support shared by jsm-sso-saml's integration tests: a real SimpleSAMLphp IdP peer and
//! a browserless driver for its login pages.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    dead_code,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test, skip \
              lines go to stderr, and not every test file uses every helper"
)]

pub(crate) mod html;
pub(crate) mod simplesamlphp;
