//! Every HTTP request body the node accepts, through the real server: a sequencer and a
//! co-signer of one channel run in this process (over a temporary directory, on
//! 127.0.0.1), and each input becomes one request to one of their routes. Whatever the
//! body, the node answers (a handler that panicked would abort the fuzzer through
//! libFuzzer's panic hook), never with a server error other than 503, and a refused
//! request of any kind leaves both nodes serving.
//!
//! Both public listeners speak TLS 1.3 as in service: each node is sent its requests by
//! its peer's own client (which presents the peer's certificate), so the bodies reach
//! the handlers past the access guards.
//!
//! Layout: byte 0 picks the request, the rest is its body (or path):
//! - 0: `POST /submit` on the sequencer (one encoded entry);
//! - 1: `POST /add-checkpoint` on the co-signer (tlog-witness);
//! - 2: `POST /admin/append` on the sequencer, with its token (JSON);
//! - 3: `POST /admin/append` on the co-signer, with its token;
//! - 4: `GET /tile/<rest>` on the sequencer (percent-encoded), the tiles API's path parser;
//! - 5: `POST /submit` on the co-signer (refused: not the sequencer);
//! - 6: `POST /add-checkpoint` on the sequencer (refused: not a co-signer);
//! - 7: `POST /admin/append` on the sequencer with a wrong token (refused: 401);
//! - 8: `POST /add-checkpoint` on the co-signer, the note signed by the target with the
//!   channel's log key (the rest is an add-checkpoint body whose note is the checkpoint
//!   text), so that the fuzzer gets past the signature check to the co-signer's checks of
//!   sizes, proofs and the sequencer's tiles. The co-signer then may also answer 502 (it
//!   could not fetch the entries such a checkpoint claims from the sequencer).
//! - 9: `POST /submit-batch` on the sequencer, the rest as the body;
//! - 10: `POST /submit-batch` on the sequencer, the rest cut at each 0xFF byte into
//!   entries framed as a batch (`submit::encode_batch`), so that the fuzzer gets past the
//!   framing to the checks of each entry (an empty body when it cannot be framed);
//! - 11: `POST /submit-batch` on the co-signer (refused: not the sequencer);
//! - 12: a `GET` of the replica's reads on the sequencer's admin API, with its token: the
//!   next byte picks `/admin/receipt`, `/admin/proof/inclusion`, `/admin/proof/consistency`
//!   or `/admin/checkpoint`, the rest is the query (the admin API's query parser).
//!
//! Accepted admin appends really append (both nodes then replicate and co-sign), so the
//! log grows while the target runs; that is what the node does in service.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dyad_ledger::channel::{Channel, Role};
use dyad_ledger::genesis::{cosign_proposal, Genesis, Party};
use dyad_ledger::keys::SignerKey;
use dyad_node::submit::encode_batch;
use dyad_node::witness::AddCheckpoint;
use dyad_node::{NodeConfig, RunningNode};
use dyad_verifier::key::VerifierKey;
use dyad_verifier::note::signature_line;
use libfuzzer_sys::fuzz_target;

const ORIGIN: &str = "example.org/dyad/fuzz";
const DIR_PREFIX: &str = "dyad-fuzz-node-http-";

struct World {
    rt: tokio::runtime::Runtime,
    seq: RunningNode,
    cos: RunningNode,
    http: reqwest::Client,
    /// Presents the co-signer's certificate: the sequencer serves it as its peer.
    as_cos: reqwest::Client,
    /// Presents the sequencer's certificate: the co-signer serves it as its peer.
    as_seq: reqwest::Client,
    /// The sequencer's key and its log key (named after the origin), to sign checkpoints.
    alpha: SignerKey,
    log_key: VerifierKey,
}

/// Data directories of earlier runs whose process is gone (libFuzzer exits without
/// running destructors, so each run removes what the previous ones left).
fn remove_stale_dirs(base: &std::path::Path) {
    let Ok(dir) = std::fs::read_dir(base) else {
        return;
    };
    for e in dir.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(DIR_PREFIX)) else {
            continue;
        };
        if !PathBuf::from(format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        // tmpfs when there is one: the nodes fsync every batch.
        let shm = PathBuf::from("/dev/shm");
        let base = if shm.is_dir() {
            shm
        } else {
            std::env::temp_dir()
        };
        remove_stale_dirs(&base);
        let dir = base.join(format!("{DIR_PREFIX}{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let alpha = SignerKey::from_seed("example.org/alpha", [1; 32]).expect("key");
        let bravo = SignerKey::from_seed("example.org/bravo", [2; 32]).expect("key");
        let log_key = alpha
            .verifier_key()
            .with_name(ORIGIN)
            .expect("the origin is a key name");
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_millis() as u64;
        let genesis = Genesis::new(ORIGIN, Party::of(&alpha), Party::of(&bravo));
        let proposal = genesis.propose(&alpha, now - 1000).expect("propose");
        let (entry, _) = cosign_proposal(&proposal.bytes, &bravo).expect("co-sign");
        for party in ["alpha", "bravo"] {
            dyad_ledger::private_dir::create_dir(&dir.join(party)).expect("data directory");
        }
        Channel::create(&dir.join("alpha/ledger"), &entry, Role::Sequencer).expect("create");
        Channel::create(&dir.join("bravo/ledger"), &entry, Role::Cosigner).expect("create");
        let config = |party: &str, key: SignerKey| {
            let data = dir.join(party);
            let mut c = NodeConfig::new(data.clone(), data.join("ledger"), key);
            c.max_delay = Duration::from_millis(1);
            c.retry_initial = Duration::from_millis(10);
            c.retry_max = Duration::from_millis(100);
            c.peer_timeout = Duration::from_secs(5);
            c.max_wait = Duration::from_secs(2);
            c
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (seq, cos) = rt.block_on(async {
            let seq = dyad_node::start(config("alpha", alpha.clone()))
                .await
                .expect("sequencer");
            let mut cc = config("bravo", bravo);
            cc.peer_url = Some(seq.url());
            let cos = dyad_node::start(cc).await.expect("co-signer");
            seq.set_peer_url(Some(cos.url()));
            (seq, cos)
        });
        // The admin API: plain HTTP on loopback.
        dyad_node::tls::install_default_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(8))
            .build()
            .expect("client");
        // The public listeners speak TLS: each node is reached with its peer's client.
        let (as_cos, as_seq) = (cos.peer_client(), seq.peer_client());
        World {
            rt,
            seq,
            cos,
            http,
            as_cos,
            as_seq,
            alpha,
            log_key,
        }
    })
}

/// Case 12's URL: one of the admin reads, the query the rest of `body` with `=` and `&`
/// kept as they are and everything else percent-encoded.
fn admin_read_url(admin: &str, body: &[u8]) -> String {
    const PATHS: [&str; 4] = [
        "/admin/receipt",
        "/admin/proof/inclusion",
        "/admin/proof/consistency",
        "/admin/checkpoint",
    ];
    let (pick, query) = body.split_first().unwrap_or((&0, &[]));
    let mut url = format!("{admin}{}?", PATHS[usize::from(*pick) % 4]);
    for part in query.split(|&b| b == b'&') {
        if !url.ends_with('?') {
            url.push('&');
        }
        let encoded: Vec<String> = part.split(|&b| b == b'=').map(percent_encode).collect();
        url.push_str(&encoded.join("="));
    }
    url
}

fn percent_encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            s.push(char::from(b));
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// `body` as an add-checkpoint request whose note (the checkpoint text) gets the log's
/// signature; unchanged when it is not one.
fn signed_checkpoint(w: &World, body: &[u8]) -> Vec<u8> {
    let Ok(mut req) = AddCheckpoint::parse(body) else {
        return body.to_vec();
    };
    let sig = w.alpha.sign(&req.note);
    let line = signature_line(w.log_key.name(), w.log_key.key_id(), &sig);
    req.note.push(b'\n');
    req.note.extend_from_slice(line.as_bytes());
    req.encode()
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let w = world();
    let which = which % 13;
    let request = match which {
        0 => w.as_cos.post(format!("{}/submit", w.seq.url())),
        1 => w.as_seq.post(format!("{}/add-checkpoint", w.cos.url())),
        2 => w
            .http
            .post(format!("{}/admin/append", w.seq.admin_url()))
            .bearer_auth(w.seq.admin_token()),
        3 => w
            .http
            .post(format!("{}/admin/append", w.cos.admin_url()))
            .bearer_auth(w.cos.admin_token()),
        4 => w
            .as_cos
            .get(format!("{}/tile/{}", w.seq.url(), percent_encode(body))),
        5 => w.as_seq.post(format!("{}/submit", w.cos.url())),
        6 => w.as_cos.post(format!("{}/add-checkpoint", w.seq.url())),
        7 => w
            .http
            .post(format!("{}/admin/append", w.seq.admin_url()))
            .bearer_auth("not-the-token"),
        8 => w.as_seq.post(format!("{}/add-checkpoint", w.cos.url())),
        9 | 10 => w.as_cos.post(format!("{}/submit-batch", w.seq.url())),
        11 => w.as_seq.post(format!("{}/submit-batch", w.cos.url())),
        _ => w
            .http
            .get(admin_read_url(&w.seq.admin_url(), body))
            .bearer_auth(w.seq.admin_token()),
    };
    let request = match which {
        4 | 12 => request,
        8 => request.body(signed_checkpoint(w, body)),
        10 => {
            // An entry too long to frame is cut: the batch stays well framed.
            let entries = body
                .split(|&b| b == 0xFF)
                .map(|e| &e[..e.len().min(65_535)]);
            request.body(encode_batch(entries).unwrap_or_default())
        }
        _ => request.body(body.to_vec()),
    };
    let (status, text) = w.rt.block_on(async {
        let r = request
            .send()
            .await
            .expect("the node answers every request");
        let status = r.status().as_u16();
        (status, r.text().await.unwrap_or_default())
    });
    assert!(
        status < 500 || status == 503 || (which == 8 && status == 502),
        "request {which} answered {status}: {text}"
    );
    match which {
        5 | 6 | 11 => assert_eq!(status, 404, "{text}"),
        7 => assert_eq!(status, 401, "{text}"),
        _ => {}
    }
});
