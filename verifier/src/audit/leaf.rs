//! The checks of one leaf after the genesis: what needs only the channel
//! ([`LeafChecker`], on any thread) and the rules of section 3.3 that need the sender's
//! earlier entries (`check_in_order`, in index order).

use alloc::vec::Vec;

use crate::channel::{self, ChannelParams};
use crate::entry_codec::{Attachment, Entry};
use crate::hash::{leaf_hash, Hash};
use crate::joint_record::EndorsementPayload;
use crate::rules::{Kind, PartyRole};

use super::report::AuditError;

/// Per-sender state for section 3.3.
#[derive(Clone, Debug, Default)]
pub(super) struct Sender {
    /// The sender's last sequence (0 before its first entry; the genesis is 0).
    pub(super) sequence: u64,
    /// Index and timestamp of its last entry.
    pub(super) last: Option<(u64, u64)>,
    pub(super) count: u64,
}

/// What the order-dependent rules need of an entry, and the attachments it names (for
/// the report).
#[derive(Clone, Debug)]
pub(super) struct LeafFacts {
    sender: u32,
    sequence: u64,
    timestamp_ms: u64,
    pub(super) kind: Kind,
    /// What an endorsement names (section 3.6); `None` for other kinds.
    pub(super) endorses: Option<EndorsementPayload>,
    /// The attachments it names (section 3.9); empty, with no allocation, for most.
    pub(super) attachments: Vec<Attachment>,
}

impl LeafFacts {
    /// The facts of an entry that passed `check_entry`.
    pub(super) fn of(entry: &Entry) -> LeafFacts {
        LeafFacts {
            sender: entry.sender,
            sequence: entry.sequence,
            timestamp_ms: entry.timestamp_ms,
            kind: entry.kind,
            // check_entry has checked an endorsement's payload (joint_record::check_form).
            endorses: match entry.kind {
                Kind::Endorsement => EndorsementPayload::decode(&entry.payload).ok(),
                _ => None,
            },
            attachments: entry.attachments.clone(),
        }
    }

    /// The entry's sender (type-0x01 key ID).
    pub(super) fn sender(&self) -> u32 {
        self.sender
    }
}

/// The rules of section 3.3 that depend on the sender's earlier entries; counts the entry.
/// Returns its timestamp.
pub(super) fn check_in_order(
    channel: &ChannelParams,
    genesis_ms: u64,
    senders: &mut [Sender; 2],
    kinds: &mut [u64; Kind::COUNT],
    index: u64,
    entry: &LeafFacts,
) -> Result<u64, AuditError> {
    // The sender's current key at this index: a leaf checked (by a `LeafChecker`)
    // under a key that a key change has since retired is refused here (section 3.7).
    let (role, _) = channel
        .sender_key(entry.sender)
        .map_err(|error| AuditError::Entry { index, error })?;
    let skew_ms = u64::from(channel.genesis().max_clock_skew_s) * 1000;
    let minimum_ms = genesis_ms.saturating_sub(skew_ms);
    let sender = &mut senders[usize::from(role != PartyRole::Sequencer)];
    let expected = sender.sequence.saturating_add(1);
    if entry.sequence != expected {
        return Err(AuditError::SequenceGap {
            index,
            sender: entry.sender,
            expected,
            found: entry.sequence,
        });
    }
    if entry.timestamp_ms < minimum_ms {
        return Err(AuditError::TimestampBeforeGenesis {
            index,
            timestamp_ms: entry.timestamp_ms,
            minimum_ms,
        });
    }
    if let Some((previous_index, previous_ms)) = sender.last {
        if entry.timestamp_ms < previous_ms {
            return Err(AuditError::TimestampBeforePrevious {
                index,
                timestamp_ms: entry.timestamp_ms,
                previous_index,
                previous_ms,
            });
        }
    }
    sender.sequence = entry.sequence;
    sender.last = Some((index, entry.timestamp_ms));
    sender.count += 1;
    kinds[usize::from(entry.kind.as_u8())] += 1;
    Ok(entry.timestamp_ms)
}

/// Checks leaves after the genesis against the channel alone (see
/// [`Auditor::leaf_checker`]): decoding, the channel's rules, the sender's signature.
/// Cloning it is cheap enough to give one to each thread; it holds no state.
///
/// [`Auditor::leaf_checker`]: super::Auditor::leaf_checker
#[derive(Clone, Debug)]
pub struct LeafChecker {
    pub(super) channel: ChannelParams,
    pub(super) genesis_leaf: Hash,
}

impl LeafChecker {
    /// Checks `bytes` as the leaf at `index` ([`entry::check_entry`]), with the same
    /// error as [`Auditor::push_leaf`] would give for this check. The result is for the
    /// auditor that made this checker, at that index.
    ///
    /// [`entry::check_entry`]: crate::entry::check_entry
    /// [`Auditor::push_leaf`]: super::Auditor::push_leaf
    ///
    /// The checker knows the parties' keys as they were when it was made, not the key
    /// changes since (section 3.7). So a key change, and an entry the checker refuses
    /// (its sender may be a key it does not know yet, or one retired since), are left to
    /// the auditor: the leaf is returned unchecked, with its bytes, and
    /// [`Auditor::push_checked`] checks it in order with the key history, as `push_leaf`
    /// would, and so gives the sequential audit's verdict and error. After a key change,
    /// a checker made before it leaves every entry under the new key to the auditor: take
    /// a new one ([`Auditor::leaf_checker`]) to check those in parallel again.
    pub fn check(&self, index: u64, bytes: &[u8]) -> Result<CheckedLeaf, AuditError> {
        let checked = match channel::check_entry(bytes, index, &self.channel) {
            Ok(entry) if !matches!(entry.kind, Kind::KeyChange | Kind::WitnessChange) => {
                Checked::Facts(LeafFacts::of(&entry), leaf_hash(bytes))
            }
            // A key or witness change needs the key history (the next number, the keys ever
            // used, the approving key); so does an entry the checker refuses, whose
            // first error may be `RetiredKey` under the keys current at its index. The
            // auditor checks it again: the error is then the sequential audit's.
            Ok(_) | Err(_) => Checked::Deferred(bytes.to_vec()),
        };
        Ok(CheckedLeaf {
            index,
            genesis_leaf: self.genesis_leaf,
            checked,
        })
    }
}

/// A leaf that passed [`LeafChecker::check`]: what the auditor still needs of it. Only a
/// checker makes one, so holding one means the entry's signature verified, or that the
/// auditor is still to check it (a key change, or a sender the checker did not know).
#[derive(Clone, Debug)]
pub struct CheckedLeaf {
    pub(super) index: u64,
    pub(super) genesis_leaf: Hash,
    pub(super) checked: Checked,
}

/// What the checker found.
#[derive(Clone, Debug)]
pub(super) enum Checked {
    /// The entry passed, with its facts and leaf hash.
    Facts(LeafFacts, Hash),
    /// The entry's bytes, for the auditor to check with the key history.
    Deferred(Vec<u8>),
}

impl CheckedLeaf {
    /// The index it was checked at.
    pub fn index(&self) -> u64 {
        self.index
    }
}
