//! Figures for two nodes on loopback. A measurement, not a check:
//!
//! ```text
//! cargo run --release -p dyad-node --example node_load [-- MODE ...]
//! ```
//!
//! Modes (default: `all`):
//! - `saturate [N] [CLIENTS]`: both parties' messages at once, as fast as the pair takes
//!   them: N co-signer messages queued in its replica before it starts (default 20000; its
//!   node submits them in batches) while CLIENTS admin clients (default 32) append the
//!   sequencer's own messages; prints co-signed (committed) entries/s, overall and for
//!   each party's messages alone;
//! - `offered [RATE] [SECS]`: open loop, RATE messages/s (default 1000) for SECS seconds
//!   (default 5), alternating the sequencer's and the co-signer's admin API with
//!   `wait: committed`; prints submit-to-committed p50/p99/max per party;
//! - `catchup [N]`: the co-signer is down while N messages are appended, then catches up;
//! - `all`: each of the above with its defaults.
//!
//! `DYAD_MAX_DELAY_MS` sets both nodes' group-commit delay (default 10, the node's
//! default). Each figure comes with the CPU time the process (both nodes and the load
//! generator) used meanwhile: the cores it kept busy, and CPU microseconds per entry.

#[path = "../tests/node_support/mod.rs"]
mod node_support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dyad_ledger::channel::Channel;
use dyad_ledger::entry::{Draft, Kind};
use node_support::*;

/// CPU time (user + system) used by this process so far, from /proc/self/stat (Linux).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) end with ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of stat(5), 12 and 13 after the state field.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// "cores busy, µs of CPU per entry" over a window.
fn cpu_note(cpu: Duration, wall: Duration, entries: u64) -> String {
    format!(
        "CPU {:.2} cores, {:.0} us/entry",
        cpu.as_secs_f64() / wall.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / entries.max(1) as f64
    )
}

fn max_delay() -> Duration {
    Duration::from_millis(
        std::env::var("DYAD_MAX_DELAY_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(10),
    )
}

fn arg(args: &[String], i: usize, default: u64) -> u64 {
    args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map_or("all", String::as_str);
    runtime().block_on(async {
        match mode {
            "saturate" => saturate(arg(&args, 1, 20_000), arg(&args, 2, 32) as usize).await,
            "offered" => offered(arg(&args, 1, 1000), arg(&args, 2, 5)).await,
            "catchup" => catchup(arg(&args, 1, 5000)).await,
            "all" => {
                saturate(20_000, 0).await;
                saturate(0, 32).await;
                saturate(20_000, 32).await;
                offered(1000, 5).await;
                catchup(5000).await;
            }
            other => eprintln!("unknown mode {other:?}: saturate, offered, catchup or all"),
        }
    });
}

/// Queues `n` co-signer messages in bravo's replica (closed), in one store batch per 1000.
fn preload_cosigner_queue(pair_dir: &std::path::Path, n: u64) {
    let mut ch = Channel::open(&pair_dir.join("bravo/ledger")).unwrap();
    let mut left = n;
    while left > 0 {
        let k = left.min(1000);
        let drafts = (0..k)
            .map(|i| {
                Draft::new(
                    Kind::Notification,
                    &format!("queued {}", n - left + i),
                    "text/plain",
                    format!("body of queued message {}", n - left + i).into_bytes(),
                )
            })
            .collect();
        ch.queue_own_batch(&bravo(), drafts, now_ms()).unwrap();
        left -= k;
    }
}

async fn saturate(queued: u64, clients: usize) {
    let pair = Pair::start_with(|c| c.max_delay = max_delay()).await;
    // The co-signer restarts with its queue preloaded (its store is closed meanwhile).
    let mut pair = pair;
    pair.kill_cos().await;
    preload_cosigner_queue(pair.dir.path(), queued);
    let start_size = pair.seq().status().await.unwrap().size;
    let t = Instant::now();
    let cpu = cpu_time();
    pair.start_cos().await;

    let stop = Arc::new(AtomicBool::new(false));
    let appended = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in 0..clients {
        let client = admin(pair.seq());
        let (stop, appended) = (stop.clone(), appended.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let (status, _) = client
                    .append(&request(&format!("{c}/{i}"), "accepted"))
                    .await
                    .unwrap();
                assert_eq!(status, 200);
                appended.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        }));
    }
    // With only the sequencer's clients, run them for a fixed time; otherwise until the
    // co-signer's queue has drained into the log.
    let run_for = Duration::from_secs(5);
    let committed_at_stop = loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let s = pair.cos().status().await.unwrap();
        let drained = queued > 0 && s.queued == 0;
        if drained
            || (queued == 0 && t.elapsed() >= run_for)
            || t.elapsed() > Duration::from_secs(300)
        {
            break s.committed_size;
        }
    };
    let elapsed = t.elapsed();
    let cpu = cpu_time() - cpu;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    let committed = committed_at_stop - start_size;
    let seq_batches = pair.seq().metrics().batches.load(Ordering::Relaxed);
    let cosigns = pair
        .seq()
        .metrics()
        .checkpoints_committed
        .load(Ordering::Relaxed);
    println!(
        "saturate: {queued} queued co-signer messages + {clients} sequencer clients: {committed} entries co-signed in {:.2?}: {:.0} committed entries/s ({} sequencer messages appended; {seq_batches} sequencer batches, {cosigns} co-signed checkpoints; {})",
        elapsed,
        committed as f64 / elapsed.as_secs_f64(),
        appended.load(Ordering::Relaxed),
        cpu_note(cpu, elapsed, committed),
    );
    let size = pair.wait_converged(Duration::from_secs(120)).await;
    assert!(size >= start_size + queued);
    pair.stop().await;
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn offered(rate: u64, secs: u64) {
    let pair = Pair::start_with(|c| c.max_delay = max_delay()).await;
    // Warm up connections and caches.
    append(pair.seq(), "warm-up", "committed").await;
    append(pair.cos(), "warm-up", "committed").await;
    let total = rate * secs;
    let mut interval = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate.max(1)));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let clients = [admin(pair.seq()), admin(pair.cos())];
    let mut tasks = Vec::new();
    let t = Instant::now();
    let cpu = cpu_time();
    for i in 0..total {
        interval.tick().await;
        let party = (i % 2) as usize;
        let client = clients[party].clone();
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let (status, r) = client
                .append(&request(&format!("offered {i}"), "committed"))
                .await
                .unwrap();
            (
                party,
                status == 200 && r.state == "committed",
                sent.elapsed(),
            )
        }));
    }
    let sending = t.elapsed();
    let mut times = [Vec::new(), Vec::new()];
    let mut failed = 0;
    for task in tasks {
        let (party, ok, latency) = task.await.unwrap();
        if ok {
            times[party].push(latency);
        } else {
            failed += 1;
        }
    }
    let cpu = cpu_time() - cpu;
    let wall = t.elapsed();
    let mut all: Vec<Duration> = times.iter().flatten().copied().collect();
    all.sort();
    for t in &mut times {
        t.sort();
    }
    println!(
        "offered {rate}/s for {secs} s ({total} messages sent in {sending:.2?}, {failed} not committed in time): submit-to-committed p50 {:.1?} p99 {:.1?} max {:.1?}; sequencer's messages p50 {:.1?} p99 {:.1?}; co-signer's messages p50 {:.1?} p99 {:.1?}; max_delay {:?}; {}",
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        all.last().copied().unwrap_or_default(),
        percentile(&times[0], 0.5),
        percentile(&times[0], 0.99),
        percentile(&times[1], 0.5),
        percentile(&times[1], 0.99),
        max_delay(),
        cpu_note(cpu, wall, total),
    );
    pair.wait_converged(Duration::from_secs(60)).await;
    pair.stop().await;
}

async fn catchup(missed: u64) {
    let mut pair = Pair::start().await;
    pair.kill_cos().await;
    let mut tasks = Vec::new();
    for c in 0..50 {
        let client = admin(pair.seq());
        tasks.push(tokio::spawn(async move {
            for i in 0..missed / 50 {
                client
                    .append(&request(&format!("missed {c}/{i}"), "accepted"))
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let t = Instant::now();
    pair.start_cos().await;
    let total = pair.wait_converged(Duration::from_secs(120)).await;
    println!(
        "catch-up: the co-signer, back after {missed} entries, co-signed up to {total} in {:.2?} ({:.0} entries/s)",
        t.elapsed(),
        (total - 1) as f64 / t.elapsed().as_secs_f64(),
    );
    pair.stop().await;
}
