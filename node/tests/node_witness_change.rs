//! Witness changes over two live nodes (spec/dyad.md 3.8, spec/node.md 5.6), with
//! `dyad witness serve`'s server as the witness: a channel without witnesses gets one
//! (approved by the co-signer, made by the sequencer), from then on entries commit only
//! once it co-signed (pending while it is down); a change made by the co-signer removes it
//! and entries commit without it. Forged approvals are refused by their rule's name and
//! nothing is appended or queued.

mod node_support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use dyad_ledger::genesis::Party;
use dyad_node::{
    ClientError, RunningNode, WitnessChangeApproval, WitnessChangeApproveRequest, WitnessSpec,
    WitnessUrlSaver,
};
use node_support::witnesses::*;
use node_support::*;

const TIMEOUT: Duration = Duration::from_secs(20);

/// Witness `i` as the routes take it, its key as base64 (or, `as_vkey`, as its key string).
fn spec(i: u8, as_vkey: bool) -> WitnessSpec {
    let key = witness_key(i);
    WitnessSpec {
        name: key.name().to_owned(),
        public_key: if as_vkey {
            key.verifier_key().to_string()
        } else {
            STANDARD.encode(key.public_key())
        },
        url: None,
    }
}

async fn approve(
    node: &RunningNode,
    witnesses: Vec<WitnessSpec>,
    threshold: u8,
) -> Result<WitnessChangeApproval, ClientError> {
    let req = WitnessChangeApproveRequest {
        witnesses,
        witness_threshold: threshold,
    };
    admin(node).approve_witness_change(&req, TIMEOUT).await
}

/// The refusal's status and body (the body starts with the rule's name).
fn refusal<T: std::fmt::Debug>(r: Result<T, ClientError>) -> (u16, String) {
    match r {
        Err(ClientError::Status { status, body, .. }) => (status, body),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn size_and_committed(node: &RunningNode) -> (u64, u64) {
    let s = node.status().await.unwrap();
    (s.size, s.committed_size)
}

/// Whether the node's served checkpoint carries a verifying cosignature of witness `i`.
async fn served_with_witness(node: &RunningNode, i: u8) -> bool {
    let client =
        dyad_node::client::TileClient::with_http(&node.url(), http_to(&node.url())).unwrap();
    let note = client.checkpoint().await.unwrap();
    let key = Party::of(&witness_key(i)).cosignature_key().unwrap();
    dyad_verifier::note::verify(&note, std::slice::from_ref(&key))
        .is_ok_and(|v| v.verified.iter().any(|s| s.key == key))
}

#[test]
fn a_witness_added_then_removed_gates_the_commits_of_the_sizes_it_covers() {
    runtime().block_on(async {
        let a1 = free_addr().await;
        let scratch = tempfile::tempdir().unwrap();
        let saved = Arc::new(Mutex::new(BTreeMap::new()));
        let into = saved.clone();
        let ch = start_nodes_with(0, 0, &[], move |c| {
            let into = into.clone();
            c.save_witness_urls = Some(WitnessUrlSaver::new(move |urls| {
                *into.lock().unwrap() = urls.clone();
                Ok(())
            }));
        })
        .await;
        let (status, r) = append(&ch.seq, "before any witness", "committed").await;
        assert_eq!((status, r.state.as_str()), (200, "committed"), "{r:?}");

        // The co-signer approves witness 1 with threshold 1 (its key as a key string).
        let approval = approve(&ch.cos, vec![spec(1, true)], 1).await.unwrap();
        assert_eq!((approval.number, approval.witness_threshold), (1, 1));
        assert_eq!(approval.origin, ORIGIN);
        assert_eq!(approval.approver.name, bravo().name());
        assert_eq!(
            approval.witnesses[0].public_key,
            STANDARD.encode(witness_key(1).public_key())
        );

        // The sequencer makes the change, with the witness's URL.
        let mut submitted = approval.clone();
        let w1_name = witness_key(1).name().to_owned();
        submitted
            .witness_urls
            .insert(w1_name.clone(), format!("http://{a1}/"));
        let made = admin(&ch.seq)
            .witness_change(&submitted, TIMEOUT)
            .await
            .unwrap();
        assert_eq!((made.state.as_str(), made.number), ("pending", 1));
        let change_index = made.index.unwrap();
        assert_eq!(change_index, 2);
        // Stored, normalised, through the saver, and in force without a restart.
        let want: BTreeMap<_, _> = [(w1_name.clone(), format!("http://{a1}"))].into();
        assert_eq!(*saved.lock().unwrap(), want);
        assert_eq!(made.stored_urls, want);

        // The witness is down: the change and what follows stay pending.
        let (status, r) = append(&ch.seq, "needs the new witness", "accepted").await;
        assert_eq!(status, 200, "{r:?}");
        assert!(
            wait_until(TIMEOUT, || async {
                let s = ch.seq.status().await.unwrap();
                s.witnesses.threshold == 1
                    && s.witnesses.witnesses.len() == 1
                    && s.witnesses.witnesses[0].name == w1_name
                    && s.witnesses.witnesses[0].url.as_deref() == Some(&*format!("http://{a1}"))
                    && s.witnesses.witnesses[0].failures > 0
            })
            .await,
            "{:?}",
            ch.seq.status().await.unwrap().witnesses
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (size, committed) = size_and_committed(&ch.seq).await;
        assert_eq!(size, 4);
        assert!(committed <= change_index, "committed {committed}");
        assert!(ch.cos.status().await.unwrap().committed_size <= change_index);

        // The witness comes up: everything commits, with its cosignature.
        let w1 = start_witness(scratch.path(), 1, a1).await;
        assert!(
            wait_until(TIMEOUT, || async {
                size_and_committed(&ch.seq).await == (4, 4)
            })
            .await,
            "{:?}",
            ch.seq.status().await.unwrap().witnesses
        );
        assert!(served_with_witness(&ch.seq, 1).await);
        assert!(
            wait_until(TIMEOUT, || async {
                ch.cos.status().await.unwrap().committed_size == 4
            })
            .await
        );

        // The co-signer removes it (threshold 0), with the sequencer's approval.
        let approval = approve(&ch.seq, vec![], 0).await.unwrap();
        assert_eq!(approval.number, 2);
        assert_eq!(approval.approver.name, alpha().name());
        let made = admin(&ch.cos)
            .witness_change(&approval, TIMEOUT)
            .await
            .unwrap();
        assert_eq!((made.state.as_str(), made.number), ("queued", 2));
        assert!(made.index.is_none() && made.sequence.is_some());
        // Committed once in the log: from its own checkpoint on, threshold 0 holds.
        assert!(
            wait_until(TIMEOUT, || async {
                size_and_committed(&ch.seq).await == (5, 5)
            })
            .await,
            "{:?}",
            ch.seq.status().await.unwrap()
        );

        // The witness goes down: later entries commit without it.
        w1.shutdown().await;
        let (status, r) = append(&ch.seq, "after the removal", "committed").await;
        assert_eq!((status, r.state.as_str()), (200, "committed"), "{r:?}");
        let s = ch.seq.status().await.unwrap();
        assert_eq!(s.witnesses.threshold, 0);
        assert!(s.witnesses.witnesses.is_empty(), "{:?}", s.witnesses);
        let metrics = ch.seq.metrics().render();
        assert!(!metrics.contains("witness1.example"), "{metrics}");
        assert!(
            wait_until(TIMEOUT, || async {
                ch.cos.status().await.unwrap().committed_size == 6
            })
            .await
        );

        ch.cos.shutdown().await.unwrap();
        ch.seq.shutdown().await.unwrap();
        drop(ch.dir);
    });
}

#[test]
fn forged_approvals_and_bad_sets_are_refused_by_name_and_nothing_is_appended() {
    runtime().block_on(async {
        let ch = start_nodes(0, 0, &[]).await;
        let (status, r) = append(&ch.seq, "first", "committed").await;
        assert_eq!((status, r.state.as_str()), (200, "committed"), "{r:?}");
        let genuine = approve(&ch.cos, vec![spec(1, false)], 1).await.unwrap();
        let before = (
            size_and_committed(&ch.seq).await,
            ch.cos.status().await.unwrap().queued,
        );

        // Signed by a key that is not the co-signer's.
        let mut forged = genuine.clone();
        let w1 = Party::of(&witness_key(1));
        forged.approval = STANDARD.encode(dyad_ledger::entry::witness_change::approve(
            &witness_key(2),
            ORIGIN,
            1,
            &[w1],
            1,
        ));
        let (status, body) = refusal(admin(&ch.seq).witness_change(&forged, TIMEOUT).await);
        assert_eq!(status, 422);
        assert!(body.starts_with("BadApproval"), "{body}");

        // The genuine approval under another number, or for another threshold.
        let mut renumbered = genuine.clone();
        renumbered.number = 2;
        let (status, body) = refusal(admin(&ch.seq).witness_change(&renumbered, TIMEOUT).await);
        assert_eq!(status, 422);
        assert!(body.starts_with("WrongWitnessChangeNumber"), "{body}");
        let mut other_set = genuine.clone();
        other_set.witness_threshold = 0;
        let (status, body) = refusal(admin(&ch.seq).witness_change(&other_set, TIMEOUT).await);
        assert_eq!(status, 422);
        assert!(body.starts_with("BadApproval"), "{body}");

        // The co-signer's own approval handed back to it: not the other party's.
        let (status, body) = refusal(admin(&ch.cos).witness_change(&genuine, TIMEOUT).await);
        assert_eq!(status, 422);
        assert!(body.starts_with("BadApproval"), "{body}");

        // Another channel; an approval that is not 64 bytes.
        let mut elsewhere = genuine.clone();
        elsewhere.origin = "elsewhere.example/x".into();
        let (status, _) = refusal(admin(&ch.seq).witness_change(&elsewhere, TIMEOUT).await);
        assert_eq!(status, 422);
        let mut short = genuine.clone();
        short.approval = STANDARD.encode([1u8; 63]);
        let (status, _) = refusal(admin(&ch.seq).witness_change(&short, TIMEOUT).await);
        assert_eq!(status, 400);

        // Sets the approver refuses before it signs: a threshold above the count, a
        // witness twice, a party's key as a witness, a key string under another name.
        let (status, body) = refusal(approve(&ch.cos, vec![spec(1, false)], 2).await);
        assert_eq!(status, 422);
        assert!(body.starts_with("MalformedPayload"), "{body}");
        let (status, body) =
            refusal(approve(&ch.cos, vec![spec(1, false), spec(1, true)], 1).await);
        assert_eq!(status, 422);
        assert!(body.starts_with("InvalidWitness"), "{body}");
        let party_key = WitnessSpec {
            name: "notary.example".into(),
            public_key: STANDARD.encode(alpha().public_key()),
            url: None,
        };
        let (status, body) = refusal(approve(&ch.cos, vec![party_key], 1).await);
        assert_eq!(status, 422);
        assert!(body.starts_with("WitnessKeyReused"), "{body}");
        let mut misnamed = spec(1, true);
        misnamed.name = "other.example".into();
        let (status, _) = refusal(approve(&ch.cos, vec![misnamed], 1).await);
        assert_eq!(status, 400);
        // A URL for a witness outside the set.
        let mut stray = genuine.clone();
        stray
            .witness_urls
            .insert("stranger.example".into(), "http://127.0.0.1:1".into());
        let (status, _) = refusal(admin(&ch.seq).witness_change(&stray, TIMEOUT).await);
        assert_eq!(status, 400);

        tokio::time::sleep(Duration::from_millis(200)).await;
        let after = (
            size_and_committed(&ch.seq).await,
            ch.cos.status().await.unwrap().queued,
        );
        assert_eq!(before, after, "nothing appended or queued");

        // The genuine approval still makes the change.
        let made = admin(&ch.seq)
            .witness_change(&genuine, TIMEOUT)
            .await
            .unwrap();
        assert_eq!(made.number, 1);
        // Spent: the same approval again is for a number that is taken.
        let (status, body) = refusal(admin(&ch.seq).witness_change(&genuine, TIMEOUT).await);
        assert_eq!(status, 422);
        assert!(body.starts_with("WrongWitnessChangeNumber"), "{body}");

        ch.cos.shutdown().await.unwrap();
        ch.seq.shutdown().await.unwrap();
        drop(ch.dir);
    });
}
