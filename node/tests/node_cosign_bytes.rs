//! The co-signer holds at most `max_cosign_bytes` of new entries per add-checkpoint: the
//! sequencer catches it up in steps that fit, and a bigger step is refused before more than
//! the bound is fetched (spec/node.md 3).

mod node_support;

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use dyad_ledger::channel::Channel;
use node_support::*;

/// About 30 KiB per entry: 20 of them are about 600 KB.
const PAYLOAD: usize = 30 * 1024;
const BOUND: usize = 200_000;

async fn append_large(pair: &Pair, n: usize) {
    let admin = admin(pair.seq());
    for i in 0..n {
        let mut req = request(&format!("large-{i}"), "accepted");
        req.payload = STANDARD.encode(vec![b'x'; PAYLOAD]);
        let (status, _) = admin.append(&req).await.unwrap();
        assert_eq!(status, 200);
    }
}

#[test]
fn a_cosigner_far_behind_is_caught_up_in_steps_that_fit_its_byte_bound() {
    runtime().block_on(async {
        let mut pair = Pair::start_with(|c| c.max_cosign_bytes = BOUND).await;
        pair.kill_cos().await;
        append_large(&pair, 20).await;
        pair.start_cos().await;
        assert_eq!(pair.wait_converged(Duration::from_secs(20)).await, 21);
        assert_eq!(
            pair.cos()
                .metrics()
                .rejected("add-checkpoint", "step-too-large"),
            0,
            "the sequencer planned steps within the bound"
        );
        let (seq_ledger, cos_ledger) = (pair.seq_ledger(), pair.cos_ledger());
        let _dir = pair.stop().await;
        let ch = Channel::open(&cos_ledger).unwrap();
        let sizes: Vec<u64> = ch.store().checkpoints().map(|c| c.unwrap().0).collect();
        for w in sizes.windows(2) {
            let bytes: usize = (w[0]..w[1])
                .map(|i| ch.store().leaf(i).unwrap().len())
                .sum();
            assert!(bytes <= BOUND, "step {w:?} is {bytes} bytes");
        }
        assert!(sizes.len() >= 4, "several steps: {sizes:?}");
        drop(ch);
        assert_eq!(head(&seq_ledger), head(&cos_ledger));
    });
}

#[test]
fn a_step_beyond_the_cosigners_byte_bound_is_refused_and_nothing_is_stored() {
    runtime().block_on(async {
        // Only the co-signer has the small bound: the sequencer sends one big step.
        let mut pair = Pair::start_with(|c| {
            if c.data_dir.ends_with("bravo") {
                c.max_cosign_bytes = BOUND;
            }
        })
        .await;
        pair.kill_cos().await;
        append_large(&pair, 20).await;
        pair.start_cos().await;
        let refused = wait_until(Duration::from_secs(10), || async {
            pair.cos()
                .metrics()
                .rejected("add-checkpoint", "step-too-large")
                > 0
        })
        .await;
        assert!(refused, "the co-signer refuses the step");
        let status = pair.cos().status().await.unwrap();
        assert_eq!(status.size, 1, "nothing of the refused step is stored");
        pair.stop().await;
    });
}
