//! Tiles and bundles are checked before they are served: a byte damaged on disk must not
//! go out with `immutable` caching, where no reader could ever get the right one again.
//!
//! - A hash tile whose stored tile is full: the root of its 256 hashes must be the node
//!   above it ([`dyad_ledger::store_check::check_full_tile`]). A partial tile cut from a full
//!   stored tile is checked as that tile.
//! - A partial tile at the right edge (sled records, which opening checks against the head's
//!   root along the right edge): at level 0 each hash against its entry's leaf hash; above,
//!   each hash as the node above the full tile below it (checked as above).
//! - An entry bundle: its level-0 tile is checked, then each entry against its leaf hash.
//!
//! A full tile or bundle checked once is remembered (a bounded set, [`VERIFIED_CAPACITY`]
//! of them), so a tile requested again costs a set lookup. Measured with
//! `cargo bench -p dyad-ledger --bench tile_check` (400-byte entries, page cache warm):
//! a full level-0 tile read costs 4.3 us as read, 76 us checked the first time (255 node
//! hashes), 4.0 us when remembered; a full bundle 38 us, 271 us the first time (256 leaf
//! hashes and its tile's check), 47 us when remembered. So the check costs once per tile
//! and then nothing measurable; the static export (which reads each tile once) pays the
//! first-time cost for every tile.
//! On damage the tile is refused (by the handler), and the damage is logged and recorded in
//! the store's directory ([`dyad_ledger::store_check::record_damage`]) for `dyad status`.

use std::collections::HashSet;
use std::sync::Mutex;

use crate::tiles::{self, Tile, TileKind};
use dyad_ledger::store::{Damage, Store, StoreError, TILE_WIDTH};
use dyad_ledger::store_check::{check_bundle, check_full_tile, stored_tile_full};
use dyad_ledger::tree::Hash;

/// Full tiles and bundles remembered as checked. Two generations of half this size:
/// when the young one is full it becomes the old one, and a hit in the old one moves the
/// key back (an approximate LRU at a constant cost per lookup). About 2 MiB at most.
pub const VERIFIED_CAPACITY: usize = 1 << 16;

/// The key of a full hash tile (tile level, index) or of a full bundle (`BUNDLE`, index).
type Key = (u8, u64);
const BUNDLE: u8 = u8::MAX;

#[derive(Default)]
struct Generations {
    young: HashSet<Key>,
    old: HashSet<Key>,
}

/// What the node remembers of the tiles it checked.
#[derive(Default)]
pub struct TileChecks {
    verified: Mutex<Generations>,
}

impl TileChecks {
    fn lock(&self) -> std::sync::MutexGuard<'_, Generations> {
        self.verified.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn is_verified(&self, key: Key) -> bool {
        let mut g = self.lock();
        if g.young.contains(&key) {
            return true;
        }
        if g.old.remove(&key) {
            Self::insert(&mut g, key);
            return true;
        }
        false
    }

    fn mark_verified(&self, key: Key) {
        Self::insert(&mut self.lock(), key);
    }

    fn insert(g: &mut Generations, key: Key) {
        if g.young.len() >= VERIFIED_CAPACITY / 2 {
            g.old = std::mem::take(&mut g.young);
        }
        g.young.insert(key);
    }

    /// How many tiles and bundles are remembered as checked.
    #[cfg(test)]
    fn remembered(&self) -> usize {
        let g = self.lock();
        g.young.len() + g.old.len()
    }

    /// The bytes of `tile` from the store, checked against the tree above them. Damage is
    /// `StoreError::Damaged`, and is recorded in the store's directory.
    pub fn read(&self, store: &Store, tile: &Tile) -> Result<Vec<u8>, StoreError> {
        let result = tiles::read_tile(store, tile).and_then(|bytes| {
            self.check(store, tile, &bytes)?;
            Ok(bytes)
        });
        if let Err(StoreError::Damaged(damage)) = &result {
            let mut what = format!("serving {}: {damage}", tile.path());
            if let Some(at) = dyad_ledger::store_check::locate_damage(store, damage) {
                what.push_str(&format!(" ({at})"));
            }
            tracing::error!(
                tile = %tile.path(),
                damage = %what,
                "DAMAGED STORE: refusing to serve a tile that does not match the tree; run `dyad verify store`"
            );
            if let Err(e) = dyad_ledger::store_check::record_damage(store.dir(), &what) {
                tracing::error!(error = %e, "cannot record the damage in the store's directory");
            }
        }
        result
    }

    /// Checks the bytes read for `tile`.
    fn check(&self, store: &Store, tile: &Tile, bytes: &[u8]) -> Result<(), StoreError> {
        match tile.kind {
            TileKind::Hashes { level } => {
                let hashes =
                    tiles::parse_hash_tile(bytes, tile.width).map_err(|_| Damage::MissingTile {
                        tile_level: level,
                        index: tile.index,
                    })?;
                self.check_hashes(store, level, tile.index, &hashes)
            }
            TileKind::Entries => {
                let key = (BUNDLE, tile.index);
                if tile.is_full() && self.is_verified(key) {
                    return Ok(());
                }
                let hashes = store.tile(0, tile.index, tile.width)?;
                self.check_hashes(store, 0, tile.index, &hashes)?;
                check_bundle(tile.index, tile.width, bytes, &hashes)?;
                if tile.is_full() {
                    self.mark_verified(key);
                }
                Ok(())
            }
        }
    }

    /// Checks `hashes`, the first of tile `(level, index)` as read from the store.
    fn check_hashes(
        &self,
        store: &Store,
        level: u8,
        index: u64,
        hashes: &[Hash],
    ) -> Result<(), StoreError> {
        let width = TILE_WIDTH as usize;
        if stored_tile_full(store.size(), level, index) {
            if !self.is_verified((level, index)) {
                let full;
                let all = if hashes.len() == width {
                    hashes
                } else {
                    full = store.tile(level, index, TILE_WIDTH)?;
                    &full[..]
                };
                check_full_tile(store, level, index, all)?;
                // A partial tile cut from it must be its first hashes (same file, another read).
                if all[..hashes.len()] != *hashes {
                    return Err(Damage::TileMismatch {
                        tile_level: level,
                        index,
                    }
                    .into());
                }
                self.mark_verified((level, index));
            }
            return Ok(());
        }
        // The right edge: each hash against what it covers below.
        let first = index * u64::from(TILE_WIDTH);
        if level == 0 {
            for (i, leaf) in store
                .leaves(first..first + hashes.len() as u64)?
                .enumerate()
            {
                let (n, bytes) = leaf?;
                if dyad_ledger::tree::leaf_hash(&bytes) != hashes[i] {
                    return Err(Damage::LeafHashMismatch { index: n }.into());
                }
            }
            return Ok(());
        }
        for (i, hash) in hashes.iter().enumerate() {
            let below = first + i as u64;
            if self.is_verified((level - 1, below)) {
                // Checked against the node above it, which is this hash as stored.
                continue;
            }
            let tile = store.tile(level - 1, below, TILE_WIDTH)?;
            if dyad_verifier::tiles::subtree_root(&tile).as_ref() != Some(hash) {
                return Err(Damage::TileMismatch {
                    tile_level: level - 1,
                    index: below,
                }
                .into());
            }
            self.mark_verified((level - 1, below));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_set_of_checked_tiles_stays_bounded_and_keeps_what_is_used() {
        let checks = TileChecks::default();
        checks.mark_verified((0, 0));
        for i in 1..(3 * VERIFIED_CAPACITY as u64) {
            checks.mark_verified((1, i));
            // Used all along: never dropped.
            assert!(checks.is_verified((0, 0)));
            assert!(checks.remembered() <= VERIFIED_CAPACITY);
        }
        assert!(!checks.is_verified((1, 1)));
        assert!(checks.is_verified((1, 3 * VERIFIED_CAPACITY as u64 - 1)));
    }
}
