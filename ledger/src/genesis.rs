//! The genesis entry: the channel's terms, signed by both parties (spec section 4).
//!
//! The sequencer drafts and signs the genesis entry first; the result is a *proposal*
//! (an entry with one signature) that travels to the co-signer by file or over the network.
//! The co-signer checks the terms and adds its signature; only then can index 0 be written.

use bincode::{Decode, Encode};
use dyad_verifier::key::{SignatureType, VerifierKey};
use ed25519_dalek::VerifyingKey;

use crate::entry::{
    wire_config, Entry, EntryBody, EntryError, EntrySignature, Kind, SignedEntry, VERSION,
};
use crate::keys::SignerKey;

/// The content type of the genesis entry's payload, the encoded [`Genesis`].
pub const GENESIS_CONTENT_TYPE: &str = "application/vnd.dyad.genesis.v1";
/// The most witnesses a channel names.
pub const MAX_WITNESSES: usize = 32;
/// The longest party (key) name, in bytes.
pub const MAX_PARTY_NAME_LEN: usize = 255;
/// The largest payload limit a channel may set (60 KiB; a whole entry is under 64 KiB).
pub const MAX_PAYLOAD_LIMIT: u32 = 61440;
/// The payload limit of a new channel unless its terms say otherwise.
pub const DEFAULT_MAX_PAYLOAD: u32 = MAX_PAYLOAD_LIMIT;
/// The attachment size limit of a new channel (1 GiB) unless its terms say otherwise.
pub const DEFAULT_MAX_ATTACHMENT_SIZE: u64 = 1 << 30;
/// How far ahead of a replica's clock an entry's timestamp may be, in seconds, by default.
pub const DEFAULT_MAX_CLOCK_SKEW_S: u32 = 300;

/// A party of the channel: its key name and Ed25519 public key.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Party {
    /// The party's key name (signed-note key name).
    pub name: String,
    /// The party's Ed25519 public key.
    pub public_key: [u8; 32],
}

impl Party {
    /// The party a signer key is.
    pub fn of(key: &SignerKey) -> Party {
        Party {
            name: key.name().to_owned(),
            public_key: key.public_key(),
        }
    }

    /// The party a verifier key (type 0x01) names.
    pub fn from_verifier_key(key: &VerifierKey) -> Party {
        Party {
            name: key.name().to_owned(),
            public_key: key.public_key_bytes(),
        }
    }

    /// Type 0x01 under the party's name: verifies its entry signatures.
    pub fn entry_key(&self) -> Result<VerifierKey, GenesisError> {
        VerifierKey::new(&self.name, SignatureType::Ed25519, self.public_key).map_err(|_| {
            GenesisError::BadParty {
                name: self.name.clone(),
            }
        })
    }

    /// Type 0x04 under the party's name: verifies its cosignatures.
    pub fn cosignature_key(&self) -> Result<VerifierKey, GenesisError> {
        VerifierKey::new(&self.name, SignatureType::CosignatureV1, self.public_key).map_err(|_| {
            GenesisError::BadParty {
                name: self.name.clone(),
            }
        })
    }

    /// The party's key as an Ed25519 verifying key.
    pub fn verifying_key(&self) -> Result<VerifyingKey, GenesisError> {
        VerifyingKey::from_bytes(&self.public_key).map_err(|_| GenesisError::BadParty {
            name: self.name.clone(),
        })
    }
}

/// The channel's terms (spec section 4), the payload of entry 0.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Genesis {
    /// The terms' format version.
    pub version: u8,
    /// The channel's origin, which every entry and checkpoint carries.
    pub origin: String,
    /// The party that appends entries and signs checkpoints as the log.
    pub sequencer: Party,
    /// The party that co-signs checkpoints.
    pub cosigner: Party,
    /// Witnesses whose co-signatures a checkpoint may need.
    pub witnesses: Vec<Party>,
    /// How many witness co-signatures a committed checkpoint needs.
    pub witness_threshold: u8,
    /// The largest payload an entry may carry, in bytes.
    pub max_payload: u32,
    /// The largest attachment, in bytes.
    pub max_attachment_size: u64,
    /// How far ahead of a replica's clock a timestamp may be, in seconds.
    pub max_clock_skew_s: u32,
}

/// Why a genesis entry or proposal is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GenesisError {
    /// The genesis entry is not a valid entry.
    #[error(transparent)]
    Entry(#[from] EntryError),
    /// Entry 0 is of another kind.
    #[error("entry 0 must be a genesis entry")]
    NotGenesis,
    /// The terms break a rule of spec section 4.
    #[error("the genesis entry breaks a rule: {0}")]
    Rule(&'static str),
    /// The terms do not decode.
    #[error("the genesis record is not a valid encoding: {0}")]
    Malformed(String),
    /// A party whose name or key is not valid.
    #[error("party {name:?} does not have a valid key name and Ed25519 key")]
    BadParty {
        /// The party's name.
        name: String,
    },
    /// A party's signature on the genesis entry does not verify.
    #[error("the {who}'s signature on the genesis entry does not verify")]
    BadSignature {
        /// Whose signature: sequencer or co-signer.
        who: &'static str,
    },
    /// Co-signing a proposal both parties have signed.
    #[error("the genesis proposal is already signed by both parties")]
    AlreadyCosigned,
    /// Co-signing with a key that is not the co-signer's.
    #[error("this key is not the genesis co-signer's key")]
    NotTheCosigner,
}

impl Genesis {
    /// Terms with the default limits and no witnesses.
    pub fn new(origin: &str, sequencer: Party, cosigner: Party) -> Self {
        Genesis {
            version: VERSION,
            origin: origin.to_owned(),
            sequencer,
            cosigner,
            witnesses: Vec::new(),
            witness_threshold: 0,
            max_payload: DEFAULT_MAX_PAYLOAD,
            max_attachment_size: DEFAULT_MAX_ATTACHMENT_SIZE,
            max_clock_skew_s: DEFAULT_MAX_CLOCK_SKEW_S,
        }
    }

    /// The terms' canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        bincode::encode_to_vec(self, wire_config()).unwrap_or_default()
    }

    /// Decodes terms, refusing trailing bytes and terms that break a rule.
    pub fn decode(bytes: &[u8]) -> Result<Genesis, GenesisError> {
        let (genesis, read): (Genesis, usize) = bincode::decode_from_slice(bytes, wire_config())
            .map_err(|e| GenesisError::Malformed(e.to_string()))?;
        if read != bytes.len() {
            return Err(GenesisError::Malformed(format!(
                "{} bytes after the end",
                bytes.len() - read
            )));
        }
        genesis.validate()?;
        Ok(genesis)
    }

    /// Checks the rules of spec section 4 (version, keys, origin, witnesses, limits).
    pub fn validate(&self) -> Result<(), GenesisError> {
        if self.version != VERSION {
            return Err(GenesisError::Rule("unknown genesis version"));
        }
        self.log_key()?;
        // Notes dyad signs with the log key start with the origin or with a "dyad-" label
        // (spec section 4), so an origin may not look like such a label.
        if self.origin.starts_with("dyad-") || self.origin.starts_with("cosignature/") {
            return Err(GenesisError::Rule(
                "the origin may not start with \"dyad-\" or \"cosignature/\"",
            ));
        }
        let all: Vec<&Party> = [&self.sequencer, &self.cosigner]
            .into_iter()
            .chain(&self.witnesses)
            .collect();
        let mut ids = Vec::with_capacity(all.len());
        for p in &all {
            if p.name.len() > MAX_PARTY_NAME_LEN {
                return Err(GenesisError::BadParty {
                    name: p.name.clone(),
                });
            }
            p.verifying_key()?;
            ids.push((p.entry_key()?.key_id(), p.cosignature_key()?.key_id()));
        }
        for (i, a) in all.iter().enumerate() {
            for (j, b) in all.iter().enumerate().skip(i + 1) {
                let (a01, a04) = ids[i];
                let (b01, b04) = ids[j];
                if a.name == b.name || a.public_key == b.public_key || a01 == b01 || a04 == b04 {
                    return Err(GenesisError::Rule(
                        "parties and witnesses must have distinct names, keys and key ids",
                    ));
                }
            }
        }
        if self.witnesses.len() > MAX_WITNESSES {
            return Err(GenesisError::Rule("at most 32 witnesses"));
        }
        if usize::from(self.witness_threshold) > self.witnesses.len() {
            return Err(GenesisError::Rule(
                "witness threshold exceeds the number of witnesses",
            ));
        }
        if self.max_payload > MAX_PAYLOAD_LIMIT {
            return Err(GenesisError::Rule("max_payload is at most 61440"));
        }
        if !(1..=86400).contains(&self.max_clock_skew_s) {
            return Err(GenesisError::Rule("max_clock_skew_s must be 1..=86400"));
        }
        Ok(())
    }

    /// The log key: the sequencer's key named by the origin (spec 2.2).
    pub fn log_key(&self) -> Result<VerifierKey, GenesisError> {
        VerifierKey::new(
            &self.origin,
            SignatureType::Ed25519,
            self.sequencer.public_key,
        )
        .map_err(|_| GenesisError::Rule("origin is not a valid key name"))
    }

    /// The party who sent an entry, by the sender key id.
    pub fn party_by_key_id(&self, key_id: u32) -> Option<&Party> {
        [&self.sequencer, &self.cosigner]
            .into_iter()
            .find(|p| p.entry_key().map(|k| k.key_id() == key_id).unwrap_or(false))
    }

    /// Drafts the genesis entry and signs it as the sequencer: a proposal for the co-signer.
    pub fn propose(
        &self,
        sequencer: &SignerKey,
        timestamp_ms: u64,
    ) -> Result<SignedEntry, GenesisError> {
        self.validate()?;
        if Party::of(sequencer) != self.sequencer {
            return Err(GenesisError::Rule(
                "the proposing key is not the genesis sequencer",
            ));
        }
        let body = EntryBody {
            version: VERSION,
            origin: self.origin.clone(),
            kind: Kind::Genesis,
            sender: sequencer.key_id(),
            sequence: 0,
            timestamp_ms,
            reply_to: None,
            subject: format!("channel {}", self.origin),
            content_type: GENESIS_CONTENT_TYPE.to_owned(),
            payload: self.encode(),
            attachments: Vec::new(),
        };
        body.validate()?;
        let signature = sequencer.sign(&body.signed_message());
        let entry = Entry {
            body,
            signatures: vec![EntrySignature {
                key_id: sequencer.key_id(),
                signature,
            }],
        };
        // A proposal has one signature, which `Entry::validate` counts as incomplete for a
        // genesis entry, so it is encoded directly.
        let bytes = bincode::encode_to_vec(&entry, wire_config())
            .map_err(|e| GenesisError::Malformed(e.to_string()))?;
        let leaf_hash = crate::tree::leaf_hash(&bytes);
        Ok(SignedEntry {
            entry,
            bytes,
            leaf_hash,
        })
    }
}

/// Reads a proposal (the sequencer-signed genesis entry) and checks its terms and signature.
pub fn read_proposal(bytes: &[u8]) -> Result<(Entry, Genesis), GenesisError> {
    let (entry, read): (Entry, usize) = bincode::decode_from_slice(bytes, wire_config())
        .map_err(|e| GenesisError::Malformed(e.to_string()))?;
    if read != bytes.len() {
        return Err(GenesisError::Malformed("trailing bytes".into()));
    }
    if entry.signatures.len() == 2 {
        return Err(GenesisError::AlreadyCosigned);
    }
    let genesis = check_genesis_body(&entry)?;
    if entry.signatures.len() != 1
        || !entry.signature_verifies(0, &genesis.sequencer.verifying_key()?)
    {
        return Err(GenesisError::BadSignature { who: "sequencer" });
    }
    Ok((entry, genesis))
}

/// The co-signer's agreement: adds its signature to a proposal, yielding the genesis entry.
pub fn cosign_proposal(
    bytes: &[u8],
    cosigner: &SignerKey,
) -> Result<(SignedEntry, Genesis), GenesisError> {
    let (mut entry, genesis) = read_proposal(bytes)?;
    if Party::of(cosigner) != genesis.cosigner {
        return Err(GenesisError::NotTheCosigner);
    }
    let signature = cosigner.sign(&entry.body.signed_message());
    entry.signatures.push(EntrySignature {
        key_id: cosigner.key_id(),
        signature,
    });
    let signed = SignedEntry::new(entry)?;
    Ok((signed, genesis))
}

fn check_genesis_body(entry: &Entry) -> Result<Genesis, GenesisError> {
    let body = &entry.body;
    body.validate()?;
    if body.kind != Kind::Genesis {
        return Err(GenesisError::NotGenesis);
    }
    if body.sequence != 0
        || body.reply_to.is_some()
        || !body.attachments.is_empty()
        || body.content_type != GENESIS_CONTENT_TYPE
    {
        return Err(GenesisError::Rule("genesis must have sequence 0, no reply_to, no attachments and the genesis content type"));
    }
    let genesis = Genesis::decode(&body.payload)?;
    if genesis.origin != body.origin {
        return Err(GenesisError::Rule(
            "genesis record origin differs from the entry origin",
        ));
    }
    if genesis.sequencer.entry_key()?.key_id() != body.sender {
        return Err(GenesisError::Rule("genesis sender is not the sequencer"));
    }
    Ok(genesis)
}

/// Checks a complete genesis entry (index 0): terms and both signatures.
pub fn check_genesis(entry: &Entry) -> Result<Genesis, GenesisError> {
    entry.validate()?;
    let genesis = check_genesis_body(entry)?;
    if !entry.signature_verifies(0, &genesis.sequencer.verifying_key()?) {
        return Err(GenesisError::BadSignature { who: "sequencer" });
    }
    let cosigner_id = genesis.cosigner.entry_key()?.key_id();
    if entry.signatures[1].key_id != cosigner_id
        || !entry.signature_verifies(1, &genesis.cosigner.verifying_key()?)
    {
        return Err(GenesisError::BadSignature { who: "co-signer" });
    }
    Ok(genesis)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> (SignerKey, SignerKey) {
        (
            SignerKey::from_seed("example.org/alpha", [1; 32]).unwrap(),
            SignerKey::from_seed("example.org/bravo", [2; 32]).unwrap(),
        )
    }

    #[test]
    fn propose_then_cosign_gives_a_valid_genesis() {
        let (a, b) = keys();
        let g = Genesis::new("example.org/dyad/ab", Party::of(&a), Party::of(&b));
        let proposal = g.propose(&a, 1).unwrap();
        assert_eq!(
            Entry::decode(&proposal.bytes).unwrap_err(),
            EntryError::WrongSignatureCount {
                kind: Kind::Genesis,
                expected: 2,
                found: 1
            }
        );
        let (signed, genesis) = cosign_proposal(&proposal.bytes, &b).unwrap();
        assert_eq!(genesis, g);
        let decoded = Entry::decode(&signed.bytes).unwrap();
        assert_eq!(check_genesis(&decoded).unwrap(), g);
        assert!(matches!(
            cosign_proposal(&signed.bytes, &b),
            Err(GenesisError::AlreadyCosigned)
        ));
    }

    #[test]
    fn only_the_named_cosigner_may_sign_and_forgeries_fail() {
        let (a, b) = keys();
        let c = SignerKey::from_seed("example.org/charlie", [3; 32]).unwrap();
        let g = Genesis::new("example.org/dyad/ab", Party::of(&a), Party::of(&b));
        let proposal = g.propose(&a, 1).unwrap();
        assert!(matches!(
            cosign_proposal(&proposal.bytes, &c),
            Err(GenesisError::NotTheCosigner)
        ));
        let (signed, _) = cosign_proposal(&proposal.bytes, &b).unwrap();
        let mut forged = signed.entry.clone();
        forged.signatures[1].signature[0] ^= 1;
        assert_eq!(
            check_genesis(&forged),
            Err(GenesisError::BadSignature { who: "co-signer" })
        );
        let same_party = Genesis::new("example.org/dyad/aa", Party::of(&a), Party::of(&a));
        assert!(matches!(same_party.validate(), Err(GenesisError::Rule(_))));
    }
}
