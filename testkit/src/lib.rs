//! dyad-testkit: test oracles shared by the workspace's tests, written from the RFCs and
//! depending on nothing of dyad's, so that a test compares an implementation with the
//! definition rather than with itself.
//!
//! - [`merkle`]: RFC 9162 section 2.1 Merkle tree hash, inclusion and consistency proofs, by
//!   their recursive definitions.
#![forbid(unsafe_code)]

pub mod merkle;
