//! The entries one add-checkpoint adds, fetched with a bound on memory (spec/node.md 3).
//!
//! The co-signer must hold every new entry to check them against the checkpoint's root and
//! store them in one durable batch, so what bounds its memory is the size of one step: at
//! most `max_cosign_step` entries and `max_cosign_bytes` bytes. The entries are fetched
//! bundle by bundle (a few bundles in flight), each is decoded as it arrives, and the fetch
//! stops at the first entry that breaks the byte bound or does not decode: nothing beyond
//! the bound is ever held. The sequencer plans its steps with the same bounds
//! ([`fit_step`]), signing checkpoints for intermediate sizes where needed.

use crate::client::{ClientError, TileClient};
use crate::Shared;
use dyad_ledger::channel::{Channel, ChannelError};
use dyad_ledger::entry::{SignedEntry, MAX_ENTRY_LEN};

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

/// The byte bound of one step, as configured (at least one largest entry).
pub(crate) fn max_step_bytes(shared: &Shared) -> usize {
    shared.config.max_cosign_bytes.max(MAX_ENTRY_LEN)
}

/// Fetches entries `[from, to)` from the sequencer at `peer`, checking each as it arrives
/// and stopping as soon as they pass the byte bound.
pub(crate) async fn new_entries(
    shared: &Shared,
    peer: &str,
    from: u64,
    to: u64,
) -> Result<Vec<Vec<u8>>, FetchError> {
    let client = TileClient::with_http(peer, shared.http.clone())?;
    let limit = max_step_bytes(shared);
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
        if let Err(e) = SignedEntry::decode(&entry) {
            return Err(FetchError::Malformed {
                index,
                why: e.to_string(),
            });
        }
        out.push(entry);
    }
    Ok(out)
}

/// The sequencer's side: the largest size in `(old, target]` whose new entries fit the
/// byte bound (at least `old + 1`).
pub(crate) fn fit_step(
    ch: &Channel,
    shared: &Shared,
    old: u64,
    target: u64,
) -> Result<u64, ChannelError> {
    let limit = max_step_bytes(shared) as u64;
    if target <= old || (target - old).saturating_mul(MAX_ENTRY_LEN as u64) <= limit {
        return Ok(target);
    }
    let mut bytes = 0u64;
    for i in old..target {
        bytes += ch.store().leaf(i)?.len() as u64;
        if bytes > limit {
            return Ok(i.max(old + 1));
        }
    }
    Ok(target)
}
