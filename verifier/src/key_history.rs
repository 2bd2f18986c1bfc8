//! A channel's key history (spec/dyad.md sections 2, 3.7 and 3.8): each party's current
//! entry key, the key changes so far, the witnesses at each size (`witness_history`), and
//! every key the channel has had, which a new key or a new witness must not repeat.
//! `channel::ChannelParams` holds one and advances it as key-change and witness-change
//! entries are accepted; a receipt's verifier replays one from its key history (section 8).

use alloc::string::String;
use alloc::vec::Vec;

use crate::entry_codec::Entry;
use crate::genesis_record::{Genesis, Party};
use crate::key::{self, SignatureType, VerifierKey};
use crate::key_change::{self, KeyChangePayload};
use crate::rules::{EntryError, Identifier, KeyChangeError, KeyOwner, PartyRole};
use crate::witness_change::{self, WitnessChangeError, WitnessChangePayload};
use crate::witness_history::{WitnessChange, WitnessHistory, WitnessSet};

/// One accepted key change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyChange {
    /// The index of the key-change entry; the new key is current from `index + 1`.
    pub index: u64,
    /// Which party changed its key (the sequencer or the co-signer).
    pub role: PartyRole,
    /// The retired entry key's type-0x01 key ID (the entry's `sender`).
    pub old_key_id: u32,
    /// The new entry key (type 0x01 under the party's name).
    pub new_key: VerifierKey,
}

/// A key the channel has had, for the rule that a new key is new (section 3.7).
#[derive(Clone, Debug, PartialEq, Eq)]
struct UsedKey {
    owner: KeyOwner,
    name: String,
    public_key: [u8; 32],
}

impl UsedKey {
    fn of(owner: KeyOwner, party: &Party) -> UsedKey {
        UsedKey {
            owner,
            name: party.name.clone(),
            public_key: party.public_key,
        }
    }

    fn of_key(owner: KeyOwner, key: &VerifierKey) -> UsedKey {
        UsedKey {
            owner,
            name: String::from(key.name()),
            public_key: key.public_key_bytes(),
        }
    }

    /// Its type-0x01 and type-0x04 key IDs.
    fn key_ids(&self) -> [u32; 2] {
        [SignatureType::Ed25519, SignatureType::CosignatureV1]
            .map(|t| key::key_id(&self.name, t, &self.public_key))
    }

    /// Whether it is a witness's key: of the genesis or of a witness change.
    fn is_witness(&self) -> bool {
        matches!(
            self.owner,
            KeyOwner::Genesis(PartyRole::Witness(_)) | KeyOwner::WitnessChange(_)
        )
    }

    /// Whether it is this party's key under this party's name.
    fn is(&self, party: &Party) -> bool {
        self.name == party.name && self.public_key == party.public_key
    }
}

/// The other party's role.
fn other(role: PartyRole) -> PartyRole {
    if role == PartyRole::Sequencer {
        PartyRole::Cosigner
    } else {
        PartyRole::Sequencer
    }
}

/// The parties' current entry keys, the witnesses, and what came before them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KeyHistory {
    /// The sequencer's and the co-signer's current entry keys, in that order.
    current: [VerifierKey; 2],
    changes: Vec<KeyChange>,
    /// Every key the channel has had: the genesis parties and witnesses, each key change's
    /// new key, each witness change's new witnesses (sections 3.7, 3.8).
    used: Vec<UsedKey>,
    witnesses: WitnessHistory,
}

fn slot(role: PartyRole) -> usize {
    usize::from(role != PartyRole::Sequencer)
}

impl KeyHistory {
    /// The history at the genesis: the genesis keys and witnesses (`witnesses`, the set the
    /// genesis names), no change.
    pub(crate) fn new(
        genesis: &Genesis,
        sequencer: VerifierKey,
        cosigner: VerifierKey,
        witnesses: WitnessSet,
    ) -> Self {
        let mut used = Vec::with_capacity(2 + genesis.witnesses.len());
        used.push(UsedKey::of(
            KeyOwner::Genesis(PartyRole::Sequencer),
            &genesis.sequencer,
        ));
        used.push(UsedKey::of(
            KeyOwner::Genesis(PartyRole::Cosigner),
            &genesis.cosigner,
        ));
        for (i, w) in genesis.witnesses.iter().enumerate() {
            used.push(UsedKey::of(KeyOwner::Genesis(PartyRole::Witness(i)), w));
        }
        KeyHistory {
            current: [sequencer, cosigner],
            changes: Vec::new(),
            used,
            witnesses: WitnessHistory::new(witnesses),
        }
    }

    /// The history at the genesis from the parties' entry keys in their roles and the
    /// witnesses' keys with their threshold (as a receipt's verifier knows them, section 8).
    pub(crate) fn from_keys(
        sequencer: VerifierKey,
        cosigner: VerifierKey,
        witnesses: &[VerifierKey],
        witness_threshold: usize,
    ) -> Self {
        let mut used = Vec::with_capacity(2 + witnesses.len());
        used.push(UsedKey::of_key(
            KeyOwner::Genesis(PartyRole::Sequencer),
            &sequencer,
        ));
        used.push(UsedKey::of_key(
            KeyOwner::Genesis(PartyRole::Cosigner),
            &cosigner,
        ));
        for (i, w) in witnesses.iter().enumerate() {
            used.push(UsedKey::of_key(KeyOwner::Genesis(PartyRole::Witness(i)), w));
        }
        KeyHistory {
            current: [sequencer, cosigner],
            changes: Vec::new(),
            used,
            witnesses: WitnessHistory::new(WitnessSet {
                keys: witnesses.to_vec(),
                threshold: witness_threshold,
            }),
        }
    }

    /// The same history with the current keys' and the witnesses' verification tables
    /// precomputed.
    pub(crate) fn precomputed(self) -> Self {
        let [s, c] = self.current;
        KeyHistory {
            current: [s.precomputed(), c.precomputed()],
            witnesses: self.witnesses.precomputed(),
            ..self
        }
    }

    /// The witness changes so far, in index order.
    pub(crate) fn witness_changes(&self) -> &[WitnessChange] {
        self.witnesses.changes()
    }

    /// The witnesses and threshold current after every witness change so far.
    pub(crate) fn current_witnesses(&self) -> &WitnessSet {
        self.witnesses.current()
    }

    /// The witnesses and threshold that decide a checkpoint of `size` (sections 3.8, 7).
    pub(crate) fn witnesses_at(&self, size: u64) -> &WitnessSet {
        self.witnesses.at(size)
    }

    /// The party's current entry key.
    pub(crate) fn current(&self, role: PartyRole) -> &VerifierKey {
        &self.current[slot(role)]
    }

    /// The key changes so far, in index order.
    pub(crate) fn changes(&self) -> &[KeyChange] {
        &self.changes
    }

    /// The party whose current entry key has this key ID, with that key; a key a key
    /// change retired is `RetiredKey`, any other `SenderNotAParty` (sections 3.4, 3.7).
    pub(crate) fn sender(&self, key_id: u32) -> Result<(PartyRole, &VerifierKey), EntryError> {
        for role in [PartyRole::Sequencer, PartyRole::Cosigner] {
            if self.current(role).key_id() == key_id {
                return Ok((role, self.current(role)));
            }
        }
        match self.changes.iter().find(|c| c.old_key_id == key_id) {
            Some(change) => Err(EntryError::RetiredKey {
                key_id,
                role: change.role,
                retired_at: change.index,
            }),
            None => Err(EntryError::SenderNotAParty { key_id }),
        }
    }

    /// A new key of the party `name` must not repeat the public key or a type-0x01 or
    /// type-0x04 key ID of any key the channel has had (section 3.7).
    pub(crate) fn check_unused(
        &self,
        name: &str,
        public_key: &[u8; 32],
    ) -> Result<(), KeyChangeError> {
        match self.clash(name, public_key) {
            Some((identifier, previous)) => Err(KeyChangeError::NewKeyReused {
                identifier,
                previous,
            }),
            None => Ok(()),
        }
    }

    /// The first key the channel has had whose public key, or type-0x01 or type-0x04 key
    /// ID, `public_key` under `name` repeats: what it repeats, and whose it was.
    fn clash(&self, name: &str, public_key: &[u8; 32]) -> Option<(Identifier, KeyOwner)> {
        let ids = [SignatureType::Ed25519, SignatureType::CosignatureV1]
            .map(|t| key::key_id(name, t, public_key));
        self.used.iter().find_map(|used| {
            if used.public_key == *public_key {
                Some((Identifier::PublicKey, used.owner))
            } else if used.key_ids().iter().any(|id| ids.contains(id)) {
                Some((Identifier::KeyId, used.owner))
            } else {
                None
            }
        })
    }

    /// The rules of section 3.7 on a key change's new key, in the order the spec names
    /// them: a valid key (`InvalidNewKey`), new to the channel (`NewKeyReused`), whose
    /// signature over the key-change statement verifies (`BadNewKeySignature`).
    pub(crate) fn check_new_key(
        &self,
        entry: &Entry,
        payload: &KeyChangePayload,
        party_name: &str,
    ) -> Result<VerifierKey, KeyChangeError> {
        let new_key = key_change::new_key(payload, party_name)?;
        self.check_unused(party_name, &payload.new_public_key)?;
        key_change::verify_new_key_signature(entry, payload, &new_key)?;
        Ok(new_key)
    }

    /// The rules of section 3.8 that need the history, checked after the entry's own
    /// signature, in the order the spec names them: the change's `number` is the next
    /// (`WrongWitnessChangeNumber`); each witness is either one the channel has had, with
    /// the same name and key, or new to the channel and not named like a party
    /// (`WitnessKeyReused`); the approval verifies strictly under the **other** party's
    /// current key (`BadApproval`). `sender` is the role of the entry's sender. Returns the
    /// witness set the change names.
    pub(crate) fn check_witness_change(
        &self,
        entry: &Entry,
        payload: &WitnessChangePayload,
        sender: PartyRole,
    ) -> Result<WitnessSet, WitnessChangeError> {
        let expected = self.witnesses.next_number();
        if expected != Some(payload.number) {
            return Err(WitnessChangeError::WrongWitnessChangeNumber {
                // No number is left after 2^32 - 1 changes: every one is wrong then.
                expected: expected.unwrap_or(u32::MAX),
                found: payload.number,
            });
        }
        self.check_witnesses(&payload.witnesses)?;
        let approver = self.current(other(sender));
        if !witness_change::approval_verifies(&entry.origin, payload, approver) {
            return Err(WitnessChangeError::BadApproval);
        }
        let mut keys = Vec::with_capacity(payload.witnesses.len());
        for (index, w) in payload.witnesses.iter().enumerate() {
            // check_form has checked each witness's name and key (section 4).
            let key = w
                .cosignature_key()
                .map_err(|error| WitnessChangeError::InvalidWitness { index, error })?;
            keys.push(key);
        }
        Ok(WitnessSet {
            keys,
            threshold: usize::from(payload.witness_threshold),
        })
    }

    /// The rule of section 3.8 on a new witness list against every key the channel has
    /// had: a witness the channel had (genesis or an earlier change) may come back with the
    /// same name and public key; any other witness repeats no public key and no type-0x01
    /// or type-0x04 key ID of a key the channel has had; and no witness has a party's name.
    fn check_witnesses(&self, witnesses: &[Party]) -> Result<(), WitnessChangeError> {
        for (index, w) in witnesses.iter().enumerate() {
            for role in [PartyRole::Sequencer, PartyRole::Cosigner] {
                if self.current(role).name() == w.name {
                    return Err(WitnessChangeError::WitnessKeyReused {
                        index,
                        identifier: Identifier::Name,
                        previous: KeyOwner::Genesis(role),
                    });
                }
            }
            if self.used.iter().any(|u| u.is_witness() && u.is(w)) {
                continue;
            }
            if let Some((identifier, previous)) = self.clash(&w.name, &w.public_key) {
                return Err(WitnessChangeError::WitnessKeyReused {
                    index,
                    identifier,
                    previous,
                });
            }
        }
        Ok(())
    }

    /// Records the witness change at `index` sent by `sender` (already checked with
    /// [`KeyHistory::check_witness_change`], which gave `set`): its witnesses decide the
    /// checkpoints of sizes above `index`, and each new one joins the keys the channel has
    /// had.
    pub(crate) fn apply_witness_change(
        &mut self,
        index: u64,
        sender: PartyRole,
        payload: WitnessChangePayload,
        set: WitnessSet,
    ) {
        for w in &payload.witnesses {
            if !self.used.iter().any(|u| u.is_witness() && u.is(w)) {
                self.used
                    .push(UsedKey::of(KeyOwner::WitnessChange(index), w));
            }
        }
        let change = WitnessChange {
            index,
            number: payload.number,
            sender,
            witnesses: payload.witnesses,
            witness_threshold: payload.witness_threshold,
        };
        self.witnesses.apply(change, set);
    }

    /// Records the key change at `index` of `role` to `new_key` (already checked): the
    /// new key is current from `index + 1`.
    pub(crate) fn apply(&mut self, index: u64, role: PartyRole, new_key: VerifierKey) {
        let new_key = new_key.precomputed();
        self.used.push(UsedKey {
            owner: KeyOwner::KeyChange(index),
            name: String::from(new_key.name()),
            public_key: new_key.public_key_bytes(),
        });
        let old = core::mem::replace(&mut self.current[slot(role)], new_key.clone());
        self.changes.push(KeyChange {
            index,
            role,
            old_key_id: old.key_id(),
            new_key,
        });
    }
}
