//! The genesis entry and the genesis record (spec/dyad.md section 4): the channel's terms,
//! signed by both parties at index 0.
//!
//! The record is decoded by hand from the table of section 4, with the same primitive
//! encodings as the entry (section 3.1). [`ChannelParams`], derived from a checked
//! [`Genesis`], is what the per-entry checks of `entry::check_entry` need.

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::checkpoint::{self, Checkpoint, CheckpointError};
use crate::entry_codec::{self, Entry};
use crate::key::{KeyError, SignatureType, VerifierKey};
use crate::note::{self, NoteError, VerifiedNote};
use crate::policy::{Policy, PolicyError, Threshold};
use crate::rules::{EntryError, Kind, MAX_ORIGIN_LEN};
use crate::wire::Reader;

pub use crate::rules::{
    GenesisError, Identifier, PartyRole, CONTENT_TYPE, MAX_CLOCK_SKEW_S, MAX_MAX_PAYLOAD,
    MAX_WITNESSES, RECORD_VERSION,
};

/// A party or witness as the genesis names it: `party = name: string || public_key: 32 bytes`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Party {
    /// The key name (section 2.1).
    pub name: String,
    /// The Ed25519 public key.
    pub public_key: [u8; 32],
}

impl Party {
    /// The key that verifies this party's entry signatures: type 0x01 under its name
    /// (section 2.2).
    pub fn entry_key(&self) -> Result<VerifierKey, KeyError> {
        VerifierKey::new(&self.name, SignatureType::Ed25519, self.public_key)
    }

    /// The key that verifies this party's (or witness's) checkpoint cosignatures:
    /// type 0x04 under its name (section 2.2).
    pub fn cosignature_key(&self) -> Result<VerifierKey, KeyError> {
        VerifierKey::new(&self.name, SignatureType::CosignatureV1, self.public_key)
    }

    /// The type-0x01 key ID under the party's name: an entry's `sender`.
    pub fn key_id(&self) -> u32 {
        crate::key::key_id(&self.name, SignatureType::Ed25519, &self.public_key)
    }

    /// Whether `key` is this party's key material under this party's name (of any type).
    pub fn is_key(&self, key: &VerifierKey) -> bool {
        key.name() == self.name && key.public_key_bytes() == self.public_key
    }
}

/// The decoded genesis record (section 4).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Genesis {
    /// The channel origin; equal to the genesis entry's.
    pub origin: String,
    /// The party that sequences (signs checkpoints as the log).
    pub sequencer: Party,
    /// The other party, which co-signs checkpoints.
    pub cosigner: Party,
    /// Third-party cosigners.
    pub witnesses: Vec<Party>,
    /// How many of `witnesses` must co-sign a checkpoint for it to be committed.
    pub witness_threshold: u8,
    /// Largest payload in bytes.
    pub max_payload: u32,
    /// Largest attachment in bytes.
    pub max_attachment_size: u64,
    /// Tolerated clock skew in seconds.
    pub max_clock_skew_s: u32,
}

fn party(r: &mut Reader<'_>, role: PartyRole) -> Result<Party, GenesisError> {
    let (name, _) = r.string("party name", 1, 255)?;
    let public_key = r.array::<32>("party public_key")?;
    let party = Party {
        name: String::from(name),
        public_key,
    };
    // Both key types share name and key checks; building one checks the name (2.1) and
    // that the public key is a usable Ed25519 key.
    party
        .entry_key()
        .map_err(|error| GenesisError::InvalidParty { role, error })?;
    Ok(party)
}

/// Decodes a genesis record (the genesis entry's payload) canonically and checks the
/// rules of the table in section 4 that it alone determines. The record's origin is
/// compared with the entry's by [`check_genesis`].
pub fn decode_record(bytes: &[u8]) -> Result<Genesis, GenesisError> {
    let mut r = Reader::new(bytes);
    let version = r.u8("version")?;
    if version != RECORD_VERSION {
        return Err(GenesisError::UnknownVersion(version));
    }
    let (origin, _) = r.string("origin", 1, MAX_ORIGIN_LEN)?;
    let origin = String::from(origin);
    check_origin(&origin)?;
    let sequencer = party(&mut r, PartyRole::Sequencer)?;
    let cosigner = party(&mut r, PartyRole::Cosigner)?;
    let count = r.u64("witnesses")?;
    if count > MAX_WITNESSES {
        return Err(GenesisError::TooManyWitnesses { count });
    }
    // count <= 32: a bounded allocation.
    let mut witnesses = Vec::with_capacity(count as usize);
    for i in 0..count as usize {
        witnesses.push(party(&mut r, PartyRole::Witness(i))?);
    }
    let witness_threshold = r.u8("witness_threshold")?;
    let max_payload = r.u32("max_payload")?;
    let max_attachment_size = r.u64("max_attachment_size")?;
    let max_clock_skew_s = r.u32("max_clock_skew_s")?;
    r.finish()?;

    let genesis = Genesis {
        origin,
        sequencer,
        cosigner,
        witnesses,
        witness_threshold,
        max_payload,
        max_attachment_size,
        max_clock_skew_s,
    };
    genesis.check_terms()?;
    Ok(genesis)
}

/// Prefixes an origin must not start with (section 4): they start the other texts a
/// party key signs (`dyad-entry/v1` entry messages, `cosignature/v1` co-signatures), so
/// no checkpoint text can begin like one of them.
pub const RESERVED_ORIGIN_PREFIXES: [&str; 2] = ["dyad-", "cosignature/"];

/// The rules of record field 2 that the record alone determines: a key name (2.1), since it
/// names the log key, without a reserved prefix.
fn check_origin(origin: &str) -> Result<(), GenesisError> {
    crate::key::validate_name(origin).map_err(GenesisError::InvalidOrigin)?;
    if RESERVED_ORIGIN_PREFIXES
        .iter()
        .any(|p| origin.starts_with(p))
    {
        return Err(GenesisError::ReservedOrigin(String::from(origin)));
    }
    Ok(())
}

impl Genesis {
    /// The parties in role order: sequencer, co-signer, then witnesses.
    fn all(&self) -> impl Iterator<Item = (PartyRole, &Party)> {
        [
            (PartyRole::Sequencer, &self.sequencer),
            (PartyRole::Cosigner, &self.cosigner),
        ]
        .into_iter()
        .chain(
            self.witnesses
                .iter()
                .enumerate()
                .map(|(i, w)| (PartyRole::Witness(i), w)),
        )
    }

    /// The rules of the record's fields 4 to 9.
    fn check_terms(&self) -> Result<(), GenesisError> {
        // Every name, public key and key ID is distinct across both parties and all
        // witnesses, so that no signature line or sender ID can be attributed to two of
        // them. (Section 4 says so for the co-signer against the sequencer and for the
        // witnesses among themselves; this applies it across the two groups too.)
        let all: Vec<(PartyRole, &Party)> = self.all().collect();
        for (j, (role, p)) in all.iter().enumerate() {
            let ids = |p: &Party| {
                [SignatureType::Ed25519, SignatureType::CosignatureV1]
                    .map(|t| crate::key::key_id(&p.name, t, &p.public_key))
            };
            for (other, q) in &all[..j] {
                let identifier = if p.name == q.name {
                    Identifier::Name
                } else if p.public_key == q.public_key {
                    Identifier::PublicKey
                } else if ids(p).iter().any(|id| ids(q).contains(id)) {
                    Identifier::KeyId
                } else {
                    continue;
                };
                return Err(GenesisError::Duplicate {
                    role: *role,
                    other: *other,
                    identifier,
                });
            }
        }
        if usize::from(self.witness_threshold) > self.witnesses.len() {
            return Err(GenesisError::ThresholdTooHigh {
                threshold: self.witness_threshold,
                witnesses: self.witnesses.len(),
            });
        }
        if self.max_payload > MAX_MAX_PAYLOAD {
            return Err(GenesisError::MaxPayloadTooLarge(self.max_payload));
        }
        if !(1..=MAX_CLOCK_SKEW_S).contains(&self.max_clock_skew_s) {
            return Err(GenesisError::ClockSkewOutOfRange(self.max_clock_skew_s));
        }
        Ok(())
    }

    /// The log key: the sequencer's public key, type 0x01, under the origin (section 2.2).
    pub fn log_key(&self) -> Result<VerifierKey, KeyError> {
        VerifierKey::new(
            &self.origin,
            SignatureType::Ed25519,
            self.sequencer.public_key,
        )
    }

    /// The channel's trust policy as a C2SP tlog-policy (section 9): the log key, the
    /// co-signer as witness `cosigner`, the genesis witnesses as `w1`, `w2`, ..., and a
    /// quorum of the co-signer plus `witness_threshold` of the witnesses. Its text form
    /// (`to_string()`) is the policy file an auditor can hand to other C2SP tools.
    pub fn policy(&self) -> Result<Policy, PolicyError> {
        let invalid = |reason| PolicyError::InvalidKey {
            line: crate::policy::BUILDER_LINE,
            reason,
        };
        let mut policy = Policy::new();
        policy.add_log(self.log_key().map_err(invalid)?)?;
        policy.add_witness(
            "cosigner",
            self.cosigner.cosignature_key().map_err(invalid)?,
        )?;
        let mut names = Vec::with_capacity(self.witnesses.len());
        for (i, witness) in self.witnesses.iter().enumerate() {
            let name = alloc::format!("w{}", i + 1);
            policy.add_witness(&name, witness.cosignature_key().map_err(invalid)?)?;
            names.push(name);
        }
        if self.witness_threshold > 0 {
            let threshold = Threshold::AtLeast(usize::from(self.witness_threshold));
            policy.add_group("witnesses", threshold, &names)?;
            policy.add_group("committed", Threshold::All, &["cosigner", "witnesses"])?;
            policy.set_quorum("committed")?;
        } else {
            policy.set_quorum("cosigner")?;
        }
        Ok(policy)
    }

    /// The role of the party whose entry key has this type-0x01 key ID, if any.
    /// Witnesses never send (section 3.4), so only the two parties are considered.
    pub fn party_by_key_id(&self, key_id: u32) -> Option<(PartyRole, &Party)> {
        if self.sequencer.key_id() == key_id {
            Some((PartyRole::Sequencer, &self.sequencer))
        } else if self.cosigner.key_id() == key_id {
            Some((PartyRole::Cosigner, &self.cosigner))
        } else {
            None
        }
    }

    /// Whether the two parties are exactly the keys given, in either role: each key is
    /// one party's public key under that party's name.
    pub fn names_parties(&self, a: &VerifierKey, b: &VerifierKey) -> bool {
        (self.sequencer.is_key(a) && self.cosigner.is_key(b))
            || (self.sequencer.is_key(b) && self.cosigner.is_key(a))
    }
}

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
/// parties' keys, derived once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelParams {
    genesis: Genesis,
    sequencer_key: VerifierKey,
    cosigner_key: VerifierKey,
    commit_keys: CommitKeys,
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
        Ok(ChannelParams {
            genesis,
            sequencer_key,
            cosigner_key,
            commit_keys,
        })
    }

    /// The keys that decide whether one of this channel's checkpoints is committed.
    pub fn commit_keys(&self) -> &CommitKeys {
        &self.commit_keys
    }

    /// Verifies that a checkpoint note is committed under this channel's terms
    /// (section 7); see [`CommitKeys::verify`].
    pub fn verify_checkpoint(&self, note_bytes: &[u8]) -> Result<Committed, CommitError> {
        self.commit_keys.verify(note_bytes)
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

    /// The party whose entry key has this key ID (an entry's `sender`), with that key.
    pub fn party_by_key_id(&self, key_id: u32) -> Option<(PartyRole, &VerifierKey)> {
        if self.sequencer_key.key_id() == key_id {
            Some((PartyRole::Sequencer, &self.sequencer_key))
        } else if self.cosigner_key.key_id() == key_id {
            Some((PartyRole::Cosigner, &self.cosigner_key))
        } else {
            None
        }
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
