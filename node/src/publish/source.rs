//! Where published objects are read from: this party's store (the tiles checked against
//! the tree before they leave, as the read API does) and its attachment directory.

use std::future::Future;

use dyad_ledger::attachments::Attachments;
use dyad_ledger::store::Store;

use super::plan::Item;
use super::PublishError;
use crate::tile_check::TileChecks;

/// A log to publish.
pub trait Source: Sync {
    /// The latest co-signed checkpoint: its tree size and note.
    fn checkpoint(&self) -> impl Future<Output = Result<(u64, Vec<u8>), PublishError>> + Send;
    /// The attachments (hash, size) the entries `from..to` name, each once.
    fn attachments_named(
        &self,
        from: u64,
        to: u64,
    ) -> impl Future<Output = Result<Vec<([u8; 32], u64)>, PublishError>> + Send;
    /// The bytes of a tile or an attachment (the checkpoint is [`Source::checkpoint`]'s).
    fn read(&self, item: &Item) -> impl Future<Output = Result<Vec<u8>, PublishError>> + Send;
}

/// A store opened by this process (`dyad export tiles --to`).
pub struct StoreSource<'a> {
    /// The log.
    pub store: &'a Store,
    /// Its attachments (`None`: a hash-only publish reads none).
    pub attachments: Option<&'a Attachments>,
    /// Tiles checked against the tree.
    pub checks: TileChecks,
}

impl Source for StoreSource<'_> {
    async fn checkpoint(&self) -> Result<(u64, Vec<u8>), PublishError> {
        self.store
            .latest_checkpoint()?
            .ok_or(PublishError::NoCommittedCheckpoint)
    }

    async fn attachments_named(
        &self,
        from: u64,
        to: u64,
    ) -> Result<Vec<([u8; 32], u64)>, PublishError> {
        attachments_named(self.store, from, to)
    }

    async fn read(&self, item: &Item) -> Result<Vec<u8>, PublishError> {
        read_item(self.store, self.attachments, &self.checks, item)
    }
}

/// The attachments the entries `from..to` of `store` name, in order of first mention.
pub fn attachments_named(
    store: &Store,
    from: u64,
    to: u64,
) -> Result<Vec<([u8; 32], u64)>, PublishError> {
    let mut seen = std::collections::BTreeSet::new();
    let mut named = Vec::new();
    for index in from..to {
        let leaf = store.leaf(index)?;
        // The genesis (leaf 0) is not an entry and names nothing.
        let Ok(entry) = dyad_verifier::entry::decode(&leaf) else {
            continue;
        };
        for a in entry.attachments {
            if seen.insert((a.sha256, a.size)) {
                named.push((a.sha256, a.size));
            }
        }
    }
    Ok(named)
}

/// The bytes of `item` from `store` and `attachments`.
pub fn read_item(
    store: &Store,
    attachments: Option<&Attachments>,
    checks: &TileChecks,
    item: &Item,
) -> Result<Vec<u8>, PublishError> {
    match item {
        Item::Tile(tile) => Ok(checks.read(store, tile)?),
        Item::Attachment { sha256, .. } => {
            let attachments = attachments.ok_or_else(|| PublishError::NoAttachmentStore {
                hash: hex::encode(sha256),
            })?;
            Ok(attachments.get(sha256)?)
        }
        Item::Checkpoint => Err(PublishError::CheckpointNotRead),
    }
}
