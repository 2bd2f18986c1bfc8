//! The entries one add-checkpoint adds, fetched with a bound on memory (spec/node.md 3).
//!
//! The co-signer must hold every new entry to check them against the checkpoint's root and
//! store them in one durable batch, so what bounds its memory is the size of one step: at
//! most `max_cosign_step` entries and `max_cosign_bytes` bytes. The entries are fetched
//! bundle by bundle (a few bundles in flight), each is decoded as it arrives, and the fetch
//! stops at the first entry that breaks the byte bound or does not decode: nothing beyond
//! the bound is ever held. The sequencer plans its steps with the same bounds
//! (`sequencer::committer::fit_step`), signing checkpoints for intermediate sizes where needed.

use crate::client::{ClientError, TileClient};
use crate::Shared;
use dyad_ledger::entry::SignedEntry;

/// Why the new entries were not fetched.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("the entries {from}..{to} take more than {limit} bytes (entry {at} passes it); this co-signer takes at most {limit} bytes of new entries per checkpoint: send a checkpoint for an intermediate size")]
    TooLarge {
        from: u64,
        to: u64,
        at: u64,
        limit: usize,
    },
    #[error("entry {index} from the sequencer is not a canonical dyad entry: {why}")]
    Malformed { index: u64, why: String },
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// Fetches entries `[from, to)` from the sequencer at `peer`, decoding each as it arrives
/// (once: every later check takes them decoded) and stopping as soon as they pass the byte
/// bound.
pub(crate) async fn new_entries(
    shared: &Shared,
    peer: &str,
    from: u64,
    to: u64,
) -> Result<Vec<SignedEntry>, FetchError> {
    let client = TileClient::with_http(peer, shared.http.clone())?;
    let limit = shared.config.max_step_bytes();
    let mut out = Vec::with_capacity(to.saturating_sub(from).min(4096) as usize);
    let mut bytes = 0usize;
    let mut stream = client.entries(from, to);
    while let Some(next) = stream.next().await {
        let (index, entry) = next?;
        bytes += entry.len();
        if bytes > limit {
            return Err(FetchError::TooLarge {
                from,
                to,
                at: index,
                limit,
            });
        }
        let signed = SignedEntry::decode(&entry).map_err(|e| FetchError::Malformed {
            index,
            why: e.to_string(),
        })?;
        out.push(signed);
    }
    Ok(out)
}
