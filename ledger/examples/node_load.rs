//! Figures for two nodes on loopback: group-commit throughput, submit-to-committed latency,
//! and catch-up of a co-signer that was down. A measurement, not a check:
//! `cargo run --release -p dyad-ledger --example node_load`

#[path = "../tests/node_support/mod.rs"]
mod node_support;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use node_support::*;

fn main() {
    runtime().block_on(async {
        let mut pair = Pair::start().await;

        // Throughput of the sequencer's own appends with many clients (group commit).
        let (clients, each) = (32, 50);
        let t = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..clients {
            let client = admin(pair.seq());
            tasks.push(tokio::spawn(async move {
                for i in 0..each {
                    assert_eq!(client.append(&request(&format!("{c}/{i}"), "accepted")).await.unwrap().0, 200);
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let n = clients * each;
        let elapsed = t.elapsed();
        let size = pair.wait_converged(Duration::from_secs(60)).await;
        let batches = pair.seq().metrics().batches.load(Ordering::Relaxed);
        println!("sequencer appends: {n} by {clients} clients in {elapsed:?}: {:.0}/s, {batches} batches ({:.1} entries per batch); all committed {:?} after start", n as f64 / elapsed.as_secs_f64(), n as f64 / batches as f64, t.elapsed());

        // Latency of one message until committed, each way.
        for (name, node) in [("sequencer", pair.seq()), ("co-signer", pair.cos())] {
            let mut times = Vec::new();
            for i in 0..20 {
                let t = Instant::now();
                let (status, r) = append(node, &format!("{name} latency {i}"), "committed").await;
                assert_eq!((status, r.state.as_str()), (200, "committed"));
                times.push(t.elapsed());
            }
            times.sort();
            println!("{name} message until committed: median {:?}, max {:?}", times[10], times[19]);
        }

        // Catching up a co-signer that was down for many entries.
        pair.kill_cos().await;
        let missed = 5000;
        let mut tasks = Vec::new();
        for c in 0..50 {
            let client = admin(pair.seq());
            tasks.push(tokio::spawn(async move {
                for i in 0..missed / 50 {
                    client.append(&request(&format!("missed {c}/{i}"), "accepted")).await.unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let t = Instant::now();
        pair.start_cos().await;
        let total = pair.wait_converged(Duration::from_secs(120)).await;
        println!("co-signer back after {missed} entries: caught up to {total} in {:?} (before: {size})", t.elapsed());
        let metrics = reqwest::get(format!("{}/metrics", pair.seq().url())).await.unwrap().text().await.unwrap();
        for line in metrics.lines().filter(|l| l.starts_with("dyad_cosign_latency_seconds_sum") || l.starts_with("dyad_cosign_latency_seconds_count")) {
            println!("{line}");
        }
        pair.stop().await;
    });
}
