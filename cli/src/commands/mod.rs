//! One module per command (or command group) of `dyad`: its clap arguments, its
//! examples, and the function `main` calls with them. Helpers several commands share
//! live beside `main.rs` (data directory, trust, running node, output, errors).

pub mod access;
pub mod append;
pub mod attachment;
pub mod audit;
pub mod awaiting;
pub mod backup;
pub mod checkpoint;
pub mod demo;
pub mod endorse;
pub mod evidence;
pub mod export;
pub mod indicators;
pub mod init;
pub mod init_witnesses;
pub mod keys;
pub mod log;
pub mod policy;
pub mod prove;
pub mod receipt;
pub mod receipt_endorsement;
pub mod receipt_key_changes;
pub mod restore;
pub mod restore_peer;
pub mod rotate_key;
pub mod serve;
pub mod serve_config;
pub mod show;
pub mod status;
pub mod stix_feed;
pub mod sync;
pub mod tls;
pub mod verify;
pub mod verify_store;
pub mod witness;
pub mod witness_change;
