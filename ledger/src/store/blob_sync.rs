//! sled's blob files made durable (spec/store.md, "Files": `blobs/`, `blobs.synced`).

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use super::error::io_error;
use super::{sync_dir, StoreError, STORE_FILE};
use crate::durable::{self, Durability, WriteOptions};

/// Makes the blob files sled writes for large pages durable: sled 0.34 writes them
/// without fsync, and the log records pointing at them must not outlive them.
///
/// Blob files are named by increasing log sequence numbers, so a commit syncs those above
/// the highest already synced. It lists the directory only when the directory changed:
/// logs of small entries never create blobs and pay nothing.
///
/// Full bundles and tiles make blobs common (a 10M-entry log has some 10,000 of them),
/// so fsyncing every one on open took seconds. Once a commit is durable, the highest
/// synced sequence number goes to `<dir>/blobs.synced` (written and renamed, not
/// fsynced: if it is lost or torn, open syncs everything again), and open syncs only
/// the blobs above it: those of a run interrupted before its commit was durable.
pub(super) struct BlobSync {
    dir: PathBuf,
    marker: PathBuf,
    /// What the marker says.
    recorded: Option<u64>,
    synced_up_to: Option<u64>,
    settled_mtime: Option<SystemTime>,
}

impl BlobSync {
    pub(super) fn new(dir: PathBuf, marker: PathBuf) -> BlobSync {
        BlobSync {
            dir,
            marker,
            recorded: None,
            synced_up_to: None,
            settled_mtime: None,
        }
    }

    /// On open: blobs of an interrupted run may not have been synced.
    pub(super) fn sync_all_existing(&mut self) -> Result<(), StoreError> {
        self.recorded = std::fs::read_to_string(&self.marker)
            .ok()
            .and_then(|s| s.trim().parse().ok());
        self.synced_up_to = self.recorded;
        self.settled_mtime = None;
        self.backdate();
        self.sync_new()
    }

    /// Sets the directory's modification time far into the past, before it is listed:
    /// any blob sled creates afterwards moves it to the present, so the listing's time is
    /// settled at once, and commits made within seconds of sled creating `blobs/` (every
    /// new store) need not list it each time. Best effort: without it, a time counts as
    /// settled two seconds after it was set.
    fn backdate(&self) {
        let past = SystemTime::UNIX_EPOCH + Duration::from_secs(86_400);
        if let Ok(dir) = File::open(&self.dir) {
            let _ = dir.set_modified(past);
        }
    }

    /// Records the blobs synced so far, once the log records pointing at them are durable
    /// (after the fsync of `db`): so a crash cannot roll sled's log back below the marker
    /// and let it write new, unsynced blobs under sequence numbers at or below it. Best
    /// effort: a marker that is missing or unreadable only makes the next open sync more.
    pub(super) fn record_durable(&mut self) {
        let Some(lsn) = self.synced_up_to else {
            return;
        };
        if self.recorded == Some(lsn) {
            return;
        }
        // Atomic only: a marker lost to a power loss makes the next open sync more.
        let options = WriteOptions {
            durability: Durability::AtomicOnly,
            ..STORE_FILE
        };
        if durable::write(&self.marker, format!("{lsn}\n").as_bytes(), options).is_ok() {
            self.recorded = Some(lsn);
        }
    }

    pub(super) fn sync_new(&mut self) -> Result<(), StoreError> {
        let mtime = match std::fs::metadata(&self.dir).and_then(|m| m.modified()) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                return Err(StoreError::Io {
                    path: self.dir.clone(),
                    source: e,
                })
            }
        };
        if self.settled_mtime == Some(mtime) {
            return Ok(());
        }
        let mut newest = self.synced_up_to;
        for entry in std::fs::read_dir(&self.dir).map_err(io_error(&self.dir))? {
            let entry = entry.map_err(io_error(&self.dir))?;
            let Some(lsn) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            if self.synced_up_to.is_some_and(|s| lsn <= s) {
                continue;
            }
            match durable::sync_file(&entry.path()) {
                Ok(()) => newest = newest.max(Some(lsn)),
                // sled removes blobs of rewritten pages concurrently.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(StoreError::Io {
                        path: entry.path(),
                        source: e,
                    })
                }
            }
        }
        if newest != self.synced_up_to {
            sync_dir(&self.dir)?;
        }
        self.synced_up_to = newest;
        // Directory times tick coarsely: a blob created later within the same tick would
        // leave the time unchanged. Trust only a time that is safely in the past.
        let settled = SystemTime::now()
            .duration_since(mtime)
            .is_ok_and(|age| age > Duration::from_secs(2));
        self.settled_mtime = settled.then_some(mtime);
        Ok(())
    }
}
