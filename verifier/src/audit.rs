//! Auditing a whole log (spec/dyad.md sections 3 to 7), streaming, in flat memory.
//!
//! An [`Auditor`] is fed the leaves in index order ([`Auditor::push_leaf`]) and the
//! checkpoints in size order ([`Auditor::check_checkpoint`]), interleaved, and stops at
//! the first failure, which names the entry index or checkpoint size and what is wrong.
//! [`audit`] does the interleaving for a list of checkpoints.
//!
//! # Feeding order, and why
//!
//! The auditor keeps the tree's compact frontier (one hash per set bit of the leaf count,
//! at most 64), so it can compute the root of the leaves pushed so far, and no earlier
//! root. Hence:
//!
//! - checkpoints come in non-decreasing size order (a smaller one after a larger one is
//!   [`AuditError::CheckpointBackwards`]);
//! - a checkpoint is given no later than the leaf that brings the count to its size: when
//!   it is given, its size must be at least the number of leaves pushed
//!   ([`AuditError::CheckpointTooLate`] otherwise). Its signatures are checked at once and
//!   its root when the leaf count reaches its size (at once if it already has).
//!
//! The upper timestamp bound of section 3.3 (an entry is not later than `max_clock_skew_s`
//! after the first co-signature covering it) is checked against the co-signer's timestamp
//! on the first given checkpoint whose size is above the entry's index. A checkpoint given
//! before the leaves it covers bounds each of them as it arrives, so the first offending
//! entry is named exactly; for leaves pushed while no given checkpoint covered them, the
//! auditor keeps only the latest timestamp among them (flat memory) and, if the next
//! checkpoint's bound is exceeded, names the first entry that carried that timestamp.
//! [`audit`] gives each checkpoint as soon as the one before it is reached, so only the
//! genesis entry is ever bounded late.
//!
//! # Checking on other threads
//!
//! Nearly all of an audit's time is the strict signature check of each entry, which needs
//! only the channel, not the entries before it. After leaf 0, [`Auditor::leaf_checker`]
//! gives a [`LeafChecker`] that does everything [`entry::check_entry`](crate::entry::check_entry) does for a leaf at a
//! given index and returns a [`CheckedLeaf`]; the caller may run it on as many threads as it
//! likes and then gives the results to [`Auditor::push_checked`] in index order, which
//! applies the order-dependent rules and the tree exactly as [`Auditor::push_leaf`] does, so
//! the verdict and the first error are the same. [`CheckpointFeed`] gives the checkpoints
//! in the order [`audit`] does. The crate itself stays single-threaded.
//!
//! Memory is the frontier, a few counters per party, the last checkpoint note given (for
//! evidence of equivocation), and one small record per checkpoint given ahead of its
//! leaves: flat in the number of leaves.

use alloc::collections::VecDeque;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::channel::{self, ChannelParams, CommitError};
use crate::checkpoint::Checkpoint;
use crate::entry_codec::Entry;
use crate::equivocation::{self, Contradiction};
use crate::genesis_record::Genesis;
use crate::hash::{leaf_hash, Frontier, Hash};
use crate::key::{SignatureType, VerifierKey};
use crate::rules::{EntryError, Kind, PartyRole};

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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointVerdict {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// The co-signer's timestamp on it.
    pub cosigned_at: u64,
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
    pub kinds: [u64; 5],
    /// Entries sent by the sequencer (genesis included) and by the co-signer.
    pub entries_by_sequencer: u64,
    /// Entries sent by the co-signer.
    pub entries_by_cosigner: u64,
}

/// Per-sender state for section 3.3.
#[derive(Clone, Debug, Default)]
struct Sender {
    /// The sender's last sequence (0 before its first entry; the genesis is 0).
    sequence: u64,
    /// Index and timestamp of its last entry.
    last: Option<(u64, u64)>,
    count: u64,
}

/// A given checkpoint whose size the leaves have not reached yet.
#[derive(Clone, Debug)]
struct Awaiting {
    size: u64,
    root: Hash,
    cosigned_at: u64,
}

/// The latest timestamp among leaves pushed while no given checkpoint covered them, and
/// the first of them that carried it.
#[derive(Clone, Copy, Debug)]
struct Uncovered {
    timestamp_ms: u64,
    index: u64,
}

/// The last checkpoint given.
#[derive(Clone, Debug)]
struct Last {
    checkpoint: Checkpoint,
    note: Vec<u8>,
}

/// A streaming auditor; see the module documentation.
#[derive(Clone, Debug)]
pub struct Auditor {
    trust: AuditTrust,
    channel: Option<ChannelParams>,
    /// The leaf hash of the genesis entry (zero before it): names the channel.
    genesis_leaf: Hash,
    genesis_ms: u64,
    /// The leaves pushed so far, as the tree's compact frontier.
    tree: Frontier,
    senders: [Sender; 2],
    awaiting: VecDeque<Awaiting>,
    uncovered: Option<Uncovered>,
    last: Option<Last>,
    committed_size: u64,
    checkpoints: u64,
    kinds: [u64; 5],
    failed: Option<AuditError>,
}

impl Auditor {
    /// An auditor for the channel the trust defines.
    pub fn new(trust: AuditTrust) -> Result<Auditor, AuditError> {
        if let AuditTrust::Parties(keys) = &trust {
            for key in keys {
                if key.signature_type() != SignatureType::Ed25519 {
                    return Err(AuditError::BadTrustedKey(key.to_string()));
                }
            }
        }
        Ok(Auditor {
            trust,
            channel: None,
            genesis_leaf: [0; 32],
            genesis_ms: 0,
            tree: Frontier::default(),
            senders: [Sender::default(), Sender::default()],
            awaiting: VecDeque::new(),
            uncovered: None,
            last: None,
            committed_size: 0,
            checkpoints: 0,
            kinds: [0; 5],
            failed: None,
        })
    }

    /// An auditor trusting two parties' entry keys, in either order.
    pub fn from_parties(a: VerifierKey, b: VerifierKey) -> Result<Auditor, AuditError> {
        Auditor::new(AuditTrust::Parties([a, b]))
    }

    /// An auditor trusting a pinned genesis record.
    pub fn from_genesis(genesis: Genesis) -> Result<Auditor, AuditError> {
        Auditor::new(AuditTrust::Genesis(genesis))
    }

    /// Leaves pushed so far.
    pub fn leaves(&self) -> u64 {
        self.tree.leaves()
    }

    /// The root of the leaves pushed so far (RFC 9162; SHA-256 of nothing when empty).
    pub fn root(&self) -> Hash {
        self.tree.root()
    }

    /// The channel's parameters, once leaf 0 has been checked.
    pub fn channel(&self) -> Option<&ChannelParams> {
        self.channel.as_ref()
    }

    /// The size of the smallest given checkpoint whose root is not checked yet: the
    /// checkpoint that covers the next leaf, if any.
    pub fn awaiting(&self) -> Option<u64> {
        self.awaiting.front().map(|a| a.size)
    }

    fn fail<T>(&mut self, error: AuditError) -> Result<T, AuditError> {
        self.failed = Some(error.clone());
        Err(error)
    }

    /// Checks the next leaf (index = leaves pushed so far) and adds it to the tree.
    pub fn push_leaf(&mut self, bytes: &[u8]) -> Result<(), AuditError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        match self.check_leaf(bytes) {
            Ok(()) => Ok(()),
            Err(error) => self.fail(error),
        }
    }

    fn check_leaf(&mut self, bytes: &[u8]) -> Result<(), AuditError> {
        let index = self.tree.leaves();
        if index == u64::MAX {
            return Err(AuditError::LogFull);
        }
        let timestamp_ms = match &self.channel {
            None => self.check_genesis_leaf(bytes)?,
            Some(channel) => {
                let entry = channel::check_entry(bytes, index, channel)
                    .map_err(|error| AuditError::Entry { index, error })?;
                let facts = LeafFacts::of(&entry);
                check_in_order(
                    channel,
                    self.genesis_ms,
                    &mut self.senders,
                    &mut self.kinds,
                    index,
                    &facts,
                )?
            }
        };
        self.bound_timestamp(index, timestamp_ms)?;
        self.append(leaf_hash(bytes))?;
        self.check_reached()
    }

    /// A checker for the leaves after the genesis, once leaf 0 has been pushed: it does
    /// what needs no earlier entry (decoding, the channel's rules, the signature), on any
    /// thread, and [`Auditor::push_checked`] does the rest in index order.
    pub fn leaf_checker(&self) -> Option<LeafChecker> {
        Some(LeafChecker {
            channel: self.channel.clone()?,
            genesis_leaf: self.genesis_leaf,
        })
    }

    /// Adds the next leaf, already checked by a [`LeafChecker`] of this auditor: the
    /// same verdict as [`Auditor::push_leaf`] with its bytes, which the checker has read.
    pub fn push_checked(&mut self, leaf: CheckedLeaf) -> Result<(), AuditError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        let result = self.check_checked(&leaf);
        match result {
            Ok(()) => Ok(()),
            Err(error) => self.fail(error),
        }
    }

    fn check_checked(&mut self, leaf: &CheckedLeaf) -> Result<(), AuditError> {
        let index = self.tree.leaves();
        if index == u64::MAX {
            return Err(AuditError::LogFull);
        }
        // Leaf 0 is the genesis, which only push_leaf checks; a checker only exists after
        // it, and the genesis leaf hash names the channel the checker was made for.
        let channel = match &self.channel {
            Some(channel)
                if leaf.index == index && index != 0 && leaf.genesis_leaf == self.genesis_leaf =>
            {
                channel
            }
            _ => {
                return Err(AuditError::CheckedLeafMismatch {
                    index,
                    found: leaf.index,
                })
            }
        };
        let timestamp_ms = check_in_order(
            channel,
            self.genesis_ms,
            &mut self.senders,
            &mut self.kinds,
            index,
            &leaf.facts,
        )?;
        self.bound_timestamp(index, timestamp_ms)?;
        self.append(leaf.leaf_hash)?;
        self.check_reached()
    }

    /// Leaf 0: a valid genesis of the trusted channel.
    fn check_genesis_leaf(&mut self, bytes: &[u8]) -> Result<u64, AuditError> {
        let (entry, genesis) =
            channel::check_genesis(bytes).map_err(|error| AuditError::Entry { index: 0, error })?;
        let trusted = match &self.trust {
            AuditTrust::Parties([a, b]) => genesis.names_parties(a, b),
            AuditTrust::Genesis(pinned) => *pinned == genesis,
        };
        if !trusted {
            return Err(AuditError::UntrustedGenesis);
        }
        let channel = ChannelParams::new(genesis).map_err(|error| AuditError::Entry {
            index: 0,
            error: EntryError::Genesis(error),
        })?;
        self.channel = Some(channel);
        self.genesis_leaf = leaf_hash(bytes);
        self.genesis_ms = entry.timestamp_ms;
        let sequencer = &mut self.senders[0];
        sequencer.last = Some((0, entry.timestamp_ms));
        sequencer.count = 1;
        self.kinds[usize::from(Kind::Genesis.as_u8())] += 1;
        Ok(entry.timestamp_ms)
    }

    /// The upper bound of section 3.3 for the entry at `index`, or a note to check it
    /// when the first covering checkpoint arrives.
    fn bound_timestamp(&mut self, index: u64, timestamp_ms: u64) -> Result<(), AuditError> {
        match self.awaiting.front() {
            Some(covering) => {
                self.check_bound(index, timestamp_ms, covering.size, covering.cosigned_at)
            }
            None => {
                if self.uncovered.is_none_or(|u| timestamp_ms > u.timestamp_ms) {
                    self.uncovered = Some(Uncovered {
                        timestamp_ms,
                        index,
                    });
                }
                Ok(())
            }
        }
    }

    fn check_bound(
        &self,
        index: u64,
        timestamp_ms: u64,
        checkpoint_size: u64,
        cosigned_at: u64,
    ) -> Result<(), AuditError> {
        let skew_s = self
            .channel
            .as_ref()
            .map_or(0, |c| u64::from(c.genesis().max_clock_skew_s));
        let bound_ms = cosigned_at.saturating_add(skew_s).saturating_mul(1000);
        if timestamp_ms > bound_ms {
            return Err(AuditError::TimestampAfterCosignature {
                index,
                timestamp_ms,
                checkpoint_size,
                cosigned_at,
            });
        }
        Ok(())
    }

    /// Adds a checked leaf to the tree (the callers have already refused a full log).
    fn append(&mut self, leaf: Hash) -> Result<(), AuditError> {
        if self.tree.push(leaf) {
            Ok(())
        } else {
            Err(AuditError::LogFull)
        }
    }

    /// Compares the roots of the given checkpoints that the leaf count has reached.
    fn check_reached(&mut self) -> Result<(), AuditError> {
        while let Some(front) = self.awaiting.front() {
            if front.size != self.tree.leaves() {
                break;
            }
            let computed_root = self.root();
            if front.root != computed_root {
                return Err(AuditError::RootMismatch {
                    size: front.size,
                    checkpoint_root: front.root,
                    computed_root,
                });
            }
            self.committed_size = front.size;
            self.awaiting.pop_front();
        }
        Ok(())
    }

    /// Checks a checkpoint note: committed under the channel's terms (section 7), of this
    /// channel, in size order, not conflicting with the previous one, and (now or when
    /// the leaves reach its size) with the root of the leaves.
    pub fn check_checkpoint(&mut self, note_bytes: &[u8]) -> Result<CheckpointVerdict, AuditError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        match self.check_checkpoint_inner(note_bytes) {
            Ok(verdict) => Ok(verdict),
            Err(error) => self.fail(error),
        }
    }

    fn check_checkpoint_inner(
        &mut self,
        note_bytes: &[u8],
    ) -> Result<CheckpointVerdict, AuditError> {
        let channel = self
            .channel
            .as_ref()
            .ok_or(AuditError::CheckpointBeforeGenesis)?;
        let committed =
            channel
                .verify_checkpoint(note_bytes)
                .map_err(|error| AuditError::NotCommitted {
                    size: readable_size(note_bytes),
                    error,
                })?;
        let checkpoint = committed.checkpoint;
        let size = checkpoint.size;
        self.checkpoints += 1;
        if let Some(last) = &self.last {
            let previous = last.checkpoint.size;
            if size < previous {
                return Err(AuditError::CheckpointBackwards { size, previous });
            }
            if size == previous {
                if checkpoint.root != last.checkpoint.root {
                    let evidence =
                        equivocation::build(&last.note, note_bytes, &Contradiction::SameSize);
                    return Err(AuditError::ConflictingCheckpoints { size, evidence });
                }
                // The same tree head again (perhaps with more cosignatures).
                return Ok(CheckpointVerdict {
                    checkpoint,
                    cosigned_at: committed.cosigned_at,
                    root_checked: size <= self.tree.leaves(),
                });
            }
        }
        if size < self.tree.leaves() {
            return Err(AuditError::CheckpointTooLate {
                size,
                leaves: self.tree.leaves(),
            });
        }
        // This is the first checkpoint covering the leaves pushed while none was given.
        if let Some(uncovered) = self.uncovered.take() {
            self.check_bound(
                uncovered.index,
                uncovered.timestamp_ms,
                size,
                committed.cosigned_at,
            )?;
        }
        self.last = Some(Last {
            checkpoint: checkpoint.clone(),
            note: note_bytes.to_vec(),
        });
        self.awaiting.push_back(Awaiting {
            size,
            root: checkpoint.root,
            cosigned_at: committed.cosigned_at,
        });
        self.check_reached()?;
        Ok(CheckpointVerdict {
            root_checked: size == self.tree.leaves(),
            checkpoint,
            cosigned_at: committed.cosigned_at,
        })
    }

    /// Ends the audit: every checkpoint given must have been reached by the leaves.
    pub fn finish(self) -> Result<AuditReport, AuditError> {
        let root = self.root();
        if let Some(error) = self.failed {
            return Err(error);
        }
        let Some(channel) = self.channel else {
            return Err(AuditError::EmptyLog);
        };
        if let Some(front) = self.awaiting.front() {
            return Err(AuditError::CheckpointBeyondLog {
                size: front.size,
                leaves: self.tree.leaves(),
            });
        }
        Ok(AuditReport {
            genesis: channel.genesis().clone(),
            leaves: self.tree.leaves(),
            root,
            committed_size: self.committed_size,
            pending: self.tree.leaves() - self.committed_size,
            checkpoints: self.checkpoints,
            latest_checkpoint: self.last.map(|l| l.checkpoint),
            kinds: self.kinds,
            entries_by_sequencer: self.senders[0].count,
            entries_by_cosigner: self.senders[1].count,
        })
    }
}

/// What the order-dependent rules need of an entry.
#[derive(Clone, Copy, Debug)]
struct LeafFacts {
    sender: u32,
    sequence: u64,
    timestamp_ms: u64,
    kind: Kind,
}

impl LeafFacts {
    fn of(entry: &Entry) -> LeafFacts {
        LeafFacts {
            sender: entry.sender,
            sequence: entry.sequence,
            timestamp_ms: entry.timestamp_ms,
            kind: entry.kind,
        }
    }
}

/// The rules of section 3.3 that depend on the sender's earlier entries; counts the entry.
/// Returns its timestamp.
fn check_in_order(
    channel: &ChannelParams,
    genesis_ms: u64,
    senders: &mut [Sender; 2],
    kinds: &mut [u64; 5],
    index: u64,
    entry: &LeafFacts,
) -> Result<u64, AuditError> {
    let (role, _) = channel
        .party_by_key_id(entry.sender)
        .ok_or(AuditError::Entry {
            index,
            error: EntryError::SenderNotAParty {
                key_id: entry.sender,
            },
        })?;
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
#[derive(Clone, Debug)]
pub struct LeafChecker {
    channel: ChannelParams,
    genesis_leaf: Hash,
}

impl LeafChecker {
    /// Checks `bytes` as the leaf at `index` ([`entry::check_entry`](crate::entry::check_entry)), with the same
    /// error as [`Auditor::push_leaf`] would give for this check. The result is for the
    /// auditor that made this checker, at that index.
    pub fn check(&self, index: u64, bytes: &[u8]) -> Result<CheckedLeaf, AuditError> {
        let entry = channel::check_entry(bytes, index, &self.channel)
            .map_err(|error| AuditError::Entry { index, error })?;
        Ok(CheckedLeaf {
            index,
            genesis_leaf: self.genesis_leaf,
            facts: LeafFacts::of(&entry),
            leaf_hash: leaf_hash(bytes),
        })
    }
}

/// A leaf that passed [`LeafChecker::check`]: what the auditor still needs of it. Only a
/// checker makes one, so holding one means the entry's signature verified.
#[derive(Clone, Debug)]
pub struct CheckedLeaf {
    index: u64,
    genesis_leaf: Hash,
    facts: LeafFacts,
    leaf_hash: Hash,
}

impl CheckedLeaf {
    /// The index it was checked at.
    pub fn index(&self) -> u64 {
        self.index
    }
}

/// Checkpoint notes in size order, given to an [`Auditor`] the way [`audit`] does: each
/// as soon as the one before it is reached, so that every entry's timestamp is bounded as
/// it arrives.
#[derive(Clone, Debug)]
pub struct CheckpointFeed<'a> {
    notes: Vec<&'a [u8]>,
    next: usize,
}

impl<'a> CheckpointFeed<'a> {
    /// Sorts the notes by size. A note whose checkpoint cannot even be parsed has no
    /// size to sort by: it is reported ([`AuditError::NotCommitted`] without a size).
    pub fn new(checkpoints: &'a [Vec<u8>]) -> Result<CheckpointFeed<'a>, AuditError> {
        let mut order: Vec<(u64, usize)> = Vec::with_capacity(checkpoints.len());
        for (i, note) in checkpoints.iter().enumerate() {
            let size = channel::read_checkpoint(note)
                .map_err(|error| AuditError::NotCommitted { size: None, error })?
                .size;
            order.push((size, i));
        }
        order.sort();
        Ok(CheckpointFeed {
            notes: order
                .iter()
                .map(|&(_, i)| checkpoints[i].as_slice())
                .collect(),
            next: 0,
        })
    }

    /// Gives the next checkpoints while the auditor awaits none; call after every leaf.
    pub fn give_due(&mut self, auditor: &mut Auditor) -> Result<(), AuditError> {
        while auditor.awaiting().is_none() {
            let Some(note) = self.notes.get(self.next) else {
                break;
            };
            self.next += 1;
            auditor.check_checkpoint(note)?;
        }
        Ok(())
    }

    /// Gives every checkpoint not given yet; call after the last leaf.
    pub fn give_rest(&mut self, auditor: &mut Auditor) -> Result<(), AuditError> {
        while let Some(note) = self.notes.get(self.next) {
            self.next += 1;
            auditor.check_checkpoint(note)?;
        }
        Ok(())
    }
}

/// The size line of a note's checkpoint, if it gets that far, for error messages.
fn readable_size(note_bytes: &[u8]) -> Option<u64> {
    channel::read_checkpoint(note_bytes).ok().map(|c| c.size)
}

/// Audits a whole log: `leaves` in index order and `checkpoints` (notes) in any order.
///
/// The checkpoints are sorted by size and each is given to the [`Auditor`] as soon as the
/// one before it is reached, so every entry's timestamp is bounded as it arrives. A
/// checkpoint whose note or text cannot even be parsed has no size to sort by: it is
/// reported (as [`AuditError::NotCommitted`] without a size) before any leaf is checked.
pub fn audit<I>(
    leaves: I,
    checkpoints: &[Vec<u8>],
    trust: AuditTrust,
) -> Result<AuditReport, AuditError>
where
    I: IntoIterator<Item = Vec<u8>>,
{
    let mut feed = CheckpointFeed::new(checkpoints)?;
    let mut auditor = Auditor::new(trust)?;
    for leaf in leaves {
        auditor.push_leaf(&leaf)?;
        // At least one checkpoint is then awaited, so that the leaves to come are bounded
        // by the checkpoint that covers them.
        feed.give_due(&mut auditor)?;
    }
    feed.give_rest(&mut auditor)?;
    auditor.finish()
}
