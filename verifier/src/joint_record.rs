//! Joint records (spec/dyad.md section 3.6): a `record` one party sends and the other
//! party's `endorsement` of it, by index and leaf hash. This module holds the endorsement
//! payload's encoding and the rules, as pure functions the verifier's entry check and
//! audit and the ledger's channel rules share: [`check_form`] needs only the entry and
//! its index, [`check_target`] what the log holds at the endorsed index.

use crate::entry_codec::Entry;
use crate::hash::Hash;
use crate::rules::Kind;

pub use crate::rules::{EndorsementError, ENDORSEMENT_CONTENT_TYPE, ENDORSEMENT_PAYLOAD_LEN};

/// What an endorsement names (its payload): `u64 record index || record leaf hash`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndorsementPayload {
    /// The endorsed record's index.
    pub record: u64,
    /// The endorsed record's leaf hash (RFC 9162: SHA-256 of 0x00 || entry bytes).
    pub record_leaf_hash: Hash,
}

impl EndorsementPayload {
    /// The payload bytes (section 3.6).
    pub fn encode(&self) -> [u8; ENDORSEMENT_PAYLOAD_LEN] {
        let mut out = [0; ENDORSEMENT_PAYLOAD_LEN];
        out[..8].copy_from_slice(&self.record.to_be_bytes());
        out[8..].copy_from_slice(&self.record_leaf_hash);
        out
    }

    /// Reads a payload; it is exactly 40 bytes, so every payload has one encoding.
    pub fn decode(payload: &[u8]) -> Result<EndorsementPayload, EndorsementError> {
        let bytes: &[u8; ENDORSEMENT_PAYLOAD_LEN] = payload
            .try_into()
            .map_err(|_| EndorsementError::MalformedPayload { len: payload.len() })?;
        let (index, hash) = bytes.split_at(8);
        let mut record = [0; 8];
        record.copy_from_slice(index);
        let mut record_leaf_hash = [0; 32];
        record_leaf_hash.copy_from_slice(hash);
        Ok(EndorsementPayload {
            record: u64::from_be_bytes(record),
            record_leaf_hash,
        })
    }
}

/// The fields of an entry the rules of section 3.6 read, borrowed from either crate's
/// entry type.
#[derive(Clone, Copy, Debug)]
pub struct JointFields<'a> {
    /// Field 3.
    pub kind: Kind,
    /// Field 7.
    pub reply_to: Option<u64>,
    /// Field 8.
    pub subject: &'a str,
    /// Field 9.
    pub content_type: &'a str,
    /// Field 10.
    pub payload: &'a [u8],
    /// How many attachments field 11 names.
    pub attachments: usize,
}

impl Entry {
    /// The fields the rules of section 3.6 read.
    pub fn joint_fields(&self) -> JointFields<'_> {
        JointFields {
            kind: self.kind,
            reply_to: self.reply_to,
            subject: &self.subject,
            content_type: &self.content_type,
            payload: &self.payload,
            attachments: self.attachments.len(),
        }
    }
}

/// The rules of section 3.6 that need only the entry and its index: a record has a
/// subject and a payload or an attachment; an endorsement has the endorsement content
/// type, a 40-byte payload naming an earlier index, `reply_to` equal to that index and no
/// attachments. Returns what an endorsement names; `None` for every other kind.
pub fn check_form(
    entry: &JointFields<'_>,
    index: u64,
) -> Result<Option<EndorsementPayload>, EndorsementError> {
    match entry.kind {
        Kind::Record => {
            if entry.subject.is_empty() {
                return Err(EndorsementError::RecordWithoutSubject);
            }
            if entry.payload.is_empty() && entry.attachments == 0 {
                return Err(EndorsementError::RecordWithoutContent);
            }
            Ok(None)
        }
        Kind::Endorsement => {
            if entry.content_type != ENDORSEMENT_CONTENT_TYPE {
                return Err(EndorsementError::WrongContentType(
                    entry.content_type.into(),
                ));
            }
            let named = EndorsementPayload::decode(entry.payload)?;
            // Checked before the reply rules so that the refusal names the rule of 3.6.
            if named.record == 0 {
                return Err(EndorsementError::EndorsementOfNonRecord { record: 0 });
            }
            if named.record >= index {
                return Err(EndorsementError::EndorsedIndexMissing {
                    record: named.record,
                });
            }
            if entry.reply_to != Some(named.record) {
                return Err(EndorsementError::ReplyToNotRecord {
                    reply_to: entry.reply_to,
                    record: named.record,
                });
            }
            if entry.attachments != 0 {
                return Err(EndorsementError::EndorsementWithAttachments);
            }
            Ok(Some(named))
        }
        _ => Ok(None),
    }
}

/// A record in the log, as far as its endorsement is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordState {
    /// The record's sender (type-0x01 key ID).
    pub sender: u32,
    /// Its leaf hash.
    pub leaf_hash: Hash,
    /// The index of its endorsement, once there is one.
    pub endorsed_in: Option<u64>,
}

/// What the log holds at the index an endorsement names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndorsedTarget {
    /// Nothing: the index is not in the log before the endorsement.
    Missing,
    /// An entry of another kind than record.
    NotARecord,
    /// A record.
    Record(RecordState),
}

/// The rules of section 3.6 that need the log before the endorsement: the named index is
/// a record, sent by the other party (`endorser` is the endorsement's sender), not yet
/// endorsed, with the leaf hash the endorsement names.
pub fn check_target(
    endorser: u32,
    named: &EndorsementPayload,
    target: EndorsedTarget,
) -> Result<(), EndorsementError> {
    let record = named.record;
    let state = match target {
        EndorsedTarget::Missing => return Err(EndorsementError::EndorsedIndexMissing { record }),
        EndorsedTarget::NotARecord => {
            return Err(EndorsementError::EndorsementOfNonRecord { record })
        }
        EndorsedTarget::Record(state) => state,
    };
    if state.sender == endorser {
        return Err(EndorsementError::EndorsementOfOwnRecord { record });
    }
    if let Some(first) = state.endorsed_in {
        return Err(EndorsementError::SecondEndorsement { record, first });
    }
    if state.leaf_hash != named.record_leaf_hash {
        return Err(EndorsementError::EndorsedLeafHashMismatch { record });
    }
    Ok(())
}

impl EndorsementError {
    /// The rule's name, stable for scripts and error bodies (the variant's name).
    pub fn code(&self) -> &'static str {
        match self {
            EndorsementError::RecordWithoutSubject => "RecordWithoutSubject",
            EndorsementError::RecordWithoutContent => "RecordWithoutContent",
            EndorsementError::WrongContentType(_) => "WrongContentType",
            EndorsementError::MalformedPayload { .. } => "MalformedPayload",
            EndorsementError::ReplyToNotRecord { .. } => "ReplyToNotRecord",
            EndorsementError::EndorsementWithAttachments => "EndorsementWithAttachments",
            EndorsementError::EndorsedIndexMissing { .. } => "EndorsedIndexMissing",
            EndorsementError::EndorsementOfNonRecord { .. } => "EndorsementOfNonRecord",
            EndorsementError::EndorsementOfOwnRecord { .. } => "EndorsementOfOwnRecord",
            EndorsementError::SecondEndorsement { .. } => "SecondEndorsement",
            EndorsementError::EndorsedLeafHashMismatch { .. } => "EndorsedLeafHashMismatch",
            EndorsementError::ReceiptNotOfRecord(_) => "ReceiptNotOfRecord",
            EndorsementError::ReceiptNotOfEndorsement(_) => "ReceiptNotOfEndorsement",
            EndorsementError::EndorsesAnotherEntry { .. } => "EndorsesAnotherEntry",
            EndorsementError::DifferentCheckpoints => "DifferentCheckpoints",
        }
    }
}
