//! Witnesses for the node tests: their keys, a channel whose genesis names some, and
//! `dyad witness serve`'s server started in process.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use dyad_ledger::channel::{Channel, Role};
use dyad_ledger::genesis::{cosign_proposal, Genesis, Party};
use dyad_ledger::keys::SignerKey;
use dyad_ledger::wire::witness_request::TrustedLog;
use dyad_node::witness_server::http::{start, RunningWitness, WitnessConfig};
use dyad_node::{NodeConfig, RunningNode, WitnessUrl};

use super::{alpha, bravo, config, now_ms, peer_of, ORIGIN};

/// Witness `i`'s key, named `witness{i}.example`.
pub fn witness_key(i: u8) -> SignerKey {
    SignerKey::from_seed(&format!("witness{i}.example"), [40 + i; 32]).unwrap()
}

/// Both replicas of a channel with witnesses 1..=n and `threshold`.
pub fn create_witnessed_channel(dir: &Path, n: u8, threshold: u8) {
    for party in ["alpha", "bravo"] {
        dyad_ledger::private_dir::create_dir(&dir.join(party)).unwrap();
    }
    let mut terms = Genesis::new(ORIGIN, Party::of(&alpha()), Party::of(&bravo()));
    terms.witnesses = (1..=n).map(|i| Party::of(&witness_key(i))).collect();
    terms.witness_threshold = threshold;
    let proposal = terms.propose(&alpha(), now_ms() - 1000).unwrap();
    let (entry, _) = cosign_proposal(&proposal.bytes, &bravo()).unwrap();
    Channel::create(&dir.join("alpha/ledger"), &entry, Role::Sequencer).unwrap();
    Channel::create(&dir.join("bravo/ledger"), &entry, Role::Cosigner).unwrap();
}

/// Witness `i` (the standalone witness's server) on `listen`, for the test channel's log
/// key, its record under `dir`. Retries while the address is not free yet.
pub async fn start_witness(dir: &Path, i: u8, listen: SocketAddr) -> RunningWitness {
    let log_key = alpha().verifier_key().with_name(ORIGIN).unwrap();
    let config = || WitnessConfig {
        key: witness_key(i),
        logs: vec![TrustedLog {
            origin: ORIGIN.into(),
            keys: vec![log_key.clone()],
        }],
        data_dir: dir.join(format!("witness{i}")),
        listen,
    };
    let mut tries = 0;
    loop {
        match start(config()).await {
            Ok(w) => return w,
            Err(e) if tries < 50 => {
                tries += 1;
                eprintln!("witness start attempt {tries}: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("cannot start the witness: {e}"),
        }
    }
}

/// A loopback address nobody listens on (yet).
pub async fn free_addr() -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

/// Two running nodes of a witnessed channel.
pub struct Channel2 {
    pub dir: tempfile::TempDir,
    pub seq: RunningNode,
    pub cos: RunningNode,
}

/// Both nodes of a channel with witnesses 1..=n and `threshold`, the sequencer given
/// the URLs of `witness_addrs` (witness 1 first).
pub async fn start_nodes(n: u8, threshold: u8, witness_addrs: &[SocketAddr]) -> Channel2 {
    start_nodes_with(n, threshold, witness_addrs, |_| {}).await
}

/// [`start_nodes`], with the sequencer's configuration changed by `tweak`.
pub async fn start_nodes_with(
    n: u8,
    threshold: u8,
    witness_addrs: &[SocketAddr],
    tweak: impl Fn(&mut NodeConfig),
) -> Channel2 {
    let dir = tempfile::tempdir().unwrap();
    create_witnessed_channel(dir.path(), n, threshold);
    let mut seq_config: NodeConfig = config(dir.path(), "alpha", alpha());
    tweak(&mut seq_config);
    seq_config.witnesses = witness_addrs
        .iter()
        .enumerate()
        .map(|(i, a)| WitnessUrl {
            name: witness_key(i as u8 + 1).name().to_owned(),
            url: format!("http://{a}"),
        })
        .collect();
    let mut cos_config = config(dir.path(), "bravo", bravo());
    let seq = dyad_node::start(seq_config).await.unwrap();
    cos_config.peer_url = Some(seq.url());
    let cos = dyad_node::start(cos_config).await.unwrap();
    seq.set_peer_url(Some(cos.url()));
    peer_of(&seq, &cos);
    peer_of(&cos, &seq);
    Channel2 { dir, seq, cos }
}
