//! C2SP tlog-tiles from the store: hash tiles and entry bundles read from a replica, and
//! the static export of a whole log to a directory that any web server can serve. The
//! format itself (paths, strict parsing) is `dyad_ledger::wire::tiles`.

use std::io;
use std::path::{Path, PathBuf};

use dyad_ledger::durable::{self, Durability, WriteOptions};
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

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the log has no committed (co-signed) checkpoint yet; nothing to export")]
    NoCommittedCheckpoint,
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Fetch(#[from] crate::client::ClientError),
}

/// What [`export_tiles`] wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Exported {
    /// The size of the exported tree (the latest committed checkpoint's).
    pub size: u64,
    pub files_written: u64,
    /// Full tiles and bundles already present in the directory and kept (see
    /// [`ExportOptions::reuse_full_tiles`]).
    pub files_kept: u64,
    pub bytes_written: u64,
}

/// How [`export_tiles_with`] treats an existing directory.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExportOptions {
    /// Keep full tiles and bundles already in the directory instead of writing them again
    /// (they are immutable): makes re-exporting a growing log cost only what is new. Only
    /// for a directory this export wrote before.
    pub reuse_full_tiles: bool,
}

/// Writes the tree of the latest committed checkpoint as C2SP tlog-tiles static files:
/// `DIR/checkpoint`, `DIR/tile/<L>/<N>[.p/<W>]` and `DIR/tile/entries/<N>[.p/<W>]`.
/// Each file is written to a temporary name and renamed, and the checkpoint last, so a
/// web server serving `DIR` meanwhile never serves a checkpoint whose tiles are missing.
pub fn export_tiles(store: &Store, out_dir: &Path) -> Result<Exported, ExportError> {
    export_tiles_with(store, out_dir, &ExportOptions::default(), |_, _| {})
}

/// [`export_tiles`] with options and `progress(done, total)` (in files), called after each
/// file. Memory stays flat: one tile at a time.
pub fn export_tiles_with(
    store: &Store,
    out_dir: &Path,
    options: &ExportOptions,
    mut progress: impl FnMut(u64, u64),
) -> Result<Exported, ExportError> {
    let (size, note) = store
        .latest_checkpoint()?
        .ok_or(ExportError::NoCommittedCheckpoint)?;
    let total = tiles_of_tree(size).count() as u64 + 1;
    let mut done = Exported {
        size,
        ..Exported::default()
    };
    progress(0, total);
    // Published files are cached for good: each is checked against the tree first.
    let checks = crate::tile_check::TileChecks::default();
    for (i, tile) in tiles_of_tree(size).enumerate() {
        let path = out_dir.join(tile.path());
        if options.reuse_full_tiles && tile.is_full() && path.is_file() {
            done.files_kept += 1;
        } else {
            let bytes = checks.read(store, &tile)?;
            write_atomically(&path, &bytes)?;
            done.files_written += 1;
            done.bytes_written += bytes.len() as u64;
        }
        progress(i as u64 + 1, total);
    }
    write_atomically(&out_dir.join("checkpoint"), &note)?;
    done.files_written += 1;
    done.bytes_written += note.len() as u64;
    progress(total, total);
    Ok(done)
}

/// Writes one published file: atomically and durably (synced, renamed, directory synced),
/// so that after a crash the checkpoint, written last, never names a tile that is missing.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| ExportError::Io { path, source }
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    durable::create_dir_all(dir, Durability::Durable).map_err(io(dir))?;
    durable::write(path, bytes, WriteOptions::SHARED).map_err(io(path))?;
    Ok(())
}
