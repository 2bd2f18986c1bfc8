//! C2SP signed-note: a text, a blank line, then one or more signature lines
//! `— <key name> base64(key ID || signature)`.
//!
//! Verification follows the spec's "Signatures" section: a signature line
//! belongs to a known key only when both name and key ID match; lines of unknown
//! keys are ignored; a known key's signature that fails rejects the whole note;
//! a note with no verified signature by a known key is rejected.

use alloc::borrow::Cow;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use crate::cosignature::{self, MAX_TIMESTAMP};
use crate::key::{self, KeyError, SignatureType, VerifierKey};
use crate::text::control_byte;

/// Largest note accepted, in bytes.
pub const MAX_NOTE_BYTES: usize = 1 << 20;

/// Most signature lines a note may carry. The spec asks verifiers to accept at
/// least 16; a dyad checkpoint carries two plus any witnesses.
pub const MAX_SIGNATURES: usize = 100;

/// Em dash (U+2014) and space: how every signature line starts.
const SIGNATURE_LINE_PREFIX: &str = "\u{2014} ";

/// Length of the key ID that starts every decoded signature.
const KEY_ID_LEN: usize = 4;

/// Why a note was rejected. Line numbers count signature lines from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    #[error("note has {length} bytes, at most {MAX_NOTE_BYTES} are accepted")]
    TooLarge { length: usize },
    #[error("note is not valid UTF-8 (at byte {offset})")]
    InvalidUtf8 { offset: usize },
    #[error("note contains control character 0x{byte:02x} at byte {offset}")]
    ControlCharacter { offset: usize, byte: u8 },
    #[error("note has no blank line between text and signatures")]
    NoBlankLine,
    #[error("note has no signature lines")]
    NoSignatures,
    #[error("note's last signature line does not end in a newline")]
    MissingFinalNewline,
    #[error("note has {count} signature lines, at most {MAX_SIGNATURES} are accepted")]
    TooManySignatures { count: usize },
    #[error("signature line {line} is not '\u{2014} <name> <base64>'")]
    MalformedSignatureLine { line: usize },
    #[error("signature line {line} has an invalid key name: {reason}")]
    InvalidKeyName { line: usize, reason: KeyError },
    #[error("signature line {line} is not canonical standard base64")]
    SignatureNotBase64 { line: usize },
    #[error("signature line {line} has {length} bytes, want a 4-byte key ID and at least 1 signature byte")]
    SignatureTooShort { line: usize, length: usize },
    #[error("invalid signature by known key {name}+{key_id:08x}")]
    InvalidSignature { name: String, key_id: u32 },
    #[error(
        "signature by known key {name}+{key_id:08x} has {length} bytes, which its type never has"
    )]
    SignatureWrongLength {
        name: String,
        key_id: u32,
        length: usize,
    },
    #[error("cosignature by {name}+{key_id:08x} has timestamp {timestamp}, above 2^63 - 1")]
    TimestampOutOfRange {
        name: String,
        key_id: u32,
        timestamp: u64,
    },
    #[error("known key {name}+{key_id:08x} signed the note more than once")]
    DuplicateSignature { name: String, key_id: u32 },
    #[error("note has no verified signature by a known key")]
    NoVerifiedSignature,
}

/// One signature line, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub key_id: u32,
    /// The signature bytes after the key ID.
    pub signature: Vec<u8>,
}

/// A note split into its text and signature lines; nothing verified yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Everything before the last blank line, including its final newline.
    pub text: String,
    pub signatures: Vec<NoteSignature>,
}

/// A signature that a known key verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    pub key: VerifierKey,
    /// The cosignature's timestamp for a `cosignature/v1` key; `None` for Ed25519.
    pub timestamp: Option<u64>,
}

/// A note whose text is vouched for by at least one known key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedNote {
    pub text: String,
    /// In the order the lines appear in the note.
    pub verified: Vec<VerifiedSignature>,
    /// Lines whose (name, key ID) matched no known key; ignored, never checked.
    pub unverified: Vec<NoteSignature>,
}

/// Splits a signed note into text and signatures, checking its form (C2SP
/// signed-note, "Format") but no signature.
pub fn parse(note: &[u8]) -> Result<Note, NoteError> {
    if note.len() > MAX_NOTE_BYTES {
        return Err(NoteError::TooLarge { length: note.len() });
    }
    let note = core::str::from_utf8(note).map_err(|e| NoteError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    if let Some((offset, byte)) = control_byte(note) {
        return Err(NoteError::ControlCharacter { offset, byte });
    }

    // The text may itself contain blank lines: only the last one separates.
    let separator = note.rfind("\n\n").ok_or(NoteError::NoBlankLine)?;
    let (text, signature_block) = (&note[..=separator], &note[separator + 2..]);
    if signature_block.is_empty() {
        return Err(NoteError::NoSignatures);
    }
    let Some(lines) = signature_block.strip_suffix('\n') else {
        return Err(NoteError::MissingFinalNewline);
    };
    let count = signature_block.bytes().filter(|&b| b == b'\n').count();
    if count > MAX_SIGNATURES {
        return Err(NoteError::TooManySignatures { count });
    }

    let signatures = lines
        .split('\n')
        .enumerate()
        .map(|(i, line)| parse_signature_line(i + 1, line))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Note {
        text: text.to_string(),
        signatures,
    })
}

fn parse_signature_line(line_number: usize, line: &str) -> Result<NoteSignature, NoteError> {
    let malformed = NoteError::MalformedSignatureLine { line: line_number };
    let (name, encoded) = line
        .strip_prefix(SIGNATURE_LINE_PREFIX)
        .and_then(|rest| rest.split_once(' '))
        .ok_or(malformed)?;
    key::validate_name(name).map_err(|reason| NoteError::InvalidKeyName {
        line: line_number,
        reason,
    })?;
    let bytes = BASE64
        .decode(encoded)
        .map_err(|_| NoteError::SignatureNotBase64 { line: line_number })?;
    match bytes.split_first_chunk::<KEY_ID_LEN>() {
        Some((key_id, signature)) if !signature.is_empty() => Ok(NoteSignature {
            name: name.to_string(),
            key_id: u32::from_be_bytes(*key_id),
            signature: signature.to_vec(),
        }),
        _ => Err(NoteError::SignatureTooShort {
            line: line_number,
            length: bytes.len(),
        }),
    }
}

/// Parses a note and verifies it against `keys` (see the module documentation).
/// A key signs at most once: a second line by the same key rejects the note.
pub fn verify(note: &[u8], keys: &[VerifierKey]) -> Result<VerifiedNote, NoteError> {
    let Note { text, signatures } = parse(note)?;
    let mut verified: Vec<VerifiedSignature> = Vec::new();
    let mut unverified = Vec::new();
    for signature in signatures {
        let known = keys
            .iter()
            .find(|k| k.name() == signature.name && k.key_id() == signature.key_id);
        let Some(key) = known else {
            unverified.push(signature);
            continue;
        };
        if verified.iter().any(|v| v.key == *key) {
            return Err(NoteError::DuplicateSignature {
                name: signature.name,
                key_id: signature.key_id,
            });
        }
        let timestamp = verify_signature(key, &text, &signature.signature)?;
        verified.push(VerifiedSignature {
            key: key.clone(),
            timestamp,
        });
    }
    if verified.is_empty() {
        return Err(NoteError::NoVerifiedSignature);
    }
    Ok(VerifiedNote {
        text,
        verified,
        unverified,
    })
}

/// Checks one known key's signature over `text`; returns the cosignature timestamp.
fn verify_signature(
    key: &VerifierKey,
    text: &str,
    signature: &[u8],
) -> Result<Option<u64>, NoteError> {
    let name = || key.name().to_string();
    let wrong_length = || NoteError::SignatureWrongLength {
        name: name(),
        key_id: key.key_id(),
        length: signature.len(),
    };
    let (message, signature, timestamp) = match key.signature_type() {
        SignatureType::Ed25519 => {
            let signature: [u8; 64] = signature.try_into().map_err(|_| wrong_length())?;
            (Cow::Borrowed(text.as_bytes()), signature, None)
        }
        SignatureType::CosignatureV1 => {
            let (timestamp, signature) =
                cosignature::split_timestamped_signature(signature).ok_or_else(wrong_length)?;
            if timestamp > MAX_TIMESTAMP {
                return Err(NoteError::TimestampOutOfRange {
                    name: name(),
                    key_id: key.key_id(),
                    timestamp,
                });
            }
            (
                Cow::Owned(cosignature::signed_message(timestamp, text)),
                signature,
                Some(timestamp),
            )
        }
    };
    if !key.verify_strict(&message, &signature) {
        return Err(NoteError::InvalidSignature {
            name: name(),
            key_id: key.key_id(),
        });
    }
    Ok(timestamp)
}

/// Formats one signature line, `— <name> base64(key ID || signature)` and a
/// newline, exactly as [`parse`] reads it. The name is not checked here; names
/// taken from a [`VerifierKey`] are valid.
pub fn signature_line(name: &str, key_id: u32, signature: &[u8]) -> String {
    let mut bytes = Vec::with_capacity(KEY_ID_LEN + signature.len());
    bytes.extend_from_slice(&key_id.to_be_bytes());
    bytes.extend_from_slice(signature);
    format!("{SIGNATURE_LINE_PREFIX}{name} {}\n", BASE64.encode(bytes))
}
