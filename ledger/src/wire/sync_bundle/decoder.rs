//! Reading a bundle (spec/sync.md section 1) record by record, checking form, order,
//! count and checksum as it goes.

use std::io::{self, BufRead, Read};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use dyad_verifier::text::parse_decimal;
use sha2::{Digest, Sha256};

use super::{
    valid_origin, Malformed, Record, SyncError, Version, CHUNK_SIZE, MAGIC, MAGIC_V1, MAX_LINE,
};

/// Reads a bundle record by record, checking form and order as it goes, so that a
/// whole-log bundle streams in constant memory. The count and checksum are checked when
/// the end line is read; [`Decoder::next_record`] returns `None` after it, and
/// [`Decoder::checksum_ok`] then says whether the content was intact.
///
/// An attachment's bytes come as [`Record::Chunk`]s after its [`Record::Attachment`]; the
/// decoder checks their number and lengths, not their hash: that is for whoever compares
/// them with the entry that names them (`dyad_verifier::attachment`).
pub struct Decoder<R: BufRead> {
    inner: R,
    version: Version,
    hasher: Sha256,
    line: u64,
    origin: String,
    count: u64,
    last: Option<(u8, bool)>,
    last_entry: Option<u64>,
    /// The last attachment's hash and the bytes of it still due in chunks.
    attachment: Option<([u8; 32], u64)>,
    /// Bytes read so far, for progress reports.
    position: u64,
    checksum_ok: Option<bool>,
}

impl<R: BufRead> Decoder<R> {
    /// Reads and checks the magic and the origin line.
    pub fn new(inner: R) -> Result<Self, SyncError> {
        let mut r = Decoder {
            inner,
            version: Version::V2,
            hasher: Sha256::new(),
            line: 0,
            origin: String::new(),
            count: 0,
            last: None,
            last_entry: None,
            attachment: None,
            position: 0,
            checksum_ok: None,
        };
        // An empty file, or a first line that is not the magic (even cut short or too
        // long), is not a bundle at all: say so rather than "truncated".
        match r.read_line() {
            Ok(Some(line)) if line == MAGIC.as_bytes() => r.version = Version::V2,
            Ok(Some(line)) if line == MAGIC_V1.as_bytes() => r.version = Version::V1,
            Err(SyncError::Io(e)) => return Err(SyncError::Io(e)),
            _ => return Err(SyncError::NotABundle),
        }
        r.hasher.update(r.version.magic().as_bytes());
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

    /// The format version on the bundle's first line.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The channel origin on the bundle's origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Bytes of the input read so far (whole lines), for progress reports.
    pub fn position(&self) -> u64 {
        self.position
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
        self.position += n as u64;
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
            self.no_chunks_due()?;
            self.finish_end(rest)?;
            return Ok(None);
        }
        self.hasher.update(&line);
        self.hasher.update(b"\n");
        let record = self.parse_record(&line)?;
        self.check_attachment_bytes(&record)?;
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

    /// An error if the last attachment's bytes are not complete.
    fn no_chunks_due(&self) -> Result<(), SyncError> {
        match self.attachment {
            Some((hash, missing)) if missing > 0 => Err(self.malformed(Malformed::MissingChunks {
                hash: hex::encode(hash),
                missing,
            })),
            _ => Ok(()),
        }
    }

    /// Attachments in ascending order of hash; after each, exactly the chunks that carry
    /// its size, each [`CHUNK_SIZE`] bytes but the last (spec/sync.md section 1).
    fn check_attachment_bytes(&mut self, record: &Record) -> Result<(), SyncError> {
        match record {
            Record::Chunk(bytes) => {
                let due = match self.attachment {
                    Some((_, due)) if due > 0 => due,
                    _ => return Err(self.malformed(Malformed::UnexpectedChunk)),
                };
                let expected = due.min(CHUNK_SIZE);
                if bytes.len() as u64 != expected {
                    return Err(self.malformed(Malformed::BadChunkSize {
                        expected,
                        got: bytes.len() as u64,
                    }));
                }
                if let Some((_, due)) = &mut self.attachment {
                    *due -= expected;
                }
            }
            Record::Attachment { sha256, size } => {
                self.no_chunks_due()?;
                if self.attachment.is_some_and(|(last, _)| last >= *sha256) {
                    return Err(self.malformed(Malformed::AttachmentOrder));
                }
                self.attachment = Some((*sha256, *size));
            }
            _ => self.no_chunks_due()?,
        }
        Ok(())
    }

    fn parse_attachment(&self, rest: &str) -> Result<Record, SyncError> {
        let bad = || self.malformed(Malformed::BadAttachment);
        let (hash, size) = rest.split_once(' ').ok_or_else(bad)?;
        let sha256 = crate::attachments::parse_hex(hash).ok_or_else(bad)?;
        let size = parse_decimal(size.as_bytes()).ok_or_else(bad)?;
        Ok(Record::Attachment { sha256, size })
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
            "attachment" if self.version == Version::V2 => self.parse_attachment(rest)?,
            "chunk" if self.version == Version::V2 => Record::Chunk(data("chunk", rest)?),
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
