//! Creating and opening a store (spec/store.md, "Open"): the checks of open, in O(log n)
//! reads, that refuse a store changed behind its back, and the recovery from an
//! interrupted run (what sled recovered made durable, bytes of an interrupted commit cut).

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::time::Duration;

use super::blob_sync::BlobSync;
use super::error::io_error;
use super::files::{FileId, Files};
use super::head_file::{HeadFile, Recorded};
use super::layout::{
    full_tiles, key_u64, BUNDLE, BUNDLE_WIDTH, COMMITS_KEY, ENTRY, FORMAT, FORMAT_KEY, HEAD_KEY,
    NODE, OLD_FORMATS, STORED_TILE_BYTES, TILE_LEVELS, UPGRADED_FORMAT,
};
use super::nodes::SizedNodes;
use super::read::read_bundle_record;
use super::unfinished_snapshot::remove_unfinished_snapshots;
use super::upgrade::upgrade_from_format_3;
use super::{sync_dir, Damage, Head, Store, StoreError};
use crate::durable;
use crate::tree::{self, Frontier, MAX_LEVEL};

/// How a store is opened. `StoreOptions::default()` is what [`Store::open`] and
/// [`Store::create`] use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreOptions {
    /// The most bytes of pages sled keeps cached in memory. sled's own default is 1 GiB,
    /// which a reader touching a large log at random (proofs, an audit) fills and keeps;
    /// reads beyond the cache come from the OS page cache.
    pub cache_bytes: u64,
}

/// The default page cache: room for the upper tiles, recent bundles and the single
/// records of a busy log, while an audit of a 10M-entry store stays well under 100 MB.
pub const DEFAULT_CACHE_BYTES: u64 = 32 << 20;

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            cache_bytes: DEFAULT_CACHE_BYTES,
        }
    }
}

impl Store {
    /// Creates an empty store in `dir` (created if missing), refusing a directory that
    /// already holds a database.
    pub fn create(dir: &Path) -> Result<Store, StoreError> {
        Store::create_with(dir, StoreOptions::default())
    }

    /// [`Store::create`] with options (e.g. a larger page cache).
    pub fn create_with(dir: &Path, options: StoreOptions) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        // A blob marker without a database is stale: it must not excuse new blobs.
        if !dir.join("db").exists() {
            let _ = std::fs::remove_file(dir.join("blobs.synced"));
        }
        let existed = dir.join("db").exists() || dir.join("conf").exists();
        let db = open_db(dir, options)?;
        remove_crash_leftovers(dir);
        // The format and head records are written together: a database without any
        // record is what a crash during an earlier create left, and is taken over.
        if existed && !db.is_empty() {
            return Err(StoreError::AlreadyExists {
                path: dir.to_owned(),
            });
        }
        let mut init = sled::Batch::default();
        init.insert(FORMAT_KEY, FORMAT);
        init.insert(
            HEAD_KEY,
            &Head {
                size: 0,
                root: tree::EMPTY_ROOT,
            }
            .encode()[..],
        );
        init.insert(COMMITS_KEY, &0u64.to_be_bytes()[..]);
        // Files of full bundles and tiles left by an earlier store here are not this one's.
        Files::new(dir).remove_all()?;
        // The head file first: its record (nothing committed) can never be ahead of sled.
        let head_file = HeadFile::create(
            dir,
            Recorded {
                commits: 0,
                head: Head {
                    size: 0,
                    root: tree::EMPTY_ROOT,
                },
            },
        )?;
        db.apply_batch(init)?;
        db.flush()?;
        let mut store = Store::with_db(dir, db)?;
        store.head_file = head_file;
        store.blobs.sync_all_existing()?;
        store
            .db_file
            .sync_all()
            .map_err(io_error(&dir.join("db")))?;
        let conf = dir.join("conf");
        durable::sync_file(&conf).map_err(io_error(&conf))?;
        sync_dir(dir)?;
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent)?;
        }
        Ok(store)
    }

    /// Opens an existing store and checks it (O(log n) reads; see the module doc).
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Store::open_with(dir, StoreOptions::default())
    }

    /// [`Store::open`] with options (e.g. a larger page cache for a busy node).
    pub fn open_with(dir: &Path, options: StoreOptions) -> Result<Store, StoreError> {
        // sled would silently create a new database; a missing store must be an error.
        if !dir.join("db").is_file() {
            return Err(StoreError::NotFound {
                path: dir.to_owned(),
            });
        }
        let db = open_db(dir, options)?;
        remove_crash_leftovers(dir);
        match db.get(FORMAT_KEY)? {
            None => {
                return Err(StoreError::NotAStore {
                    path: dir.to_owned(),
                    reason: "it has no format record",
                })
            }
            Some(f) if f.as_ref() == UPGRADED_FORMAT => {
                upgrade_from_format_3(&db, dir)?;
            }
            Some(f) if OLD_FORMATS.contains(&f.as_ref()) => {
                return Err(StoreError::OldFormat {
                    path: dir.to_owned(),
                    found: String::from_utf8_lossy(&f).into_owned(),
                })
            }
            Some(f) if f.as_ref() != FORMAT => {
                return Err(StoreError::UnsupportedFormat {
                    path: dir.to_owned(),
                    found: String::from_utf8_lossy(&f).into_owned(),
                })
            }
            Some(_) => {}
        }
        let head = match db.get(HEAD_KEY)? {
            None => {
                return Err(StoreError::NotAStore {
                    path: dir.to_owned(),
                    reason: "it has no head record",
                })
            }
            Some(raw) => Head::decode(&raw).ok_or(Damage::MalformedHead { len: raw.len() })?,
        };
        let commits = match db.get(COMMITS_KEY)? {
            None => 0,
            Some(raw) => u64::from_be_bytes(
                raw.as_ref()
                    .try_into()
                    .map_err(|_| Damage::MalformedCommitCount { len: raw.len() })?,
            ),
        };
        let recorded = HeadFile::read(dir)?;
        let mut store = Store::with_db(dir, db)?;
        store.commits = commits;
        store.blobs.sync_all_existing()?;
        // Whatever sled recovered from an interrupted run becomes durable before use.
        store
            .db_file
            .sync_all()
            .map_err(io_error(&dir.join("db")))?;
        store.blobs.record_durable();
        store.check_on_open(head)?;
        store.check_head_record(recorded)?;
        store.cut_interrupted_writes()?;
        Ok(store)
    }

    /// Cuts the files back to what sled's records cover: bytes beyond were written by a
    /// commit that was interrupted before sled held it durably. Not fsynced: if the cut is
    /// lost, the next open makes it again.
    fn cut_interrupted_writes(&self) -> Result<(), StoreError> {
        self.files.cut(FileId::Bundles, self.bundles_end)?;
        for tile_level in 0..TILE_LEVELS {
            let end = full_tiles(self.size(), tile_level) * STORED_TILE_BYTES as u64;
            self.files.cut(FileId::Tiles(tile_level), end)?;
        }
        Ok(())
    }

    /// A store of size 0 until `check_on_open` loads the head's frontier.
    fn with_db(dir: &Path, db: sled::Db) -> Result<Store, StoreError> {
        let db_path = dir.join("db");
        let db_file = File::open(&db_path).map_err(io_error(&db_path))?;
        Ok(Store {
            dir: dir.to_owned(),
            db,
            db_file,
            frontier: Frontier::new(),
            blobs: BlobSync::new(dir.join("blobs"), dir.join("blobs.synced")),
            head_file: HeadFile::detached(),
            files: std::sync::Arc::new(Files::new(dir)),
            bundles_end: 0,
            edge: HashMap::new(),
            commits: 0,
            poisoned: false,
            #[cfg(test)]
            fault: None,
        })
    }

    /// The checks of open (spec/store.md, "Open"), each O(log n) reads, cheapest and most
    /// specific first: the records cover exactly the head's size, the files are long
    /// enough, the right edge (computed from the entries of the bundle still filling and
    /// the full tiles) gives the head's root, the last entry and the newest checkpoint
    /// fit the tree. Loads the right edge and the frontier.
    fn check_on_open(&mut self, head: Head) -> Result<(), StoreError> {
        let size = head.size;
        let (last_bundle, last_entry) = self.check_entry_records(size)?;
        self.check_file_lengths(size, last_bundle)?;
        self.check_no_node_records()?;
        self.edge = self.compute_edge(size)?;
        self.load_frontier(head)?;
        if let Some(last) = last_entry {
            let hash = tree::leaf_hash(&self.leaf(last)?);
            if hash != self.leaf_hash(last)? {
                return Err(Damage::LeafHashMismatch { index: last }.into());
            }
        }
        if let Some((cp_size, note)) = self.latest_checkpoint()? {
            self.check_stored_checkpoint(cp_size, &note)?;
        }
        Ok(())
    }

    /// The entries: full bundles below `full`, single entries from there to the head,
    /// none beyond. Returns the last full bundle and the last entry.
    fn check_entry_records(&self, size: u64) -> Result<(Option<u64>, Option<u64>), StoreError> {
        let full = size / BUNDLE_WIDTH;
        let last_bundle = self.last_key(&[BUNDLE])?;
        if let Some(index) = last_bundle.filter(|&b| b >= full) {
            return Err(Damage::BundleBeyondHead { index, size }.into());
        }
        if let Some(index) = self
            .first_key(&[ENTRY])?
            .filter(|&i| i < full * BUNDLE_WIDTH)
        {
            return Err(Damage::StrayEntry { index }.into());
        }
        let last_entry = match self.last_key(&[ENTRY])? {
            Some(index) => Some(index),
            None => last_bundle.map(|b| b * BUNDLE_WIDTH + BUNDLE_WIDTH - 1),
        };
        if last_entry != size.checked_sub(1) {
            return Err(Damage::HeadSizeMismatch {
                head_size: size,
                last_entry,
            }
            .into());
        }
        Ok((last_bundle, last_entry))
    }

    /// The files: long enough for every full bundle and tile. Bytes beyond are what an
    /// interrupted commit wrote before sled held it; open cuts them off once all checks
    /// passed. Sets where the bundles file ends.
    fn check_file_lengths(
        &mut self,
        size: u64,
        last_bundle: Option<u64>,
    ) -> Result<(), StoreError> {
        self.bundles_end = match last_bundle {
            None => 0,
            Some(index) => read_bundle_record(&self.db, index)?.end(),
        };
        let len = self.files.len(FileId::Bundles)?;
        if len < self.bundles_end {
            return Err(Damage::FileTooShort {
                file: FileId::Bundles.name(),
                len,
                expected: self.bundles_end,
            }
            .into());
        }
        for tile_level in 0..TILE_LEVELS {
            let expected = full_tiles(size, tile_level) * STORED_TILE_BYTES as u64;
            let len = self.files.len(FileId::Tiles(tile_level))?;
            if len < expected {
                return Err(Damage::MissingTile {
                    tile_level,
                    index: len / STORED_TILE_BYTES as u64,
                }
                .into());
            }
        }
        Ok(())
    }

    /// Format 4 keeps no node records (`n`, format 3's), and a build of format 3 refuses
    /// to open it: one found was written behind the store's back.
    pub(super) fn check_no_node_records(&self) -> Result<(), StoreError> {
        let Some(kv) = self.db.scan_prefix([NODE]).next() else {
            return Ok(());
        };
        let (k, _) = kv?;
        match (k.get(1), key_u64(&k, 1)) {
            (Some(&level), Some(index)) if level <= MAX_LEVEL => {
                Err(Damage::StrayNode { level, index }.into())
            }
            _ => Err(Damage::MalformedKey { key: k.to_vec() }.into()),
        }
    }

    /// Loads the frontier of the head's size from the stored nodes and refuses it unless
    /// it gives the head's root.
    fn load_frontier(&mut self, head: Head) -> Result<(), StoreError> {
        let size = head.size;
        let frontier = Frontier::load(size, &SizedNodes { store: self, size })?;
        let computed = frontier.root();
        if computed != head.root {
            return Err(Damage::HeadRootMismatch {
                size,
                stored: head.root,
                computed,
            }
            .into());
        }
        self.frontier = frontier;
        Ok(())
    }

    /// The u64 of the last key with this prefix (a one-byte kind and maybe a level).
    pub(super) fn last_key(&self, prefix: &[u8]) -> Result<Option<u64>, StoreError> {
        let kv = self.db.scan_prefix(prefix).next_back();
        Self::prefixed_u64(prefix, kv)
    }

    pub(super) fn first_key(&self, prefix: &[u8]) -> Result<Option<u64>, StoreError> {
        let kv = self.db.scan_prefix(prefix).next();
        Self::prefixed_u64(prefix, kv)
    }

    fn prefixed_u64(
        prefix: &[u8],
        kv: Option<sled::Result<(sled::IVec, sled::IVec)>>,
    ) -> Result<Option<u64>, StoreError> {
        match kv {
            None => Ok(None),
            Some(kv) => {
                let (k, _) = kv?;
                Ok(Some(
                    key_u64(&k, prefix.len() - 1)
                        .ok_or_else(|| Damage::MalformedKey { key: k.to_vec() })?,
                ))
            }
        }
    }
}

/// Removes what a crash left of the store's own whole-file writes (`head`, `blobs.synced`,
/// the damage record: [`durable`]'s temporary files), once sled's lock says no other
/// process has the store open. Best effort: leftovers only take room.
fn remove_crash_leftovers(dir: &Path) {
    if let Err(e) = durable::remove_stale_temporaries(dir) {
        tracing::warn!(dir = %dir.display(), error = %e, "could not remove temporary files left by a crash");
    }
}

pub(super) fn open_db(dir: &Path, options: StoreOptions) -> Result<sled::Db, StoreError> {
    // Every commit flushes itself; a background flush thread would add nothing.
    let config = sled::Config::new()
        .path(dir)
        .flush_every_ms(None)
        .cache_capacity(options.cache_bytes);
    // sled locks `<dir>/db`, and its background threads keep the lock a moment after a
    // handle is dropped; only a lock held for long means another process uses the store.
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    let mut snapshots_checked = false;
    loop {
        match config.open() {
            // Once: sled may have read a snapshot a crash left unfinished.
            Err(e @ sled::Error::Corruption { .. }) if !snapshots_checked => {
                snapshots_checked = true;
                let removed = remove_unfinished_snapshots(dir).map_err(io_error(dir))?;
                if removed == 0 {
                    return Err(e.into());
                }
                tracing::warn!(dir = %dir.display(), removed, "removed snapshots a crash left unfinished");
            }
            Err(sled::Error::Io(e)) if e.to_string().starts_with("could not acquire lock") => {
                if std::time::Instant::now() >= deadline {
                    return Err(StoreError::Locked {
                        path: dir.to_owned(),
                    });
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return Ok(other?),
        }
    }
}
