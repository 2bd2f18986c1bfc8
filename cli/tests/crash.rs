//! Crash consistency under `kill -9`, with the real `dyad` binary.
//!
//! `dyad demo --messages 2` makes two data directories (alpha sequences the channel, bravo
//! co-signs); each is served by a `dyad serve` process on a fixed loopback port, so a
//! restarted node keeps its URL. A few load threads per party append messages through its
//! node's admin API (`POST /admin/append`, `wait: accepted`, bearer token from
//! `<data>/admin.token`, new at every start) while the main thread repeatedly SIGKILLs alpha, bravo or both at
//! moments drawn from a seeded PRNG (during group commit, replication and co-signing,
//! statistically) and restarts them. At the end both nodes are left to converge, stopped
//! gracefully, and the stores are checked offline:
//!
//! - both stores open (`dyad status`) and each root recomputes (`dyad audit --data`, exit 0);
//! - every entry acknowledged as durable (200 with an index) is at that index with the same
//!   leaf hash and subject, on both replicas; every message bravo acknowledged as durably
//!   queued (202, `queued`) was appended in the end;
//! - nothing is duplicated: per-sender sequence numbers are contiguous, no load subject
//!   appears twice;
//! - the replicas converge: same size and root, everything committed (co-signed again);
//! - every third message carries an attachment (4 KiB, its own bytes), stored beside the node
//!   as `dyad append --attach` stores it: in the end both replicas hold every attachment of
//!   every acknowledged or durably queued message, intact (the peer's node fetched it).
//!
//! Size: `DYAD_CRASH_CYCLES` (default 6, ~15 s), `DYAD_CRASH_CLIENTS` (concurrent
//! appenders per party, default 4), `DYAD_CRASH_SEED` (default: from the
//! clock; printed), `DYAD_CRASH_MIN_MS`/`DYAD_CRASH_MAX_MS` (load time between kills,
//! default 100–700 ms). By hand: `DYAD_CRASH_CYCLES=200 cargo test -p dyad-cli --test
//! crash -- --nocapture`. `DYAD_BIN` overrides the binary (see `support::dyad_bin`).

mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{
    base64_decode, demo_channel, dyad, env_u64, free_port, hex, holds_attachment, http,
    store_attachment, Node, COMMAND_TIMEOUT,
};

const PARTIES: [&str; 2] = ["alpha", "bravo"];

/// Every how many messages one carries an attachment.
const ATTACH_EVERY: u64 = 3;
/// The size of each attachment: small, so the CI run stays cheap.
const ATTACHMENT_SIZE: usize = 4096;

/// What a load thread saw.
#[derive(Default)]
struct Load {
    /// The attachment (SHA-256 hex, size) of each message sent with one, by subject.
    attachments: HashMap<String, (String, u64)>,
    /// 200: (index, leaf hash hex, subject): durable, must be found.
    acked: Vec<(u64, String, String)>,
    /// 202 `queued` (bravo): durably queued, must be appended in the end.
    queued: Vec<String>,
    /// Requests with no or an inconclusive answer (node killed, 202 pending, 503).
    unknown: u64,
    /// Answers that should never happen (4xx, 5xx other than 503, malformed 200).
    unexpected: Vec<String>,
}

/// One party: its data directory, fixed listen port, current node.
struct Party {
    name: &'static str,
    data: PathBuf,
    port: u16,
    log: PathBuf,
    node: Option<Node>,
    /// The admin URL and token (new at every start) the load threads use; None while the
    /// node is down.
    admin: Arc<Mutex<Option<(String, String)>>>,
}

impl Party {
    fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// Starts the node, retrying a few times (bounded), and publishes its admin URL.
    fn start(&mut self, peer: &str) {
        let mut last = String::new();
        for _ in 0..10 {
            match Node::start(
                &self.data,
                &format!("127.0.0.1:{}", self.port),
                peer,
                &self.log,
            ) {
                Ok(node) => {
                    assert_eq!(node.url, self.url());
                    *self.admin.lock().unwrap() =
                        Some((node.admin_url.clone(), node.admin_token.clone()));
                    self.node = Some(node);
                    return;
                }
                Err(e) => {
                    last = e;
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
        panic!(
            "{}'s node did not restart: {last}\n{}",
            self.name,
            log_tail(&self.log)
        );
    }

    fn kill9(&mut self) {
        *self.admin.lock().unwrap() = None;
        if let Some(node) = self.node.take() {
            node.kill9();
        }
    }
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(30);
    format!(
        "--- {} (tail) ---\n{}",
        log.display(),
        lines[from..].join("\n")
    )
}

fn load_thread(
    party: &'static str,
    data: PathBuf,
    client: u64,
    admin: Arc<Mutex<Option<(String, String)>>>,
    stop: Arc<AtomicBool>,
) -> JoinHandle<Load> {
    std::thread::spawn(move || {
        let mut load = Load::default();
        let mut n = 0u64;
        while !stop.load(Ordering::SeqCst) {
            let Some((url, token)) = admin.lock().unwrap().clone() else {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            n += 1;
            let subject = format!("crash-load {party} c{client} #{n}");
            let mut body = json!({
                "kind": "notification",
                "subject": subject,
                "content_type": "text/plain",
                "payload": "Y3Jhc2gtY29uc2lzdGVuY3k=",
                "wait": "accepted",
                "timeout_ms": 2000,
            });
            if n % ATTACH_EVERY == 0 {
                let bytes: Vec<u8> = subject.bytes().cycle().take(ATTACHMENT_SIZE).collect();
                let attachment = store_attachment(&data, "load.bin", &bytes);
                let sha256 = attachment["sha256"].as_str().unwrap_or_default().to_owned();
                load.attachments
                    .insert(subject.clone(), (sha256, ATTACHMENT_SIZE as u64));
                body["attachments"] = json!([attachment]);
            }
            let answer = http(
                "POST",
                &format!("{url}/admin/append"),
                Some(&token),
                body.to_string().as_bytes(),
                Duration::from_secs(10),
            );
            match answer {
                Ok((200, b)) => {
                    let v: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
                    match (v["index"].as_u64(), v["leaf_hash"].as_str()) {
                        (Some(i), Some(h)) => load.acked.push((i, h.to_owned(), subject)),
                        _ => load.unexpected.push(format!(
                            "200 without index: {}",
                            String::from_utf8_lossy(&b)
                        )),
                    }
                }
                Ok((202, b)) => {
                    let v: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
                    if v["state"] == "queued" {
                        load.queued.push(subject);
                    } else {
                        load.unknown += 1;
                    }
                }
                Ok((503, _)) | Err(_) => load.unknown += 1,
                Ok((status, b)) => load.unexpected.push(format!(
                    "{party} {subject}: {status} {}",
                    String::from_utf8_lossy(&b)
                )),
            }
        }
        load
    })
}

/// Waits until both replicas have the same size, all committed, bravo's queue empty, twice
/// in a row. Bounded: Err with the last statuses seen once nothing has moved (alpha's size
/// and committed size, bravo's size and queue) for `stall`, or after `limit` in all.
fn converge(parties: &[Party], stall: Duration, limit: Duration) -> Result<Duration, String> {
    let started = Instant::now();
    let mut last_move = Instant::now();
    let mut last_progress = Value::Null;
    let mut stable = 0;
    loop {
        let (a, b) = (admin_status(&parties[0]), admin_status(&parties[1]));
        if let (Some(a), Some(b)) = (&a, &b) {
            let converged = a["size"] == a["committed_size"]
                && a["size"] == b["size"]
                && b["size"] == b["committed_size"]
                && b["queued"] == 0;
            stable = if converged { stable + 1 } else { 0 };
            if stable >= 2 {
                return Ok(started.elapsed());
            }
            let progress = json!([a["size"], a["committed_size"], b["size"], b["queued"]]);
            if progress != last_progress {
                last_progress = progress;
                last_move = Instant::now();
            }
        }
        if last_move.elapsed() >= stall || started.elapsed() >= limit {
            return Err(format!(
                "no progress for {:.0} s ({:.0} s in all):\nalpha {}\nbravo {}",
                last_move.elapsed().as_secs_f64(),
                started.elapsed().as_secs_f64(),
                a.unwrap_or(Value::Null),
                b.unwrap_or(Value::Null)
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The node's `/metrics`, without histogram buckets.
fn metrics_of(party: &Party) -> String {
    match http(
        "GET",
        &format!("{}/metrics", party.url()),
        None,
        b"",
        Duration::from_secs(5),
    ) {
        Ok((_, body)) => String::from_utf8_lossy(&body)
            .lines()
            .filter(|l| l.starts_with("dyad_") && !l.contains("_bucket"))
            .collect::<Vec<_>>()
            .join("\n"),
        Err(e) => format!("no metrics: {e}"),
    }
}

/// Keeps the temporary directory (the data directories and node logs) when the test fails.
struct KeepOnPanic(Option<tempfile::TempDir>);

impl Drop for KeepOnPanic {
    fn drop(&mut self) {
        if let Some(tmp) = self.0.take() {
            if std::thread::panicking() {
                eprintln!(
                    "crash: kept the data directories and logs in {}",
                    tmp.keep().display()
                );
            }
        }
    }
}

fn admin_status(party: &Party) -> Option<Value> {
    let (url, token) = party.admin.lock().unwrap().clone()?;
    let (status, body) = http(
        "GET",
        &format!("{url}/admin/status"),
        Some(&token),
        b"",
        Duration::from_secs(5),
    )
    .ok()?;
    (status == 200)
        .then(|| serde_json::from_slice(&body).ok())
        .flatten()
}

#[test]
fn kill_nine_under_load_loses_nothing_duplicates_nothing_and_converges() {
    let cycles = env_u64("DYAD_CRASH_CYCLES", 6);
    let clients = env_u64("DYAD_CRASH_CLIENTS", 4).max(1);
    let seed = env_u64(
        "DYAD_CRASH_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
    );
    let (min_ms, max_ms) = (
        env_u64("DYAD_CRASH_MIN_MS", 100),
        env_u64("DYAD_CRASH_MAX_MS", 700),
    );
    println!("crash: {cycles} cycles, {clients} clients per party, seed {seed} (DYAD_CRASH_SEED={seed} to replay the schedule)");
    let mut rng = support::rng(seed);
    let started = Instant::now();

    let tmp = tempfile::tempdir().expect("temp dir");
    let dir_buf = tmp.path().to_owned();
    let dir = dir_buf.as_path();
    let _keep = KeepOnPanic(Some(tmp));
    let demo = demo_channel(dir, 2);
    let keys = demo.join("keys");

    let mut parties: Vec<Party> = PARTIES
        .iter()
        .map(|&name| Party {
            name,
            data: demo.join(name),
            port: free_port(),
            log: dir.join(format!("{name}.log")),
            node: None,
            admin: Arc::new(Mutex::new(None)),
        })
        .collect();
    let peer_urls = [parties[1].url(), parties[0].url()];
    for (i, p) in parties.iter_mut().enumerate() {
        p.start(&peer_urls[i]);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let mut loaders: Vec<JoinHandle<Load>> = Vec::new();
    for p in &parties {
        for client in 0..clients {
            let data = p.data.clone();
            loaders.push(load_thread(
                p.name,
                data,
                client,
                p.admin.clone(),
                stop.clone(),
            ));
        }
    }

    // The kill cycles: load for a random time, SIGKILL alpha, bravo or both, stay down for
    // a random time, restart.
    let mut kills = [0u64; 2];
    for cycle in 0..cycles {
        std::thread::sleep(Duration::from_millis(support::range(
            &mut rng, min_ms, max_ms,
        )));
        let victims: &[usize] = match support::range(&mut rng, 0, 5) {
            0 | 1 => &[0],
            2 | 3 => &[1],
            _ => &[0, 1],
        };
        for &v in victims {
            parties[v].kill9();
            kills[v] += 1;
        }
        std::thread::sleep(Duration::from_millis(support::range(&mut rng, 0, 300)));
        for &v in victims {
            parties[v].start(&peer_urls[v]);
        }
        if cycles <= 20 || cycle % 20 == 19 {
            println!(
                "cycle {}/{cycles}: killed {:?} ({:.1} s)",
                cycle + 1,
                victims.iter().map(|&v| PARTIES[v]).collect::<Vec<_>>(),
                started.elapsed().as_secs_f64()
            );
        }
    }
    // A little more load on the last restart, then stop the load.
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    let loads: Vec<Load> = loaders
        .into_iter()
        .map(|h| h.join().expect("load thread"))
        .collect();

    // Convergence (bounded): same size on both, everything committed, bravo's queue empty.
    let converged = converge(&parties, Duration::from_secs(60), Duration::from_secs(600));
    if let Err(stuck) = &converged {
        // Diagnose before failing: the nodes' metrics, and whether restarting both heals it
        // (a state stuck in memory) or not (a state stuck on disk).
        let metrics: Vec<String> = parties.iter().map(metrics_of).collect();
        for p in parties.iter_mut() {
            p.kill9();
        }
        for (p, peer) in parties.iter_mut().zip(&peer_urls) {
            p.start(peer);
        }
        let healed = converge(&parties, Duration::from_secs(30), Duration::from_secs(120));
        panic!(
            "the replicas did not converge (seed {seed}):\n{stuck}\n\
             metrics alpha:\n{}\nmetrics bravo:\n{}\n\
             after SIGKILL and restart of both: {}\n{}\n{}",
            metrics[0],
            metrics[1],
            match healed {
                Ok(t) => format!(
                    "converged in {:.1} s (the stall was in memory)",
                    t.as_secs_f64()
                ),
                Err(e) => format!("still stuck: {e}"),
            },
            log_tail(&parties[0].log),
            log_tail(&parties[1].log)
        );
    }

    // Graceful stops: the stores closed, then everything is checked offline.
    for p in parties.iter_mut() {
        let node = p.node.take().expect("running");
        *p.admin.lock().unwrap() = None;
        assert!(node.stop(), "{}'s node did not stop gracefully", p.name);
    }

    let mut logs = Vec::new();
    let mut roots = Vec::new();
    for p in &parties {
        let data = Some(p.data.as_path());
        let st = dyad(dir, &["--json", "status"], data, COMMAND_TIMEOUT);
        assert_eq!(st.code, Some(0), "{}: dyad status: {}", p.name, st.stderr);
        let st = st.json();
        assert_eq!(st["state"], "open", "{}: {st}", p.name);
        assert_eq!(st["size"], st["committed_size"], "{}: {st}", p.name);
        assert_eq!(st["pending"], 0, "{}: {st}", p.name);
        assert_eq!(st["queued"], 0, "{}: {st}", p.name);
        roots.push((st["size"].as_u64().unwrap(), st["root"].clone()));

        let audit = dyad(
            dir,
            &[
                "--json",
                "audit",
                "--trust",
                keys.join("alpha.pub").to_str().unwrap(),
                "--trust",
                keys.join("bravo.pub").to_str().unwrap(),
            ],
            data,
            COMMAND_TIMEOUT,
        );
        assert_eq!(
            audit.code,
            Some(0),
            "{}: dyad audit --data failed: {}{}",
            p.name,
            audit.stdout,
            audit.stderr
        );

        let log = dyad(dir, &["--json", "log"], data, COMMAND_TIMEOUT);
        assert_eq!(log.code, Some(0), "{}: dyad log: {}", p.name, log.stderr);
        let log = log.json();
        let entries = log["entries"].as_array().expect("entries").clone();
        assert_eq!(entries.len() as u64, roots.last().unwrap().0, "{}", p.name);
        for (i, e) in entries.iter().enumerate() {
            assert_eq!(e["index"], i as u64, "{}", p.name);
            assert_eq!(e["status"], "committed", "{}: {e}", p.name);
        }
        logs.push(entries);
    }
    assert_eq!(roots[0], roots[1], "the replicas differ (size, root)");
    for (i, (a, b)) in logs[0].iter().zip(&logs[1]).enumerate() {
        assert_eq!(
            a["leaf_hash"], b["leaf_hash"],
            "entry {i} differs between replicas"
        );
    }
    let entries = &logs[0];

    // Nothing lost: every acknowledged entry at its index, unchanged, on both replicas.
    let mut losses = Vec::new();
    let mut checked = 0u64;
    for load in &loads {
        for (index, leaf_hex, subject) in &load.acked {
            for (p, log) in parties.iter().zip(&logs) {
                checked += 1;
                let found = log.get(*index as usize).map(|e| {
                    (
                        e["leaf_hash"]
                            .as_str()
                            .and_then(base64_decode)
                            .map(|h| hex(&h))
                            .unwrap_or_default(),
                        e["subject"].as_str().unwrap_or_default().to_owned(),
                    )
                });
                if found.as_ref() != Some(&(leaf_hex.clone(), subject.clone())) {
                    losses.push(format!(
                        "{}: acknowledged {index} {leaf_hex} {subject:?}, found {found:?}",
                        p.name
                    ));
                }
            }
        }
    }
    // Bravo's durably queued messages (202 `queued`) made it in the end.
    let mut subjects: HashMap<&str, usize> = HashMap::new();
    for e in entries {
        if let Some(s) = e["subject"]
            .as_str()
            .filter(|s| s.starts_with("crash-load "))
        {
            *subjects.entry(s).or_default() += 1;
        }
    }
    for load in &loads {
        for subject in &load.queued {
            checked += 1;
            if !subjects.contains_key(subject.as_str()) {
                losses.push(format!("queued {subject:?} never appended"));
            }
        }
    }

    // Every attachment of a message that must be in the log is held, intact, by both.
    let mut attachments_checked = 0u64;
    for load in &loads {
        let must_be_in = load
            .acked
            .iter()
            .map(|(_, _, subject)| subject)
            .chain(&load.queued);
        for subject in must_be_in {
            let Some((sha256, size)) = load.attachments.get(subject) else {
                continue;
            };
            for p in &parties {
                attachments_checked += 1;
                if !holds_attachment(&p.data, sha256, *size) {
                    losses.push(format!(
                        "{}: the attachment {sha256} of {subject:?} is not held intact",
                        p.name
                    ));
                }
            }
        }
    }

    // Nothing duplicated: no load subject twice, per-sender sequences contiguous.
    let mut duplicates: Vec<String> = subjects
        .iter()
        .filter(|(_, &n)| n > 1)
        .map(|(s, n)| format!("{s:?} appended {n} times"))
        .collect();
    let mut sequences: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for e in entries {
        sequences
            .entry(e["sender"].as_str().unwrap_or_default().to_owned())
            .or_default()
            .push(e["sequence"].as_u64().expect("sequence"));
    }
    for (sender, seqs) in &sequences {
        let unique: HashSet<u64> = seqs.iter().copied().collect();
        if unique.len() != seqs.len() {
            duplicates.push(format!("{sender}: repeated sequence numbers"));
        }
        let first = seqs[0];
        let contiguous = first <= 1 && seqs.iter().enumerate().all(|(i, &s)| s == first + i as u64);
        if !contiguous {
            duplicates.push(format!("{sender}: sequences not contiguous: {seqs:?}"));
        }
    }

    let converged_in = converged.map(|t| t.as_secs_f64()).unwrap_or_default();
    let acked: usize = loads.iter().map(|l| l.acked.len()).sum();
    let queued: usize = loads.iter().map(|l| l.queued.len()).sum();
    let unknown: u64 = loads.iter().map(|l| l.unknown).sum();
    let unexpected: Vec<&String> = loads.iter().flat_map(|l| &l.unexpected).collect();
    println!(
        "crash: cycles run {cycles} (alpha killed {}, bravo killed {}), entries acknowledged {acked} \
         (+{queued} durably queued, {unknown} unanswered), entries checked {checked}, \
         attachment copies checked {attachments_checked}, \
         final size {}, converged in {converged_in:.1} s, losses {}, duplicates {}, seed {seed}, {:.1} s",
        kills[0],
        kills[1],
        entries.len(),
        losses.len(),
        duplicates.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(losses.is_empty(), "losses:\n{}", losses.join("\n"));
    assert!(
        duplicates.is_empty(),
        "duplicates:\n{}",
        duplicates.join("\n")
    );
    assert!(unexpected.is_empty(), "unexpected answers: {unexpected:?}");
    assert!(acked > 0, "nothing was acknowledged: the load did not run");
}
