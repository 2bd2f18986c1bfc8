//! A checkpoint co-signed by both parties that still awaits its witnesses (spec 7): when
//! the witnesses at its size (the genesis's, or the last witness change's below it, spec
//! 3.8) have `witness_threshold > 0`, the co-signed note is kept apart until enough of them
//! co-sign it; only then is it stored as committed. And the witnesses a checkpoint of any
//! size needs, as the node asks them.

use dyad_verifier::checkpoint::Checkpoint;
use dyad_verifier::key::VerifierKey;
use dyad_verifier::note;

use super::cosign::META_AWAITING_WITNESSES;
use super::{Channel, ChannelError};
use crate::genesis::Party;

/// What storing a co-signed checkpoint did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cosigned {
    /// It carries enough witness cosignatures too: stored as committed.
    Committed(Checkpoint),
    /// It awaits witnesses; kept as the newest co-signed checkpoint.
    AwaitingWitnesses(Checkpoint),
}

impl Channel {
    /// The cosignature keys (type 0x04) of the witnesses the next checkpoint needs (at
    /// the replica's size: after every witness change in the log), in their list's order.
    pub fn witness_keys(&self) -> &[VerifierKey] {
        self.keys.witnesses().current_keys()
    }

    /// How many witnesses must co-sign the next checkpoint (at the replica's size) for it
    /// to be committed.
    pub fn witness_threshold(&self) -> usize {
        usize::from(self.keys.witnesses().current_threshold())
    }

    /// The witnesses and threshold of a checkpoint of size `n` (spec 3.8, 7): the last
    /// witness change's at an index below `n`, else the genesis's.
    pub fn witnesses_at(&self, n: u64) -> (Vec<Party>, u8) {
        let (witnesses, threshold) = self.keys.witnesses().at(n);
        (witnesses.to_vec(), threshold)
    }

    /// The cosignature keys (type 0x04) of the witnesses at checkpoint size `n`.
    pub fn witness_keys_at(&self, n: u64) -> Vec<VerifierKey> {
        self.keys.witnesses().keys_at(n).to_vec()
    }

    /// How many witnesses must co-sign a checkpoint of size `n` for it to be committed.
    pub fn witness_threshold_at(&self, n: u64) -> usize {
        usize::from(self.keys.witnesses().at(n).1)
    }

    /// The number the next witness change must carry (spec 3.8): the count of witness
    /// changes in the log, plus one. (A co-signer's witness change still in its outbox is
    /// not counted; [`Self::check_own_draft`] counts it.)
    pub fn next_witness_change_number(&self) -> u32 {
        self.keys.witnesses().next_number()
    }

    /// The indices of the witness-change entries in the log, ascending.
    pub fn witness_changes(&self) -> Vec<u64> {
        self.keys.witnesses().change_indices()
    }

    /// The newest note co-signed by both parties that awaits witnesses, if it is beyond
    /// the committed checkpoint.
    pub fn awaiting_witnesses(&self) -> Result<Option<(Checkpoint, Vec<u8>)>, ChannelError> {
        let Some(note_bytes) = self.store.meta(META_AWAITING_WITNESSES)? else {
            return Ok(None);
        };
        let text = note::parse(&note_bytes)?.text;
        let checkpoint = dyad_verifier::checkpoint::parse(&text)?;
        if checkpoint.size <= self.committed_size()? {
            return Ok(None);
        }
        Ok(Some((checkpoint, note_bytes)))
    }

    /// The size both parties have signed: the committed size, or that of the co-signed
    /// checkpoint awaiting witnesses if larger.
    pub fn cosigned_size(&self) -> Result<u64, ChannelError> {
        let committed = self.committed_size()?;
        Ok(self
            .awaiting_witnesses()?
            .map_or(committed, |(c, _)| c.size.max(committed)))
    }

    /// Stores a note signed by the log and the co-signer (the sequencer's copy of the
    /// co-signer's answer): as committed when it already carries enough witness
    /// cosignatures, else as the checkpoint awaiting witnesses. Its root must be this
    /// replica's, and only verified lines are kept.
    pub fn add_cosigned_checkpoint(&mut self, note_bytes: &[u8]) -> Result<Cosigned, ChannelError> {
        self.check_writable()?;
        if self.verify_committed(note_bytes).is_ok() {
            return Ok(Cosigned::Committed(
                self.add_committed_checkpoint(note_bytes)?,
            ));
        }
        let (checkpoint, has_log, has_cosigner, _) = self.verify_note(note_bytes)?;
        if !has_log {
            return Err(ChannelError::MissingLogSignature);
        }
        if !has_cosigner {
            return Err(ChannelError::MissingCosignature);
        }
        self.check_against_tree(&checkpoint)?;
        if checkpoint.size > self.cosigned_size()? {
            let kept = self.kept_note(note_bytes, None)?;
            let mut batch = self.store.batch();
            batch.put_meta(META_AWAITING_WITNESSES, kept);
            self.store.commit(batch)?;
        }
        Ok(Cosigned::AwaitingWitnesses(checkpoint))
    }
}
