//! `<dir>/head` (spec/store.md, "`head`"): the last durable commit's count, size and root,
//! kept outside sled so that open can refuse a database that sled's recovery rolled back.

use std::fs::File;
use std::io;
use std::path::Path;

use super::error::io_error;
use super::{Damage, Head, Store, StoreError, STORE_FILE};
use crate::durable;

/// How far a store got: how many commits, and how many entries after the last of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Commits made.
    pub commits: u64,
    /// Entries after the last of them.
    pub size: u64,
}

impl std::fmt::Display for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} commits and {} entries", self.commits, self.size)
    }
}

/// A state of the store as the `head` file records it: how many commits, and the tree head
/// after the last of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Recorded {
    pub(super) commits: u64,
    pub(super) head: Head,
}

impl Recorded {
    fn progress(&self) -> Progress {
        Progress {
            commits: self.commits,
            size: self.head.size,
        }
    }
}

/// What `<dir>/head` held when the store was opened.
pub(super) enum HeadRead {
    Missing,
    Unreadable,
    Found(HeadFile, Recorded),
}

/// `<dir>/head`: the last durable commit's count and tree head, kept outside sled so that
/// open can tell a database that lost commits from one that never had them.
///
/// Two copies, 4 KiB apart, each with a SHA-256 over its bytes; commit `n` overwrites
/// copy `n % 2` in place, so a torn write spoils at most one copy and the other still
/// holds the commit before. It is written only after sled's commit is durable, never
/// ahead of it, and not fsynced: after a power loss it may name an older commit than sled
/// holds, which open accepts and brings forward; it cannot name a newer one. The file
/// is fsynced when created, so its length and place in the directory are durable.
pub(super) struct HeadFile {
    file: Option<File>,
}

const HEAD_FILE: &str = "head";
const HEAD_MAGIC: &[u8; 16] = b"dyad-head/1\0\0\0\0\0";
/// magic, commits, size, root, SHA-256 of what precedes it.
const HEAD_COPY_BYTES: usize = 16 + 8 + 8 + 32 + 32;
const HEAD_COPY_STRIDE: u64 = 4096;

impl HeadFile {
    /// A store without a head file yet (between `with_db` and the checks of open).
    pub(super) fn detached() -> HeadFile {
        HeadFile { file: None }
    }

    fn encode(r: Recorded) -> [u8; HEAD_COPY_BYTES] {
        use sha2::Digest as _;
        let mut b = [0; HEAD_COPY_BYTES];
        b[..16].copy_from_slice(HEAD_MAGIC);
        b[16..24].copy_from_slice(&r.commits.to_be_bytes());
        b[24..32].copy_from_slice(&r.head.size.to_be_bytes());
        b[32..64].copy_from_slice(&r.head.root);
        let sum = sha2::Sha256::digest(&b[..64]);
        b[64..].copy_from_slice(&sum);
        b
    }

    fn decode(b: &[u8]) -> Option<Recorded> {
        use sha2::Digest as _;
        let b = b.get(..HEAD_COPY_BYTES)?;
        if &b[..16] != HEAD_MAGIC || sha2::Sha256::digest(&b[..64])[..] != b[64..] {
            return None;
        }
        Some(Recorded {
            commits: u64::from_be_bytes(b[16..24].try_into().ok()?),
            head: Head {
                size: u64::from_be_bytes(b[24..32].try_into().ok()?),
                root: b[32..64].try_into().ok()?,
            },
        })
    }

    /// Writes a new head file holding `r` in both copies, durably ([`durable::write`]:
    /// a temporary file synced, renamed over the old one, the directory synced): the
    /// commits after it update it in place, so its length and name must survive.
    pub(super) fn create(dir: &Path, r: Recorded) -> Result<HeadFile, StoreError> {
        let path = dir.join(HEAD_FILE);
        let copy = HeadFile::encode(r);
        let mut bytes = vec![0; HEAD_COPY_STRIDE as usize + HEAD_COPY_BYTES];
        bytes[..HEAD_COPY_BYTES].copy_from_slice(&copy);
        bytes[HEAD_COPY_STRIDE as usize..].copy_from_slice(&copy);
        durable::write(&path, &bytes, STORE_FILE).map_err(io_error(&path))?;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(io_error(&path))?;
        Ok(HeadFile { file: Some(file) })
    }

    /// The newest readable copy of the record.
    pub(super) fn read(dir: &Path) -> Result<HeadRead, StoreError> {
        let path = dir.join(HEAD_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(HeadRead::Missing),
            Err(e) => return Err(StoreError::Io { path, source: e }),
        };
        let copies = [0, HEAD_COPY_STRIDE as usize]
            .into_iter()
            .filter_map(|at| HeadFile::decode(bytes.get(at..)?));
        let Some(newest) = copies.max_by_key(|r| r.commits) else {
            return Ok(HeadRead::Unreadable);
        };
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(io_error(&path))?;
        Ok(HeadRead::Found(HeadFile { file: Some(file) }, newest))
    }

    /// Best effort: a write that fails or is torn leaves the other copy, an older commit,
    /// which open accepts; so the commit already made durable is not failed for it.
    pub(super) fn write(&mut self, r: Recorded) {
        use std::os::unix::fs::FileExt as _;
        let Some(file) = &self.file else {
            return;
        };
        let at = (r.commits % 2) * HEAD_COPY_STRIDE;
        if let Err(e) = file.write_all_at(&HeadFile::encode(r), at) {
            tracing::warn!(error = %e, "could not update the store's head file");
        }
    }
}

impl Store {
    /// Refuses a database that recovered an earlier state than the last one committed:
    /// sled's recovery drops everything after a damaged log record as if it were a torn
    /// write, which the checks of the database alone cannot tell from a shorter log.
    /// Records the state found when it is newer (a crash between sled's fsync and the
    /// head file's update) or when there was no head file (a store of an older build).
    pub(super) fn check_head_record(&mut self, recorded: HeadRead) -> Result<(), StoreError> {
        let found = self.recorded();
        let recorded = match recorded {
            HeadRead::Missing => {
                self.head_file = HeadFile::create(&self.dir, found)?;
                return Ok(());
            }
            HeadRead::Unreadable => return Err(Damage::HeadRecordUnreadable.into()),
            HeadRead::Found(file, recorded) => {
                self.head_file = file;
                recorded
            }
        };
        if found.commits < recorded.commits || found.head.size < recorded.head.size {
            return Err(Damage::RolledBack {
                recorded: recorded.progress(),
                found: found.progress(),
            }
            .into());
        }
        let found_root = self.root_at(recorded.head.size)?;
        if found_root != recorded.head.root
            || (found.commits == recorded.commits && found.head != recorded.head)
        {
            return Err(Damage::ForkedFromRecord {
                size: recorded.head.size,
                recorded_root: recorded.head.root,
                found_root,
            }
            .into());
        }
        if found != recorded {
            self.head_file.write(found);
        }
        Ok(())
    }

    pub(super) fn recorded(&self) -> Recorded {
        Recorded {
            commits: self.commits,
            head: self.head(),
        }
    }
}
