//! [`Store::commit`] (spec/store.md, "Commit"): a batch checked whole, then written as
//! one atomic, durable change: the full bundles and tiles it completes to their files,
//! then one sled batch, then the head file.

use std::collections::HashMap;

use super::checkpoint::{check_checkpoint, CheckError};
use super::error::io_error;
use super::files::FileId;
use super::layout::{
    bundle_key, checkpoint_key, entry_key, full_tiles, locate, meta_key, node_key,
    push_bundle_entry, tile_offset, BundleRecord, BUNDLE_WIDTH, COMMITS_KEY, HEAD_KEY,
    MAX_LEAF_BYTES, MAX_META_NAME_BYTES, MAX_VALUE_BYTES, STORED_TILE_BYTES, TILE_HEIGHT,
    TILE_LEVELS,
};
use super::{Batch, Damage, Head, Store, StoreError};
use crate::tree::{self, Hash, NodeReader};

impl Store {
    /// Writes a batch atomically and durably (one fsync), and returns the new head.
    ///
    /// Everything is checked before anything is written: a refused batch changes nothing.
    /// If writing fails once begun, memory keeps the old head while the disk may hold
    /// either state, so every later commit returns [`StoreError::Poisoned`] until the
    /// store is opened again, which reads the state that really is on disk.
    pub fn commit(&mut self, batch: Batch) -> Result<Head, StoreError> {
        if self.poisoned {
            return Err(StoreError::Poisoned);
        }
        let size = self.size();
        if !batch.leaves.is_empty() && batch.base != size {
            return Err(StoreError::StaleBatch {
                batch_base: batch.base,
                size,
            });
        }
        if batch.is_empty() {
            return Ok(self.head());
        }
        let Batch {
            leaves,
            checkpoints,
            meta,
            ..
        } = batch;
        // The frontier never reaches 2^64 leaves: keep one index free so sizes fit in u64.
        let new_size = size
            .checked_add(leaves.len() as u64)
            .filter(|&s| s < u64::MAX)
            .ok_or(StoreError::LogFull)?;
        let mut ops = sled::Batch::default();
        let mut frontier = self.frontier.clone();
        // Every node this batch completes, until each goes to a tile or an `n` record.
        let mut new_nodes: HashMap<(u8, u64), Hash> = HashMap::with_capacity(2 * leaves.len());
        for (index, leaf) in (size..).zip(&leaves) {
            if leaf.len() > MAX_LEAF_BYTES {
                return Err(StoreError::LeafTooLarge {
                    index,
                    len: leaf.len(),
                    max: MAX_LEAF_BYTES,
                });
            }
            frontier.append_with(tree::leaf_hash(leaf), |node| {
                new_nodes.insert((node.level, node.index), node.hash);
            });
        }

        // Entries: bundles this batch fills, then single entries of the last bundle.
        let mut bundles_end = self.bundles_end;
        let mut new_bundles = Vec::new();
        let first_single = new_size - new_size % BUNDLE_WIDTH;
        for bundle in size / BUNDLE_WIDTH..new_size / BUNDLE_WIDTH {
            let mut bytes = Vec::new();
            for index in bundle * BUNDLE_WIDTH..(bundle + 1) * BUNDLE_WIDTH {
                if index < size {
                    let leaf = self
                        .db
                        .get(entry_key(index))?
                        .ok_or(Damage::MissingEntry { index })?;
                    push_bundle_entry(&mut bytes, &leaf);
                    ops.remove(&entry_key(index)[..]);
                } else {
                    push_bundle_entry(&mut bytes, &leaves[(index - size) as usize]);
                }
            }
            let record = BundleRecord {
                start: bundles_end,
                len: bytes.len() as u64,
            };
            bundles_end = record.end();
            ops.insert(&bundle_key(bundle)[..], &record.encode()[..]);
            new_bundles.extend_from_slice(&bytes);
        }
        for index in size.max(first_single)..new_size {
            ops.insert(&entry_key(index)[..], &leaves[(index - size) as usize][..]);
        }

        // Nodes: tiles this batch fills, then single nodes of tiles still filling.
        let mut tiled = Vec::new();
        let mut new_tiles: HashMap<(u8, u64), Vec<u8>> = HashMap::new();
        for tile_level in 0..TILE_LEVELS {
            for tile in full_tiles(size, tile_level)..full_tiles(new_size, tile_level) {
                let mut bytes = Vec::with_capacity(STORED_TILE_BYTES);
                for sub in 0..TILE_HEIGHT {
                    let level = tile_level * TILE_HEIGHT + sub;
                    let width = 256u64 >> sub;
                    for index in tile * width..(tile + 1) * width {
                        let hash = match new_nodes.remove(&(level, index)) {
                            Some(hash) => hash,
                            None => {
                                let hash = *self
                                    .edge
                                    .get(&(level, index))
                                    .ok_or(Damage::MissingNode { level, index })?;
                                ops.remove(&node_key(level, index)[..]);
                                tiled.push((level, index));
                                hash
                            }
                        };
                        bytes.extend_from_slice(&hash);
                    }
                }
                new_tiles.insert((tile_level, tile), bytes);
            }
        }
        for (&(level, index), hash) in &new_nodes {
            ops.insert(&node_key(level, index)[..], &hash[..]);
        }
        let head = Head {
            size: new_size,
            root: frontier.root(),
        };
        // The checkpoints may name sizes inside this batch, whose nodes are not in sled yet.
        let reader = PendingNodes {
            store: self,
            nodes: &new_nodes,
            tiles: &new_tiles,
            size: new_size,
        };
        for (cp_size, note) in checkpoints {
            if note.len() > MAX_VALUE_BYTES {
                return Err(StoreError::ValueTooLarge {
                    what: "a checkpoint note",
                    len: note.len(),
                    max: MAX_VALUE_BYTES,
                });
            }
            match check_checkpoint(cp_size, &note, &reader) {
                Ok(()) => {}
                Err(CheckError::Problem(problem)) => {
                    return Err(StoreError::CheckpointRejected {
                        size: cp_size,
                        problem,
                    })
                }
                Err(CheckError::Store(e)) => return Err(e),
            }
            ops.insert(&checkpoint_key(cp_size)[..], note);
        }
        for (name, value) in meta {
            if name.is_empty() || name.len() > MAX_META_NAME_BYTES {
                return Err(StoreError::BadMetaName {
                    name,
                    max: MAX_META_NAME_BYTES,
                });
            }
            match value {
                Some(v) if v.len() > MAX_VALUE_BYTES => {
                    return Err(StoreError::ValueTooLarge {
                        what: "a metadata value",
                        len: v.len(),
                        max: MAX_VALUE_BYTES,
                    })
                }
                Some(v) => ops.insert(meta_key(&name), v),
                None => ops.remove(meta_key(&name)),
            }
        }
        ops.insert(HEAD_KEY, &head.encode()[..]);
        let commits = self.commits + 1;
        ops.insert(COMMITS_KEY, &commits.to_be_bytes()[..]);

        self.fault_point(FaultPoint::BeforeApply)?;
        // From here on a failure may leave the disk at the new state while memory holds
        // the old one; appending from the old frontier would then overwrite entries.
        self.poisoned = true;
        // The files first, durably: sled's records must never point past their ends.
        self.files
            .write_at(FileId::Bundles, self.bundles_end, &new_bundles)?;
        let mut written = Vec::new();
        if !new_bundles.is_empty() {
            written.push(FileId::Bundles);
        }
        let mut tiles: Vec<_> = new_tiles.into_iter().collect();
        tiles.sort_unstable_by_key(|&(k, _)| k);
        for ((tile_level, tile), bytes) in tiles {
            let at = tile * STORED_TILE_BYTES as u64;
            self.files.write_at(FileId::Tiles(tile_level), at, &bytes)?;
            if !written.contains(&FileId::Tiles(tile_level)) {
                written.push(FileId::Tiles(tile_level));
            }
        }
        for file in written {
            self.files.sync(file)?;
        }
        self.db.apply_batch(ops)?;
        self.fault_point(FaultPoint::AfterApply)?;
        self.blobs.sync_new()?;
        self.db.flush()?;
        self.fault_point(FaultPoint::AfterFlush)?;
        // fdatasync: the data and the file's size, all that reading it back needs; not
        // its times, which would cost a second write to the device.
        self.db_file
            .sync_data()
            .map_err(io_error(&self.dir.join("db")))?;
        self.blobs.record_durable();
        self.fault_point(FaultPoint::AfterSync)?;
        self.poisoned = false;
        self.frontier = frontier;
        self.commits = commits;
        self.bundles_end = bundles_end;
        for id in tiled {
            self.edge.remove(&id);
        }
        self.edge.extend(new_nodes);
        // Only now that sled holds the commit durably: the record must never be ahead of it.
        self.head_file.write(self.recorded());
        Ok(head)
    }

    fn fault_point(&mut self, point: FaultPoint) -> Result<(), StoreError> {
        #[cfg(test)]
        if let Some(fault) = &mut self.fault {
            return fault.hit(point);
        }
        let _ = point;
        Ok(())
    }
}

/// Where a commit can be interrupted in tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum FaultPoint {
    BeforeApply,
    AfterApply,
    AfterFlush,
    AfterSync,
}

/// The stored nodes plus those a batch is about to add.
struct PendingNodes<'a> {
    store: &'a Store,
    nodes: &'a HashMap<(u8, u64), Hash>,
    tiles: &'a HashMap<(u8, u64), Vec<u8>>,
    size: u64,
}

impl NodeReader for PendingNodes<'_> {
    type Error = StoreError;

    fn size(&self) -> u64 {
        self.size
    }

    fn node(&self, level: u8, index: u64) -> Result<Hash, StoreError> {
        if let Some(h) = self.nodes.get(&(level, index)) {
            return Ok(*h);
        }
        if level <= tree::MAX_LEVEL {
            let (tile_level, tile, sub, pos) = locate(level, index);
            if let Some(bytes) = self.tiles.get(&(tile_level, tile)) {
                let at = tile_offset(sub, pos);
                return Ok(bytes[at..at + 32].try_into().expect("32 bytes"));
            }
        }
        self.store.node(level, index)
    }
}
