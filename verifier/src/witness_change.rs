//! Witness changes (spec/dyad.md section 3.8): a `witness-change` entry, signed by its
//! sender, replaces the channel's witnesses and threshold; its payload carries the other
//! party's approval, a signature over the witness-change statement. This module holds the
//! payload, the statement and the rules that need only the entry ([`check_form`],
//! [`approval_verifies`]); the rules that need the channel's history (which number comes
//! next, which keys were ever used, whose key approves) are the channel's.

use alloc::string::String;
use alloc::vec::Vec;

use crate::entry_codec::Entry;
use crate::genesis_record::Party;
use crate::key::{self, SignatureType, VerifierKey};
use crate::rules::{Identifier, Kind, MAX_WITNESSES};
use crate::wire::Reader;

// The error type and the constants are defined with the other rules' (`rules`), which
// `EntryError` needs; these are their public paths.
pub use crate::rules::{
    WitnessChangeError, WITNESS_CHANGE_CONTENT_TYPE, WITNESS_CHANGE_STATEMENT_PREFIX,
};

/// The approval's length: an Ed25519 signature.
pub const APPROVAL_LEN: usize = 64;
/// The largest witness-change payload: 32 witnesses of 255-byte names (the entry's own
/// 65535-byte bound is the one that matters; this bounds a caller's buffer).
pub const MAX_PAYLOAD_LEN: usize =
    4 + 8 + MAX_WITNESSES as usize * (8 + 255 + 32) + 1 + APPROVAL_LEN;

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
        for _ in 0..count {
            let (name, _) = r.string("witness name", 1, 255)?;
            let public_key = r.array::<32>("witness public_key")?;
            witnesses.push(Party {
                name: String::from(name),
                public_key,
            });
        }
        let witness_threshold = r.u8("witness_threshold")?;
        let approval = r.array::<APPROVAL_LEN>("approval")?;
        r.finish()?;
        let payload = WitnessChangePayload {
            number,
            witnesses,
            witness_threshold,
            approval,
        };
        payload.check_terms()?;
        Ok(payload)
    }

    /// Section 4's rules on the new list, which need no history: at most 32 witnesses,
    /// each a valid key name with a valid Ed25519 key not of small order, names, public keys
    /// and key IDs pairwise distinct, and the threshold at most their count. A party checks
    /// a proposed set with it before it approves one.
    pub fn check_terms(&self) -> Result<(), WitnessChangeError> {
        if self.witnesses.len() as u64 > MAX_WITNESSES {
            return Err(WitnessChangeError::TooManyWitnesses {
                count: self.witnesses.len() as u64,
            });
        }
        for (index, witness) in self.witnesses.iter().enumerate() {
            witness
                .entry_key()
                .map_err(|error| WitnessChangeError::InvalidWitness { index, error })?;
        }
        check_distinct(&self.witnesses)?;
        if usize::from(self.witness_threshold) > self.witnesses.len() {
            return Err(WitnessChangeError::ThresholdTooHigh {
                threshold: self.witness_threshold,
                witnesses: self.witnesses.len(),
            });
        }
        Ok(())
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
