//! The sequencer's own key change through the running node (spec/dyad.md 3.7), in the
//! batcher's order: the batches before it are written first, then the log waits until
//! everything in it is co-signed, then the key change is appended and the checkpoint that
//! holds it is signed with the new key, in one store batch.
//!
//! Why wait: after the change only the new key signs, and a checkpoint of size n must be
//! signed with the key current at n. Were entries before the change still uncommitted,
//! the committer could have to offer the co-signer a smaller checkpoint (its step is
//! bounded) that only the retired key may sign.

use std::sync::Arc;
use std::time::Duration;

use dyad_ledger::keys::SignerKey;
use tokio::sync::oneshot;

use super::batcher::{rejection, Rejection, Reply};
use crate::metrics::Metrics;
use crate::{now_ms, NodeError, Shared};

/// Waits until the co-signer has co-signed everything in the log (at most `max_wait`).
async fn wait_until_committed(shared: &Arc<Shared>) -> Result<(), Rejection> {
    let size = shared.read(|ch| Ok(ch.size())).await.map_err(unavailable)?;
    let mut committed = shared.committed.subscribe();
    let wait = shared.config.max_wait.max(Duration::from_secs(1));
    let caught_up = tokio::time::timeout(wait, committed.wait_for(|c| *c >= size)).await;
    match caught_up {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(_)) => Err(unavailable(NodeError::Stopped)),
        Err(_) => Err(Rejection {
            status: 503,
            reason: "not-committed",
            message: format!(
                "the co-signer has not co-signed the log's {size} entries within {} s; a key change waits until it has (spec/dyad.md 3.7): check the peer (`dyad status`) and retry",
                wait.as_secs()
            ),
        }),
    }
}

fn unavailable(e: NodeError) -> Rejection {
    Rejection {
        status: 503,
        reason: "unavailable",
        message: e.to_string(),
    }
}

/// Appends the sequencer's key change to `new` and answers `reply`; returns the next own
/// sequence number (the key change took one: the party's sequence runs on, spec 3.3).
pub(crate) async fn change_key(
    shared: &Arc<Shared>,
    new: Box<SignerKey>,
    reply: oneshot::Sender<Reply>,
    own_next: Option<u64>,
) -> Option<u64> {
    if let Err(r) = wait_until_committed(shared).await {
        let _ = reply.send(Err(r));
        return own_next;
    }
    let s = shared.clone();
    let written = shared
        .write(move |ch| {
            let old = s.keys().signer.clone();
            // Held before the write ends, so that the node follows the change at once.
            s.held_keys.add((*new).clone());
            let appended = ch.append_key_change(&old, &new, now_ms())?;
            let sequence = ch.entry(appended.index)?.entry.body.sequence;
            ch.sign_checkpoint(&new)?;
            Ok((appended, sequence, ch.size()))
        })
        .await;
    match written {
        Ok((appended, sequence, size)) => {
            tracing::info!(
                index = appended.index,
                key = %shared.keys().signer.verifier_key(),
                "the sequencer's key change is in the log; it signs with the new key from here"
            );
            Metrics::set(&shared.metrics.log_size, size);
            Metrics::inc(&shared.metrics.entries, 1);
            Metrics::inc(&shared.metrics.checkpoints_signed, 1);
            shared.set_published(size);
            shared.wake_committer.notify_one();
            let _ = reply.send(Ok(appended));
            Some(sequence + 1)
        }
        Err(NodeError::Channel(e)) => {
            let _ = reply.send(Err(rejection(&e)));
            own_next
        }
        Err(e) => {
            let _ = reply.send(Err(unavailable(e)));
            own_next
        }
    }
}
