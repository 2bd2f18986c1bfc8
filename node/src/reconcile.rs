//! Never signing against a restored past (spec/dyad.md section 9, spec/node.md section 10).
//!
//! A replica's disk may hold less than its party has signed: restored from a backup, copied
//! back by hand, rebuilt. Whatever this party signed that ever left it, the peer holds. So
//! before the node signs anything (an entry, a checkpoint, a co-signature) it asks the peer
//! for its newest committed checkpoint, which carries both parties' signatures; if the peer
//! holds more, it fetches the missing entries ([`crate::catch_up`]), checks them against
//! that checkpoint and the channel rules, stores them and the checkpoint, and only then
//! signs. Until then the routes that would make it sign answer 503 and `/readyz` says why;
//! the read API is served, since the peer may be reconciling against it at the same time.

use std::sync::Arc;

use dyad_ledger::channel::ChannelError;
use dyad_ledger::entry::SignedEntry;
use dyad_verifier::checkpoint::Checkpoint;
use serde::Serialize;

use crate::catch_up::{prove_gap, CatchUpError, ProvenChunks};
use crate::client::{ClientError, TileClient};
use crate::{now_ms, Metrics, NodeError, Shared};

/// Where the node stands with the peer check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum PeerCheck {
    /// Asking the peer (retried with backoff); nothing is signed meanwhile.
    Checking {
        /// The last attempt's failure, if one failed.
        last_error: Option<String>,
    },
    /// This replica holds everything the peer has committed.
    Done {
        /// The size of the peer's newest committed checkpoint (0: it has none).
        peer_size: u64,
        /// Entries fetched from the peer to get there.
        fetched: u64,
    },
    /// Not asked: the node has no peer URL, or was started with the check turned off.
    Skipped {
        /// Why.
        why: String,
    },
    /// The peer's committed tree is not this replica's: the node signs nothing.
    Diverged {
        /// What disagrees.
        reason: String,
    },
}

impl PeerCheck {
    /// Why the node may not sign yet, if it may not.
    pub(crate) fn blocks_signing(&self) -> Option<String> {
        match self {
            PeerCheck::Done { .. } | PeerCheck::Skipped { .. } => None,
            PeerCheck::Checking { last_error: None } => Some("the node is confirming with its peer that this replica holds everything this party signed (spec/node.md section 10); it signs nothing until then".into()),
            PeerCheck::Checking { last_error: Some(e) } => Some(format!("the node cannot yet confirm with its peer that this replica holds everything this party signed, so it signs nothing (last attempt: {e}); start the peer, or see docs/operations.md")),
            PeerCheck::Diverged { reason } => Some(format!("this replica and the peer's committed log diverged ({reason}); the node signs nothing: rebuild the replica with `dyad restore --from-peer URL`")),
        }
    }
}

/// The check's first state for a node configured this way. A replica `dyad restore` put
/// back ([`crate::RESTORED_MARKER`] in the data directory) is checked whatever the
/// configuration says: it is known to be older than what the party may have signed.
pub(crate) fn initial(peer_check: bool, peer_url: Option<&str>, restored: bool) -> PeerCheck {
    if restored {
        if !peer_check {
            tracing::warn!("the replica was restored from a backup: the peer check runs despite --no-peer-check");
        }
        let last_error = peer_url
            .is_none()
            .then(|| "the replica was restored from a backup and the node has no peer URL to confirm it with: start it with --peer URL".to_owned());
        return PeerCheck::Checking { last_error };
    }
    match (peer_check, peer_url) {
        (false, _) => PeerCheck::Skipped {
            why: "turned off (--no-peer-check)".into(),
        },
        (true, None) => PeerCheck::Skipped {
            why: "no peer URL at start".into(),
        },
        (true, Some(_)) => PeerCheck::Checking { last_error: None },
    }
}

/// A failed attempt: worth retrying, or final.
enum Failure {
    Retry(String),
    Diverged(String),
}

/// Asks the peer until the replica is confirmed (or found diverged), backing off between
/// attempts; wakes the tasks that wait to sign.
pub(crate) async fn run(shared: Arc<Shared>) {
    let mut backoff = shared.config.retry_initial;
    while !shared.is_stopping() {
        let Some(peer) = shared.peer_url() else {
            break;
        };
        let outcome = tokio::select! {
            o = attempt(&shared, &peer) => o,
            _ = shared.stopped() => break,
        };
        let state = match outcome {
            Ok((peer_size, fetched)) => {
                tracing::info!(
                    peer_size,
                    fetched,
                    "confirmed with the peer: this replica holds everything it has committed"
                );
                remove_restore_marker(&shared);
                PeerCheck::Done { peer_size, fetched }
            }
            Err(Failure::Diverged(reason)) => {
                tracing::error!(%reason, "this replica and the peer's committed log diverged: the node signs nothing");
                PeerCheck::Diverged { reason }
            }
            Err(Failure::Retry(e)) => {
                tracing::warn!(error = %e, "cannot confirm this replica with the peer yet; the node signs nothing until it can");
                shared.peer_failed(e.clone());
                shared.set_peer_check(PeerCheck::Checking {
                    last_error: Some(e),
                });
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shared.stopped() => break,
                }
                backoff = (backoff * 2).min(shared.config.retry_max);
                continue;
            }
        };
        shared.set_peer_check(state);
        shared.wake_committer.notify_one();
        shared.wake_submitter.notify_one();
        break;
    }
}

/// The replica is confirmed: a restore's marker has served its purpose.
fn remove_restore_marker(shared: &Shared) {
    let marker = shared.data_dir.join(crate::RESTORED_MARKER);
    if let Err(e) = std::fs::remove_file(&marker) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(error = %e, path = %marker.display(), "cannot remove the restore marker");
        }
    }
}

/// One attempt: the peer's newest committed checkpoint, checked; the replica caught up to
/// it if behind. Returns the peer's size and the entries fetched.
async fn attempt(shared: &Arc<Shared>, peer: &str) -> Result<(u64, u64), Failure> {
    let retry = |e: &dyn std::fmt::Display| Failure::Retry(e.to_string());
    let client = TileClient::with_http(peer, shared.http.clone()).map_err(|e| retry(&e))?;
    let note = match client.checkpoint().await {
        Ok(note) => note,
        // Nothing co-signed yet: the peer holds no checkpoint of ours.
        Err(ClientError::Status { status: 404, .. }) => return Ok((0, 0)),
        Err(e) => return Err(retry(&e)),
    };
    let checked = note.clone();
    let (checkpoint, held, frontier) = shared
        .read(move |ch| {
            let checkpoint = ch.verify_committed(&checked)?;
            let ours = if checkpoint.size <= ch.size() {
                Some(
                    ch.store()
                        .root_at(checkpoint.size)
                        .map_err(ChannelError::from)?,
                )
            } else {
                None
            };
            Ok((checkpoint, ours, ch.store().frontier().clone()))
        })
        .await
        .map_err(|e| retry(&format!("the peer's checkpoint: {e}")))?;
    if let Some(ours) = held {
        if ours != checkpoint.root {
            return Err(Failure::Diverged(format!(
                "the peer's committed checkpoint of size {} has root {}, this replica's tree there {}",
                checkpoint.size,
                hex::encode(checkpoint.root),
                hex::encode(ours)
            )));
        }
        return Ok((checkpoint.size, 0));
    }
    let fetched = fetch_missing(shared, &client, frontier, &checkpoint, note).await?;
    Ok((checkpoint.size, fetched))
}

/// Fetches, checks and stores the entries between the replica and `checkpoint`, then the
/// checkpoint itself.
async fn fetch_missing(
    shared: &Arc<Shared>,
    client: &TileClient,
    frontier: dyad_ledger::tree::Frontier,
    checkpoint: &Checkpoint,
    note: Vec<u8>,
) -> Result<u64, Failure> {
    let from = frontier.size();
    tracing::info!(
        held = from,
        peer_size = checkpoint.size,
        "the peer has committed more than this replica holds (restored from an older copy?): fetching the rest"
    );
    let gap = prove_gap(client, frontier, checkpoint, |_, _| {})
        .await
        .map_err(catch_up_failure)?;
    let mut chunks = ProvenChunks::new(client, gap);
    while let Some((start, entries)) = chunks.next().await.map_err(catch_up_failure)? {
        fetch_attachments(shared, &entries).await?;
        let size = shared
            .write(move |ch| {
                if ch.size() != start {
                    return Err(NodeError::Task(format!(
                        "the replica changed while catching up ({} entries, expected {start})",
                        ch.size()
                    )));
                }
                Ok(ch.append_recovered(&entries, now_ms())?)
            })
            .await
            .map_err(|e| Failure::Retry(format!("storing the peer's entries: {e}")))?;
        Metrics::set(&shared.metrics.log_size, size);
    }
    let size = checkpoint.size;
    shared
        .write(move |ch| Ok(ch.add_committed_checkpoint(&note)?))
        .await
        .map_err(|e| Failure::Retry(format!("storing the peer's checkpoint: {e}")))?;
    shared.set_published(size);
    shared.set_committed(size);
    Ok(size - from)
}

/// Every attachment the chunk's entries name, fetched from the peer before the entries
/// are stored (a replica holds every attachment of every entry it stores).
async fn fetch_attachments(shared: &Arc<Shared>, entries: &[Vec<u8>]) -> Result<(), Failure> {
    let mut decoded = Vec::with_capacity(entries.len());
    for bytes in entries {
        // An entry that does not decode is refused by `append_recovered`, with its index.
        if let Ok(e) = SignedEntry::decode(bytes) {
            decoded.push(e);
        }
    }
    let wanted = crate::attachment::named_by(&decoded);
    crate::attachment::fetch_missing(shared, &wanted)
        .await
        .map_err(|e| Failure::Retry(e.to_string()))
}

fn catch_up_failure(e: CatchUpError) -> Failure {
    match e {
        CatchUpError::RootMismatch { .. } => Failure::Diverged(e.to_string()),
        e => Failure::Retry(e.to_string()),
    }
}
