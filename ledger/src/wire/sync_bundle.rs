//! The offline sync bundle, `dyad-sync/v2` (and `v1`, still read) (spec/sync.md): its pure
//! encoding and strict parsing, with no file system and no channel rules.
//!
//! A bundle is text, one record per line, ending in a line that counts the records and
//! carries the SHA-256 of every byte before it, so that a truncated or altered copy is
//! detected before anything is applied (spec/sync.md section 1). Version 2 adds the
//! attachments' bytes: an `attachment` line, then the bytes in `chunk` lines of at most
//! [`CHUNK_SIZE`] bytes each, so no line (and no read) grows with the attachment. What a
//! record *means* to
//! a replica (entries that decode and verify, checkpoints that are consistent) is checked
//! by whoever applies it (the CLI's `sync import`, `init`, `audit --bundle`).
//!
//! The format is canonical: one origin line, standard padded base64, decimals without
//! leading zeros, so [`Bundle::parse`] accepts a byte string only if [`Bundle::encode`]
//! writes exactly it back.

use std::io::{self, BufRead};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

mod decoder;
mod encoder;

pub use decoder::Decoder;
pub use encoder::{Encoder, WriteAttachmentError};

/// The first line of every bundle writers write now (`dyad-sync/v2`).
pub const MAGIC: &str = "dyad-sync/v2";
/// The first line of a version 1 bundle (no attachments), still read.
pub const MAGIC_V1: &str = "dyad-sync/v1";
/// The most attachment bytes one `chunk` line carries (spec/sync.md section 1): 1 MiB,
/// 1,398,104 base64 characters, within [`MAX_LINE`].
pub const CHUNK_SIZE: u64 = 1 << 20;
/// The longest line a reader accepts, without its newline: a checkpoint note is at most
/// 1 MiB (C2SP signed-note, as the verifier bounds it), which is 1,398,104 base64
/// characters.
pub const MAX_LINE: usize = 1_500_000;
/// The longest origin (spec/dyad.md section 2.1).
pub const MAX_ORIGIN_LEN: usize = 255;

/// A bundle's format version, named by its first line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Version {
    /// `dyad-sync/v1`: no attachment records.
    V1,
    /// `dyad-sync/v2`: attachment records; what writers write.
    #[default]
    V2,
}

impl Version {
    /// The bundle's first line.
    pub fn magic(self) -> &'static str {
        match self {
            Version::V1 => MAGIC_V1,
            Version::V2 => MAGIC,
        }
    }
}

/// One line of a bundle after the origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// The genesis entry signed by the sequencer only, for the co-signer to sign.
    Proposal(Vec<u8>),
    /// The genesis entry signed by both parties.
    Genesis(Vec<u8>),
    /// A log entry with its index.
    Entry {
        /// The entry's index in the log.
        index: u64,
        /// The entry's encoding.
        bytes: Vec<u8>,
    },
    /// A co-signer's signed message for the sequencer to append.
    Submission(Vec<u8>),
    /// The start of an attachment's bytes (version 2): its SHA-256 and size; the bytes
    /// follow in `size / CHUNK_SIZE` rounded up [`Record::Chunk`]s.
    Attachment {
        /// The SHA-256 the bytes are said to have (checked by whoever applies them).
        sha256: [u8; 32],
        /// The number of bytes in the chunks that follow.
        size: u64,
    },
    /// The next bytes of the attachment being read: [`CHUNK_SIZE`] bytes, or the rest.
    Chunk(Vec<u8>),
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
            Record::Attachment { .. } => "attachment",
            Record::Chunk(_) => "chunk",
            Record::Checkpoint(_) => "checkpoint",
            Record::Cosigned(_) => "cosigned",
        }
    }

    /// The record's data (an entry's bytes without its index; an attachment's SHA-256).
    pub fn data(&self) -> &[u8] {
        match self {
            Record::Entry { bytes, .. } => bytes,
            Record::Attachment { sha256, .. } => sha256,
            Record::Proposal(b)
            | Record::Genesis(b)
            | Record::Submission(b)
            | Record::Chunk(b)
            | Record::Checkpoint(b)
            | Record::Cosigned(b) => b,
        }
    }

    /// Records appear in this order (spec/sync.md section 1): genesis or proposal,
    /// entries, submissions, attachments with their chunks, the checkpoint to co-sign,
    /// committed checkpoints.
    fn rank(&self) -> u8 {
        match self {
            Record::Proposal(_) | Record::Genesis(_) => 0,
            Record::Entry { .. } => 1,
            Record::Submission(_) => 2,
            Record::Attachment { .. } | Record::Chunk(_) => 3,
            Record::Checkpoint(_) => 4,
            Record::Cosigned(_) => 5,
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
            Record::Attachment { sha256, size } => {
                format!("attachment {} {size}\n", hex::encode(sha256))
            }
            _ => format!("{} {}\n", self.tag(), STANDARD.encode(self.data())),
        }
    }
}

/// What is wrong with one line of a bundle.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    /// The origin line is missing or its origin is not valid.
    #[error("the second line must be `origin <origin>` (1 to {MAX_ORIGIN_LEN} bytes, no whitespace, control characters or `+`)")]
    BadOrigin,
    /// The line exceeds [`MAX_LINE`].
    #[error("the line is longer than {MAX_LINE} bytes")]
    LineTooLong,
    /// The line is not UTF-8 text.
    #[error("the line is not UTF-8")]
    NotUtf8,
    /// A record line without the space before its data.
    #[error("expected `<record> <base64>`")]
    MissingData,
    /// A record type this version does not know (its first 40 characters).
    #[error("unknown record type {0:?}")]
    UnknownRecord(String),
    /// An `entry` line without its index.
    #[error("expected `entry <index> <base64>`")]
    MissingIndex,
    /// An entry index that is not a canonical decimal `u64`.
    #[error("the entry index is not a decimal number")]
    BadIndex,
    /// A record's data that is not canonical base64 of one byte or more.
    #[error("the {0} record's data is not standard base64 of at least one byte")]
    BadData(&'static str),
    /// A record of a kind that must come earlier in the bundle.
    #[error("a {0} record cannot come after the records before it (see spec/sync.md)")]
    OutOfOrder(&'static str),
    /// A second record of a kind a bundle holds once.
    #[error("a bundle holds at most one {0} record")]
    Repeated(&'static str),
    /// An entry whose index does not follow the previous entry's.
    #[error("entry {index} follows entry {previous}: entries must be consecutive")]
    NotConsecutive {
        /// This entry's index.
        index: u64,
        /// The previous entry's index.
        previous: u64,
    },
    /// An `attachment` line that is not `attachment <64 lowercase hex> <decimal size>`.
    #[error("expected `attachment <SHA-256 in lowercase hex> <size>`")]
    BadAttachment,
    /// An attachment whose hash is not above the previous attachment's.
    #[error("attachments must be in ascending order of SHA-256, each once")]
    AttachmentOrder,
    /// A `chunk` line where no attachment bytes are due.
    #[error("a chunk line that follows no attachment line (or one whose bytes are complete)")]
    UnexpectedChunk,
    /// A chunk of another length than the attachment's next chunk.
    #[error("the chunk holds {got} bytes where {expected} are due")]
    BadChunkSize {
        /// The bytes due in this chunk.
        expected: u64,
        /// The bytes the chunk holds.
        got: u64,
    },
    /// Another line where the attachment's next chunk is due.
    #[error("attachment {hash} ends {missing} bytes early: its chunk lines are missing")]
    MissingChunks {
        /// The attachment's SHA-256, lowercase hex.
        hash: String,
        /// The bytes still due.
        missing: u64,
    },
    /// The end line is not `end <count> <checksum>`.
    #[error("expected `end <count> <base64 SHA-256>`")]
    BadEndLine,
    /// The end line's count is not a canonical decimal.
    #[error("the end line's record count is not a decimal number")]
    BadEndCount,
    /// The end line's checksum is not base64 of 32 bytes.
    #[error("the end line's checksum is not a base64 SHA-256")]
    BadEndChecksum,
}

/// Why a byte stream is not an intact bundle.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Reading the input failed.
    #[error("cannot read the bundle: {0}")]
    Io(#[source] io::Error),
    /// The input does not start with [`MAGIC`] or [`MAGIC_V1`].
    #[error("not a dyad sync bundle (its first line is not {MAGIC:?} or {MAGIC_V1:?})")]
    NotABundle,
    /// A line that is not canonical, with its number (1 is the magic).
    #[error("line {line}: {reason}")]
    Malformed {
        /// The line number (the magic is line 1).
        line: u64,
        /// What is wrong with it.
        reason: Malformed,
    },
    /// The input ends before the end line.
    #[error(
        "truncated after line {line}: the bundle ends without its `end` line (an incomplete copy?)"
    )]
    Truncated {
        /// The last whole line.
        line: u64,
    },
    /// The end line's count is not the number of records read.
    #[error("the end line counts {stated} records but the bundle holds {found}")]
    CountMismatch {
        /// The count on the end line.
        stated: u64,
        /// The records read.
        found: u64,
    },
    /// Bytes follow the end line.
    #[error("there is data after the end line")]
    TrailingData,
    /// The end line's SHA-256 is not that of the content.
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

/// A whole bundle in memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bundle {
    /// The format version on the first line.
    pub version: Version,
    /// The channel origin on the origin line.
    pub origin: String,
    /// The records, in order.
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
            version: decoder.version(),
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
        let mut w = Encoder::with_version(Vec::new(), &self.origin, self.version)
            .expect("writing to a Vec");
        for r in &self.records {
            w.record(r).expect("writing to a Vec");
        }
        w.finish().expect("writing to a Vec").0
    }
}

#[cfg(test)]
mod tests;
