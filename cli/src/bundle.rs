//! Sync bundle files (`dyad-sync/v2`, and v1 still read, spec/sync.md) on disk: the format itself (records,
//! encoding, strict parsing) is `dyad_ledger::sync`; this module adds file paths to its
//! errors, atomic writes, a bound on small bundles and the channel's origin check.
//!
//! It depends on nothing else of the CLI: its errors are [`BundleError`], which the CLI's
//! error type wraps, so that error type can name this module without a module cycle.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use dyad_ledger::durable::{self, WriteOptions, Written};
use dyad_ledger::sync::{self, Decoder, Encoder, SyncError, WriteAttachmentError};

pub use dyad_ledger::sync::Record;

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("cannot read {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    /// The file is not an intact bundle: not one at all, malformed, truncated, altered.
    #[error("{}: {source}", path.display())]
    Format {
        path: PathBuf,
        #[source]
        source: SyncError,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("{} already exists; refusing to overwrite it", path.display())]
    Exists { path: PathBuf },
    #[error("{}: the bundle is for channel {found:?}, not this channel {expected:?}", path.display())]
    WrongOrigin {
        path: PathBuf,
        expected: String,
        found: String,
    },
}

impl BundleError {
    fn at(path: &Path, e: SyncError) -> BundleError {
        match e {
            SyncError::Io(source) => BundleError::Io {
                path: path.to_owned(),
                source,
            },
            source => BundleError::Format {
                path: path.to_owned(),
                source,
            },
        }
    }
}

/// Writes a bundle, hashing as it goes.
pub struct BundleWriter<W: Write>(Encoder<W>);

impl<W: Write> BundleWriter<W> {
    pub fn new(inner: W, origin: &str) -> io::Result<Self> {
        Encoder::new(inner, origin).map(BundleWriter)
    }

    pub fn record(&mut self, record: &Record) -> io::Result<()> {
        self.0.record(record)
    }

    /// An attachment record and its chunks, read from `content` and checked against
    /// `sha256` and `size` as they are written (see [`Encoder::attachment`]).
    pub fn attachment(
        &mut self,
        sha256: [u8; 32],
        size: u64,
        content: impl Read,
    ) -> Result<(), WriteAttachmentError> {
        self.0.attachment(sha256, size, content)
    }

    /// Writes the end line and returns the writer and the number of records.
    pub fn finish(self) -> io::Result<(W, u64)> {
        self.0.finish()
    }
}

/// Writes a whole bundle to `path` atomically and durably
/// ([`dyad_ledger::durable`]), so a half-written bundle never carries the final name.
pub fn write_file(
    path: &Path,
    origin: &str,
    records: impl IntoIterator<Item = Record>,
) -> Result<u64, BundleError> {
    let written = durable::write_with(path, WriteOptions::SHARED, |file| {
        let mut w = BundleWriter::new(io::BufWriter::new(file), origin)?;
        for r in records {
            w.record(&r)?;
        }
        let (mut buf, count) = w.finish()?;
        buf.flush()?;
        Ok(count)
    });
    match written {
        Ok(Written::Written(count)) => Ok(count),
        // Only a write that keeps an existing file can keep one; SHARED replaces.
        Ok(Written::Kept) => Err(BundleError::Exists {
            path: path.to_owned(),
        }),
        Err(source) => Err(BundleError::Write {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Reads a bundle file record by record (see [`Decoder`]): form and order as it goes,
/// count and checksum at the end line.
pub struct BundleReader {
    path: PathBuf,
    len: u64,
    inner: Decoder<BufReader<File>>,
}

impl BundleReader {
    pub fn open(path: &Path) -> Result<Self, BundleError> {
        let file = File::open(path).map_err(|source| BundleError::Io {
            path: path.to_owned(),
            source,
        })?;
        let len = file.metadata().map_or(0, |m| m.len());
        let inner = Decoder::new(BufReader::with_capacity(1 << 16, file))
            .map_err(|e| BundleError::at(path, e))?;
        Ok(BundleReader {
            path: path.to_owned(),
            len,
            inner,
        })
    }

    pub fn origin(&self) -> &str {
        self.inner.origin()
    }

    /// The bundle file's length, for progress reports.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Bytes read so far.
    pub fn position(&self) -> u64 {
        self.inner.position()
    }

    /// After the end line: whether the checksum matched.
    pub fn checksum_ok(&self) -> Option<bool> {
        self.inner.checksum_ok()
    }

    /// The next record; `None` once the end line has been read and checked.
    pub fn next_record(&mut self) -> Result<Option<Record>, BundleError> {
        self.inner
            .next_record()
            .map_err(|e| BundleError::at(&self.path, e))
    }

    /// The error for a bundle whose end line's checksum does not match.
    pub fn checksum_error(&self) -> BundleError {
        BundleError::at(&self.path, SyncError::ChecksumMismatch)
    }
}

/// A whole bundle file in memory, its checksum verified.
#[derive(Clone, Debug)]
pub struct Bundle {
    pub origin: String,
    pub records: Vec<Record>,
}

impl Bundle {
    /// Reads and checks a whole bundle: form, order, count and checksum. Nothing of it
    /// is returned unless all of it is intact.
    pub fn read(path: &Path) -> Result<Bundle, BundleError> {
        let file = File::open(path).map_err(|source| BundleError::Io {
            path: path.to_owned(),
            source,
        })?;
        let b = sync::Bundle::read(BufReader::with_capacity(1 << 16, file))
            .map_err(|e| BundleError::at(path, e))?;
        Ok(Bundle {
            origin: b.origin,
            records: b.records,
        })
    }

    /// [`Bundle::read`] for a file that holds at most `limit` bytes (a proposal, a signed
    /// genesis): more is refused as soon as it is read.
    pub fn read_at_most(path: &Path, limit: u64) -> Result<Bundle, BundleError> {
        let file = File::open(path).map_err(|source| BundleError::Io {
            path: path.to_owned(),
            source,
        })?;
        let b = sync::Bundle::read(BufReader::with_capacity(1 << 16, Limited::new(file, limit)))
            .map_err(|e| BundleError::at(path, e))?;
        Ok(Bundle {
            origin: b.origin,
            records: b.records,
        })
    }
}

/// A reader that fails (rather than ends) once more than `limit` bytes came through, so a
/// parser reading from it reports "too large", not "truncated".
struct Limited<R> {
    inner: R,
    left: u64,
    limit: u64,
}

impl<R: Read> Limited<R> {
    fn new(inner: R, limit: u64) -> Self {
        Limited {
            inner,
            left: limit,
            limit,
        }
    }
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            // At the limit: anything more is too much.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("larger than the {} bytes accepted", self.limit),
                )),
            };
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_round_trip_and_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.dyad-sync");
        let records = vec![
            Record::Genesis(vec![1, 2, 3]),
            Record::Entry {
                index: 1,
                bytes: vec![4],
            },
        ];
        assert_eq!(write_file(&path, "o", records.clone()).unwrap(), 2);
        // The temporary file was renamed, not left beside it.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let b = Bundle::read(&path).unwrap();
        assert_eq!((b.origin.as_str(), b.records), ("o", records));

        let mut bytes = std::fs::read(&path).unwrap();
        bytes.truncate(bytes.len() - 3);
        std::fs::write(&path, &bytes).unwrap();
        let e = Bundle::read(&path).unwrap_err();
        assert!(
            matches!(
                &e,
                BundleError::Format {
                    source: SyncError::Truncated { .. },
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().starts_with(&path.display().to_string()));
        assert!(matches!(
            Bundle::read(&dir.path().join("missing")),
            Err(BundleError::Io { .. })
        ));
    }

    #[test]
    fn a_limited_reader_fails_past_its_limit() {
        let mut out = Vec::new();
        Limited::new(&[1u8; 10][..], 10)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out.len(), 10);
        let e = Limited::new(&[1u8; 11][..], 10)
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    }
}
