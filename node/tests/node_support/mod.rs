//! Two nodes of one channel on 127.0.0.1, over temporary directories, for the node tests.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use dyad_ledger::channel::Channel;
use dyad_ledger::keys::SignerKey;
use dyad_node::{self, AdminClient, AppendRequest, AppendResponse, NodeConfig, RunningNode};

pub mod witnesses;
pub use dyad_testkit::channel::{alpha, bravo};

/// The test channel's origin.
pub const ORIGIN: &str = dyad_testkit::channel::ORIGIN;

pub use dyad_ledger::clock::now_ms;

/// A tokio runtime like a small server's: two workers.
pub fn runtime() -> tokio::runtime::Runtime {
    dyad_node::runtime::workers("dyad-test", Some(2)).unwrap()
}

/// Creates both replicas of a new channel (alpha sequences) under `dir`, as `dyad init`
/// would: `dir/alpha/ledger` and `dir/bravo/ledger`, in data directories of mode 0700.
pub fn create_channel(dir: &Path) {
    // Data directories are their owner's only (0700): a node refuses to start otherwise.
    for party in ["alpha", "bravo"] {
        dyad_ledger::private_dir::create_dir(&dir.join(party)).unwrap();
    }
    dyad_testkit::channel::create(
        &dir.join("alpha/ledger"),
        &dir.join("bravo/ledger"),
        now_ms() - 1000,
    );
}

/// A read credential for `node`, granted in its data directory as `dyad access grant`
/// would, and how its holder reaches the node.
pub fn reader(node: &RunningNode, name: &str) -> dyad_node::Reach {
    dyad_node::Reach::credential(&credential(node, name)).unwrap()
}

/// The credential itself (see [`reader`]).
pub fn credential(node: &RunningNode, name: &str) -> dyad_node::access::ReadCredential {
    let mut store = dyad_node::access::CredentialStore::open(node.data_dir()).unwrap();
    let token = store.grant(name, now_ms() / 1000).unwrap();
    dyad_node::access::ReadCredential {
        name: name.to_owned(),
        token,
        server_pin: dyad_node::tls::parse_pin(&node.tls_pin()).unwrap(),
        expires: None,
    }
}

/// Fast timings for tests.
pub fn config(dir: &Path, party: &str, key: SignerKey) -> NodeConfig {
    let data = dir.join(party);
    let mut c = NodeConfig::new(data.clone(), data.join("ledger"), key);
    c.max_delay = Duration::from_millis(5);
    c.retry_initial = Duration::from_millis(20);
    c.retry_max = Duration::from_millis(250);
    c.peer_timeout = Duration::from_secs(5);
    c.max_wait = Duration::from_secs(20);
    c
}

/// Two running nodes: alpha the sequencer, bravo the co-signer.
pub struct Pair {
    pub dir: tempfile::TempDir,
    pub seq: Option<RunningNode>,
    pub cos: Option<RunningNode>,
    pub seq_addr: SocketAddr,
    pub cos_addr: SocketAddr,
    pub seq_config: NodeConfig,
    pub cos_config: NodeConfig,
}

impl Pair {
    pub async fn start() -> Pair {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl Fn(&mut NodeConfig)) -> Pair {
        let dir = tempfile::tempdir().unwrap();
        create_channel(dir.path());
        let mut seq_config = config(dir.path(), "alpha", alpha());
        let mut cos_config = config(dir.path(), "bravo", bravo());
        tweak(&mut seq_config);
        tweak(&mut cos_config);
        let seq = dyad_node::start(seq_config.clone()).await.unwrap();
        cos_config.peer_url = Some(seq.url());
        let cos = dyad_node::start(cos_config.clone()).await.unwrap();
        seq.set_peer_url(Some(cos.url()));
        peer_of(&seq, &cos);
        peer_of(&cos, &seq);
        seq_config.peer_url = Some(cos.url());
        // Restarts listen where they listened before, so the peer's URL stays right.
        seq_config.listen = seq.addr();
        cos_config.listen = cos.addr();
        seq_config.admin_listen = seq.admin_addr();
        cos_config.admin_listen = cos.admin_addr();
        Pair {
            dir,
            seq_addr: seq.addr(),
            cos_addr: cos.addr(),
            seq: Some(seq),
            cos: Some(cos),
            seq_config,
            cos_config,
        }
    }

    pub fn seq(&self) -> &RunningNode {
        self.seq.as_ref().expect("the sequencer runs")
    }

    pub fn cos(&self) -> &RunningNode {
        self.cos.as_ref().expect("the co-signer runs")
    }

    /// An HTTP client that the sequencer's node serves as its peer (it presents the
    /// co-signer's certificate).
    pub fn as_cos(&self) -> reqwest::Client {
        self.cos().peer_client()
    }

    /// An HTTP client that the co-signer's node serves as its peer.
    pub fn as_seq(&self) -> reqwest::Client {
        self.seq().peer_client()
    }

    pub fn seq_ledger(&self) -> PathBuf {
        self.dir.path().join("alpha/ledger")
    }

    pub fn cos_ledger(&self) -> PathBuf {
        self.dir.path().join("bravo/ledger")
    }

    pub async fn kill_seq(&mut self) {
        self.seq.take().unwrap().kill().await;
    }

    pub async fn kill_cos(&mut self) {
        self.cos.take().unwrap().kill().await;
    }

    pub async fn start_seq(&mut self) {
        assert!(self.seq.is_none());
        let seq = start_retrying(self.seq_config.clone()).await;
        // With the co-signer up, the sequencer confirms its replica in moments.
        if self.cos.is_some() {
            seq.peer_checked(Duration::from_secs(10)).await;
        }
        self.seq = Some(seq);
    }

    pub async fn start_cos(&mut self) {
        assert!(self.cos.is_none());
        let cos = start_retrying(self.cos_config.clone()).await;
        if self.seq.is_some() {
            cos.peer_checked(Duration::from_secs(10)).await;
        }
        self.cos = Some(cos);
    }

    /// Stops both gracefully.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(n) = self.cos.take() {
            n.shutdown().await.unwrap();
        }
        if let Some(n) = self.seq.take() {
            n.shutdown().await.unwrap();
        }
        self.dir
    }

    /// Waits until both replicas hold the same tree, all of it committed.
    pub async fn wait_converged(&self, limit: Duration) -> u64 {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let s = self.seq().status().await.unwrap();
            let c = self.cos().status().await.unwrap();
            if s.committed_size == s.size
                && c.size == s.size
                && c.committed_size == s.size
                && c.queued == 0
            {
                return s.size;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "replicas did not converge within {limit:?}: sequencer {s:?}, co-signer {c:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Starts a node, retrying briefly while its old port is still being released.
pub async fn start_retrying(config: NodeConfig) -> RunningNode {
    let mut tries = 0;
    loop {
        match dyad_node::start(config.clone()).await {
            Ok(n) => return n,
            Err(e) if tries < 50 => {
                tries += 1;
                eprintln!("restart attempt {tries}: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("cannot restart the node: {e}"),
        }
    }
}

/// Polls `f` every 20 ms until it holds or `limit` passes.
pub async fn wait_until<F, Fut>(limit: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if f().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn admin(node: &RunningNode) -> AdminClient {
    AdminClient::new(&node.admin_url(), node.admin_token()).unwrap()
}

pub fn request(subject: &str, wait: &str) -> AppendRequest {
    AppendRequest {
        kind: "notification".into(),
        subject: subject.into(),
        content_type: "text/plain".into(),
        payload: STANDARD.encode(format!("body of {subject}")),
        wait: Some(wait.into()),
        timeout_ms: Some(15_000),
        ..AppendRequest::default()
    }
}

pub async fn append(node: &RunningNode, subject: &str, wait: &str) -> (u16, AppendResponse) {
    admin(node).append(&request(subject, wait)).await.unwrap()
}

/// The subjects of all entries after the genesis, in log order.
pub fn subjects(ledger: &Path) -> Vec<String> {
    let ch = Channel::open(ledger).unwrap();
    (1..ch.size())
        .map(|i| ch.entry(i).unwrap().entry.body.subject)
        .collect()
}

/// (size, root, committed size) of a closed replica.
pub fn head(ledger: &Path) -> (u64, [u8; 32], u64) {
    let ch = Channel::open(ledger).unwrap();
    (ch.size(), ch.store().root(), ch.committed_size().unwrap())
}

/// Clients that a node serves as its peer, by the node's base URL (see [`peer_of`]).
static PARTY_CLIENTS: std::sync::Mutex<Vec<(String, reqwest::Client)>> =
    std::sync::Mutex::new(Vec::new());

/// Makes [`http_to`] use `other`'s client (it presents `other`'s certificate) for requests
/// to `node`: `node` serves them as its peer's.
pub fn peer_of(node: &RunningNode, other: &RunningNode) {
    let mut clients = PARTY_CLIENTS.lock().unwrap();
    clients.retain(|(url, _)| *url != node.url());
    clients.push((node.url(), other.peer_client()));
}

/// Makes [`http_to`] use `client` for requests to `url`.
pub fn use_client_for(url: String, client: reqwest::Client) {
    let mut clients = PARTY_CLIENTS.lock().unwrap();
    clients.retain(|(u, _)| *u != url);
    clients.push((url, client));
}

/// A rustls client config that presents `party`'s node certificate (from its data
/// directory under `dir`) and accepts the other party's node: for raw TLS connections.
pub fn party_tls(dir: &Path, party: &str) -> std::sync::Arc<rustls::ClientConfig> {
    use dyad_node::tls::{peer_client_config, CertSlot, PartyVerifier, TlsIdentity};
    let (key, other) = match party {
        "alpha" => (alpha(), bravo()),
        _ => (bravo(), alpha()),
    };
    let (identity, _) =
        TlsIdentity::load_or_create(&dir.join(party), &key, ORIGIN, now_ms() / 1000).unwrap();
    let slot = CertSlot::new(identity.certified_key().unwrap());
    let verifier = PartyVerifier::new(ORIGIN, vec![other.public_key()]).unwrap();
    std::sync::Arc::new(peer_client_config(slot, verifier).unwrap())
}

/// The client to reach `url` as its node's peer, once [`peer_of`] registered one (as
/// [`Pair`] does); otherwise a client without a certificate, which a node serves as a
/// stranger.
pub fn http_to(url: &str) -> reqwest::Client {
    let clients = PARTY_CLIENTS.lock().unwrap();
    clients
        .iter()
        .find(|(base, _)| url.starts_with(base.as_str()))
        .map(|(_, c)| c.clone())
        .unwrap_or_else(stranger)
}

/// A TLS client without a certificate that accepts any server certificate: what a
/// stranger (or a reader without a credential) can do.
pub fn stranger() -> reqwest::Client {
    dyad_node::tls::install_default_provider();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .tls_danger_accept_invalid_certs(true)
        .build()
        .unwrap()
}

/// A client for the admin API (plain HTTP on loopback).
pub fn http() -> reqwest::Client {
    dyad_node::tls::install_default_provider();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}
