//! The offline sync bundle, `dyad-sync/v1` (spec/sync.md): a text file, one record per
//! line, ending in a line that counts the records and carries the SHA-256 of every byte
//! before it, so that a truncated or altered file is detected before anything is applied.
//!
//! This module knows the file format only; it uses neither the ledger nor the verifier,
//! so the auditor's `audit --bundle` can read bundles without touching `dyad-ledger`.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::output::{b64, unb64};

pub const MAGIC: &str = "dyad-sync/v1";
/// The longest line a reader accepts: a checkpoint note is at most 1 MiB (C2SP
/// signed-note, as the verifier bounds it), which is 1,398,104 base64 characters.
pub const MAX_LINE: usize = 1_500_000;
const MAX_ORIGIN_LEN: usize = 255;

/// One line of a bundle after the header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// The genesis entry signed by the sequencer only, for the co-signer to sign.
    Proposal(Vec<u8>),
    /// The genesis entry signed by both parties.
    Genesis(Vec<u8>),
    /// A log entry with its index.
    Entry { index: u64, bytes: Vec<u8> },
    /// A co-signer's signed message for the sequencer to append.
    Submission(Vec<u8>),
    /// A checkpoint note signed by the sequencer, for the co-signer to co-sign.
    Checkpoint(Vec<u8>),
    /// A committed (co-signed) checkpoint note.
    Cosigned(Vec<u8>),
}

impl Record {
    pub fn tag(&self) -> &'static str {
        match self {
            Record::Proposal(_) => "proposal",
            Record::Genesis(_) => "genesis",
            Record::Entry { .. } => "entry",
            Record::Submission(_) => "submission",
            Record::Checkpoint(_) => "checkpoint",
            Record::Cosigned(_) => "cosigned",
        }
    }

    /// Records appear in this order (spec/sync.md): genesis or proposal, entries,
    /// submissions, the checkpoint to co-sign, committed checkpoints.
    fn rank(&self) -> u8 {
        match self {
            Record::Proposal(_) | Record::Genesis(_) => 0,
            Record::Entry { .. } => 1,
            Record::Submission(_) => 2,
            Record::Checkpoint(_) => 3,
            Record::Cosigned(_) => 4,
        }
    }

    /// Ranks of which a bundle holds at most one record.
    fn unique(&self) -> bool {
        matches!(
            self,
            Record::Proposal(_) | Record::Genesis(_) | Record::Checkpoint(_)
        )
    }

    fn to_line(&self) -> String {
        match self {
            Record::Entry { index, bytes } => format!("entry {index} {}\n", b64(bytes)),
            Record::Proposal(b)
            | Record::Genesis(b)
            | Record::Submission(b)
            | Record::Checkpoint(b)
            | Record::Cosigned(b) => {
                format!("{} {}\n", self.tag(), b64(b))
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("cannot read {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: not a dyad sync bundle (its first line is not {MAGIC:?})", path.display())]
    NotABundle { path: PathBuf },
    #[error("{}: line {line}: {reason}", path.display())]
    Malformed {
        path: PathBuf,
        line: u64,
        reason: String,
    },
    #[error("{}: truncated after line {line}: the bundle ends without its `end` line (an incomplete copy?)", path.display())]
    Truncated { path: PathBuf, line: u64 },
    #[error("{}: the checksum on the end line does not match the content: the bundle was altered or damaged in transit", path.display())]
    ChecksumMismatch { path: PathBuf },
    #[error("{}: the end line counts {stated} records but the bundle holds {found}", path.display())]
    CountMismatch {
        path: PathBuf,
        stated: u64,
        found: u64,
    },
    #[error("{}: there is data after the end line", path.display())]
    TrailingData { path: PathBuf },
    #[error("{}: the bundle is for channel {found:?}, not this channel {expected:?}", path.display())]
    WrongOrigin {
        path: PathBuf,
        expected: String,
        found: String,
    },
}

/// Writes a bundle, hashing as it goes.
pub struct BundleWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> BundleWriter<W> {
    pub fn new(inner: W, origin: &str) -> io::Result<Self> {
        let mut w = BundleWriter {
            inner,
            hasher: Sha256::new(),
            count: 0,
        };
        w.put(&format!("{MAGIC}\norigin {origin}\n"))?;
        Ok(w)
    }

    fn put(&mut self, text: &str) -> io::Result<()> {
        self.hasher.update(text.as_bytes());
        self.inner.write_all(text.as_bytes())
    }

    pub fn record(&mut self, record: &Record) -> io::Result<()> {
        self.count += 1;
        self.put(&record.to_line())
    }

    /// Writes the end line and returns the writer and the number of records.
    pub fn finish(mut self) -> io::Result<(W, u64)> {
        let digest = std::mem::take(&mut self.hasher).finalize();
        let end = format!("end {} {}\n", self.count, b64(&digest));
        self.inner.write_all(end.as_bytes())?;
        self.inner.flush()?;
        Ok((self.inner, self.count))
    }
}

/// Writes a whole bundle to `path` atomically: to a temporary file beside it, synced,
/// then renamed, so a half-written bundle never carries the final name.
pub fn write_file(
    path: &Path,
    origin: &str,
    records: impl IntoIterator<Item = Record>,
) -> Result<u64, crate::error::CliError> {
    let mut temp = path.as_os_str().to_owned();
    temp.push(format!(".tmp-{}", std::process::id()));
    let temp = PathBuf::from(temp);
    let written = (|| -> io::Result<u64> {
        let file = File::create(&temp)?;
        let mut w = BundleWriter::new(io::BufWriter::new(file), origin)?;
        for r in records {
            w.record(&r)?;
        }
        let (buf, count) = w.finish()?;
        let file = buf.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&temp, path)?;
        Ok(count)
    })();
    written.map_err(|source| {
        let _ = std::fs::remove_file(&temp);
        crate::error::CliError::Write {
            path: path.to_owned(),
            source,
        }
    })
}

/// Reads a bundle record by record, checking its form as it goes. The checksum and
/// count are checked when the end line is read; `next_record` returns `None` after it.
pub struct BundleReader<R: BufRead> {
    path: PathBuf,
    inner: R,
    hasher: Sha256,
    line: u64,
    origin: String,
    count: u64,
    last: Option<(u8, bool)>,
    next_entry: Option<u64>,
    checksum_ok: Option<bool>,
}

impl BundleReader<BufReader<File>> {
    pub fn open(path: &Path) -> Result<Self, BundleError> {
        let file = File::open(path).map_err(|source| BundleError::Io {
            path: path.to_owned(),
            source,
        })?;
        BundleReader::new(path, BufReader::with_capacity(1 << 16, file))
    }
}

impl<R: BufRead> BundleReader<R> {
    pub fn new(path: &Path, inner: R) -> Result<Self, BundleError> {
        let mut r = BundleReader {
            path: path.to_owned(),
            inner,
            hasher: Sha256::new(),
            line: 0,
            origin: String::new(),
            count: 0,
            last: None,
            next_entry: None,
            checksum_ok: None,
        };
        // An empty file, or a first line that is not the magic (even cut short), is not
        // a bundle at all: say so rather than "truncated".
        match r.read_line() {
            Ok(Some(line)) if line == MAGIC.as_bytes() => {}
            Err(BundleError::Io { path, source }) => return Err(BundleError::Io { path, source }),
            _ => {
                return Err(BundleError::NotABundle {
                    path: path.to_owned(),
                })
            }
        }
        r.hasher.update(format!("{MAGIC}\n").as_bytes());
        let line = r.read_line()?.ok_or(BundleError::Truncated {
            path: path.to_owned(),
            line: 1,
        })?;
        r.hasher.update(&line);
        r.hasher.update(b"\n");
        let origin = line
            .strip_prefix(b"origin ")
            .and_then(|o| std::str::from_utf8(o).ok())
            .filter(|o| {
                !o.is_empty()
                    && o.len() <= MAX_ORIGIN_LEN
                    && !o
                        .chars()
                        .any(|c| c.is_whitespace() || c.is_control() || c == '+')
            })
            .ok_or_else(|| r.malformed("the second line must be `origin <origin>`"))?;
        r.origin = origin.to_owned();
        Ok(r)
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// After the end line: whether the checksum matched.
    pub fn checksum_ok(&self) -> Option<bool> {
        self.checksum_ok
    }

    fn malformed(&self, reason: &str) -> BundleError {
        BundleError::Malformed {
            path: self.path.clone(),
            line: self.line,
            reason: reason.to_owned(),
        }
    }

    /// The next line without its newline; `None` at the end of the file. A last line
    /// without a newline is a truncation.
    fn read_line(&mut self) -> Result<Option<Vec<u8>>, BundleError> {
        let mut buf = Vec::new();
        let limit = (MAX_LINE + 1) as u64;
        let n = (&mut self.inner)
            .take(limit)
            .read_until(b'\n', &mut buf)
            .map_err(|source| BundleError::Io {
                path: self.path.clone(),
                source,
            })?;
        if n == 0 {
            return Ok(None);
        }
        self.line += 1;
        if buf.last() != Some(&b'\n') {
            if buf.len() > MAX_LINE {
                return Err(self.malformed(&format!("the line is longer than {MAX_LINE} bytes")));
            }
            return Err(BundleError::Truncated {
                path: self.path.clone(),
                line: self.line - 1,
            });
        }
        buf.pop();
        Ok(Some(buf))
    }

    /// The next record, checked for form and order; `None` once the end line has been
    /// read and checked (count, checksum, nothing after it).
    pub fn next_record(&mut self) -> Result<Option<Record>, BundleError> {
        if self.checksum_ok.is_some() {
            return Ok(None);
        }
        let Some(line) = self.read_line()? else {
            return Err(BundleError::Truncated {
                path: self.path.clone(),
                line: self.line,
            });
        };
        if let Some(rest) = line.strip_prefix(b"end ") {
            self.finish_end(rest)?;
            return Ok(None);
        }
        self.hasher.update(&line);
        self.hasher.update(b"\n");
        let record = self.parse_record(&line)?;
        let rank = record.rank();
        if let Some((last_rank, last_unique)) = self.last {
            if rank < last_rank {
                return Err(self.malformed(&format!(
                    "a {} record cannot come after the records before it (see spec/sync.md)",
                    record.tag()
                )));
            }
            if rank == last_rank && (last_unique || record.unique()) {
                return Err(self.malformed(&format!(
                    "a bundle holds at most one {} record",
                    record.tag()
                )));
            }
        }
        if let Record::Entry { index, .. } = &record {
            if let Some(expected) = self.next_entry {
                if *index != expected {
                    return Err(self.malformed(&format!(
                        "entry {index} follows entry {}: entries must be consecutive",
                        expected - 1
                    )));
                }
            }
            self.next_entry = Some(index + 1);
        }
        self.last = Some((rank, record.unique()));
        self.count += 1;
        Ok(Some(record))
    }

    fn parse_record(&self, line: &[u8]) -> Result<Record, BundleError> {
        let text =
            std::str::from_utf8(line).map_err(|_| self.malformed("the line is not UTF-8"))?;
        let (tag, rest) = text
            .split_once(' ')
            .ok_or_else(|| self.malformed("expected `<record> <base64>`"))?;
        let data = |s: &str| -> Result<Vec<u8>, BundleError> {
            match unb64(s) {
                Some(bytes) if !bytes.is_empty() => Ok(bytes),
                _ => {
                    Err(self.malformed(&format!("the {tag} record's data is not standard base64")))
                }
            }
        };
        Ok(match tag {
            "proposal" => Record::Proposal(data(rest)?),
            "genesis" => Record::Genesis(data(rest)?),
            "submission" => Record::Submission(data(rest)?),
            "checkpoint" => Record::Checkpoint(data(rest)?),
            "cosigned" => Record::Cosigned(data(rest)?),
            "entry" => {
                let (index, encoded) = rest
                    .split_once(' ')
                    .ok_or_else(|| self.malformed("expected `entry <index> <base64>`"))?;
                let index = parse_decimal(index)
                    .ok_or_else(|| self.malformed("the entry index is not a decimal number"))?;
                Record::Entry {
                    index,
                    bytes: data(encoded)?,
                }
            }
            other => {
                return Err(self.malformed(&format!(
                    "unknown record type {:?}",
                    crate::output::printable(other)
                )))
            }
        })
    }

    fn finish_end(&mut self, rest: &[u8]) -> Result<(), BundleError> {
        let text =
            std::str::from_utf8(rest).map_err(|_| self.malformed("the end line is not UTF-8"))?;
        let (count, digest) = text
            .split_once(' ')
            .ok_or_else(|| self.malformed("expected `end <count> <base64 SHA-256>`"))?;
        let stated = parse_decimal(count)
            .ok_or_else(|| self.malformed("the end line's record count is not a decimal number"))?;
        let digest = crate::output::hash_from_b64(digest)
            .ok_or_else(|| self.malformed("the end line's checksum is not a base64 SHA-256"))?;
        let mut extra = [0u8; 1];
        let more = self
            .inner
            .read(&mut extra)
            .map_err(|source| BundleError::Io {
                path: self.path.clone(),
                source,
            })?;
        if more != 0 {
            return Err(BundleError::TrailingData {
                path: self.path.clone(),
            });
        }
        if stated != self.count {
            return Err(BundleError::CountMismatch {
                path: self.path.clone(),
                stated,
                found: self.count,
            });
        }
        let computed: [u8; 32] = std::mem::take(&mut self.hasher).finalize().into();
        self.checksum_ok = Some(computed == digest);
        Ok(())
    }
}

fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// A whole bundle in memory, its checksum verified.
#[derive(Clone, Debug)]
pub struct Bundle {
    pub path: PathBuf,
    pub origin: String,
    pub records: Vec<Record>,
}

impl Bundle {
    /// Reads and checks a whole bundle: form, order, count and checksum. Nothing of it
    /// is returned unless all of it is intact.
    pub fn read(path: &Path) -> Result<Bundle, BundleError> {
        let mut reader = BundleReader::open(path)?;
        let mut records = Vec::new();
        while let Some(r) = reader.next_record()? {
            records.push(r);
        }
        if reader.checksum_ok() != Some(true) {
            return Err(BundleError::ChecksumMismatch {
                path: path.to_owned(),
            });
        }
        Ok(Bundle {
            path: path.to_owned(),
            origin: reader.origin,
            records,
        })
    }

    pub fn expect_origin(&self, origin: &str) -> Result<(), BundleError> {
        if self.origin != origin {
            return Err(BundleError::WrongOrigin {
                path: self.path.clone(),
                expected: origin.to_owned(),
                found: self.origin.clone(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut w = BundleWriter::new(Vec::new(), "example.org/dyad/test").unwrap();
        w.record(&Record::Genesis(vec![1, 2, 3])).unwrap();
        w.record(&Record::Entry {
            index: 1,
            bytes: vec![4],
        })
        .unwrap();
        w.record(&Record::Entry {
            index: 2,
            bytes: vec![5],
        })
        .unwrap();
        w.record(&Record::Checkpoint(b"note".to_vec())).unwrap();
        w.finish().unwrap().0
    }

    fn read(bytes: &[u8]) -> Result<(Vec<Record>, Option<bool>), BundleError> {
        let mut r = BundleReader::new(Path::new("b"), bytes)?;
        let mut out = Vec::new();
        while let Some(rec) = r.next_record()? {
            out.push(rec);
        }
        Ok((out, r.checksum_ok()))
    }

    #[test]
    fn round_trips() {
        let (records, ok) = read(&sample()).unwrap();
        assert_eq!(records.len(), 4);
        assert_eq!(ok, Some(true));
    }

    #[test]
    fn detects_truncation_alteration_and_disorder() {
        let b = sample();
        for cut in [b.len() - 1, b.len() - 10, 20] {
            assert!(
                matches!(read(&b[..cut]), Err(BundleError::Truncated { .. })),
                "cut at {cut}"
            );
        }
        let altered = String::from_utf8(b.clone())
            .unwrap()
            .replace("entry 2 BQ==", "entry 2 Bg==");
        assert_eq!(read(altered.as_bytes()).unwrap().1, Some(false));
        let mut trailing = b.clone();
        trailing.push(b'x');
        assert!(matches!(
            read(&trailing),
            Err(BundleError::TrailingData { .. })
        ));
        let gap = String::from_utf8(b.clone())
            .unwrap()
            .replace("entry 2 ", "entry 3 ");
        assert!(matches!(
            read(gap.as_bytes()),
            Err(BundleError::Malformed { .. })
        ));
        let mut w = BundleWriter::new(Vec::new(), "o").unwrap();
        w.record(&Record::Checkpoint(vec![1])).unwrap();
        w.record(&Record::Entry {
            index: 1,
            bytes: vec![4],
        })
        .unwrap();
        assert!(matches!(
            read(&w.finish().unwrap().0),
            Err(BundleError::Malformed { .. })
        ));
        assert!(matches!(
            read(b"hello\n"),
            Err(BundleError::NotABundle { .. })
        ));
    }
}
