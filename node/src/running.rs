//! Starting, running and stopping a node: [`start`], [`serve`], [`RunningNode`].

use std::collections::HashMap;
use std::fs;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use dyad_ledger::attachments::Attachments;
use dyad_ledger::channel::{Channel, Role};
use dyad_ledger::keys::SignerKey;
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;

use dyad_ledger::wire::submit::MAX_SUBMIT_BATCH_BYTES;

use crate::cosigner::{self, evidence_store, promise_check};
use crate::http::guard::Caller;
use crate::keys::{HeldKeys, NodeKeys};
use crate::link::{self, Link};
use crate::read_access::ReadAccess;
use crate::reconcile;
use crate::sequencer::{self, Submission};
use crate::witnessing;
use crate::{
    admin_listener, admin_socket_path, failure, http, listen, signed_size, tile_check, Metrics,
    NodeConfig, NodeError, NodeStatus, PeerStatus, Shared, EVIDENCE_DIR,
};

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
    let opened = open_replica(&config).await?;
    let listeners = Listeners::bind(&config).await?;
    // Replaced at every start, once no other node runs here (the socket was free and the
    // store opened): a token from an earlier run is worthless.
    let token = admin_listener::rotate_token(&config.data_dir)?;
    let admin_socket = admin_listener::bind(&config.data_dir)?;
    warn_about_setup(listeners.admin_addr(), config.insecure_http);
    let (shared, batch_rx) = shared_state(config, opened, token)?;
    let admin_addr = listeners.admin_addr();
    let addr = listeners.public_addr;
    let servers = spawn_servers(&shared, listeners, admin_socket);
    let workers = spawn_workers(&shared, batch_rx);
    let admin_socket = admin_socket_path(&shared.data_dir);
    tracing::info!(
        role = shared.role.as_str(),
        origin = %shared.origin,
        %addr,
        admin_socket = %admin_socket.display(),
        admin_addr = ?admin_addr,
        published = shared.published.load(std::sync::atomic::Ordering::Relaxed),
        committed = *shared.committed.borrow(),
        "node started"
    );
    Ok(RunningNode {
        shared,
        addr,
        admin_addr,
        servers,
        workers,
    })
}

/// The replica as the node starts with it.
struct Opened {
    channel: Channel,
    /// The size the tiles API serves (see [`Shared::published`]).
    published: u64,
    committed: u64,
    /// The keys it signs and checks with, and the private keys the node holds.
    keys: NodeKeys,
    held: HeldKeys,
}

/// Opens the replica on a blocking thread, checks it is this key's party, and (sequencer)
/// signs the entries made durable before a stop but not yet covered by a checkpoint.
async fn open_replica(config: &NodeConfig) -> Result<Opened, NodeError> {
    let ledger_dir = config.ledger_dir.clone();
    let data_dir = config.data_dir.clone();
    let key = config.key.clone();
    let held: Vec<SignerKey> = std::iter::once(key.clone())
        .chain(config.previous_keys.iter().cloned())
        .collect();
    tokio::task::spawn_blocking(move || -> Result<_, NodeError> {
        let mut channel = Channel::open(&ledger_dir)?;
        if let Err(e) = channel.keep_replica_record(&data_dir) {
            tracing::warn!(error = %e, "cannot record the replica's head");
        }
        // The node signs with its party's current key (spec 3.7), which must be the
        // configured one: an older one means a rotation was not finished.
        let held = HeldKeys::new(held);
        let keys = NodeKeys::of(&channel, &held)?;
        if keys.signer.public_key() != key.public_key() {
            return Err(NodeError::RotatedKeyNotHeld {
                name: key.name().to_owned(),
            });
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
        Ok(Opened {
            channel,
            published,
            committed,
            keys,
            held,
        })
    })
    .await
    .map_err(|e| NodeError::Task(e.to_string()))?
}

/// The node's TCP listeners (the admin socket is bound apart, after the token rotates).
struct Listeners {
    public: tokio::net::TcpListener,
    public_addr: SocketAddr,
    admin: Option<(tokio::net::TcpListener, SocketAddr)>,
}

impl Listeners {
    async fn bind(config: &NodeConfig) -> Result<Listeners, NodeError> {
        let (public, public_addr) = bind_tcp(config.listen).await?;
        let admin = match config.admin_listen {
            Some(addr) => Some(bind_tcp(addr).await?),
            None => None,
        };
        Ok(Listeners {
            public,
            public_addr,
            admin,
        })
    }

    fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(|(_, a)| *a)
    }
}

async fn bind_tcp(addr: SocketAddr) -> Result<(tokio::net::TcpListener, SocketAddr), NodeError> {
    let bind_error = |source| NodeError::Bind { addr, source };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(bind_error)?;
    let local = listener.local_addr().map_err(bind_error)?;
    Ok((listener, local))
}

/// Warnings about a setup that works but not as an operator may expect.
fn warn_about_setup(admin_addr: Option<SocketAddr>, insecure_http: bool) {
    if insecure_http {
        tracing::warn!("serving plain HTTP (--insecure-http): the node cannot authenticate its clients and serves every request as the peer's; only a TLS-terminating proxy that admits the peer and readers alone may stand in front of it");
    }
    if let Some(admin_addr) = admin_addr.filter(|a| !a.ip().is_loopback()) {
        tracing::warn!(%admin_addr, "the admin API listens beyond loopback; it is protected by its token only");
    }
}

/// The state every task and handler shares, and (sequencer) the batcher's queue.
fn shared_state(
    config: NodeConfig,
    opened: Opened,
    token: String,
) -> Result<(Arc<Shared>, Option<mpsc::Receiver<Submission>>), NodeError> {
    let Opened {
        channel,
        published,
        committed,
        keys,
        held,
    } = opened;
    let role = channel.role();
    let (batch_tx, batch_rx) = match role {
        Role::Sequencer => {
            let (tx, rx) = mpsc::channel(config.queue_capacity.max(1));
            (Some(tx), Some(rx))
        }
        Role::Cosigner => (None, None),
    };
    let witness_keys = channel.witness_keys().to_vec();
    let channel_threshold = channel.witness_threshold();
    let witness_status =
        witnessing::initial_status(&witness_keys, channel_threshold, &config.witnesses);
    let witness_urls = witnessing::urls::WitnessUrls::new(&config.witnesses);
    if role == Role::Sequencer {
        let reachable = witness_status
            .witnesses
            .iter()
            .filter(|w| w.url.is_some())
            .count();
        if reachable < channel_threshold {
            tracing::warn!(
                threshold = channel_threshold,
                with_url = reachable,
                "fewer witnesses have an add-checkpoint URL (dyad.json witness_urls) than the threshold: checkpoints will not become committed until URLs are given (POST /admin/witness-change)"
            );
        }
    }
    let binding = held.find(&keys.binding).unwrap_or_else(|| {
        tracing::warn!("the node does not hold its party's committed key: its TLS certificate is bound by the key it signs with, which the peer accepts once the key change is co-signed");
        keys.signer.clone()
    });
    let link = Link::load(&config, channel.origin(), &keys, &binding)?;
    let http = link.peer_http(&config)?;
    let attachments = Attachments::open(&config.data_dir, channel.genesis().max_attachment_size)
        .map_err(NodeError::Attachments)?;
    let taxii = crate::taxii::Feed::new(&channel)?;
    let metrics = Metrics::default();
    Metrics::set(&metrics.log_size, channel.size());
    Metrics::set(&metrics.committed_size, committed);
    let shared = Arc::new(Shared {
        origin: channel.origin().to_owned(),
        ledger: RwLock::new(Some(channel)),
        role,
        keys: RwLock::new(Arc::new(keys)),
        held_keys: held,
        link,
        access: ReadAccess::new(config.data_dir.clone()),
        data_dir: config.data_dir.clone(),
        admin_token: token,
        published: AtomicU64::new(published),
        committed: watch::Sender::new(committed),
        commit_logged_ms: AtomicU64::new(0),
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
        submit_order: Default::default(),
        promises: Mutex::new(HashMap::new()),
        promise_events: watch::Sender::new(0),
        cosign_lock: tokio::sync::Mutex::new(()),
        // At least one largest body, or it could never be received.
        body_budget: listen::BodyBudget::new(config.max_body_bytes.max(MAX_SUBMIT_BATCH_BYTES)),
        taxii,
        failure: failure::Failure::default(),
        evidence: evidence_store::EvidenceStore::new(config.data_dir.join(EVIDENCE_DIR)),
        promise_book: promise_check::PromiseBook::default(),
        attachments,
        last_attachment_error: Mutex::new(None),
        last_publish_error: Mutex::new(None),
        witnesses: Mutex::new(witness_status),
        wake_witnessing: Notify::new(),
        witness_urls,
        peer_check: watch::Sender::new(reconcile::initial(
            config.peer_check,
            config.peer_url.as_deref(),
            config.data_dir.join(crate::RESTORED_MARKER).exists(),
        )),
        config,
    });
    if role == Role::Cosigner {
        let guard = shared.ledger.read().unwrap_or_else(|p| p.into_inner());
        if let Some(ch) = guard.as_ref() {
            promise_check::load(&shared, ch);
        }
    }
    Ok((shared, batch_rx))
}

/// The public listener, the admin socket and (if asked for) the admin TCP listener.
fn spawn_servers(
    shared: &Arc<Shared>,
    listeners: Listeners,
    admin_socket: tokio::net::UnixListener,
) -> Vec<JoinHandle<()>> {
    let mut servers = vec![
        tokio::spawn(http::run(
            listeners.public,
            http::public_router(shared.clone()),
            public_handshake(shared),
            shared.clone(),
            "public",
        )),
        tokio::spawn(admin_listener::run(
            admin_socket,
            http::admin_router(shared.clone()),
            shared.clone(),
        )),
    ];
    if let Some((admin_listener, _)) = listeners.admin {
        servers.push(tokio::spawn(http::run(
            admin_listener,
            http::admin_router(shared.clone()),
            // Loopback and the admin token: no client identity needed.
            listen::Handshake::Plain(Caller::Anonymous),
            shared.clone(),
            "admin",
        )));
    }
    servers.push(tokio::spawn(link::renew_daily(shared.clone())));
    servers
}

/// TLS on the public listener, or plain HTTP behind a proxy (spec/node.md 9.1).
fn public_handshake(shared: &Shared) -> listen::Handshake {
    match &shared.link.acceptor {
        Some(acceptor) => listen::Handshake::Tls {
            acceptor: acceptor.clone(),
            clients: shared.link.clients.clone(),
        },
        None => listen::Handshake::Plain(Caller::TrustedProxy),
    }
}

/// The sequencer's batcher and committer (it alone has a batch queue), or the co-signer's
/// submitter.
fn spawn_workers(
    shared: &Arc<Shared>,
    batch_rx: Option<mpsc::Receiver<Submission>>,
) -> Vec<JoinHandle<()>> {
    let mut workers = match batch_rx {
        Some(rx) => vec![
            tokio::spawn(sequencer::run_batcher(shared.clone(), rx)),
            tokio::spawn(sequencer::run_committer(shared.clone())),
        ],
        None => vec![tokio::spawn(cosigner::run_submitter(shared.clone()))],
    };
    // Whatever the threshold now: a witness change can make witnesses needed later
    // (spec/dyad.md 3.8). Idle, the task only waits.
    workers.push(match shared.role {
        Role::Sequencer => tokio::spawn(witnessing::run_witnessing(shared.clone())),
        Role::Cosigner => tokio::spawn(witnessing::follow::run_follow(shared.clone())),
    });
    if shared.signing_blocked().is_some() {
        workers.push(tokio::spawn(reconcile::run(shared.clone())));
    }
    if let Some(publish) = shared.config.publish.clone() {
        workers.push(tokio::spawn(crate::publish::follow::run(
            shared.clone(),
            publish,
        )));
    }
    workers
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

    /// `https://<public address>` (`http://` with [`NodeConfig::insecure_http`]): the URL
    /// to give the peer and readers. A listener bound to every address (`0.0.0.0`, `::`) is
    /// named by loopback, which always reaches it.
    pub fn url(&self) -> String {
        let ip = match self.addr.ip() {
            IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let scheme = if self.shared.config.insecure_http {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{}", SocketAddr::new(ip, self.addr.port()))
    }

    /// The HTTP client this node uses towards its peer: it presents this node's
    /// certificate, so the peer's node serves it as the peer. For tests and tools that
    /// act as this party towards the other node.
    pub fn peer_client(&self) -> reqwest::Client {
        self.shared.http.clone()
    }

    /// The pin (`sha256//…`) of the certificate the node presents, which read credentials
    /// carry (spec/node.md 9.2).
    pub fn tls_pin(&self) -> String {
        self.shared.link.pin()
    }

    /// The TCP admin listener's address, if [`NodeConfig::admin_listen`] asked for one.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// `http://<TCP admin address>`.
    ///
    /// # Panics
    /// If the node has no TCP admin listener ([`NodeConfig::admin_listen`] `None`); use
    /// [`RunningNode::admin_socket`] with [`crate::AdminClient::over_socket`] then.
    pub fn admin_url(&self) -> String {
        let addr = self
            .admin_addr
            .expect("this node has no TCP admin listener (NodeConfig::admin_listen is None)");
        format!("http://{addr}")
    }

    /// The party's data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.shared.data_dir
    }

    /// The admin API's Unix socket, `<data_dir>/admin.sock`.
    pub fn admin_socket(&self) -> PathBuf {
        admin_socket_path(&self.shared.data_dir)
    }

    /// The bearer token the admin API requires.
    pub fn admin_token(&self) -> &str {
        &self.shared.admin_token
    }

    /// This node's role in the channel.
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

    /// Waits (at most `limit`) until the peer check (spec/node.md section 10) lets the node
    /// sign, or has found the replica diverged; returns where it stands.
    pub async fn peer_checked(&self, limit: Duration) -> crate::PeerCheck {
        let mut check = self.shared.peer_check.subscribe();
        let _ = tokio::time::timeout(
            limit,
            check.wait_for(|c| !matches!(c, crate::PeerCheck::Checking { .. })),
        )
        .await;
        let state = check.borrow().clone();
        state
    }

    /// The node's metrics, as `GET /metrics` renders them.
    pub fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    /// A snapshot of the node, as `GET /admin/status` shows it.
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
