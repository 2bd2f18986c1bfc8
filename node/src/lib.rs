//! The node: one party's replica of a channel on the network (spec/node.md).
//!
//! Both parties run the same node next to their own store; the genesis says which one
//! sequences. A node serves:
//!
//! - the C2SP tlog-tiles read API of its replica (`GET /checkpoint`, `GET /tile/...`), so
//!   auditors and witnesses need nothing else to follow the log ([`tiles`], [`client`]),
//!   and the attachments its entries name (`GET /attachment/<hash>`); each node fetches
//!   the attachments of the peer's entries before it co-signs or appends them;
//! - on the **co-signer**: C2SP tlog-witness `POST /add-checkpoint`. It co-signs a
//!   checkpoint only once it has fetched the new entries from the sequencer's tiles API,
//!   checked them and stored them (`Channel::accept_and_cosign`);
//! - on the **sequencer**: `POST /submit`, where the co-signer posts its signed messages and
//!   gets back a signed promise of inclusion ([`promise`]) once the entry is durable;
//! - `GET /metrics` (Prometheus text), and, separately, the operator's admin API
//!   (`POST /admin/append`, `GET /admin/status`) on the Unix socket
//!   `<data_dir>/admin.sock` in the owner-only data directory (and, if configured, on a
//!   loopback TCP listener), which needs the bearer token in `<data_dir>/admin.token`,
//!   replaced at every start (`admin_listener.rs`);
//! - on both listeners, `GET /healthz` and `GET /readyz` for supervisors, to anyone.
//!
//! The public listener speaks TLS 1.3 only (spec/node.md section 9, [`tls`]): each node
//! presents a self-signed certificate whose key its party's genesis key binds, and accepts
//! the peer by that binding, as server and as client. The party routes answer the peer
//! only; the read API answers the peer and holders of a read credential ([`access`]), or
//! anyone with [`NodeConfig::public_read`]. [`NodeConfig::insecure_http`] serves plain HTTP
//! behind a TLS-terminating proxy instead.
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
//! The code is laid out by role: `sequencer/` (group commit, committer), `cosigner/`
//! (add-checkpoint in stages, the submitter, promise checks, evidence), [`client`] (the
//! tiles, audit, submit-batch and admin clients), `http/` (one file per API) around the
//! state they share (`state.rs`) and how a node starts and stops (`running.rs`). The pure
//! formats they exchange are `dyad_ledger::wire` (re-exported as [`promise`], [`submit`],
//! [`witness`] and [`tiles`]).
//!
//! ```no_run
//! # async fn run(key: dyad_ledger::keys::SignerKey) -> Result<(), dyad_node::NodeError> {
//! use dyad_node::{serve, NodeConfig};
//! let mut config = NodeConfig::new("data/alpha".into(), "data/alpha/ledger".into(), key);
//! config.listen = "127.0.0.1:7380".parse().unwrap();
//! config.peer_url = Some("https://127.0.0.1:7381".into());
//! serve(config, async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```

#![warn(missing_docs)]

pub mod admin;
pub mod catch_up;
pub mod client;
pub mod export;
pub mod metrics;
pub mod publish;
pub mod runtime;
pub mod tile_check;
pub mod tiles;

pub mod access;
pub mod taxii;
pub mod tls;
pub mod witness_server;

mod admin_listener;
mod attachment;
mod check_ahead;
mod config;
mod cosigner;
mod error;
mod failure;
mod http;
mod keys;
mod link;
mod listen;
mod read_access;
mod reconcile;
mod response;
mod running;
mod sequencer;
mod state;
mod token;
mod witnessing;

/// The promise of inclusion (`dyad_ledger::wire::promise`), where callers of the node
/// find it.
pub mod promise {
    pub use dyad_ledger::wire::promise::*;
}

/// `POST /submit-batch`: its bodies (`dyad_ledger::wire::submit`) and the client that
/// sends one ([`crate::client::submit_batch`]).
pub mod submit {
    pub use crate::client::{submit_batch, SubmitBatchError, SubmitOutcome};
    pub use dyad_ledger::wire::submit::*;
}

/// C2SP tlog-witness `add-checkpoint` bodies (`dyad_ledger::wire::witness`), where callers
/// of the node find them.
pub mod witness {
    pub use dyad_ledger::wire::witness::*;
}

pub use config::NodeConfig;
pub(crate) use error::io_err;
pub use error::NodeError;
pub use reconcile::PeerCheck;
pub use running::{serve, start, RunningNode};
pub(crate) use state::{lock, now_ms, signed_size, PromiseRecord, Shared};
pub use state::{NodeStatus, PeerStatus, PublishStatus};
pub use token::{read_admin_token, read_admin_url};
pub use witnessing::status::{WitnessStatus, WitnessesStatus};
pub use witnessing::urls::{WitnessUrlSaver, MAX_WITNESS_URL_LEN};
pub use witnessing::WitnessUrl;

pub use admin::{
    AppendRequest, AppendResponse, Approver, AttachmentRef, SnapshotRequest, SnapshotResponse,
    WitnessChangeApproval, WitnessChangeApproveRequest, WitnessChangeResponse, WitnessSpec,
};
pub use admin_listener::{admin_socket_path, ADMIN_SOCKET_FILE};
pub use client::{
    audit_url, fetch_checkpoint, fetch_entries, AdminClient, BlockingClient, ClientError, Reach,
    TileClient,
};
pub use cosigner::{
    BROKEN_PROMISE_EXT, BROKEN_PROMISE_PREFIX, MAX_EVIDENCE_FILES, MAX_EVIDENCE_TOTAL_BYTES,
};
pub use export::{
    export_tiles, export_tiles_and_attachments, export_tiles_with, mirror_tiles,
    mirror_tiles_blocking, ExportError, ExportOptions, Exported,
};
pub use metrics::{ListenMetrics, Metrics};
pub use promise::{BatchPromise, Promise};
pub use submit::{submit_batch, SubmitBatchError, SubmitError, SubmitOutcome, SubmitResult};

/// The admin bearer token, written anew (mode 0600) at every start.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";
/// Where older versions announced a TCP admin URL. No longer written nor read: a node
/// removes it at start (the CLI finds the node by its [`ADMIN_SOCKET_FILE`]).
pub const ADMIN_URL_FILE: &str = "admin.url";
/// Left in a data directory by `dyad restore`: the replica is older than what the party
/// may have signed, so the node runs the peer check (spec/node.md section 10) whatever its
/// configuration says, and removes the file once the check is done.
pub const RESTORED_MARKER: &str = "restored-from-backup";
/// Sequencer-signed checkpoints that conflict with this replica, kept as evidence.
pub const EVIDENCE_DIR: &str = "evidence";
/// Promises of inclusion the sequencer gave for this (co-signer) party's messages.
pub const PROMISES_DIR: &str = "promises";
