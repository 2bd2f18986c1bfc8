//! The sequencer's committer: sends the newest signed checkpoint to the co-signer's
//! tlog-witness `add-checkpoint` (old size = the co-signer's last known size, with the
//! consistency proof from there), adds the returned cosignature line to the note and
//! stores it as committed (or, when the genesis needs witnesses, as awaiting them: see
//! `witnessing`). On 409 it learns the co-signer's size and tries again; when the
//! co-signer is down or slow it backs off exponentially (bounded) while the batcher goes
//! on, and catches up when the co-signer is back, in steps of at most `max_cosign_step`
//! entries and `max_cosign_bytes` bytes ([`fit_step`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use dyad_ledger::channel::{Channel, ChannelError, Cosigned};
use dyad_ledger::entry::MAX_ENTRY_LEN;
use dyad_ledger::wire::witness::{self, AddCheckpoint};
use dyad_verifier::checkpoint::Checkpoint;
use dyad_verifier::note;

use crate::client::{read_bounded, ClientError};
use crate::metrics::Metrics;
use crate::{NodeError, Shared};

/// One add-checkpoint to send.
struct Plan {
    request: AddCheckpoint,
    size: u64,
}

/// Decides what to send: the newest signed checkpoint, or (when the co-signer is more
/// than `step` behind) one signed now for `old + step`.
fn plan(ch: &Channel, shared: &Shared, known: Option<u64>) -> Result<Option<Plan>, NodeError> {
    // Co-signed but awaiting witnesses counts as done for the co-signer.
    let committed = ch.cosigned_size()?;
    let Some(signed_note) = ch.latest_signed_checkpoint()? else {
        return Ok(None);
    };
    let signed = dyad_verifier::checkpoint::parse_note(&signed_note).map_or(0, |c| c.size);
    if committed >= signed {
        return Ok(None);
    }
    let old = known.unwrap_or(committed);
    if old > signed {
        return Err(NodeError::Task(format!(
            "the co-signer has co-signed {old} entries but this log has signed only {signed}: was this replica restored from an old copy?"
        )));
    }
    let step = shared.config.max_cosign_step.max(1);
    let size =
        fit_step(ch, shared, old, signed.min(old.saturating_add(step))).map_err(NodeError::from)?;
    let (size, note) = if size < signed {
        let text = Checkpoint {
            origin: shared.origin.clone(),
            size,
            root: ch.store().root_at(size).map_err(ChannelError::from)?,
            extensions: Vec::new(),
        }
        .to_text();
        // A smaller size than signed: the log key at that size signs it, which the
        // committer never asks of a retired key (a key change waits until everything
        // before it is co-signed, `sequencer::rotation`).
        let keys = shared.keys();
        let sig = keys.signer.sign(text.as_bytes());
        let line = note::signature_line(keys.log_key.name(), keys.log_key.key_id(), &sig);
        (size, format!("{text}\n{line}").into_bytes())
    } else {
        (signed, signed_note)
    };
    let proof = if old == 0 || old >= size {
        Vec::new()
    } else {
        ch.store()
            .consistency_proof(old, size)
            .map_err(ChannelError::from)?
    };
    Ok(Some(Plan {
        request: AddCheckpoint { old, proof, note },
        size,
    }))
}

/// What one add-checkpoint round trip gave.
enum Outcome {
    /// Co-signed: committed, or (with witnesses) awaiting them.
    Cosigned {
        committed: bool,
    },
    /// 409: the co-signer's size.
    Conflict(u64),
    Failed(String),
}

pub(crate) async fn run_committer(shared: Arc<Shared>) {
    let mut known: Option<u64> = None;
    let mut backoff = shared.config.retry_initial;
    let mut conflicts = 0u32;
    let mut stop = shared.shutdown_signal();
    loop {
        if shared.is_stopping() {
            break;
        }
        let Some(peer) = shared.peer_url() else {
            idle(&shared, Duration::from_secs(5)).await;
            continue;
        };
        // A checkpoint for an intermediate size is signed here: not before the peer check.
        if shared.signing_blocked().is_some() {
            idle(&shared, Duration::from_secs(5)).await;
            continue;
        }
        let s = shared.clone();
        let plan = match shared.read(move |ch| plan(ch, &s, known)).await {
            Ok(Some(plan)) => plan,
            Ok(None) => {
                idle(&shared, Duration::from_secs(5)).await;
                continue;
            }
            Err(NodeError::Stopped) => break,
            Err(e) => {
                tracing::error!(error = %e, "cannot prepare a checkpoint for the co-signer");
                shared.peer_failed(e.to_string());
                known = None;
                sleep_or_stop(&mut stop, backoff).await;
                backoff = (backoff * 2).min(shared.config.retry_max);
                continue;
            }
        };
        let started = Instant::now();
        Metrics::inc(&shared.metrics.cosign_requests, 1);
        let outcome = tokio::select! {
            o = send(&shared, &peer, &plan) => o,
            _ = shared.stopped() => break,
        };
        match outcome {
            Outcome::Cosigned { committed } => {
                shared.metrics.observe_cosign_latency(started.elapsed());
                tracing::debug!(
                    size = plan.size,
                    latency_ms = started.elapsed().as_millis() as u64,
                    "checkpoint co-signed"
                );
                known = Some(plan.size);
                if committed {
                    shared.set_committed(plan.size);
                } else {
                    shared.wake_witnessing.notify_one();
                }
                shared.peer_ok();
                backoff = shared.config.retry_initial;
                conflicts = 0;
            }
            Outcome::Conflict(size) => {
                Metrics::inc(&shared.metrics.cosign_failures, 1);
                lock_peer(&shared, size);
                conflicts += 1;
                if Some(size) == Some(plan.request.old) || conflicts > 3 {
                    let why = format!(
                        "the co-signer answered 409 (its size {size}) to old size {}: it holds a different tree",
                        plan.request.old
                    );
                    tracing::error!(%why, "co-signing conflict");
                    shared.peer_failed(why);
                    sleep_or_stop(&mut stop, backoff).await;
                    backoff = (backoff * 2).min(shared.config.retry_max);
                } else {
                    tracing::info!(
                        cosigner_size = size,
                        "the co-signer is at another size; retrying from there"
                    );
                }
                known = Some(size);
            }
            Outcome::Failed(why) => {
                Metrics::inc(&shared.metrics.cosign_failures, 1);
                tracing::warn!(peer = %peer, error = %why, retry_in_ms = backoff.as_millis() as u64, "co-signing failed; will retry");
                shared.peer_failed(why);
                // After a failure the co-signer may have stored the checkpoint anyway.
                known = None;
                sleep_or_stop(&mut stop, backoff).await;
                backoff = (backoff * 2).min(shared.config.retry_max);
            }
        }
    }
}

fn lock_peer(shared: &Shared, size: u64) {
    crate::lock(&shared.peer).cosigner_size = Some(size);
}

/// Waits for new work, the stop signal, or `poll`.
async fn idle(shared: &Shared, poll: Duration) {
    tokio::select! {
        _ = shared.wake_committer.notified() => {}
        _ = shared.stopped() => {}
        _ = tokio::time::sleep(poll) => {}
    }
}

async fn sleep_or_stop(stop: &mut tokio::sync::watch::Receiver<bool>, d: Duration) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = stop.wait_for(|s| *s) => {}
    }
}

async fn send(shared: &Arc<Shared>, peer: &str, plan: &Plan) -> Outcome {
    let url = format!("{peer}/add-checkpoint");
    let resp = match shared
        .http
        .post(&url)
        .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(plan.request.encode())
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => return Outcome::Failed(ClientError::Http { url, source: e }.to_string()),
    };
    let fetched = match read_bounded(&url, resp, witness::MAX_RESPONSE_BYTES).await {
        Ok(f) => f,
        Err(e) => return Outcome::Failed(e.to_string()),
    };
    match fetched.status.as_u16() {
        200 => {
            let lines = match witness::parse_cosignature_response(&fetched.body) {
                Ok(l) => l.to_vec(),
                Err(e) => return Outcome::Failed(format!("{url}: {e}")),
            };
            let mut merged = plan.request.note.clone();
            merged.extend_from_slice(&lines);
            match shared
                .write(move |ch| Ok(ch.add_cosigned_checkpoint(&merged)?))
                .await
            {
                Ok(Cosigned::Committed(_)) => {
                    Metrics::inc(&shared.metrics.checkpoints_committed, 1);
                    Outcome::Cosigned { committed: true }
                }
                Ok(Cosigned::AwaitingWitnesses(_)) => Outcome::Cosigned { committed: false },
                Err(e) => Outcome::Failed(format!(
                    "the co-signer's answer does not commit the checkpoint: {e}"
                )),
            }
        }
        409 => {
            let is_size = fetched
                .content_type
                .as_deref()
                .is_some_and(|t| t.starts_with(witness::SIZE_CONTENT_TYPE));
            match witness::parse_size_body(&fetched.body) {
                Ok(size) if is_size => Outcome::Conflict(size),
                _ => Outcome::Failed(format!(
                    "{url}: 409 without a size: {}",
                    String::from_utf8_lossy(&fetched.body).trim_end()
                )),
            }
        }
        status => Outcome::Failed(format!(
            "{url}: HTTP {status}: {}",
            String::from_utf8_lossy(&fetched.body[..fetched.body.len().min(300)]).trim_end()
        )),
    }
}

/// The largest size in `(old, target]` whose new entries fit the co-signer's byte bound
/// per step (at least `old + 1`): the co-signer fetches and holds them all at once.
fn fit_step(ch: &Channel, shared: &Shared, old: u64, target: u64) -> Result<u64, ChannelError> {
    let limit = shared.config.max_step_bytes() as u64;
    if target <= old || (target - old).saturating_mul(MAX_ENTRY_LEN as u64) <= limit {
        return Ok(target);
    }
    // From the bundle records: reading every entry of a 4096-entry step, a bundle per
    // entry, was 5.6% of the two nodes' CPU at saturation (BENCHMARKS.md, stop 33).
    let end = ch.store().entries_within(old..target, limit)?;
    Ok(end.max(old + 1))
}
