//! C2SP tlog-tiles hash tiles, checked against the entries they cover.
//!
//! A hash tile at tile level `L`, index `N`, holds up to 256 hashes of tree level `8·L`,
//! node indexes `N·256` onwards. Level-0 hashes are the entries' leaf hashes; a hash at
//! level `L > 0` is the root of the full tile `(L − 1, N·256 + i)` below it. So every hash
//! tile of a tree follows from its entries, and [`TileChecker`] checks them all while the
//! entries stream by: it is given each entry's leaf hash in order and asks for each tile
//! as soon as the hashes it must hold are known, a full tile at a time, then the partial
//! tile of each level at the end. Memory: at most 256 hashes per tile level.
//!
//! The checker reads nothing itself: the caller fetches each tile it asks for (from a
//! store, a server, a directory) and hands it back.

use alloc::vec::Vec;

use crate::hash::{leaf_hash, node_hash, Frontier, Hash};

/// Hashes in a full tile.
pub const TILE_WIDTH: usize = 256;
/// Tile levels a tree of fewer than 2^64 leaves can have hashes at (tree levels 0 to 56).
pub const TILE_LEVELS: usize = 8;

/// A tile the checker asks for: `width` hashes (256 when full) at tile level `level`,
/// starting at node index `index`·256.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TileId {
    pub level: u8,
    pub index: u64,
    pub width: u16,
}

impl core::fmt::Display for TileId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if usize::from(self.width) == TILE_WIDTH {
            write!(f, "tile {}/{}", self.level, self.index)
        } else {
            write!(
                f,
                "tile {}/{} (width {})",
                self.level, self.index, self.width
            )
        }
    }
}

/// Why a hash tile does not check out.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TileError {
    /// A hash differs from the hash of what it covers: for level 0 the leaf hash of entry
    /// `index·256 + position`, above it the root of the full tile below.
    #[error("hash {position} of {tile} is not the hash of what it covers ({})", covers(.tile, *.position))]
    Mismatch { tile: TileId, position: u16 },
    /// The tile holds another number of hashes than asked for.
    #[error("{tile} holds {got} hashes")]
    Width { tile: TileId, got: usize },
    /// The caller handed back another tile than the one asked for, or pushed entries
    /// before checking a tile that was due.
    #[error("{got} was given, but {expected} was due")]
    OutOfOrder { expected: TileId, got: TileId },
    #[error("more entries than a tree can hold")]
    TooManyEntries,
}

fn covers(tile: &TileId, position: u16) -> alloc::string::String {
    let node = tile.index * TILE_WIDTH as u64 + u64::from(position);
    if tile.level == 0 {
        alloc::format!("entry {node}")
    } else {
        alloc::format!("tile {}/{node} below it", tile.level - 1)
    }
}

/// The root of a perfect tree over `hashes` (a power of two of them, e.g. a full tile's
/// 256): the node at the top. `None` for an empty list or one whose length is not a
/// power of two.
pub fn subtree_root(hashes: &[Hash]) -> Option<Hash> {
    if !hashes.len().is_power_of_two() {
        return None;
    }
    let mut level: Vec<Hash> = hashes.to_vec();
    while level.len() > 1 {
        for i in 0..level.len() / 2 {
            level[i] = node_hash(&level[2 * i], &level[2 * i + 1]);
        }
        level.truncate(level.len() / 2);
    }
    level.first().copied()
}

/// Checks a tile against the hashes it must hold: the first position that differs.
pub fn check_tile(tile: TileId, hashes: &[Hash], expected: &[Hash]) -> Result<(), TileError> {
    if hashes.len() != usize::from(tile.width) || expected.len() != hashes.len() {
        return Err(TileError::Width {
            tile,
            got: hashes.len(),
        });
    }
    match hashes.iter().zip(expected).position(|(a, b)| a != b) {
        Some(position) => Err(TileError::Mismatch {
            tile,
            position: position as u16,
        }),
        None => Ok(()),
    }
}

/// Checks an entry bundle's entries against the level-0 tile of the same place: each
/// entry's leaf hash must be the tile's hash at its position. `tile` names that tile.
pub fn check_entries<'a>(
    tile: TileId,
    entries: impl IntoIterator<Item = &'a [u8]>,
    hashes: &[Hash],
) -> Result<(), TileError> {
    let mut n = 0usize;
    for (position, entry) in entries.into_iter().enumerate() {
        if hashes.get(position) != Some(&leaf_hash(entry)) {
            return Err(TileError::Mismatch {
                tile,
                position: position as u16,
            });
        }
        n += 1;
    }
    if n != hashes.len() || n != usize::from(tile.width) {
        return Err(TileError::Width { tile, got: n });
    }
    Ok(())
}

/// Streams through a tree's entries and checks every hash tile of it. See the module
/// documentation; in short:
///
/// ```text
/// let mut due = checker.push_leaf(&leaf_hash(entry))?;
/// while let Some(tile) = due {
///     due = checker.check(tile, &fetch(tile))?;
/// }
/// // after the last entry:
/// for tile in checker.partial_tiles() { checker.check(tile, &fetch(tile))?; }
/// ```
#[derive(Clone, Debug, Default)]
pub struct TileChecker {
    /// Per tile level, the hashes of its next tile known so far (from the entries, or the
    /// roots of the full tiles below): at most 256.
    pending: [Vec<Hash>; TILE_LEVELS],
    /// Full tiles checked per level: the index of the next one.
    next_index: [u64; TILE_LEVELS],
    /// The leaves pushed, as the tree's compact frontier.
    tree: Frontier,
}

impl TileChecker {
    pub fn new() -> TileChecker {
        TileChecker::default()
    }

    /// How many leaf hashes were pushed.
    pub fn leaves(&self) -> u64 {
        self.tree.leaves()
    }

    /// The full tile that must be checked next, if any.
    fn due(&self) -> Option<TileId> {
        self.pending
            .iter()
            .position(|p| p.len() == TILE_WIDTH)
            .map(|level| TileId {
                level: level as u8,
                index: self.next_index[level],
                width: TILE_WIDTH as u16,
            })
    }

    /// Adds the next entry's leaf hash. Returns the full level-0 tile it completes, to be
    /// handed to [`TileChecker::check`] before the next leaf.
    pub fn push_leaf(&mut self, leaf: &Hash) -> Result<Option<TileId>, TileError> {
        if let Some(expected) = self.due() {
            return Err(TileError::OutOfOrder {
                expected,
                got: TileId {
                    level: 0,
                    index: self.tree.leaves() / TILE_WIDTH as u64,
                    width: 1,
                },
            });
        }
        if !self.tree.push(*leaf) {
            return Err(TileError::TooManyEntries);
        }
        self.pending[0].push(*leaf);
        Ok(self.due())
    }

    /// Checks a tile the checker asked for (from [`TileChecker::push_leaf`], an earlier
    /// `check`, or [`TileChecker::partial_tiles`]). A full tile's root becomes a hash of
    /// the tile above, which may complete that one: it is returned, to be checked next.
    pub fn check(&mut self, tile: TileId, hashes: &[Hash]) -> Result<Option<TileId>, TileError> {
        let level = usize::from(tile.level);
        let expected = match self.due() {
            Some(due) => due,
            None => TileId {
                level: tile.level,
                index: self.next_index.get(level).copied().unwrap_or(0),
                width: self.pending.get(level).map_or(0, |p| p.len() as u16),
            },
        };
        if tile != expected || tile.width == 0 {
            return Err(TileError::OutOfOrder {
                expected,
                got: tile,
            });
        }
        check_tile(tile, hashes, &self.pending[level])?;
        if usize::from(tile.width) == TILE_WIDTH {
            let root = subtree_root(hashes).unwrap_or_default();
            self.pending[level].clear();
            self.next_index[level] += 1;
            if let Some(above) = self.pending.get_mut(level + 1) {
                above.push(root);
            }
        }
        Ok(self.due())
    }

    /// The partial tile of each level (bottom up) of the tree of the leaves pushed, once
    /// every full tile was checked: hand each to [`TileChecker::check`].
    pub fn partial_tiles(&self) -> Vec<TileId> {
        if self.due().is_some() {
            return Vec::new();
        }
        (0..TILE_LEVELS)
            .filter(|&l| !self.pending[l].is_empty())
            .map(|l| TileId {
                level: l as u8,
                index: self.next_index[l],
                width: self.pending[l].len() as u16,
            })
            .collect()
    }

    /// The RFC 9162 root of the leaves pushed (the empty tree's root when none).
    pub fn root(&self) -> Hash {
        self.tree.root()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    // The RFC 9162 root by its definition, from the one copy of the test oracles.
    use dyad_testkit::merkle::root as mth;

    /// The tile (level, index, width) of the tree over `leaves`, by the definition.
    fn tile_of(leaves: &[Hash], t: TileId) -> Vec<Hash> {
        let span = 1usize << (8 * usize::from(t.level));
        (0..usize::from(t.width))
            .map(|i| {
                let first = (t.index as usize * TILE_WIDTH + i) * span;
                mth(&leaves[first..first + span])
            })
            .collect()
    }

    fn run(
        leaves: &[Hash],
        mut fetch: impl FnMut(TileId) -> Vec<Hash>,
    ) -> Result<Vec<TileId>, TileError> {
        let mut seen = Vec::new();
        let mut c = TileChecker::new();
        for leaf in leaves {
            let mut due = c.push_leaf(leaf)?;
            while let Some(t) = due {
                seen.push(t);
                due = c.check(t, &fetch(t))?;
            }
        }
        for t in c.partial_tiles() {
            seen.push(t);
            c.check(t, &fetch(t))?;
        }
        assert_eq!(c.root(), mth(leaves));
        Ok(seen)
    }

    #[test]
    fn every_tile_of_a_tree_is_asked_for_once_and_checks() {
        for n in [0u64, 1, 255, 256, 257, 600, 65536, 65536 + 256 * 3 + 7] {
            let l = leaves(n);
            let seen = run(&l, |t| tile_of(&l, t)).unwrap();
            let full0 = n / 256;
            let full1 = n / 65536;
            let partial = (0..3).filter(|&lv| (n >> (8 * lv)) % 256 != 0).count() as u64;
            assert_eq!(seen.len() as u64, full0 + full1 + partial, "n = {n}");
        }
    }

    #[test]
    fn a_changed_hash_is_named_with_its_tile_and_position() {
        let n = 65536 + 300;
        let l = leaves(n);
        for (bad, pos) in [
            (
                TileId {
                    level: 0,
                    index: 3,
                    width: 256,
                },
                17u16,
            ),
            (
                TileId {
                    level: 1,
                    index: 0,
                    width: 256,
                },
                200,
            ),
            (
                TileId {
                    level: 0,
                    index: 257,
                    width: 44,
                },
                43,
            ),
            (
                TileId {
                    level: 1,
                    index: 1,
                    width: 1,
                },
                0,
            ),
            (
                TileId {
                    level: 2,
                    index: 0,
                    width: 1,
                },
                0,
            ),
        ] {
            let got = run(&l, |t| {
                let mut h = tile_of(&l, t);
                if t == bad {
                    h[usize::from(pos)][5] ^= 1;
                }
                h
            });
            assert_eq!(
                got,
                Err(TileError::Mismatch {
                    tile: bad,
                    position: pos
                })
            );
        }
        // A short tile.
        let got = run(&l, |t| {
            let mut h = tile_of(&l, t);
            if t.level == 0 && t.index == 1 {
                h.pop();
            }
            h
        });
        assert!(
            matches!(got, Err(TileError::Width { got: 255, .. })),
            "{got:?}"
        );
    }

    #[test]
    fn tiles_must_come_in_order() {
        let l = leaves(256);
        let mut c = TileChecker::new();
        for leaf in &l[..255] {
            assert_eq!(c.push_leaf(leaf), Ok(None));
        }
        let due = c.push_leaf(&l[255]).unwrap().unwrap();
        assert!(matches!(
            c.push_leaf(&l[0]),
            Err(TileError::OutOfOrder { .. })
        ));
        let other = TileId { index: 1, ..due };
        assert!(matches!(
            c.check(other, &l),
            Err(TileError::OutOfOrder { .. })
        ));
        assert_eq!(c.check(due, &l), Ok(None));
    }

    #[test]
    fn entries_against_their_leaf_hashes() {
        let entries: Vec<Vec<u8>> = (0..5u64).map(|i| i.to_be_bytes().to_vec()).collect();
        let hashes: Vec<Hash> = entries.iter().map(|e| leaf_hash(e)).collect();
        let tile = TileId {
            level: 0,
            index: 0,
            width: 5,
        };
        let refs = || entries.iter().map(|e| e.as_slice());
        assert_eq!(check_entries(tile, refs(), &hashes), Ok(()));
        let mut bad = hashes.clone();
        bad[3][0] ^= 1;
        assert_eq!(
            check_entries(tile, refs(), &bad),
            Err(TileError::Mismatch { tile, position: 3 })
        );
        assert!(check_entries(tile, refs().take(4), &hashes).is_err());
    }

    #[test]
    fn subtree_roots_need_a_power_of_two() {
        let l = leaves(256);
        assert_eq!(subtree_root(&l), Some(mth(&l)));
        assert_eq!(subtree_root(&l[..1]), Some(l[0]));
        assert_eq!(subtree_root(&l[..3]), None);
        assert_eq!(subtree_root(&[]), None);
    }
}
