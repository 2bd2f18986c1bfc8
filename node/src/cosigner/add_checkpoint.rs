//! The co-signer's side: C2SP tlog-witness `add-checkpoint`, and the submitter that sends
//! this party's queued messages to the sequencer and keeps its promises.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;
use dyad_verifier::equivocation::{self, Contradiction};
use dyad_verifier::proof::verify_consistency;

use crate::evidence_store::Kept;
use crate::metrics::Metrics;
use crate::promise_check;
use crate::response::{reject, size_conflict, text};
use crate::submit::{self, SubmitResult, MAX_SUBMIT_BATCH, MAX_SUBMIT_BATCH_BYTES};
use crate::witness::AddCheckpoint;
use crate::{lock, now_ms, NodeError, PromiseRecord, Shared, PROMISES_DIR};
use dyad_ledger::channel::{ChannelError, Role};
use dyad_ledger::entry::SignedEntry;
use dyad_ledger::tree::Hash;

const EP: &str = "add-checkpoint";
/// Promises kept in memory for waiting admin requests before those of messages no longer
/// queued are let go (they stay on disk).
const MAX_PROMISES_KEPT: usize = 65_536;

/// Keeps a request whose checkpoint the log signed but which conflicts with this replica
/// (or comes with a proof that does not verify): it may be evidence of equivocation. The
/// file is named by what conflicts (`reason`, the sizes, the log's root and this
/// replica's), so the same conflict in other request bodies keeps the first file only.
fn keep_evidence(shared: &Shared, reason: &str, sizes: &str, roots: (&Hash, &Hash), body: &[u8]) {
    let name = format!(
        "{reason}-{sizes}-{}-{}.txt",
        hex::encode(&roots.0[..8]),
        hex::encode(&roots.1[..8])
    );
    match shared
        .evidence
        .keep(&name, body, &shared.metrics, "conflicting checkpoint")
    {
        Ok(Kept::New) => {
            tracing::warn!(file = %name, "kept a sequencer-signed checkpoint that conflicts with this replica as evidence")
        }
        Ok(Kept::Exists | Kept::Full) => {}
        Err(e) => tracing::error!(error = %e, file = %name, "cannot keep evidence"),
    }
}

/// Two notes signed by the log for one size with different roots: a portable
/// `dyad-equivocation/v1` file (spec/evidence.md) that anyone can check with the log key.
fn keep_equivocation(
    shared: &Shared,
    size: u64,
    roots: (&Hash, &Hash),
    ours: &[u8],
    theirs: &[u8],
) {
    let evidence = equivocation::build(ours, theirs, &Contradiction::SameSize);
    if let Err(e) = equivocation::verify(&evidence, &shared.log_key) {
        tracing::error!(error = %e, size, "the conflicting checkpoints do not make verifiable evidence");
        return;
    }
    let name = format!(
        "equivocation-{size}-{}-{}.dyad-equivocation",
        hex::encode(&roots.0[..8]),
        hex::encode(&roots.1[..8])
    );
    match shared
        .evidence
        .keep(&name, &evidence, &shared.metrics, "equivocation")
    {
        Ok(Kept::New) => {
            tracing::error!(file = %name, size, "the log signed two different trees of one size: evidence of equivocation kept")
        }
        Ok(Kept::Exists | Kept::Full) => {}
        Err(e) => tracing::error!(error = %e, file = %name, "cannot keep evidence"),
    }
}

fn internal(shared: &Shared, e: NodeError) -> Response {
    match e {
        NodeError::Stopped => reject(
            shared,
            EP,
            StatusCode::SERVICE_UNAVAILABLE,
            "stopping",
            "the node is stopping",
        ),
        e => reject(shared, EP, StatusCode::INTERNAL_SERVER_ERROR, "internal", e),
    }
}

/// `POST /add-checkpoint` (C2SP tlog-witness), on the co-signer.
pub(crate) async fn add_checkpoint(shared: Arc<Shared>, body: Bytes) -> Response {
    if shared.role != Role::Cosigner {
        return reject(
            &shared,
            EP,
            StatusCode::NOT_FOUND,
            "not-cosigner",
            "this node is the log's sequencer, not a co-signer",
        );
    }
    if shared.is_stopping() {
        return reject(
            &shared,
            EP,
            StatusCode::SERVICE_UNAVAILABLE,
            "stopping",
            "the node is stopping",
        );
    }
    let req = match AddCheckpoint::parse(&body) {
        Ok(r) => r,
        Err(e) => return reject(&shared, EP, StatusCode::BAD_REQUEST, "malformed", e),
    };
    let parsed = match dyad_verifier::note::parse(&req.note) {
        Ok(p) => p,
        Err(e) => return reject(&shared, EP, StatusCode::BAD_REQUEST, "malformed-note", e),
    };
    let checkpoint = match dyad_verifier::checkpoint::parse(&parsed.text) {
        Ok(c) => c,
        Err(e) => {
            return reject(
                &shared,
                EP,
                StatusCode::BAD_REQUEST,
                "malformed-checkpoint",
                e,
            )
        }
    };
    if checkpoint.origin != shared.origin {
        return reject(
            &shared,
            EP,
            StatusCode::NOT_FOUND,
            "unknown-origin",
            format!("unknown origin {:?}", checkpoint.origin),
        );
    }
    match dyad_verifier::note::verify(&req.note, std::slice::from_ref(&shared.log_key)) {
        Ok(v) if v.verified.iter().any(|s| s.key == shared.log_key) => {}
        Ok(_) => {
            return reject(
                &shared,
                EP,
                StatusCode::FORBIDDEN,
                "bad-signature",
                "the checkpoint is not signed by the log key",
            )
        }
        Err(e) => return reject(&shared, EP, StatusCode::FORBIDDEN, "bad-signature", e),
    }
    if req.old > checkpoint.size {
        return reject(
            &shared,
            EP,
            StatusCode::BAD_REQUEST,
            "old-beyond-size",
            format!(
                "old size {} is above the checkpoint's size {}",
                req.old, checkpoint.size
            ),
        );
    }

    // From here to the store, one request at a time: `old` must still be our size when
    // the new entries are stored (tlog-witness: check and persist atomically).
    let _serial = shared.cosign_lock.lock().await;
    let size = checkpoint.size;
    let root = checkpoint.root;
    let here = shared
        .read(move |ch| {
            let held = ch.size();
            let root_there = if size <= held {
                Some(ch.store().root_at(size).map_err(ChannelError::from)?)
            } else {
                None
            };
            // Our co-signed note for that size, if any: with theirs, proof of equivocation.
            let ours = match root_there {
                Some(r) if r != root => ch.store().checkpoint(size).map_err(ChannelError::from)?,
                _ => None,
            };
            Ok((held, ch.store().root(), root_there, ours))
        })
        .await;
    let (held, our_root, root_there, ours) = match here {
        Ok(h) => h,
        Err(e) => return internal(&shared, e),
    };
    if let Some(root) = root_there {
        if root != checkpoint.root {
            let roots = (&checkpoint.root, &root);
            keep_evidence(&shared, "conflict", &size.to_string(), roots, &body);
            if let Some(ours) = ours {
                keep_equivocation(&shared, size, (&root, &checkpoint.root), &ours, &req.note);
            }
            return size_conflict(
                &shared,
                EP,
                "conflicting-root",
                held,
                format!("the log signed size {size} with a root that differs from this replica's"),
            );
        }
    }
    if req.old != held {
        return size_conflict(
            &shared,
            EP,
            "old-size-mismatch",
            held,
            format!("old size {} is not this co-signer's size {held}", req.old),
        );
    }
    if size > held {
        if let Err(e) = verify_consistency(held, size, &our_root, &checkpoint.root, &req.proof) {
            let sizes = format!("{size}-from-{held}");
            keep_evidence(
                &shared,
                "inconsistent",
                &sizes,
                (&checkpoint.root, &our_root),
                &body,
            );
            return reject(
                &shared,
                EP,
                StatusCode::UNPROCESSABLE_ENTITY,
                "bad-consistency-proof",
                format!("the consistency proof from {held} to {size} does not verify: {e}"),
            );
        }
    }
    let step = shared.config.max_cosign_step.max(1);
    if size - held > step {
        return reject(
            &shared,
            EP,
            StatusCode::UNPROCESSABLE_ENTITY,
            "step-too-large",
            format!(
                "{} new entries at once; this co-signer takes at most {step} per checkpoint",
                size - held
            ),
        );
    }
    let entries = if size > held {
        let Some(peer) = shared.peer_url() else {
            return reject(
                &shared,
                EP,
                StatusCode::SERVICE_UNAVAILABLE,
                "no-peer-url",
                "this co-signer does not know the sequencer's URL to fetch the entries from",
            );
        };
        match crate::fetch::new_entries(&shared, &peer, held, size).await {
            Ok(entries) => entries,
            Err(e @ crate::fetch::FetchError::TooLarge { .. }) => {
                return reject(
                    &shared,
                    EP,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "step-too-large",
                    e,
                )
            }
            Err(e @ crate::fetch::FetchError::Malformed { .. }) => {
                return reject(
                    &shared,
                    EP,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "bad-entries",
                    e,
                )
            }
            Err(e) => {
                return reject(
                    &shared,
                    EP,
                    StatusCode::BAD_GATEWAY,
                    "fetch-failed",
                    format!("cannot fetch entries {held}..{size} from the sequencer: {e}"),
                )
            }
        }
    } else {
        Vec::new()
    };
    if let Err(refused) = promise_check::check_new_entries(&shared, held, &entries, &req.note).await
    {
        return refused;
    }
    let note = req.note.clone();
    let key = shared.key.clone();
    let result = shared
        .write(move |ch| {
            let cosigned = ch.accept_and_cosign(&key, &entries, &note, now_ms())?;
            let lines = ch.own_cosignature_lines(&cosigned)?;
            Ok((lines, ch.committed_size()?, ch.size()))
        })
        .await;
    match result {
        Ok((lines, committed, new_size)) => {
            Metrics::inc(&shared.metrics.entries, new_size - held);
            Metrics::inc(&shared.metrics.checkpoints_committed, 1);
            Metrics::set(&shared.metrics.log_size, new_size);
            shared.set_published(new_size);
            shared.set_committed(committed);
            shared.promise_book.settle(new_size);
            tracing::debug!(size, new_entries = new_size - held, "co-signed");
            text(StatusCode::OK, "text/plain; charset=utf-8", lines)
        }
        Err(NodeError::Channel(e)) => {
            let (status, reason) = match &e {
                ChannelError::RootMismatch { .. } => {
                    (StatusCode::UNPROCESSABLE_ENTITY, "root-mismatch")
                }
                ChannelError::Rollback { held, .. } => {
                    return size_conflict(&shared, EP, "rollback", *held, e);
                }
                ChannelError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "store"),
                _ => (StatusCode::UNPROCESSABLE_ENTITY, "bad-entries"),
            };
            reject(&shared, EP, status, reason, e)
        }
        Err(e) => internal(&shared, e),
    }
}

/// Submits this co-signer's queued messages to the sequencer, oldest first, in batches
/// (`POST /submit-batch`, one request in flight: their sequence numbers must arrive in
/// order), until each has a verified promise. A batch stops at its first refused entry;
/// the pass then starts again from there after a pause, with bounded exponential backoff.
/// After a restart everything still queued is submitted again: the sequencer answers an
/// entry it holds with the same index.
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
        // One pass over the queue, in order; any failure starts a new pass after a pause.
        let mut rest = &todo[..];
        while !rest.is_empty() {
            let n = batch_len(rest);
            let (batch, later) = rest.split_at(n);
            rest = later;
            let outcome = tokio::select! {
                o = submit_batch(&shared, &peer, batch) => o,
                _ = shared.stopped() => break 'passes,
            };
            let failure = match outcome {
                Ok(outcome) => {
                    // Recorded by index before anything else can wait on the promise.
                    let promise = outcome.promise.clone().map(|(promise, note)| {
                        let note = Arc::new(note);
                        shared.promise_book.record(&promise.entries, &note);
                        (promise, note)
                    });
                    let failure = keep_promises(&shared, batch, outcome);
                    if let Some((promise, note)) = promise {
                        promise_check::check_held(&shared, &promise, &note).await;
                    }
                    failure
                }
                Err(e) => Some(e.to_string()),
            };
            match failure {
                None => {
                    shared.peer_ok();
                    backoff = shared.config.retry_initial;
                }
                Some(why) => {
                    tracing::warn!(peer = %peer, error = %why, retry_in_ms = backoff.as_millis() as u64, "submission failed; will retry");
                    shared.peer_failed(why);
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = stop.wait_for(|s| *s) => {}
                    }
                    backoff = (backoff * 2).min(shared.config.retry_max);
                    continue 'passes;
                }
            }
        }
    }
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
fn keep_promises(
    shared: &Shared,
    batch: &[SignedEntry],
    outcome: submit::SubmitOutcome,
) -> Option<String> {
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
) -> Result<submit::SubmitOutcome, submit::SubmitError> {
    submit::submit_batch(&shared.http, peer, batch, &shared.origin, &shared.log_key).await
}
