//! The flat files beside sled (spec/store.md, "Files"): `<dir>/bundles`, every full entry
//! bundle back to back, and `<dir>/tiles-L`, every full stored tile of tile level `L` at
//! a computed offset. What they hold never changes, so a commit only appends to them.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use super::error::io_error;
use super::layout::TILE_LEVELS;
use super::upper_tiles::{UpperTile, MAX_HELD_BYTES};
use super::{sync_dir, StoreError};

/// One of the flat files beside sled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum FileId {
    Bundles,
    Tiles(u8),
}

impl FileId {
    pub(super) fn name(self) -> String {
        match self {
            FileId::Bundles => "bundles".to_owned(),
            FileId::Tiles(level) => format!("tiles-{level}"),
        }
    }
}

/// The flat files of full bundles (`<dir>/bundles`) and full stored tiles (`<dir>/tiles-L`),
/// each opened on first use. Full tiles and bundles never change, so they live outside
/// sled: a proof reads the hashes it needs at computed offsets, and sled holds only small
/// records (see the module doc).
pub(crate) struct Files {
    dir: PathBuf,
    bundles: std::sync::OnceLock<File>,
    tiles: [std::sync::OnceLock<File>; TILE_LEVELS as usize],
    /// Tile levels 1 and up, in memory (`upper_tiles.rs`); index 0 is unused.
    upper: [UpperTile; TILE_LEVELS as usize],
}

impl Files {
    pub(super) fn new(dir: &Path) -> Files {
        Files {
            dir: dir.to_owned(),
            bundles: std::sync::OnceLock::new(),
            tiles: std::array::from_fn(|_| std::sync::OnceLock::new()),
            upper: std::array::from_fn(|_| UpperTile::default()),
        }
    }

    fn slot(&self, id: FileId) -> &std::sync::OnceLock<File> {
        match id {
            FileId::Bundles => &self.bundles,
            FileId::Tiles(level) => &self.tiles[usize::from(level)],
        }
    }

    pub(super) fn path(&self, id: FileId) -> PathBuf {
        self.dir.join(id.name())
    }

    /// The open file, or None if it does not exist.
    fn get(&self, id: FileId) -> Result<Option<&File>, StoreError> {
        let slot = self.slot(id);
        if let Some(f) = slot.get() {
            return Ok(Some(f));
        }
        let path = self.path(id);
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
        {
            Ok(f) => Ok(Some(slot.get_or_init(|| f))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::Io { path, source: e }),
        }
    }

    /// The file, created (and its directory entry made durable) if missing.
    fn get_or_create(&self, id: FileId) -> Result<&File, StoreError> {
        if let Some(f) = self.get(id)? {
            return Ok(f);
        }
        let path = self.path(id);
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_error(&path))?;
        sync_dir(&self.dir)?;
        Ok(self.slot(id).get_or_init(|| f))
    }

    pub(super) fn len(&self, id: FileId) -> Result<u64, StoreError> {
        match self.get(id)? {
            None => Ok(0),
            Some(f) => Ok(f.metadata().map_err(io_error(&self.path(id)))?.len()),
        }
    }

    /// The in-memory copy of `id`, for tile levels 1 and up.
    fn upper(&self, id: FileId) -> Option<&UpperTile> {
        match id {
            FileId::Tiles(level) if level > 0 => self.upper.get(usize::from(level)),
            _ => None,
        }
    }

    /// The whole file for its in-memory copy: empty if it does not exist, None if it is
    /// too large to hold.
    fn read_whole(&self, id: FileId) -> Result<Option<Vec<u8>>, StoreError> {
        use std::os::unix::fs::FileExt as _;
        let len = self.len(id)?;
        if len > MAX_HELD_BYTES {
            return Ok(None);
        }
        let Some(f) = self.get(id)? else {
            return Ok(Some(Vec::new()));
        };
        let mut bytes = vec![0; len as usize];
        f.read_exact_at(&mut bytes, 0)
            .map_err(io_error(&self.path(id)))?;
        Ok(Some(bytes))
    }

    /// Fills `buf` from offset `at`; false if the file ends (or does not exist) before.
    /// Tile levels 1 and up are read from their in-memory copy when it holds the range.
    pub(super) fn read_at(&self, id: FileId, at: u64, buf: &mut [u8]) -> Result<bool, StoreError> {
        use std::os::unix::fs::FileExt as _;
        if let Some(upper) = self.upper(id) {
            if upper.read_at(at, buf, || self.read_whole(id))?.is_some() {
                return Ok(true);
            }
        }
        let Some(f) = self.get(id)? else {
            return Ok(false);
        };
        match f.read_exact_at(buf, at) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
            Err(e) => Err(StoreError::Io {
                path: self.path(id),
                source: e,
            }),
        }
    }

    pub(super) fn write_at(&self, id: FileId, at: u64, bytes: &[u8]) -> Result<(), StoreError> {
        use std::os::unix::fs::FileExt as _;
        if bytes.is_empty() {
            return Ok(());
        }
        self.get_or_create(id)?
            .write_all_at(bytes, at)
            .map_err(io_error(&self.path(id)))?;
        if let Some(upper) = self.upper(id) {
            upper.wrote(at, bytes);
        }
        Ok(())
    }

    pub(super) fn sync(&self, id: FileId) -> Result<(), StoreError> {
        match self.get(id)? {
            Some(f) => f.sync_data().map_err(io_error(&self.path(id))),
            None => Ok(()),
        }
    }

    /// Shortens the file to `len` bytes if it is longer.
    pub(super) fn cut(&self, id: FileId, len: u64) -> Result<(), StoreError> {
        if self.len(id)? > len {
            if let Some(f) = self.get(id)? {
                f.set_len(len).map_err(io_error(&self.path(id)))?;
            }
            if let Some(upper) = self.upper(id) {
                upper.cut(len);
            }
        }
        Ok(())
    }

    /// Removes every file, for a new store.
    pub(super) fn remove_all(&self) -> Result<(), StoreError> {
        let ids = std::iter::once(FileId::Bundles).chain((0..TILE_LEVELS).map(FileId::Tiles));
        for id in ids {
            if let Some(upper) = self.upper(id) {
                upper.forget();
            }
            let path = self.path(id);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::Io { path, source: e }),
            }
        }
        Ok(())
    }
}
