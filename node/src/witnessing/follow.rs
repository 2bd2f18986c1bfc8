//! The co-signer's side of witnessing: its co-signed note awaits the witnesses, whom the
//! sequencer asks; the co-signer takes the witnessed note from the sequencer's
//! `/checkpoint` and stores it as committed once it verifies (spec 7) and matches its own
//! tree. The ledger checks the note against the witnesses and threshold of its size
//! (spec/dyad.md 3.8), so a note committed under a witness change's new set is taken like
//! any. The task runs whatever the threshold (a change can make witnesses needed later)
//! and keeps the status's witness list that of the next checkpoint.

use std::sync::Arc;
use std::time::Duration;

use crate::client::TileClient;
use crate::{NodeError, Shared};

/// How often the co-signer looks for the witnessed note while one awaits witnesses.
const POLL: Duration = Duration::from_millis(250);

pub(crate) async fn run_follow(shared: Arc<Shared>) {
    let mut backoff = POLL;
    loop {
        if shared.is_stopping() {
            break;
        }
        let awaiting = match shared.read(|ch| Ok(ch.awaiting_witnesses()?)).await {
            Ok(a) => a,
            Err(NodeError::Stopped) => break,
            Err(_) => None,
        };
        if let Ok((keys, threshold)) = shared
            .read(|ch| Ok((ch.witness_keys().to_vec(), ch.witness_threshold())))
            .await
        {
            super::follow_set_status(&shared, &keys, threshold);
        }
        let (Some((awaited, _)), Some(peer)) = (awaiting, shared.peer_url()) else {
            idle(&shared, Duration::from_secs(5)).await;
            continue;
        };
        match fetch_and_store(&shared, &peer).await {
            Ok(size) if size >= awaited.size => backoff = POLL,
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(error = %e, "the witnessed checkpoint is not available yet");
                backoff = (backoff * 2).min(shared.config.retry_max.max(POLL));
            }
        }
        idle(&shared, backoff).await;
    }
}

/// The sequencer's committed checkpoint, stored here if it verifies and this replica
/// holds its tree; the committed size afterwards.
async fn fetch_and_store(shared: &Arc<Shared>, peer: &str) -> Result<u64, NodeError> {
    let client = TileClient::with_http(peer, shared.http.clone())
        .map_err(|e| NodeError::Task(e.to_string()))?;
    let note = client
        .checkpoint()
        .await
        .map_err(|e| NodeError::Task(e.to_string()))?;
    let size = shared
        .write(move |ch| {
            let held = ch.size();
            match dyad_verifier::checkpoint::parse_note(&note) {
                Ok(c) if c.size <= held && c.size > ch.committed_size()? => {
                    ch.add_committed_checkpoint(&note)?;
                }
                _ => {}
            }
            Ok(ch.committed_size()?)
        })
        .await?;
    shared.set_committed(size);
    Ok(size)
}

async fn idle(shared: &Shared, poll: Duration) {
    tokio::select! {
        _ = shared.wake_witnessing.notified() => {}
        _ = shared.stopped() => {}
        _ = tokio::time::sleep(poll) => {}
    }
}
