//! Checkpoints (spec sections 6–7): signing the tree head as the log, verifying notes
//! under the channel's keys, storing committed checkpoints, and the read-only state of a
//! replica whose newest checkpoint does not verify.

use dyad_verifier::checkpoint::Checkpoint;
use dyad_verifier::key::VerifierKey;
use dyad_verifier::note;

use super::key_state::KeyState;
use super::{Channel, ChannelError, Role};
use crate::genesis::Party;
use crate::keys::SignerKey;
use crate::tree::Hash;

pub(super) const META_SIGNED: &str = "signed-checkpoint";

/// Why a replica opened read-only: its newest stored checkpoint does not verify as
/// committed, and no note could be rebuilt from the lines that do verify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointDamage {
    /// The size of the newest stored checkpoint.
    pub size: u64,
    /// Why it does not verify.
    pub reason: String,
}

impl Channel {
    /// The newest stored checkpoint did not verify (`problem`): if the lines of it that
    /// verify on their own make a committed note, that note replaces it (a note stored by
    /// an older build may carry extra lines); otherwise the replica stays open, read-only.
    pub(super) fn repair_checkpoint(
        &mut self,
        size: u64,
        note_bytes: &[u8],
        problem: ChannelError,
    ) -> Result<(), ChannelError> {
        let keys = self.note_keys(&self.keys, note_size(note_bytes))?;
        let rebuilt = crate::kept_note::salvage(note_bytes, &keys)
            .filter(|n| self.verify_committed(n).is_ok());
        match rebuilt {
            Some(rebuilt) => {
                tracing::warn!(size, problem = %problem, "the newest stored checkpoint does not verify; rebuilt it from its signature lines that do");
                let mut batch = self.store.batch();
                batch.put_checkpoint(size, rebuilt);
                self.store.commit(batch)?;
                self.repaired = Some(size);
            }
            None => {
                let damage = CheckpointDamage {
                    size,
                    reason: problem.to_string(),
                };
                tracing::error!(size, problem = %damage.reason, "the newest stored checkpoint does not verify: the replica is read-only");
                self.damage = Some(damage);
            }
        }
        Ok(())
    }

    /// Why this replica is read-only, if it is: its newest checkpoint does not verify.
    pub fn checkpoint_damage(&self) -> Option<&CheckpointDamage> {
        self.damage.as_ref()
    }

    /// The size of the stored checkpoint that opening rebuilt from the signature lines
    /// that verify, if it had to.
    pub fn repaired_checkpoint(&self) -> Option<u64> {
        self.repaired
    }

    /// The keys whose signature lines a note of a checkpoint of `size` may carry, in the
    /// order it carries them: the log's, the co-signer's (each the party's key at `size`,
    /// spec 3.7), the witnesses' at `size` (3.8: a witness a change removed is unknown to
    /// the checkpoints after it, and its line is ignored).
    fn note_keys(&self, keys: &KeyState, size: u64) -> Result<Vec<VerifierKey>, ChannelError> {
        let mut out = vec![
            self.log_key_of(&keys.party_at(true, size))?,
            keys.party_at(false, size).cosignature_key()?,
        ];
        out.extend(keys.witnesses().keys_at(size).iter().cloned());
        Ok(out)
    }

    /// The log key of a sequencer key: named by the origin (spec 2.2).
    fn log_key_of(&self, sequencer: &Party) -> Result<VerifierKey, ChannelError> {
        let mut genesis_terms = self.genesis.clone();
        genesis_terms.sequencer = sequencer.clone();
        Ok(genesis_terms.log_key()?)
    }

    /// The log key at checkpoint size `size` (spec 3.7).
    pub fn log_key_at(&self, size: u64) -> Result<VerifierKey, ChannelError> {
        self.log_key_of(&self.keys.party_at(true, size))
    }

    /// The checkpoint text for the current tree (spec section 6).
    pub fn checkpoint_text(&self) -> String {
        Checkpoint {
            origin: self.genesis.origin.clone(),
            size: self.store.size(),
            root: self.store.root(),
            extensions: Vec::new(),
        }
        .to_text()
    }

    /// Sequencer: signs the current tree head as the log and remembers it as the newest
    /// signed checkpoint. Returns the note, which still needs the co-signature.
    pub fn sign_checkpoint(&mut self, key: &SignerKey) -> Result<Vec<u8>, ChannelError> {
        self.check_writable()?;
        self.require_role(Role::Sequencer)?;
        let size = self.store.size();
        self.require_key_at(key, &self.party_at(Role::Sequencer, size), size)?;
        let note = self.log_signed_note(key, size, self.store.root())?;
        let mut batch = self.store.batch();
        batch.put_meta(META_SIGNED, note.clone());
        self.store.commit(batch)?;
        Ok(note)
    }

    /// The checkpoint note of the tree of `size` entries with `root`, signed as the log.
    pub(super) fn log_signed_note(
        &self,
        key: &SignerKey,
        size: u64,
        root: Hash,
    ) -> Result<Vec<u8>, ChannelError> {
        let text = Checkpoint {
            origin: self.genesis.origin.clone(),
            size,
            root,
            extensions: Vec::new(),
        }
        .to_text();
        let log_key = self.log_key_of(&Party::of(key))?;
        let sig = key.sign(text.as_bytes());
        Ok(format!(
            "{text}\n{}",
            note::signature_line(log_key.name(), log_key.key_id(), &sig)
        )
        .into_bytes())
    }

    /// The size of the newest checkpoint this replica signed (sequencer) or accepted
    /// (co-signer); 0 if none.
    pub fn latest_signed_size(&self) -> Result<u64, ChannelError> {
        let Some(note_bytes) = self.store.meta(META_SIGNED)? else {
            return Ok(0);
        };
        let parsed = note::parse(&note_bytes)?;
        Ok(dyad_verifier::checkpoint::parse(&parsed.text)?.size)
    }

    /// The newest checkpoint this replica signed (sequencer) or accepted (co-signer).
    pub fn latest_signed_checkpoint(&self) -> Result<Option<Vec<u8>>, ChannelError> {
        Ok(self.store.meta(META_SIGNED)?)
    }

    /// Verifies a note under the channel's keys and returns the checkpoint with the number
    /// of parties' and witnesses' signatures that verified.
    pub(super) fn verify_note(
        &self,
        note_bytes: &[u8],
    ) -> Result<(Checkpoint, bool, bool, usize), ChannelError> {
        self.verify_note_in(&self.keys, note_bytes)
    }

    /// [`Self::verify_note`] under the parties' keys in `keys` (which may hold key changes
    /// of a batch not yet written).
    pub(super) fn verify_note_in(
        &self,
        keys: &KeyState,
        note_bytes: &[u8],
    ) -> Result<(Checkpoint, bool, bool, usize), ChannelError> {
        let size = note_size(note_bytes);
        let note_keys = self.note_keys(keys, size)?;
        let (log_key, cosigner_key) = (&note_keys[0], &note_keys[1]);
        let verified = note::verify(note_bytes, &note_keys)?;
        let checkpoint = dyad_verifier::checkpoint::parse(&verified.text)?;
        if checkpoint.origin != self.genesis.origin {
            return Err(ChannelError::CheckpointOrigin {
                expected: self.genesis.origin.clone(),
                found: checkpoint.origin,
            });
        }
        let signed_by = |k: &VerifierKey| verified.verified.iter().any(|v| v.key == *k);
        let has_log = signed_by(log_key);
        let has_cosigner = signed_by(cosigner_key);
        let witnesses = keys
            .witnesses()
            .keys_at(size)
            .iter()
            .filter(|k| signed_by(k))
            .count();
        Ok((checkpoint, has_log, has_cosigner, witnesses))
    }

    /// Checks that a note is a committed checkpoint of this channel (spec section 7).
    pub fn verify_committed(&self, note_bytes: &[u8]) -> Result<Checkpoint, ChannelError> {
        self.verify_committed_in(&self.keys, note_bytes)
    }

    /// [`Self::verify_committed`] under the parties' keys in `keys`.
    pub(super) fn verify_committed_in(
        &self,
        keys: &KeyState,
        note_bytes: &[u8],
    ) -> Result<Checkpoint, ChannelError> {
        let (checkpoint, has_log, has_cosigner, witnesses) =
            self.verify_note_in(keys, note_bytes)?;
        if !has_log {
            return Err(ChannelError::MissingLogSignature);
        }
        if !has_cosigner {
            return Err(ChannelError::MissingCosignature);
        }
        // The threshold at the checkpoint's size (spec 3.8, 7).
        let needed = usize::from(keys.witnesses().at(checkpoint.size).1);
        if witnesses < needed {
            return Err(ChannelError::WitnessQuorum {
                found: witnesses,
                needed,
            });
        }
        Ok(checkpoint)
    }

    /// Checks the checkpoint's root against this replica's own tree.
    pub(super) fn check_against_tree(&self, checkpoint: &Checkpoint) -> Result<(), ChannelError> {
        let held = self.store.size();
        if checkpoint.size > held {
            return Err(ChannelError::CheckpointBeyondLog {
                size: checkpoint.size,
                held,
            });
        }
        let ours = self.store.root_at(checkpoint.size)?;
        if ours != checkpoint.root {
            return Err(ChannelError::RootMismatch {
                size: checkpoint.size,
                claimed: hex::encode(checkpoint.root),
                computed: hex::encode(ours),
            });
        }
        Ok(())
    }

    /// Stores a committed checkpoint (e.g. the co-signed note coming back to the sequencer)
    /// after checking its signatures and that it matches this replica's tree.
    pub fn add_committed_checkpoint(
        &mut self,
        note_bytes: &[u8],
    ) -> Result<Checkpoint, ChannelError> {
        self.check_writable()?;
        let checkpoint = self.verify_committed(note_bytes)?;
        self.check_against_tree(&checkpoint)?;
        if checkpoint.size > self.committed_size()? {
            // Only the lines verified here are kept, and the note kept must verify.
            let kept = self.kept_note(note_bytes, None)?;
            self.verify_committed(&kept)?;
            let mut batch = self.store.batch();
            batch.put_checkpoint(checkpoint.size, kept);
            self.store.commit(batch)?;
            self.update_replica_record();
        }
        Ok(checkpoint)
    }

    /// `note_bytes` with only the signature lines of this channel's keys, each verified
    /// (see [`crate::kept_note`]), leaving out the line of `skip`.
    pub(super) fn kept_note(
        &self,
        note_bytes: &[u8],
        skip: Option<&VerifierKey>,
    ) -> Result<Vec<u8>, ChannelError> {
        self.kept_note_in(&self.keys, note_bytes, skip)
    }

    /// [`Self::kept_note`] under the parties' keys in `keys`.
    pub(super) fn kept_note_in(
        &self,
        keys: &KeyState,
        note_bytes: &[u8],
        skip: Option<&VerifierKey>,
    ) -> Result<Vec<u8>, ChannelError> {
        let keys = self.note_keys(keys, note_size(note_bytes))?;
        Ok(crate::kept_note::rebuild(note_bytes, &keys, skip)?)
    }
}

/// The size a note's checkpoint claims, to pick the keys that must have signed it (spec
/// 3.7); 0 (the genesis keys) if it does not parse, which verifying then reports. The
/// signatures cover the size, so a false one cannot pass.
pub(super) fn note_size(note_bytes: &[u8]) -> u64 {
    note::parse(note_bytes)
        .ok()
        .and_then(|n| dyad_verifier::checkpoint::parse(&n.text).ok())
        .map_or(0, |c| c.size)
}
