//! Reading the tree's nodes (spec/store.md, "Files"): a node of a full stored tile is read
//! from `tiles-L` at a computed offset, a node of a tile still filling from the right edge
//! kept in memory (edge.rs). This is what proofs and roots are computed from.

use super::files::FileId;
use super::layout::{locate, tile_full, tile_offset, STORED_TILE_BYTES};
use super::{Damage, Store, StoreError};
use crate::tree::{self, Hash, NodeReader};

/// Nodes of a level-0 tile at most this many bytes apart are read together: copying this
/// many bytes more costs about what another `pread` does.
const GAP_BYTES: u64 = 4096;

impl Store {
    /// The node `(level, index)` of a tree of `size` leaves, as stored: in a full stored
    /// tile (one read and an offset) or, while its tile is filling, on its own.
    pub(super) fn read_node(&self, size: u64, level: u8, index: u64) -> Result<Hash, StoreError> {
        if level > tree::MAX_LEVEL {
            return Err(Damage::MissingNode { level, index }.into());
        }
        let (tile_level, tile, sub, pos) = locate(level, index);
        if tile_full(size, tile_level, tile) {
            let mut hash = [0; 32];
            let at = tile * STORED_TILE_BYTES as u64 + tile_offset(sub, pos) as u64;
            if !self
                .files
                .read_at(FileId::Tiles(tile_level), at, &mut hash)?
            {
                return Err(Damage::MissingTile {
                    tile_level,
                    index: tile,
                }
                .into());
            }
            return Ok(hash);
        }
        match self.edge.get(&(level, index)) {
            Some(hash) => Ok(*hash),
            None => Err(Damage::MissingNode { level, index }.into()),
        }
    }

    /// [`Store::read_node`] for many nodes: those in full tiles sorted by offset and read
    /// in runs of nearby bytes, one `pread` per run. A level-0 tile (the big file) is
    /// read in runs whose nodes lie at most [`GAP_BYTES`] apart, so a proof's nodes in it
    /// take one to three reads of a few KB rather than one of the whole 16 KB span: the
    /// copy from the page cache was most of a proof's cost at 10M entries (BENCHMARKS.md).
    /// The levels above are held in memory (upper_tiles.rs): each node is copied alone.
    pub(super) fn read_nodes(
        &self,
        size: u64,
        ids: &[(u8, u64)],
        out: &mut Vec<Hash>,
    ) -> Result<(), StoreError> {
        let base = out.len();
        out.resize(base + ids.len(), [0; 32]);
        // (tile level, offset in its file, position in `ids`) of the nodes in full tiles.
        let mut wanted = Vec::with_capacity(ids.len());
        for (slot, &(level, index)) in ids.iter().enumerate() {
            if level > tree::MAX_LEVEL {
                return Err(Damage::MissingNode { level, index }.into());
            }
            let (tile_level, tile, sub, pos) = locate(level, index);
            if tile_full(size, tile_level, tile) {
                let at = tile * STORED_TILE_BYTES as u64 + tile_offset(sub, pos) as u64;
                wanted.push((tile_level, at, slot));
            } else {
                out[base + slot] = *self
                    .edge
                    .get(&(level, index))
                    .ok_or(Damage::MissingNode { level, index })?;
            }
        }
        wanted.sort_unstable();
        let mut buf = Vec::new();
        let mut rest = &wanted[..];
        while let Some(&(tile_level, start, _)) = rest.first() {
            let gap = if tile_level == 0 { GAP_BYTES } else { 0 };
            let run = 1 + rest
                .windows(2)
                .take_while(|w| w[1].0 == tile_level && w[1].1 - w[0].1 <= gap)
                .count();
            let end = rest[run - 1].1 + 32;
            buf.resize((end - start) as usize, 0);
            if !self
                .files
                .read_at(FileId::Tiles(tile_level), start, &mut buf)?
            {
                return Err(Damage::MissingTile {
                    tile_level,
                    index: start / STORED_TILE_BYTES as u64,
                }
                .into());
            }
            for &(_, at, slot) in &rest[..run] {
                let from = (at - start) as usize;
                out[base + slot] = buf[from..from + 32].try_into().expect("32 bytes");
            }
            rest = &rest[run..];
        }
        Ok(())
    }

    /// The first `hashes` hashes of a full stored tile.
    pub(super) fn stored_tile(
        &self,
        tile_level: u8,
        index: u64,
        hashes: usize,
    ) -> Result<Vec<u8>, StoreError> {
        let mut bytes = vec![0; hashes * 32];
        let at = index * STORED_TILE_BYTES as u64;
        if !self
            .files
            .read_at(FileId::Tiles(tile_level), at, &mut bytes)?
        {
            return Err(Damage::MissingTile { tile_level, index }.into());
        }
        Ok(bytes)
    }
}

impl NodeReader for Store {
    type Error = StoreError;

    fn size(&self) -> u64 {
        self.frontier.size()
    }

    fn node(&self, level: u8, index: u64) -> Result<Hash, StoreError> {
        self.read_node(self.size(), level, index)
    }

    fn nodes(&self, ids: &[(u8, u64)], out: &mut Vec<Hash>) -> Result<(), StoreError> {
        self.read_nodes(self.size(), ids, out)
    }

    fn right_subtree(&self, lo: u64) -> Option<Hash> {
        self.frontier.right_subtree(lo)
    }
}

/// The stored nodes, seen as a tree of `size` leaves (the head's, before the frontier is loaded).
pub(super) struct SizedNodes<'a> {
    pub(super) store: &'a Store,
    pub(super) size: u64,
}

impl NodeReader for SizedNodes<'_> {
    type Error = StoreError;

    fn size(&self) -> u64 {
        self.size
    }

    fn node(&self, level: u8, index: u64) -> Result<Hash, StoreError> {
        self.store.read_node(self.size, level, index)
    }

    fn nodes(&self, ids: &[(u8, u64)], out: &mut Vec<Hash>) -> Result<(), StoreError> {
        self.store.read_nodes(self.size, ids, out)
    }
}
