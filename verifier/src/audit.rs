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
//!   its root when the leaf count reaches its size (at once if it already has). A
//!   checkpoint is signed with the parties' keys at its size (spec 3.7) and committed with
//!   the witnesses at its size (3.8, 7): one given ahead of its leaves that does not verify
//!   under the keys and witnesses current when it is given waits, unjudged, for the key
//!   and witness changes below its size, and is verified when the leaves reach it; one that
//!   verified is verified again then if a key or witness change came in between.
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
//! gives a [`LeafChecker`] that does everything [`entry::check_entry`] does for a leaf at a
//! given index and returns a [`CheckedLeaf`]; the caller may run it on as many threads as it
//! likes and then gives the results to [`Auditor::push_checked`] in index order, which
//! applies the order-dependent rules and the tree exactly as [`Auditor::push_leaf`] does, so
//! the verdict and the first error are the same. [`CheckpointFeed`] gives the checkpoints
//! in the order [`audit`] does. With `std`, `parallel_audit::push_leaves` does all of this
//! on the machine's cores (a reader thread, checking threads, the auditor on the caller's),
//! in bounded memory; this module itself is single-threaded.
//!
//! Memory is the frontier, a few counters per party, the last checkpoint note given (for
//! evidence of equivocation), one record with its note per checkpoint given ahead of its
//! leaves, the key history (a key and a few IDs per key change, the witnesses of each
//! witness change), and 48 bytes or so per `record` entry (its sender, leaf hash and endorsement,
//! for the rules of section 3.6): flat in the number of leaves of every other kind.
//!
//! [`entry::check_entry`]: crate::entry::check_entry

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::string::ToString;
use alloc::vec::Vec;

use crate::channel::{self, ChannelParams, CommitError, Committed};
use crate::checkpoint::Checkpoint;
use crate::entry_codec::Attachment;
use crate::equivocation::{self, Contradiction};
use crate::genesis_record::Genesis;
use crate::hash::{leaf_hash, Frontier, Hash};
use crate::joint_record::{self, EndorsedTarget, RecordState};
use crate::key::{SignatureType, VerifierKey};
use crate::rules::{EntryError, Kind};

mod leaf;
mod report;

use leaf::{check_in_order, Checked, LeafFacts, Sender};
pub use leaf::{CheckedLeaf, LeafChecker};
pub use report::{AuditError, AuditReport, AuditTrust, CheckpointVerdict, NamedAttachment};

/// A given checkpoint whose size the leaves have not reached yet.
#[derive(Clone, Debug)]
struct Awaiting {
    size: u64,
    root: Hash,
    /// The co-signer's timestamp, once the note verified; `None` while it waits for the
    /// key changes below its size (see `check_ahead`).
    cosigned_at: Option<u64>,
    /// How many key and witness changes were known when it verified: a change after
    /// that, below its size, makes it verify again under the keys and witnesses at its
    /// size.
    changes_known: usize,
    note: Vec<u8>,
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
    /// Whether its note verified (a note given ahead of a key change may wait).
    verified: bool,
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
    kinds: [u64; Kind::COUNT],
    /// Every record so far, by index, with its sender, leaf hash and endorsement: what
    /// the rules of section 3.6 check an endorsement against.
    records: BTreeMap<u64, RecordState>,
    /// The attachments named so far, the first naming of each (SHA-256, size).
    attachments: Vec<NamedAttachment>,
    named: BTreeSet<(Hash, u64)>,
    failed: Option<AuditError>,
}

/// After this many leaves the auditor precomputes its keys' verification tables: each
/// costs about as much as 45 signature checks (src/comb.rs) and saves more than half of
/// every later one, so a short log does without.
const PRECOMPUTE_AFTER: u64 = 64;

impl Auditor {
    /// An auditor for the channel the trust defines.
    pub fn new(trust: AuditTrust) -> Result<Auditor, AuditError> {
        match &trust {
            AuditTrust::Parties(keys) => {
                for key in keys {
                    if key.signature_type() != SignatureType::Ed25519 {
                        return Err(AuditError::BadTrustedKey(key.to_string()));
                    }
                }
            }
            AuditTrust::Policy(policy) => {
                policy.parties().map_err(AuditError::BadPolicy)?;
            }
            AuditTrust::Genesis(_) => {}
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
            kinds: [0; Kind::COUNT],
            records: BTreeMap::new(),
            attachments: Vec::new(),
            named: BTreeSet::new(),
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
            Some(_) => self.check_later_leaf(index, bytes)?,
        };
        self.bound_timestamp(index, timestamp_ms)?;
        self.append(leaf_hash(bytes))?;
        if index == PRECOMPUTE_AFTER {
            // A log this long pays for the keys' tables (src/keyed.rs): every entry and
            // checkpoint that follows is signed by one of them.
            self.channel = self.channel.take().map(ChannelParams::precomputed);
        }
        self.check_reached()
    }

    /// A leaf after the genesis, with the key history up to `index`: the channel's rules,
    /// the order-dependent rules, and, for a key change, the new key taken in.
    fn check_later_leaf(&mut self, index: u64, bytes: &[u8]) -> Result<u64, AuditError> {
        let entry_error = |error| AuditError::Entry { index, error };
        let channel = self.channel.as_mut().ok_or(AuditError::EmptyLog)?;
        let entry = channel::check_entry(bytes, index, channel).map_err(entry_error)?;
        let facts = LeafFacts::of(&entry);
        let timestamp_ms = check_in_order(
            channel,
            self.genesis_ms,
            &mut self.senders,
            &mut self.kinds,
            index,
            &facts,
        )?;
        channel.accept(index, &entry).map_err(entry_error)?;
        self.check_joint(index, &facts, leaf_hash(bytes))?;
        self.note_attachments(index, &facts.attachments);
        Ok(timestamp_ms)
    }

    /// A checker for the leaves after the genesis, once leaf 0 has been pushed: it does
    /// what needs no earlier entry (decoding, the channel's rules, the signature), on any
    /// thread, and [`Auditor::push_checked`] does the rest in index order.
    pub fn leaf_checker(&self) -> Option<LeafChecker> {
        Some(LeafChecker {
            // A checker is made for many leaves: it verifies with the keys' tables.
            channel: self.channel.clone()?.precomputed(),
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
        let (timestamp_ms, hash) = match &leaf.checked {
            Checked::Facts(facts, hash) => {
                let timestamp_ms = check_in_order(
                    channel,
                    self.genesis_ms,
                    &mut self.senders,
                    &mut self.kinds,
                    index,
                    facts,
                )?;
                self.check_joint(index, facts, *hash)?;
                self.note_attachments(index, &facts.attachments);
                (timestamp_ms, *hash)
            }
            Checked::Deferred(bytes) => (self.check_later_leaf(index, bytes)?, leaf_hash(bytes)),
        };
        self.bound_timestamp(index, timestamp_ms)?;
        self.append(hash)?;
        self.check_reached()
    }

    /// Keeps the attachments of entry `index` not named before, for the report.
    fn note_attachments(&mut self, index: u64, attachments: &[Attachment]) {
        for a in attachments {
            if self.named.insert((a.sha256, a.size)) {
                self.attachments.push(NamedAttachment {
                    index,
                    attachment: a.clone(),
                });
            }
        }
    }

    /// The rules of section 3.6 that need the log before the entry: an endorsement names
    /// an earlier record of the other party, not yet endorsed, by its leaf hash. Keeps
    /// each record, and marks it endorsed.
    fn check_joint(
        &mut self,
        index: u64,
        facts: &LeafFacts,
        leaf_hash: Hash,
    ) -> Result<(), AuditError> {
        if facts.kind == Kind::Record {
            self.records.insert(
                index,
                RecordState {
                    sender: facts.sender(),
                    leaf_hash,
                    endorsed_in: None,
                },
            );
        }
        let Some(named) = facts.endorses else {
            return Ok(());
        };
        let target = match self.records.get(&named.record) {
            Some(state) => EndorsedTarget::Record(*state),
            None if named.record < index => EndorsedTarget::NotARecord,
            None => EndorsedTarget::Missing,
        };
        joint_record::check_target(facts.sender(), &named, target)
            .map_err(|error| AuditError::Endorsement { index, error })?;
        if let Some(state) = self.records.get_mut(&named.record) {
            state.endorsed_in = Some(index);
        }
        Ok(())
    }

    /// Leaf 0: a valid genesis of the trusted channel.
    fn check_genesis_leaf(&mut self, bytes: &[u8]) -> Result<u64, AuditError> {
        let (entry, genesis) =
            channel::check_genesis(bytes).map_err(|error| AuditError::Entry { index: 0, error })?;
        let trusted = match &self.trust {
            AuditTrust::Parties([a, b]) => genesis.names_parties(a, b),
            AuditTrust::Genesis(pinned) => *pinned == genesis,
            AuditTrust::Policy(policy) => policy.parties().is_ok_and(|p| {
                p.origin == genesis.origin
                    && genesis.sequencer.is_key(&p.sequencer)
                    && genesis.cosigner.is_key(&p.cosigner)
            }),
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
        match self
            .awaiting
            .front()
            .and_then(|a| Some((a.size, a.cosigned_at?)))
        {
            Some((size, cosigned_at)) => self.check_bound(index, timestamp_ms, size, cosigned_at),
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

    /// Compares the roots of the given checkpoints that the leaf count has reached, and
    /// verifies those that wait for the keys at their size.
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
            let reverify = front.cosigned_at.is_none() || front.changes_known != self.changes();
            if let Some(front) = self.awaiting.pop_front() {
                if reverify {
                    self.verify_reached(&front)?;
                }
                self.committed_size = front.size;
            }
        }
        Ok(())
    }

    /// Key and witness changes accepted so far.
    fn changes(&self) -> usize {
        self.channel
            .as_ref()
            .map_or(0, |c| c.key_changes().len() + c.witness_changes().len())
    }

    /// A checkpoint given ahead whose size the leaves now reach, verified under the keys
    /// current at its size (those of now), with the timestamps it bounds.
    fn verify_reached(&mut self, reached: &Awaiting) -> Result<(), AuditError> {
        let committed = self.committed(&reached.note, reached.size)?;
        if reached.cosigned_at.is_none() {
            if let Some(uncovered) = self.uncovered.take() {
                self.check_bound(
                    uncovered.index,
                    uncovered.timestamp_ms,
                    reached.size,
                    committed.cosigned_at,
                )?;
            }
        }
        if let Some(last) = self.last.as_mut() {
            if last.checkpoint.size == reached.size && last.checkpoint.root == reached.root {
                last.verified = true;
            }
        }
        Ok(())
    }

    /// Verifies a note as committed under the keys current at `size` (section 7, 3.7)
    /// and, under a policy, as meeting it.
    fn committed(&self, note_bytes: &[u8], size: u64) -> Result<Committed, AuditError> {
        let channel = self
            .channel
            .as_ref()
            .ok_or(AuditError::CheckpointBeforeGenesis)?;
        let keys = channel.commit_keys_at(size);
        let committed = keys
            .verify(note_bytes)
            .map_err(|error| AuditError::NotCommitted {
                size: readable_size(note_bytes),
                error,
            })?;
        if let AuditTrust::Policy(policy) = &self.trust {
            // The policy names the parties' genesis keys; at `size` they are the keys
            // the key history gives (section 9).
            let sequencer = keys.log.public_key_bytes();
            let cosigner = keys.cosigner.public_key_bytes();
            policy
                .with_party_keys(sequencer, cosigner)
                .map_err(AuditError::BadPolicy)?
                .verify_checkpoint(note_bytes)
                .map_err(|error| AuditError::PolicyNotMet {
                    size: readable_size(note_bytes),
                    error,
                })?;
        }
        Ok(committed)
    }

    /// Checks a checkpoint note: committed under the channel's terms (section 7) with the
    /// parties' keys at its size (3.7), of this channel, in size order, not conflicting
    /// with the previous one, and (now or when the leaves reach its size) with the root of
    /// the leaves.
    ///
    /// A note given ahead of its leaves is verified under the keys and witnesses current
    /// now. If a key or witness change lies below its size, those are not its keys: a note
    /// that fails under them waits (its signatures unjudged) until the leaves reach its
    /// size and is verified then, and one that passed is verified again then.
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
        if self.channel.is_none() {
            return Err(AuditError::CheckpointBeforeGenesis);
        }
        let checkpoint = channel::read_checkpoint(note_bytes)
            .map_err(|error| AuditError::NotCommitted { size: None, error })?;
        let size = checkpoint.size;
        let ahead = size > self.tree.leaves();
        let cosigned_at = match self.committed(note_bytes, size) {
            Ok(committed) => Some(committed.cosigned_at),
            Err(AuditError::NotCommitted {
                error:
                    CommitError::Note(_)
                    | CommitError::MissingLogSignature(_)
                    | CommitError::MissingCosignature(_)
                    | CommitError::NotEnoughWitnesses { .. },
                ..
            }) if ahead => None,
            Err(error) => return Err(error),
        };
        self.checkpoints += 1;
        if let Some(verdict) = self.check_order(note_bytes, &checkpoint, cosigned_at)? {
            return Ok(verdict);
        }
        if let (Some(cosigned_at), Some(uncovered)) = (cosigned_at, self.uncovered) {
            // This is the first checkpoint covering the leaves pushed while none was given.
            self.check_bound(uncovered.index, uncovered.timestamp_ms, size, cosigned_at)?;
            self.uncovered = None;
        }
        self.last = Some(Last {
            checkpoint: checkpoint.clone(),
            note: note_bytes.to_vec(),
            verified: cosigned_at.is_some(),
        });
        self.awaiting.push_back(Awaiting {
            size,
            root: checkpoint.root,
            cosigned_at,
            changes_known: self.changes(),
            note: note_bytes.to_vec(),
        });
        self.check_reached()?;
        Ok(CheckpointVerdict {
            root_checked: size == self.tree.leaves(),
            checkpoint,
            cosigned_at,
        })
    }

    /// The size order of checkpoints: not smaller than the last one given; of its size,
    /// the same root (the verdict, if this one adds nothing) or equivocation; not
    /// smaller than the leaves pushed.
    fn check_order(
        &self,
        note_bytes: &[u8],
        checkpoint: &Checkpoint,
        cosigned_at: Option<u64>,
    ) -> Result<Option<CheckpointVerdict>, AuditError> {
        let size = checkpoint.size;
        if let Some(last) = &self.last {
            let previous = last.checkpoint.size;
            if size < previous {
                return Err(AuditError::CheckpointBackwards { size, previous });
            }
            // Two verified notes of one size: the same tree head again (perhaps with more
            // cosignatures), or equivocation. A note still waiting is judged when reached.
            if let (true, true, Some(cosigned_at)) = (size == previous, last.verified, cosigned_at)
            {
                if checkpoint.root != last.checkpoint.root {
                    let evidence =
                        equivocation::build(&last.note, note_bytes, &Contradiction::SameSize);
                    return Err(AuditError::ConflictingCheckpoints { size, evidence });
                }
                return Ok(Some(CheckpointVerdict {
                    checkpoint: checkpoint.clone(),
                    cosigned_at: Some(cosigned_at),
                    root_checked: size <= self.tree.leaves(),
                }));
            }
        }
        if size < self.tree.leaves() {
            return Err(AuditError::CheckpointTooLate {
                size,
                leaves: self.tree.leaves(),
            });
        }
        Ok(None)
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
            key_changes: channel.key_changes().to_vec(),
            witness_changes: channel.witness_changes().to_vec(),
            attachments: self.attachments,
        })
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
