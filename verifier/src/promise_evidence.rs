//! Evidence of a broken promise of inclusion (spec/evidence.md, "Broken promises"): the
//! log signed a promise to put a leaf at an index, and signed a checkpoint whose tree
//! holds another leaf at that index.
//!
//! A file carries the promise note (`dyad-promise/v1`, spec/node.md 4.1), a checkpoint note
//! covering the index, and an RFC 9162 inclusion proof of the leaf the tree really holds
//! there. Both notes verify under the log key alone, so anyone holding the sequencer's
//! public key can check it offline: no access to either replica, no trust in whoever
//! presents it.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use crate::checkpoint::{self, Checkpoint, CheckpointError};
use crate::hash::Hash;
use crate::key::VerifierKey;
use crate::note::{self, NoteError};
use crate::proof::{self, ProofError};
use crate::text::{parse_decimal, parse_hash, push_hash_lines, split_notes, LineError, Lines};

/// The first line of a broken-promise evidence file.
pub const HEADER: &str = "dyad-broken-promise/v1";
/// The first line of a promise's text (spec/node.md 4.1).
pub const PROMISE_HEADER: &str = "dyad-promise/v1";
/// Most (index, leaf hash) pairs one promise lists (spec/node.md 4.1).
pub const MAX_PROMISED_ENTRIES: usize = 1024;
/// Most inclusion proof hashes: a tree of up to 2^64 - 1 leaves is 64 high.
pub const MAX_PROOF_HASHES: usize = proof::MAX_INCLUSION_PROOF_HASHES;
/// Largest evidence file: two notes of the largest size `note` accepts, plus the lines.
pub const MAX_EVIDENCE_BYTES: usize = 2 * note::MAX_NOTE_BYTES + 16 * 1024;

/// A parsed broken-promise evidence file; nothing verified yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokenPromise {
    /// The promised index.
    pub index: u64,
    /// The leaf hash the checkpoint's tree holds at `index`.
    pub found_leaf: Hash,
    /// Its inclusion proof in the checkpoint's tree, leaf upwards (RFC 9162 2.1.3).
    pub proof: Vec<Hash>,
    /// The promise note, verbatim.
    pub promise_note: Vec<u8>,
    /// The checkpoint note, verbatim.
    pub checkpoint_note: Vec<u8>,
}

/// A promise of inclusion, read from its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PromiseText {
    /// The log's origin.
    pub origin: String,
    /// (index, leaf hash) of each promised entry, by strictly increasing index.
    pub entries: Vec<(u64, Hash)>,
}

/// Evidence that verified: the log signed both the promise and a tree that breaks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedBrokenPromise {
    /// The log key that signed both notes.
    pub signer: VerifierKey,
    /// The promised index.
    pub index: u64,
    /// The leaf hash promised at `index`.
    pub promised_leaf: Hash,
    /// The leaf hash the signed tree holds at `index`.
    pub found_leaf: Hash,
    /// How many entries the promise lists in all.
    pub promised_entries: usize,
    /// The checkpoint whose tree breaks the promise.
    pub checkpoint: Checkpoint,
}

/// Why broken-promise evidence was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BrokenPromiseError {
    /// Larger than [`MAX_EVIDENCE_BYTES`].
    #[error("evidence is {len} bytes, more than the {MAX_EVIDENCE_BYTES} accepted")]
    TooLarge {
        /// Its length.
        len: usize,
    },
    /// The first line is not [`HEADER`].
    #[error("the first line is not {HEADER:?}")]
    NotEvidence,
    /// A line ends without a newline.
    #[error("line {line} has no newline: the evidence is truncated")]
    Truncated {
        /// The line number, from 1.
        line: usize,
    },
    /// A line is not what the format has at that place.
    #[error("line {line}: expected {expected}")]
    UnexpectedLine {
        /// The line number, from 1.
        line: usize,
        /// What the format has there.
        expected: &'static str,
    },
    /// More than [`MAX_PROOF_HASHES`] proof hashes.
    #[error("line {line}: more than {MAX_PROOF_HASHES} inclusion proof hashes")]
    TooManyProofHashes {
        /// The line number, from 1.
        line: usize,
    },
    /// The note lengths do not add up to the bytes after the blank line.
    #[error("the note lengths add up to {stated} bytes, {found} follow the blank line")]
    LengthMismatch {
        /// The sum of the `promise` and `checkpoint` lines.
        stated: u64,
        /// The bytes present.
        found: usize,
    },
    /// The promise note does not carry a valid signature by the key (or is malformed).
    #[error("the promise: {0}")]
    PromiseNotSigned(NoteError),
    /// The promise note's text is not a `dyad-promise/v1`.
    #[error("the promise's text is not a canonical {PROMISE_HEADER}: {0}")]
    MalformedPromise(&'static str),
    /// The checkpoint note does not carry a valid signature by the key (or is malformed).
    #[error("the checkpoint: {0}")]
    CheckpointNotSigned(NoteError),
    /// The checkpoint note's text is not a checkpoint.
    #[error("the checkpoint: {0}")]
    Checkpoint(CheckpointError),
    /// The promise and the checkpoint are of different logs.
    #[error("the promise is for origin {promise:?}, the checkpoint for {checkpoint:?}")]
    DifferentOrigins {
        /// The promise's origin.
        promise: String,
        /// The checkpoint's.
        checkpoint: String,
    },
    /// The promise lists no entry at the evidence's index.
    #[error("the promise lists no entry at index {index}")]
    NotPromised {
        /// The evidence's index.
        index: u64,
    },
    /// The checkpoint's tree does not reach the index: the promise is not due yet.
    #[error("the checkpoint's tree of size {size} does not reach index {index}")]
    NotCovered {
        /// The evidence's index.
        index: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// The tree holds the promised leaf: the promise is kept.
    #[error("the tree holds the promised leaf at index {index}: the promise is kept")]
    PromiseKept {
        /// The evidence's index.
        index: u64,
    },
    /// The inclusion proof does not verify against the checkpoint.
    #[error("the inclusion proof of the leaf found at index {index}: {error}")]
    Inclusion {
        /// The evidence's index.
        index: u64,
        /// Why.
        error: ProofError,
    },
}

/// Writes a broken-promise evidence file (spec/evidence.md): the inverse of [`parse`].
/// Nothing is checked; [`verify`] the result before handing it on.
pub fn build(
    index: u64,
    found_leaf: &Hash,
    proof: &[Hash],
    promise_note: &[u8],
    checkpoint_note: &[u8],
) -> Vec<u8> {
    let mut head = format!(
        "{HEADER}\nindex {index}\npromise {}\ncheckpoint {}\nleaf {}\n",
        promise_note.len(),
        checkpoint_note.len(),
        BASE64.encode(found_leaf)
    );
    push_hash_lines(&mut head, proof);
    head.push('\n');
    let mut out = head.into_bytes();
    out.extend_from_slice(promise_note);
    out.extend_from_slice(checkpoint_note);
    out
}

impl From<LineError> for BrokenPromiseError {
    fn from(error: LineError) -> Self {
        match error {
            LineError::Truncated { line } => BrokenPromiseError::Truncated { line },
            LineError::Unexpected { line, expected } => {
                BrokenPromiseError::UnexpectedLine { line, expected }
            }
        }
    }
}

/// Parses a broken-promise evidence file exactly as spec/evidence.md lays it out. Nothing
/// is verified: see [`verify`].
pub fn parse(bytes: &[u8]) -> Result<BrokenPromise, BrokenPromiseError> {
    if bytes.len() > MAX_EVIDENCE_BYTES {
        return Err(BrokenPromiseError::TooLarge { len: bytes.len() });
    }
    let mut lines = Lines::new(bytes);
    if lines.next().map_err(|_| BrokenPromiseError::NotEvidence)? != HEADER.as_bytes() {
        return Err(BrokenPromiseError::NotEvidence);
    }
    let index = lines.decimal("index", "'index <promised index in decimal>'")?;
    let promise_len = lines.decimal("promise", "'promise <length in decimal>'")?;
    let checkpoint_len = lines.decimal("checkpoint", "'checkpoint <length in decimal>'")?;
    let found_leaf = lines.hash("leaf", "'leaf <base64 leaf hash>'")?;
    let mut proof = Vec::new();
    loop {
        let line = lines.line();
        let text = lines.next()?;
        if text.is_empty() {
            break;
        }
        if proof.len() == MAX_PROOF_HASHES {
            return Err(BrokenPromiseError::TooManyProofHashes { line });
        }
        proof.push(parse_hash(text).ok_or(BrokenPromiseError::UnexpectedLine {
            line,
            expected: "a base64 proof hash or the blank line",
        })?);
    }
    let notes = lines.rest();
    let (promise_note, checkpoint_note) =
        split_notes(notes, promise_len, checkpoint_len).map_err(|stated| {
            BrokenPromiseError::LengthMismatch {
                stated,
                found: notes.len(),
            }
        })?;
    Ok(BrokenPromise {
        index,
        found_leaf,
        proof,
        promise_note: promise_note.to_vec(),
        checkpoint_note: checkpoint_note.to_vec(),
    })
}

/// Reads a promise's text (spec/node.md 4.1): the header, the origin, then index and
/// leaf-hash line pairs (1 to [`MAX_PROMISED_ENTRIES`], indexes strictly increasing), in
/// the one canonical encoding.
pub fn parse_promise_text(text: &str) -> Result<PromiseText, BrokenPromiseError> {
    let malformed = BrokenPromiseError::MalformedPromise;
    let body = text
        .strip_suffix('\n')
        .ok_or(malformed("it does not end in a newline"))?;
    let mut lines = body.split('\n');
    if lines.next() != Some(PROMISE_HEADER) {
        return Err(malformed("the first line is not dyad-promise/v1"));
    }
    let origin = lines
        .next()
        .filter(|o| !o.is_empty())
        .ok_or(malformed("no origin line"))?;
    let mut entries: Vec<(u64, Hash)> = Vec::new();
    while let Some(index) = lines.next() {
        if entries.len() == MAX_PROMISED_ENTRIES {
            return Err(malformed("more than 1024 entries"));
        }
        let index = parse_decimal(index.as_bytes())
            .ok_or(malformed("an index is not a canonical decimal"))?;
        if entries.last().is_some_and(|&(prev, _)| index <= prev) {
            return Err(malformed("the indexes do not strictly increase"));
        }
        let hash = lines
            .next()
            .and_then(|h| parse_hash(h.as_bytes()))
            .ok_or(malformed("an index without a canonical base64 leaf hash"))?;
        entries.push((index, hash));
    }
    if entries.is_empty() {
        return Err(malformed("it lists no entry"));
    }
    Ok(PromiseText {
        origin: origin.into(),
        entries,
    })
}

/// Verifies broken-promise evidence against the log key (the sequencer's key under the
/// origin's name, type 0x01): both notes carry a valid signature by `key`, the promise
/// lists a leaf at the index, the checkpoint (same origin) covers the index, and the
/// inclusion proof shows another leaf there (spec/evidence.md, "Broken promises").
pub fn verify(
    bytes: &[u8],
    key: &VerifierKey,
) -> Result<VerifiedBrokenPromise, BrokenPromiseError> {
    let evidence = parse(bytes)?;
    let signed = |note_bytes: &[u8]| {
        let verified = note::verify(note_bytes, core::slice::from_ref(key))?;
        if verified.verified.iter().any(|v| v.key == *key) {
            Ok(verified.text)
        } else {
            Err(NoteError::NoVerifiedSignature)
        }
    };
    let promise_text =
        signed(&evidence.promise_note).map_err(BrokenPromiseError::PromiseNotSigned)?;
    let promise = parse_promise_text(&promise_text)?;
    let checkpoint_text =
        signed(&evidence.checkpoint_note).map_err(BrokenPromiseError::CheckpointNotSigned)?;
    let checkpoint = checkpoint::parse(&checkpoint_text).map_err(BrokenPromiseError::Checkpoint)?;
    if promise.origin != checkpoint.origin {
        return Err(BrokenPromiseError::DifferentOrigins {
            promise: promise.origin,
            checkpoint: checkpoint.origin,
        });
    }
    let index = evidence.index;
    let promised_leaf = promise
        .entries
        .iter()
        .find(|(i, _)| *i == index)
        .map(|(_, h)| *h)
        .ok_or(BrokenPromiseError::NotPromised { index })?;
    if index >= checkpoint.size {
        return Err(BrokenPromiseError::NotCovered {
            index,
            size: checkpoint.size,
        });
    }
    if promised_leaf == evidence.found_leaf {
        return Err(BrokenPromiseError::PromiseKept { index });
    }
    proof::verify_inclusion(
        &evidence.found_leaf,
        index,
        checkpoint.size,
        &evidence.proof,
        &checkpoint.root,
    )
    .map_err(|error| BrokenPromiseError::Inclusion { index, error })?;
    Ok(VerifiedBrokenPromise {
        signer: key.clone(),
        index,
        promised_leaf,
        found_leaf: evidence.found_leaf,
        promised_entries: promise.entries.len(),
        checkpoint,
    })
}
