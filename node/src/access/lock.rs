//! The advisory lock that writers of the credential store hold around read, change and
//! save (`<data dir>/access.lock`), so that two `dyad access grant` at once both survive
//! (the second waits for the first) instead of the second's save dropping the first's
//! grant. Readers (the node) need no lock: the store file is replaced by a rename, so it
//! is always one whole version.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The lock file in the data directory (empty; only its lock matters).
pub const ACCESS_LOCK_FILE: &str = "access.lock";
/// How long a writer waits for another one before it gives up with an error.
pub const LOCK_WAIT: Duration = Duration::from_secs(10);
const RETRY_EVERY: Duration = Duration::from_millis(20);

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// The lock file could not be opened or locked.
    #[error("{}: {source}", path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// Another process held the lock for the whole wait.
    #[error(
        "another process has been changing the credential store for {}s (it holds {}); try again when it is done",
        waited.as_secs(),
        path.display()
    )]
    Busy {
        /// The lock file.
        path: PathBuf,
        /// How long this process waited.
        waited: Duration,
    },
}

/// An exclusive lock on `access.lock`, released when dropped (or when the process ends,
/// however it ends).
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
}

impl StoreLock {
    /// Takes the lock of `data_dir`, waiting up to `wait` for another holder.
    pub fn acquire(data_dir: &Path, wait: Duration) -> Result<StoreLock, LockError> {
        let path = data_dir.join(ACCESS_LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        // Every file at the data directory's top level is the owner's only
        // (dyad_ledger::private_dir), this one too.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&path).map_err(io)?;
        let start = Instant::now();
        loop {
            // The trait's method by name: `File` has an inherent `try_lock` only since
            // Rust 1.89, later than this crate's minimum.
            match fs4::FileExt::try_lock(&file) {
                Ok(()) => return Ok(StoreLock { _file: file }),
                Err(fs4::TryLockError::WouldBlock) if start.elapsed() < wait => {
                    std::thread::sleep(RETRY_EVERY);
                }
                Err(fs4::TryLockError::WouldBlock) => {
                    return Err(LockError::Busy {
                        path,
                        waited: start.elapsed(),
                    })
                }
                Err(fs4::TryLockError::Error(source)) => return Err(io(source)),
            }
        }
    }
}
