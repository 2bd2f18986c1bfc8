//! The static export of a whole log to a directory any web server can serve, as C2SP
//! tlog-tiles files: from this party's store ([`export_tiles`]) or, while a node holds the
//! store, copied from its tiles API ([`mirror_tiles`]). Both lay out the same files and
//! write each one atomically and durably, the checkpoint last.

use std::io;
use std::path::{Path, PathBuf};

use dyad_ledger::durable::{self, Durability, WriteOptions};
use dyad_ledger::store::{Store, StoreError};
use dyad_ledger::wire::tiles::{
    parse_entry_bundle, parse_hash_tile, tiles_of_tree, TileKind, MAX_BUNDLE_BYTES,
    MAX_HASH_TILE_BYTES,
};

use crate::client::{claimed_size, BlockingClient, ClientError, TileClient};
use crate::tile_check::TileChecks;

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
    Fetch(#[from] ClientError),
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
    let checks = TileChecks::default();
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

/// Copies the log served at `client`'s URL (e.g. a running node, whose store cannot be
/// opened meanwhile) into `out_dir` as static tlog-tiles files, exactly as
/// [`export_tiles`] lays them out from a store: every tile of
/// the tree of the served checkpoint, then the checkpoint. Nothing fetched is verified
/// here: audit the copy ([`crate::client::audit_url`]) before trusting it.
pub async fn mirror_tiles(
    client: &TileClient,
    out_dir: &std::path::Path,
    options: &ExportOptions,
    mut progress: impl FnMut(u64, u64),
) -> Result<Exported, ExportError> {
    let note = client.checkpoint().await?;
    let size = claimed_size(client.base_url(), &note)?;
    let total = tiles_of_tree(size).count() as u64 + 1;
    let mut done = Exported {
        size,
        ..Exported::default()
    };
    progress(0, total);
    for (i, tile) in tiles_of_tree(size).enumerate() {
        let path = out_dir.join(tile.path());
        if options.reuse_full_tiles && tile.is_full() && path.is_file() {
            done.files_kept += 1;
        } else {
            let max = match tile.kind {
                TileKind::Hashes { .. } => MAX_HASH_TILE_BYTES,
                TileKind::Entries => MAX_BUNDLE_BYTES,
            };
            let bytes = client.get(&tile.path(), max).await?;
            let parsed = match tile.kind {
                TileKind::Hashes { .. } => parse_hash_tile(&bytes, tile.width).map(|_| ()),
                TileKind::Entries => parse_entry_bundle(&bytes, tile.width).map(|_| ()),
            };
            parsed.map_err(|source| ClientError::Tile {
                url: format!("{}/{}", client.base_url(), tile.path()),
                source,
            })?;
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

/// [`mirror_tiles`] for synchronous callers (the CLI's `dyad export tiles` while the
/// node runs).
pub fn mirror_tiles_blocking(
    url: &str,
    out_dir: &std::path::Path,
    options: &ExportOptions,
    progress: impl FnMut(u64, u64),
) -> Result<Exported, ExportError> {
    let client = BlockingClient::new(url)?;
    client.block_on(mirror_tiles(
        client.tile_client(),
        out_dir,
        options,
        progress,
    ))
}
