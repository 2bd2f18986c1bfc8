//! The co-signer's submitter: sends this party's queued messages to the sequencer
//! (`POST /submit-batch`) and keeps the promises it gets back.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use dyad_ledger::entry::SignedEntry;
use dyad_ledger::tree::Hash;
use dyad_ledger::wire::submit::{SubmitResult, MAX_SUBMIT_BATCH, MAX_SUBMIT_BATCH_BYTES};
use tokio::task::JoinHandle;

use super::promise_check;
use crate::client::{self, SubmitBatchError, SubmitOutcome};
use crate::metrics::Metrics;
use crate::{lock, NodeError, PromiseRecord, Shared, PROMISES_DIR};

/// Promises kept in memory for waiting admin requests before those of messages no longer
/// queued are let go (they stay on disk).
const MAX_PROMISES_KEPT: usize = 65_536;

/// Batches sent before the one before them is answered, once a batch of the pass has been:
/// the next batch is at the sequencer while the one before it is written, so its group
/// commit does not wait for a round trip. The sequencer hands them over in sequence order
/// (`sequencer/submit_order.rs`).
const BATCHES_IN_FLIGHT: usize = 2;

/// Submits this co-signer's queued messages to the sequencer, oldest first, in batches
/// (`POST /submit-batch`, [`BATCHES_IN_FLIGHT`] at a time, answers taken in order),
/// until each has a verified promise. A batch stops at its first refused entry; once the
/// batches in flight are answered, the pass starts again from there after a pause, with
/// bounded exponential backoff. After a restart everything still queued is submitted
/// again: the sequencer answers an entry it holds with the same index.
pub(crate) async fn run_submitter(shared: Arc<Shared>) {
    let mut backoff = shared.config.retry_initial;
    let mut stop = shared.shutdown_signal();
    'passes: loop {
        if shared.is_stopping() {
            break;
        }
        let Some(peer) = shared.peer_url() else {
            idle(&shared).await;
            continue;
        };
        // Queued messages the peer already holds leave the queue as the check catches up.
        if shared.signing_blocked().is_some() {
            idle(&shared).await;
            continue;
        }
        let queued = match shared.read(|ch| Ok(ch.queued()?)).await {
            Ok(q) => q,
            Err(NodeError::Stopped) => break,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the queue");
                idle(&shared).await;
                continue;
            }
        };
        let todo: Vec<SignedEntry> = {
            let mut promises = lock(&shared.promises);
            if promises.len() > MAX_PROMISES_KEPT {
                // Promises of messages that left the queue are on disk; keep memory flat.
                let still: std::collections::HashSet<Hash> =
                    queued.iter().map(|e| e.leaf_hash).collect();
                promises.retain(|h, _| still.contains(h));
            }
            queued
                .into_iter()
                .filter(|e| !promises.contains_key(&e.leaf_hash))
                .collect()
        };
        if todo.is_empty() {
            idle(&shared).await;
            continue;
        }
        // One pass over the queue, in order; any failure starts a new pass after a pause,
        // once every batch sent has been answered and its promises kept.
        let todo = Arc::new(todo);
        let mut next = 0;
        let mut in_flight = VecDeque::new();
        let mut failed = None;
        // The first batch of a pass goes alone: until the sequencer has decided it, it
        // cannot tell the next batch's turn (`submit_order.rs`).
        let mut answered = false;
        loop {
            let limit = if answered { BATCHES_IN_FLIGHT } else { 1 };
            while failed.is_none() && in_flight.len() < limit && next < todo.len() {
                let range = next..next + batch_len(&todo[next..]);
                next = range.end;
                in_flight.push_back(send(&shared, &peer, &todo, range));
            }
            let Some((range, mut answer)) = in_flight.pop_front() else {
                break;
            };
            let outcome = tokio::select! {
                o = &mut answer => o.unwrap_or_else(|e| Err(e.to_string())),
                _ = shared.stopped() => {
                    answer.abort();
                    in_flight.iter().for_each(|(_, a)| a.abort());
                    break 'passes;
                }
            };
            // A batch answered after one that failed counts for its promises only.
            match (kept(&shared, &todo[range], outcome).await, &failed) {
                (None, None) => {
                    shared.peer_ok();
                    backoff = shared.config.retry_initial;
                    answered = true;
                }
                (None, Some(_)) => {}
                (Some(why), _) => {
                    failed.get_or_insert(why);
                }
            }
        }
        if let Some(why) = failed {
            tracing::warn!(peer = %peer, error = %why, retry_in_ms = backoff.as_millis() as u64, "submission failed; will retry");
            shared.peer_failed(why);
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = stop.wait_for(|s| *s) => {}
            }
            backoff = (backoff * 2).min(shared.config.retry_max);
        }
    }
}

/// Sends `todo[range]` as one batch, on its own task: its answer, or why there is none.
fn send(
    shared: &Arc<Shared>,
    peer: &str,
    todo: &Arc<Vec<SignedEntry>>,
    range: Range<usize>,
) -> (Range<usize>, JoinHandle<Result<SubmitOutcome, String>>) {
    let (shared, peer, todo) = (shared.clone(), peer.to_owned(), todo.clone());
    let batch = range.clone();
    let answer = tokio::spawn(async move {
        let outcome = submit_batch(&shared, &peer, &todo[batch]).await;
        outcome.map_err(|e| e.to_string())
    });
    (range, answer)
}

/// Keeps what a batch's answer promised (recorded by index before anything else can wait
/// on the promise, then checked against what this replica holds); why the batch failed,
/// if it did.
async fn kept(
    shared: &Arc<Shared>,
    batch: &[SignedEntry],
    outcome: Result<SubmitOutcome, String>,
) -> Option<String> {
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(why) => return Some(why),
    };
    let promise = outcome.promise.clone().map(|(promise, note)| {
        let note = Arc::new(note);
        shared.promise_book.record(&promise.entries, &note);
        (promise, note)
    });
    let failure = keep_promises(shared, batch, outcome);
    if let Some((promise, note)) = promise {
        promise_check::check_held(shared, &promise, &note).await;
    }
    failure
}

/// How many of `entries` (from the first) go in the next batch: at most
/// `MAX_SUBMIT_BATCH`, and their framing within the sequencer's body limit.
fn batch_len(entries: &[SignedEntry]) -> usize {
    let mut bytes = 0;
    let mut n = 0;
    for e in entries.iter().take(MAX_SUBMIT_BATCH) {
        bytes += 2 + e.bytes.len();
        if bytes > MAX_SUBMIT_BATCH_BYTES && n > 0 {
            break;
        }
        n += 1;
    }
    n
}

/// Keeps the promise of a batch (one file, named by its first entry) and records each
/// promised entry; the reason of the first refused entry, if any (the rest of the pass
/// waits for a retry).
fn keep_promises(shared: &Shared, batch: &[SignedEntry], outcome: SubmitOutcome) -> Option<String> {
    if let Some((promise, note)) = &outcome.promise {
        let (first, first_hash) = promise.entries[0];
        let name = format!("{first:020}-{}.promise", hex::encode(first_hash));
        if let Err(e) = shared.keep_file(PROMISES_DIR, &name, note) {
            tracing::error!(error = %e, "cannot keep the promise");
        }
        let note = Arc::new(note.clone());
        let mut promises = lock(&shared.promises);
        for (entry, result) in batch.iter().zip(&outcome.results) {
            if let SubmitResult::Accepted { index } = result {
                promises.insert(
                    entry.leaf_hash,
                    PromiseRecord {
                        index: *index,
                        note: note.clone(),
                    },
                );
            }
        }
    }
    let accepted = outcome
        .results
        .iter()
        .filter(|r| matches!(r, SubmitResult::Accepted { .. }))
        .count();
    if accepted > 0 {
        tracing::debug!(entries = accepted, "promised");
        Metrics::inc(&shared.metrics.promises, accepted as u64);
        shared.promise_events.send_modify(|n| *n += 1);
    }
    batch
        .iter()
        .zip(&outcome.results)
        .find_map(|(e, r)| match r {
            SubmitResult::Refused { status, message } => Some(format!(
                "the sequencer refused message {} with {status}: {message}",
                e.entry.body.sequence
            )),
            SubmitResult::Accepted { .. } => None,
        })
}

async fn idle(shared: &Shared) {
    tokio::select! {
        _ = shared.wake_submitter.notified() => {}
        _ = shared.stopped() => {}
        _ = tokio::time::sleep(Duration::from_secs(5)) => {}
    }
}

/// `POST <sequencer>/submit-batch` of `batch`: each entry's result and the verified
/// promise covering the accepted ones, checked against the entries.
async fn submit_batch(
    shared: &Shared,
    peer: &str,
    batch: &[SignedEntry],
) -> Result<SubmitOutcome, SubmitBatchError> {
    let log_key = shared.keys().log_key.clone();
    client::submit_batch(&shared.http, peer, batch, &shared.origin, &log_key).await
}
