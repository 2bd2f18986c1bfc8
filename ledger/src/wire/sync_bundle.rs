//! The offline sync bundle, `dyad-sync/v1` (spec/sync.md): its pure encoding and strict
//! parsing, with no file system and no channel rules.
//!
//! A bundle is text, one record per line, ending in a line that counts the records and
//! carries the SHA-256 of every byte before it, so that a truncated or altered copy is
//! detected before anything is applied (spec/sync.md section 1). What a record *means* to
//! a replica (entries that decode and verify, checkpoints that are consistent) is checked
//! by whoever applies it (the CLI's `sync import`, `init`, `audit --bundle`).
//!
//! The format is canonical: one origin line, standard padded base64, decimals without
//! leading zeros, so [`Bundle::parse`] accepts a byte string only if [`Bundle::encode`]
//! writes exactly it back.

use std::io::{self, BufRead, Read, Write};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use dyad_verifier::text::parse_decimal;
use sha2::{Digest, Sha256};

/// The first line of every bundle.
pub const MAGIC: &str = "dyad-sync/v1";
/// The longest line a reader accepts, without its newline: a checkpoint note is at most
/// 1 MiB (C2SP signed-note, as the verifier bounds it), which is 1,398,104 base64
/// characters.
pub const MAX_LINE: usize = 1_500_000;
/// The longest origin (spec/dyad.md section 2.1).
pub const MAX_ORIGIN_LEN: usize = 255;

/// One line of a bundle after the origin.
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
    /// The record's type, its first word on the line.
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

    /// The record's data (an entry's bytes without its index).
    pub fn data(&self) -> &[u8] {
        match self {
            Record::Entry { bytes, .. } => bytes,
            Record::Proposal(b)
            | Record::Genesis(b)
            | Record::Submission(b)
            | Record::Checkpoint(b)
            | Record::Cosigned(b) => b,
        }
    }

    /// Records appear in this order (spec/sync.md section 1): genesis or proposal,
    /// entries, submissions, the checkpoint to co-sign, committed checkpoints.
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

    /// The record's line, with its newline.
    pub fn to_line(&self) -> String {
        match self {
            Record::Entry { index, bytes } => format!("entry {index} {}\n", STANDARD.encode(bytes)),
            _ => format!("{} {}\n", self.tag(), STANDARD.encode(self.data())),
        }
    }
}

/// What is wrong with one line of a bundle.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("the second line must be `origin <origin>` (1 to {MAX_ORIGIN_LEN} bytes, no whitespace, control characters or `+`)")]
    BadOrigin,
    #[error("the line is longer than {MAX_LINE} bytes")]
    LineTooLong,
    #[error("the line is not UTF-8")]
    NotUtf8,
    #[error("expected `<record> <base64>`")]
    MissingData,
    #[error("unknown record type {0:?}")]
    UnknownRecord(String),
    #[error("expected `entry <index> <base64>`")]
    MissingIndex,
    #[error("the entry index is not a decimal number")]
    BadIndex,
    #[error("the {0} record's data is not standard base64 of at least one byte")]
    BadData(&'static str),
    #[error("a {0} record cannot come after the records before it (see spec/sync.md)")]
    OutOfOrder(&'static str),
    #[error("a bundle holds at most one {0} record")]
    Repeated(&'static str),
    #[error("entry {index} follows entry {previous}: entries must be consecutive")]
    NotConsecutive { index: u64, previous: u64 },
    #[error("expected `end <count> <base64 SHA-256>`")]
    BadEndLine,
    #[error("the end line's record count is not a decimal number")]
    BadEndCount,
    #[error("the end line's checksum is not a base64 SHA-256")]
    BadEndChecksum,
}

/// Why a byte stream is not an intact bundle.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("cannot read the bundle: {0}")]
    Io(#[source] io::Error),
    #[error("not a dyad sync bundle (its first line is not {MAGIC:?})")]
    NotABundle,
    #[error("line {line}: {reason}")]
    Malformed { line: u64, reason: Malformed },
    #[error(
        "truncated after line {line}: the bundle ends without its `end` line (an incomplete copy?)"
    )]
    Truncated { line: u64 },
    #[error("the end line counts {stated} records but the bundle holds {found}")]
    CountMismatch { stated: u64, found: u64 },
    #[error("there is data after the end line")]
    TrailingData,
    #[error("the checksum on the end line does not match the content: the bundle was altered or damaged in transit")]
    ChecksumMismatch,
}

/// Whether an origin may appear on a bundle's origin line.
pub fn valid_origin(origin: &str) -> bool {
    !origin.is_empty()
        && origin.len() <= MAX_ORIGIN_LEN
        && !origin
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '+')
}

/// Writes a bundle, hashing as it goes. The origin is written as given: the caller's
/// channel origin is valid by construction.
pub struct Encoder<W: Write> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> Encoder<W> {
    /// Writes the magic and the origin line.
    pub fn new(inner: W, origin: &str) -> io::Result<Self> {
        let mut w = Encoder {
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
        let end = format!("end {} {}\n", self.count, STANDARD.encode(digest));
        self.inner.write_all(end.as_bytes())?;
        self.inner.flush()?;
        Ok((self.inner, self.count))
    }
}

/// Reads a bundle record by record, checking form and order as it goes, so that a
/// whole-log bundle streams in constant memory. The count and checksum are checked when
/// the end line is read; [`Decoder::next_record`] returns `None` after it, and
/// [`Decoder::checksum_ok`] then says whether the content was intact.
pub struct Decoder<R: BufRead> {
    inner: R,
    hasher: Sha256,
    line: u64,
    origin: String,
    count: u64,
    last: Option<(u8, bool)>,
    last_entry: Option<u64>,
    checksum_ok: Option<bool>,
}

impl<R: BufRead> Decoder<R> {
    /// Reads and checks the magic and the origin line.
    pub fn new(inner: R) -> Result<Self, SyncError> {
        let mut r = Decoder {
            inner,
            hasher: Sha256::new(),
            line: 0,
            origin: String::new(),
            count: 0,
            last: None,
            last_entry: None,
            checksum_ok: None,
        };
        // An empty file, or a first line that is not the magic (even cut short or too
        // long), is not a bundle at all: say so rather than "truncated".
        match r.read_line() {
            Ok(Some(line)) if line == MAGIC.as_bytes() => {}
            Err(SyncError::Io(e)) => return Err(SyncError::Io(e)),
            _ => return Err(SyncError::NotABundle),
        }
        r.hasher.update(MAGIC.as_bytes());
        r.hasher.update(b"\n");
        let line = r.read_line()?.ok_or(SyncError::Truncated { line: 1 })?;
        r.hasher.update(&line);
        r.hasher.update(b"\n");
        let origin = line
            .strip_prefix(b"origin ")
            .and_then(|o| std::str::from_utf8(o).ok())
            .filter(|o| valid_origin(o))
            .ok_or_else(|| r.malformed(Malformed::BadOrigin))?;
        r.origin = origin.to_owned();
        Ok(r)
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Records read so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// After the end line: whether the checksum matched; `None` before it.
    pub fn checksum_ok(&self) -> Option<bool> {
        self.checksum_ok
    }

    /// The origin, once the decoder is no longer needed.
    pub fn into_origin(self) -> String {
        self.origin
    }

    fn malformed(&self, reason: Malformed) -> SyncError {
        SyncError::Malformed {
            line: self.line,
            reason,
        }
    }

    /// The next line without its newline; `None` at the end of the input. A last line
    /// without a newline is a truncation.
    fn read_line(&mut self) -> Result<Option<Vec<u8>>, SyncError> {
        let mut buf = Vec::new();
        // The longest line and its newline; a line cut at this limit without its newline
        // is too long, and nothing beyond it is read into memory.
        let limit = (MAX_LINE + 1) as u64;
        let n = (&mut self.inner)
            .take(limit)
            .read_until(b'\n', &mut buf)
            .map_err(SyncError::Io)?;
        if n == 0 {
            return Ok(None);
        }
        self.line += 1;
        if buf.last() != Some(&b'\n') {
            if buf.len() > MAX_LINE {
                return Err(self.malformed(Malformed::LineTooLong));
            }
            return Err(SyncError::Truncated {
                line: self.line - 1,
            });
        }
        buf.pop();
        Ok(Some(buf))
    }

    /// The next record, checked for form and order; `None` once the end line has been
    /// read and checked (count, nothing after it; the checksum is reported by
    /// [`Decoder::checksum_ok`]).
    pub fn next_record(&mut self) -> Result<Option<Record>, SyncError> {
        if self.checksum_ok.is_some() {
            return Ok(None);
        }
        let Some(line) = self.read_line()? else {
            return Err(SyncError::Truncated { line: self.line });
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
                return Err(self.malformed(Malformed::OutOfOrder(record.tag())));
            }
            if rank == last_rank && (last_unique || record.unique()) {
                return Err(self.malformed(Malformed::Repeated(record.tag())));
            }
        }
        if let Record::Entry { index, .. } = record {
            if let Some(previous) = self.last_entry {
                // The entry after index 2^64 - 1 cannot exist: any entry there is a gap.
                if previous.checked_add(1) != Some(index) {
                    return Err(self.malformed(Malformed::NotConsecutive { index, previous }));
                }
            }
            self.last_entry = Some(index);
        }
        self.last = Some((rank, record.unique()));
        self.count += 1;
        Ok(Some(record))
    }

    fn parse_record(&self, line: &[u8]) -> Result<Record, SyncError> {
        let text = std::str::from_utf8(line).map_err(|_| self.malformed(Malformed::NotUtf8))?;
        let (tag, rest) = text
            .split_once(' ')
            .ok_or_else(|| self.malformed(Malformed::MissingData))?;
        let data = |tag: &'static str, s: &str| -> Result<Vec<u8>, SyncError> {
            // The base64 engine refuses missing padding and stray trailing bits, so
            // every accepted encoding is the one the encoder writes.
            match STANDARD.decode(s) {
                Ok(bytes) if !bytes.is_empty() => Ok(bytes),
                _ => Err(self.malformed(Malformed::BadData(tag))),
            }
        };
        Ok(match tag {
            "proposal" => Record::Proposal(data("proposal", rest)?),
            "genesis" => Record::Genesis(data("genesis", rest)?),
            "submission" => Record::Submission(data("submission", rest)?),
            "checkpoint" => Record::Checkpoint(data("checkpoint", rest)?),
            "cosigned" => Record::Cosigned(data("cosigned", rest)?),
            "entry" => {
                let (index, encoded) = rest
                    .split_once(' ')
                    .ok_or_else(|| self.malformed(Malformed::MissingIndex))?;
                let index = parse_decimal(index.as_bytes())
                    .ok_or_else(|| self.malformed(Malformed::BadIndex))?;
                Record::Entry {
                    index,
                    bytes: data("entry", encoded)?,
                }
            }
            other => {
                let shown: String = other.chars().take(40).collect();
                return Err(self.malformed(Malformed::UnknownRecord(shown)));
            }
        })
    }

    fn finish_end(&mut self, rest: &[u8]) -> Result<(), SyncError> {
        let text = std::str::from_utf8(rest).map_err(|_| self.malformed(Malformed::NotUtf8))?;
        let (count, digest) = text
            .split_once(' ')
            .ok_or_else(|| self.malformed(Malformed::BadEndLine))?;
        let stated = parse_decimal(count.as_bytes())
            .ok_or_else(|| self.malformed(Malformed::BadEndCount))?;
        let digest: [u8; 32] = STANDARD
            .decode(digest)
            .ok()
            .and_then(|d| d.try_into().ok())
            .ok_or_else(|| self.malformed(Malformed::BadEndChecksum))?;
        let mut extra = [0u8; 1];
        let more = loop {
            match self.inner.read(&mut extra) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(SyncError::Io(e)),
            }
        };
        if more != 0 {
            return Err(SyncError::TrailingData);
        }
        if stated != self.count {
            return Err(SyncError::CountMismatch {
                stated,
                found: self.count,
            });
        }
        let computed: [u8; 32] = std::mem::take(&mut self.hasher).finalize().into();
        self.checksum_ok = Some(computed == digest);
        Ok(())
    }
}

/// A whole bundle in memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bundle {
    pub origin: String,
    pub records: Vec<Record>,
}

impl Bundle {
    /// Reads and checks a whole bundle: form, order, count and checksum. Nothing of it
    /// is returned unless all of it is intact.
    pub fn read(input: impl BufRead) -> Result<Bundle, SyncError> {
        let mut decoder = Decoder::new(input)?;
        let mut records = Vec::new();
        while let Some(r) = decoder.next_record()? {
            records.push(r);
        }
        if decoder.checksum_ok() != Some(true) {
            return Err(SyncError::ChecksumMismatch);
        }
        Ok(Bundle {
            origin: decoder.into_origin(),
            records,
        })
    }

    /// [`Bundle::read`] of bytes in memory.
    pub fn parse(bytes: &[u8]) -> Result<Bundle, SyncError> {
        Bundle::read(bytes)
    }

    /// The bundle's bytes, end line included.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Encoder::new(Vec::new(), &self.origin).expect("writing to a Vec");
        for r in &self.records {
            w.record(r).expect("writing to a Vec");
        }
        w.finish().expect("writing to a Vec").0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        Bundle {
            origin: "example.org/dyad/test".into(),
            records: vec![
                Record::Genesis(vec![1, 2, 3]),
                Record::Entry {
                    index: 1,
                    bytes: vec![4],
                },
                Record::Entry {
                    index: 2,
                    bytes: vec![5],
                },
                Record::Checkpoint(b"note".to_vec()),
            ],
        }
        .encode()
    }

    fn malformed(bytes: &[u8]) -> Malformed {
        match Bundle::parse(bytes) {
            Err(SyncError::Malformed { reason, .. }) => reason,
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    /// A bundle of `body` (the lines after the magic) with a correct end line.
    fn with_end(body: &str, count: u64) -> Vec<u8> {
        let head = format!("{MAGIC}\n{body}");
        let digest = STANDARD.encode(Sha256::digest(head.as_bytes()));
        format!("{head}end {count} {digest}\n").into_bytes()
    }

    #[test]
    fn round_trips() {
        let bytes = sample();
        let b = Bundle::parse(&bytes).unwrap();
        assert_eq!(b.records.len(), 4);
        assert_eq!(b.origin, "example.org/dyad/test");
        assert_eq!(b.encode(), bytes);
        let empty = with_end("origin o\n", 0);
        assert_eq!(Bundle::parse(&empty).unwrap().encode(), empty);
    }

    #[test]
    fn detects_truncation_alteration_and_trailing_data() {
        let b = sample();
        for cut in [b.len() - 1, b.len() - 10, 20] {
            assert!(
                matches!(Bundle::parse(&b[..cut]), Err(SyncError::Truncated { .. })),
                "cut at {cut}"
            );
        }
        let altered = String::from_utf8(b.clone())
            .unwrap()
            .replace("entry 2 BQ==", "entry 2 Bg==");
        assert!(matches!(
            Bundle::parse(altered.as_bytes()),
            Err(SyncError::ChecksumMismatch)
        ));
        let mut trailing = b.clone();
        trailing.push(b'x');
        assert!(matches!(
            Bundle::parse(&trailing),
            Err(SyncError::TrailingData)
        ));
        let miscounted = with_end("origin o\ngenesis AQ==\n", 2);
        assert!(matches!(
            Bundle::parse(&miscounted),
            Err(SyncError::CountMismatch {
                stated: 2,
                found: 1
            })
        ));
        assert!(matches!(
            Bundle::parse(b"hello\n"),
            Err(SyncError::NotABundle)
        ));
        assert!(matches!(Bundle::parse(b""), Err(SyncError::NotABundle)));
        assert!(matches!(
            Bundle::parse(b"dyad-sync/v1"),
            Err(SyncError::NotABundle)
        ));
    }

    #[test]
    fn refuses_disorder_gaps_and_repeats() {
        let gap = String::from_utf8(sample())
            .unwrap()
            .replace("entry 2 ", "entry 3 ");
        assert_eq!(
            malformed(gap.as_bytes()),
            Malformed::NotConsecutive {
                index: 3,
                previous: 1
            }
        );
        assert_eq!(
            malformed(&with_end("origin o\ncheckpoint AQ==\nentry 1 BA==\n", 2)),
            Malformed::OutOfOrder("entry")
        );
        assert_eq!(
            malformed(&with_end("origin o\ngenesis AQ==\nproposal AQ==\n", 2)),
            Malformed::Repeated("proposal")
        );
        assert_eq!(
            malformed(&with_end("origin o\ncheckpoint AQ==\ncheckpoint AQ==\n", 2)),
            Malformed::Repeated("checkpoint")
        );
        // Submissions and co-signed checkpoints may repeat.
        let many = with_end(
            "origin o\nsubmission AQ==\nsubmission Ag==\ncosigned AQ==\ncosigned Ag==\n",
            4,
        );
        assert_eq!(Bundle::parse(&many).unwrap().records.len(), 4);
    }

    /// The entry after index 2^64 - 1 cannot exist; the reader used to compute it with
    /// `index + 1` and overflowed (fuzz/regressions/sync_bundle/entry-at-u64-max).
    #[test]
    fn the_last_possible_index_is_followed_by_nothing() {
        let last = with_end("origin o\nentry 18446744073709551615 AQ==\n", 1);
        assert_eq!(Bundle::parse(&last).unwrap().encode(), last);
        let two = with_end(
            "origin o\nentry 18446744073709551615 AQ==\nentry 0 AQ==\n",
            2,
        );
        assert_eq!(
            malformed(&two),
            Malformed::NotConsecutive {
                index: 0,
                previous: u64::MAX
            }
        );
    }

    #[test]
    fn refuses_non_canonical_lines() {
        for (body, want) in [
            ("origin \n", Malformed::BadOrigin),
            ("origin a b\n", Malformed::BadOrigin),
            ("origin a+b\n", Malformed::BadOrigin),
            ("orig o\n", Malformed::BadOrigin),
        ] {
            assert_eq!(malformed(&with_end(body, 0)), want, "{body:?}");
        }
        let long_origin = format!("origin {}\n", "o".repeat(MAX_ORIGIN_LEN + 1));
        assert_eq!(malformed(&with_end(&long_origin, 0)), Malformed::BadOrigin);
        for (record, want) in [
            ("entry 01 AQ==", Malformed::BadIndex),
            ("entry +1 AQ==", Malformed::BadIndex),
            ("entry 18446744073709551616 AQ==", Malformed::BadIndex),
            ("entry 1", Malformed::MissingIndex),
            ("entry 1 AQ", Malformed::BadData("entry")),
            ("entry 1 AR==", Malformed::BadData("entry")),
            ("genesis ", Malformed::BadData("genesis")),
            ("genesis", Malformed::MissingData),
            ("genesis  AQ==", Malformed::BadData("genesis")),
            ("tree AQ==", Malformed::UnknownRecord("tree".into())),
        ] {
            let bytes = with_end(&format!("origin o\n{record}\n"), 1);
            assert_eq!(malformed(&bytes), want, "{record:?}");
        }
        let bad_utf8 = [MAGIC.as_bytes(), b"\norigin o\ngenesis \xff\n"].concat();
        assert_eq!(malformed(&bad_utf8), Malformed::NotUtf8);
        for end in ["end 0", "end 00 x", "end 0 AQ=="] {
            let bytes = format!("{MAGIC}\norigin o\n{end}\n");
            assert!(
                matches!(
                    malformed(bytes.as_bytes()),
                    Malformed::BadEndLine | Malformed::BadEndCount | Malformed::BadEndChecksum
                ),
                "{end:?}"
            );
        }
    }

    #[test]
    fn a_line_longer_than_the_limit_is_refused_without_reading_all_of_it() {
        let mut bytes = format!("{MAGIC}\norigin o\ngenesis ").into_bytes();
        bytes.resize(bytes.len() + MAX_LINE, b'A');
        bytes.extend_from_slice(b"\nend 1 x\n");
        assert_eq!(malformed(&bytes), Malformed::LineTooLong);
        // Exactly at the limit, the line is read: the bundle is then refused only for
        // ending without its end line.
        let mut at_limit = format!("{MAGIC}\norigin o\n").into_bytes();
        let start = at_limit.len();
        at_limit.extend_from_slice(b"genesis ");
        at_limit.resize(start + MAX_LINE, b'A');
        at_limit.extend_from_slice(b"\n");
        assert!(matches!(
            Bundle::parse(&at_limit),
            Err(SyncError::Truncated { line: 3 })
        ));
    }

    #[test]
    fn the_streaming_decoder_reports_the_checksum() {
        let altered = String::from_utf8(sample())
            .unwrap()
            .replace("entry 2 BQ==", "entry 2 Bg==");
        let mut d = Decoder::new(altered.as_bytes()).unwrap();
        let mut n = 0;
        while d.next_record().unwrap().is_some() {
            n += 1;
        }
        assert_eq!((n, d.count(), d.checksum_ok()), (4, 4, Some(false)));
        assert!(d.next_record().unwrap().is_none());
    }
}
