//! How a node runs: [`NodeConfig`] and its defaults.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use dyad_ledger::entry::MAX_ENTRY_LEN;
use dyad_ledger::keys::SignerKey;

/// How a node runs. [`NodeConfig::new`] fills in the defaults.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// The party's data directory (mode 0700, its files 0600; checked at start): the node
    /// keeps [`crate::ADMIN_TOKEN_FILE`], [`crate::ADMIN_SOCKET_FILE`],
    /// [`crate::EVIDENCE_DIR`] and [`crate::PROMISES_DIR`] there.
    pub data_dir: PathBuf,
    /// The replica's store (what `Channel::open` opens), e.g. `<data_dir>/ledger`.
    pub ledger_dir: PathBuf,
    /// This party's key: the key its party signs with now (its genesis key, or the new
    /// key of its latest key change, spec/dyad.md 3.7).
    pub key: SignerKey,
    /// Keys this party had before `key`. The node never signs with them; it binds its TLS
    /// certificate with the one that is still the party's key at the committed size,
    /// because the peer accepts the new key only once the key change is co-signed
    /// (spec/node.md 9.3).
    pub previous_keys: Vec<SignerKey>,
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
    /// The longest pause between retries to the peer.
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
    /// Serve plain HTTP (no TLS) on the public listener, for a node behind a
    /// TLS-terminating proxy: the node cannot see client certificates then, so it serves
    /// every request as it would the peer's, and the proxy must admit only the peer and
    /// readers. Also lets the node reach its peer at an `http://` URL. Default `false`:
    /// TLS 1.3 only (spec/node.md section 9).
    pub insecure_http: bool,
    /// Answer the read API and `/metrics` without a credential (a channel whose content is
    /// public). Default `false`: the peer and read-credential holders only.
    pub public_read: bool,
    /// Before signing anything, confirm with the peer that this replica holds everything
    /// this party signed, catching up from the peer if it does not (spec/node.md section
    /// 10). Default `true`. `false` (`dyad serve --no-peer-check`) is only for a replica
    /// whose disk was never restored from a copy, when the peer cannot be reached.
    pub peer_check: bool,
    /// The auditor's page (one HTML file, verifier-wasm/www), served at `/audit/` on the
    /// public listener without a credential: it holds no data of the log, and reads the
    /// log with the reader's own credential. `None`: `/audit/` says it was not built.
    pub auditor_page: Option<&'static [u8]>,
    /// Publish the log to object storage after each commit (`dyad serve --publish`).
    /// Default `None`.
    pub publish: Option<crate::publish::PublishConfig>,
    /// Sequencer: the add-checkpoint URL of each witness, by key name (the genesis and
    /// witness changes name witnesses by key only). A witness without one is never asked.
    /// URLs given to the witness-change routes are added while the node runs.
    pub witnesses: Vec<crate::witnessing::WitnessUrl>,
    /// Where the URLs given to the witness-change routes (spec/node.md 5.6) are stored so
    /// that they last (`dyad serve`: `dyad.json`). `None`: they hold until the node stops.
    pub save_witness_urls: Option<crate::witnessing::urls::WitnessUrlSaver>,
}

impl NodeConfig {
    /// A configuration with the defaults: loopback listeners on ephemeral ports, no peer
    /// URL yet.
    pub fn new(data_dir: PathBuf, ledger_dir: PathBuf, key: SignerKey) -> NodeConfig {
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        NodeConfig {
            data_dir,
            ledger_dir,
            key,
            previous_keys: Vec::new(),
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
            insecure_http: false,
            public_read: false,
            peer_check: true,
            auditor_page: None,
            publish: None,
            witnesses: Vec::new(),
            save_witness_urls: None,
        }
    }

    /// The byte bound of one co-signing step as it applies: [`NodeConfig::max_cosign_bytes`],
    /// but at least one largest entry (or no step could ever be taken).
    pub fn max_step_bytes(&self) -> usize {
        self.max_cosign_bytes.max(MAX_ENTRY_LEN)
    }
}
