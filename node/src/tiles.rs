//! C2SP tlog-tiles from the store: hash tiles and entry bundles read from a replica, as the
//! node serves them and the export writes them. The format itself (paths, strict parsing)
//! is `dyad_ledger::wire::tiles`, re-exported here.

use dyad_ledger::store::{Store, StoreError};

pub use dyad_ledger::wire::tiles::*;

/// The hash tile's bytes from the store. The tile must lie within the store's tree.
pub fn hash_tile(store: &Store, level: u8, index: u64, width: u16) -> Result<Vec<u8>, StoreError> {
    let hashes = store.tile(level, index, width)?;
    let mut out = Vec::with_capacity(hashes.len() * 32);
    for h in &hashes {
        out.extend_from_slice(h);
    }
    Ok(out)
}

/// The entry bundle's bytes from the store: entries `[index·256, index·256 + width)`, each
/// prefixed by its u16 length. The entries must lie within the store's tree.
pub fn entry_bundle(store: &Store, index: u64, width: u16) -> Result<Vec<u8>, StoreError> {
    let first = index.saturating_mul(u64::from(FULL_WIDTH));
    let end = first.saturating_add(u64::from(width));
    let mut out = Vec::new();
    for leaf in store.leaves(first..end)? {
        let (_, bytes) = leaf?;
        // The store never holds a leaf above 65535 bytes (MAX_LEAF_BYTES).
        let len = u16::try_from(bytes.len()).map_err(|_| StoreError::LeafTooLarge {
            index: first,
            len: bytes.len(),
            max: MAX_BUNDLE_ENTRY_BYTES,
        })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&bytes);
    }
    Ok(out)
}

/// Bytes of a tile or bundle read from the store.
pub fn read_tile(store: &Store, tile: &Tile) -> Result<Vec<u8>, StoreError> {
    match tile.kind {
        TileKind::Hashes { level } => hash_tile(store, level, tile.index, tile.width),
        TileKind::Entries => entry_bundle(store, tile.index, tile.width),
    }
}
