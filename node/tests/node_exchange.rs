//! Two live nodes on loopback: messages both ways, concurrency, the peer down and back,
//! restarts mid-load. Every wait is bounded; every test stops its nodes.

mod node_support;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dyad_node::client::{audit, TileClient};
use dyad_node::promise::Promise;
use dyad_verifier::audit::AuditTrust;
use node_support::*;

fn trust() -> AuditTrust {
    AuditTrust::Parties([
        alpha().verifier_key().clone(),
        bravo().verifier_key().clone(),
    ])
}

#[test]
fn messages_flow_both_ways_and_commit_on_both_replicas() {
    runtime().block_on(async {
        let pair = Pair::start().await;
        // The sequencer's own message, waited for until co-signed.
        let (status, a) = append(pair.seq(), "inquiry from alpha", "committed").await;
        assert_eq!(
            (status, a.state.as_str(), a.index),
            (200, "committed", Some(1))
        );

        // The co-signer's message goes through its queue to the sequencer, which promises it.
        let (status, b) = append(pair.cos(), "notification from bravo", "committed").await;
        assert_eq!(
            (status, b.state.as_str(), b.index),
            (200, "committed", Some(2))
        );
        let promise = Promise::verify(
            b.promise.as_deref().unwrap().as_bytes(),
            &alpha().verifier_key().with_name(ORIGIN).unwrap(),
        )
        .unwrap();
        assert_eq!(promise.index, 2);
        assert_eq!(promise.origin, ORIGIN);

        // A reply in the other direction.
        let mut reply = request("re: notification from bravo", "committed");
        reply.kind = "response".into();
        reply.reply_to = Some(2);
        let (status, c) = admin(pair.seq()).append(&reply).await.unwrap();
        assert_eq!(
            (status, c.state.as_str(), c.index),
            (200, "committed", Some(3))
        );

        let size = pair.wait_converged(Duration::from_secs(10)).await;
        assert_eq!(size, 4);
        // Both serve the same co-signed checkpoint, and a whole-log audit passes on each.
        let seq_tiles = TileClient::with_http(&pair.seq().url(), pair.as_cos()).unwrap();
        let cos_tiles = TileClient::with_http(&pair.cos().url(), pair.as_seq()).unwrap();
        assert_eq!(
            seq_tiles
                .checkpoint()
                .await
                .unwrap()
                .split(|&b| b == b'\n')
                .take(3)
                .collect::<Vec<_>>(),
            cos_tiles
                .checkpoint()
                .await
                .unwrap()
                .split(|&b| b == b'\n')
                .take(3)
                .collect::<Vec<_>>()
        );
        for client in [&seq_tiles, &cos_tiles] {
            let report = audit(client, trust(), |_, _| {}).await.unwrap();
            assert_eq!(
                (report.leaves, report.committed_size, report.pending),
                (4, 4, 0)
            );
            assert_eq!(
                (report.entries_by_sequencer, report.entries_by_cosigner),
                (3, 1)
            );
        }
        // The blocking client, as the CLI uses it, from a plain thread.
        let url = pair.cos().url();
        let reach = reader(pair.cos(), "auditor");
        let report = std::thread::spawn(move || {
            dyad_node::audit_url(&url, reach, trust(), |_, _| {}).unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(report.leaves, 4);

        let status = pair.seq().status().await.unwrap();
        assert_eq!(
            (
                status.role,
                status.size,
                status.committed_size,
                status.published_size
            ),
            ("sequencer", 4, 4, 4)
        );
        let metrics = pair
            .as_cos()
            .get(format!("{}/metrics", pair.seq().url()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(metrics.contains("dyad_entries_total 3"), "{metrics}");
        assert!(metrics.contains("dyad_committed_size 4"), "{metrics}");
        assert!(
            metrics.contains("dyad_cosign_latency_seconds_count"),
            "{metrics}"
        );

        let (seq_ledger, cos_ledger) = (pair.seq_ledger(), pair.cos_ledger());
        let _dir = pair.stop().await;
        // Closed and reopened: the same tree, all committed, on both sides.
        assert_eq!(head(&seq_ledger), head(&cos_ledger));
        assert_eq!(head(&seq_ledger).2, 4);
        assert_eq!(
            subjects(&cos_ledger),
            [
                "inquiry from alpha",
                "notification from bravo",
                "re: notification from bravo"
            ]
        );
    });
}

#[test]
fn concurrent_clients_commit_everything_exactly_once() {
    runtime().block_on(async {
        let pair = Pair::start().await;
        let (seq_clients, seq_each, cos_clients, cos_each) = (6, 20, 3, 8);
        let mut tasks = Vec::new();
        for c in 0..seq_clients {
            let client = admin(pair.seq());
            tasks.push(tokio::spawn(async move {
                let mut got = Vec::new();
                for i in 0..seq_each {
                    let (status, r) = client
                        .append(&request(&format!("alpha {c}/{i}"), "accepted"))
                        .await
                        .unwrap();
                    assert_eq!(status, 200);
                    got.push((format!("alpha {c}/{i}"), r.index.unwrap(), r.leaf_hash));
                }
                got
            }));
        }
        for c in 0..cos_clients {
            let client = admin(pair.cos());
            tasks.push(tokio::spawn(async move {
                let mut got = Vec::new();
                for i in 0..cos_each {
                    let (status, r) = client
                        .append(&request(&format!("bravo {c}/{i}"), "accepted"))
                        .await
                        .unwrap();
                    assert_eq!(status, 200, "{r:?}");
                    got.push((format!("bravo {c}/{i}"), r.index.unwrap(), r.leaf_hash));
                }
                got
            }));
        }
        let mut accepted = Vec::new();
        for t in tasks {
            accepted.extend(
                tokio::time::timeout(Duration::from_secs(40), t)
                    .await
                    .expect("clients finish")
                    .unwrap(),
            );
        }
        let total = seq_clients * seq_each + cos_clients * cos_each;
        assert_eq!(accepted.len(), total);
        let size = pair.wait_converged(Duration::from_secs(20)).await;
        assert_eq!(size, 1 + total as u64);
        // Group commit: far fewer batches than entries.
        let batches = pair
            .seq()
            .metrics()
            .batches
            .load(std::sync::atomic::Ordering::Relaxed);
        eprintln!("{total} entries in {batches} batches");
        assert!(
            batches < total as u64,
            "{batches} batches for {total} entries"
        );

        let (seq_ledger, cos_ledger) = (pair.seq_ledger(), pair.cos_ledger());
        let _dir = pair.stop().await;
        assert_eq!(
            head(&seq_ledger),
            head(&cos_ledger),
            "identical trees, all committed"
        );
        let log = subjects(&seq_ledger);
        assert_eq!(log, subjects(&cos_ledger), "one order on both replicas");
        let distinct: HashSet<&String> = log.iter().collect();
        assert_eq!(distinct.len(), log.len(), "nothing appended twice");
        let position: HashMap<&String, u64> = log
            .iter()
            .enumerate()
            .map(|(i, s)| (s, i as u64 + 1))
            .collect();
        for (subject, index, _) in &accepted {
            assert_eq!(
                position.get(subject),
                Some(index),
                "{subject} is where it was acknowledged"
            );
        }
    });
}

#[test]
fn a_cosigner_down_then_back_catches_up() {
    runtime().block_on(async {
        let mut pair = Pair::start().await;
        append(pair.seq(), "before", "committed").await;
        pair.kill_cos().await;
        // The sequencer keeps accepting and signing; nothing new is committed.
        for i in 0..25 {
            let (status, r) = append(pair.seq(), &format!("while down {i}"), "accepted").await;
            assert_eq!((status, r.state.as_str()), (200, "pending"));
        }
        let s = pair.seq().status().await.unwrap();
        assert_eq!((s.size, s.published_size, s.committed_size), (27, 27, 2));
        assert!(
            wait_until(Duration::from_secs(5), || async {
                pair.seq().status().await.unwrap().peer.last_error.is_some()
            })
            .await,
            "the failure shows in the status"
        );
        // Asking for commitment while the peer is down: 202 once the wait runs out.
        let mut r = request("waits in vain", "committed");
        r.timeout_ms = Some(300);
        let (status, answer) = admin(pair.seq()).append(&r).await.unwrap();
        assert_eq!((status, answer.state.as_str()), (202, "pending"));

        pair.start_cos().await;
        let size = pair.wait_converged(Duration::from_secs(10)).await;
        assert_eq!(size, 28);
        assert!(
            wait_until(Duration::from_secs(5), || async {
                pair.seq().status().await.unwrap().peer.last_error.is_none()
            })
            .await,
            "the peer's error clears"
        );
        let (seq_ledger, cos_ledger) = (pair.seq_ledger(), pair.cos_ledger());
        let _dir = pair.stop().await;
        assert_eq!(head(&seq_ledger), head(&cos_ledger));
    });
}

#[test]
fn a_cosigner_far_behind_is_caught_up_in_steps() {
    runtime().block_on(async {
        let mut pair = Pair::start_with(|c| c.max_cosign_step = 16).await;
        pair.kill_cos().await;
        for i in 0..50 {
            append(pair.seq(), &format!("m{i}"), "accepted").await;
        }
        pair.start_cos().await;
        assert_eq!(pair.wait_converged(Duration::from_secs(10)).await, 51);
        // 1 + 16 + 16 + 16 + 2: several co-signed checkpoints on the way.
        let (seq_ledger, cos_ledger) = (pair.seq_ledger(), pair.cos_ledger());
        let _dir = pair.stop().await;
        let ch = dyad_ledger::channel::Channel::open(&cos_ledger).unwrap();
        let sizes: Vec<u64> = ch.store().checkpoints().map(|c| c.unwrap().0).collect();
        assert!(
            sizes.len() >= 4 && sizes.windows(2).all(|w| w[1] - w[0] <= 16),
            "{sizes:?}"
        );
        drop(ch);
        assert_eq!(head(&seq_ledger), head(&cos_ledger));
    });
}

#[test]
fn each_node_restarts_mid_load_without_losing_or_repeating_anything() {
    runtime().block_on(async {
        let mut pair = Pair::start().await;
        let acked: Arc<Mutex<Vec<(String, u64)>>> = Arc::default();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        // Load on both sides; a failed request is not retried (an unacknowledged own
        // message may or may not be in the log), an acknowledged one must be there, once.
        let mut load = Vec::new();
        for (side, url, token) in [
            (
                "alpha",
                pair.seq().admin_url(),
                pair.seq().admin_token().to_owned(),
            ),
            (
                "bravo",
                pair.cos().admin_url(),
                pair.cos().admin_token().to_owned(),
            ),
        ] {
            for c in 0..2 {
                let acked = acked.clone();
                let stop = stop.clone();
                let client = dyad_node::AdminClient::new(&url, &token).unwrap();
                load.push(tokio::spawn(async move {
                    let mut sent = 0;
                    for i in 0..200 {
                        if stop.load(std::sync::atomic::Ordering::Relaxed) {
                            break;
                        }
                        let subject = format!("{side} {c}/{i}");
                        sent += 1;
                        match client.append(&request(&subject, "accepted")).await {
                            Ok((200, r)) => acked.lock().unwrap().push((subject, r.index.unwrap())),
                            _ => tokio::time::sleep(Duration::from_millis(30)).await,
                        }
                    }
                    sent
                }));
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        pair.kill_seq().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        pair.start_seq().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        pair.kill_cos().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        pair.start_cos().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in load {
            tokio::time::timeout(Duration::from_secs(30), t)
                .await
                .expect("load stops")
                .unwrap();
        }
        // The restarted nodes listen where they did: appending goes on.
        let (status, _) = append(pair.seq(), "after the restarts (alpha)", "committed").await;
        assert_eq!(status, 200);
        let (status, _) = append(pair.cos(), "after the restarts (bravo)", "committed").await;
        assert_eq!(status, 200);
        pair.wait_converged(Duration::from_secs(15)).await;
        let (seq_ledger, cos_ledger) = (pair.seq_ledger(), pair.cos_ledger());
        let _dir = pair.stop().await;
        assert_eq!(head(&seq_ledger), head(&cos_ledger));
        let log = subjects(&seq_ledger);
        assert_eq!(log, subjects(&cos_ledger));
        let distinct: HashSet<&String> = log.iter().collect();
        assert_eq!(distinct.len(), log.len(), "nothing applied twice");
        let position: HashMap<&String, u64> = log
            .iter()
            .enumerate()
            .map(|(i, s)| (s, i as u64 + 1))
            .collect();
        let acked = acked.lock().unwrap();
        eprintln!(
            "{} messages acknowledged, {} in the log",
            acked.len(),
            log.len()
        );
        assert!(
            acked.len() > 10,
            "the load got going: {} acknowledged",
            acked.len()
        );
        for (subject, index) in acked.iter() {
            assert_eq!(
                position.get(subject),
                Some(index),
                "acknowledged {subject} at {index} is there"
            );
        }
    });
}
