//! [`Store::commit`] (spec/store.md, "Commit"): a batch checked whole, then written as
//! one atomic, durable change: the full bundles and tiles it completes to their files,
//! then one sled batch, then the head file.

use std::collections::HashMap;

use super::checkpoint::{check_checkpoint, CheckError};
use super::error::io_error;
use super::files::FileId;
use super::layout::{
    bundle_key, checkpoint_key, entry_key, full_tiles, locate, meta_key, push_bundle_entry,
    tile_offset, BundleRecord, BUNDLE_WIDTH, COMMITS_KEY, HEAD_KEY, MAX_LEAF_BYTES,
    MAX_META_NAME_BYTES, MAX_VALUE_BYTES, STORED_TILE_BYTES, TILE_HEIGHT, TILE_LEVELS,
};
use super::{Batch, Damage, Head, Store, StoreError};
use crate::tree::{self, Frontier, Hash, NodeReader};

/// Tree nodes by (level, index).
type Nodes = super::edge::Edge;
/// Full stored tiles by (tile level, index), each its 510 hashes as `tiles-L` holds them.
type Tiles = HashMap<(u8, u64), Vec<u8>>;

/// A batch checked whole and laid out as the store will hold it, nothing written yet.
struct Staged {
    /// The one sled batch of the commit: every record it writes or removes, the head and
    /// the commit count.
    ops: sled::Batch,
    /// The full bundles the batch completes, back to back, to go at the bundles file's end.
    bundles: Vec<u8>,
    /// The full stored tiles the batch completes, by (tile level, index).
    tiles: Tiles,
    /// What memory holds once the commit is durable.
    next: Next,
}

/// The store's state in memory after a commit (see [`Store::adopt`]).
struct Next {
    frontier: Frontier,
    commits: u64,
    bundles_end: u64,
    /// Nodes of the right edge that went into a full tile.
    tiled: Vec<(u8, u64)>,
    /// Nodes the batch completes that join the right edge, their tile still filling.
    edge: Nodes,
}

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
        let Staged {
            ops,
            bundles,
            tiles,
            next,
        } = self.stage(batch)?;

        self.fault_point(FaultPoint::BeforeApply)?;
        // From here on a failure may leave the disk at the new state while memory holds
        // the old one; appending from the old frontier would then overwrite entries.
        self.poisoned = true;
        self.write_full_files(&bundles, tiles)?;
        self.apply_durably(ops)?;
        self.poisoned = false;
        self.adopt(next);
        // Only now that sled holds the commit durably: the record must never be ahead of it.
        self.head_file.write(self.recorded());
        Ok(self.head())
    }

    /// Checks the batch and lays it out, in the order its parts are checked (so which
    /// error a bad batch gets is fixed): the leaves, the bundles and tiles they fill, the
    /// checkpoints (against the tree the batch makes), the metadata. Reads, never writes:
    /// a batch refused here leaves the store as it was.
    fn stage(&self, batch: Batch) -> Result<Staged, StoreError> {
        let Batch {
            leaves,
            checkpoints,
            meta,
            ..
        } = batch;
        // The frontier never reaches 2^64 leaves: keep one index free so sizes fit in u64.
        let new_size = self
            .size()
            .checked_add(leaves.len() as u64)
            .filter(|&s| s < u64::MAX)
            .ok_or(StoreError::LogFull)?;
        let mut ops = sled::Batch::default();
        let (frontier, mut new_nodes) = self.hash_leaves(&leaves)?;
        let (bundles, bundles_end) = self.stage_entries(&leaves, &mut ops)?;
        let (tiles, tiled) = self.stage_nodes(new_size, &mut new_nodes)?;
        let head = Head {
            size: new_size,
            root: frontier.root(),
        };
        // The checkpoints may name sizes inside this batch, whose nodes are not in sled yet.
        let reader = PendingNodes {
            store: self,
            nodes: &new_nodes,
            tiles: &tiles,
            size: new_size,
        };
        stage_checkpoints(checkpoints, &reader, &mut ops)?;
        stage_meta(meta, &mut ops)?;
        ops.insert(HEAD_KEY, &head.encode()[..]);
        let commits = self.commits + 1;
        ops.insert(COMMITS_KEY, &commits.to_be_bytes()[..]);
        Ok(Staged {
            ops,
            bundles,
            tiles,
            next: Next {
                frontier,
                commits,
                bundles_end,
                tiled,
                edge: new_nodes,
            },
        })
    }

    /// The tree after the batch's leaves, on a copy of the frontier, refusing a leaf too
    /// large for a bundle's u16 length; and every node the leaves complete, until each goes
    /// to a tile or stays in the right edge.
    fn hash_leaves(&self, leaves: &[Vec<u8>]) -> Result<(Frontier, Nodes), StoreError> {
        let mut frontier = self.frontier.clone();
        let mut new_nodes = Nodes::with_capacity(2 * leaves.len());
        for (index, leaf) in (self.size()..).zip(leaves) {
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
        Ok((frontier, new_nodes))
    }

    /// Entries: the bundles this batch fills (their bytes for the bundles file, their `B`
    /// records, the `e` records they replace removed), then the entries of the bundle
    /// still filling as `e` records. Returns the new bundles' bytes and where the bundles
    /// file ends after them.
    fn stage_entries(
        &self,
        leaves: &[Vec<u8>],
        ops: &mut sled::Batch,
    ) -> Result<(Vec<u8>, u64), StoreError> {
        let size = self.size();
        let new_size = size + leaves.len() as u64;
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
        Ok((new_bundles, bundles_end))
    }

    /// Nodes: the stored tiles this batch fills, taking their nodes out of `new_nodes` or
    /// out of the right edge. The nodes left in `new_nodes` belong to tiles still filling,
    /// which are not stored (edge.rs). Returns the new tiles and the nodes of the right
    /// edge they took in.
    fn stage_nodes(
        &self,
        new_size: u64,
        new_nodes: &mut Nodes,
    ) -> Result<(Tiles, Vec<(u8, u64)>), StoreError> {
        let size = self.size();
        let mut tiled = Vec::new();
        let mut new_tiles = Tiles::new();
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
        Ok((new_tiles, tiled))
    }

    /// Step 1 of a commit (spec/store.md, "Commit"): the full bundles and tiles written at
    /// their offsets and fdatasynced before sled's batch is applied, since sled's records
    /// must never point past what the files durably hold.
    fn write_full_files(&self, bundles: &[u8], tiles: Tiles) -> Result<(), StoreError> {
        self.files
            .write_at(FileId::Bundles, self.bundles_end, bundles)?;
        let mut written = Vec::new();
        if !bundles.is_empty() {
            written.push(FileId::Bundles);
        }
        let mut tiles: Vec<_> = tiles.into_iter().collect();
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
        Ok(())
    }

    /// Step 2 of a commit (spec/store.md, "Commit"): sled's batch applied and flushed, new
    /// blob files synced, and `<dir>/db` fdatasynced (sled's own flush does not reach the
    /// drive; see the module doc). The commit is durable once this returns.
    fn apply_durably(&mut self, ops: sled::Batch) -> Result<(), StoreError> {
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
        Ok(())
    }

    /// Memory takes the state the commit made durable: only after it is, so that memory
    /// is never ahead of the disk.
    fn adopt(&mut self, next: Next) {
        self.frontier = next.frontier;
        self.commits = next.commits;
        self.bundles_end = next.bundles_end;
        for id in next.tiled {
            self.edge.remove(&id);
        }
        self.edge.extend(next.edge);
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

/// The checkpoints of a batch, each checked against the tree the batch makes (`reader`)
/// and refused if it does not fit or is too large, as `c` records.
fn stage_checkpoints(
    checkpoints: Vec<(u64, Vec<u8>)>,
    reader: &PendingNodes<'_>,
    ops: &mut sled::Batch,
) -> Result<(), StoreError> {
    for (cp_size, note) in checkpoints {
        if note.len() > MAX_VALUE_BYTES {
            return Err(StoreError::ValueTooLarge {
                what: "a checkpoint note",
                len: note.len(),
                max: MAX_VALUE_BYTES,
            });
        }
        match check_checkpoint(cp_size, &note, reader) {
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
    Ok(())
}

/// The metadata changes of a batch as `m` records written or removed, refusing a name or
/// value over its limit.
fn stage_meta(
    meta: Vec<(String, Option<Vec<u8>>)>,
    ops: &mut sled::Batch,
) -> Result<(), StoreError> {
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
    Ok(())
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
    nodes: &'a Nodes,
    tiles: &'a Tiles,
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
