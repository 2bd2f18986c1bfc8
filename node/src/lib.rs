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
pub mod metrics;
pub mod promise;
pub mod submit;
pub mod tiles;
pub mod witness;

mod admin_listener;
mod batcher;
mod cosigner;
mod evidence_store;
mod failure;
mod fetch;
mod listen;
mod promise_check;
mod server;
pub mod tile_check;

use std::collections::HashMap;
use std::fs;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dyad_verifier::key::VerifierKey;
use serde::Serialize;
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;

use dyad_ledger::channel::{Channel, ChannelError, Role};
use dyad_ledger::genesis::Party;
use dyad_ledger::keys::SignerKey;
use dyad_ledger::tree::Hash;

pub use admin::{AdminClient, AppendRequest, AppendResponse};
pub use admin_listener::{admin_socket_path, ADMIN_SOCKET_FILE};
pub use client::{
    audit_url, fetch_checkpoint, fetch_entries, BlockingClient, ClientError, TileClient,
};
pub use evidence_store::{MAX_EVIDENCE_FILES, MAX_EVIDENCE_TOTAL_BYTES};
pub use listen::ListenMetrics;
pub use metrics::Metrics;
pub use promise::{BatchPromise, Promise};
pub use promise_check::{BROKEN_PROMISE_EXT, BROKEN_PROMISE_PREFIX};
pub use submit::{submit_batch, SubmitError, SubmitOutcome, SubmitResult};
pub use tiles::{export_tiles, export_tiles_with, ExportError, ExportOptions, Exported};

/// The admin bearer token, written anew (mode 0600) at every start.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";
/// Where older versions announced a TCP admin URL. No longer written nor read: a node
/// removes it at start (the CLI finds the node by its [`ADMIN_SOCKET_FILE`]).
pub const ADMIN_URL_FILE: &str = "admin.url";
/// Sequencer-signed checkpoints that conflict with this replica, kept as evidence.
pub const EVIDENCE_DIR: &str = "evidence";
/// Promises of inclusion the sequencer gave for this (co-signer) party's messages.
pub const PROMISES_DIR: &str = "promises";

/// How a node runs. [`NodeConfig::new`] fills in the defaults.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// The party's data directory (mode 0700, its files 0600; checked at start): the node
    /// keeps [`ADMIN_TOKEN_FILE`], [`ADMIN_SOCKET_FILE`], [`EVIDENCE_DIR`] and
    /// [`PROMISES_DIR`] there.
    pub data_dir: PathBuf,
    /// The replica's store (what `Channel::open` opens), e.g. `<data_dir>/ledger`.
    pub ledger_dir: PathBuf,
    /// This party's key; it must be the replica's own party in the genesis.
    pub key: SignerKey,
    /// The public listener: tiles API, add-checkpoint (co-signer), submit (sequencer),
    /// metrics. Default `127.0.0.1:0` (an ephemeral port).
    pub listen: SocketAddr,
    /// An admin listener on TCP besides the admin socket (`<data_dir>/admin.sock`, always
    /// served). Default `Some(127.0.0.1:0)`; it should stay on loopback. `None`: the
    /// socket only (what `dyad serve` does unless `--admin-listen` is given).
    pub admin_listen: Option<SocketAddr>,
    /// The peer's base URL: the co-signer's (for the sequencer, to get co-signatures) or
    /// the sequencer's (for the co-signer, to fetch entries and submit messages).
    pub peer_url: Option<String>,
    /// Group commit: most entries in one batch.
    pub max_batch: usize,
    /// Group commit: longest wait for more entries after the first of a batch.
    pub max_delay: Duration,
    /// Submissions waiting for the batcher beyond this are refused with 503.
    pub queue_capacity: usize,
    /// Most new entries one add-checkpoint may cover: the sequencer catches a co-signer up
    /// in steps of this many, and the co-signer refuses bigger steps (they are held in
    /// memory while checked).
    pub max_cosign_step: u64,
    /// Most bytes of new entries one add-checkpoint may cover (default 32 MiB): the
    /// co-signer holds them in memory while it checks them, and refuses bigger steps; the
    /// sequencer signs intermediate checkpoints to stay within it.
    pub max_cosign_bytes: usize,
    /// Retries to the peer back off exponentially from `retry_initial` to `retry_max`.
    pub retry_initial: Duration,
    pub retry_max: Duration,
    /// Timeout of one request to the peer.
    pub peer_timeout: Duration,
    /// The longest an admin request may wait for its entry to be committed.
    pub max_wait: Duration,
    /// Most connections each listener holds open. When all are open, a new connection
    /// takes the place of the quietest one the node is not working for (one waiting for a
    /// request or still sending its body), so held connections cannot keep the peer out.
    pub max_connections: usize,
    /// Longest wait for a request's headers, counted from the connection's start or the end
    /// of the previous request on it (so also the keep-alive idle timeout).
    pub header_timeout: Duration,
    /// Longest time to receive one request body.
    pub body_timeout: Duration,
    /// A connection on which no byte moves for this long while no request is being worked
    /// on is closed; a request body that pauses this long is refused with 408.
    pub idle_timeout: Duration,
    /// Most request-body bytes held in memory at once, over all connections; a body waits
    /// (until the body timeout) for its share.
    pub max_body_bytes: usize,
}

impl NodeConfig {
    pub fn new(data_dir: PathBuf, ledger_dir: PathBuf, key: SignerKey) -> NodeConfig {
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        NodeConfig {
            data_dir,
            ledger_dir,
            key,
            listen: loopback,
            admin_listen: Some(loopback),
            peer_url: None,
            max_batch: 512,
            max_delay: Duration::from_millis(10),
            queue_capacity: 8192,
            max_cosign_step: 4096,
            max_cosign_bytes: 32 << 20,
            retry_initial: Duration::from_millis(100),
            retry_max: Duration::from_secs(10),
            peer_timeout: Duration::from_secs(30),
            max_wait: Duration::from_secs(60),
            max_connections: 256,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(10),
            max_body_bytes: 64 << 20,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the key {0} is not this replica's party")]
    NotOurKey(String),
    #[error(
        "the admin token file {path} is readable by others (mode {mode:o}); run `chmod 600 {path}`"
    )]
    InsecureToken { path: String, mode: u32 },
    #[error("the admin token file {0} is empty or malformed")]
    BadToken(String),
    #[error(transparent)]
    PrivateDir(#[from] dyad_ledger::private_dir::PrivateDirError),
    #[error("a node already answers on the admin socket {0}; stop it first, or use another data directory")]
    AdminSocketInUse(String),
    #[error("cannot serve the admin socket {path}: {source} (a Unix socket path has at most about 100 bytes)")]
    AdminSocket {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the node is stopping")]
    Stopped,
    /// A commit failed after writing began: the node stopped itself (restart it; the
    /// store is reopened from what is on disk).
    #[error("the node stopped because a write to its store failed: {0}; restart it once the cause (e.g. a full disk) is fixed")]
    StoreFailed(String),
    /// Closing the store did not finish in time (sled's flush may hang on a failing disk).
    #[error("the store did not close within {0:?}; the node stopped without waiting for it (check the disk; the store is reopened from what is on disk)")]
    CloseTimeout(Duration),
    #[error("a node task failed: {0}")]
    Task(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> NodeError + '_ {
    move |source| NodeError::Io {
        path: path.to_owned(),
        source,
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// What the sequencer said about one of this co-signer's messages.
#[derive(Clone, Debug)]
pub(crate) struct PromiseRecord {
    pub index: u64,
    /// The promise note, shared by the entries of one batch.
    pub note: Arc<Vec<u8>>,
}

/// What the node knows of its peer.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PeerStatus {
    /// The peer's latest co-signed size, as last reported (sequencer only).
    pub cosigner_size: Option<u64>,
    /// The last error talking to the peer, if the last attempt failed.
    pub last_error: Option<String>,
    /// Consecutive failed attempts.
    pub failures: u64,
}

/// A snapshot of the node, as `GET /admin/status` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct NodeStatus {
    pub role: &'static str,
    pub origin: String,
    /// Entries in this replica.
    pub size: u64,
    /// Entries covered by the newest checkpoint signed by the log: what the tiles API serves.
    pub published_size: u64,
    /// Entries covered by the newest co-signed checkpoint: committed.
    pub committed_size: u64,
    /// This party's messages queued for the sequencer (co-signer only).
    pub queued: u64,
    pub peer_url: Option<String>,
    pub peer: PeerStatus,
}

/// State shared by the node's tasks and request handlers.
pub(crate) struct Shared {
    ledger: RwLock<Option<Channel>>,
    pub key: SignerKey,
    pub role: Role,
    pub origin: String,
    pub log_key: VerifierKey,
    /// The co-signer's entry key id: `/submit` takes entries from it only.
    pub cosigner_key_id: u32,
    pub config: NodeConfig,
    pub data_dir: PathBuf,
    pub admin_token: String,
    /// Tiles are served for trees up to this size.
    pub published: AtomicU64,
    pub committed: watch::Sender<u64>,
    pub peer_url: RwLock<Option<String>>,
    pub peer: Mutex<PeerStatus>,
    pub http: reqwest::Client,
    pub metrics: Metrics,
    /// Full tiles and bundles checked against the tree before they were served.
    pub tile_checks: tile_check::TileChecks,
    stopping: AtomicBool,
    shutdown: watch::Sender<bool>,
    /// Sequencer: the batcher's input.
    pub batcher: Option<mpsc::Sender<batcher::Submission>>,
    /// Sequencer: new signed checkpoints to send.
    pub wake_committer: Notify,
    /// Co-signer: new queued messages to submit.
    pub wake_submitter: Notify,
    /// Co-signer: promises received, by leaf hash; `promise_events` ticks on each.
    pub promises: Mutex<HashMap<Hash, PromiseRecord>>,
    pub promise_events: watch::Sender<u64>,
    /// Co-signer: one add-checkpoint at a time (check `old`, fetch, store: atomically).
    pub cosign_lock: tokio::sync::Mutex<()>,
    /// Request bodies being buffered, over all connections, take their bytes from here.
    pub body_budget: listen::BodyBudget,
    /// Set when the node stopped itself because its store cannot be written safely.
    failure: failure::Failure,
    /// The evidence directory, with its cap.
    pub evidence: evidence_store::EvidenceStore,
    /// Co-signer: the sequencer's promises by index, checked before co-signing.
    pub promise_book: promise_check::PromiseBook,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    /// Runs `f` on the replica on a blocking thread, under the shared lock.
    pub async fn read<T, F>(self: &Arc<Self>, f: F) -> Result<T, NodeError>
    where
        F: FnOnce(&Channel) -> Result<T, NodeError> + Send + 'static,
        T: Send + 'static,
    {
        let shared = self.clone();
        tokio::task::spawn_blocking(move || {
            let guard = shared
                .ledger
                .read()
                .map_err(|_| NodeError::Task("ledger lock poisoned".into()))?;
            f(guard.as_ref().ok_or(NodeError::Stopped)?)
        })
        .await
        .map_err(|e| NodeError::Task(e.to_string()))?
    }

    /// Runs `f` on the replica on a blocking thread, under the exclusive lock.
    pub async fn write<T, F>(self: &Arc<Self>, f: F) -> Result<T, NodeError>
    where
        F: FnOnce(&mut Channel) -> Result<T, NodeError> + Send + 'static,
        T: Send + 'static,
    {
        let shared = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = shared
                .ledger
                .write()
                .map_err(|_| NodeError::Task("ledger lock poisoned".into()))?;
            let ch = guard.as_mut().ok_or(NodeError::Stopped)?;
            let result = f(ch);
            // A failed commit may be answered inside `f` (e.g. as refusals): look anyway.
            failure::check_after_write(&shared, ch);
            result
        })
        .await
        .map_err(|e| NodeError::Task(e.to_string()))?
    }

    pub fn peer_url(&self) -> Option<String> {
        self.peer_url
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    fn begin_stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.shutdown.send_replace(true);
        self.wake_committer.notify_one();
        self.wake_submitter.notify_one();
    }

    /// Resolves once the node is stopping.
    pub async fn stopped(&self) {
        let mut rx = self.shutdown.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Records a new committed size (and wakes whoever waits for it).
    pub fn set_committed(&self, size: u64) {
        Metrics::set(&self.metrics.committed_size, size);
        self.committed.send_if_modified(|c| {
            let grew = size > *c;
            if grew {
                *c = size;
            }
            grew
        });
    }

    pub fn set_published(&self, size: u64) {
        self.published.fetch_max(size, Ordering::SeqCst);
    }

    pub fn published(&self) -> u64 {
        self.published.load(Ordering::SeqCst)
    }

    pub fn peer_ok(&self) {
        let mut p = lock(&self.peer);
        p.last_error = None;
        p.failures = 0;
    }

    pub fn peer_failed(&self, error: String) {
        let mut p = lock(&self.peer);
        p.last_error = Some(error);
        p.failures += 1;
    }

    pub async fn status(self: &Arc<Self>) -> Result<NodeStatus, NodeError> {
        let (size, committed_size, queued) = self
            .read(|ch| {
                let queued = if ch.role() == Role::Cosigner {
                    ch.queued()?.len() as u64
                } else {
                    0
                };
                Ok((ch.size(), ch.committed_size()?, queued))
            })
            .await?;
        Ok(NodeStatus {
            role: self.role.as_str(),
            origin: self.origin.clone(),
            size,
            published_size: self.published(),
            committed_size,
            queued,
            peer_url: self.peer_url(),
            peer: lock(&self.peer).clone(),
        })
    }

    /// Writes `bytes` to `<data_dir>/<dir>/<name>` unless it exists (first copy wins),
    /// whole or not at all (temporary file, fsync, link into place, fsync of the directory).
    pub fn keep_file(&self, dir: &str, name: &str, bytes: &[u8]) -> Result<(), NodeError> {
        let dir = self.data_dir.join(dir);
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let path = dir.join(name);
        evidence_store::write_atomic(&path, bytes)
            .map(|_| ())
            .map_err(io_err(&path))
    }
}

/// The size of the newest checkpoint the log signed (sequencer) or this co-signer accepted.
fn signed_size(ch: &Channel) -> Result<u64, NodeError> {
    let from_note = ch.latest_signed_checkpoint()?.and_then(|note| {
        let parsed = dyad_verifier::note::parse(&note).ok()?;
        dyad_verifier::checkpoint::parse(&parsed.text)
            .ok()
            .map(|c| c.size)
    });
    Ok(from_note.unwrap_or(0).max(ch.committed_size()?))
}

/// Reads an admin token file, refusing one group or others can read.
fn admin_token(data_dir: &Path) -> Result<String, NodeError> {
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    let display = path.display().to_string();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&path)
            .map_err(io_err(&path))?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(NodeError::InsecureToken {
                path: display,
                mode,
            });
        }
    }
    let text = dyad_ledger::keys::read_small_text(&path, 4096).map_err(io_err(&path))?;
    let token = text.trim();
    if token.len() < 16 || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(NodeError::BadToken(display));
    }
    Ok(token.to_owned())
}

/// Reads the admin token of a node's data directory (for the operator's CLI).
pub fn read_admin_token(data_dir: &Path) -> Result<String, NodeError> {
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    if !path.exists() {
        return Err(NodeError::Io {
            path,
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no admin token: has the node ever run here?",
            ),
        });
    }
    admin_token(data_dir)
}

/// The admin URL an older version wrote to its data directory, if any. Nothing here
/// authenticates the listener it names: the CLI no longer uses it (see
/// [`AdminClient::for_data_dir`], which uses the admin socket).
pub fn read_admin_url(data_dir: &Path) -> Option<String> {
    let text = fs::read_to_string(data_dir.join(ADMIN_URL_FILE)).ok()?;
    Some(text.trim().to_owned()).filter(|s| !s.is_empty())
}

/// A running node; see [`start`].
pub struct RunningNode {
    shared: Arc<Shared>,
    addr: SocketAddr,
    admin_addr: Option<SocketAddr>,
    servers: Vec<JoinHandle<()>>,
    workers: Vec<JoinHandle<()>>,
}

/// Checks that the data directory is private, opens the replica, binds the listeners and
/// starts the node's tasks. Returns once the node serves requests. Stop it with
/// [`RunningNode::shutdown`] (or [`RunningNode::kill`]).
pub async fn start(config: NodeConfig) -> Result<RunningNode, NodeError> {
    admin_listener::prepare_data_dir(&config.data_dir)?;
    listen::raise_nofile_limit();
    admin_listener::clear_stale_socket(&config.data_dir).await?;
    let ledger_dir = config.ledger_dir.clone();
    let data_dir = config.data_dir.clone();
    let key = config.key.clone();
    let (channel, published, committed) =
        tokio::task::spawn_blocking(move || -> Result<_, NodeError> {
            let mut channel = Channel::open(&ledger_dir)?;
            if let Err(e) = channel.keep_replica_record(&data_dir) {
                tracing::warn!(error = %e, "cannot record the replica's head");
            }
            if Party::of(&key) != *channel.own_party() {
                return Err(NodeError::NotOurKey(key.name().to_owned()));
            }
            let mut published = signed_size(&channel)?;
            if channel.role() == Role::Sequencer && channel.size() > published {
                // Entries made durable (and perhaps promised) before a stop, not yet signed.
                channel.sign_checkpoint(&key)?;
                published = channel.size();
            }
            if channel.role() == Role::Cosigner {
                published = channel.size();
            }
            let committed = channel.committed_size()?;
            Ok((channel, published, committed))
        })
        .await
        .map_err(|e| NodeError::Task(e.to_string()))??;

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| NodeError::Bind {
            addr: config.listen,
            source,
        })?;
    let admin_tcp = match config.admin_listen {
        Some(admin_listen) => {
            let l = tokio::net::TcpListener::bind(admin_listen)
                .await
                .map_err(|source| NodeError::Bind {
                    addr: admin_listen,
                    source,
                })?;
            let a = l.local_addr().map_err(|source| NodeError::Bind {
                addr: admin_listen,
                source,
            })?;
            Some((l, a))
        }
        None => None,
    };
    let addr = listener.local_addr().map_err(|source| NodeError::Bind {
        addr: config.listen,
        source,
    })?;
    let admin_addr = admin_tcp.as_ref().map(|(_, a)| *a);
    // Replaced at every start, once no other node runs here (the socket was free and the
    // store opened): a token from an earlier run is worthless.
    let token = admin_listener::rotate_token(&config.data_dir)?;
    let admin_socket = admin_listener::bind(&config.data_dir)?;
    if channel.genesis().witness_threshold > 0 {
        tracing::warn!(
            threshold = channel.genesis().witness_threshold,
            "the genesis requires witness co-signatures, which this node does not collect: checkpoints will not become committed"
        );
    }
    if let Some(admin_addr) = admin_addr.filter(|a| !a.ip().is_loopback()) {
        tracing::warn!(%admin_addr, "the admin API listens beyond loopback; it is protected by its token only");
    }

    let role = channel.role();
    let origin = channel.origin().to_owned();
    let log_key = channel.genesis().log_key().map_err(ChannelError::from)?;
    let cosigner = &channel.genesis().cosigner;
    let cosigner_key_id = cosigner.entry_key().map_err(ChannelError::from)?.key_id();
    let (batch_tx, batch_rx) = match role {
        Role::Sequencer => {
            let (tx, rx) = mpsc::channel(config.queue_capacity.max(1));
            (Some(tx), Some(rx))
        }
        Role::Cosigner => (None, None),
    };
    let http = client::http_client(
        config.peer_timeout.min(Duration::from_secs(10)),
        config.peer_timeout,
    )?;
    let metrics = Metrics::default();
    Metrics::set(&metrics.log_size, channel.size());
    Metrics::set(&metrics.committed_size, committed);
    let shared = Arc::new(Shared {
        ledger: RwLock::new(Some(channel)),
        key: config.key.clone(),
        role,
        origin: origin.clone(),
        log_key,
        cosigner_key_id,
        data_dir: config.data_dir.clone(),
        admin_token: token,
        published: AtomicU64::new(published),
        committed: watch::Sender::new(committed),
        peer_url: RwLock::new(config.peer_url.clone()),
        peer: Mutex::new(PeerStatus::default()),
        http,
        metrics,
        tile_checks: tile_check::TileChecks::default(),
        stopping: AtomicBool::new(false),
        shutdown: watch::Sender::new(false),
        batcher: batch_tx,
        wake_committer: Notify::new(),
        wake_submitter: Notify::new(),
        promises: Mutex::new(HashMap::new()),
        promise_events: watch::Sender::new(0),
        cosign_lock: tokio::sync::Mutex::new(()),
        // At least one largest body, or it could never be received.
        body_budget: listen::BodyBudget::new(
            config.max_body_bytes.max(submit::MAX_SUBMIT_BATCH_BYTES),
        ),
        failure: failure::Failure::default(),
        evidence: evidence_store::EvidenceStore::new(config.data_dir.join(EVIDENCE_DIR)),
        promise_book: promise_check::PromiseBook::default(),
        config,
    });
    if role == Role::Cosigner {
        let guard = shared.ledger.read().unwrap_or_else(|p| p.into_inner());
        if let Some(ch) = guard.as_ref() {
            promise_check::load(&shared, ch);
        }
    }

    let mut servers = vec![
        tokio::spawn(server::run(
            listener,
            server::public_router(shared.clone()),
            shared.clone(),
            "public",
        )),
        tokio::spawn(admin_listener::run(
            admin_socket,
            server::admin_router(shared.clone()),
            shared.clone(),
        )),
    ];
    if let Some((admin_listener, _)) = admin_tcp {
        servers.push(tokio::spawn(server::run(
            admin_listener,
            server::admin_router(shared.clone()),
            shared.clone(),
            "admin",
        )));
    }
    let mut workers = Vec::new();
    match role {
        Role::Sequencer => {
            let rx = batch_rx.expect("the sequencer has a batcher queue");
            workers.push(tokio::spawn(batcher::run_batcher(shared.clone(), rx)));
            workers.push(tokio::spawn(batcher::run_committer(shared.clone())));
        }
        Role::Cosigner => workers.push(tokio::spawn(cosigner::run_submitter(shared.clone()))),
    }
    let admin_socket = admin_socket_path(&shared.data_dir);
    tracing::info!(role = role.as_str(), %origin, %addr, admin_socket = %admin_socket.display(), admin_addr = ?admin_addr, published, committed, "node started");
    Ok(RunningNode {
        shared,
        addr,
        admin_addr,
        servers,
        workers,
    })
}

/// Runs a node until `shutdown` resolves, then stops it gracefully: the batch being
/// collected is written and answered, connections are closed, the store is closed.
pub async fn serve(
    config: NodeConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), NodeError> {
    let node = start(config).await?;
    tokio::select! {
        _ = shutdown => {}
        _ = node.failed() => {}
    }
    node.shutdown().await
}

/// Waits for a task, aborting it after `limit`.
async fn join_within(task: JoinHandle<()>, limit: Duration) {
    let abort = task.abort_handle();
    if tokio::time::timeout(limit, task).await.is_err() {
        abort.abort();
    }
}

impl RunningNode {
    /// The public listener's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<public address>`: the URL to give the peer and auditors.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The TCP admin listener's address, if [`NodeConfig::admin_listen`] asked for one.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// `http://<TCP admin address>`.
    ///
    /// # Panics
    /// If the node has no TCP admin listener ([`NodeConfig::admin_listen`] `None`); use
    /// [`RunningNode::admin_socket`] with [`AdminClient::over_socket`] then.
    pub fn admin_url(&self) -> String {
        let addr = self
            .admin_addr
            .expect("this node has no TCP admin listener (NodeConfig::admin_listen is None)");
        format!("http://{addr}")
    }

    /// The admin API's Unix socket, `<data_dir>/admin.sock`.
    pub fn admin_socket(&self) -> PathBuf {
        admin_socket_path(&self.shared.data_dir)
    }

    /// The bearer token the admin API requires.
    pub fn admin_token(&self) -> &str {
        &self.shared.admin_token
    }

    pub fn role(&self) -> Role {
        self.shared.role
    }

    /// Points the node at its peer (e.g. once the peer's port is known).
    pub fn set_peer_url(&self, url: Option<String>) {
        *self
            .shared
            .peer_url
            .write()
            .unwrap_or_else(|p| p.into_inner()) = url;
        self.shared.wake_committer.notify_one();
        self.shared.wake_submitter.notify_one();
    }

    pub fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    pub async fn status(&self) -> Result<NodeStatus, NodeError> {
        self.shared.status().await
    }

    /// Stops gracefully: refuses new writes, writes and answers the batch being collected,
    /// closes connections (waiting at most a few seconds for requests in flight), and
    /// closes the store. Returns once the store is closed and may be reopened.
    pub async fn shutdown(mut self) -> Result<(), NodeError> {
        self.shared.begin_stop();
        for task in std::mem::take(&mut self.workers) {
            join_within(task, Duration::from_secs(10)).await;
        }
        for task in std::mem::take(&mut self.servers) {
            join_within(task, Duration::from_secs(5)).await;
        }
        let _ = fs::remove_file(admin_socket_path(&self.shared.data_dir));
        let closed = failure::close_ledger(&self.shared).await;
        tracing::info!(role = self.shared.role.as_str(), "node stopped");
        if let Some(why) = self.shared.failure.get() {
            return Err(NodeError::StoreFailed(why));
        }
        closed
    }

    /// Resolves once the node has stopped itself because its store cannot be written
    /// safely any more (a commit failed after writing began), with the reason; never if it
    /// stops otherwise. Then call [`RunningNode::shutdown`], which returns the failure.
    pub async fn failed(&self) -> String {
        self.shared.stopped().await;
        match self.shared.failure.get() {
            Some(why) => why,
            None => std::future::pending().await,
        }
    }

    /// Stops at once, as a crash would as far as the log is concerned: the batcher,
    /// committer and submitter are aborted wherever they are (a store batch being written
    /// completes or not, atomically), requests in flight fail, and the store is closed.
    /// Returns once the store may be reopened.
    pub async fn kill(mut self) {
        for task in &self.workers {
            task.abort();
        }
        self.shared.begin_stop();
        for task in std::mem::take(&mut self.servers) {
            join_within(task, Duration::from_secs(2)).await;
        }
        let _ = failure::close_ledger(&self.shared).await;
        tracing::info!(role = self.shared.role.as_str(), "node killed");
    }
}

impl Drop for RunningNode {
    /// A node dropped without [`RunningNode::shutdown`] stops in the background: its tasks
    /// wind down and the store closes when the last of them ends.
    fn drop(&mut self) {
        self.shared.begin_stop();
    }
}
