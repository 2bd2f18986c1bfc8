//! Where a node keeps evidence files (`<data dir>/evidence`, spec/node.md 3.3): one file
//! per distinct conflict, at most [`MAX_EVIDENCE_FILES`] files and [`MAX_EVIDENCE_TOTAL_BYTES`]
//! bytes, each written whole or not at all.
//!
//! A file's name says what conflicts (the kind, the sizes and the hashes involved), not
//! the request that showed it, so the same conflict sent again in any number of different
//! bodies keeps one file: the first. Once the cap is reached nothing more is written; the
//! conflict is logged and counted (`dyad_evidence_dropped_total`) and the files already
//! kept stay as they are.
//!
//! A file is written to a temporary name in the same directory, synced, linked into
//! place and the directory synced; on any error the temporary file is removed. So a full
//! disk leaves no empty or partial file, and the files counted are the files kept.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use dyad_ledger::durable::{self, WriteOptions, Written};

use crate::metrics::Metrics;

/// Most files kept in the evidence directory.
pub const MAX_EVIDENCE_FILES: u64 = 1024;
/// Most bytes kept in the evidence directory, all files together.
pub const MAX_EVIDENCE_TOTAL_BYTES: u64 = 64 << 20;

/// What became of a file offered to [`EvidenceStore::keep`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kept {
    /// Written now.
    New,
    /// A file for this conflict was kept before; nothing written.
    Exists,
    /// The cap is reached; nothing written.
    Full,
}

/// The evidence directory of a node, with the count and bytes of the files it holds.
pub struct EvidenceStore {
    dir: PathBuf,
    max_files: u64,
    max_bytes: u64,
    /// (files, bytes) held; `None` until first counted.
    held: Mutex<Option<(u64, u64)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Writes `bytes` to `path` whole or not at all, durably, mode 0600; an existing file is
/// kept (the first copy wins, even between two writers) and `Ok(false)` returned. An error
/// (a full disk) leaves nothing behind.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<bool> {
    write_atomic_with(path, bytes, |f, bytes| f.write_all(bytes))
}

/// [`write_atomic`], writing the contents with `write` (tests make it fail half way).
fn write_atomic_with(
    path: &Path,
    bytes: &[u8],
    write: impl FnOnce(&mut fs::File, &[u8]) -> std::io::Result<()>,
) -> std::io::Result<bool> {
    let options = WriteOptions::PRIVATE.keep_existing();
    let written = durable::write_with(path, options, |f| write(f, bytes))?;
    Ok(matches!(written, Written::Written(())))
}

impl EvidenceStore {
    pub fn new(dir: PathBuf) -> EvidenceStore {
        EvidenceStore::with_limits(dir, MAX_EVIDENCE_FILES, MAX_EVIDENCE_TOTAL_BYTES)
    }

    pub fn with_limits(dir: PathBuf, max_files: u64, max_bytes: u64) -> EvidenceStore {
        EvidenceStore {
            dir,
            max_files,
            max_bytes,
            held: Mutex::new(None),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// (files, bytes) in the directory, not counting temporary files; those a crash left
    /// behind are removed first (`durable::remove_stale_temporaries`).
    fn count(&self) -> (u64, u64) {
        let _ = durable::remove_stale_temporaries(&self.dir);
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return (0, 0);
        };
        let (mut files, mut bytes) = (0, 0);
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if durable::is_temporary_name(&name) {
                continue;
            }
            if let Ok(meta) = entry.metadata() {
                if meta.is_file() {
                    files += 1;
                    bytes += meta.len();
                }
            }
        }
        (files, bytes)
    }

    /// Keeps `bytes` as `<dir>/<name>` unless a file of that name exists or the cap is
    /// reached. Logs and counts what happened (`what` names the evidence in the log).
    pub fn keep(
        &self,
        name: &str,
        bytes: &[u8],
        metrics: &Metrics,
        what: &str,
    ) -> std::io::Result<Kept> {
        let path = self.dir.join(name);
        let mut held = lock(&self.held);
        let (files, total) = *held.get_or_insert_with(|| self.count());
        if path.exists() {
            return Ok(Kept::Exists);
        }
        if files >= self.max_files || total.saturating_add(bytes.len() as u64) > self.max_bytes {
            Metrics::inc(&metrics.evidence_dropped, 1);
            tracing::error!(
                file = %name,
                files,
                bytes = total,
                max_files = self.max_files,
                max_bytes = self.max_bytes,
                "{what}: the evidence directory is full; the files kept so far stay, this one is not written"
            );
            return Ok(Kept::Full);
        }
        fs::create_dir_all(&self.dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700));
        }
        match write_atomic(&path, bytes)? {
            true => {
                *held = Some((files + 1, total + bytes.len() as u64));
                Metrics::inc(&metrics.evidence_kept, 1);
                Ok(Kept::New)
            }
            false => Ok(Kept::Exists),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_file_per_name_and_a_cap_on_files_and_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let store = EvidenceStore::with_limits(dir.path().join("evidence"), 3, 100);
        let m = Metrics::default();
        assert_eq!(store.keep("a", b"first", &m, "t").unwrap(), Kept::New);
        assert_eq!(store.keep("a", b"second", &m, "t").unwrap(), Kept::Exists);
        assert_eq!(
            fs::read(dir.path().join("evidence/a")).unwrap(),
            b"first",
            "the first copy wins"
        );
        assert_eq!(store.keep("b", &[1; 90], &m, "t").unwrap(), Kept::New);
        assert_eq!(store.keep("c", &[1; 10], &m, "t").unwrap(), Kept::Full);
        assert_eq!(store.keep("d", &[1; 4], &m, "t").unwrap(), Kept::New);
        assert_eq!(store.keep("e", b"", &m, "t").unwrap(), Kept::Full);
        assert_eq!(
            m.evidence_kept.load(std::sync::atomic::Ordering::Relaxed),
            3
        );
        assert_eq!(
            m.evidence_dropped
                .load(std::sync::atomic::Ordering::Relaxed),
            2
        );
        let mut names: Vec<_> = fs::read_dir(dir.path().join("evidence"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["a", "b", "d"]);
        // A new store over the same directory counts what is there.
        let again = EvidenceStore::with_limits(dir.path().join("evidence"), 3, 100);
        assert_eq!(again.keep("f", b"x", &m, "t").unwrap(), Kept::Full);
    }

    #[test]
    fn a_temporary_file_in_the_directory_is_not_counted_as_evidence() {
        let dir = tempfile::tempdir().unwrap();
        let evidence = dir.path().join("evidence");
        fs::create_dir_all(&evidence).unwrap();
        // A writer's temporary file, fresh (another writer may be using it): kept, not counted.
        let temporary = evidence.join(".a.0123456789abcdef.tmp");
        fs::write(&temporary, [0; 90]).unwrap();
        let store = EvidenceStore::with_limits(evidence, 1, 100);
        let m = Metrics::default();
        assert_eq!(store.keep("b", &[1; 50], &m, "t").unwrap(), Kept::New);
        assert!(
            temporary.exists(),
            "a fresh temporary file is another writer's"
        );
    }

    #[test]
    fn a_failed_write_is_not_counted_and_the_next_one_is() {
        let dir = tempfile::tempdir().unwrap();
        let evidence = dir.path().join("evidence");
        // A file where the directory should be: every write fails (as root too).
        fs::write(&evidence, b"").unwrap();
        let store = EvidenceStore::with_limits(evidence.clone(), 1, 100);
        let m = Metrics::default();
        assert!(store.keep("a", b"evidence", &m, "t").is_err());
        assert_eq!(
            m.evidence_kept.load(std::sync::atomic::Ordering::Relaxed),
            0
        );
        fs::remove_file(&evidence).unwrap();
        // The failure took no room under the cap of one file.
        assert_eq!(store.keep("a", b"evidence", &m, "t").unwrap(), Kept::New);
        assert_eq!(
            m.evidence_kept.load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        assert_eq!(fs::read_dir(&evidence).unwrap().count(), 1);
    }

    #[test]
    fn a_write_failing_half_way_leaves_neither_the_file_nor_its_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        let err = write_atomic_with(&path, b"evidence", |f, bytes| {
            f.write_all(&bytes[..3])?;
            Err(std::io::Error::other("No space left on device (simulated)"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("No space left"));
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            0,
            "nothing left behind"
        );
    }

    #[test]
    fn write_atomic_removes_its_temporary_file_when_the_target_exists() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        assert!(write_atomic(&path, b"one").unwrap());
        assert!(!write_atomic(&path, b"two").unwrap());
        assert_eq!(fs::read(&path).unwrap(), b"one");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
