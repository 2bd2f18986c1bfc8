//! Every whole-file write outside the store: written to a temporary name beside the target
//! (created with its final mode), then renamed over it (or linked, where an existing file
//! must win), so a reader or a crash never sees half a file under the final name. Each
//! caller says how durable the result must be ([`Durability`]): whether the file and its
//! directory are synced before the write returns.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// How much a finished write must survive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// The file is synced before it gets its name and the directory after: once the write
    /// returns, the new content survives a crash or a power loss.
    Durable,
    /// No sync: readers see the old content or the new one whole, but a power loss may
    /// bring the old one back (or none). Only for files that can be made again.
    AtomicOnly,
}

/// What to do when the target already exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Existing {
    /// Replace it (rename over it).
    Replace,
    /// Keep it and report [`Written::Kept`]: the first writer wins, even between two
    /// processes (a hard link fails if the name exists).
    Keep,
}

/// How a file is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteOptions {
    pub durability: Durability,
    pub existing: Existing,
    /// Unix permission bits the file is created with (before the umask).
    pub mode: u32,
}

impl WriteOptions {
    /// A private file (keys, tokens, records in the data directory): mode 0600, durable,
    /// replacing what was there.
    pub const PRIVATE: WriteOptions = WriteOptions {
        durability: Durability::Durable,
        existing: Existing::Replace,
        mode: 0o600,
    };
    /// A file for others to read (exports, bundles, receipts): mode 0644 (less the umask),
    /// durable, replacing what was there.
    pub const SHARED: WriteOptions = WriteOptions {
        durability: Durability::Durable,
        existing: Existing::Replace,
        mode: 0o644,
    };

    /// These options, keeping an existing file instead of replacing it.
    pub const fn keep_existing(self) -> WriteOptions {
        WriteOptions {
            existing: Existing::Keep,
            ..self
        }
    }
}

/// What a write did.
#[derive(Debug, PartialEq, Eq)]
pub enum Written<T> {
    /// The file now holds the new content; `T` is what the writer returned.
    Written(T),
    /// The file existed and [`Existing::Keep`] kept it; nothing was written.
    Kept,
}

/// Writes `bytes` to `path` as `options` say. `Ok(false)`: the file existed and was kept.
pub fn write(path: &Path, bytes: &[u8], options: WriteOptions) -> io::Result<bool> {
    let written = write_with(path, options, |f| f.write_all(bytes))?;
    Ok(matches!(written, Written::Written(())))
}

/// Writes `path` with `write`, which gets the temporary file (wrap it in a `BufWriter` for
/// many small writes, and flush it). If `write` or anything after it fails, the temporary
/// file is removed and the target is as it was.
pub fn write_with<T>(
    path: &Path,
    options: WriteOptions,
    write: impl FnOnce(&mut File) -> io::Result<T>,
) -> io::Result<Written<T>> {
    let dir = parent(path);
    let tmp = dir.join(temporary_name(path));
    let result = write_then_name(path, &tmp, options, write);
    // After a rename the temporary name is gone; after a link (or a failure) it is not.
    let _ = fs::remove_file(&tmp);
    result
}

fn write_then_name<T>(
    path: &Path,
    tmp: &Path,
    options: WriteOptions,
    write: impl FnOnce(&mut File) -> io::Result<T>,
) -> io::Result<Written<T>> {
    let mut open = OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, options.mode);
    let mut file = open.open(tmp)?;
    let value = write(&mut file)?;
    if options.durability == Durability::Durable {
        file.sync_all()?;
    }
    drop(file);
    match options.existing {
        Existing::Replace => fs::rename(tmp, path)?,
        Existing::Keep => match fs::hard_link(tmp, path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(Written::Kept),
            Err(e) => return Err(e),
        },
    }
    if options.durability == Durability::Durable {
        sync_dir(parent(path))?;
    }
    Ok(Written::Written(value))
}

/// Creates `dir` and any missing parents; with [`Durability::Durable`], each new
/// directory's entry is synced in its parent, so files later written durably inside it
/// cannot lose their directory to a power loss.
pub fn create_dir_all(dir: &Path, durability: Durability) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(up) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dir_all(up, durability)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => return Ok(()),
        Err(e) => return Err(e),
    }
    if durability == Durability::Durable {
        sync_dir(parent(dir))?;
    }
    Ok(())
}

/// Syncs a directory, so that names created, renamed or removed in it are durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// `.<name>.<random>.tmp`: hidden, and unique, so that two writers of the same file (in one
/// process or two) never share a temporary file.
fn temporary_name(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut nonce = [0u8; 8];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
    format!(".{name}.{}.tmp", hex::encode(nonce))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn replaces_or_keeps_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        for options in [WriteOptions::PRIVATE, WriteOptions::SHARED] {
            assert!(write(&path, b"one", options).unwrap());
            assert!(write(&path, b"two", options).unwrap());
            assert_eq!(fs::read(&path).unwrap(), b"two");
            assert!(!write(&path, b"three", options.keep_existing()).unwrap());
            assert_eq!(fs::read(&path).unwrap(), b"two");
        }
        assert_eq!(names(dir.path()), ["f"]);
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_created_with_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        write(&path, b"secret", WriteOptions::PRIVATE).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_and_removes_the_temporary_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        write(&path, b"old", WriteOptions::SHARED).unwrap();
        let failed = write_with(&path, WriteOptions::SHARED, |f| {
            f.write_all(b"half")?;
            Err::<(), _>(io::Error::other("disk full"))
        });
        assert_eq!(failed.unwrap_err().to_string(), "disk full");
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(names(dir.path()), ["f"]);
    }

    #[test]
    fn directories_are_created_with_their_parents() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b/c");
        create_dir_all(&deep, Durability::Durable).unwrap();
        create_dir_all(&deep, Durability::Durable).unwrap();
        assert!(deep.is_dir());
        write(&deep.join("f"), b"x", WriteOptions::SHARED).unwrap();
        assert_eq!(names(&deep), ["f"]);
    }
}
