//! A consistent copy of a store into a new directory, taken while the store is in use
//! (spec/store.md, "Snapshot").
//!
//! Two steps. [`Store::snapshot_capture`] runs under the caller's read access, which keeps
//! commits out (the node holds its replica behind a lock: writers wait): it copies every
//! sled record into a new database in a temporary sibling of the destination, and notes
//! the head, the commit count and how many bytes of `bundles` and `tiles-L` the records
//! cover. [`Capture::finish`] runs after the access is released: it makes the database
//! durable, copies the covered bytes of the flat files, writes `head`, opens the copy and
//! runs [`Store::verify_all`] on it, and only then renames it into place. A copy that
//! does not verify is deleted and reported; nothing half-written is ever under the final
//! name (a crash leaves at most the hidden temporary directory, `.<name>.snapshot-*`).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::blob_sync::BlobSync;
use super::files::{FileId, Files};
use super::head_file::{HeadFile, Recorded};
use super::layout::{full_tiles, STORED_TILE_BYTES, TILE_LEVELS};
use super::open::open_db;
use super::{Head, Store, StoreError, StoreOptions, Verified};
use crate::durable::{self, StagingDir};

/// How many bytes of a flat file are copied per read.
const COPY_CHUNK: usize = 1 << 20;

/// The prefix of the temporary directory a snapshot is built in, after `.<name>`.
pub const SNAPSHOT_STAGING_MARK: &str = ".snapshot-";

/// Why a snapshot was not made. The destination is untouched in every case.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The destination exists and is not an empty directory.
    #[error("{} exists and is not an empty directory: a snapshot goes into a new one", path.display())]
    DestinationNotEmpty {
        /// The destination.
        path: PathBuf,
    },
    /// The destination's parent directory does not exist.
    #[error("{} does not exist: create it first", path.display())]
    NoParent {
        /// The missing parent.
        path: PathBuf,
    },
    /// Reading the source store or writing the copy failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A flat file of the source is shorter than its records cover.
    #[error("{}: {len} bytes, but its records cover {covered}", path.display())]
    SourceTooShort {
        /// The source file.
        path: PathBuf,
        /// Its length.
        len: u64,
        /// What the records cover.
        covered: u64,
    },
    /// The copy was made but does not open or verify; it was deleted.
    #[error("the snapshot did not verify and was deleted: {source}")]
    DidNotVerify {
        /// What open or `verify_all` found.
        #[source]
        source: StoreError,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> SnapshotError + '_ {
    move |source| {
        SnapshotError::Store(StoreError::Io {
            path: path.to_owned(),
            source,
        })
    }
}

/// What a finished snapshot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// The tree head it holds.
    pub head: Head,
    /// The commits the source had made at the capture.
    pub commits: u64,
    /// The size of its newest checkpoint (the committed size), if any.
    pub checkpoint: Option<u64>,
    /// sled records copied.
    pub records: u64,
    /// Bytes of the flat files copied.
    pub file_bytes: u64,
    /// What `verify_all` checked on the copy.
    pub verified: Verified,
}

/// Where a snapshot's work is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotPhase {
    /// Copying the flat files' covered bytes (`done`/`total` in bytes).
    Copying,
    /// `verify_all` on the copy (`done`/`total` in its units).
    Verifying,
}

/// What [`Store::snapshot_capture`] took under the caller's read access, to be finished
/// with [`Capture::finish`] after the access is released. Dropped unfinished, it removes
/// its temporary directory.
pub struct Capture {
    // Declared before `staging`: the database is closed before its directory is removed.
    db: Option<sled::Db>,
    source: Arc<Files>,
    dest: PathBuf,
    recorded: Recorded,
    /// The flat files and how many of their bytes the captured records cover.
    covered: Vec<(FileId, u64)>,
    records: u64,
    checkpoint: Option<u64>,
    staging: StagingDir,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("dest", &self.dest)
            .field("head", &self.recorded.head)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// The first step of a snapshot into `dest` (a new or empty directory whose parent
    /// exists): every sled record copied into a new database in a temporary sibling of
    /// `dest`, and the head and the flat files' covered lengths noted. The caller must
    /// keep commits out until it returns (hold the read side of the lock writers take);
    /// the records are streamed one at a time, so memory stays flat however many
    /// checkpoints the store has accumulated.
    pub fn snapshot_capture(&self, dest: &Path) -> Result<Capture, SnapshotError> {
        self.check_readable()?;
        let path = staging_dir(dest)?;
        let staging = StagingDir::create(path.clone()).map_err(io_err(&path))?;
        let db = open_db(staging.path(), StoreOptions::default())?;
        let mut records = 0;
        for kv in self.db.iter() {
            let (k, v) = kv.map_err(StoreError::from)?;
            db.insert(k, v).map_err(StoreError::from)?;
            records += 1;
        }
        let size = self.size();
        let mut covered = vec![(FileId::Bundles, self.bundles_end)];
        for tile_level in 0..TILE_LEVELS {
            let len = full_tiles(size, tile_level) * STORED_TILE_BYTES as u64;
            if len > 0 {
                covered.push((FileId::Tiles(tile_level), len));
            }
        }
        Ok(Capture {
            db: Some(db),
            source: self.files.clone(),
            dest: dest.to_owned(),
            recorded: self.recorded(),
            covered,
            records,
            checkpoint: self.latest_checkpoint()?.map(|(size, _)| size),
            staging,
        })
    }

    /// Both steps of a snapshot at once, for a store nobody else commits to meanwhile
    /// (one opened by this process alone).
    pub fn snapshot(
        &self,
        dest: &Path,
        progress: impl FnMut(SnapshotPhase, u64, u64),
    ) -> Result<SnapshotInfo, SnapshotError> {
        self.snapshot_capture(dest)?.finish(progress)
    }
}

impl Capture {
    /// The tree head captured.
    pub fn head(&self) -> Head {
        self.recorded.head
    }

    /// The second step: made durable, the files copied, verified, renamed into place.
    /// Needs no access to the source store: below their covered lengths its flat files
    /// never change (spec/store.md, "Commit": a commit only writes full bundles and tiles
    /// beyond the covered ends, and only opening cuts bytes, beyond them too), and the
    /// open file handles keep reading the same files.
    pub fn finish(
        mut self,
        mut progress: impl FnMut(SnapshotPhase, u64, u64),
    ) -> Result<SnapshotInfo, SnapshotError> {
        let dir = self.staging.path().to_owned();
        self.make_db_durable()?;
        let file_bytes = self.copy_files(&mut progress)?;
        HeadFile::create(&dir, self.recorded)?;
        durable::sync_dir(&dir).map_err(io_err(&dir))?;
        let verified = verify_copy(&dir, self.recorded, &mut progress)
            .map_err(|source| SnapshotError::DidNotVerify { source })?;
        // An empty directory at `dest` is replaced by the rename.
        fs::rename(&dir, &self.dest).map_err(io_err(&self.dest))?;
        self.staging.keep();
        let parent = parent_of(&self.dest);
        durable::sync_dir(parent).map_err(io_err(parent))?;
        Ok(SnapshotInfo {
            head: self.recorded.head,
            commits: self.recorded.commits,
            checkpoint: self.checkpoint,
            records: self.records,
            file_bytes,
            verified,
        })
    }

    /// sled's records flushed, its files and blobs synced (as [`Store::create`] does), and
    /// the database closed so that it can be opened to verify it.
    fn make_db_durable(&mut self) -> Result<(), SnapshotError> {
        let dir = self.staging.path();
        let db = self.db.take().expect("finish runs once");
        db.flush().map_err(StoreError::from)?;
        BlobSync::new(dir.join("blobs"), dir.join("blobs.synced")).sync_all_existing()?;
        for name in ["db", "conf"] {
            let path = dir.join(name);
            durable::sync_file(&path).map_err(io_err(&path))?;
        }
        drop(db);
        Ok(())
    }

    /// The covered bytes of each flat file, copied and synced. Returns the bytes copied.
    fn copy_files(
        &self,
        progress: &mut impl FnMut(SnapshotPhase, u64, u64),
    ) -> Result<u64, SnapshotError> {
        use std::io::Write as _;
        let total: u64 = self.covered.iter().map(|&(_, len)| len).sum();
        let mut done = 0;
        let mut buf = vec![0; COPY_CHUNK];
        for &(id, covered) in &self.covered {
            if covered == 0 {
                continue;
            }
            let path = self.staging.path().join(id.name());
            let mut out = fs::File::create(&path).map_err(io_err(&path))?;
            let mut at = 0;
            while at < covered {
                let n = (covered - at).min(COPY_CHUNK as u64) as usize;
                if !self.source.read_at(id, at, &mut buf[..n])? {
                    return Err(SnapshotError::SourceTooShort {
                        path: self.source.path(id),
                        len: self.source.len(id)?,
                        covered,
                    });
                }
                out.write_all(&buf[..n]).map_err(io_err(&path))?;
                at += n as u64;
                done += n as u64;
                progress(SnapshotPhase::Copying, done, total);
            }
            out.sync_all().map_err(io_err(&path))?;
        }
        Ok(done)
    }
}

/// Opens the copy in its temporary directory and checks it whole, and that it holds the
/// head captured.
fn verify_copy(
    dir: &Path,
    recorded: Recorded,
    progress: &mut impl FnMut(SnapshotPhase, u64, u64),
) -> Result<Verified, StoreError> {
    let copy = Store::open(dir)?;
    if copy.recorded() != recorded {
        return Err(super::Damage::ForkedFromRecord {
            size: recorded.head.size,
            recorded_root: recorded.head.root,
            found_root: copy.root(),
        }
        .into());
    }
    copy.verify_all(|done, total| progress(SnapshotPhase::Verifying, done, total))
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A new temporary sibling of `dest`, once `dest` is checked to be missing or an empty
/// directory and its parent to exist.
fn staging_dir(dest: &Path) -> Result<PathBuf, SnapshotError> {
    match fs::read_dir(dest) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(SnapshotError::DestinationNotEmpty {
                    path: dest.to_owned(),
                });
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(_) => {
            return Err(SnapshotError::DestinationNotEmpty {
                path: dest.to_owned(),
            })
        }
    }
    let parent = parent_of(dest);
    if !parent.is_dir() {
        return Err(SnapshotError::NoParent {
            path: parent.to_owned(),
        });
    }
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "store".to_owned());
    let mut nonce = [0u8; 8];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
    Ok(parent.join(format!(
        ".{name}{SNAPSHOT_STAGING_MARK}{}",
        hex::encode(nonce)
    )))
}

#[cfg(test)]
#[path = "snapshot_tests.rs"]
mod tests;
