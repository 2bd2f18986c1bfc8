//! Shared helpers for dyad's fuzz targets and their seed generator.
//!
//! - [`vectors`]: the spec's vectors (`spec/vectors/entries.json`) and the Go x/mod reference
//!   vectors (`../shared/vectors/*.json`), compiled in, with the keys they use;
//! - [`reference`]: a third, deliberately naive implementation of what dyad computes: RFC 9162
//!   tree hashes, proofs and proof verification (written from the RFC's text), and the entry
//!   encoding of spec section 3.1 (written from the spec's table);
//! - [`cursor`]: reads structured fuzz inputs front to back, padding with zeros;
//! - [`oracle`] (with the `targets` feature): rs_merkle with an RFC 6962 hasher, and the
//!   comparison of the verifier's and the ledger's decoded entries.
#![forbid(unsafe_code)]

pub mod cursor;
pub mod reference;
pub mod vectors;

#[cfg(feature = "targets")]
pub mod oracle;

pub use cursor::Cursor;

/// A SHA-256 digest.
pub type Hash = [u8; 32];
