//! A channel's witness history (spec/dyad.md sections 3.8 and 7): the witnesses and
//! threshold of the genesis, each witness change accepted since, and so the set that
//! decides whether a checkpoint of a given size is committed. `key_history::KeyHistory`
//! holds one beside the parties' keys (a new witness must not repeat a key the channel
//! has had, and a change is approved by a party's current key) and advances it as
//! witness-change entries are accepted.

use alloc::vec::Vec;

use crate::genesis_record::Party;
use crate::key::VerifierKey;
use crate::rules::PartyRole;

/// One accepted witness change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessChange {
    /// The index of the witness-change entry; its witnesses decide the checkpoints of
    /// sizes above it (section 3.8).
    pub index: u64,
    /// Its `number`: 1 for the channel's first witness change, and so on.
    pub number: u32,
    /// The party that sent it; the other party approved it.
    pub sender: PartyRole,
    /// The new witnesses, in the entry's order.
    pub witnesses: Vec<Party>,
    /// How many of them must co-sign a checkpoint.
    pub witness_threshold: u8,
}

/// The witnesses that co-sign checkpoints (their type-0x04 cosignature keys) and how many
/// of them must, for a checkpoint to be committed (section 7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WitnessSet {
    pub(crate) keys: Vec<VerifierKey>,
    pub(crate) threshold: usize,
}

impl WitnessSet {
    fn precomputed(self) -> WitnessSet {
        WitnessSet {
            keys: self
                .keys
                .into_iter()
                .map(VerifierKey::precomputed)
                .collect(),
            threshold: self.threshold,
        }
    }
}

/// The genesis's witness set and every witness change accepted since, in index order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WitnessHistory {
    genesis: WitnessSet,
    changes: Vec<WitnessChange>,
    /// `sets[k]` is the set `changes[k]` names.
    sets: Vec<WitnessSet>,
}

impl WitnessHistory {
    /// The history at the genesis: its witnesses and threshold, no change.
    pub(crate) fn new(genesis: WitnessSet) -> WitnessHistory {
        WitnessHistory {
            genesis,
            changes: Vec::new(),
            sets: Vec::new(),
        }
    }

    /// The same history with every witness key's verification table precomputed.
    pub(crate) fn precomputed(self) -> WitnessHistory {
        WitnessHistory {
            genesis: self.genesis.precomputed(),
            changes: self.changes,
            sets: self.sets.into_iter().map(WitnessSet::precomputed).collect(),
        }
    }

    /// The witness changes so far, in index order.
    pub(crate) fn changes(&self) -> &[WitnessChange] {
        &self.changes
    }

    /// The set current after every change so far.
    pub(crate) fn current(&self) -> &WitnessSet {
        self.sets.last().unwrap_or(&self.genesis)
    }

    /// The set that decides a checkpoint of `size`: that of the last witness change at an
    /// index below `size`, or the genesis's (sections 3.8, 7).
    pub(crate) fn at(&self, size: u64) -> &WitnessSet {
        let below = self.changes.partition_point(|c| c.index < size);
        match below.checked_sub(1) {
            Some(last) => &self.sets[last],
            None => &self.genesis,
        }
    }

    /// The `number` the next witness change must carry: the count of those before it,
    /// plus one (section 3.8). `None` once 2^32 - 1 changes were taken: no number is left.
    pub(crate) fn next_number(&self) -> Option<u32> {
        u32::try_from(self.changes.len())
            .ok()
            .and_then(|n| n.checked_add(1))
    }

    /// Records a witness change (already checked) and the set it names.
    pub(crate) fn apply(&mut self, change: WitnessChange, set: WitnessSet) {
        self.changes.push(change);
        self.sets.push(set);
    }
}
