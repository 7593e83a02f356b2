//! Shared test helpers: a real HTTP/1 server on 127.0.0.1 serving a [`MemoryJsm`] (with its
//! faults: 429/503 answers, slow answers, dropped connections), and the `CustomerDirectory`
//! behaviour suite every directory must pass.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code,
    unreachable_pub,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test; not every \
              test file uses every helper"
)]

pub mod bulk;
pub mod server;
pub mod suite;

pub use server::{reqwest_builder, start};
