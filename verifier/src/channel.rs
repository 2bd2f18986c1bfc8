//! A channel's rules: its parameters, derived once from a checked genesis
//! ([`ChannelParams`]), the keys that decide whether one of its checkpoints is committed
//! ([`CommitKeys`], spec/dyad.md section 7), and the checks of an entry that need them:
//! [`check_genesis`] for index 0 (section 4) and [`check_entry`] for any index (sections
//! 3.2 to 3.5). The public paths are `genesis::*` and `entry::check_entry`.

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::checkpoint::{self, Checkpoint, CheckpointError};
use crate::entry_codec::{self, Entry};
use crate::genesis_record::{check_origin, decode_record, Genesis, Party};
use crate::joint_record;
use crate::key::{SignatureType, VerifierKey};
use crate::key_change;
use crate::key_history::{KeyChange, KeyHistory};
use crate::note::{self, NoteError, VerifiedNote};
use crate::rules::{
    EntryError, GenesisError, Kind, PartyRole, CONTENT_TYPE, MAX_ORIGIN_LEN, MAX_WITNESSES,
};
use crate::witness_change;
use crate::witness_history::{WitnessChange, WitnessSet};

/// Checks the entry at index 0 (section 4) and returns it with its decoded record:
/// kind genesis, content type [`CONTENT_TYPE`], sequence 0, no `reply_to`, no
/// attachments, a valid record with the entry's origin, sender = the sequencer, and two
/// signatures over the entry message (3.4) that verify strictly: first the sequencer's,
/// then the co-signer's.
pub fn check_genesis(entry_bytes: &[u8]) -> Result<(Entry, Genesis), EntryError> {
    let entry = entry_codec::decode(entry_bytes)?;
    if entry.kind != Kind::Genesis {
        return Err(EntryError::FirstNotGenesis { kind: entry.kind });
    }
    if entry.content_type != CONTENT_TYPE {
        return Err(GenesisError::WrongContentType(entry.content_type).into_entry());
    }
    if entry.sequence != 0 {
        return Err(GenesisError::NonZeroSequence(entry.sequence).into_entry());
    }
    if let Some(reply_to) = entry.reply_to {
        return Err(GenesisError::HasReplyTo(reply_to).into_entry());
    }
    if !entry.attachments.is_empty() {
        return Err(GenesisError::HasAttachments(entry.attachments.len()).into_entry());
    }
    let genesis = decode_record(&entry.payload)?;
    if genesis.origin != entry.origin {
        return Err(GenesisError::OriginMismatch {
            record: genesis.origin,
            entry: entry.origin,
        }
        .into_entry());
    }
    let params = ChannelParams::new(genesis).map_err(EntryError::Genesis)?;
    let expected = params.sequencer_key.key_id();
    if entry.sender != expected {
        return Err(GenesisError::SenderNotSequencer {
            expected,
            found: entry.sender,
        }
        .into_entry());
    }
    // decode() guarantees exactly two signatures for a genesis entry.
    for (position, key) in [&params.sequencer_key, &params.cosigner_key]
        .into_iter()
        .enumerate()
    {
        let found = entry.signatures[position].key_id;
        if found != key.key_id() {
            return Err(EntryError::SignatureKeyMismatch {
                position,
                expected: key.key_id(),
                found,
            });
        }
        entry_codec::verify_signature(entry_bytes, &entry, key)?;
    }
    Ok((entry, params.genesis))
}

impl GenesisError {
    fn into_entry(self) -> EntryError {
        EntryError::Genesis(self)
    }
}

/// What the per-entry checks need to know about a channel: its genesis terms and the
/// parties' keys, derived once, and the parties' current keys, which advance with the
/// key changes accepted ([`ChannelParams::accept`], section 3.7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelParams {
    genesis: Genesis,
    sequencer_key: VerifierKey,
    cosigner_key: VerifierKey,
    /// The commit keys under the current keys.
    commit_keys: CommitKeys,
    keys: KeyHistory,
}

impl ChannelParams {
    /// The parameters of the channel this genesis describes. Fails if the genesis breaks
    /// a rule of section 4 (as one built by hand might).
    pub fn new(genesis: Genesis) -> Result<ChannelParams, GenesisError> {
        check_origin(&genesis.origin)?;
        if genesis.origin.is_empty() || genesis.origin.len() as u64 > MAX_ORIGIN_LEN {
            return Err(GenesisError::Record(Box::new(EntryError::Length {
                field: "origin",
                offset: 0,
                len: genesis.origin.len() as u64,
                min: 1,
                max: MAX_ORIGIN_LEN,
            })));
        }
        let key = |role: PartyRole, p: &Party| {
            p.entry_key()
                .map_err(|error| GenesisError::InvalidParty { role, error })
        };
        let sequencer_key = key(PartyRole::Sequencer, &genesis.sequencer)?;
        let cosigner_key = key(PartyRole::Cosigner, &genesis.cosigner)?;
        for (i, w) in genesis.witnesses.iter().enumerate() {
            key(PartyRole::Witness(i), w)?;
        }
        if genesis.witnesses.len() as u64 > MAX_WITNESSES {
            return Err(GenesisError::TooManyWitnesses {
                count: genesis.witnesses.len() as u64,
            });
        }
        genesis.check_terms()?;
        let cosignature_key = |role: PartyRole, p: &Party| {
            p.cosignature_key()
                .map_err(|error| GenesisError::InvalidParty { role, error })
        };
        let commit_keys = CommitKeys {
            origin: genesis.origin.clone(),
            log: genesis.log_key().map_err(GenesisError::InvalidOrigin)?,
            cosigner: cosignature_key(PartyRole::Cosigner, &genesis.cosigner)?,
            witnesses: genesis
                .witnesses
                .iter()
                .enumerate()
                .map(|(i, w)| cosignature_key(PartyRole::Witness(i), w))
                .collect::<Result<_, _>>()?,
            witness_threshold: usize::from(genesis.witness_threshold),
        };
        let witnesses = WitnessSet {
            keys: commit_keys.witnesses.clone(),
            threshold: commit_keys.witness_threshold,
        };
        let keys = KeyHistory::new(
            &genesis,
            sequencer_key.clone(),
            cosigner_key.clone(),
            witnesses,
        );
        Ok(ChannelParams {
            genesis,
            sequencer_key,
            cosigner_key,
            commit_keys,
            keys,
        })
    }

    /// The same parameters with every key's verification table precomputed
    /// ([`VerifierKey::precomputed`]): for checking many entries and checkpoints, as an
    /// audit does. The keys compare equal to those without tables.
    #[must_use]
    pub fn precomputed(self) -> ChannelParams {
        let commit_keys = CommitKeys {
            origin: self.commit_keys.origin,
            log: self.commit_keys.log.precomputed(),
            cosigner: self.commit_keys.cosigner.precomputed(),
            witnesses: self
                .commit_keys
                .witnesses
                .into_iter()
                .map(VerifierKey::precomputed)
                .collect(),
            witness_threshold: self.commit_keys.witness_threshold,
        };
        ChannelParams {
            genesis: self.genesis,
            sequencer_key: self.sequencer_key.precomputed(),
            cosigner_key: self.cosigner_key.precomputed(),
            commit_keys,
            keys: self.keys.precomputed(),
        }
    }

    /// The keys that decide whether one of this channel's checkpoints is committed, under
    /// the parties' current keys (after every key change accepted so far).
    pub fn commit_keys(&self) -> &CommitKeys {
        &self.commit_keys
    }

    /// The commit keys for a checkpoint of size `size`: the parties' keys after the key
    /// changes accepted at indices below `size` (sections 3.7, 6), and the witnesses and
    /// threshold of the last witness change accepted below `size`, or the genesis's
    /// (sections 3.8, 7).
    pub fn commit_keys_at(&self, size: u64) -> CommitKeys {
        let keys_current = self.keys.changes().iter().all(|c| c.index < size);
        let witnesses_current = self.keys.witness_changes().iter().all(|c| c.index < size);
        if keys_current && witnesses_current {
            return self.commit_keys.clone();
        }
        let mut current = [&self.sequencer_key, &self.cosigner_key];
        for change in self.keys.changes().iter().filter(|c| c.index < size) {
            current[usize::from(change.role != PartyRole::Sequencer)] = &change.new_key;
        }
        self.commit_keys_of(current[0], current[1], self.keys.witnesses_at(size))
    }

    /// The commit keys with these entry keys of the sequencer and the co-signer and these
    /// witnesses: the log key is the sequencer's key under the origin, the co-signer's is
    /// type 0x04.
    fn commit_keys_of(
        &self,
        sequencer: &VerifierKey,
        cosigner: &VerifierKey,
        witnesses: &WitnessSet,
    ) -> CommitKeys {
        CommitKeys {
            origin: self.commit_keys.origin.clone(),
            log: sequencer.with_name_of(&self.commit_keys.log),
            cosigner: cosigner.with_signature_type(SignatureType::CosignatureV1),
            witnesses: witnesses.keys.clone(),
            witness_threshold: witnesses.threshold,
        }
    }

    /// Verifies that a checkpoint note is committed under this channel's terms and the
    /// parties' current keys (section 7); see [`CommitKeys::verify`].
    pub fn verify_checkpoint(&self, note_bytes: &[u8]) -> Result<Committed, CommitError> {
        self.commit_keys.verify(note_bytes)
    }

    /// The key changes accepted so far, in index order.
    pub fn key_changes(&self) -> &[KeyChange] {
        self.keys.changes()
    }

    /// The witness changes accepted so far, in index order (section 3.8).
    pub fn witness_changes(&self) -> &[WitnessChange] {
        self.keys.witness_changes()
    }

    /// The party's current entry key.
    pub fn current_key(&self, role: PartyRole) -> &VerifierKey {
        self.keys.current(role)
    }

    /// The party whose current entry key has this key ID (an entry's `sender`), with that
    /// key; `RetiredKey` for a key a key change retired, `SenderNotAParty` otherwise.
    pub fn sender_key(&self, key_id: u32) -> Result<(PartyRole, &VerifierKey), EntryError> {
        self.keys.sender(key_id)
    }

    /// Takes an entry that passed [`check_entry`] at `index` (the next index: changes
    /// are accepted in index order) into the key history: a key change makes its new key
    /// the sender's current key from `index + 1`, a witness change its witnesses and
    /// threshold the channel's (section 3.8). Returns the key change, if it is one (a
    /// witness change is then [`ChannelParams::witness_changes`]' last).
    pub fn accept(&mut self, index: u64, entry: &Entry) -> Result<Option<KeyChange>, EntryError> {
        if let Some(payload) = witness_change::check_form(entry)? {
            let (role, _) = self.keys.sender(entry.sender)?;
            let set = self.keys.check_witness_change(entry, &payload, role)?;
            self.keys.apply_witness_change(index, role, payload, set);
            self.refresh_commit_keys();
            return Ok(None);
        }
        let Some(payload) = key_change::check_form(entry)? else {
            return Ok(None);
        };
        let (role, old) = self.keys.sender(entry.sender)?;
        let new_key = self.keys.check_new_key(entry, &payload, old.name())?;
        self.keys.apply(index, role, new_key);
        self.refresh_commit_keys();
        Ok(self.keys.changes().last().cloned())
    }

    /// The commit keys under the current keys and witnesses, after a change to either.
    fn refresh_commit_keys(&mut self) {
        let [s, c] =
            [PartyRole::Sequencer, PartyRole::Cosigner].map(|r| self.keys.current(r).clone());
        self.commit_keys = self.commit_keys_of(&s, &c, self.keys.current_witnesses());
    }

    /// The channel origin.
    pub fn origin(&self) -> &str {
        &self.genesis.origin
    }

    /// The genesis record.
    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    /// The sequencer's entry key (type 0x01 under its name).
    pub fn sequencer_key(&self) -> &VerifierKey {
        &self.sequencer_key
    }

    /// The co-signer's entry key (type 0x01 under its name).
    pub fn cosigner_key(&self) -> &VerifierKey {
        &self.cosigner_key
    }

    /// The party whose current entry key has this key ID (an entry's `sender`), with that
    /// key.
    pub fn party_by_key_id(&self, key_id: u32) -> Option<(PartyRole, &VerifierKey)> {
        self.keys.sender(key_id).ok()
    }
}

/// The keys that decide whether a checkpoint is **committed** (section 7): the log key
/// (the sequencer's key under the origin, type 0x01), the co-signer's cosignature key
/// (type 0x04), and the witnesses' cosignature keys with how many of them must co-sign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitKeys {
    /// The checkpoint's required origin.
    pub origin: String,
    /// The log key.
    pub log: VerifierKey,
    /// The co-signer's cosignature key.
    pub cosigner: VerifierKey,
    /// The witnesses' cosignature keys.
    pub witnesses: Vec<VerifierKey>,
    /// How many of `witnesses` must co-sign.
    pub witness_threshold: usize,
}

/// A checkpoint that is committed, with who vouched for it and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committed {
    /// The parsed checkpoint.
    pub checkpoint: Checkpoint,
    /// The log key that signed it.
    pub log: VerifierKey,
    /// The co-signer's cosignature key.
    pub cosigner: VerifierKey,
    /// The co-signer's cosignature timestamp (POSIX seconds).
    pub cosigned_at: u64,
    /// The witnesses that co-signed, with their timestamps, in note order.
    pub witnesses: Vec<(VerifierKey, u64)>,
}

/// Why a checkpoint is not committed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommitError {
    /// The signed note is malformed, a known key's signature fails, a known key signs
    /// twice, or no known key signed it.
    #[error("checkpoint note: {0}")]
    Note(#[from] NoteError),
    /// The note text is not a checkpoint.
    #[error("checkpoint text: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// The checkpoint is another log's.
    #[error("checkpoint origin {found:?} is not the channel origin {expected:?}")]
    WrongOrigin {
        /// The channel's origin.
        expected: String,
        /// The checkpoint's.
        found: String,
    },
    /// The sequencer did not sign it as the log.
    #[error("no signature by the log key {0}")]
    MissingLogSignature(String),
    /// The co-signer did not co-sign it.
    #[error("no cosignature by the co-signer {0}")]
    MissingCosignature(String),
    /// Too few witnesses co-signed it.
    #[error("{found} of the required {required} witness cosignatures")]
    NotEnoughWitnesses {
        /// Witness cosignatures that verified.
        found: usize,
        /// The genesis's `witness_threshold`.
        required: usize,
    },
}

/// A note's checkpoint, unverified.
pub(crate) fn read_checkpoint(note_bytes: &[u8]) -> Result<Checkpoint, CommitError> {
    let parsed = note::parse(note_bytes)?;
    Ok(checkpoint::parse(&parsed.text)?)
}

impl CommitKeys {
    /// Every key whose signature lines count, for `note::verify`.
    pub fn keys(&self) -> Vec<VerifierKey> {
        let mut keys = Vec::with_capacity(2 + self.witnesses.len());
        keys.push(self.log.clone());
        keys.push(self.cosigner.clone());
        keys.extend(self.witnesses.iter().cloned());
        keys
    }

    /// Verifies a checkpoint note and checks that it is committed: a C2SP signed note
    /// whose text is a checkpoint of `origin`, signed by the log key and co-signed by the
    /// co-signer and by at least `witness_threshold` witnesses. As section 6 requires,
    /// the order of signature lines does not matter, lines of unknown keys are ignored,
    /// and a known key's failing or repeated signature rejects the note.
    pub fn verify(&self, note_bytes: &[u8]) -> Result<Committed, CommitError> {
        let verified = note::verify(note_bytes, &self.keys())?;
        self.committed(&verified)
    }

    /// Checks that a note already verified against (at least) [`CommitKeys::keys`] is
    /// committed under these keys.
    pub fn committed(&self, verified: &VerifiedNote) -> Result<Committed, CommitError> {
        let checkpoint = checkpoint::parse(&verified.text)?;
        if checkpoint.origin != self.origin {
            return Err(CommitError::WrongOrigin {
                expected: self.origin.clone(),
                found: checkpoint.origin,
            });
        }
        let signed_by = |key: &VerifierKey| {
            verified
                .verified
                .iter()
                .find(|v| v.key == *key)
                .map(|v| v.timestamp)
        };
        if signed_by(&self.log).is_none() {
            return Err(CommitError::MissingLogSignature(self.log.to_string()));
        }
        let cosigned_at = signed_by(&self.cosigner)
            .flatten()
            .ok_or_else(|| CommitError::MissingCosignature(self.cosigner.to_string()))?;
        // A witness key that is a party's key material never counts: a party cannot
        // witness its own checkpoint (a trust built by hand might list one).
        let is_party = |key: &VerifierKey| {
            key.public_key_bytes() == self.log.public_key_bytes()
                || key.public_key_bytes() == self.cosigner.public_key_bytes()
        };
        let witnesses: Vec<(VerifierKey, u64)> = verified
            .verified
            .iter()
            .filter(|v| self.witnesses.contains(&v.key) && !is_party(&v.key))
            .filter_map(|v| v.timestamp.map(|t| (v.key.clone(), t)))
            .collect();
        if witnesses.len() < self.witness_threshold {
            return Err(CommitError::NotEnoughWitnesses {
                found: witnesses.len(),
                required: self.witness_threshold,
            });
        }
        Ok(Committed {
            checkpoint,
            log: self.log.clone(),
            cosigner: self.cosigner.clone(),
            cosigned_at,
            witnesses,
        })
    }
}

/// Checks everything about the entry at `index` that the channel alone determines, and
/// returns it decoded:
///
/// - it decodes canonically ([`decode`](crate::entry::decode));
/// - its origin is the channel's (3.3);
/// - index 0 is this channel's genesis entry, with both signatures (4); no other index is
///   a genesis (3.2);
/// - the sender is one of the two parties, by its current key in `channel` (a key a key
///   change retired is `RetiredKey`), and the signature's key ID is the sender's (3.4, 3.7);
/// - a key change has the form of 3.7, a valid new key, new to the channel, whose
///   signature over the key-change statement verifies strictly;
/// - a witness change has the form of 3.8, the next `number`, witnesses that are earlier
///   witnesses or new to the channel, and the other party's approval by its current key;
/// - a response has `reply_to`; `reply_to` is neither 0 nor `>= index` (3.3);
/// - the payload and the attachments are within the channel's limits (3.1, 3.5);
/// - the sender's signature verifies strictly (3.4).
///
/// `channel` must hold the key history up to `index` ([`ChannelParams::accept`] of every
/// entry before it). Sequence numbers and timestamps depend on earlier entries: the
/// auditor checks them.
pub fn check_entry(
    entry_bytes: &[u8],
    index: u64,
    channel: &ChannelParams,
) -> Result<Entry, EntryError> {
    let entry = entry_codec::decode(entry_bytes)?;
    if entry.origin != channel.origin() {
        return Err(EntryError::WrongOrigin {
            expected: String::from(channel.origin()),
            found: entry.origin,
        });
    }
    if index == 0 {
        if entry.kind != Kind::Genesis {
            return Err(EntryError::FirstNotGenesis { kind: entry.kind });
        }
        let (entry, genesis) = check_genesis(entry_bytes)?;
        if &genesis != channel.genesis() {
            return Err(EntryError::GenesisMismatch);
        }
        return Ok(entry);
    }
    if entry.kind == Kind::Genesis {
        return Err(EntryError::GenesisNotFirst { index });
    }
    let (role, key) = channel.sender_key(entry.sender)?;
    // decode() guarantees exactly one signature on a non-genesis entry.
    let signature_key_id = entry.signatures[0].key_id;
    if signature_key_id != entry.sender {
        return Err(EntryError::SignatureKeyMismatch {
            position: 0,
            expected: entry.sender,
            found: signature_key_id,
        });
    }
    joint_record::check_form(&entry.joint_fields(), index)?;
    let key_change = key_change::check_form(&entry)?;
    let witness_change = witness_change::check_form(&entry)?;
    entry_codec::check_reply_to(&entry, index)?;
    check_limits(&entry, channel)?;
    entry_codec::verify_signature(entry_bytes, &entry, key)?;
    if let Some(payload) = key_change {
        channel.keys.check_new_key(&entry, &payload, key.name())?;
    }
    if let Some(payload) = witness_change {
        channel.keys.check_witness_change(&entry, &payload, role)?;
    }
    Ok(entry)
}

/// The channel's size limits (sections 3.1 and 3.5). A witness change's payload is not
/// subject to `max_payload`, like the genesis's (section 3.8).
fn check_limits(entry: &Entry, channel: &ChannelParams) -> Result<(), EntryError> {
    let max = channel.genesis().max_payload;
    if entry.kind != Kind::WitnessChange && entry.payload.len() as u64 > u64::from(max) {
        return Err(EntryError::PayloadTooLarge {
            len: entry.payload.len(),
            max,
        });
    }
    let max = channel.genesis().max_attachment_size;
    for (index, attachment) in entry.attachments.iter().enumerate() {
        if attachment.size > max {
            return Err(EntryError::AttachmentTooLarge {
                index,
                size: attachment.size,
                max,
            });
        }
    }
    Ok(())
}
