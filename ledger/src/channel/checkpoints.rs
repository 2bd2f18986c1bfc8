//! Checkpoints (spec sections 6–7): signing the tree head as the log, verifying notes
//! under the channel's keys, storing committed checkpoints, and the read-only state of a
//! replica whose newest checkpoint does not verify.

use dyad_verifier::checkpoint::Checkpoint;
use dyad_verifier::key::VerifierKey;
use dyad_verifier::note;

use super::{Channel, ChannelError, Role};
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
        let rebuilt = crate::kept_note::salvage(note_bytes, &self.note_keys()?)
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

    /// The keys whose signature lines a stored note may carry, in the order it carries
    /// them: the log's, the co-signer's, the witnesses'.
    fn note_keys(&self) -> Result<Vec<VerifierKey>, ChannelError> {
        let mut keys = vec![self.genesis.log_key()?];
        keys.extend(self.cosignature_keys.iter().cloned());
        Ok(keys)
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
        self.require_own_key(key)?;
        let note = self.log_signed_note(key, self.store.size(), self.store.root())?;
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
        let log_key = self.genesis.log_key()?;
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
        let keys = self.note_keys()?;
        let log_key = &keys[0];
        let verified = note::verify(note_bytes, &keys)?;
        let checkpoint = dyad_verifier::checkpoint::parse(&verified.text)?;
        if checkpoint.origin != self.genesis.origin {
            return Err(ChannelError::CheckpointOrigin {
                expected: self.genesis.origin.clone(),
                found: checkpoint.origin,
            });
        }
        let signed_by = |k: &VerifierKey| verified.verified.iter().any(|v| v.key == *k);
        let has_log = signed_by(log_key);
        let has_cosigner = signed_by(&self.cosignature_keys[0]);
        let witnesses = self.cosignature_keys[1..]
            .iter()
            .filter(|k| signed_by(k))
            .count();
        Ok((checkpoint, has_log, has_cosigner, witnesses))
    }

    /// Checks that a note is a committed checkpoint of this channel (spec section 7).
    pub fn verify_committed(&self, note_bytes: &[u8]) -> Result<Checkpoint, ChannelError> {
        let (checkpoint, has_log, has_cosigner, witnesses) = self.verify_note(note_bytes)?;
        if !has_log {
            return Err(ChannelError::MissingLogSignature);
        }
        if !has_cosigner {
            return Err(ChannelError::MissingCosignature);
        }
        let needed = usize::from(self.genesis.witness_threshold);
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
        Ok(crate::kept_note::rebuild(
            note_bytes,
            &self.note_keys()?,
            skip,
        )?)
    }
}
