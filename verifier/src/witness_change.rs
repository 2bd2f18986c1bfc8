//! Witness changes (spec/dyad.md section 3.8): a `witness-change` entry, signed by its
//! sender, replaces the channel's witnesses and threshold; its payload carries the other
//! party's approval, a signature over the witness-change statement. This module holds the
//! payload, the statement and the rules that need only the entry ([`check_form`],
//! [`approval_verifies`]); the rules that need the channel's history (which number comes
//! next, which keys were ever used, whose key approves) are the channel's.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use crate::entry_codec::Entry;
use crate::genesis_record::Party;
use crate::key::{self, KeyError, SignatureType, VerifierKey};
use crate::rules::{EntryError, Identifier, KeyOwner, Kind, MAX_WITNESSES};
use crate::wire::Reader;

/// The witness change's content type (section 3.8).
pub const WITNESS_CHANGE_CONTENT_TYPE: &str = "application/vnd.dyad.witness-change.v1";
/// The domain label that starts the witness-change statement (section 3.8); its NUL makes
/// it differ from every entry message, key-change statement and signed-note text.
pub const WITNESS_CHANGE_STATEMENT_PREFIX: &[u8] = b"dyad-witness-change/v1\x00";
/// The approval's length: an Ed25519 signature.
pub const APPROVAL_LEN: usize = 64;
/// The largest witness-change payload: 32 witnesses of 255-byte names (the entry's own
/// 65535-byte bound is the one that matters; this bounds a caller's buffer).
pub const MAX_PAYLOAD_LEN: usize =
    4 + 8 + MAX_WITNESSES as usize * (8 + 255 + 32) + 1 + APPROVAL_LEN;

/// Why a witness-change entry breaks a rule of section 3.8. Each variant is one refusal;
/// [`WitnessChangeError::code`] gives the name the spec uses for it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessChangeError {
    /// A witness change whose content type is not the witness change's.
    #[error("a witness change's content type is {0:?}, not {WITNESS_CHANGE_CONTENT_TYPE:?}")]
    WrongContentType(String),
    /// The payload is not a witness-change record (a length runs past the end, bytes are
    /// left after the approval, a name is not UTF-8 of 1..=255 bytes).
    #[error("a witness change's payload is not a witness-change record: {0}")]
    MalformedPayload(Box<EntryError>),
    /// More than [`MAX_WITNESSES`] witnesses.
    #[error("a witness change names {count} witnesses, more than {MAX_WITNESSES}")]
    TooManyWitnesses {
        /// The count read.
        count: u64,
    },
    /// The threshold exceeds the number of witnesses.
    #[error("a witness change's threshold {threshold} exceeds its {witnesses} witnesses")]
    ThresholdTooHigh {
        /// The threshold.
        threshold: u8,
        /// The number of witnesses.
        witnesses: usize,
    },
    /// A witness change with `reply_to`.
    #[error("a witness change carries no reply_to")]
    WitnessChangeWithReplyTo,
    /// A witness change that names attachments.
    #[error("a witness change names no attachments")]
    WitnessChangeWithAttachments,
    /// A witness's name or public key is not a valid key (sections 2.1, 4).
    #[error("witness {index} of the witness change: {error}")]
    InvalidWitness {
        /// Its position in the list.
        index: usize,
        /// What is wrong.
        error: KeyError,
    },
    /// Two witnesses of the list share a name, public key or key ID (section 4).
    #[error("witness {index} of the witness change has the same {identifier} as witness {other}")]
    DuplicateWitness {
        /// The later of the two.
        index: usize,
        /// The earlier.
        other: usize,
        /// What they share.
        identifier: Identifier,
    },
    /// `number` is not the count of earlier witness changes plus one.
    #[error("the witness change is number {found}, but the next is number {expected} (`WrongWitnessChangeNumber`, spec 3.8)")]
    WrongWitnessChangeNumber {
        /// The number the channel's history expects.
        expected: u32,
        /// The payload's.
        found: u32,
    },
    /// A new witness repeats a party's name, or a public key or key ID of a key the
    /// channel has had that was not this same witness.
    #[error("witness {index} of the witness change repeats the {identifier} of {previous}; a witness is either one the channel had, with the same name and key, or new")]
    WitnessKeyReused {
        /// Its position in the list.
        index: usize,
        /// What it repeats.
        identifier: Identifier,
        /// Whose it was.
        previous: KeyOwner,
    },
    /// The approval does not verify strictly under the other party's current key.
    #[error("the approval does not verify under the other party's current key; the other party must approve this exact witness set and number (`dyad witness-change approve`)")]
    BadApproval,
}

impl WitnessChangeError {
    /// The rule's name as the spec gives it, stable for scripts and error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            WitnessChangeError::WrongContentType(_) => "WrongContentType",
            WitnessChangeError::MalformedPayload(_)
            | WitnessChangeError::TooManyWitnesses { .. }
            | WitnessChangeError::ThresholdTooHigh { .. } => "MalformedPayload",
            WitnessChangeError::WitnessChangeWithReplyTo => "WitnessChangeWithReplyTo",
            WitnessChangeError::WitnessChangeWithAttachments => "WitnessChangeWithAttachments",
            WitnessChangeError::InvalidWitness { .. }
            | WitnessChangeError::DuplicateWitness { .. } => "InvalidWitness",
            WitnessChangeError::WrongWitnessChangeNumber { .. } => "WrongWitnessChangeNumber",
            WitnessChangeError::WitnessKeyReused { .. } => "WitnessKeyReused",
            WitnessChangeError::BadApproval => "BadApproval",
        }
    }
}

impl From<EntryError> for WitnessChangeError {
    fn from(e: EntryError) -> Self {
        WitnessChangeError::MalformedPayload(Box::new(e))
    }
}

/// A witness change's payload, the witness-change record:
/// `number: u32 || witnesses: list<party> || witness_threshold: u8 || approval: 64 bytes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessChangePayload {
    /// The count of witness changes before this one, plus one.
    pub number: u32,
    /// The new witnesses (0..=32), in the order they are listed.
    pub witnesses: Vec<Party>,
    /// How many of `witnesses` must co-sign a checkpoint from the next index on.
    pub witness_threshold: u8,
    /// The other party's signature over the witness-change statement.
    pub approval: [u8; APPROVAL_LEN],
}

impl WitnessChangePayload {
    /// The record without its approval: what the statement signs after the origin.
    pub fn encode_terms(&self) -> Vec<u8> {
        let names: usize = self.witnesses.iter().map(|w| 8 + w.name.len() + 32).sum();
        let mut out = Vec::with_capacity(4 + 8 + names + 1 + APPROVAL_LEN);
        out.extend_from_slice(&self.number.to_be_bytes());
        out.extend_from_slice(&(self.witnesses.len() as u64).to_be_bytes());
        for w in &self.witnesses {
            out.extend_from_slice(&(w.name.len() as u64).to_be_bytes());
            out.extend_from_slice(w.name.as_bytes());
            out.extend_from_slice(&w.public_key);
        }
        out.push(self.witness_threshold);
        out
    }

    /// The payload bytes (section 3.8).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.encode_terms();
        out.extend_from_slice(&self.approval);
        out
    }

    /// Reads a payload canonically and checks the list's own rules (section 4's party
    /// rules: valid names and keys, pairwise distinct; the threshold at most the count).
    pub fn decode(payload: &[u8]) -> Result<WitnessChangePayload, WitnessChangeError> {
        let mut r = Reader::new(payload);
        let number = r.u32("witness change number")?;
        let count = r.u64("witnesses")?;
        if count > MAX_WITNESSES {
            return Err(WitnessChangeError::TooManyWitnesses { count });
        }
        // count <= 32: a bounded allocation.
        let mut witnesses = Vec::with_capacity(count as usize);
        for index in 0..count as usize {
            let (name, _) = r.string("witness name", 1, 255)?;
            let public_key = r.array::<32>("witness public_key")?;
            let witness = Party {
                name: String::from(name),
                public_key,
            };
            witness
                .entry_key()
                .map_err(|error| WitnessChangeError::InvalidWitness { index, error })?;
            witnesses.push(witness);
        }
        let witness_threshold = r.u8("witness_threshold")?;
        let approval = r.array::<APPROVAL_LEN>("approval")?;
        r.finish()?;
        check_distinct(&witnesses)?;
        if usize::from(witness_threshold) > witnesses.len() {
            return Err(WitnessChangeError::ThresholdTooHigh {
                threshold: witness_threshold,
                witnesses: witnesses.len(),
            });
        }
        Ok(WitnessChangePayload {
            number,
            witnesses,
            witness_threshold,
            approval,
        })
    }
}

/// The type-0x01 and type-0x04 key IDs of a party under its name.
pub(crate) fn key_ids(p: &Party) -> [u32; 2] {
    [SignatureType::Ed25519, SignatureType::CosignatureV1]
        .map(|t| key::key_id(&p.name, t, &p.public_key))
}

/// Section 4's rule within the list: names, public keys and key IDs pairwise distinct.
fn check_distinct(witnesses: &[Party]) -> Result<(), WitnessChangeError> {
    for (index, w) in witnesses.iter().enumerate() {
        for (other, v) in witnesses[..index].iter().enumerate() {
            let identifier = if w.name == v.name {
                Identifier::Name
            } else if w.public_key == v.public_key {
                Identifier::PublicKey
            } else if key_ids(w).iter().any(|id| key_ids(v).contains(id)) {
                Identifier::KeyId
            } else {
                continue;
            };
            return Err(WitnessChangeError::DuplicateWitness {
                index,
                other,
                identifier,
            });
        }
    }
    Ok(())
}

/// The witness-change statement the other party signs (section 3.8):
/// `"dyad-witness-change/v1" || 0x00 || string(origin) || the payload without its last 64
/// bytes`, with `string` = u64 length || bytes (section 3.1).
pub fn statement(origin: &str, payload: &WitnessChangePayload) -> Vec<u8> {
    let terms = payload.encode_terms();
    let mut out =
        Vec::with_capacity(WITNESS_CHANGE_STATEMENT_PREFIX.len() + 8 + origin.len() + terms.len());
    out.extend_from_slice(WITNESS_CHANGE_STATEMENT_PREFIX);
    out.extend_from_slice(&(origin.len() as u64).to_be_bytes());
    out.extend_from_slice(origin.as_bytes());
    out.extend_from_slice(&terms);
    out
}

/// Whether the approval verifies strictly under `approver` (the other party's current
/// entry key, section 3.8) for the channel `origin`.
pub fn approval_verifies(
    origin: &str,
    payload: &WitnessChangePayload,
    approver: &VerifierKey,
) -> bool {
    approver.verify_strict(&statement(origin, payload), &payload.approval)
}

/// The form rules of section 3.8 (content type, the payload's encoding and the list's own
/// rules, no `reply_to`, no attachments), checked before the reply rules of 3.3 so that a
/// refusal names the rule of 3.8. Returns the payload of a witness change; `None` for
/// every other kind.
pub fn check_form(entry: &Entry) -> Result<Option<WitnessChangePayload>, WitnessChangeError> {
    if entry.kind != Kind::WitnessChange {
        return Ok(None);
    }
    if entry.content_type != WITNESS_CHANGE_CONTENT_TYPE {
        return Err(WitnessChangeError::WrongContentType(
            entry.content_type.clone(),
        ));
    }
    let payload = WitnessChangePayload::decode(&entry.payload)?;
    if entry.reply_to.is_some() {
        return Err(WitnessChangeError::WitnessChangeWithReplyTo);
    }
    if !entry.attachments.is_empty() {
        return Err(WitnessChangeError::WitnessChangeWithAttachments);
    }
    Ok(Some(payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn witness(name: &str, seed: u8) -> Party {
        let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
        Party {
            name: String::from(name),
            public_key: key.verifying_key().to_bytes(),
        }
    }

    fn payload(witnesses: Vec<Party>, threshold: u8) -> WitnessChangePayload {
        WitnessChangePayload {
            number: 1,
            witnesses,
            witness_threshold: threshold,
            approval: [7; 64],
        }
    }

    #[test]
    fn round_trips_and_refuses_trailing_bytes() {
        let p = payload(vec![witness("w1.example", 1), witness("w2.example", 2)], 1);
        let bytes = p.encode();
        assert_eq!(WitnessChangePayload::decode(&bytes).unwrap(), p);
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            WitnessChangePayload::decode(&longer).unwrap_err().code(),
            "MalformedPayload"
        );
        assert_eq!(
            WitnessChangePayload::decode(&bytes[..bytes.len() - 1])
                .unwrap_err()
                .code(),
            "MalformedPayload"
        );
    }

    #[test]
    fn refuses_a_list_that_breaks_section_4() {
        let cases: [(WitnessChangePayload, &str); 3] = [
            (
                payload(vec![witness("w1.example", 1)], 2),
                "MalformedPayload",
            ),
            (
                payload(vec![witness("w.example", 1), witness("w.example", 2)], 0),
                "InvalidWitness",
            ),
            (
                payload(vec![witness("a.example", 1), witness("b.example", 1)], 0),
                "InvalidWitness",
            ),
        ];
        for (p, code) in cases {
            let err = WitnessChangePayload::decode(&p.encode()).unwrap_err();
            assert_eq!(err.code(), code, "{err}");
        }
        let mut many = payload(vec![], 0).encode_terms();
        many[4..12].copy_from_slice(&33u64.to_be_bytes());
        many.push(0);
        many.extend_from_slice(&[0; 64]);
        assert_eq!(
            WitnessChangePayload::decode(&many).unwrap_err(),
            WitnessChangeError::TooManyWitnesses { count: 33 }
        );
    }

    #[test]
    fn the_statement_covers_the_origin_and_the_terms_not_the_approval() {
        let p = payload(vec![witness("w1.example", 1)], 1);
        let s = statement("example.org/log", &p);
        assert!(s.starts_with(WITNESS_CHANGE_STATEMENT_PREFIX));
        assert!(s.ends_with(&p.encode_terms()));
        let mut other = p.clone();
        other.approval = [9; 64];
        assert_eq!(statement("example.org/log", &other), s);
        assert_ne!(statement("example.org/other", &p), s);
    }
}
