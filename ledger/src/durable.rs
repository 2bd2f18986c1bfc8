//! Every whole-file write of the ledger and the crates above it, the store's own files
//! included: written to a temporary name beside the target (created with its final mode),
//! then renamed over it (or linked, where an existing file must win), so a reader or a
//! crash never sees half a file under the final name. Each caller says how durable the
//! result must be ([`Durability`]): whether the file and its directory are synced before
//! the write returns. [`sync_dir`] and [`sync_file`] are the only other fsyncs of whole
//! files and directories; [`remove_stale_temporaries`] removes what a crash left of these
//! writes, and is called where a directory they write into is opened.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

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
    /// Whether the file and its directory are synced.
    pub durability: Durability,
    /// Whether an existing file is replaced or kept.
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
    let mut staged = Staged::new(parent(path), &file_name(path), options)?;
    let value = write(staged.file())?;
    Ok(match staged.commit(path)? {
        true => Written::Written(value),
        false => Written::Kept,
    })
}

/// A file being written under a temporary name (durable's own, see
/// [`remove_stale_temporaries`]) in the directory it will be named in, for a writer that
/// learns the final name only once the content is written (a content-addressed file).
/// Dropped without [`Staged::commit`], it removes its temporary file.
#[derive(Debug)]
pub struct Staged {
    tmp: PathBuf,
    file: File,
    options: WriteOptions,
}

impl Staged {
    /// Creates the temporary file in `dir` (with `options.mode`); `name` is the final
    /// name, or a word saying what the file is when that is not known yet.
    pub fn new(dir: &Path, name: &str, options: WriteOptions) -> io::Result<Staged> {
        let tmp = dir.join(temporary_name(name));
        let mut open = OpenOptions::new();
        open.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut open, options.mode);
        let file = open.open(&tmp)?;
        Ok(Staged { tmp, file, options })
    }

    /// The temporary file, to write the content to.
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// The temporary file's path, for error messages.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Gives the written file its name `path`, which must be in the directory the file
    /// was staged in, as the options say (synced, replacing or keeping an existing file).
    /// `Ok(false)`: the file existed and was kept.
    pub fn commit(self, path: &Path) -> io::Result<bool> {
        if self.options.durability == Durability::Durable {
            self.file.sync_all()?;
        }
        match self.options.existing {
            Existing::Replace => fs::rename(&self.tmp, path)?,
            Existing::Keep => match fs::hard_link(&self.tmp, path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
                Err(e) if hard_links_unsupported(&e) => {
                    return copy_no_clobber(&self.tmp, path, self.options)
                }
                Err(e) => return Err(e),
            },
        }
        if self.options.durability == Durability::Durable {
            sync_dir(parent(path))?;
        }
        Ok(true)
    }
}

impl Drop for Staged {
    /// After a rename the temporary name is gone; after a link (or a failure) it is not.
    /// After [`Staged::close`] the path is empty: the [`Closed`] file owns the name.
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

impl Staged {
    /// Syncs the written file (if durable) and closes it, keeping it under its temporary
    /// name, for a writer that stages many files and names them all only once every one
    /// is known to be good (a bundle's attachments): no file descriptor stays open per
    /// file. Only for files that replace an existing one ([`Existing::Replace`]).
    pub fn close(mut self) -> io::Result<Closed> {
        if self.options.durability == Durability::Durable {
            self.file.sync_all()?;
        }
        Ok(Closed {
            tmp: std::mem::take(&mut self.tmp),
            options: self.options,
        })
    }
}

/// A staged file, written, synced and closed under its temporary name: [`Closed::commit`]
/// names it; dropped without that, it removes the temporary file.
#[derive(Debug)]
pub struct Closed {
    tmp: PathBuf,
    options: WriteOptions,
}

impl Closed {
    /// Renames the file to `path` (in the directory it was staged in), replacing any file
    /// there, and syncs the directory if durable.
    pub fn commit(mut self, path: &Path) -> io::Result<()> {
        fs::rename(&self.tmp, path)?;
        self.tmp = PathBuf::new();
        if self.options.durability == Durability::Durable {
            sync_dir(parent(path))?;
        }
        Ok(())
    }
}

impl Drop for Closed {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Whether `hard_link` failed because the file system has no hard links (FAT, exFAT,
/// some FUSE and network file systems), not because of the names involved.
fn hard_links_unsupported(e: &io::Error) -> bool {
    // EPERM (Linux's vfat: "operation not permitted"), ENOSYS, ENOTSUP / EOPNOTSUPP.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const NOT_SUPPORTED: &[i32] = &[95];
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    const NOT_SUPPORTED: &[i32] = &[45, 102];
    matches!(
        e.kind(),
        io::ErrorKind::PermissionDenied | io::ErrorKind::Unsupported
    ) || e.raw_os_error().is_some_and(|n| NOT_SUPPORTED.contains(&n))
}

/// [`Existing::Keep`] without hard links: the content of `tmp` copied to `path` created
/// with `create_new`, so an existing file is never overwritten, even by another process.
/// A failed copy removes the file it created (it is this writer's own); only a crash
/// during the copy can leave a partial file under the final name, so readers of files
/// written this way (key files) must refuse a partial one with a clear error.
/// `Ok(false)`: the file existed and was kept.
fn copy_no_clobber(tmp: &Path, path: &Path, options: WriteOptions) -> io::Result<bool> {
    let mut source = File::open(tmp)?;
    let mut open = OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, options.mode);
    let mut file = match open.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(e),
    };
    let copied = io::copy(&mut source, &mut file).and_then(|_| {
        if options.durability == Durability::Durable {
            file.sync_all()?;
            sync_dir(parent(path))?;
        }
        Ok(())
    });
    if let Err(e) = copied {
        drop(file);
        let _ = fs::remove_file(path);
        return Err(e);
    }
    Ok(true)
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

/// A directory being built under a name of its own before it is renamed into place (a
/// snapshot, a restore): removed with everything in it when dropped, unless
/// [`StagingDir::keep`] said it was renamed. A crash leaves it under that name only.
#[derive(Debug)]
pub struct StagingDir {
    path: PathBuf,
    kept: bool,
}

impl StagingDir {
    /// Creates `path` (which must not exist) with mode 0700: it holds a party's data.
    pub fn create(path: PathBuf) -> io::Result<StagingDir> {
        let mut builder = fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&path)?;
        Ok(StagingDir { path, kept: false })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory was renamed into place: nothing is removed on drop.
    pub fn keep(&mut self) {
        self.kept = true;
    }
}

impl Drop for StagingDir {
    fn drop(&mut self) {
        if !self.kept {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Syncs a directory, so that names created, renamed or removed in it are durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Syncs a file someone else wrote without syncing it (sled's `conf`), so that its
/// content is durable.
pub fn sync_file(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The random part of a temporary name: 8 bytes, lowercase hex.
const NONCE_HEX_LEN: usize = 16;
const TEMPORARY_SUFFIX: &str = ".tmp";

/// `.<name>.<random>.tmp`: hidden, and unique, so that two writers of the same file (in one
/// process or two) never share a temporary file.
fn temporary_name(name: &str) -> String {
    let mut nonce = [0u8; NONCE_HEX_LEN / 2];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
    format!(".{name}.{}{TEMPORARY_SUFFIX}", hex::encode(nonce))
}

/// Whether `name` has exactly the form of [`temporary_name`]: a dot, a name of at least
/// one character, a dot, 16 lowercase hex digits, `.tmp`.
pub fn is_temporary_name(name: &str) -> bool {
    let Some(inner) = name
        .strip_prefix('.')
        .and_then(|n| n.strip_suffix(TEMPORARY_SUFFIX))
    else {
        return false;
    };
    let Some((target, nonce)) = inner.rsplit_once('.') else {
        return false;
    };
    !target.is_empty()
        && nonce.len() == NONCE_HEX_LEN
        && nonce
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A temporary file untouched for this long is a crash's leftover: a write in progress
/// (even one streaming a large export) touches its file far more often, and another
/// process may be writing into the same directory (the node while a command runs).
pub const STALE_TEMPORARY_AGE: Duration = Duration::from_secs(10 * 60);

/// Removes from `dir` the temporary files of this module's writes that a crash left
/// behind: regular files named exactly as this module names them (`.<name>.<16 lowercase
/// hex digits>.tmp`) and not modified for [`STALE_TEMPORARY_AGE`]. Nothing else is touched. Returns how many were removed;
/// fails only if the directory cannot be listed (a missing one holds nothing).
pub fn remove_stale_temporaries(dir: &Path) -> io::Result<usize> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let now = SystemTime::now();
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        if !entry.file_name().to_str().is_some_and(is_temporary_name) {
            continue;
        }
        // The entry's own metadata: a symbolic link is not followed, and is not removed.
        let Ok(meta) = entry.metadata() else {
            continue; // removed meanwhile
        };
        let stale = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|age| age >= STALE_TEMPORARY_AGE);
        if meta.file_type().is_file() && stale && fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
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

    /// Sets a file's (or directory's) modification time `age` into the past.
    fn age(path: &Path, age: Duration) {
        let file = File::options().read(true).open(path).unwrap();
        file.set_modified(SystemTime::now() - age).unwrap();
    }

    #[test]
    fn stale_temporaries_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let old = STALE_TEMPORARY_AGE + Duration::from_secs(60);
        let stale = temporary_name("replica.head");
        let fresh = temporary_name("replica.head");
        let lookalikes = [
            "replica.head",
            "f.0123456789abcdef.tmp",
            ".f.0123456789ABCDEF.tmp",
            ".f.0123456789abcde.tmp",
            ".f.0123456789abcdef0.tmp",
            ".f.0123456789abcdeg.tmp",
            ".f.0123456789abcdef.tmp.bak",
            ".f.0123456789abcdef.TMP",
            ".0123456789abcdef.tmp",
            "..0123456789abcdef.tmp",
            ".tmp-1-2",
        ];
        for name in lookalikes.iter().copied().chain([&*stale, &*fresh]) {
            fs::write(dir.path().join(name), b"x").unwrap();
            if name != fresh {
                age(&dir.path().join(name), old);
            }
        }
        // A directory and a symbolic link with a temporary's name are not durable's files.
        let dir_named = temporary_name("d");
        fs::create_dir(dir.path().join(&dir_named)).unwrap();
        age(&dir.path().join(&dir_named), old);
        #[cfg(unix)]
        let link_named = {
            let name = temporary_name("l");
            std::os::unix::fs::symlink("replica.head", dir.path().join(&name)).unwrap();
            name
        };

        assert_eq!(remove_stale_temporaries(dir.path()).unwrap(), 1);
        let left = names(dir.path());
        assert!(!left.contains(&stale), "{left:?}");
        for kept in lookalikes.iter().copied().chain([&*fresh, &*dir_named]) {
            assert!(left.iter().any(|n| n == kept), "{kept} was removed");
        }
        #[cfg(unix)]
        assert!(left.contains(&link_named));
        assert_eq!(remove_stale_temporaries(dir.path()).unwrap(), 0);
        assert_eq!(
            remove_stale_temporaries(&dir.path().join("none")).unwrap(),
            0
        );
    }

    #[test]
    fn temporary_names_have_the_pattern_they_are_cleaned_by() {
        for name in ["f", "replica.head", "a b", ".hidden"] {
            assert!(is_temporary_name(&temporary_name(name)), "{name}");
        }
    }

    /// The keep-existing path for file systems without hard links, called directly.
    #[test]
    fn copying_without_links_never_overwrites_and_never_leaves_a_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        let (tmp, path) = (dir.path().join(".k.tmp"), dir.path().join("k"));
        fs::write(&tmp, b"key one").unwrap();
        let options = WriteOptions::PRIVATE.keep_existing();
        assert!(copy_no_clobber(&tmp, &path, options).unwrap());
        assert_eq!(fs::read(&path).unwrap(), b"key one");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        fs::write(&tmp, b"key two").unwrap();
        assert!(!copy_no_clobber(&tmp, &path, options).unwrap());
        assert_eq!(fs::read(&path).unwrap(), b"key one");
        // A copy that fails after creating the file removes it (it was this writer's):
        // a directory opens but cannot be read.
        let other = dir.path().join("k2");
        assert!(copy_no_clobber(dir.path(), &other, options).is_err());
        assert!(!other.exists());
        assert!(copy_no_clobber(&dir.path().join("missing"), &other, options).is_err());
        assert!(!other.exists());
    }

    #[test]
    fn hard_link_errors_that_mean_no_links_are_told_from_others() {
        assert!(hard_links_unsupported(&io::Error::from_raw_os_error(1))); // EPERM
        assert!(hard_links_unsupported(&io::Error::from(
            io::ErrorKind::Unsupported
        )));
        #[cfg(target_os = "linux")]
        assert!(hard_links_unsupported(&io::Error::from_raw_os_error(95)));
        assert!(!hard_links_unsupported(&io::Error::from(
            io::ErrorKind::NotFound
        )));
        assert!(!hard_links_unsupported(&io::Error::from(
            io::ErrorKind::AlreadyExists
        )));
    }

    #[test]
    fn a_staged_file_is_named_when_committed_and_removed_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let mut staged = Staged::new(dir.path(), "attachment", WriteOptions::SHARED).unwrap();
        staged.file().write_all(b"content").unwrap();
        assert!(staged.commit(&dir.path().join("named")).unwrap());
        assert_eq!(fs::read(dir.path().join("named")).unwrap(), b"content");
        let mut dropped = Staged::new(dir.path(), "attachment", WriteOptions::SHARED).unwrap();
        dropped.file().write_all(b"half").unwrap();
        drop(dropped);
        assert_eq!(names(dir.path()), ["named"]);
    }
}
