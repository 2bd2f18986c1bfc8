//! The right edge of the tree (spec/store.md, "The right edge"): the nodes of the stored
//! tiles still filling. They are not stored: everything they hash is (the entries of the
//! bundle still filling, the full tiles below), so open computes them, and a commit adds
//! the ones it makes in memory. Storing them cost sled about two inserts and two removes
//! per entry, most of its records (BENCHMARKS.md, stop 34).

use std::collections::HashMap;

use super::layout::{full_tiles, TILE_HEIGHT, TILE_LEVELS};
use super::read::read_leaf;
use super::{Store, StoreError};
use crate::tree::{self, Hash};

/// Tree nodes by (level, index).
pub(super) type Edge = HashMap<(u8, u64), Hash>;

impl Store {
    /// The nodes of every stored tile still filling in a tree of `size` leaves, computed
    /// from the entries of the bundle still filling (tile level 0) and from the two top
    /// nodes of the full tiles below (tile levels above): at most 255 nodes per tree level.
    /// What they hash is read, not trusted: open then checks the root they give against
    /// the head's.
    pub(super) fn compute_edge(&self, size: u64) -> Result<Edge, StoreError> {
        let mut edge = Edge::new();
        for tile_level in 0..TILE_LEVELS {
            let base = tile_level * TILE_HEIGHT;
            // Nodes of tree level `base` in the filling tile: from its first to the last
            // complete one.
            let first = full_tiles(size, tile_level) << TILE_HEIGHT;
            for index in first..size >> base {
                let hash = if tile_level == 0 {
                    tree::leaf_hash(&read_leaf(&self.db, &self.files, size, index)?)
                } else {
                    // The root of full tile (tile_level - 1, index): its two top nodes.
                    let left = self.read_node(size, base - 1, 2 * index)?;
                    let right = self.read_node(size, base - 1, 2 * index + 1)?;
                    tree::node_hash(&left, &right)
                };
                edge.insert((base, index), hash);
            }
            for sub in 1..TILE_HEIGHT {
                let level = base + sub;
                for index in first >> sub..size >> level {
                    // Its children are the nodes just computed: `first` is a multiple of
                    // 256, so they lie in the same filling tile, from its start on.
                    let child = |i: u64| edge[&(level - 1, i)];
                    let hash = tree::node_hash(&child(2 * index), &child(2 * index + 1));
                    edge.insert((level, index), hash);
                }
            }
        }
        Ok(edge)
    }
}
