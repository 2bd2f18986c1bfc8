//! The running node's view of its credential store (`access.json`, spec/node.md 9.5).
//!
//! `dyad access grant` and `revoke` write the file; the node only reads it, and reads it
//! again whenever it changed (its size, modification time or inode), so that a revoke takes
//! effect at the next request, with no restart and no second writer.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::access::{AccessError, CredentialStore, ACCESS_FILE};

/// What identifies one version of the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    len: u64,
    mtime_ns: i128,
    ino: u64,
}

/// The credential store as last read, reloaded when the file changes.
pub(crate) struct ReadAccess {
    data_dir: PathBuf,
    current: Mutex<Option<(Option<Stamp>, CredentialStore)>>,
}

impl ReadAccess {
    pub fn new(data_dir: PathBuf) -> ReadAccess {
        ReadAccess {
            data_dir,
            current: Mutex::new(None),
        }
    }

    fn stamp(&self) -> Result<Option<Stamp>, AccessError> {
        let path = self.data_dir.join(ACCESS_FILE);
        match std::fs::metadata(&path) {
            Ok(m) => Ok(Some(Stamp {
                len: m.len(),
                mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
                ino: m.ino(),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(AccessError::Read { path, source }),
        }
    }

    /// Whether `presented` is the token of a current grant. Errors when the store cannot
    /// be read (then nobody is let in by token).
    pub fn verify(&self, presented: &str) -> Result<bool, AccessError> {
        let stamp = self.stamp()?;
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        let fresh = matches!(current.as_ref(), Some((s, _)) if *s == stamp);
        if !fresh {
            *current = Some((stamp, CredentialStore::open(&self.data_dir)?));
        }
        let (_, store) = current.as_ref().expect("loaded above");
        Ok(store.verify(presented).is_some())
    }
}
