//! Proofs from a published copy's hash tiles alone: a [`NodeReader`] over the C2SP
//! tlog-tiles hash tiles of a tree, fetched with a [`BlockingClient`] from a node, a tile
//! export or a hash-only mirror (`--hash-only`: no entry bundle needed). A node at tree
//! level `8·L` is a hash of tile level `L`; one between is the root of the `2^(level mod 8)`
//! hashes under it in the tile of level `L` below it (C2SP tlog-tiles). Each tile is
//! fetched once.
//!
//! The hashes come from an untrusted server: a proof built from them means something only
//! once it is verified against a root the verifier trusts (a co-signed checkpoint), which
//! a forged or stale tile then fails.

use std::cell::RefCell;
use std::collections::hash_map::Entry;
use std::collections::HashMap;

use dyad_ledger::tree::{node_hash, Hash, NodeReader, TreeError};
use dyad_ledger::wire::tiles::FULL_WIDTH;

use super::http::ClientError;
use super::tiles::BlockingClient;

/// Why a proof could not be built from a copy's hash tiles.
#[derive(Debug, thiserror::Error)]
pub enum TileNodesError {
    /// A tile could not be fetched, or does not parse.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The proof asked for is not one of this tree (an index or size beyond it).
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// A tile lacks a hash the tree of its size has.
    #[error("hash tile {level}/{index} has no hash at position {position}")]
    Short {
        /// Its tile level.
        level: u8,
        /// Its index.
        index: u64,
        /// The position asked for.
        position: usize,
    },
}

/// The complete nodes of the tree of `size` leaves, read from its hash tiles.
pub struct TileNodes<'a> {
    client: &'a BlockingClient,
    size: u64,
    tiles: RefCell<HashMap<(u8, u64), Vec<Hash>>>,
}

impl<'a> TileNodes<'a> {
    /// The tree of `size` leaves served through `client`.
    pub fn new(client: &'a BlockingClient, size: u64) -> TileNodes<'a> {
        TileNodes {
            client,
            size,
            tiles: RefCell::new(HashMap::new()),
        }
    }

    /// Hash `position` of the tile (`tile_level`, `index`) of this tree, fetched once.
    fn hash_in_tile(
        &self,
        tile_level: u8,
        index: u64,
        position: usize,
    ) -> Result<Hash, TileNodesError> {
        let full = u64::from(FULL_WIDTH);
        // Hashes of tree level 8·L: one per complete subtree of 256^L leaves.
        let count = self.size >> (8 * u32::from(tile_level));
        // `node` checked that the node lies inside the tree, so this tile exists; were it
        // not to, the tile would be empty and the lookup below fails as `Short`.
        let width = count.saturating_sub(index.saturating_mul(full)).min(full) as u16;
        let mut tiles = self.tiles.borrow_mut();
        let hashes = match tiles.entry((tile_level, index)) {
            Entry::Occupied(held) => held.into_mut(),
            Entry::Vacant(slot) => {
                let client = self.client.tile_client();
                let fetched = self
                    .client
                    .block_on(client.hash_tile(tile_level, index, width))?;
                slot.insert(fetched)
            }
        };
        hashes.get(position).copied().ok_or(TileNodesError::Short {
            level: tile_level,
            index,
            position,
        })
    }
}

impl NodeReader for TileNodes<'_> {
    type Error = TileNodesError;

    fn size(&self) -> u64 {
        self.size
    }

    fn node(&self, level: u8, index: u64) -> Result<Hash, TileNodesError> {
        let end = (index + 1).checked_shl(u32::from(level));
        if level >= 64 || end.is_none_or(|end| end > self.size) {
            return Err(TreeError::IndexOutOfRange {
                index,
                size: self.size >> level.min(63),
            }
            .into());
        }
        let full = u64::from(FULL_WIDTH);
        let (tile_level, below) = (level / 8, u32::from(level % 8));
        // The 2^below hashes of tree level 8·tile_level under this node.
        let first = index << below;
        let tile = first / full;
        let start = (first % full) as usize;
        let mut hashes = Vec::with_capacity(1 << below);
        for position in start..start + (1 << below) {
            hashes.push(self.hash_in_tile(tile_level, tile, position)?);
        }
        // Fold the perfect subtree over them, pairwise, level by level.
        while hashes.len() > 1 {
            hashes = hashes
                .chunks(2)
                .map(|pair| node_hash(&pair[0], &pair[pair.len() - 1]))
                .collect();
        }
        Ok(hashes[0])
    }
}
