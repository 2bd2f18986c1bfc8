//! dyad-ledger: the log of a two-party exchange channel.
//!
//! - [`entry`]: the signed message format (spec section 3);
//! - [`genesis`]: the channel's terms, signed by both parties (spec section 4);
//! - [`keys`]: party keys and key files (spec section 2);
//! - [`tree`]: RFC 9162 tree hashing and proof construction (spec section 5);
//! - [`store`]: the sled-backed log: entries, tree nodes, checkpoints, atomic batches;
//! - [`attachments`]: content-addressed attachment files beside the log;
//! - [`replica_record`]: `replica.head`, which remembers outside the store that a replica exists;
//! - [`clock`]: the time dyad stamps, in milliseconds since the Unix epoch;
//! - [`channel`]: a replica enforcing the channel rules, signing and co-signing checkpoints;
//! - [`reads`]: receipts, proofs and checkpoint notes read out of a replica, the same
//!   whether the CLI opens the store or asks the node holding it;
//! - [`durable`]: every whole-file write, atomic and as durable as its caller asks;
//! - [`private_dir`]: a party's data directory is its owner's only (0700, files 0600);
//! - [`wire`]: pure wire formats, one file per spec: tlog-tiles paths, hash tiles and entry
//!   bundles; the promise of inclusion; submit-batch framing; add-checkpoint bodies; the
//!   offline sync bundle `dyad-sync/v1` of spec/sync.md (also at its first path [`sync`]).
//!
//! The ledger is synchronous; the HTTP node that serves and replicates it is the
//! `dyad-node` crate.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod attachments;
pub mod channel;
pub mod clock;
pub mod durable;
pub mod entry;
pub mod genesis;
mod kept_note;
pub mod keys;
pub mod private_dir;
pub mod reads;
pub mod replica_record;
pub mod stix;
pub mod store;
pub mod store_check;
pub mod tree;
pub mod wire;

/// The sync bundle format under its first path: `dyad_ledger::sync::…` is what the CLI
/// and the fuzz targets name.
pub use wire::sync_bundle as sync;
