//! C2SP tlog-checkpoint note text: origin, tree size, root hash, then optional
//! extension lines, each ending in a newline.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use crate::hash::Hash;
use crate::note::{self, NoteError};
use crate::text::{control_byte, is_canonical_decimal, parse_decimal};

/// Why a checkpoint text was rejected. Line numbers count from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    #[error("checkpoint contains control character 0x{byte:02x} at byte {offset}")]
    ControlCharacter { offset: usize, byte: u8 },
    #[error("checkpoint does not end in a newline")]
    MissingFinalNewline,
    #[error("checkpoint has {count} lines, want at least 3")]
    TooFewLines { count: usize },
    #[error("checkpoint origin (line 1) is empty")]
    EmptyOrigin,
    #[error("tree size (line 2) is not a decimal number without sign or leading zeros")]
    MalformedSize,
    #[error("tree size (line 2) does not fit in 64 bits")]
    SizeOverflow,
    #[error("root hash (line 3) is not canonical standard base64")]
    RootNotBase64,
    #[error("root hash (line 3) has {length} bytes, want 32")]
    RootWrongLength { length: usize },
    #[error("extension line {line} is empty")]
    EmptyExtensionLine { line: usize },
}

/// A log's signed tree head: which log, how many leaves, and their Merkle root.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    /// Opaque lines after the root, without their newlines.
    pub extensions: Vec<String>,
}

/// Why bytes are not a checkpoint note: a C2SP signed note whose text is a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointNoteError {
    /// The bytes are not a signed note.
    #[error("not a signed note: {0}")]
    Note(NoteError),
    /// The note's text is not a checkpoint.
    #[error("not a checkpoint: {0}")]
    Checkpoint(CheckpointError),
}

/// The checkpoint a signed note carries. Its signatures are not checked here: that is
/// for the caller who knows which keys to trust ([`note::verify`]).
pub fn parse_note(note: &[u8]) -> Result<Checkpoint, CheckpointNoteError> {
    let parsed = note::parse(note).map_err(CheckpointNoteError::Note)?;
    parse(&parsed.text).map_err(CheckpointNoteError::Checkpoint)
}

/// Parses a checkpoint body (the note text, final newline included).
pub fn parse(text: &str) -> Result<Checkpoint, CheckpointError> {
    if let Some((offset, byte)) = control_byte(text) {
        return Err(CheckpointError::ControlCharacter { offset, byte });
    }
    let body = text
        .strip_suffix('\n')
        .ok_or(CheckpointError::MissingFinalNewline)?;
    let mut lines = body.split('\n');
    let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next()) else {
        let count = if body.is_empty() {
            0
        } else {
            body.split('\n').count()
        };
        return Err(CheckpointError::TooFewLines { count });
    };
    if origin.is_empty() {
        return Err(CheckpointError::EmptyOrigin);
    }
    let size = parse_size(size)?;
    let root = parse_root(root)?;
    let extensions = lines
        .enumerate()
        .map(|(i, line)| match line {
            "" => Err(CheckpointError::EmptyExtensionLine { line: i + 4 }),
            _ => Ok(line.to_string()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Checkpoint {
        origin: origin.to_string(),
        size,
        root,
        extensions,
    })
}

/// ASCII decimal with no leading zeros unless the tree is empty (tlog-checkpoint,
/// "Note text"); `u64::from_str` alone would also take a '+' sign and leading zeros.
fn parse_size(line: &str) -> Result<u64, CheckpointError> {
    if !is_canonical_decimal(line.as_bytes()) {
        return Err(CheckpointError::MalformedSize);
    }
    parse_decimal(line.as_bytes()).ok_or(CheckpointError::SizeOverflow)
}

fn parse_root(line: &str) -> Result<Hash, CheckpointError> {
    let bytes = BASE64
        .decode(line)
        .map_err(|_| CheckpointError::RootNotBase64)?;
    Hash::try_from(bytes.as_slice()).map_err(|_| CheckpointError::RootWrongLength {
        length: bytes.len(),
    })
}

impl Checkpoint {
    /// The checkpoint's note text, as [`parse`] reads it.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        );
        for extension in &self.extensions {
            text.push_str(extension);
            text.push('\n');
        }
        text
    }
}
