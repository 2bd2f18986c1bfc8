//! Measurement 2: two live nodes on loopback, in this process
//! (`dyad_node`, as `dyad serve` runs it, with its default group commit: up to
//! 512 entries or 10 ms per batch).
//!
//! An entry is committed once it is covered by a checkpoint that both parties signed, i.e.
//! after the sequencer made the batch durable, signed the checkpoint, and the co-signer
//! fetched the new entries over the tiles API, checked and stored them and returned its
//! cosignature.
//!
//! - saturation: both parties' messages at once, as `ledger/examples/node_load.rs
//!   saturate` sends them. The co-signer's messages are queued in its replica before its
//!   node starts (`Channel::queue_own_batch`), so its node submits them in batches
//!   (`POST /submit-batch`, spec/node.md 4.3) as fast as the sequencer takes them, while
//!   admin clients post the sequencer's own messages back to back (`POST /admin/append`,
//!   `wait: accepted`) until the co-signer's queue has drained. The figure is the growth
//!   of the sequencer's committed size (its newest co-signed checkpoint) from its first
//!   growth to its last one, over that time;
//! - latency: at each offered load (entries/s), messages are posted to the sequencer's
//!   admin API on a fixed schedule (open loop: a slow answer does not delay the next
//!   post), and submit-to-committed latency is each post's time until its committed
//!   answer (`wait: committed`).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use dyad_ledger::channel::Channel;
use dyad_ledger::entry::{Draft, Kind};
use dyad_ledger::keys::SignerKey;
use dyad_node::{AdminClient, AppendRequest, NodeConfig, RunningNode};
use tokio::time::Instant;

use super::fixture::{self, now_ms, Parties, PAYLOAD_LEN};
use super::report::{process_cpu_seconds, set_percentiles, Figures};
use super::{BenchError, BenchResult, Progress, Sizes};

/// How long the saturation stage may take before the bench gives up on it.
const SATURATION_LIMIT: Duration = Duration::from_secs(300);

/// How long the co-signer's promises may stop growing at saturation before the bench
/// reads its queue's length.
const STALLED: Duration = Duration::from_secs(1);

/// How long a node's graceful stop may take.
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(20);

fn payload(n: u64) -> Vec<u8> {
    let mut payload = format!("Load message {n}: nothing new on our side. ").into_bytes();
    payload.resize(PAYLOAD_LEN, b'.');
    payload
}

pub(super) fn request(n: u64, wait: &str) -> AppendRequest {
    AppendRequest {
        kind: "notification".into(),
        subject: format!("load message {n}"),
        content_type: "text/plain".into(),
        payload: STANDARD.encode(payload(n)),
        wait: Some(wait.into()),
        timeout_ms: Some(15_000),
        ..AppendRequest::default()
    }
}

/// Posts one message; its latency until committed, or None if it was not committed.
async fn post(client: &AdminClient, n: u64) -> Option<Duration> {
    let start = Instant::now();
    match client.append(&request(n, "committed")).await {
        Ok((200, answer)) if answer.state == "committed" => Some(start.elapsed()),
        _ => None,
    }
}

/// Posts one message and waits only until it is durable in the sequencer's log.
async fn post_accepted(client: &AdminClient, n: u64) -> bool {
    matches!(client.append(&request(n, "accepted")).await, Ok((200, _)))
}

/// Queues `n` messages of the co-signer in its replica (closed), signed as its node would
/// sign them, in store batches of 1000: its node submits them once it starts.
fn preload_cosigner_queue(ledger: &Path, key: &SignerKey, n: u64) -> BenchResult<()> {
    let mut channel = Channel::open(ledger)?;
    for from in (0..n).step_by(1000) {
        let drafts = (from..(from + 1000).min(n))
            .map(|i| {
                Draft::new(
                    Kind::Notification,
                    &format!("queued message {i}"),
                    "text/plain",
                    payload(i),
                )
            })
            .collect();
        channel.queue_own_batch(key, drafts, now_ms())?;
    }
    Ok(())
}

/// The sequencer's committed size as sampled over a run: where it stood, and when it
/// first and last grew.
struct Growth {
    start: (Instant, u64),
    first: Option<(Instant, u64)>,
    last: Option<(Instant, u64)>,
}

impl Growth {
    fn new(size: u64) -> Growth {
        Growth {
            start: (Instant::now(), size),
            first: None,
            last: None,
        }
    }

    fn sample(&mut self, seq: &RunningNode) -> u64 {
        let size = seq.metrics().committed_size.load(Ordering::Relaxed);
        let seen = self.last.map_or(self.start.1, |(_, s)| s);
        if size > seen {
            let now = Instant::now();
            self.first.get_or_insert((now, size));
            self.last = Some((now, size));
        }
        size
    }

    /// (entries, seconds) from the first growth to the last; from the start instead if
    /// the size grew only once.
    fn window(&self) -> Option<(u64, f64)> {
        let (first, last) = (self.first?, self.last?);
        let from = if last.0 > first.0 { first } else { self.start };
        Some((last.1 - from.1, (last.0 - from.0).as_secs_f64()))
    }
}

pub(super) fn config(
    dir: &Path,
    party: &str,
    key: dyad_ledger::keys::SignerKey,
    link: Link,
) -> NodeConfig {
    let data = dir.join(party);
    let mut c = NodeConfig::new(data.clone(), data.join("ledger"), key);
    c.insecure_http = link == Link::PlainHttp;
    c.retry_initial = Duration::from_millis(20);
    c.retry_max = Duration::from_millis(500);
    c
}

/// Waits (bounded) until both replicas hold the same log, all of it committed.
pub(super) async fn settle(seq: &RunningNode, cos: &RunningNode) -> BenchResult<u64> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let s = seq.status().await?;
        let c = cos.status().await?;
        if s.committed_size == s.size && c.size == s.size && c.committed_size == s.size {
            return Ok(s.size);
        }
        if Instant::now() >= deadline {
            return Err(BenchError::Nodes(format!(
                "they did not converge within 120 s: sequencer {}/{} committed, co-signer {}/{}",
                s.committed_size, s.size, c.committed_size, c.size
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How the two nodes talk: TLS 1.3 as in service, or plain HTTP (the baseline that prices
/// TLS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Link {
    Tls,
    PlainHttp,
}

/// The two-node figures over TLS, then the saturation stage once more over plain HTTP on a
/// fresh channel: `cosigned_committed_per_s_plain_http` and their ratio
/// `ratio_cosigned_tls_to_plain_http` (the cost of TLS, measured in the same run).
pub fn run(
    sizes: &Sizes,
    work: &Path,
    parties: &Parties,
    progress: &Progress,
    figures: &mut Figures,
) -> BenchResult<()> {
    run_pair(
        sizes,
        &work.join("nodes"),
        parties,
        progress,
        figures,
        Link::Tls,
    )?;
    let mut plain = Figures::new();
    let dir = work.join("nodes-plain-http");
    run_pair(sizes, &dir, parties, progress, &mut plain, Link::PlainHttp)?;
    if let Some(v) = plain.get("cosigned_committed_per_s") {
        figures.set("cosigned_committed_per_s_plain_http", v);
    }
    Ok(())
}

fn run_pair(
    sizes: &Sizes,
    dir: &Path,
    parties: &Parties,
    progress: &Progress,
    figures: &mut Figures,
    link: Link,
) -> BenchResult<()> {
    drop(fixture::create_channel(dir, parties, true)?);
    let bar = progress.step(&format!(
        "two nodes: queueing {} co-signer messages",
        sizes.node_queued
    ));
    preload_cosigner_queue(&dir.join("bravo/ledger"), &parties.bravo, sizes.node_queued)?;
    bar.finish_and_clear();
    let rt = dyad_node::runtime::workers("dyad-bench", Some(2))?;
    let outcome = rt.block_on(async {
        let seq = dyad_node::start(config(dir, "alpha", parties.alpha.clone(), link)).await?;
        let mut cos_config = config(dir, "bravo", parties.bravo.clone(), link);
        cos_config.peer_url = Some(seq.url());
        let cos = match dyad_node::start(cos_config).await {
            Ok(cos) => cos,
            Err(e) => {
                let _ = seq.shutdown().await;
                return Err(e.into());
            }
        };
        seq.set_peer_url(Some(cos.url()));
        let result = measure(&seq, &cos, sizes, progress, figures, link).await;
        // A node's graceful stop closes its store; it has been seen to hang in sled's
        // flush-on-drop after the overload stage. The figures are taken by then, so a stop
        // that does not finish in time is reported, not waited for.
        let mut stuck = 0u32;
        for (name, node) in [("co-signer", cos), ("sequencer", seq)] {
            match tokio::time::timeout(SHUTDOWN_LIMIT, node.shutdown()).await {
                Ok(stopped) => stopped?,
                Err(_) => {
                    stuck += 1;
                    eprintln!(
                        "dyad-bench: the {name} node did not stop within {} s; going on",
                        SHUTDOWN_LIMIT.as_secs()
                    );
                }
            }
        }
        figures.set("node_stops_timed_out", f64::from(stuck));
        result
    });
    // Blocking threads stuck in a store's drop must not hold up the rest of the run.
    rt.shutdown_timeout(Duration::from_secs(2));
    outcome
}

async fn measure(
    seq: &RunningNode,
    cos: &RunningNode,
    sizes: &Sizes,
    progress: &Progress,
    figures: &mut Figures,
    link: Link,
) -> BenchResult<()> {
    let client = AdminClient::new(&seq.admin_url(), seq.admin_token())?;
    saturate(seq, cos, &client, sizes, progress, figures).await?;
    settle(seq, cos).await?;
    if link == Link::PlainHttp {
        // The baseline needs the saturation figure only.
        return Ok(());
    }

    for &rate in &sizes.node_loads {
        let count = (f64::from(rate) * sizes.node_load_time.as_secs_f64()).ceil() as u64;
        let bar = progress.bar(count, &format!("two nodes: offered load {rate}/s"));
        let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..count {
            tokio::time::sleep_until(start + interval * i as u32).await;
            let client = client.clone();
            let bar = bar.clone();
            tasks.spawn(async move {
                let r = post(&client, u64::from(rate) * 10_000_000 + i).await;
                bar.inc(1);
                r
            });
        }
        let mut latencies = Vec::with_capacity(count as usize);
        let mut failed = 0u64;
        while let Some(r) = tasks.join_next().await {
            match r.map_err(|e| BenchError::Nodes(format!("a client task: {e}")))? {
                Some(d) => latencies.push(d.as_secs_f64() * 1000.0),
                None => failed += 1,
            }
        }
        let elapsed = start.elapsed();
        bar.finish_and_clear();
        if latencies.is_empty() {
            return Err(BenchError::Nodes(format!(
                "no message was committed at {rate}/s offered"
            )));
        }
        figures.set(
            &format!("load_{rate}_committed_per_s"),
            latencies.len() as f64 / elapsed.as_secs_f64(),
        );
        figures.set(&format!("load_{rate}_failed"), failed as f64);
        set_percentiles(figures, &format!("load_{rate}_"), "ms", &mut latencies);
        if rate == 1000 {
            for p in ["p50", "p99"] {
                if let Some(v) = figures.get(&format!("load_1000_{p}_ms")) {
                    figures.set(&format!("cosign_{p}_ms"), v);
                }
            }
        }
        settle(seq, cos).await?;
    }
    Ok(())
}

/// The saturation stage. The co-signer's node has been submitting its preloaded queue since
/// it started; the sequencer's clients post until all of it is in the log.
async fn saturate(
    seq: &RunningNode,
    cos: &RunningNode,
    client: &AdminClient,
    sizes: &Sizes,
    progress: &Progress,
    figures: &mut Figures,
) -> BenchResult<()> {
    let bar = progress.step(&format!(
        "two nodes: saturation, {} co-signer messages and {} sequencer clients",
        sizes.node_queued, sizes.node_clients
    ));
    let deadline = Instant::now() + SATURATION_LIMIT;
    let cpu_before = (Instant::now(), process_cpu_seconds());
    let batches_before = seq.metrics().batches.load(Ordering::Relaxed);
    let mut growth = Growth::new(seq.metrics().committed_size.load(Ordering::Relaxed));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..sizes.node_clients as u64 {
        let client = client.clone();
        let stop = stop.clone();
        tasks.spawn(async move {
            let (mut posted, mut failed) = (0u64, 0u64);
            let mut n = 1_000_000 * (c + 1);
            while !stop.load(Ordering::Relaxed) {
                if post_accepted(&client, n).await {
                    posted += 1;
                } else {
                    failed += 1;
                }
                n += 1;
            }
            (posted, failed)
        });
    }
    // The co-signer's messages are all in the sequencer's log once every one is promised
    // (spec/node.md 4.1). Its counter of promises is cheap to read; its queue's length
    // costs a scan of the queue under the replica's read lock (a co-signing write waits
    // for it), so it is read only when the promises stop growing for a while, in case a
    // batch was submitted twice (after a timeout) and promised under the first submission
    // only. Scanning every 500 ms while the promises grew was 8% of the stage's CPU at full
    // scale (BENCHMARKS.md, stop 33).
    let promises = || cos.metrics().promises.load(Ordering::Relaxed);
    let mut drained = sizes.node_queued == 0;
    let mut last = (promises(), Instant::now());
    while !drained && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
        growth.sample(seq);
        let now = promises();
        drained = now >= sizes.node_queued;
        if now != last.0 {
            last = (now, Instant::now());
        } else if !drained && last.1.elapsed() >= STALLED {
            drained = cos.status().await?.queued == 0;
            last.1 = Instant::now();
        }
    }
    stop.store(true, Ordering::Relaxed);
    let (mut posted, mut failed) = (0u64, 0u64);
    while let Some(r) = tasks.join_next().await {
        let (p, f) = r.map_err(|e| BenchError::Nodes(format!("a client task: {e}")))?;
        posted += p;
        failed += f;
    }
    let size = seq.status().await?.size;
    while growth.sample(seq) < size && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let committed = growth.sample(seq);
    let cpu_after = (Instant::now(), process_cpu_seconds());
    let batches = seq.metrics().batches.load(Ordering::Relaxed) - batches_before;
    bar.finish_and_clear();
    if !drained || committed < size {
        return Err(BenchError::Nodes(format!(
            "saturation did not finish within {} s: {committed} of {size} entries committed",
            SATURATION_LIMIT.as_secs()
        )));
    }
    let (entries, secs) = growth
        .window()
        .ok_or_else(|| BenchError::Nodes("no message was committed at saturation".into()))?;
    figures.set("cosigned_committed_per_s", entries as f64 / secs);
    // Both nodes and every client run in this process: its CPU time over the stage, per
    // entry committed in it, is what one co-signed entry costs the pair (spec 3.4: each
    // party checks every entry), and the cores it kept busy say whether CPU bounds it.
    if let (Some(before), Some(after)) = (cpu_before.1, cpu_after.1) {
        let cpu = after - before;
        let grown = committed.saturating_sub(growth.start.1).max(1);
        let wall = (cpu_after.0 - cpu_before.0).as_secs_f64();
        figures.set("node_saturation_cpu_us_per_entry", cpu * 1e6 / grown as f64);
        figures.set("node_saturation_cores_busy", cpu / wall.max(1e-3));
    }
    figures.set("node_saturation_entries", entries as f64);
    figures.set(
        "node_saturation_cosigner_messages",
        sizes.node_queued as f64,
    );
    figures.set("node_saturation_sequencer_messages", posted as f64);
    figures.set(
        "cosigned_committed_cosigner_share",
        sizes.node_queued as f64 / (sizes.node_queued + posted).max(1) as f64,
    );
    figures.set("node_saturation_failed", failed as f64);
    figures.set(
        "node_entries_per_batch",
        (sizes.node_queued + posted) as f64 / batches.max(1) as f64,
    );
    Ok(())
}
