//! Attachment bytes copied out of the replica into files a user keeps: `dyad receipt --out
//! DIR`, `dyad show --save-attachments DIR` and `dyad attachment get`.
//!
//! They read the data directory's attachment store directly, whether or not a node runs:
//! unlike the store, it is not locked by the node, and its files appear only complete and
//! synced, by rename (`dyad_ledger::attachments`), which is how `dyad show` and
//! `dyad append --attach` use it beside a running node too.
//!
//! Each copy streams (a chunk at a time: memory stays flat for a 1 GiB attachment), checks
//! every byte against the SHA-256 and size its entry names with the verifier's
//! [`AttachmentCheck`], and gives the file its name only once it is complete and checked
//! (temporary file, fsync, rename). A directory is built the same way: under a temporary
//! name beside it, renamed into place once everything in it is written ([`NewDir`]).

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use dyad_ledger::attachments::Attachments;
use dyad_ledger::durable::{self, WriteOptions, Written};
use dyad_ledger::tree::Hash;
use dyad_verifier::receipt_directory::attachment_file_names;
use dyad_verifier::{AttachmentCheck, AttachmentError};

use crate::error::{CliError, Result};
use crate::output::printable;

const CHUNK: usize = 64 * 1024;

/// An attachment as an entry names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedAttachment {
    pub name: String,
    pub sha256: Hash,
    pub size: u64,
}

impl NamedAttachment {
    fn describe(&self) -> String {
        if self.name.is_empty() {
            return format!("attachment {}", hex::encode(self.sha256));
        }
        format!(
            "attachment {} (sha256 {})",
            printable(&self.name),
            hex::encode(self.sha256)
        )
    }
}

impl From<&dyad_verifier::entry::Attachment> for NamedAttachment {
    fn from(a: &dyad_verifier::entry::Attachment) -> NamedAttachment {
        NamedAttachment {
            name: a.name.clone(),
            sha256: a.sha256,
            size: a.size,
        }
    }
}

impl From<&dyad_ledger::entry::Attachment> for NamedAttachment {
    fn from(a: &dyad_ledger::entry::Attachment) -> NamedAttachment {
        NamedAttachment {
            name: a.name.clone(),
            sha256: a.sha256,
            size: a.size,
        }
    }
}

/// The file each attachment is saved as, in the entry's order (spec/dyad.md section 8,
/// "Receipt directory": the rule lives in the verifier, which checks such directories).
pub fn file_names(attachments: &[NamedAttachment]) -> Vec<String> {
    let pairs: Vec<(&str, Hash)> = attachments
        .iter()
        .map(|a| (a.name.as_str(), a.sha256))
        .collect();
    attachment_file_names(&pairs)
}

/// Copies each of `attachments` from `store` into the existing directory `dir`, under the
/// names [`file_names`] gives; returns them.
pub fn save_all(
    store: &Attachments,
    attachments: &[NamedAttachment],
    dir: &Path,
) -> Result<Vec<PathBuf>> {
    let mut written = Vec::with_capacity(attachments.len());
    for (attachment, name) in attachments.iter().zip(file_names(attachments)) {
        let path = dir.join(name);
        copy_stored(
            store,
            attachment,
            &path,
            WriteOptions::SHARED.keep_existing(),
        )?;
        written.push(path);
    }
    Ok(written)
}

/// Writes the new directory `dir` holding each of `attachments` (whole, or nothing), named
/// as [`file_names`] says; returns the files' paths. Nothing is created for none.
pub fn save_entry_attachments(
    store: &Attachments,
    attachments: &[NamedAttachment],
    dir: &Path,
) -> Result<Vec<PathBuf>> {
    if attachments.is_empty() {
        return Ok(Vec::new());
    }
    let new = NewDir::create(dir)?;
    let staged = save_all(store, attachments, new.path())?;
    new.commit()?;
    Ok(staged.iter().map(|p| in_dir(dir, p)).collect())
}

/// `staged` (a file in a [`NewDir`]'s staging directory) as it is named in `dir`.
pub fn in_dir(dir: &Path, staged: &Path) -> PathBuf {
    dir.join(staged.file_name().unwrap_or_default())
}

/// Copies the stored `attachment` to `dest` as `options` say, checked against its SHA-256
/// and size while copied.
pub fn copy_stored(
    store: &Attachments,
    attachment: &NamedAttachment,
    dest: &Path,
    options: WriteOptions,
) -> Result<()> {
    let (source, path) = open_stored(store, attachment)?;
    let check = AttachmentCheck::expecting(attachment.sha256, attachment.size);
    copy_checked(source, &path, check, dest, options).map_err(|e| match e {
        CopyError::Damaged(e) => damaged(attachment, &path, e),
        CopyError::Cli(e) => e,
    })
}

/// The stored file of an attachment the replica holds under `sha256`, with its size.
pub fn stored_size(store: &Attachments, sha256: &Hash) -> Result<u64> {
    let unnamed = NamedAttachment {
        name: String::new(),
        sha256: *sha256,
        size: 0,
    };
    let (file, path) = open_stored(store, &unnamed)?;
    Ok(file.metadata().map_err(CliError::read(&path))?.len())
}

fn open_stored(store: &Attachments, attachment: &NamedAttachment) -> Result<(File, PathBuf)> {
    let path = store.path_of(&attachment.sha256);
    match File::open(&path) {
        Ok(file) => Ok((file, path)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(CliError::check_hint(
            format!(
                "{} is not held by this replica (no {})",
                attachment.describe(),
                path.display()
            ),
            "the sender's replica holds it (`dyad attachment get HASH --out FILE` there), and a node fetches the peer's before it takes its entries; or put back a backup of the data directory (`dyad restore --from DIR`)",
        )),
        Err(e) => Err(CliError::Read { path, source: e }),
    }
}

fn damaged(attachment: &NamedAttachment, path: &Path, e: AttachmentError) -> CliError {
    CliError::check_hint(
        format!(
            "{}: the copy held here ({}) is damaged: {e}",
            attachment.describe(),
            path.display()
        ),
        "nothing was written; put back the file from a backup of the data directory (`dyad restore --from DIR`)",
    )
}

enum CopyError {
    /// The bytes read are not the attachment.
    Damaged(AttachmentError),
    /// Reading, writing, or a file that was kept.
    Cli(CliError),
}

/// Streams `source` to `dest` through `check`; `dest` is named only if every byte checks.
fn copy_checked(
    mut source: File,
    source_path: &Path,
    mut check: AttachmentCheck,
    dest: &Path,
    options: WriteOptions,
) -> std::result::Result<(), CopyError> {
    // What went wrong on the reading side; the writer only sees that it must stop.
    let mut failure = None;
    let written = durable::write_with(dest, options, |file| {
        let mut buf = vec![0; CHUNK];
        loop {
            let n = match source.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    failure = Some(CopyError::Cli(CliError::Read {
                        path: source_path.to_owned(),
                        source: e,
                    }));
                    return Err(io::Error::other("read failed"));
                }
            };
            if let Err(e) = check.update(&buf[..n]) {
                failure = Some(CopyError::Damaged(e));
                return Err(io::Error::other("not the attachment"));
            }
            file.write_all(&buf[..n])?;
        }
        check.finish().map_err(|e| {
            failure = Some(CopyError::Damaged(e));
            io::Error::other("not the attachment")
        })
    });
    match written {
        Ok(Written::Written(())) => Ok(()),
        Ok(Written::Kept) => Err(CopyError::Cli(CliError::Exists {
            path: dest.to_owned(),
        })),
        Err(source) => Err(failure.unwrap_or_else(|| {
            CopyError::Cli(CliError::Write {
                path: dest.to_owned(),
                source,
            })
        })),
    }
}

/// A directory written whole or not at all: built under a temporary name beside `target`
/// and renamed to it by [`NewDir::commit`]; dropped before, it is removed with everything
/// in it. `target` must not exist, or be an empty directory.
pub struct NewDir {
    staging: tempfile::TempDir,
    target: PathBuf,
}

impl NewDir {
    pub fn create(target: &Path) -> Result<NewDir> {
        match fs::read_dir(target) {
            Ok(mut entries) => {
                if entries.next().is_some() {
                    return Err(CliError::usage_hint(
                        format!(
                            "{} exists and is not empty; refusing to write into it",
                            target.display()
                        ),
                        "give a directory that does not exist yet (it is created)",
                    ));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(_) if target.exists() => {
                return Err(CliError::usage_hint(
                    format!("{} exists and is not a directory", target.display()),
                    "give a directory that does not exist yet (it is created)",
                ))
            }
            Err(e) => return Err(CliError::read(target)(e)),
        }
        let name = target
            .file_name()
            .ok_or_else(|| CliError::usage(format!("{} names no directory", target.display())))?
            .to_string_lossy()
            .into_owned();
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let staging = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .tempdir_in(parent)
            .map_err(CliError::write(target))?;
        Ok(NewDir {
            staging,
            target: target.to_owned(),
        })
    }

    /// Where to write the directory's content until it is committed.
    pub fn path(&self) -> &Path {
        self.staging.path()
    }

    /// Creates the subdirectory `name` and returns its (staging) path.
    pub fn subdir(&self, name: &str) -> Result<PathBuf> {
        let dir = self.path().join(name);
        fs::create_dir(&dir).map_err(CliError::write(&dir))?;
        Ok(dir)
    }

    /// Syncs the directory and renames it into place, mode 0755: what it holds is for
    /// others to read.
    pub fn commit(self) -> Result<()> {
        let staging = self.staging.path();
        let write_err = CliError::write(&self.target);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(staging, fs::Permissions::from_mode(0o755))
                .map_err(CliError::write(staging))?;
        }
        for entry in fs::read_dir(staging).map_err(CliError::read(staging))? {
            let path = entry.map_err(CliError::read(staging))?.path();
            if path.is_dir() {
                durable::sync_dir(&path).map_err(CliError::write(&path))?;
            }
        }
        durable::sync_dir(staging).map_err(CliError::write(staging))?;
        // Replaces an empty directory only: one that got content meanwhile is kept.
        fs::rename(staging, &self.target).map_err(write_err)?;
        let _moved = self.staging.keep();
        let parent = match self.target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        durable::sync_dir(parent).map_err(CliError::write(parent))
    }
}
