//! Why a channel operation failed.

use dyad_verifier::joint_record::EndorsementError;
use dyad_verifier::note;

use crate::entry::EntryError;
use crate::genesis::GenesisError;
use crate::store::StoreError;

/// Why a channel operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The genesis entry is not valid.
    #[error(transparent)]
    Genesis(#[from] GenesisError),
    /// An entry breaks a channel rule: it is refused, and nothing of it is written.
    #[error(transparent)]
    Refused(#[from] EntryRefusal),
    /// An operation of the other party's role.
    #[error("this replica is the {actual}; only the {needed} can do that")]
    WrongRole {
        /// The role the operation needs.
        needed: &'static str,
        /// This replica's role.
        actual: &'static str,
    },
    /// A key that is not this replica's party key.
    #[error("the key {name} is not the {role} of this channel")]
    NotOurKey {
        /// The key's name.
        name: String,
        /// The role it was offered for.
        role: &'static str,
    },
    /// A key this replica's party had, retired by a key change (spec 3.7): it must never
    /// sign again.
    #[error("the key {name} ({key_id:08x}) was retired by a key change; sign with the party's current key (the data directory's key_file)")]
    RetiredOwnKey {
        /// The key's name.
        name: String,
        /// Its type-0x01 key ID.
        key_id: u32,
    },
    /// A key that is not this party's key at the size of the checkpoint it would sign
    /// (spec 3.7: checkpoints are signed with the current keys at their size).
    #[error("the key {name} ({key_id:08x}) is not the {role}'s key at checkpoint size {size}")]
    KeyNotCurrentAt {
        /// The key's name.
        name: String,
        /// Its type-0x01 key ID.
        key_id: u32,
        /// The role it was offered for.
        role: &'static str,
        /// The checkpoint's size.
        size: u64,
    },
    /// A new key for a key change under another name than the party's (spec 3.7).
    #[error("the new key is named {found:?}; a party's new key keeps its name {expected:?}")]
    NewKeyName {
        /// The party's name.
        expected: String,
        /// The new key's name.
        found: String,
    },
    /// The store has no role record.
    #[error("the store has no role record; it was not created by dyad")]
    MissingRole,
    /// A checkpoint note whose signatures do not verify.
    #[error("the checkpoint note does not verify: {0}")]
    Note(#[from] note::NoteError),
    /// A checkpoint body that does not parse.
    #[error("the checkpoint body is invalid: {0}")]
    Checkpoint(#[from] dyad_verifier::checkpoint::CheckpointError),
    /// A checkpoint of another channel.
    #[error("the checkpoint is for origin {found:?}, not {expected:?}")]
    CheckpointOrigin {
        /// This channel's origin.
        expected: String,
        /// The checkpoint's origin.
        found: String,
    },
    /// A checkpoint without the sequencer's signature.
    #[error("the checkpoint is not signed by the sequencer's log key")]
    MissingLogSignature,
    /// A checkpoint without the co-signer's co-signature.
    #[error("the checkpoint is not co-signed by the co-signer")]
    MissingCosignature,
    /// A checkpoint with fewer co-signatures by the witnesses at its size than their
    /// threshold (spec 3.8, 7).
    #[error("the checkpoint has {found} witness co-signatures; the channel requires {needed}")]
    WitnessQuorum {
        /// Witness co-signatures that verify.
        found: usize,
        /// The witness threshold at the checkpoint's size.
        needed: usize,
    },
    /// A checkpoint larger than the log this replica holds.
    #[error("the checkpoint has size {size} but this replica holds {held} entries")]
    CheckpointBeyondLog {
        /// The checkpoint's size.
        size: u64,
        /// The entries this replica holds.
        held: u64,
    },
    /// A checkpoint smaller than the newest one committed.
    #[error(
        "the checkpoint of size {size} rolls back the replica, which already holds {held} entries"
    )]
    Rollback {
        /// The checkpoint's size.
        size: u64,
        /// The entries this replica holds.
        held: u64,
    },
    /// A checkpoint whose root is not the root of the entries.
    #[error("the checkpoint of size {size} has root {claimed}, but the entries give {computed}: the peer equivocates or sent wrong entries")]
    RootMismatch {
        /// The checkpoint's size.
        size: u64,
        /// The checkpoint's root, in hex.
        claimed: String,
        /// The entries' root, in hex.
        computed: String,
    },
    /// Entries that do not reach the checkpoint's size.
    #[error("expected entries for size {expected} but got a checkpoint of size {size}")]
    EntryCountMismatch {
        /// The size the entries reach.
        expected: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// An entry the log already holds.
    #[error("the peer sent an entry that is already in the log at index {index}")]
    DuplicateEntry {
        /// The entry's index.
        index: u64,
    },
    /// The genesis entry in the store is not valid.
    #[error("the stored genesis is not valid: {0}")]
    BadStoredGenesis(String),
    /// The replica is read-only: its newest checkpoint does not verify.
    #[error("this replica is read-only: its newest checkpoint (size {size}) does not verify ({reason}); put back a backup (`dyad restore --from DIR`) or rebuild the replica from the peer (`dyad restore --from-peer URL`)")]
    CheckpointDamaged {
        /// The checkpoint's size.
        size: u64,
        /// Why it does not verify.
        reason: String,
    },
}

/// An entry that breaks a rule of the channel (spec 3.1–3.5), named with the index it has
/// or would take. The refused entry is not written; a batch judged entry by entry
/// ([`super::Channel::stage_each`]) leaves it out and judges the others without it.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EntryRefusal {
    /// Not a valid entry on its own (spec 3.1): it does not decode, or a field breaks its
    /// rule (subject, content type, attachments, size, signature count). A stored leaf or
    /// queued message that no longer decodes is reported the same way.
    #[error("entry {index}: {source}")]
    Invalid {
        /// The entry's index.
        index: u64,
        /// What is wrong with it.
        source: EntryError,
    },
    /// An entry of another channel.
    #[error("entry {index}: its origin {found:?} is not this channel's {expected:?}")]
    WrongOrigin {
        /// The entry's index.
        index: u64,
        /// This channel's origin.
        expected: String,
        /// The entry's origin.
        found: String,
    },
    /// An entry whose sender is not a party of the channel.
    #[error("entry {index}: sender key id {key_id:08x} is not a party of this channel")]
    UnknownSender {
        /// The entry's index.
        index: u64,
        /// The sender key id it names.
        key_id: u32,
    },
    /// An entry whose sender's signature does not verify.
    #[error("entry {index}: the sender's signature does not verify")]
    BadSignature {
        /// The entry's index.
        index: u64,
    },
    /// A sender key that a party had but retired by a key change before this index
    /// (spec 3.7), whatever the signature.
    #[error("entry {index}: sender key id {key_id:08x} is {party}'s retired key (RetiredKey): after a key change only the new key signs")]
    RetiredKey {
        /// The entry's index.
        index: u64,
        /// The retired key's ID.
        key_id: u32,
        /// The party's name.
        party: String,
    },
    /// A key-change entry that breaks a form rule of spec 3.7, or whose new-key
    /// signature does not verify.
    #[error("entry {index}: {source}")]
    KeyChange {
        /// The entry's index.
        index: u64,
        /// The rule it breaks.
        source: crate::entry::key_change::KeyChangeError,
    },
    /// A key change whose new key repeats a key (public key or key ID) the channel has
    /// had (spec 3.7).
    #[error("entry {index}: {party}'s new key repeats a key this channel has had (NewKeyReused): generate a fresh key")]
    NewKeyReused {
        /// The entry's index.
        index: u64,
        /// The party's name.
        party: String,
    },
    /// A key-change draft offered as a message: a key change is made by the party
    /// itself, which then signs with the new key (`dyad rotate-key`).
    #[error("entry {index}: a key change is not sent as a message; use `dyad rotate-key --new-key FILE`")]
    KeyChangeAsMessage {
        /// The index it would take.
        index: u64,
    },
    /// A witness-change entry that breaks a rule of spec 3.8: a form rule (its content
    /// type, its payload's encoding or its list's own rules, `reply_to`, attachments) or,
    /// after its signature, one against the channel's history (`WrongWitnessChangeNumber`,
    /// `WitnessKeyReused`, `BadApproval`). `source.code()` names the rule.
    #[error("entry {index}: {source}")]
    WitnessChange {
        /// The entry's index.
        index: u64,
        /// The rule it breaks.
        source: crate::entry::witness_change::WitnessChangeError,
    },
    /// A genesis entry anywhere but at index 0.
    #[error("entry {index}: only entry 0 may be a genesis entry")]
    GenesisNotFirst {
        /// The entry's index.
        index: u64,
    },
    /// An entry whose sequence number does not follow the sender's previous one.
    #[error(
        "entry {index}: sequence {found} from {sender}, expected {expected} (a replay or a gap)"
    )]
    SequenceGap {
        /// The entry's index.
        index: u64,
        /// The sender's name.
        sender: String,
        /// The sequence number the sender is at.
        expected: u64,
        /// The entry's sequence number.
        found: u64,
    },
    /// An entry timestamped before the sender's previous entry or the genesis.
    #[error("entry {index}: timestamp {found_ms} ms is before the sender's previous entry ({previous_ms} ms) or the genesis")]
    TimestampBackwards {
        /// The entry's index.
        index: u64,
        /// The entry's timestamp, in ms.
        found_ms: u64,
        /// The earliest timestamp allowed, in ms.
        previous_ms: u64,
    },
    /// An entry timestamped further ahead of now than the clock skew allows.
    #[error("entry {index}: timestamp {found_ms} ms is more than the allowed clock skew ahead of now ({now_ms} ms)")]
    TimestampInFuture {
        /// The entry's index.
        index: u64,
        /// The entry's timestamp, in ms.
        found_ms: u64,
        /// The replica's clock, in ms.
        now_ms: u64,
    },
    /// An entry replying to a later entry or to the genesis.
    #[error("entry {index}: reply_to {reply_to} must point to an earlier, non-genesis entry")]
    ReplyToNotEarlier {
        /// The entry's index.
        index: u64,
        /// The index it replies to.
        reply_to: u64,
    },
    /// A response that does not say which entry it answers.
    #[error("entry {index}: a response must say which entry it answers (reply_to)")]
    ResponseWithoutReplyTo {
        /// The entry's index.
        index: u64,
    },
    /// A record or an endorsement that breaks a rule of spec 3.6 (an endorsement of the
    /// sender's own record, of a non-record, of a missing index, a second one, or one
    /// naming another leaf hash).
    #[error("entry {index}: {source}")]
    JointRecord {
        /// The entry's index.
        index: u64,
        /// The rule it breaks.
        source: EndorsementError,
    },
    /// A payload over the channel's limit.
    #[error("entry {index}: payload of {len} bytes exceeds the channel's limit of {max}")]
    PayloadTooLarge {
        /// The entry's index.
        index: u64,
        /// The payload's length.
        len: usize,
        /// The channel's payload limit.
        max: u32,
    },
    /// An attachment over the channel's limit.
    #[error("entry {index}: attachment of {size} bytes exceeds the channel's limit of {max}")]
    AttachmentTooLarge {
        /// The entry's index.
        index: u64,
        /// The attachment's size.
        size: u64,
        /// The channel's attachment limit.
        max: u64,
    },
    /// A `threat-indicators` entry labelled `application/stix+json` whose payload is not
    /// a valid STIX 2.1 document (the content policy of spec 3.2).
    #[error("entry {index}: the payload is not a valid STIX 2.1 document: {source}")]
    NotStix {
        /// The entry's index.
        index: u64,
        /// What is wrong with the document: the object and property (boxed: refusals
        /// travel in every channel result, and this one is rare and large).
        source: Box<crate::stix::StixError>,
    },
}
