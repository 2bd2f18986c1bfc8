//! Measurement 2 of issue 7: two live nodes on loopback, in this process
//! (`dyad_ledger::node`, as `dyad serve` runs it, with its default group commit: up to
//! 512 entries or 10 ms per batch).
//!
//! Clients post messages to the sequencer's admin API (`POST /admin/append`, which signs
//! the message as the sequencer's own) with `wait: committed`: the answer comes once the
//! entry is covered by a checkpoint that both parties signed, i.e. after the sequencer
//! made the batch durable, signed the checkpoint, and the co-signer fetched the new
//! entries over the tiles API, checked and stored them and returned its cosignature.
//! That answer is what "committed" means here.
//!
//! - saturation: many clients post back to back for a fixed time, each waiting only until
//!   its message is durable in the log (`wait: accepted`), so that the node always has
//!   more to take than it can; committed entries/s is the growth of the committed size
//!   (the sequencer's newest co-signed checkpoint) from the first post until everything
//!   posted is committed;
//! - latency: at each offered load (entries/s), messages are posted on a fixed schedule
//!   (open loop: a slow answer does not delay the next post), and submit-to-committed
//!   latency is each post's time until its committed answer.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use dyad_ledger::node::{self, AdminClient, AppendRequest, NodeConfig, RunningNode};
use tokio::time::Instant;

use super::fixture::{self, Parties, PAYLOAD_LEN};
use super::report::{set_percentiles, Figures};
use super::{BenchError, BenchResult, Progress, Sizes};
use crate::output::b64;

/// How long a node's graceful stop may take.
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(20);

fn request(n: u64, wait: &str) -> AppendRequest {
    let mut payload = format!("Load message {n}: nothing new on our side. ").into_bytes();
    payload.resize(PAYLOAD_LEN, b'.');
    AppendRequest {
        kind: "notification".into(),
        subject: format!("load message {n}"),
        content_type: "text/plain".into(),
        payload: b64(&payload),
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

/// Waits (bounded) until the sequencer's committed size reaches `size`; returns when.
async fn committed_at(seq: &RunningNode, size: u64) -> BenchResult<Instant> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let s = seq.status().await?;
        if s.committed_size >= size {
            return Ok(Instant::now());
        }
        if Instant::now() >= deadline {
            return Err(BenchError::Nodes(format!(
                "{} of {size} entries committed after 120 s",
                s.committed_size
            )));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn config(dir: &Path, party: &str, key: dyad_ledger::keys::SignerKey) -> NodeConfig {
    let data = dir.join(party);
    let mut c = NodeConfig::new(data.clone(), data.join("ledger"), key);
    c.retry_initial = Duration::from_millis(20);
    c.retry_max = Duration::from_millis(500);
    c
}

/// Waits (bounded) until both replicas hold the same log, all of it committed.
async fn settle(seq: &RunningNode, cos: &RunningNode) -> BenchResult<u64> {
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

pub fn run(
    sizes: &Sizes,
    work: &Path,
    parties: &Parties,
    progress: &Progress,
    figures: &mut Figures,
) -> BenchResult<()> {
    let dir = work.join("nodes");
    drop(fixture::create_channel(&dir, parties, true)?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(BenchError::io("start the tokio runtime"))?;
    let outcome = rt.block_on(async {
        let seq = node::start(config(&dir, "alpha", parties.alpha.clone())).await?;
        let mut cos_config = config(&dir, "bravo", parties.bravo.clone());
        cos_config.peer_url = Some(seq.url());
        let cos = match node::start(cos_config).await {
            Ok(cos) => cos,
            Err(e) => {
                let _ = seq.shutdown().await;
                return Err(e.into());
            }
        };
        seq.set_peer_url(Some(cos.url()));
        let result = measure(&seq, &cos, sizes, progress, figures).await;
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
                        "dyad bench: the {name} node did not stop within {} s; going on",
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
) -> BenchResult<()> {
    let client = AdminClient::new(&seq.admin_url(), seq.admin_token())?;
    if post(&client, 0).await.is_none() {
        return Err(BenchError::Nodes(
            "a first message was not committed within 15 s".into(),
        ));
    }

    let bar = progress.step(&format!(
        "two nodes: saturation, {} clients for {:.1} s",
        sizes.node_clients,
        sizes.node_saturation.as_secs_f64()
    ));
    let batches_before = seq.metrics().batches.load(Ordering::Relaxed);
    let committed_before = seq.status().await?.committed_size;
    let start = Instant::now();
    let deadline = start + sizes.node_saturation;
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..sizes.node_clients as u64 {
        let client = client.clone();
        tasks.spawn(async move {
            let mut failed = 0u64;
            let mut n = 1_000_000 * (c + 1);
            while Instant::now() < deadline {
                if !post_accepted(&client, n).await {
                    failed += 1;
                }
                n += 1;
            }
            failed
        });
    }
    let mut failed = 0u64;
    while let Some(r) = tasks.join_next().await {
        failed += r.map_err(|e| BenchError::Nodes(format!("a client task: {e}")))?;
    }
    let size = seq.status().await?.size;
    let done = committed_at(seq, size).await?;
    let committed = size.saturating_sub(committed_before);
    let batches = seq.metrics().batches.load(Ordering::Relaxed) - batches_before;
    bar.finish_and_clear();
    if committed == 0 {
        return Err(BenchError::Nodes(
            "no message was committed at saturation".into(),
        ));
    }
    figures.set(
        "cosigned_committed_per_s",
        committed as f64 / (done - start).as_secs_f64(),
    );
    figures.set("node_saturation_entries", committed as f64);
    figures.set("node_saturation_failed", failed as f64);
    figures.set(
        "node_entries_per_batch",
        committed as f64 / batches.max(1) as f64,
    );
    settle(seq, cos).await?;

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
