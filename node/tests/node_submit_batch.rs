//! `POST /submit-batch` (spec/node.md section 4.2): a result per entry, one promise for the
//! accepted ones, and the bad bodies refused without storing anything.

mod node_support;

use std::time::Duration;

use dyad_ledger::entry::{Draft, Kind, SignedEntry};
use dyad_node::submit::{self, encode_batch, SubmitResults, MAX_SUBMIT_BATCH};
use dyad_node::{submit_batch, BatchPromise, SubmitError, SubmitResult};
use node_support::*;

fn cosigner_entry(sequence: u64, subject: &str) -> SignedEntry {
    Draft::new(Kind::Notification, subject, "text/plain", b"x".to_vec())
        .sign(&bravo(), ORIGIN, sequence, now_ms())
        .unwrap()
}

/// The index of each entry of an answer in which every entry was accepted.
fn accepted_indexes(out: &dyad_node::SubmitOutcome) -> Vec<u64> {
    out.results
        .iter()
        .map(|r| match r {
            SubmitResult::Accepted { index } => *index,
            SubmitResult::Refused { status, message } => panic!("{status} {message}"),
        })
        .collect()
}

async fn post(url: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
    let r = http_to(url).post(url).body(body).send().await.unwrap();
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

#[test]
fn one_bad_entry_among_good_ones_is_refused_alone_and_the_rest_promised() {
    runtime().block_on(async {
        let pair = Pair::start().await;
        let log_key = alpha().verifier_key().with_name(ORIGIN).unwrap();
        let seq_url = pair.seq().url();
        let before = pair.seq().status().await.unwrap().size;

        // Entries 1..=6 of the co-signer; number 3 carries a broken signature.
        let mut batch: Vec<SignedEntry> = (1..=6)
            .map(|i| cosigner_entry(i, &format!("batched {i}")))
            .collect();
        let good_third = batch[2].clone();
        let mut broken = batch[2].entry.clone();
        broken.signatures[0].signature[7] ^= 1;
        batch[2] = SignedEntry::new(broken).unwrap();

        let out = submit_batch(&http_to(&seq_url), &seq_url, &batch, ORIGIN, &log_key)
            .await
            .unwrap();
        let statuses: Vec<u16> = out
            .results
            .iter()
            .map(|r| match r {
                SubmitResult::Accepted { .. } => 200,
                SubmitResult::Refused { status, .. } => *status,
            })
            .collect();
        // Only the bad one fails on its own merits; the later ones meet its gap.
        assert_eq!(statuses, [200, 200, 403, 409, 409, 409]);
        let (promise, note) = out.promise.expect("two entries were accepted");
        assert_eq!(
            promise.entries,
            vec![
                (before, batch[0].leaf_hash),
                (before + 1, batch[1].leaf_hash)
            ]
        );
        assert_eq!(BatchPromise::verify(&note, &log_key).unwrap(), promise);
        assert_eq!(pair.seq().status().await.unwrap().size, before + 2);
        assert_eq!(
            pair.seq()
                .metrics()
                .rejected("submit-batch", "bad-signature"),
            1
        );
        assert_eq!(pair.seq().metrics().rejected("submit-batch", "sequence"), 3);

        // The whole batch again, repaired: the first two keep their indexes (nothing is
        // appended twice), the rest go in, and one promise covers all six.
        batch[2] = good_third;
        let out = submit_batch(&http_to(&seq_url), &seq_url, &batch, ORIGIN, &log_key)
            .await
            .unwrap();
        let indexes = accepted_indexes(&out);
        assert_eq!(indexes, (before..before + 6).collect::<Vec<_>>());
        assert_eq!(out.promise.unwrap().0.entries.len(), 6);
        assert_eq!(pair.seq().status().await.unwrap().size, before + 6);

        // The co-signer replicates and co-signs them; its own numbering goes on after them.
        pair.wait_converged(Duration::from_secs(20)).await;
        let (status, r) = append(pair.cos(), "after the batch", "committed").await;
        assert_eq!((status, r.index), (200, Some(before + 6)));
        let subjects = subjects_of(&pair).await;
        assert_eq!(subjects.last().map(String::as_str), Some("after the batch"));
        pair.stop().await;
    });
}

/// The co-signer keeps two batches in flight (spec/node.md 4.3): a batch that reaches the
/// sequencer before the one holding the messages before it waits for that one, so both
/// go in, in sequence order, instead of the early one meeting a gap (409).
#[test]
fn a_batch_that_arrives_early_waits_for_the_one_before_it() {
    runtime().block_on(async {
        let pair = Pair::start().await;
        let log_key = alpha().verifier_key().with_name(ORIGIN).unwrap();
        let seq_url = pair.seq().url();
        let before = pair.seq().status().await.unwrap().size;
        // Signed in order: a sender's timestamps must not go back.
        let all: Vec<SignedEntry> = (1..=8)
            .map(|i| cosigner_entry(i, &format!("message {i}")))
            .collect();
        let batch = |from: usize, to: usize| all[from - 1..to].to_vec();
        // Until one batch went in, the sequencer cannot know whose turn it is.
        let client = http_to(&seq_url);
        let first = submit_batch(&client, &seq_url, &batch(1, 2), ORIGIN, &log_key).await;
        assert_eq!(accepted_indexes(&first.unwrap()), [before, before + 1]);

        let (url, key, six_to_eight) = (seq_url.clone(), log_key.clone(), batch(6, 8));
        let early = tokio::spawn(async move {
            submit_batch(&http_to(&url), &url, &six_to_eight, ORIGIN, &key).await
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        let late = submit_batch(&client, &seq_url, &batch(3, 5), ORIGIN, &log_key).await;
        let late = accepted_indexes(&late.unwrap());
        let early = accepted_indexes(&early.await.unwrap().unwrap());
        assert_eq!(late, (before + 2..before + 5).collect::<Vec<_>>());
        assert_eq!(early, (before + 5..before + 8).collect::<Vec<_>>());
        assert_eq!(pair.seq().metrics().rejected("submit-batch", "sequence"), 0);
        pair.stop().await;
    });
}

async fn subjects_of(pair: &Pair) -> Vec<String> {
    let client = dyad_node::TileClient::with_http(&pair.seq().url(), pair.as_cos()).unwrap();
    let size = pair.seq().status().await.unwrap().size;
    client
        .fetch_entries(1, size)
        .await
        .unwrap()
        .iter()
        .map(|b| SignedEntry::decode(b).unwrap().entry.body.subject)
        .collect()
}

#[test]
fn bad_batch_bodies_are_refused_and_nothing_is_stored() {
    runtime().block_on(async {
        let pair = Pair::start().await;
        let url = format!("{}/submit-batch", pair.seq().url());
        let before = pair.seq().status().await.unwrap().size;
        let good = cosigner_entry(1, "good");

        // Framing: empty, a zero length, a length past the end, bytes after the last entry.
        assert_eq!(post(&url, vec![]).await.0, 400);
        assert_eq!(post(&url, vec![0, 0]).await.0, 400);
        let mut cut = encode_batch([good.bytes.as_slice()]).unwrap();
        cut.pop();
        assert_eq!(post(&url, cut).await.0, 400);
        let mut trailing = encode_batch([good.bytes.as_slice()]).unwrap();
        trailing.push(7);
        assert_eq!(post(&url, trailing).await.0, 400);
        // More entries than a batch may hold.
        let many = encode_batch(std::iter::repeat_n(&b"x"[..], MAX_SUBMIT_BATCH + 1)).unwrap();
        assert_eq!(post(&url, many).await.0, 400);
        // Oversized: beyond the body limit, declared.
        let huge = vec![0xffu8; submit::MAX_SUBMIT_BATCH_BYTES + 1];
        assert_eq!(post(&url, huge).await.0, 413);
        assert_eq!(
            pair.seq()
                .metrics()
                .rejected("submit-batch", "malformed-batch"),
            5
        );
        assert_eq!(
            pair.seq().metrics().rejected("submit-batch", "too-large"),
            1
        );

        // Well framed, but entries that are not the co-signer's for this channel: each is
        // answered alone, with /submit's status.
        let garbage = b"\x01not an entry".to_vec();
        let elsewhere = Draft::new(Kind::Notification, "elsewhere", "text/plain", vec![])
            .sign(&bravo(), "example.org/dyad/other", 1, now_ms())
            .unwrap();
        let spoof = Draft::new(Kind::Notification, "spoof", "text/plain", vec![])
            .sign(&alpha(), ORIGIN, 1, now_ms())
            .unwrap();
        let body = encode_batch([
            garbage.as_slice(),
            elsewhere.bytes.as_slice(),
            spoof.bytes.as_slice(),
        ])
        .unwrap();
        let (status, answer) = post(&url, body).await;
        assert_eq!(status, 200);
        let parsed = SubmitResults::parse(&answer, 3).unwrap();
        let statuses: Vec<u16> = parsed
            .results
            .iter()
            .map(|r| match r {
                SubmitResult::Refused { status, .. } => *status,
                SubmitResult::Accepted { .. } => 200,
            })
            .collect();
        assert_eq!(statuses, [400, 422, 403]);
        assert_eq!(parsed.promise, None, "nothing accepted, nothing promised");

        // The co-signer has no such endpoint.
        let cos = format!("{}/submit-batch", pair.cos().url());
        assert_eq!(
            post(&cos, encode_batch([good.bytes.as_slice()]).unwrap())
                .await
                .0,
            404
        );

        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            pair.seq().status().await.unwrap().size,
            before,
            "nothing was stored"
        );

        // A promise that does not cover what was accepted is refused by the client.
        let log_key = alpha().verifier_key().with_name(ORIGIN).unwrap();
        let out = submit_batch(
            &pair.as_cos(),
            &pair.seq().url(),
            std::slice::from_ref(&good),
            ORIGIN,
            &log_key,
        )
        .await
        .unwrap();
        let mut forged = SubmitResults {
            results: out.results.clone(),
            promise: out.promise.map(|p| p.1),
        };
        forged.results[0] = SubmitResult::Accepted { index: before + 1 };
        assert!(matches!(
            submit::check_promise(&forged, std::slice::from_ref(&good), ORIGIN, &log_key),
            Err(SubmitError::PromiseMismatch)
        ));
        pair.stop().await;
    });
}
