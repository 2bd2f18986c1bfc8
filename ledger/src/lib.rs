//! dyad-ledger: the log of a two-party exchange channel.
//!
//! - [`entry`]: the signed message format (spec section 3);
//! - [`genesis`]: the channel's terms, signed by both parties (spec section 4);
//! - [`keys`]: party keys and key files (spec section 2);
//! - [`tree`]: RFC 9162 tree hashing and proof construction (spec section 5);
//! - [`store`]: the sled-backed log: entries, tree nodes, checkpoints, atomic batches;
//! - [`attachments`]: content-addressed attachment files beside the log;
//! - [`replica_record`]: `replica.head`, which remembers outside the store that a replica exists;
//! - [`channel`]: a replica enforcing the channel rules, signing and co-signing checkpoints;
//! - [`sync`]: the offline sync bundle format, `dyad-sync/v1` (spec/sync.md);
//! - [`durable`]: every whole-file write outside the store, atomic and as durable as its caller asks;
//! - [`private_dir`]: a party's data directory is its owner's only (0700, files 0600);
//! - [`wire`]: pure wire formats (tlog-tiles paths, hash tiles, entry bundles).
//!
//! The ledger is synchronous; the HTTP node that serves and replicates it is the
//! `dyad-node` crate.
#![forbid(unsafe_code)]

pub mod attachments;
pub mod channel;
pub mod durable;
pub mod entry;
pub mod genesis;
mod kept_note;
pub mod keys;
pub mod private_dir;
pub mod replica_record;
pub mod store;
pub mod store_check;
pub mod sync;
pub mod tree;
pub mod wire;
