//! Evidence of equivocation: two checkpoints signed by the same key that cannot both be
//! true, in a self-verifying file (spec/evidence.md defines the format and what counts
//! as proof).
//!
//! Two contradictions are provable from signed data and public keys alone:
//!
//! - [`Contradiction::SameSize`]: the two checkpoints have the same origin and size and
//!   different roots;
//! - [`Contradiction::DifferentLeaf`]: for one index below both sizes, an inclusion proof
//!   in each tree shows a different leaf hash at that index. A tree that extends another
//!   has the same leaves below the smaller size, so the two trees are not one history.
//!
//! A consistency proof that fails to verify is *not* evidence: anyone can write a wrong
//! proof. The signer may be the log (a type-0x01 key named by the origin) or a co-signer
//! or witness (a type-0x04 cosignature key): a co-signature on two contradicting
//! checkpoints is as much an equivocation as the log's signature on them.

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
use crate::text::{parse_hash, push_hash_lines, split_notes, LineError, Lines};

/// The first line of an evidence file.
pub const HEADER: &str = "dyad-equivocation/v1";
/// Most inclusion proof hashes per tree: a tree of up to 2^64 - 1 leaves is 64 high.
pub const MAX_PROOF_HASHES: usize = proof::MAX_INCLUSION_PROOF_HASHES;
/// Largest evidence file: two notes of the largest size `note` accepts, plus the lines.
pub const MAX_EVIDENCE_BYTES: usize = 2 * note::MAX_NOTE_BYTES + 16 * 1024;

const KIND_SAME_SIZE: &str = "same-size";
const KIND_DIFFERENT_LEAF: &str = "different-leaf";

/// A leaf hash and its inclusion proof in one of the two trees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeafInclusion {
    /// The leaf hash at the evidence's index in this tree.
    pub leaf_hash: Hash,
    /// Its inclusion proof, leaf upwards (RFC 9162 2.1.3).
    pub proof: Vec<Hash>,
}

/// Why the two checkpoints cannot both be true.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Contradiction {
    /// Same origin and size, different roots.
    SameSize,
    /// Different leaf hashes at `index` in the two trees.
    DifferentLeaf {
        /// A leaf index below both sizes.
        index: u64,
        /// The leaf at `index` in the first checkpoint's tree.
        first: LeafInclusion,
        /// The leaf at `index` in the second checkpoint's tree.
        second: LeafInclusion,
    },
}

/// A parsed evidence file; nothing verified yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// What contradicts what.
    pub contradiction: Contradiction,
    /// The first checkpoint note, verbatim.
    pub first_note: Vec<u8>,
    /// The second checkpoint note, verbatim.
    pub second_note: Vec<u8>,
}

/// Evidence that verified: `signer` signed both checkpoints, and they contradict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedEvidence {
    /// The key that signed (or co-signed) both checkpoints.
    pub signer: VerifierKey,
    /// The first checkpoint.
    pub first: Checkpoint,
    /// The second checkpoint.
    pub second: Checkpoint,
    /// The signer's cosignature timestamps, for a type-0x04 key.
    pub timestamps: Option<(u64, u64)>,
    /// The contradiction.
    pub contradiction: Contradiction,
}

/// Why evidence was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EvidenceError {
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
    /// More than [`MAX_PROOF_HASHES`] proof hashes for one tree.
    #[error("line {line}: more than {MAX_PROOF_HASHES} inclusion proof hashes")]
    TooManyProofHashes {
        /// The line number, from 1.
        line: usize,
    },
    /// The note lengths do not add up to the bytes after the blank line.
    #[error("the note lengths add up to {stated} bytes, {found} follow the blank line")]
    LengthMismatch {
        /// The sum of the `note` lines.
        stated: u64,
        /// The bytes present.
        found: usize,
    },
    /// A note does not carry a valid signature by the key (or is malformed).
    #[error("checkpoint {which}: {error}")]
    NotSigned {
        /// 1 or 2.
        which: u8,
        /// Why.
        error: NoteError,
    },
    /// A note's text is not a checkpoint.
    #[error("checkpoint {which}: {error}")]
    Checkpoint {
        /// 1 or 2.
        which: u8,
        /// Why.
        error: CheckpointError,
    },
    /// The checkpoints are of different logs: no contradiction.
    #[error("the checkpoints have different origins {first:?} and {second:?}")]
    DifferentOrigins {
        /// The first's origin.
        first: String,
        /// The second's.
        second: String,
    },
    /// `same-size` evidence whose checkpoints have different sizes.
    #[error("same-size evidence with sizes {first} and {second}")]
    SizesDiffer {
        /// The first's size.
        first: u64,
        /// The second's.
        second: u64,
    },
    /// `same-size` evidence whose checkpoints have the same root: no contradiction.
    #[error("the checkpoints have the same size and root: no contradiction")]
    SameRoot,
    /// `different-leaf` evidence whose leaf hashes are equal: no contradiction.
    #[error("the two leaf hashes are equal: no contradiction")]
    SameLeaf,
    /// An inclusion proof does not verify (including an index not below the size).
    #[error("checkpoint {which}: inclusion proof: {error}")]
    Inclusion {
        /// 1 or 2.
        which: u8,
        /// Why.
        error: ProofError,
    },
}

/// Writes an evidence file (spec/evidence.md): the inverse of [`parse`]. Nothing is
/// checked; [`verify`] the result before handing it on.
pub fn build(first_note: &[u8], second_note: &[u8], contradiction: &Contradiction) -> Vec<u8> {
    fn tree(head: &mut String, note: &[u8], leaf: Option<&LeafInclusion>) {
        head.push_str(&format!("note {}\n", note.len()));
        if let Some(leaf) = leaf {
            head.push_str(&format!("leaf {}\n", BASE64.encode(leaf.leaf_hash)));
            push_hash_lines(head, &leaf.proof);
        }
    }
    let mut head = format!("{HEADER}\n");
    match contradiction {
        Contradiction::SameSize => {
            head.push_str(&format!("kind {KIND_SAME_SIZE}\n"));
            tree(&mut head, first_note, None);
            tree(&mut head, second_note, None);
        }
        Contradiction::DifferentLeaf {
            index,
            first,
            second,
        } => {
            head.push_str(&format!("kind {KIND_DIFFERENT_LEAF}\nindex {index}\n"));
            tree(&mut head, first_note, Some(first));
            tree(&mut head, second_note, Some(second));
        }
    }
    head.push('\n');
    let mut out = head.into_bytes();
    out.extend_from_slice(first_note);
    out.extend_from_slice(second_note);
    out
}

impl From<LineError> for EvidenceError {
    fn from(error: LineError) -> Self {
        match error {
            LineError::Truncated { line } => EvidenceError::Truncated { line },
            LineError::Unexpected { line, expected } => {
                EvidenceError::UnexpectedLine { line, expected }
            }
        }
    }
}

/// `leaf <base64>` then zero or more base64 hash lines, up to the next `note` line or the
/// blank line.
fn leaf(lines: &mut Lines<'_>) -> Result<LeafInclusion, EvidenceError> {
    let leaf_hash = lines.hash("leaf", "'leaf <base64 leaf hash>'")?;
    let mut proof = Vec::new();
    while !lines.rest().starts_with(b"note ") && !lines.rest().starts_with(b"\n") {
        let line = lines.line();
        if proof.len() == MAX_PROOF_HASHES {
            return Err(EvidenceError::TooManyProofHashes { line });
        }
        let hash = parse_hash(lines.next()?).ok_or(EvidenceError::UnexpectedLine {
            line,
            expected: "a base64 proof hash, 'note <length>' or the blank line",
        })?;
        proof.push(hash);
    }
    Ok(LeafInclusion { leaf_hash, proof })
}

/// Parses an evidence file exactly as spec/evidence.md lays it out. Nothing is verified:
/// see [`verify`].
pub fn parse(bytes: &[u8]) -> Result<Evidence, EvidenceError> {
    const NOTE: &str = "'note <length in decimal>'";
    if bytes.len() > MAX_EVIDENCE_BYTES {
        return Err(EvidenceError::TooLarge { len: bytes.len() });
    }
    let mut lines = Lines::new(bytes);
    if lines.next().map_err(|_| EvidenceError::NotEvidence)? != HEADER.as_bytes() {
        return Err(EvidenceError::NotEvidence);
    }
    let line = lines.line();
    let kind = lines.field("kind", "'kind same-size' or 'kind different-leaf'")?;
    let (contradiction, first_len, second_len) = if kind == KIND_SAME_SIZE.as_bytes() {
        let first_len = lines.decimal("note", NOTE)?;
        let second_len = lines.decimal("note", NOTE)?;
        (Contradiction::SameSize, first_len, second_len)
    } else if kind == KIND_DIFFERENT_LEAF.as_bytes() {
        let index = lines.decimal("index", "'index <leaf index in decimal>'")?;
        let first_len = lines.decimal("note", NOTE)?;
        let first = leaf(&mut lines)?;
        let second_len = lines.decimal("note", NOTE)?;
        let second = leaf(&mut lines)?;
        let contradiction = Contradiction::DifferentLeaf {
            index,
            first,
            second,
        };
        (contradiction, first_len, second_len)
    } else {
        return Err(EvidenceError::UnexpectedLine {
            line,
            expected: "'kind same-size' or 'kind different-leaf'",
        });
    };
    let line = lines.line();
    if !lines.next()?.is_empty() {
        return Err(EvidenceError::UnexpectedLine {
            line,
            expected: "the blank line before the notes",
        });
    }
    let notes = lines.rest();
    let (first_note, second_note) =
        split_notes(notes, first_len, second_len).map_err(|stated| {
            EvidenceError::LengthMismatch {
                stated,
                found: notes.len(),
            }
        })?;
    Ok(Evidence {
        contradiction,
        first_note: first_note.to_vec(),
        second_note: second_note.to_vec(),
    })
}

/// Verifies evidence against the public key of the party accused: both notes carry a
/// valid signature by `key` (a type-0x01 note signature, such as the log's under the
/// origin, or a type-0x04 cosignature), both are checkpoints of the same origin, and they
/// contradict each other as the evidence says (spec/evidence.md, "Verification").
pub fn verify(bytes: &[u8], key: &VerifierKey) -> Result<VerifiedEvidence, EvidenceError> {
    let evidence = parse(bytes)?;
    let signed = |which: u8, note_bytes: &[u8]| {
        let verified = note::verify(note_bytes, core::slice::from_ref(key))
            .map_err(|error| EvidenceError::NotSigned { which, error })?;
        let timestamp = verified.verified.first().and_then(|v| v.timestamp);
        let checkpoint = checkpoint::parse(&verified.text)
            .map_err(|error| EvidenceError::Checkpoint { which, error })?;
        Ok::<_, EvidenceError>((checkpoint, timestamp))
    };
    let (first, first_time) = signed(1, &evidence.first_note)?;
    let (second, second_time) = signed(2, &evidence.second_note)?;
    if first.origin != second.origin {
        return Err(EvidenceError::DifferentOrigins {
            first: first.origin,
            second: second.origin,
        });
    }
    match &evidence.contradiction {
        Contradiction::SameSize => {
            if first.size != second.size {
                return Err(EvidenceError::SizesDiffer {
                    first: first.size,
                    second: second.size,
                });
            }
            if first.root == second.root {
                return Err(EvidenceError::SameRoot);
            }
        }
        Contradiction::DifferentLeaf {
            index,
            first: first_leaf,
            second: second_leaf,
        } => {
            if first_leaf.leaf_hash == second_leaf.leaf_hash {
                return Err(EvidenceError::SameLeaf);
            }
            for (which, checkpoint, leaf) in [(1, &first, first_leaf), (2, &second, second_leaf)] {
                proof::verify_inclusion(
                    &leaf.leaf_hash,
                    *index,
                    checkpoint.size,
                    &leaf.proof,
                    &checkpoint.root,
                )
                .map_err(|error| EvidenceError::Inclusion { which, error })?;
            }
        }
    }
    let timestamps = first_time.zip(second_time);
    Ok(VerifiedEvidence {
        signer: key.clone(),
        first,
        second,
        timestamps,
        contradiction: evidence.contradiction,
    })
}
