//! Checks of what the store hands out against the tree above it, and the record a replica
//! keeps of damage once found.
//!
//! The store's full bundles and stored tiles live in flat files (spec/store.md) that
//! nothing re-reads on open: a byte flipped there is found by [`Store::verify_all`], or when
//! it is read. These checks let a reader (the node serving tiles, an export) refuse such
//! bytes cheaply:
//!
//! - a full hash tile at tile level `L`, index `N`: the root of its 256 hashes must be tree
//!   node `(8L + 8, N)`, which is stored in the tile above (or in the right edge that opening
//!   checked against the head's root) ([`check_full_tile`]);
//! - an entry bundle: each entry's leaf hash must be the level-0 tile's hash at its place
//!   ([`check_bundle`]).
//!
//! Damage found is kept in `<store>/damaged` ([`record_damage`]), so that `dyad status`
//! reports it until `dyad verify store` finds the store whole again.

use std::io::Read;
use std::path::Path;

use crate::durable::{self, WriteOptions};
use crate::store::{Damage, Store, StoreError, TILE_HEIGHT, TILE_WIDTH};
use crate::tree::{Hash, NodeReader};

/// The file in the store's directory that records damage found while the store was read.
pub const DAMAGE_FILE: &str = "damaged";
/// The record is a line or two of text: anything longer is cut.
const MAX_RECORD_BYTES: u64 = 4096;
/// Bytes of a full stored tile in its `tiles-L` file (510 hashes).
const STORED_TILE_BYTES: u64 = 510 * 32;

/// Whether the stored tile `(tile_level, index)` is full (so held in the file `tiles-L`)
/// in a tree of `size` leaves.
pub fn stored_tile_full(size: u64, tile_level: u8, index: u64) -> bool {
    let shift = u32::from(tile_level) * u32::from(TILE_HEIGHT);
    index
        .checked_add(1)
        .and_then(|n| n.checked_mul(u64::from(TILE_WIDTH)))
        .and_then(|n| n.checked_shl(shift).filter(|c| c >> shift == n))
        .is_some_and(|covered| covered <= size)
}

/// Checks the 256 hashes of the full stored tile `(tile_level, index)` (as read from the
/// store) against tree node `(8·tile_level + 8, index)`: their subtree root.
pub fn check_full_tile(
    store: &Store,
    tile_level: u8,
    index: u64,
    hashes: &[Hash],
) -> Result<(), StoreError> {
    let mismatch = || StoreError::from(Damage::TileMismatch { tile_level, index });
    if hashes.len() != usize::from(TILE_WIDTH) {
        return Err(mismatch());
    }
    let root = dyad_verifier::tiles::subtree_root(hashes).ok_or_else(mismatch)?;
    let above = store.node(tile_level * TILE_HEIGHT + TILE_HEIGHT, index)?;
    if root != above {
        return Err(mismatch());
    }
    Ok(())
}

/// Checks the entries of bundle `index` (a tlog-tiles entry bundle of `width` entries)
/// against `leaf_hashes`, the level-0 tile of the same place (checked itself).
pub fn check_bundle(
    index: u64,
    width: u16,
    bundle: &[u8],
    leaf_hashes: &[Hash],
) -> Result<(), StoreError> {
    let entries = crate::wire::tiles::parse_entry_bundle(bundle, width)
        .map_err(|_| Damage::MalformedBundle { index })?;
    let tile = dyad_verifier::tiles::TileId {
        level: 0,
        index,
        width,
    };
    match dyad_verifier::tiles::check_entries(tile, entries.iter().map(Vec::as_slice), leaf_hashes)
    {
        Ok(()) => Ok(()),
        Err(dyad_verifier::tiles::TileError::Mismatch { position, .. }) => {
            Err(Damage::LeafHashMismatch {
                index: index * u64::from(TILE_WIDTH) + u64::from(position),
            }
            .into())
        }
        Err(_) => Err(Damage::MalformedBundle { index }.into()),
    }
}

/// Where the damage lies on disk, in words, when the store can tell: which file and
/// bytes, or that it is a single record in the database.
pub fn locate_damage(store: &Store, damage: &Damage) -> Option<String> {
    let size = store.size();
    let node_at = |level: u8, index: u64| -> String {
        let (tile_level, sub) = (level / TILE_HEIGHT, level % TILE_HEIGHT);
        let tile = index >> (TILE_HEIGHT - sub);
        if stored_tile_full(size, tile_level, tile) {
            let pos = index - (tile << (TILE_HEIGHT - sub));
            let at = tile * STORED_TILE_BYTES + (512 - (512 >> sub) + pos) * 32;
            format!(
                "node (level {level}, index {index}) is in stored tile {tile_level}/{tile}: file tiles-{tile_level}, bytes {at}..{}",
                at + 32
            )
        } else {
            format!("node (level {level}, index {index}) is a single record in the database (the tile is still filling)")
        }
    };
    match *damage {
        Damage::LeafHashMismatch { index } => {
            let bundle = index / u64::from(TILE_WIDTH);
            let entry = if stored_tile_full(size, 0, bundle) {
                format!("entry {index} is in full bundle {bundle} (file bundles)")
            } else {
                format!("entry {index} is a single record in the database")
            };
            Some(format!("{entry}; its leaf hash {}", node_at(0, index)))
        }
        Damage::NodeMismatch { level, index } => Some(format!(
            "{}; its children: {} and {}",
            node_at(level, index),
            node_at(level - 1, 2 * index),
            node_at(level - 1, 2 * index + 1)
        )),
        Damage::TileMismatch { tile_level, index } => Some(format!(
            "file tiles-{tile_level}, bytes {}..{}; the {}",
            index * STORED_TILE_BYTES,
            index * STORED_TILE_BYTES + u64::from(TILE_WIDTH) * 32,
            node_at(tile_level * TILE_HEIGHT + TILE_HEIGHT, index)
        )),
        _ => None,
    }
}

/// Records damage found in the store at `store_dir` (kept: the first record stays),
/// durably ([`durable::write`], mode 0600): `dyad status` must still report it after a
/// power loss. The record is for operators; failing to write it is logged by the caller,
/// not fatal.
pub fn record_damage(store_dir: &Path, what: &str) -> std::io::Result<()> {
    let path = store_dir.join(DAMAGE_FILE);
    if path.exists() {
        return Ok(()); // the first record stays; no need to write one to discard it
    }
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut line: String = what.chars().filter(|c| *c != '\n').take(2000).collect();
    line.push('\n');
    let record = format!("found at unix time {secs}: {line}");
    durable::write(
        &path,
        record.as_bytes(),
        WriteOptions::PRIVATE.keep_existing(),
    )
    .map(drop)
}

/// The damage recorded for the store at `store_dir`, if any.
pub fn recorded_damage(store_dir: &Path) -> Option<String> {
    let file = std::fs::File::open(store_dir.join(DAMAGE_FILE)).ok()?;
    let mut bytes = Vec::new();
    file.take(MAX_RECORD_BYTES).read_to_end(&mut bytes).ok()?;
    let text = String::from_utf8_lossy(&bytes).trim().to_owned();
    Some(if text.is_empty() {
        "damage was found (no details recorded)".to_owned()
    } else {
        text
    })
}

/// Removes the record, once the whole store was verified. Whether there was one.
pub fn clear_recorded_damage(store_dir: &Path) -> std::io::Result<bool> {
    match std::fs::remove_file(store_dir.join(DAMAGE_FILE)) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}
