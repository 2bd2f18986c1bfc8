//! dyad-testkit: the one copy of the test oracles and fixtures shared by the workspace's tests.
//!
//! The oracles are written from the RFCs and spec/ and depend on nothing of dyad's, so that a
//! test compares an implementation with the definition rather than with itself:
//!
//! - [`merkle`]: RFC 9162 section 2.1 Merkle tree hash, inclusion and consistency proofs, by
//!   their recursive definitions.
//! - [`entry`]: the entry encoding of spec/dyad.md section 3.1, by its table.
//! - [`key_change`]: the key-change statement and payload of spec/dyad.md section 3.7.
//! - [`witness_change`]: the witness-change record and statement of spec/dyad.md section 3.8.
//! - [`rng`]: one seeded, portable PRNG for tests.
//! - [`store`]: checkpoint notes and reference roots for store tests.
//! - [`files`]: copying a directory tree.
//! - [`cctv_ed25519`]: the C2SP CCTV Ed25519 edge-case vectors (third-party data).
//!
//! The fixture, [`channel`] (feature `channel`), is built on dyad-ledger: both parties' keys,
//! their genesis and both replicas of a test channel. dyad-ledger's own tests may use it only
//! as integration tests (its unit tests would see a second copy of the ledger's types).
#![forbid(unsafe_code)]

pub mod cctv_ed25519;
#[cfg(feature = "channel")]
pub mod channel;
pub mod entry;
pub mod files;
pub mod key_change;
pub mod merkle;
pub mod rng;
pub mod store;
pub mod witness_change;

pub use rng::rng;
