//! Attachments: payloads too large for an entry (an indicator feed, a document), stored
//! beside the log as content-addressed files `<dir>/attachments/<lowercase hex SHA-256>`.
//! An entry names an attachment by that hash, so the entry's signature covers it.
//!
//! A file appears under its final name only complete and durable ([`durable::Staged`]:
//! written to a temporary file in the same directory, fsynced, renamed, directory
//! fsynced), and every read hashes the content again: a damaged file is reported, never
//! handed out.
//!
//! Several writers may share one directory at once (the running node fetching the peer's
//! attachments, and `dyad append --attach` beside it): each writes its own temporary file
//! (a random name), a file gets its final name by an atomic rename, and two writers of one
//! hash write the same bytes, so either rename leaves an intact file. Opening removes only
//! temporaries untouched for [`durable::STALE_TEMPORARY_AGE`], not another writer's live one.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
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
    /// What was received is not the attachment expected: more or fewer bytes than its
    /// size, or another hash.
    #[error(
        "attachment {}: received {got_size} bytes hashing to {}, expected {size} bytes",
        hex::encode(hash),
        hex::encode(got_hash)
    )]
    Mismatch {
        /// The hash expected.
        hash: Hash,
        /// The size expected.
        size: u64,
        /// The hash of what was received (of its first `size + 1` bytes at most).
        got_hash: Hash,
        /// How many bytes were received (at most `size + 1`: no more are read).
        got_size: u64,
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

/// The hash named by a lowercase hex file name, if it is one: 64 lowercase hex digits,
/// as the file names of the store and the node's `/attachment/<hash>` path have it.
pub fn parse_hex(name: &str) -> Option<Hash> {
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
    pub fn put_reader(&self, reader: impl Read) -> Result<(Hash, u64), AttachmentError> {
        let mut staged = self.stage()?;
        // Returning early drops `staged`, which removes its temporary file.
        let (hash, size) = self.hash_chunks(reader, AttachmentError::Source, |chunk| {
            staged.file().write_all(chunk).map_err(|source| {
                let path = staged.path().to_owned();
                AttachmentError::Io { path, source }
            })
        })?;
        if self.is_intact(&hash).unwrap_or(false) {
            return Ok((hash, size));
        }
        self.name(staged, hash).map(|h| (h, size))
    }

    /// Reads `reader` to its end in chunks, handing each to `sink`, and returns the
    /// SHA-256 and length of what it read. Stops as soon as it exceeds the size limit.
    fn hash_chunks(
        &self,
        mut reader: impl Read,
        read_error: impl Fn(io::Error) -> AttachmentError,
        mut sink: impl FnMut(&[u8]) -> Result<(), AttachmentError>,
    ) -> Result<(Hash, u64), AttachmentError> {
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buf = vec![0; CHUNK];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_error(e)),
            };
            size += n as u64;
            if size > self.max_size {
                return Err(AttachmentError::TooLarge {
                    size,
                    max: self.max_size,
                });
            }
            hasher.update(&buf[..n]);
            sink(&buf[..n])?;
        }
        Ok((hasher.finalize().into(), size))
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
        let (file, path) = self.open_file(hash)?;
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

    /// The attachment's file, unchecked, and its path.
    fn open_file(&self, hash: &Hash) -> Result<(File, PathBuf), AttachmentError> {
        let path = self.path_of(hash);
        match File::open(&path) {
            Ok(f) => Ok((f, path)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(AttachmentError::NotFound { hash: *hash })
            }
            Err(e) => Err(AttachmentError::Io { path, source: e }),
        }
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

    /// Opens the attachment's file after hashing its whole content again (reading it in
    /// chunks, never holding it), positioned at its start, with its length. A reader that
    /// streams it must still hash what it sends: the file could be overwritten in place
    /// meanwhile (only by hand; this store never writes a named file).
    pub fn open_verified(&self, hash: &Hash) -> Result<(File, u64), AttachmentError> {
        let (mut file, path) = self.open_file(hash)?;
        let read_error = |source| AttachmentError::Io {
            path: path.clone(),
            source,
        };
        let (read, size) = self.hash_chunks(&mut file, read_error, |_| Ok(()))?;
        if read != *hash {
            return Err(AttachmentError::AttachmentCorrupted { hash: *hash });
        }
        file.seek(SeekFrom::Start(0)).map_err(io_error(&path))?;
        Ok((file, size))
    }

    /// Whether an intact copy of the attachment of `hash` and `size` is stored.
    pub fn holds(&self, hash: &Hash, size: u64) -> Result<bool, AttachmentError> {
        Ok(self.intact_size(hash)? == Some(size))
    }

    /// The size of the intact copy of the attachment of `hash`, if one is stored.
    fn intact_size(&self, hash: &Hash) -> Result<Option<u64>, AttachmentError> {
        match self.open_verified(hash) {
            Ok((_, size)) => Ok(Some(size)),
            Err(
                AttachmentError::NotFound { .. }
                | AttachmentError::AttachmentCorrupted { .. }
                | AttachmentError::TooLarge { .. },
            ) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Starts receiving the attachment of `hash` and `size` (from the peer, chunk by
    /// chunk): see [`Receiving`].
    pub fn receive(&self, hash: Hash, size: u64) -> Result<Receiving, AttachmentError> {
        if size > self.max_size {
            return Err(AttachmentError::TooLarge {
                size,
                max: self.max_size,
            });
        }
        Ok(Receiving {
            store: self.clone(),
            staged: self.stage()?,
            hasher: Sha256::new(),
            hash,
            size,
            received: 0,
        })
    }

    /// Stores what `reader` yields as the attachment of `hash` and `size`: it refuses, keeping
    /// nothing, more bytes than `size` (reading at most one more), fewer, or another hash.
    pub fn put_expected(
        &self,
        reader: impl Read,
        hash: Hash,
        size: u64,
    ) -> Result<(), AttachmentError> {
        let mut receiving = self.receive(hash, size)?;
        let mut reader = reader.take(size.saturating_add(1));
        let mut buf = vec![0; CHUNK];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => receiving.write(&buf[..n])?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(AttachmentError::Source(e)),
            }
        }
        receiving.finish()
    }

    fn is_intact(&self, hash: &Hash) -> Result<bool, AttachmentError> {
        Ok(self.intact_size(hash)?.is_some())
    }
}

/// An attachment being received: written to a temporary file while hashed, named by its
/// hash only by [`Receiving::finish`] once its size and hash are the expected ones.
/// Dropped unfinished, or refused, it leaves nothing under the final name.
#[derive(Debug)]
pub struct Receiving {
    store: Attachments,
    staged: Staged,
    hasher: Sha256,
    hash: Hash,
    size: u64,
    received: u64,
}

impl Receiving {
    fn mismatch(&self) -> AttachmentError {
        AttachmentError::Mismatch {
            hash: self.hash,
            size: self.size,
            got_hash: self.hasher.clone().finalize().into(),
            got_size: self.received,
        }
    }

    /// Writes the next bytes; refuses any beyond the expected size.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), AttachmentError> {
        self.received += bytes.len() as u64;
        if self.received > self.size {
            return Err(self.mismatch());
        }
        self.hasher.update(bytes);
        if let Err(source) = self.staged.file().write_all(bytes) {
            let path = self.staged.path().to_owned();
            return Err(AttachmentError::Io { path, source });
        }
        Ok(())
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Checks that the file is complete with the expected hash, and keeps it, synced and
    /// closed, under its temporary name: [`Received::commit`] names it later, once
    /// everything that came with it is checked (a sync bundle); dropped, it is removed.
    pub fn finish_staged(self) -> Result<Received, AttachmentError> {
        if self.received != self.size || <Hash>::from(self.hasher.clone().finalize()) != self.hash {
            return Err(self.mismatch());
        }
        let path = self.staged.path().to_owned();
        let closed = self.staged.close().map_err(io_error(&path))?;
        Ok(Received {
            path: self.store.path_of(&self.hash),
            closed,
        })
    }

    /// Names the file by its hash (synced, renamed, directory synced) if it is complete
    /// and has the expected hash.
    pub fn finish(self) -> Result<(), AttachmentError> {
        if self.received != self.size || <Hash>::from(self.hasher.clone().finalize()) != self.hash {
            return Err(self.mismatch());
        }
        self.store.name(self.staged, self.hash).map(|_| ())
    }
}

/// An attachment received whole and checked, not yet under its name (see
/// [`Receiving::finish_staged`]).
#[derive(Debug)]
pub struct Received {
    path: PathBuf,
    closed: durable::Closed,
}

impl Received {
    /// Names the attachment by its hash (renamed, directory synced): from now on it is
    /// stored.
    pub fn commit(self) -> Result<(), AttachmentError> {
        let path = self.path;
        self.closed.commit(&path).map_err(io_error(&path))
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

    #[test]
    fn put_expected_stores_only_the_expected_bytes() {
        let store = tempfile::tempdir().unwrap();
        let a = Attachments::open(store.path(), 1 << 10).unwrap();
        let hash: Hash = Sha256::digest(b"content").into();
        let refused = |r: Result<(), AttachmentError>| {
            assert!(matches!(r, Err(AttachmentError::Mismatch { .. })), "{r:?}");
            assert!(!a.contains(&hash).unwrap());
            assert_eq!(
                fs::read_dir(a.dir()).unwrap().count(),
                0,
                "no temporary file left"
            );
        };
        refused(a.put_expected(&b"content and more"[..], hash, 7));
        refused(a.put_expected(&b"conten"[..], hash, 7));
        refused(a.put_expected(&b"CONTENT"[..], hash, 7));
        assert!(matches!(
            a.put_expected(&b""[..], hash, 2048),
            Err(AttachmentError::TooLarge { .. })
        ));
        a.put_expected(&b"content"[..], hash, 7).unwrap();
        assert!(a.holds(&hash, 7).unwrap());
        assert!(!a.holds(&hash, 8).unwrap());
        // Staged, it is not stored until committed, and dropped it leaves nothing.
        let other: Hash = Sha256::digest(b"other").into();
        let mut r = a.receive(other, 5).unwrap();
        r.write(b"other").unwrap();
        drop(r.finish_staged().unwrap());
        assert!(!a.contains(&other).unwrap());
        let mut r = a.receive(other, 5).unwrap();
        r.write(b"other").unwrap();
        let received = r.finish_staged().unwrap();
        assert!(!a.contains(&other).unwrap());
        received.commit().unwrap();
        assert!(a.holds(&other, 5).unwrap());
        fs::remove_file(a.path_of(&other)).unwrap();
        let (mut file, size) = a.open_verified(&hash).unwrap();
        let mut read = Vec::new();
        file.read_to_end(&mut read).unwrap();
        assert_eq!((read.as_slice(), size), (&b"content"[..], 7));
        fs::write(a.path_of(&hash), b"CONTENT").unwrap();
        assert!(matches!(
            a.open_verified(&hash),
            Err(AttachmentError::AttachmentCorrupted { .. })
        ));
    }
}
