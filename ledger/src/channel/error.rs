//! Why a channel operation failed.

use dyad_verifier::note;

use crate::entry::EntryError;
use crate::genesis::GenesisError;
use crate::store::StoreError;

/// Why a channel operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Genesis(#[from] GenesisError),
    /// An entry breaks a channel rule: it is refused, and nothing of it is written.
    #[error(transparent)]
    Refused(#[from] EntryRefusal),
    #[error("this replica is the {actual}; only the {needed} can do that")]
    WrongRole {
        needed: &'static str,
        actual: &'static str,
    },
    #[error("the key {name} is not the {role} of this channel")]
    NotOurKey { name: String, role: &'static str },
    #[error("the store has no role record; it was not created by dyad")]
    MissingRole,
    #[error("the checkpoint note does not verify: {0}")]
    Note(#[from] note::NoteError),
    #[error("the checkpoint body is invalid: {0}")]
    Checkpoint(#[from] dyad_verifier::checkpoint::CheckpointError),
    #[error("the checkpoint is for origin {found:?}, not {expected:?}")]
    CheckpointOrigin { expected: String, found: String },
    #[error("the checkpoint is not signed by the sequencer's log key")]
    MissingLogSignature,
    #[error("the checkpoint is not co-signed by the co-signer")]
    MissingCosignature,
    #[error("the checkpoint has {found} witness co-signatures; the channel requires {needed}")]
    WitnessQuorum { found: usize, needed: usize },
    #[error("the checkpoint has size {size} but this replica holds {held} entries")]
    CheckpointBeyondLog { size: u64, held: u64 },
    #[error(
        "the checkpoint of size {size} rolls back the replica, which already holds {held} entries"
    )]
    Rollback { size: u64, held: u64 },
    #[error("the checkpoint of size {size} has root {claimed}, but the entries give {computed}: the peer equivocates or sent wrong entries")]
    RootMismatch {
        size: u64,
        claimed: String,
        computed: String,
    },
    #[error("expected entries for size {expected} but got a checkpoint of size {size}")]
    EntryCountMismatch { expected: u64, size: u64 },
    #[error("the peer sent an entry that is already in the log at index {index}")]
    DuplicateEntry { index: u64 },
    #[error("the stored genesis is not valid: {0}")]
    BadStoredGenesis(String),
    #[error("this replica is read-only: its newest checkpoint (size {size}) does not verify ({reason}); restore the data directory from a backup, or recover the replica from the peer")]
    CheckpointDamaged { size: u64, reason: String },
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
    Invalid { index: u64, source: EntryError },
    #[error("entry {index}: its origin {found:?} is not this channel's {expected:?}")]
    WrongOrigin {
        index: u64,
        expected: String,
        found: String,
    },
    #[error("entry {index}: sender key id {key_id:08x} is not a party of this channel")]
    UnknownSender { index: u64, key_id: u32 },
    #[error("entry {index}: the sender's signature does not verify")]
    BadSignature { index: u64 },
    #[error("entry {index}: only entry 0 may be a genesis entry")]
    GenesisNotFirst { index: u64 },
    #[error(
        "entry {index}: sequence {found} from {sender}, expected {expected} (a replay or a gap)"
    )]
    SequenceGap {
        index: u64,
        sender: String,
        expected: u64,
        found: u64,
    },
    #[error("entry {index}: timestamp {found_ms} ms is before the sender's previous entry ({previous_ms} ms) or the genesis")]
    TimestampBackwards {
        index: u64,
        found_ms: u64,
        previous_ms: u64,
    },
    #[error("entry {index}: timestamp {found_ms} ms is more than the allowed clock skew ahead of now ({now_ms} ms)")]
    TimestampInFuture {
        index: u64,
        found_ms: u64,
        now_ms: u64,
    },
    #[error("entry {index}: reply_to {reply_to} must point to an earlier, non-genesis entry")]
    ReplyToNotEarlier { index: u64, reply_to: u64 },
    #[error("entry {index}: a response must say which entry it answers (reply_to)")]
    ResponseWithoutReplyTo { index: u64 },
    #[error("entry {index}: payload of {len} bytes exceeds the channel's limit of {max}")]
    PayloadTooLarge { index: u64, len: usize, max: u32 },
    #[error("entry {index}: attachment of {size} bytes exceeds the channel's limit of {max}")]
    AttachmentTooLarge { index: u64, size: u64, max: u64 },
}
