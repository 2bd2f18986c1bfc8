//! The genesis record (spec/dyad.md section 4): the channel's terms, which the genesis
//! entry carries as its payload. It is decoded by hand from the table of section 4, with
//! the same primitive encodings as the entry (section 3.1), and checked against the rules
//! the record alone determines.

use alloc::string::String;
use alloc::vec::Vec;

use crate::key::{self, KeyError, SignatureType, VerifierKey};
use crate::policy::{self, Policy, PolicyError, Threshold};
use crate::rules::{
    GenesisError, Identifier, PartyRole, MAX_CLOCK_SKEW_S, MAX_MAX_PAYLOAD, MAX_ORIGIN_LEN,
    MAX_WITNESSES, RECORD_VERSION,
};
use crate::wire::Reader;

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
        key::key_id(&self.name, SignatureType::Ed25519, &self.public_key)
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
/// compared with the entry's by [`check_genesis`](crate::genesis::check_genesis).
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
pub(crate) fn check_origin(origin: &str) -> Result<(), GenesisError> {
    key::validate_name(origin).map_err(GenesisError::InvalidOrigin)?;
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
    pub(crate) fn check_terms(&self) -> Result<(), GenesisError> {
        // Every name, public key and key ID is distinct across both parties and all
        // witnesses, so that no signature line or sender ID can be attributed to two of
        // them. (Section 4 says so for the co-signer against the sequencer and for the
        // witnesses among themselves; this applies it across the two groups too.)
        let all: Vec<(PartyRole, &Party)> = self.all().collect();
        for (j, (role, p)) in all.iter().enumerate() {
            let ids = |p: &Party| {
                [SignatureType::Ed25519, SignatureType::CosignatureV1]
                    .map(|t| key::key_id(&p.name, t, &p.public_key))
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
    /// parties as witnesses `sequencer` (never counted: a log does not witness itself; it
    /// names the sequencer for the entry signatures) and `cosigner`, the genesis
    /// witnesses as `w1`, `w2`, ..., and a quorum of the co-signer plus
    /// `witness_threshold` of the witnesses. Its text form (`to_string()`) is the policy
    /// file an auditor can hand to other C2SP tools.
    pub fn policy(&self) -> Result<Policy, PolicyError> {
        let invalid = |reason| PolicyError::InvalidKey {
            line: policy::BUILDER_LINE,
            reason,
        };
        let mut policy = Policy::new();
        policy.add_log(self.log_key().map_err(invalid)?)?;
        policy.add_witness(
            policy::SEQUENCER,
            self.sequencer.cosignature_key().map_err(invalid)?,
        )?;
        policy.add_witness(
            policy::COSIGNER,
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
