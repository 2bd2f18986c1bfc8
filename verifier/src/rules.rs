//! The rules entries and genesis records share (spec/dyad.md sections 3 and 4): their
//! constants and limits, the kinds of entry, the roles of a genesis's parties, and the two
//! error types that name a broken rule.
//!
//! [`EntryError`] and [`GenesisError`] contain each other: a genesis entry fails as an
//! entry with a genesis error, and a malformed genesis record fails with the entry
//! encoding's error. So they are defined together here, below both decoders, and the
//! `entry` and `genesis` modules re-export them.

use alloc::boxed::Box;
use alloc::string::String;
use core::fmt;

use crate::key::KeyError;

// Entries (section 3.1).

/// The only entry version (field 1).
pub const VERSION: u8 = 0x01;
/// An encoded entry is at most this long: C2SP tlog-tiles entry bundles prefix each entry
/// with a u16 length (section 3.1).
pub const MAX_ENTRY_SIZE: usize = 65535;
/// The domain label that starts every signed entry message (section 3.4). The NUL after it
/// cannot occur in signed-note text, so an entry signature never verifies as a note
/// signature or cosignature (section 2.2).
pub const SIGNED_MESSAGE_PREFIX: &[u8] = b"dyad-entry/v1\x00";
/// Longest origin, in bytes (field 2).
pub const MAX_ORIGIN_LEN: u64 = 255;
/// Longest subject, in bytes (field 8).
pub const MAX_SUBJECT_LEN: u64 = 1024;
/// Longest content type, attachment name or attachment content type, in bytes.
pub const MAX_SHORT_STRING_LEN: u64 = 255;
/// Most attachments one entry may name (field 11).
pub const MAX_ATTACHMENTS: u64 = 16;
/// Encoded size of one signature: key ID (u32) and Ed25519 signature (64 bytes).
pub const SIGNATURE_LEN: usize = 4 + 64;

// The genesis record (section 4).

/// The only genesis record version (field 1).
pub const RECORD_VERSION: u8 = 0x01;
/// The genesis entry's content type (section 4).
pub const CONTENT_TYPE: &str = "application/vnd.dyad.genesis.v1";
/// Most witnesses a genesis may name (field 5).
pub const MAX_WITNESSES: u64 = 32;
/// Largest `max_payload` (field 7): a payload this size still fits in a 65535-byte entry
/// with room for the other fields.
pub const MAX_MAX_PAYLOAD: u32 = 61440;
/// Largest `max_clock_skew_s` (field 9): one day.
pub const MAX_CLOCK_SKEW_S: u32 = 86400;

/// The kind of an entry (section 3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Kind {
    /// 0: the channel's first entry (section 4).
    Genesis,
    /// 1: a question about malicious activity that seems to come from the other's territory.
    Inquiry,
    /// 2: an answer; `reply_to` is required.
    Response,
    /// 3: a share of threat indicators.
    ThreatIndicators,
    /// 4: a notification, e.g. of an exercise or an incident under way.
    Notification,
    /// 5: a working-group record (agenda, minutes, joint statement) for the other party
    /// to endorse (section 3.6).
    Record,
    /// 6: the other party's endorsement of a record (section 3.6).
    Endorsement,
    /// 7: the sender replaces its key (section 3.7).
    KeyChange,
    /// 8: both parties replace the witnesses and their threshold (section 3.8).
    WitnessChange,
}

impl Kind {
    /// Every kind, in value order.
    pub const ALL: [Kind; 9] = [
        Kind::Genesis,
        Kind::Inquiry,
        Kind::Response,
        Kind::ThreatIndicators,
        Kind::Notification,
        Kind::Record,
        Kind::Endorsement,
        Kind::KeyChange,
        Kind::WitnessChange,
    ];

    /// How many kinds there are (the length of per-kind counts).
    pub const COUNT: usize = Kind::ALL.len();

    /// The kind with this encoded value, if any.
    pub fn from_u8(value: u8) -> Option<Kind> {
        Kind::ALL.get(usize::from(value)).copied()
    }

    /// The encoded value (field 3).
    pub fn as_u8(self) -> u8 {
        match self {
            Kind::Genesis => 0,
            Kind::Inquiry => 1,
            Kind::Response => 2,
            Kind::ThreatIndicators => 3,
            Kind::Notification => 4,
            Kind::Record => 5,
            Kind::Endorsement => 6,
            Kind::KeyChange => 7,
            Kind::WitnessChange => 8,
        }
    }

    /// The name used by the spec's table in section 3.2 and by the vectors.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Genesis => "genesis",
            Kind::Inquiry => "inquiry",
            Kind::Response => "response",
            Kind::ThreatIndicators => "threat-indicators",
            Kind::Notification => "notification",
            Kind::Record => "record",
            Kind::Endorsement => "endorsement",
            Kind::KeyChange => "key-change",
            Kind::WitnessChange => "witness-change",
        }
    }

    /// The kind with this name (the inverse of [`Kind::as_str`]).
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// How many signatures an entry of this kind carries (field 12): the genesis entry is
    /// signed by both parties, every other entry by its sender alone.
    pub fn signature_count(self) -> usize {
        if self == Kind::Genesis {
            2
        } else {
            1
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which party of a genesis a problem is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartyRole {
    /// The sequencer.
    Sequencer,
    /// The co-signer.
    Cosigner,
    /// The witness at this position in field 5.
    Witness(usize),
}

impl fmt::Display for PartyRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartyRole::Sequencer => f.write_str("sequencer"),
            PartyRole::Cosigner => f.write_str("co-signer"),
            PartyRole::Witness(i) => write!(f, "witness {i}"),
        }
    }
}

/// Which of a party's identifiers collide with another's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Identifier {
    /// The key name.
    Name,
    /// The public key.
    PublicKey,
    /// A key ID (type 0x01 or 0x04).
    KeyId,
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Identifier::Name => "name",
            Identifier::PublicKey => "public key",
            Identifier::KeyId => "key ID",
        })
    }
}

/// Why an entry was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// The encoding is longer than [`MAX_ENTRY_SIZE`].
    #[error("entry is {len} bytes, more than the {MAX_ENTRY_SIZE} allowed (spec 3.1)")]
    TooLarge {
        /// Its length.
        len: usize,
    },
    /// A field, or a length or count, runs past the end of the bytes.
    #[error("truncated: {field} at byte {offset} needs {needed} bytes, only {remaining} remain")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Where it starts.
        offset: usize,
        /// How many bytes it needs.
        needed: u64,
        /// How many bytes were left.
        remaining: usize,
    },
    /// Bytes follow field 12.
    #[error("{count} trailing bytes after the signatures, from byte {offset}")]
    TrailingBytes {
        /// Where the trailing bytes start.
        offset: usize,
        /// How many there are.
        count: usize,
    },
    /// Field 1 is not [`VERSION`].
    #[error("unknown entry version {0}")]
    UnknownVersion(u8),
    /// Field 3 is not a kind of section 3.2.
    #[error("unknown entry kind {0}")]
    UnknownKind(u8),
    /// An option tag other than 0 or 1.
    #[error("{field}: option tag {tag} is neither 0 nor 1")]
    BadOptionTag {
        /// The field.
        field: &'static str,
        /// The tag byte.
        tag: u8,
    },
    /// A string field is not UTF-8.
    #[error("{field} at byte {offset} is not valid UTF-8")]
    InvalidUtf8 {
        /// The field.
        field: &'static str,
        /// Where its bytes start.
        offset: usize,
    },
    /// A string field's length is outside its range.
    #[error("{field} at byte {offset} is {len} bytes, outside {min}..={max}")]
    Length {
        /// The field.
        field: &'static str,
        /// Where its bytes start.
        offset: usize,
        /// Its length.
        len: u64,
        /// The shortest allowed.
        min: u64,
        /// The longest allowed.
        max: u64,
    },
    /// A subject or attachment name contains a control character (C0, DEL, C1) or a
    /// bidirectional formatting character.
    #[error("{field} at byte {offset} contains a control or bidirectional-formatting character")]
    ControlCharacter {
        /// The field.
        field: &'static str,
        /// Where its bytes start.
        offset: usize,
    },
    /// A content type is not printable ASCII (0x20 to 0x7E).
    #[error("{field} at byte {offset} is not printable ASCII")]
    NotPrintableAscii {
        /// The field.
        field: &'static str,
        /// Where its bytes start.
        offset: usize,
    },
    /// An attachment name contains `/` or `\\`, or is `.` or `..`: unsafe as a file name.
    #[error("attachment {index}: its name contains '/' or '\\', or is \".\" or \"..\"")]
    UnsafeAttachmentName {
        /// The attachment's position in field 11.
        index: usize,
    },
    /// More than [`MAX_ATTACHMENTS`] attachments.
    #[error("{count} attachments, more than {MAX_ATTACHMENTS}")]
    TooManyAttachments {
        /// The count read.
        count: u64,
    },
    /// Attachments are not strictly ascending by hash (out of order, or a duplicate).
    #[error("attachment {index} is not strictly after attachment {} by SHA-256", index - 1)]
    AttachmentsUnsorted {
        /// The first attachment that is not greater than the one before it.
        index: usize,
    },
    /// Field 12 has the wrong number of signatures for the kind.
    #[error("a {kind} entry carries {expected} signatures, this one {found}")]
    WrongSignatureCount {
        /// The entry's kind.
        kind: Kind,
        /// What the kind requires.
        expected: usize,
        /// The count read.
        found: u64,
    },
    /// The origin is not the channel's (a replay from another channel, section 3.3).
    #[error("entry origin {found:?} is not the channel origin {expected:?}")]
    WrongOrigin {
        /// The channel's origin.
        expected: String,
        /// The entry's.
        found: String,
    },
    /// The sender is not one of the two parties (section 3.4).
    #[error("sender key ID {key_id:08x} is not a party of the channel")]
    SenderNotAParty {
        /// The entry's `sender`.
        key_id: u32,
    },
    /// A signature's key ID is not the one the rules require.
    #[error("signature {position} has key ID {found:08x}, expected {expected:08x}")]
    SignatureKeyMismatch {
        /// The signature's position in field 12.
        position: usize,
        /// The key ID required there.
        expected: u32,
        /// The key ID found.
        found: u32,
    },
    /// The entry carries no signature by this key.
    #[error("no signature with key ID {key_id:08x}")]
    MissingSignature {
        /// The key's ID.
        key_id: u32,
    },
    /// A key that cannot sign entries (entries use type-0x01 keys, section 2.2).
    #[error("key {key_id:08x} is not an Ed25519 (type 0x01) key")]
    WrongKeyType {
        /// The key's ID.
        key_id: u32,
    },
    /// A signature does not verify (strictly, section 3.4).
    #[error("signature by key {key_id:08x} does not verify")]
    BadSignature {
        /// The signing key's ID.
        key_id: u32,
    },
    /// The [`Entry`](crate::entry::Entry) given does not describe the bytes given.
    #[error("the decoded entry does not match the entry bytes")]
    EntryBytesMismatch,
    /// A genesis entry anywhere but index 0 (section 3.2).
    #[error("genesis entry at index {index}; genesis is only at index 0")]
    GenesisNotFirst {
        /// The entry's index.
        index: u64,
    },
    /// Index 0 holds something other than the genesis entry (section 3.2).
    #[error("index 0 holds a {kind} entry, not the genesis")]
    FirstNotGenesis {
        /// The entry's kind.
        kind: Kind,
    },
    /// The genesis entry or record breaks a rule of section 4.
    #[error("genesis: {0}")]
    Genesis(#[from] GenesisError),
    /// Index 0 holds a valid genesis, but not this channel's.
    #[error("index 0 is a valid genesis entry, but not this channel's")]
    GenesisMismatch,
    /// A response without `reply_to` (section 3.2).
    #[error("a response must carry reply_to")]
    ResponseWithoutReplyTo,
    /// `reply_to` is 0, the genesis (section 3.3).
    #[error("entry {index} replies to the genesis (reply_to 0)")]
    ReplyToGenesis {
        /// The entry's index.
        index: u64,
    },
    /// `reply_to` is not before the entry (section 3.3).
    #[error("entry {index} replies to {reply_to}, which is not earlier")]
    ReplyToNotEarlier {
        /// The entry's index.
        index: u64,
        /// Its `reply_to`.
        reply_to: u64,
    },
    /// The payload is larger than the channel's `max_payload` (section 3.1).
    #[error("payload is {len} bytes, more than the channel's max_payload {max}")]
    PayloadTooLarge {
        /// The payload's length.
        len: usize,
        /// The channel's limit.
        max: u32,
    },
    /// A record or endorsement breaks a rule of section 3.6.
    #[error("{0}")]
    JointRecord(#[from] EndorsementError),
    /// A key-change entry breaks a rule of section 3.7.
    #[error("{0}")]
    KeyChange(#[from] KeyChangeError),
    /// A witness-change entry breaks a rule of section 3.8.
    #[error("{0}")]
    WitnessChange(#[from] WitnessChangeError),
    /// The entry is signed by a party's key that a key change at an earlier index retired
    /// (section 3.7): from the index after the change, only the new key signs.
    #[error("sender key ID {key_id:08x} is the {role}'s key retired by the key change at entry {retired_at}; entries after it are signed by the new key (`RetiredKey`, spec 3.7)")]
    RetiredKey {
        /// The entry's `sender`.
        key_id: u32,
        /// Whose key it was.
        role: PartyRole,
        /// The index of the key change that retired it.
        retired_at: u64,
    },
    /// An attachment is larger than the channel's `max_attachment_size` (section 3.5).
    #[error(
        "attachment {index} is {size} bytes, more than the channel's max_attachment_size {max}"
    )]
    AttachmentTooLarge {
        /// Its position in field 11.
        index: usize,
        /// Its size.
        size: u64,
        /// The channel's limit.
        max: u64,
    },
}

/// Why a record or an endorsement breaks a rule of section 3.6. The first group needs
/// only the entry and its index; the second the log before it (the auditor, the ledger);
/// the last compares two receipts (`endorsement::check_receipts`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EndorsementError {
    /// A record with an empty subject.
    #[error("a record must have a subject")]
    RecordWithoutSubject,
    /// A record with neither a payload nor an attachment.
    #[error("a record must carry its text as the payload or a document as an attachment")]
    RecordWithoutContent,
    /// An endorsement whose content type is not the endorsement's.
    #[error("an endorsement's content type is {0:?}, not {ENDORSEMENT_CONTENT_TYPE:?}")]
    WrongContentType(String),
    /// An endorsement payload that is not exactly 40 bytes.
    #[error("an endorsement's payload is {len} bytes, not {ENDORSEMENT_PAYLOAD_LEN}")]
    MalformedPayload {
        /// Its length.
        len: usize,
    },
    /// An endorsement whose `reply_to` is not the record index its payload names.
    #[error("an endorsement's reply_to ({reply_to:?}) must be the record it endorses ({record})")]
    ReplyToNotRecord {
        /// The entry's `reply_to`.
        reply_to: Option<u64>,
        /// The index in its payload.
        record: u64,
    },
    /// An endorsement that names attachments.
    #[error("an endorsement names no attachments")]
    EndorsementWithAttachments,
    /// The endorsed index is not an earlier entry of the log.
    #[error("endorsed entry {record} is not in the log before the endorsement")]
    EndorsedIndexMissing {
        /// The endorsed index.
        record: u64,
    },
    /// The endorsed entry is not a record (the genesis included).
    #[error("entry {record} is not a record; only records are endorsed")]
    EndorsementOfNonRecord {
        /// The endorsed index.
        record: u64,
    },
    /// The record's own sender endorses it.
    #[error("entry {record} was sent by the endorser; only the other party endorses a record")]
    EndorsementOfOwnRecord {
        /// The endorsed index.
        record: u64,
    },
    /// The record is already endorsed.
    #[error("record {record} is already endorsed, in entry {first}")]
    SecondEndorsement {
        /// The endorsed index.
        record: u64,
        /// The earlier endorsement's index.
        first: u64,
    },
    /// The leaf hash in the endorsement is not the record's.
    #[error("the endorsement names another leaf hash than record {record}'s")]
    EndorsedLeafHashMismatch {
        /// The endorsed index.
        record: u64,
    },
    /// A receipt given as the record's is not of a record.
    #[error("the record's receipt is of a {0} entry, not a record")]
    ReceiptNotOfRecord(Kind),
    /// A receipt given as the endorsement's is not of an endorsement.
    #[error("the endorsement's receipt is of a {0} entry, not an endorsement")]
    ReceiptNotOfEndorsement(Kind),
    /// The endorsement's receipt names another entry than the record's receipt.
    #[error("the endorsement endorses entry {named}, not record {record}")]
    EndorsesAnotherEntry {
        /// The record's index.
        record: u64,
        /// The index the endorsement names.
        named: u64,
    },
    /// The two receipts are proved against different checkpoints.
    #[error("the record's and the endorsement's receipts name different checkpoints")]
    DifferentCheckpoints,
}

/// Why a key-change entry breaks a rule of section 3.7. Each variant is one refusal the
/// spec names; [`KeyChangeError::code`] gives that name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyChangeError {
    /// A key change whose content type is not the key change's.
    #[error("a key change's content type is {0:?}, not {KEY_CHANGE_CONTENT_TYPE:?}")]
    WrongContentType(String),
    /// A key-change payload that is not exactly 96 bytes.
    #[error("a key change's payload is {len} bytes, not {KEY_CHANGE_PAYLOAD_LEN} (new public key, new key's signature)")]
    MalformedPayload {
        /// Its length.
        len: usize,
    },
    /// A key change with `reply_to`.
    #[error("a key change carries no reply_to")]
    KeyChangeWithReplyTo,
    /// A key change that names attachments.
    #[error("a key change names no attachments")]
    KeyChangeWithAttachments,
    /// The new public key is not a valid Ed25519 key, or is of small order (section 2.1).
    #[error("the new key is not a valid Ed25519 public key: {0}")]
    InvalidNewKey(KeyError),
    /// The new key repeats the public key or a key ID of a key the channel has had.
    #[error("the new key repeats the {identifier} of {previous}, a key this channel has had; a new key must be new")]
    NewKeyReused {
        /// What it repeats.
        identifier: Identifier,
        /// Whose key it repeats: a genesis party or witness, or a key change's new key.
        previous: KeyOwner,
    },
    /// The new key's signature over the key-change statement does not verify strictly.
    #[error("the new key's signature over the key-change statement does not verify")]
    BadNewKeySignature,
}

impl KeyChangeError {
    /// The rule's name, stable for scripts and error bodies (the variant's name).
    pub fn code(&self) -> &'static str {
        match self {
            KeyChangeError::WrongContentType(_) => "WrongContentType",
            KeyChangeError::MalformedPayload { .. } => "MalformedPayload",
            KeyChangeError::KeyChangeWithReplyTo => "KeyChangeWithReplyTo",
            KeyChangeError::KeyChangeWithAttachments => "KeyChangeWithAttachments",
            KeyChangeError::InvalidNewKey(_) => "InvalidNewKey",
            KeyChangeError::NewKeyReused { .. } => "NewKeyReused",
            KeyChangeError::BadNewKeySignature => "BadNewKeySignature",
        }
    }
}

/// The witness change's content type (section 3.8).
pub const WITNESS_CHANGE_CONTENT_TYPE: &str = "application/vnd.dyad.witness-change.v1";
/// The domain label that starts the witness-change statement (section 3.8); its NUL makes
/// it differ from every entry message, key-change statement and signed-note text.
pub const WITNESS_CHANGE_STATEMENT_PREFIX: &[u8] = b"dyad-witness-change/v1\x00";
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

/// Whose a key of a channel's history is (for [`KeyChangeError::NewKeyReused`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyOwner {
    /// A party or witness of the genesis, with its genesis key.
    Genesis(PartyRole),
    /// The new key of the key change at this index.
    KeyChange(u64),
    /// A witness named by the witness change at this index.
    WitnessChange(u64),
}

impl fmt::Display for KeyOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyOwner::Genesis(role) => write!(f, "the genesis {role}"),
            KeyOwner::KeyChange(index) => write!(f, "the key change at entry {index}"),
            KeyOwner::WitnessChange(index) => {
                write!(f, "a witness of the witness change at entry {index}")
            }
        }
    }
}

/// The key change's content type (section 3.7).
pub const KEY_CHANGE_CONTENT_TYPE: &str = "application/vnd.dyad.key-change.v1";
/// The key-change payload's length: the new public key (32 bytes) and the new key's
/// signature over the key-change statement (64 bytes).
pub const KEY_CHANGE_PAYLOAD_LEN: usize = 32 + 64;
/// The domain label that starts the key-change statement (section 3.7); its NUL makes it
/// differ from every entry message and signed-note text.
pub const KEY_CHANGE_STATEMENT_PREFIX: &[u8] = b"dyad-key-change/v1\x00";

/// The endorsement's content type (section 3.6).
pub const ENDORSEMENT_CONTENT_TYPE: &str = "application/vnd.dyad.endorsement.v1";
/// The endorsement payload's length: the record's index (u64) and leaf hash (32 bytes).
pub const ENDORSEMENT_PAYLOAD_LEN: usize = 8 + 32;

/// Why a genesis entry or record breaks section 4.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GenesisError {
    /// The record's bytes are malformed (offsets are within the payload).
    #[error("genesis record: {0}")]
    Record(Box<EntryError>),
    /// Record field 1 is not [`RECORD_VERSION`].
    #[error("unknown genesis record version {0}")]
    UnknownVersion(u8),
    /// The record's origin differs from the entry's.
    #[error("genesis record origin {record:?} differs from the entry origin {entry:?}")]
    OriginMismatch {
        /// The record's origin.
        record: String,
        /// The entry's origin.
        entry: String,
    },
    /// The origin cannot be a key name, so the log key (named by the origin, section 2.2)
    /// cannot exist.
    #[error("origin is not a valid key name: {0}")]
    InvalidOrigin(KeyError),
    /// The origin starts with a prefix reserved for the other texts signed with party keys
    /// (section 4: `dyad-` or `cosignature/`), so a checkpoint text could be confused with
    /// them.
    #[error("origin {0:?} starts with a reserved prefix (dyad- or cosignature/)")]
    ReservedOrigin(String),
    /// A party's name or public key is not a valid key (section 2.1).
    #[error("{role}: {error}")]
    InvalidParty {
        /// Which party.
        role: PartyRole,
        /// What is wrong.
        error: KeyError,
    },
    /// Two parties or witnesses share a name, public key or key ID.
    #[error("{role} has the same {identifier} as {other}")]
    Duplicate {
        /// The later of the two.
        role: PartyRole,
        /// The earlier.
        other: PartyRole,
        /// What they share.
        identifier: Identifier,
    },
    /// More than [`MAX_WITNESSES`] witnesses.
    #[error("{count} witnesses, more than {MAX_WITNESSES}")]
    TooManyWitnesses {
        /// The count read.
        count: u64,
    },
    /// `witness_threshold` exceeds the number of witnesses.
    #[error("witness threshold {threshold} exceeds the {witnesses} witnesses")]
    ThresholdTooHigh {
        /// The threshold.
        threshold: u8,
        /// The number of witnesses.
        witnesses: usize,
    },
    /// `max_payload` above [`MAX_MAX_PAYLOAD`].
    #[error("max_payload {0} exceeds {MAX_MAX_PAYLOAD}")]
    MaxPayloadTooLarge(u32),
    /// `max_clock_skew_s` outside 1..=[`MAX_CLOCK_SKEW_S`].
    #[error("max_clock_skew_s {0} is outside 1..={MAX_CLOCK_SKEW_S}")]
    ClockSkewOutOfRange(u32),
    /// The genesis entry's content type is not [`CONTENT_TYPE`].
    #[error("genesis content type is {0:?}, not {CONTENT_TYPE:?}")]
    WrongContentType(String),
    /// The genesis entry's sequence is not 0.
    #[error("genesis sequence is {0}, not 0")]
    NonZeroSequence(u64),
    /// The genesis entry has a `reply_to`.
    #[error("genesis has reply_to {0}")]
    HasReplyTo(u64),
    /// The genesis entry names attachments.
    #[error("genesis names {0} attachments")]
    HasAttachments(usize),
    /// The genesis entry's sender is not the sequencer.
    #[error("genesis sender {found:08x} is not the sequencer's key ID {expected:08x}")]
    SenderNotSequencer {
        /// The sequencer's type-0x01 key ID.
        expected: u32,
        /// The entry's `sender`.
        found: u32,
    },
}

impl From<EntryError> for GenesisError {
    fn from(e: EntryError) -> Self {
        GenesisError::Record(Box::new(e))
    }
}
