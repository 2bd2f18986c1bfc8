//! Replaying the co-signer's public checkpoint to its own `POST /add-checkpoint`, as is
//! and with many lines of unknown keys appended: the co-signer answers with the
//! cosignature it already gave, writes nothing, and keeps a checkpoint that verifies, a
//! node that restarts, and a log that goes on.

mod node_support;

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use dyad_ledger::channel::Channel;
use node_support::*;

/// The co-signer's replica, closed: its commit count and newest checkpoint, which must
/// verify as committed.
fn cos_state(pair: &Pair) -> (u64, u64, Vec<u8>) {
    let ch = Channel::open(&pair.cos_ledger()).unwrap();
    let (size, note) = ch.store().latest_checkpoint().unwrap().unwrap();
    ch.verify_committed(&note)
        .expect("the stored checkpoint verifies");
    (ch.store().commits(), size, note)
}

/// `n` signature lines of keys nobody knows, well formed.
fn unknown_lines(n: usize) -> String {
    (0..n)
        .map(|i| {
            let mut sig = vec![i as u8; 68];
            sig[..4].copy_from_slice(&(0x1000_0000u32 + i as u32).to_be_bytes());
            format!("\u{2014} example.org/junk{i} {}\n", STANDARD.encode(sig))
        })
        .collect()
}

#[test]
fn replaying_the_public_checkpoint_changes_nothing_on_the_cosigner() {
    runtime().block_on(async {
        let mut pair = Pair::start().await;
        let (status, _) = append(pair.seq(), "first", "committed").await;
        assert_eq!(status, 200);
        let size = pair.wait_converged(Duration::from_secs(20)).await;

        pair.kill_cos().await;
        let (commits, cp_size, stored) = cos_state(&pair);
        assert_eq!(cp_size, size);
        pair.start_cos().await;

        let url = pair.cos().url();
        let http = http_to(&url);
        let public = http
            .get(format!("{url}/checkpoint"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .to_vec();
        assert_eq!(public, stored);
        let own_line = String::from_utf8(public.clone())
            .unwrap()
            .lines()
            .find(|l| l.starts_with("\u{2014} example.org/bravo"))
            .map(|l| format!("{l}\n"))
            .expect("the public note carries the co-signer's line");

        let mut padded = public.clone();
        padded.extend_from_slice(unknown_lines(98).as_bytes());
        for note in [public.clone(), padded] {
            for _ in 0..3 {
                let mut body = format!("old {size}\n\n").into_bytes();
                body.extend_from_slice(&note);
                let resp = http
                    .post(format!("{url}/add-checkpoint"))
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 200);
                // The answer is the cosignature already given: one line, the same.
                assert_eq!(resp.text().await.unwrap(), own_line);
            }
        }
        let served = http
            .get(format!("{url}/checkpoint"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(served.to_vec(), stored);

        // Nothing was written, and the replica opens with a checkpoint that verifies.
        pair.kill_cos().await;
        let (after_commits, after_size, after) = cos_state(&pair);
        assert_eq!(after_commits, commits, "a replay cost a commit");
        assert_eq!((after_size, &after), (cp_size, &stored));

        // The node restarts and the log goes on.
        pair.start_cos().await;
        let (status, _) = append(pair.seq(), "second", "committed").await;
        assert_eq!(status, 200);
        assert_eq!(pair.wait_converged(Duration::from_secs(20)).await, size + 1);
        pair.stop().await;
    });
}
