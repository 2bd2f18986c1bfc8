//! A party's data directory is private to its owner: the directory is mode 0700 and the
//! files at its top level (the configuration, the admin token, genesis files, URLs) are
//! 0600 or stricter. [`check`] enforces that before a node starts or a command opens the
//! directory, refusing with the `chmod` that fixes it; [`create_dir`] and
//! [`write_file`] make directories and files that pass it.
//!
//! Only the top level is checked: subdirectories (the store, attachments, evidence,
//! promises) sit inside the 0700 directory, so nobody else can reach them whatever their
//! own modes. Symbolic links and sockets are not checked (the node's admin socket is
//! created 0600 inside the directory).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// What [`check`] refuses.
#[derive(Debug, thiserror::Error)]
pub enum PrivateDirError {
    /// The directory or one of its files can be read, written or entered by group or others.
    /// The directory or a file in it is open to group or others.
    #[error(
        "{} is accessible to group or others (mode {mode:o}): its data, keys and admin token \
         must be the owner's only; run `chmod {want:o} {}`",
        path.display(),
        path.display()
    )]
    Insecure {
        /// The directory or file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
        /// The mode to set.
        want: u32,
    },
    /// The directory or a file in it could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        #[source]
        /// What failed.
        source: io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> PrivateDirError + '_ {
    move |source| PrivateDirError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Mode bits for group and others.
const GROUP_OTHER: u32 = 0o077;

/// Checks that `dir` is 0700 (no access for group or others) and that every regular file
/// directly in it is 0600 or stricter. It is called where the directory is opened, so it
/// first removes the temporary files that a crash left of [`crate::durable`]'s writes
/// there ([`crate::durable::remove_stale_temporaries`]; nothing else is removed).
#[cfg(unix)]
pub fn check(dir: &Path) -> Result<(), PrivateDirError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = fs::metadata(dir).map_err(io_err(dir))?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & GROUP_OTHER != 0 {
        return Err(PrivateDirError::Insecure {
            path: dir.to_owned(),
            mode,
            want: 0o700,
        });
    }
    remove_crash_leftovers(dir);
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(io_err(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue; // removed meanwhile
        };
        if !meta.file_type().is_file() {
            continue;
        }
        let mode = meta.permissions().mode() & 0o7777;
        if mode & GROUP_OTHER != 0 {
            return Err(PrivateDirError::Insecure {
                path,
                mode,
                want: 0o600,
            });
        }
    }
    Ok(())
}

/// Checks that `dir` exists (modes are Unix only), removing the temporary files that a
/// crash left of [`crate::durable`]'s writes there.
#[cfg(not(unix))]
pub fn check(dir: &Path) -> Result<(), PrivateDirError> {
    fs::metadata(dir).map_err(io_err(dir))?;
    remove_crash_leftovers(dir);
    Ok(())
}

/// Best effort: a leftover only takes room (and one written with a shared mode would be
/// refused by the check as if it held data).
fn remove_crash_leftovers(dir: &Path) {
    if let Err(e) = crate::durable::remove_stale_temporaries(dir) {
        tracing::warn!(dir = %dir.display(), error = %e, "could not remove temporary files left by a crash");
    }
}

/// Creates `dir` (and missing parents) with mode 0700. An existing directory is left as it
/// is ([`check`] then says whether it is private).
pub fn create_dir(dir: &Path) -> Result<(), PrivateDirError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(io_err(dir))
}

/// Sets an existing file's mode to 0600.
pub fn restrict_file(path: &Path) -> Result<(), PrivateDirError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(io_err(path))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Writes `bytes` to `path` atomically and durably with mode 0600
/// ([`crate::durable::WriteOptions::PRIVATE`]).
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), PrivateDirError> {
    crate::durable::write(path, bytes, crate::durable::WriteOptions::PRIVATE)
        .map(drop)
        .map_err(io_err(path))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn made_private_passes_and_any_group_or_other_bit_is_refused_with_the_fix() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/data");
        create_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        write_file(&dir.join("f"), b"x").unwrap();
        assert_eq!(mode(&dir.join("f")), 0o600);
        fs::create_dir(dir.join("sub")).unwrap();
        fs::set_permissions(dir.join("sub"), fs::Permissions::from_mode(0o755)).unwrap();
        check(&dir).unwrap();

        for m in [0o750, 0o705, 0o701, 0o710, 0o777] {
            fs::set_permissions(&dir, fs::Permissions::from_mode(m)).unwrap();
            let e = check(&dir).unwrap_err();
            assert!(matches!(e, PrivateDirError::Insecure { mode, want: 0o700, .. } if mode == m));
            assert!(
                e.to_string()
                    .contains(&format!("chmod 700 {}", dir.display())),
                "{e}"
            );
        }
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        for m in [0o644, 0o640, 0o604, 0o660, 0o602] {
            fs::set_permissions(dir.join("f"), fs::Permissions::from_mode(m)).unwrap();
            let e = check(&dir).unwrap_err();
            assert!(e.to_string().contains("chmod 600"), "{e}");
            assert!(e.to_string().contains(&dir.join("f").display().to_string()));
        }
        fs::set_permissions(dir.join("f"), fs::Permissions::from_mode(0o400)).unwrap();
        check(&dir).unwrap();
    }

    /// A crash's leftover of a shared-mode write is removed, not refused; a file that only
    /// looks like one is still checked.
    #[test]
    fn checking_removes_stale_temporary_files_first() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        create_dir(&dir).unwrap();
        let stale = dir.join(".export.0123456789abcdef.tmp");
        let lookalike = dir.join(".export.tmp");
        let past = std::time::SystemTime::now() - crate::durable::STALE_TEMPORARY_AGE * 2;
        for path in [&stale, &lookalike] {
            fs::write(path, b"half").unwrap();
            fs::set_permissions(path, fs::Permissions::from_mode(0o644)).unwrap();
            let file = fs::File::options().write(true).open(path).unwrap();
            file.set_modified(past).unwrap();
        }
        let e = check(&dir).unwrap_err();
        assert!(!stale.exists());
        assert!(e.to_string().contains(".export.tmp"), "{e}");
        fs::remove_file(&lookalike).unwrap();
        check(&dir).unwrap();
    }
}
