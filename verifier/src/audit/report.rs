//! What an audit is given and gives back: the trust, the first error, the verdict on a
//! checkpoint and the report on a log that passed.

use alloc::string::String;
use alloc::vec::Vec;

use crate::channel::CommitError;
use crate::checkpoint::Checkpoint;
use crate::entry_codec::Attachment;
use crate::genesis_record::Genesis;
use crate::hash::Hash;
use crate::key::VerifierKey;
use crate::key_history::KeyChange;
use crate::policy::{PartiesError, Policy, PolicyError};
use crate::rules::{EndorsementError, EntryError, Kind};
use crate::witness_history::WitnessChange;

/// Whom the auditor trusts to define the channel.
// Made once per audit: boxing the larger variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuditTrust {
    /// The two parties' entry keys (type 0x01 under their names), in either order: leaf 0
    /// must be a genesis naming exactly these two parties. The genesis, signed by both,
    /// then fixes roles, witnesses and limits.
    Parties([VerifierKey; 2]),
    /// A genesis record the caller pins: leaf 0 must be a valid genesis entry with exactly
    /// this record.
    Genesis(Genesis),
    /// A C2SP tlog-policy naming the channel (spec section 9): leaf 0 must be a genesis of
    /// the policy's origin naming the policy's sequencer and co-signer in those roles, and
    /// every checkpoint must meet the policy as well as the genesis's own terms.
    Policy(Policy),
}

/// The first thing wrong with the log, with where it is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// A trusted key cannot be a party's entry key.
    #[error("trusted key {0} is not an Ed25519 (type 0x01) party key")]
    BadTrustedKey(String),
    /// An entry breaks a rule of sections 3 or 4.
    #[error("entry {index}: {error}")]
    Entry {
        /// The entry's index.
        index: u64,
        /// What is wrong.
        error: EntryError,
    },
    /// An endorsement breaks a rule of section 3.6 that needs the log before it (whose
    /// record it names, who sent that, whether it is endorsed already).
    #[error("entry {index}: {error}")]
    Endorsement {
        /// The endorsement's index.
        index: u64,
        /// What is wrong.
        error: EndorsementError,
    },
    /// Leaf 0 is a valid genesis, but not of the trusted parties or the pinned record.
    #[error("entry 0: the genesis does not name the trusted parties or is not the pinned one")]
    UntrustedGenesis,
    /// A sender's sequence number is not one more than its previous one (section 3.3).
    #[error("entry {index}: sender {sender:08x} has sequence {found}, expected {expected}")]
    SequenceGap {
        /// The entry's index.
        index: u64,
        /// The sender's key ID.
        sender: u32,
        /// One more than the sender's previous sequence.
        expected: u64,
        /// The entry's sequence.
        found: u64,
    },
    /// A timestamp earlier than the genesis's minus the allowed skew (section 3.3).
    #[error("entry {index}: timestamp {timestamp_ms} ms is before the genesis ({minimum_ms} ms with skew)")]
    TimestampBeforeGenesis {
        /// The entry's index.
        index: u64,
        /// Its timestamp.
        timestamp_ms: u64,
        /// The earliest allowed.
        minimum_ms: u64,
    },
    /// A timestamp earlier than the same sender's previous entry (section 3.3).
    #[error("entry {index}: timestamp {timestamp_ms} ms is before the sender's previous entry {previous_index} ({previous_ms} ms)")]
    TimestampBeforePrevious {
        /// The entry's index.
        index: u64,
        /// Its timestamp.
        timestamp_ms: u64,
        /// The sender's previous entry.
        previous_index: u64,
        /// That entry's timestamp.
        previous_ms: u64,
    },
    /// A timestamp later than the allowed skew after the first co-signature covering the
    /// entry (section 3.3).
    #[error("entry {index}: timestamp {timestamp_ms} ms is more than the allowed skew after the co-signature at {cosigned_at} s on checkpoint {checkpoint_size}")]
    TimestampAfterCosignature {
        /// The entry's index.
        index: u64,
        /// Its timestamp.
        timestamp_ms: u64,
        /// The size of the first checkpoint covering it.
        checkpoint_size: u64,
        /// The co-signer's timestamp on that checkpoint (POSIX seconds).
        cosigned_at: u64,
    },
    /// A checkpoint was given before the genesis leaf, so its keys are not yet known.
    #[error("checkpoint given before leaf 0 (the genesis)")]
    CheckpointBeforeGenesis,
    /// A checkpoint is not committed under the channel's terms (section 7).
    #[error("checkpoint {}: {error}", DisplaySize(*size))]
    NotCommitted {
        /// Its size, if the note could be read that far.
        size: Option<u64>,
        /// What is wrong.
        error: CommitError,
    },
    /// The trusted policy does not name the channel's parties (section 9).
    #[error("the policy does not name the channel's parties: {0}")]
    BadPolicy(PartiesError),
    /// A checkpoint is committed under the genesis's terms but does not meet the trusted
    /// policy.
    #[error("checkpoint {}: does not satisfy the policy: {error}", DisplaySize(*size))]
    PolicyNotMet {
        /// Its size, if the note could be read that far.
        size: Option<u64>,
        /// What is wrong.
        error: PolicyError,
    },
    /// A checkpoint is smaller than one given before it.
    #[error("checkpoint {size} given after checkpoint {previous}: checkpoints go in size order")]
    CheckpointBackwards {
        /// Its size.
        size: u64,
        /// The size of the one before it.
        previous: u64,
    },
    /// A checkpoint was given after more leaves than its size: its root can no longer be
    /// recomputed (see the module documentation).
    #[error("checkpoint {size} given after {leaves} leaves: give it before leaf {size}")]
    CheckpointTooLate {
        /// Its size.
        size: u64,
        /// Leaves pushed before it.
        leaves: u64,
    },
    /// Two validly signed checkpoints of the same size with different roots: the log
    /// equivocated. `evidence` is a `dyad-equivocation/v1` file proving it (spec/evidence.md).
    #[error("checkpoints of size {size} with different roots: equivocation")]
    ConflictingCheckpoints {
        /// The size.
        size: u64,
        /// Self-verifying evidence of the conflict.
        evidence: Vec<u8>,
    },
    /// A checkpoint's root is not the root of the leaves (section 6).
    #[error(
        "checkpoint {size}: root {} is not the recomputed root {}",
        Hex(checkpoint_root),
        Hex(computed_root)
    )]
    RootMismatch {
        /// Its size.
        size: u64,
        /// The root it states.
        checkpoint_root: Hash,
        /// The root of the first `size` leaves.
        computed_root: Hash,
    },
    /// The log ended before a checkpoint's size: leaves it commits to are missing.
    #[error("checkpoint {size} commits to {size} leaves, the log has {leaves}")]
    CheckpointBeyondLog {
        /// Its size.
        size: u64,
        /// Leaves pushed.
        leaves: u64,
    },
    /// A [`CheckedLeaf`] was pushed out of turn, or was checked for another channel.
    ///
    /// [`CheckedLeaf`]: super::CheckedLeaf
    #[error("checked leaf {found} pushed as leaf {index} (out of order, or of another channel)")]
    CheckedLeafMismatch {
        /// The index of the next leaf.
        index: u64,
        /// The index the leaf was checked at.
        found: u64,
    },
    /// No leaves at all.
    #[error("the log is empty: no genesis entry")]
    EmptyLog,
    /// The log has 2^64 - 1 leaves already.
    #[error("the log is full")]
    LogFull,
}

struct DisplaySize(Option<u64>);

impl core::fmt::Display for DisplaySize {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Some(size) => write!(f, "{size}"),
            None => f.write_str("(unreadable)"),
        }
    }
}

struct Hex<'a>(&'a Hash);

impl core::fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// What [`Auditor::check_checkpoint`] concluded about a checkpoint.
///
/// [`Auditor::check_checkpoint`]: super::Auditor::check_checkpoint
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointVerdict {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// The co-signer's timestamp on it; `None` while the note waits for the key changes
    /// below its size to be verified (when the leaves reach its size).
    pub cosigned_at: Option<u64>,
    /// Whether its root was already compared with the recomputed root (true) or will be
    /// when the leaf count reaches its size (false).
    pub root_checked: bool,
}

/// The summary of a log that passed the audit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditReport {
    /// The channel's genesis record.
    pub genesis: Genesis,
    /// Number of leaves (entries), genesis included.
    pub leaves: u64,
    /// The root of all the leaves.
    pub root: Hash,
    /// The largest checkpoint size checked: entries below it are committed (section 7).
    pub committed_size: u64,
    /// Entries above the last checkpoint: in the log but not committed.
    pub pending: u64,
    /// Checkpoints checked (duplicates included).
    pub checkpoints: u64,
    /// The largest checkpoint, if any was given.
    pub latest_checkpoint: Option<Checkpoint>,
    /// Entries per kind, indexed by the kind's value.
    pub kinds: [u64; Kind::COUNT],
    /// Entries sent by the sequencer (genesis included) and by the co-signer.
    pub entries_by_sequencer: u64,
    /// Entries sent by the co-signer.
    pub entries_by_cosigner: u64,
    /// The key changes in the log, in index order (section 3.7).
    pub key_changes: Vec<KeyChange>,
    /// The witness changes in the log, in index order (section 3.8): each checkpoint was
    /// judged by the witnesses current at its size.
    pub witness_changes: Vec<WitnessChange>,
    /// The attachments the entries name, one per distinct (SHA-256, size), in the order
    /// they are first named: what an auditor then checks against the attachment bytes,
    /// without reading the log again.
    pub attachments: Vec<NamedAttachment>,
}

/// An attachment an entry names, with the index of the first entry that names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedAttachment {
    /// The first entry naming it.
    pub index: u64,
    /// The attachment as that entry names it.
    pub attachment: Attachment,
}
