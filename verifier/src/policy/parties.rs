//! The two parties of a dyad channel as a policy names them (spec/dyad.md section 9).
//!
//! A checkpoint needs only the log key and the witnesses' cosignature keys, but a receipt's
//! or an audit's entry signatures are checked under the parties' entry keys: type 0x01
//! under the party's name (section 2.2). The log key carries the sequencer's public key but
//! the origin as its name, so a dyad policy also names both parties as witnesses under
//! fixed policy names: `sequencer` (its cosignature/v1 key; a log never witnesses itself,
//! so this line never counts towards a quorum) and `cosigner`. Anything else would leave
//! the roles to a guess, and is refused.

use alloc::string::{String, ToString};

use super::model::Policy;
use crate::key::{SignatureType, VerifierKey};

/// The policy name of the witness line that names the sequencer.
pub const SEQUENCER: &str = "sequencer";
/// The policy name of the witness line that names the co-signer.
pub const COSIGNER: &str = "cosigner";

/// A channel's origin and its two parties' entry keys, read from a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyParties {
    /// The channel's origin: the name of the policy's log key.
    pub origin: String,
    /// The sequencer's entry key (type 0x01 under its party name).
    pub sequencer: VerifierKey,
    /// The co-signer's entry key (type 0x01 under its party name).
    pub cosigner: VerifierKey,
}

/// Why a policy does not name a dyad channel's parties.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PartiesError {
    #[error("the policy names no log: a dyad policy names the channel's sequencer as its one log (`log <origin>+<key id>+<key>`)")]
    NoLog,
    #[error("the policy names {count} logs: a dyad policy names exactly one, the channel's sequencer (give one policy per channel)")]
    SeveralLogs { count: usize },
    #[error("the policy has no witness named {name:?}: a dyad policy names the parties as witnesses \"sequencer\" and \"cosigner\" (`dyad policy show` writes such a policy)")]
    MissingParty { name: &'static str },
    #[error("witness {name:?} must be the party's cosignature/v1 (type 0x04) key")]
    NotCosignatureKey { name: &'static str },
    #[error("witness \"sequencer\" is not the public key of the policy's log: the sequencer signs as the log")]
    SequencerNotTheLog,
    #[error("witnesses \"sequencer\" and \"cosigner\" have the same name: the parties' names must differ")]
    SameName,
    #[error("a party's key after a key change is not a valid key under its policy name")]
    InvalidPartyKey,
}

impl Policy {
    /// The channel's parties, as the policy's one log and its `sequencer` and `cosigner`
    /// witnesses name them.
    pub fn parties(&self) -> Result<PolicyParties, PartiesError> {
        let log = match self.logs() {
            [] => return Err(PartiesError::NoLog),
            [log] => &log.key,
            more => return Err(PartiesError::SeveralLogs { count: more.len() }),
        };
        let party = |name: &'static str| {
            let witness = self
                .witnesses()
                .iter()
                .find(|w| w.name == name)
                .ok_or(PartiesError::MissingParty { name })?;
            if witness.key.signature_type() != SignatureType::CosignatureV1 {
                return Err(PartiesError::NotCosignatureKey { name });
            }
            Ok(witness.key.with_signature_type(SignatureType::Ed25519))
        };
        let sequencer = party(SEQUENCER)?;
        let cosigner = party(COSIGNER)?;
        if sequencer.public_key_bytes() != log.public_key_bytes() {
            return Err(PartiesError::SequencerNotTheLog);
        }
        // The co-signer is another key than the log's: witness keys are distinct (the
        // parser refuses duplicates) and the sequencer's is the log's.
        if sequencer.name() == cosigner.name() {
            return Err(PartiesError::SameName);
        }
        Ok(PolicyParties {
            origin: log.name().to_string(),
            sequencer,
            cosigner,
        })
    }

    /// This policy with its parties' keys replaced by `sequencer`'s and `cosigner`'s
    /// public keys (spec section 9): after key changes (section 3.7), a checkpoint of size
    /// n is signed with the parties' keys at n, which a key history, checked from the keys
    /// this policy names, gives. The log line and the `sequencer` and `cosigner` witness
    /// lines take the new keys under their names; the other witnesses, the groups and the
    /// quorum stay.
    pub fn with_party_keys(
        &self,
        sequencer: [u8; 32],
        cosigner: [u8; 32],
    ) -> Result<Policy, PartiesError> {
        self.parties()?;
        let mut policy = self.clone();
        let rekey = |key: &VerifierKey, public: [u8; 32]| {
            VerifierKey::new(key.name(), key.signature_type(), public)
                .map_err(|_| PartiesError::InvalidPartyKey)
        };
        for log in &mut policy.logs {
            log.key = rekey(&log.key, sequencer)?;
        }
        for w in &mut policy.witnesses {
            match w.name.as_str() {
                SEQUENCER => w.key = rekey(&w.key, sequencer)?,
                COSIGNER => w.key = rekey(&w.key, cosigner)?,
                _ => {}
            }
        }
        Ok(policy)
    }
}
