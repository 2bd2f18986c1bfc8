//! The parties' keys over the life of a channel (spec/dyad.md 2, 3.7): each party's current
//! key, the key changes behind it (to find the keys at any checkpoint size), and every key
//! the channel has had (a new key must repeat none of them), witnesses' included; and the
//! witness history (3.8, `witness_state.rs`), which shares that set of keys.
//!
//! It is rebuilt on open from the genesis and the `keychange/<index>` and
//! `witnesschange/<index>` records, which each change's batch writes beside the entry (same
//! atomic commit): a store from before key or witness changes has none and needs no
//! migration.

use std::collections::HashMap;
use std::sync::Arc;

use dyad_verifier::genesis::{Identifier, PartyRole};
use dyad_verifier::key::{key_id, SignatureType};
use dyad_verifier::key_change::KeyOwner;
use dyad_verifier::keyed::KeyedVerifier;
use ed25519_dalek::VerifyingKey;

use super::witness_state::{self, WitnessChangeAt, WitnessState};
use super::ChannelError;
use crate::entry::key_change::KeyChange;
use crate::entry::witness_change::WitnessChangeError;
use crate::entry::{Entry, Kind};
use crate::genesis::{Genesis, GenesisError, Party};
use crate::store::{Batch, Store};

const KEY_CHANGE_PREFIX: &str = "keychange/";

/// A party's entry-signing key, ready to verify with: its table is precomputed once
/// (dyad_verifier::keyed), since every entry the channel admits is signed by a party's key.
#[derive(Clone, Debug)]
pub(super) struct EntryKey {
    pub(super) key_id: u32,
    pub(super) key: Arc<KeyedVerifier>,
    pub(super) sequencer: bool,
    /// The party's name and this public key.
    pub(super) party: Party,
}

impl EntryKey {
    fn new(party: &Party, sequencer: bool) -> Result<EntryKey, GenesisError> {
        Ok(EntryKey {
            key_id: party.entry_key()?.key_id(),
            key: Arc::new(KeyedVerifier::new(&party.verifying_key()?)),
            sequencer,
            party: party.clone(),
        })
    }
}

/// A key change in the log: from `index + 1` on, the party's key is `public_key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct KeyChangeAt {
    pub(super) index: u64,
    pub(super) sequencer: bool,
    pub(super) public_key: [u8; 32],
}

/// The parties' keys: see the module documentation.
#[derive(Clone, Debug)]
pub(super) struct KeyState {
    /// The sequencer's and the co-signer's current keys.
    current: [EntryKey; 2],
    genesis: [Party; 2],
    changes: Vec<KeyChangeAt>,
    /// The witnesses, from the genesis's through every witness change's.
    witnesses: WitnessState,
    /// Every public key and key ID (types 0x01 and 0x04, each under its owner's name) of
    /// the genesis parties and witnesses, of every key change's new key and of every
    /// witness a witness change brought in.
    /// Each with the first key that had it (`KeyOwner`, to name a clash).
    used_keys: HashMap<[u8; 32], KeyOwner>,
    used_ids: HashMap<u32, KeyOwner>,
    /// The party (true: the sequencer) of every entry key ID a party has had.
    party_of: HashMap<u32, bool>,
}

/// Why a new key cannot be taken: it repeats a key the channel has had (spec 3.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Reused;

impl KeyState {
    /// The genesis keys, with no key change yet.
    pub(super) fn from_genesis(genesis: &Genesis) -> Result<KeyState, GenesisError> {
        let parties = [genesis.sequencer.clone(), genesis.cosigner.clone()];
        let mut state = KeyState {
            current: [
                EntryKey::new(&parties[0], true)?,
                EntryKey::new(&parties[1], false)?,
            ],
            genesis: parties.clone(),
            changes: Vec::new(),
            witnesses: WitnessState::from_genesis(genesis)?,
            used_keys: HashMap::new(),
            used_ids: HashMap::new(),
            party_of: HashMap::new(),
        };
        state.remember(&parties[0], KeyOwner::Genesis(PartyRole::Sequencer));
        state.remember(&parties[1], KeyOwner::Genesis(PartyRole::Cosigner));
        for (i, w) in genesis.witnesses.iter().enumerate() {
            state.remember(w, KeyOwner::Genesis(PartyRole::Witness(i)));
        }
        for k in &state.current {
            state.party_of.insert(k.key_id, k.sequencer);
        }
        Ok(state)
    }

    fn remember(&mut self, party: &Party, owner: KeyOwner) {
        self.used_keys.entry(party.public_key).or_insert(owner);
        for t in [SignatureType::Ed25519, SignatureType::CosignatureV1] {
            self.used_ids
                .entry(key_id(&party.name, t, &party.public_key))
                .or_insert(owner);
        }
    }

    /// The key change and witness change records, read back from the store and taken
    /// in index order (each change's rules were checked against the ones before it).
    pub(super) fn load(
        genesis: &Genesis,
        key_records: Vec<(String, Vec<u8>)>,
        witness_records: Vec<(String, Vec<u8>)>,
    ) -> Result<KeyState, String> {
        let mut state = KeyState::from_genesis(genesis).map_err(|e| e.to_string())?;
        let mut changes = Vec::with_capacity(key_records.len() + witness_records.len());
        for (name, value) in key_records {
            let change = decode_record(&name, &value)
                .ok_or_else(|| format!("key change record {name:?} is corrupt"))?;
            changes.push((change.index, name, Ok(change)));
        }
        for (name, value) in witness_records {
            let change = witness_state::decode_record(&name, &value)
                .ok_or_else(|| format!("witness change record {name:?} is corrupt"))?;
            changes.push((change.index, name, Err(change)));
        }
        changes.sort_by_key(|(index, _, _)| *index);
        for (_, name, change) in changes {
            let taken = match change {
                Ok(change) => state.apply(change).is_ok(),
                Err(change) => state.apply_witness_change(&change).is_ok(),
            };
            if !taken {
                return Err(format!("change record {name:?} repeats a key"));
            }
        }
        Ok(state)
    }

    /// Checks each key change record against the entry it names in the log: a key-change
    /// entry by that party with that new key (a handful of reads at open); and each
    /// witness change record likewise.
    pub(super) fn check_against_log(&self, store: &Store) -> Result<(), ChannelError> {
        self.witnesses.check_against_log(store)?;
        for c in &self.changes {
            let bytes = store.leaf(c.index)?;
            let matches = Entry::decode(&bytes).ok().is_some_and(|e| {
                e.body.kind == Kind::KeyChange
                    && self.party_of(e.body.sender) == Some(c.sequencer)
                    && KeyChange::decode(&e.body.payload)
                        .is_ok_and(|k| k.new_public_key == c.public_key)
            });
            if !matches {
                return Err(ChannelError::BadStoredGenesis(format!(
                    "the key change record of entry {} does not match the entry in the log",
                    c.index
                )));
            }
        }
        Ok(())
    }

    /// The current key whose type-0x01 key ID is `key_id`, if a party has it now.
    pub(super) fn current_by_id(&self, key_id: u32) -> Option<&EntryKey> {
        self.current.iter().find(|k| k.key_id == key_id)
    }

    /// The party's current key.
    pub(super) fn current(&self, sequencer: bool) -> &EntryKey {
        &self.current[usize::from(!sequencer)]
    }

    /// The party (true: the sequencer) that has or had the entry key `key_id`.
    pub(super) fn party_of(&self, key_id: u32) -> Option<bool> {
        self.party_of.get(&key_id).copied()
    }

    /// The party's genesis key ID, which names it in the sender records whatever key it
    /// has now (its sequence and clock run on across key changes, spec 3.3).
    pub(super) fn party_id(&self, key_id: u32) -> u32 {
        match self.party_of(key_id) {
            Some(sequencer) => self.genesis_id(sequencer),
            None => key_id,
        }
    }

    fn genesis_id(&self, sequencer: bool) -> u32 {
        let p = &self.genesis[usize::from(!sequencer)];
        key_id(&p.name, SignatureType::Ed25519, &p.public_key)
    }

    /// The party's key at checkpoint size `n`: after the key changes at indices below `n`.
    pub(super) fn party_at(&self, sequencer: bool, n: u64) -> Party {
        let mut party = self.genesis[usize::from(!sequencer)].clone();
        for c in self.changes.iter().filter(|c| c.index < n) {
            if c.sequencer == sequencer {
                party.public_key = c.public_key;
            }
        }
        party
    }

    /// The key changes, in index order.
    pub(super) fn changes(&self) -> &[KeyChangeAt] {
        &self.changes
    }

    /// Whether `public_key` under the party's name repeats a key the channel has had.
    pub(super) fn check_new(&self, sequencer: bool, public_key: &[u8; 32]) -> Result<(), Reused> {
        let name = &self.current(sequencer).party.name;
        match self.clash(name, public_key) {
            Some(_) => Err(Reused),
            None => Ok(()),
        }
    }

    /// What of `public_key` under `name` repeats a key the channel has had, and whose.
    fn clash(&self, name: &str, public_key: &[u8; 32]) -> Option<(Identifier, KeyOwner)> {
        if let Some(owner) = self.used_keys.get(public_key) {
            return Some((Identifier::PublicKey, *owner));
        }
        [SignatureType::Ed25519, SignatureType::CosignatureV1]
            .into_iter()
            .find_map(|t| self.used_ids.get(&key_id(name, t, public_key)))
            .map(|owner| (Identifier::KeyId, *owner))
    }

    /// Takes a key change: the party's current key becomes the new one.
    pub(super) fn apply(&mut self, change: KeyChangeAt) -> Result<(), Reused> {
        self.check_new(change.sequencer, &change.public_key)?;
        let mut party = self.current(change.sequencer).party.clone();
        party.public_key = change.public_key;
        let key = EntryKey::new(&party, change.sequencer).map_err(|_| Reused)?;
        self.remember(&party, KeyOwner::KeyChange(change.index));
        self.party_of.insert(key.key_id, change.sequencer);
        self.current[usize::from(!change.sequencer)] = key;
        self.changes.push(change);
        Ok(())
    }

    /// The witness history.
    pub(super) fn witnesses(&self) -> &WitnessState {
        &self.witnesses
    }

    /// Whether the witnesses of a witness change's new list may be taken (spec 3.8): each
    /// is a witness the channel has had, with the same name and key, or it repeats no
    /// public key and no key ID of any key the channel has had; and none has a party's
    /// name. Refused as `WitnessKeyReused`, naming the first that clashes.
    pub(super) fn check_new_witnesses(
        &self,
        witnesses: &[Party],
    ) -> Result<(), WitnessChangeError> {
        for (index, w) in witnesses.iter().enumerate() {
            let parties = [
                (&self.genesis[0], PartyRole::Sequencer),
                (&self.genesis[1], PartyRole::Cosigner),
            ];
            let clash = match parties.into_iter().find(|(p, _)| p.name == w.name) {
                Some((_, role)) => Some((Identifier::Name, KeyOwner::Genesis(role))),
                None if self.witnesses.had(w) => None,
                None => self.clash(&w.name, &w.public_key),
            };
            if let Some((identifier, previous)) = clash {
                return Err(WitnessChangeError::WitnessKeyReused {
                    index,
                    identifier,
                    previous,
                });
            }
        }
        Ok(())
    }

    /// Takes a witness change: its set is the witnesses from its index on, and its new
    /// witnesses' keys count as keys the channel has had.
    pub(super) fn apply_witness_change(
        &mut self,
        change: &WitnessChangeAt,
    ) -> Result<(), WitnessChangeError> {
        self.check_new_witnesses(&change.witnesses)?;
        self.witnesses.apply(change)?;
        for w in &change.witnesses {
            self.remember(w, KeyOwner::WitnessChange(change.index));
        }
        Ok(())
    }

    /// Stages the records of the key and witness changes this state has beyond `before`.
    pub(super) fn stage_new(&self, before: &KeyState, batch: &mut Batch) {
        self.witnesses.stage_new(&before.witnesses, batch);
        for c in &self.changes[before.changes.len().min(self.changes.len())..] {
            let mut value = vec![u8::from(c.sequencer)];
            value.extend_from_slice(&c.public_key);
            batch.put_meta(&format!("{KEY_CHANGE_PREFIX}{:020}", c.index), value);
        }
    }
}

/// The prefix of the key change records in the store.
pub(super) fn record_prefix() -> &'static str {
    KEY_CHANGE_PREFIX
}

fn decode_record(name: &str, value: &[u8]) -> Option<KeyChangeAt> {
    let index = name.strip_prefix(KEY_CHANGE_PREFIX)?.parse().ok()?;
    let (&role, key) = value.split_first()?;
    let public_key: [u8; 32] = key.try_into().ok()?;
    VerifyingKey::from_bytes(&public_key).ok()?;
    Some(KeyChangeAt {
        index,
        sequencer: match role {
            0 => false,
            1 => true,
            _ => return None,
        },
        public_key,
    })
}
