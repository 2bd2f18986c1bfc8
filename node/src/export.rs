//! The static export of a whole log to a directory any web server can serve, as C2SP
//! tlog-tiles files: from this party's store ([`export_tiles`]) or, while a node holds the
//! store, copied from its tiles API ([`mirror_tiles`]). Both lay out the same files and
//! write each one atomically and durably, the checkpoint last.
//!
//! Durability costs one file sync per tile and one directory sync per directory (up to
//! 1000 tiles each), not one per tile: every tile is synced before it is renamed into
//! place, every directory holding new tiles is synced once after its last tile, and only
//! then is the checkpoint written (synced, renamed, its directory synced). So after a crash
//! a checkpoint on disk never names a tile that is missing.

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use dyad_ledger::attachments::Attachments;
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
    /// The store could not be read, or a tile does not match the tree.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// There is no co-signed checkpoint to export.
    #[error("the log has no committed (co-signed) checkpoint yet; nothing to export")]
    NoCommittedCheckpoint,
    /// A file or directory of the export could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the system reported.
        source: io::Error,
    },
    /// An attachment the entries name could not be read.
    #[error("attachments: {0}")]
    Attachments(String),
    /// The log being mirrored could not be fetched.
    #[error(transparent)]
    Fetch(#[from] ClientError),
}

/// What [`export_tiles`] wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Exported {
    /// The size of the exported tree (the latest committed checkpoint's).
    pub size: u64,
    /// Files written, the checkpoint included.
    pub files_written: u64,
    /// Full tiles and bundles already present in the directory and kept (see
    /// [`ExportOptions::reuse_full_tiles`]).
    pub files_kept: u64,
    /// Bytes of the files written.
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
/// web server serving `DIR` meanwhile never serves a checkpoint whose tiles are missing,
/// nor does a crash leave one (see the module's documentation).
pub fn export_tiles(store: &Store, out_dir: &Path) -> Result<Exported, ExportError> {
    export_tiles_with(store, out_dir, &ExportOptions::default(), |_, _| {})
}

/// [`export_tiles`] with options and `progress(done, total)` (in files), called after each
/// file. Memory stays flat: one tile at a time (and the names of the directories written
/// to, one per thousand tiles).
pub fn export_tiles_with(
    store: &Store,
    out_dir: &Path,
    options: &ExportOptions,
    progress: impl FnMut(u64, u64),
) -> Result<Exported, ExportError> {
    export_tiles_and_attachments(store, None, out_dir, options, progress)
}

/// [`export_tiles_with`], and with `attachments` every attachment the entries name, as
/// `DIR/attachment/<sha256 hex>` (spec/node.md 2.2), written before the checkpoint: the
/// directory then serves all a full `dyad audit --url` reads.
pub fn export_tiles_and_attachments(
    store: &Store,
    attachments: Option<&Attachments>,
    out_dir: &Path,
    options: &ExportOptions,
    mut progress: impl FnMut(u64, u64),
) -> Result<Exported, ExportError> {
    let (size, note) = store
        .latest_checkpoint()?
        .ok_or(ExportError::NoCommittedCheckpoint)?;
    let named = match attachments {
        Some(_) => crate::publish::source::attachments_named(store, 0, size)
            .map_err(|e| ExportError::Attachments(e.to_string()))?,
        None => Vec::new(),
    };
    let tiles = tiles_of_tree(size).count() as u64;
    let total = tiles + named.len() as u64 + 1;
    let mut files = Publisher::new(out_dir, size);
    progress(0, total);
    // Published files are cached for good: each is checked against the tree first.
    let checks = TileChecks::default();
    for (i, tile) in tiles_of_tree(size).enumerate() {
        let path = out_dir.join(tile.path());
        if options.reuse_full_tiles && tile.is_full() && path.is_file() {
            files.keep(&path);
        } else {
            files.tile(&path, &checks.read(store, &tile)?)?;
        }
        progress(i as u64 + 1, total);
    }
    for (i, (sha256, len)) in named.iter().enumerate() {
        let path = out_dir.join("attachment").join(hex::encode(sha256));
        let same = std::fs::metadata(&path).is_ok_and(|m| m.len() == *len);
        if options.reuse_full_tiles && same {
            files.keep(&path);
        } else if let Some(a) = attachments {
            let bytes = a
                .get(sha256)
                .map_err(|e| ExportError::Attachments(e.to_string()))?;
            files.tile(&path, &bytes)?;
        }
        progress(tiles + i as u64 + 1, total);
    }
    let done = files.checkpoint(&note)?;
    progress(total, total);
    Ok(done)
}

/// Writes the files of one export in the order that keeps a crash harmless: tiles first,
/// each synced before it gets its name, then each directory that got new tiles synced
/// once, then the checkpoint, durably, last.
struct Publisher<'a> {
    out_dir: &'a Path,
    /// Directories that got tiles whose names are not yet synced.
    unsynced: BTreeSet<PathBuf>,
    done: Exported,
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> ExportError {
    let path = path.to_owned();
    move |source| ExportError::Io { path, source }
}

impl<'a> Publisher<'a> {
    fn new(out_dir: &'a Path, size: u64) -> Publisher<'a> {
        Publisher {
            out_dir,
            unsynced: BTreeSet::new(),
            done: Exported {
                size,
                ..Exported::default()
            },
        }
    }

    /// Writes one tile atomically, its contents synced; its name is made durable by
    /// [`Publisher::checkpoint`].
    fn tile(&mut self, path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
        let dir = path.parent().unwrap_or(Path::new("."));
        if !self.unsynced.contains(dir) {
            // A new directory's own name is synced in its parent as it is made.
            durable::create_dir_all(dir, Durability::Durable).map_err(io_error(dir))?;
        }
        // The directory is synced once for all its tiles, before the checkpoint.
        let options = WriteOptions {
            durability: Durability::AtomicOnly,
            ..WriteOptions::SHARED
        };
        durable::write_with(path, options, |f| {
            f.write_all(bytes)?;
            f.sync_all()
        })
        .map_err(io_error(path))?;
        self.unsynced.insert(dir.to_owned());
        self.done.files_written += 1;
        self.done.bytes_written += bytes.len() as u64;
        Ok(())
    }

    /// Keeps a full tile already in place. Its directory is synced with the others: an
    /// earlier export that stopped before its checkpoint may have left its name unsynced.
    fn keep(&mut self, path: &Path) {
        let dir = path.parent().unwrap_or(Path::new("."));
        self.unsynced.insert(dir.to_owned());
        self.done.files_kept += 1;
    }

    /// Syncs every directory that got tiles, then writes the checkpoint durably: it is
    /// never durable before the tiles it covers.
    fn checkpoint(mut self, note: &[u8]) -> Result<Exported, ExportError> {
        for dir in std::mem::take(&mut self.unsynced) {
            durable::sync_dir(&dir).map_err(io_error(&dir))?;
        }
        let path = self.out_dir.join("checkpoint");
        durable::create_dir_all(self.out_dir, Durability::Durable)
            .map_err(io_error(self.out_dir))?;
        durable::write(&path, note, WriteOptions::SHARED).map_err(io_error(&path))?;
        self.done.files_written += 1;
        self.done.bytes_written += note.len() as u64;
        Ok(self.done)
    }
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
    let mut files = Publisher::new(out_dir, size);
    progress(0, total);
    for (i, tile) in tiles_of_tree(size).enumerate() {
        let path = out_dir.join(tile.path());
        if options.reuse_full_tiles && tile.is_full() && path.is_file() {
            files.keep(&path);
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
            files.tile(&path, &bytes)?;
        }
        progress(i as u64 + 1, total);
    }
    let done = files.checkpoint(&note)?;
    progress(total, total);
    Ok(done)
}

/// [`mirror_tiles`] for synchronous callers (the CLI's `dyad export tiles` while the
/// node runs).
pub fn mirror_tiles_blocking(
    url: &str,
    reach: crate::Reach,
    out_dir: &std::path::Path,
    options: &ExportOptions,
    progress: impl FnMut(u64, u64),
) -> Result<Exported, ExportError> {
    let client = BlockingClient::with_reach(url, reach)?;
    client.block_on(mirror_tiles(
        client.tile_client(),
        out_dir,
        options,
        progress,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_directory_is_synced_once_before_the_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("export");
        let mut files = Publisher::new(&out, 3);
        for path in [
            "tile/0/000",
            "tile/0/001",
            "tile/entries/000",
            "tile/0/002.p/3",
        ] {
            files.tile(&out.join(path), b"tile").unwrap();
            assert!(!out.join("checkpoint").exists(), "checkpoint before {path}");
        }
        // A full tile an earlier export left, kept as it is.
        std::fs::create_dir_all(out.join("tile/1")).unwrap();
        std::fs::write(out.join("tile/1/000"), b"kept").unwrap();
        files.keep(&out.join("tile/1/000"));
        // One sync per directory, however many tiles it got.
        let dirs: Vec<PathBuf> = files.unsynced.iter().cloned().collect();
        let names = ["tile/0", "tile/0/002.p", "tile/1", "tile/entries"];
        assert_eq!(dirs, names.map(|d| out.join(d)));
        let done = files.checkpoint(b"note").unwrap();
        assert_eq!(std::fs::read(out.join("checkpoint")).unwrap(), b"note");
        assert_eq!(
            (done.files_written, done.files_kept, done.bytes_written),
            (5, 1, 4 * 4 + 4)
        );
    }
}
