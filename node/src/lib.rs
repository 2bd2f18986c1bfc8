//! The node: one party's replica of a channel on the network (spec/node.md).
//!
//! Both parties run the same node next to their own store; the genesis says which one
//! sequences. A node serves:
//!
//! - the C2SP tlog-tiles read API of its replica (`GET /checkpoint`, `GET /tile/...`), so
//!   auditors and witnesses need nothing else to follow the log ([`tiles`], [`client`]);
//! - on the **co-signer**: C2SP tlog-witness `POST /add-checkpoint`. It co-signs a
//!   checkpoint only once it has fetched the new entries from the sequencer's tiles API,
//!   checked them and stored them (`Channel::accept_and_cosign`);
//! - on the **sequencer**: `POST /submit`, where the co-signer posts its signed messages and
//!   gets back a signed promise of inclusion ([`promise`]) once the entry is durable;
//! - `GET /metrics` (Prometheus text), and, separately, the operator's admin API
//!   (`POST /admin/append`, `GET /admin/status`) on the Unix socket
//!   `<data_dir>/admin.sock` in the owner-only data directory (and, if configured, on a
//!   loopback TCP listener), which needs the bearer token in `<data_dir>/admin.token`,
//!   replaced at every start (`admin_listener.rs`).
//!
//! The sequencer batches (group commit): submissions and its own messages are collected
//! for at most `max_delay` or `max_batch` entries, written with one `append_signed` (one
//! fsync), then one checkpoint is signed and sent to the co-signer's `add-checkpoint`. If
//! the co-signer is down or slow, the sequencer keeps accepting and signing, and retries
//! with bounded exponential backoff until it catches up. The co-signer's own messages are
//! queued durably (`Channel::queue_own`) and submitted in order, with retries, until the
//! sequencer has promised each.
//!
//! The `Channel` is owned by the node behind one lock and used only from blocking
//! threads; the store's batches are atomic and durable, so stopping or killing a node at
//! any moment loses nothing it acknowledged and applies nothing twice.
//!
//! ```no_run
//! # async fn run(key: dyad_ledger::keys::SignerKey) -> Result<(), dyad_node::NodeError> {
//! use dyad_node::{serve, NodeConfig};
//! let mut config = NodeConfig::new("data/alpha".into(), "data/alpha/ledger".into(), key);
//! config.listen = "127.0.0.1:7380".parse().unwrap();
//! config.peer_url = Some("http://127.0.0.1:7381".into());
//! serve(config, async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```

pub mod admin;
pub mod client;
pub mod export;
pub mod metrics;
pub mod promise;
pub mod runtime;
pub mod submit;
pub mod tiles;
pub mod witness;

pub mod access;
pub mod tls;

mod admin_listener;
mod batcher;
mod cosigner;
mod evidence_store;
mod failure;
mod fetch;
mod http;
mod listen;
mod promise_check;
mod response;
pub mod tile_check;

mod config;
mod error;
mod running;
mod state;
mod token;

pub use config::NodeConfig;
pub(crate) use error::io_err;
pub use error::NodeError;
pub use running::{serve, start, RunningNode};
pub(crate) use state::{lock, now_ms, signed_size, PromiseRecord, Shared};
pub use state::{NodeStatus, PeerStatus};
pub use token::{read_admin_token, read_admin_url};

pub use admin::{AdminClient, AppendRequest, AppendResponse};
pub use admin_listener::{admin_socket_path, ADMIN_SOCKET_FILE};
pub use client::{
    audit_url, fetch_checkpoint, fetch_entries, BlockingClient, ClientError, TileClient,
};
pub use evidence_store::{MAX_EVIDENCE_FILES, MAX_EVIDENCE_TOTAL_BYTES};
pub use export::{
    export_tiles, export_tiles_with, mirror_tiles, mirror_tiles_blocking, ExportError,
    ExportOptions, Exported,
};
pub use metrics::ListenMetrics;
pub use metrics::Metrics;
pub use promise::{BatchPromise, Promise};
pub use promise_check::{BROKEN_PROMISE_EXT, BROKEN_PROMISE_PREFIX};
pub use submit::{submit_batch, SubmitError, SubmitOutcome, SubmitResult};

/// The admin bearer token, written anew (mode 0600) at every start.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";
/// Where older versions announced a TCP admin URL. No longer written nor read: a node
/// removes it at start (the CLI finds the node by its [`ADMIN_SOCKET_FILE`]).
pub const ADMIN_URL_FILE: &str = "admin.url";
/// Sequencer-signed checkpoints that conflict with this replica, kept as evidence.
pub const EVIDENCE_DIR: &str = "evidence";
/// Promises of inclusion the sequencer gave for this (co-signer) party's messages.
pub const PROMISES_DIR: &str = "promises";
