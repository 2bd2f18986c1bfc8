//! The witnesses over the life of a channel (spec/dyad.md 3.8, 7): the genesis's set and
//! threshold, then each witness change's, to find the witnesses a checkpoint of size `n`
//! needs (those of the last change at an index below `n`), and every witness the channel
//! has had (a witness that comes back with the same name and key is no reused key).
//!
//! It is rebuilt on open from the genesis and the `witnesschange/<index>` records, which
//! each witness change's batch writes beside the entry (same atomic commit), and checked
//! against the entries they name: a store from before witness changes has none and needs
//! no migration.

use std::collections::HashSet;

use dyad_verifier::key::{SignatureType, VerifierKey};

use super::ChannelError;
use crate::entry::witness_change::{WitnessChangeError, WitnessChangePayload};
use crate::entry::{wire_config, Entry, Kind};
use crate::genesis::{Genesis, GenesisError, Party};
use crate::store::{Batch, Store};

const WITNESS_CHANGE_PREFIX: &str = "witnesschange/";

/// A witness change in the log: from `index + 1` on, the witnesses are `witnesses` and
/// `threshold` of them must co-sign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct WitnessChangeAt {
    pub(super) index: u64,
    pub(super) witnesses: Vec<Party>,
    pub(super) threshold: u8,
}

/// One witness set with its cosignature keys (type 0x04), resolved once: a checkpoint's
/// note is verified under them.
#[derive(Clone, Debug)]
struct WitnessSet {
    /// The witness change that brought it in; `None` for the genesis's.
    index: Option<u64>,
    witnesses: Vec<Party>,
    threshold: u8,
    keys: Vec<VerifierKey>,
}

impl WitnessSet {
    fn new(
        index: Option<u64>,
        witnesses: &[Party],
        threshold: u8,
    ) -> Result<Self, WitnessChangeError> {
        let keys = witnesses
            .iter()
            .enumerate()
            .map(|(index, w)| {
                VerifierKey::new(&w.name, SignatureType::CosignatureV1, w.public_key)
                    .map_err(|error| WitnessChangeError::InvalidWitness { index, error })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(WitnessSet {
            index,
            witnesses: witnesses.to_vec(),
            threshold,
            keys,
        })
    }
}

/// The witness history: see the module documentation.
#[derive(Clone, Debug)]
pub(super) struct WitnessState {
    /// The genesis's set first, then each witness change's, in index order.
    sets: Vec<WitnessSet>,
    /// Every witness the channel has had, by name and public key.
    ever: HashSet<(String, [u8; 32])>,
}

impl WitnessState {
    /// The genesis witnesses, with no witness change yet.
    pub(super) fn from_genesis(genesis: &Genesis) -> Result<WitnessState, GenesisError> {
        let mut state = WitnessState {
            sets: vec![
                WitnessSet::new(None, &genesis.witnesses, genesis.witness_threshold)
                    .map_err(|_| GenesisError::Rule("a witness's key is not valid"))?,
            ],
            ever: HashSet::new(),
        };
        state.remember(&genesis.witnesses);
        Ok(state)
    }

    fn remember(&mut self, witnesses: &[Party]) {
        for w in witnesses {
            self.ever.insert((w.name.clone(), w.public_key));
        }
    }

    /// The set a checkpoint of size `n` needs: the last change's at an index below `n`,
    /// else the genesis's (spec 3.8, 7).
    fn set_at(&self, n: u64) -> &WitnessSet {
        self.sets
            .iter()
            .rev()
            .find(|s| s.index.is_none_or(|i| i < n))
            .unwrap_or(&self.sets[0])
    }

    /// The witnesses and threshold at checkpoint size `n`.
    pub(super) fn at(&self, n: u64) -> (&[Party], u8) {
        let set = self.set_at(n);
        (&set.witnesses, set.threshold)
    }

    /// The witnesses' cosignature keys at checkpoint size `n`.
    pub(super) fn keys_at(&self, n: u64) -> &[VerifierKey] {
        &self.set_at(n).keys
    }

    /// The witnesses' cosignature keys after the last witness change: those of the next
    /// checkpoint.
    pub(super) fn current_keys(&self) -> &[VerifierKey] {
        self.sets.last().map_or(&[], |s| &s.keys)
    }

    /// The threshold after the last witness change.
    pub(super) fn current_threshold(&self) -> u8 {
        self.sets.last().map_or(0, |s| s.threshold)
    }

    /// The number the next witness change must carry: the count of changes so far, plus one.
    pub(super) fn next_number(&self) -> u32 {
        u32::try_from(self.sets.len()).unwrap_or(u32::MAX)
    }

    /// Whether the channel has had this witness, with this name and key.
    pub(super) fn had(&self, witness: &Party) -> bool {
        self.ever
            .contains(&(witness.name.clone(), witness.public_key))
    }

    /// The indices of the witness-change entries, ascending.
    pub(super) fn change_indices(&self) -> Vec<u64> {
        self.sets.iter().filter_map(|s| s.index).collect()
    }

    /// Takes a witness change (its rules checked): its set is the one from `index + 1` on.
    pub(super) fn apply(&mut self, change: &WitnessChangeAt) -> Result<(), WitnessChangeError> {
        let set = WitnessSet::new(Some(change.index), &change.witnesses, change.threshold)?;
        self.remember(&change.witnesses);
        self.sets.push(set);
        Ok(())
    }

    /// Stages the records of the witness changes this state has beyond `before`.
    pub(super) fn stage_new(&self, before: &WitnessState, batch: &mut Batch) {
        for set in self.sets.iter().skip(before.sets.len()) {
            let Some(index) = set.index else { continue };
            batch.put_meta(&record_name(index), encode_record(set));
        }
    }

    /// Checks each witness change record against the entry it names in the log: a
    /// witness-change entry with that set and threshold (a handful of reads at open).
    pub(super) fn check_against_log(&self, store: &Store) -> Result<(), ChannelError> {
        for set in &self.sets {
            let Some(index) = set.index else { continue };
            let bytes = store.leaf(index)?;
            let matches = Entry::decode(&bytes).ok().is_some_and(|e| {
                e.body.kind == Kind::WitnessChange
                    && WitnessChangePayload::decode(&e.body.payload).is_ok_and(|p| {
                        p.witness_threshold == set.threshold
                            && p.witnesses.len() == set.witnesses.len()
                            && p.witnesses
                                .iter()
                                .zip(&set.witnesses)
                                .all(|(a, b)| a.name == b.name && a.public_key == b.public_key)
                    })
            });
            if !matches {
                return Err(ChannelError::BadStoredGenesis(format!(
                    "the witness change record of entry {index} does not match the entry in the log"
                )));
            }
        }
        Ok(())
    }
}

/// The prefix of the witness change records in the store.
pub(super) fn record_prefix() -> &'static str {
    WITNESS_CHANGE_PREFIX
}

fn record_name(index: u64) -> String {
    format!("{WITNESS_CHANGE_PREFIX}{index:020}")
}

/// A record's value: the threshold and the witnesses, in the entry encoding (spec 3.1).
fn encode_record(set: &WitnessSet) -> Vec<u8> {
    bincode::encode_to_vec((set.threshold, &set.witnesses), wire_config()).unwrap_or_default()
}

/// A stored record, read back; `None` if it is corrupt.
pub(super) fn decode_record(name: &str, value: &[u8]) -> Option<WitnessChangeAt> {
    let index = name.strip_prefix(WITNESS_CHANGE_PREFIX)?.parse().ok()?;
    let ((threshold, witnesses), read): ((u8, Vec<Party>), usize) =
        bincode::decode_from_slice(value, wire_config()).ok()?;
    if read != value.len() || usize::from(threshold) > witnesses.len() {
        return None;
    }
    Some(WitnessChangeAt {
        index,
        witnesses,
        threshold,
    })
}
