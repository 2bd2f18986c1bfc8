//! Attachments: payloads too large for an entry (an indicator feed, a document), stored
//! beside the log as content-addressed files `<dir>/attachments/<lowercase hex SHA-256>`.
//! An entry names an attachment by that hash, so the entry's signature covers it.
//!
//! A file appears under its final name only complete and durable ([`durable::Staged`]:
//! written to a temporary file in the same directory, fsynced, renamed, directory
//! fsynced), and every read hashes the content again: a damaged file is reported, never
//! handed out.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::durable::{self, Durability, Existing, Staged, WriteOptions};
use crate::tree::Hash;

const SUBDIR: &str = "attachments";
const CHUNK: usize = 64 * 1024;
/// An attachment must survive a power loss once stored: an entry names it. A damaged
/// copy is replaced. Mode 0666 less the umask, like the store's files: the data directory
/// above them is private.
const ATTACHMENT_FILE: WriteOptions = WriteOptions {
    durability: Durability::Durable,
    existing: Existing::Replace,
    mode: 0o666,
};
/// What the temporary name of an attachment says before its hash is known.
const STAGED_NAME: &str = "attachment";

/// Why an attachment could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum AttachmentError {
    /// A file of the attachment directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// Reading what was to be stored failed.
    #[error("reading the attachment's source: {0}")]
    Source(io::Error),
    /// No attachment of that hash is stored.
    #[error("attachment {} is not stored", hex::encode(hash))]
    NotFound {
        /// The attachment's hash.
        hash: Hash,
    },
    /// The stored file no longer has the hash it is named by.
    #[error(
        "attachment {} is corrupted: its content no longer has that hash",
        hex::encode(hash)
    )]
    AttachmentCorrupted {
        /// The attachment's hash.
        hash: Hash,
    },
    /// The attachment is larger than the directory accepts.
    #[error("an attachment of {size} bytes or more is over the limit of {max} bytes")]
    TooLarge {
        /// The size reached (at least).
        size: u64,
        /// The largest accepted.
        max: u64,
    },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> AttachmentError + '_ {
    move |source| AttachmentError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The hash named by a lowercase hex file name, if it is one.
fn parse_hex(name: &str) -> Option<Hash> {
    if name.len() != 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let mut out = [0; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&name[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// The attachment directory of one store, with the largest attachment it accepts.
#[derive(Clone, Debug)]
pub struct Attachments {
    dir: PathBuf,
    max_size: u64,
}

impl Attachments {
    /// Opens (creating if needed, durably) `<store_dir>/attachments`, removing the
    /// temporary files of writes a crash interrupted.
    pub fn open(store_dir: &Path, max_size: u64) -> Result<Attachments, AttachmentError> {
        let dir = store_dir.join(SUBDIR);
        durable::create_dir_all(&dir, Durability::Durable).map_err(io_error(&dir))?;
        if let Err(e) = durable::remove_stale_temporaries(&dir) {
            tracing::warn!(dir = %dir.display(), error = %e, "could not remove temporary files left by a crash");
        }
        Ok(Attachments { dir, max_size })
    }

    /// The attachment directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The largest attachment stored, in bytes.
    pub fn max_size(&self) -> u64 {
        self.max_size
    }

    /// Where the attachment of `hash` is (or would be) stored.
    pub fn path_of(&self, hash: &Hash) -> PathBuf {
        self.dir.join(hex::encode(hash))
    }

    /// Stores `bytes` and returns their SHA-256. Storing what is already there (intact)
    /// writes nothing; a damaged copy is replaced.
    pub fn put(&self, bytes: &[u8]) -> Result<Hash, AttachmentError> {
        let size = bytes.len() as u64;
        if size > self.max_size {
            return Err(AttachmentError::TooLarge {
                size,
                max: self.max_size,
            });
        }
        let hash: Hash = Sha256::digest(bytes).into();
        if self.is_intact(&hash)? {
            return Ok(hash);
        }
        let mut staged = self.stage()?;
        if let Err(source) = staged.file().write_all(bytes) {
            let path = staged.path().to_owned();
            return Err(AttachmentError::Io { path, source });
        }
        self.name(staged, hash)
    }

    /// Stores what `reader` yields, hashing while copying, and returns its SHA-256 and
    /// length. Stops, keeping nothing, as soon as it exceeds the size limit.
    pub fn put_reader(&self, mut reader: impl Read) -> Result<(Hash, u64), AttachmentError> {
        let mut staged = self.stage()?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buf = vec![0; CHUNK];
        // Returning early drops `staged`, which removes its temporary file.
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(AttachmentError::Source(e)),
            };
            size += n as u64;
            if size > self.max_size {
                return Err(AttachmentError::TooLarge {
                    size,
                    max: self.max_size,
                });
            }
            hasher.update(&buf[..n]);
            if let Err(source) = staged.file().write_all(&buf[..n]) {
                let path = staged.path().to_owned();
                return Err(AttachmentError::Io { path, source });
            }
        }
        let hash: Hash = hasher.finalize().into();
        if self.is_intact(&hash).unwrap_or(false) {
            return Ok((hash, size));
        }
        self.name(staged, hash).map(|h| (h, size))
    }

    /// A temporary file in the attachment directory, for content whose hash is not
    /// known yet.
    fn stage(&self) -> Result<Staged, AttachmentError> {
        Staged::new(&self.dir, STAGED_NAME, ATTACHMENT_FILE).map_err(io_error(&self.dir))
    }

    /// Gives a written attachment its name, its hash: synced, renamed, directory synced.
    fn name(&self, staged: Staged, hash: Hash) -> Result<Hash, AttachmentError> {
        let path = self.path_of(&hash);
        staged.commit(&path).map_err(io_error(&path))?;
        Ok(hash)
    }

    /// The attachment's content, hashed again on every read.
    pub fn get(&self, hash: &Hash) -> Result<Vec<u8>, AttachmentError> {
        let path = self.path_of(hash);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(AttachmentError::NotFound { hash: *hash })
            }
            Err(e) => return Err(AttachmentError::Io { path, source: e }),
        };
        let len = file.metadata().map_err(io_error(&path))?.len();
        if len > self.max_size {
            return Err(AttachmentError::TooLarge {
                size: len,
                max: self.max_size,
            });
        }
        // Read at most one byte past the limit: a file growing meanwhile cannot make this unbounded.
        let mut bytes = Vec::with_capacity(len as usize);
        file.take(self.max_size + 1)
            .read_to_end(&mut bytes)
            .map_err(io_error(&path))?;
        if bytes.len() as u64 > self.max_size {
            return Err(AttachmentError::TooLarge {
                size: bytes.len() as u64,
                max: self.max_size,
            });
        }
        if <Hash>::from(Sha256::digest(&bytes)) != *hash {
            return Err(AttachmentError::AttachmentCorrupted { hash: *hash });
        }
        Ok(bytes)
    }

    /// Whether a file for the hash exists. Its content is checked by `get`, not here.
    pub fn contains(&self, hash: &Hash) -> Result<bool, AttachmentError> {
        let path = self.path_of(hash);
        match fs::metadata(&path) {
            Ok(m) => Ok(m.is_file()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(AttachmentError::Io { path, source: e }),
        }
    }

    /// Every stored attachment's hash, in no particular order (unchecked; `get` checks).
    pub fn hashes(&self) -> Result<Vec<Hash>, AttachmentError> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(io_error(&self.dir))? {
            let entry = entry.map_err(io_error(&self.dir))?;
            if let Some(hash) = entry.file_name().to_str().and_then(parse_hex) {
                out.push(hash);
            }
        }
        Ok(out)
    }

    fn is_intact(&self, hash: &Hash) -> Result<bool, AttachmentError> {
        match self.get(hash) {
            Ok(_) => Ok(true),
            Err(
                AttachmentError::NotFound { .. }
                | AttachmentError::AttachmentCorrupted { .. }
                | AttachmentError::TooLarge { .. },
            ) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_names_round_trip_and_reject_other_names() {
        let h: Hash = Sha256::digest(b"x").into();
        assert_eq!(parse_hex(&hex::encode(h)), Some(h));
        assert_eq!(parse_hex(&hex::encode(h).to_uppercase()), None);
        assert_eq!(parse_hex(".attachment.0123456789abcdef.tmp"), None);
        assert_eq!(parse_hex(&"g".repeat(64)), None);
        assert_eq!(parse_hex(&"a".repeat(63)), None);
    }

    #[test]
    fn opening_removes_stale_temporary_files_and_keeps_everything_else() {
        let store = tempfile::tempdir().unwrap();
        let a = Attachments::open(store.path(), 1 << 10).unwrap();
        let hash = a.put(b"kept").unwrap();
        let stale = a.dir().join(".attachment.0123456789abcdef.tmp");
        let other = a.dir().join(".attachment.tmp");
        let past = std::time::SystemTime::now() - durable::STALE_TEMPORARY_AGE * 2;
        for path in [&stale, &other] {
            fs::write(path, b"half").unwrap();
            File::options()
                .write(true)
                .open(path)
                .unwrap()
                .set_modified(past)
                .unwrap();
        }
        let a = Attachments::open(store.path(), 1 << 10).unwrap();
        assert!(!stale.exists());
        assert!(other.exists());
        assert_eq!(a.get(&hash).unwrap(), b"kept");
    }
}
