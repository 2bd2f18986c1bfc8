//! The rules of spec 3.6 on records and endorsements, as the channel applies them to each
//! new entry and to a draft before it is signed. The rules themselves are the verifier's
//! pure functions (`dyad_verifier::joint_record`), so the ledger and the auditor refuse
//! the same entries with the same error; this file finds what they need in the store and
//! in the batch being staged, and keeps the index of endorsed records:
//! `endorsed/<record index as 16 hex digits>` holds the endorsement's index.

use std::collections::HashMap;

use dyad_verifier::joint_record::{
    self, EndorsedTarget, EndorsementPayload, JointFields, RecordState,
};

use super::{Channel, ChannelError, EntryRefusal, Role};
use crate::entry::{Draft, EntryBody, Kind, SignedEntry};
use crate::store::Batch;
use crate::tree::Hash;

const ENDORSED_PREFIX: &str = "endorsed/";

fn endorsed_meta(record: u64) -> String {
    format!("{ENDORSED_PREFIX}{record:016x}")
}

/// Records and endorsements staged in the batch being built, not yet in the store.
#[derive(Debug, Default)]
pub(super) struct JointStaged {
    records: HashMap<u64, RecordState>,
    /// Record index -> index of its endorsement staged in this batch.
    endorsed: HashMap<u64, u64>,
}

impl JointStaged {
    /// Writes the index of the endorsements staged in this batch.
    pub(super) fn stage_index(&self, batch: &mut Batch) {
        for (record, endorsement) in &self.endorsed {
            batch.put_meta(&endorsed_meta(*record), endorsement.to_be_bytes().to_vec());
        }
    }
}

fn fields(body: &EntryBody) -> JointFields<'_> {
    JointFields {
        // Both crates number kinds by spec 3.2; every ledger kind is a verifier kind.
        kind: dyad_verifier::Kind::from_u8(body.kind as u8).unwrap_or(dyad_verifier::Kind::Genesis),
        reply_to: body.reply_to,
        subject: &body.subject,
        content_type: &body.content_type,
        payload: &body.payload,
        attachments: body.attachments.len(),
    }
}

/// The rules of spec 3.6 that need only the entry and its index; what an endorsement
/// names.
pub(super) fn check_form(
    body: &EntryBody,
    index: u64,
) -> Result<Option<EndorsementPayload>, EntryRefusal> {
    joint_record::check_form(&fields(body), index)
        .map_err(|source| EntryRefusal::JointRecord { index, source })
}

impl Channel {
    /// The index of the endorsement of the record at `record`, if the log holds one.
    pub fn endorsement_of(&self, record: u64) -> Result<Option<u64>, ChannelError> {
        Ok(self
            .store
            .meta(&endorsed_meta(record))?
            .and_then(|raw| <[u8; 8]>::try_from(raw.as_slice()).ok())
            .map(u64::from_be_bytes))
    }

    /// What the log (the store, then `staged`) holds at `record`, for an endorsement
    /// about to take `index`.
    fn endorsed_target(
        &self,
        record: u64,
        index: u64,
        staged: &JointStaged,
    ) -> Result<EndorsedTarget, ChannelError> {
        if record >= index {
            return Ok(EndorsedTarget::Missing);
        }
        if record >= self.store.size() {
            return Ok(match staged.records.get(&record) {
                Some(state) => EndorsedTarget::Record(RecordState {
                    endorsed_in: staged.endorsed.get(&record).copied(),
                    ..*state
                }),
                None => EndorsedTarget::NotARecord,
            });
        }
        let e = self.entry(record)?;
        let body = &e.entry.body;
        if body.kind != Kind::Record {
            return Ok(EndorsedTarget::NotARecord);
        }
        let endorsed_in = match staged.endorsed.get(&record) {
            Some(&i) => Some(i),
            None => self.endorsement_of(record)?,
        };
        Ok(EndorsedTarget::Record(RecordState {
            sender: body.sender,
            leaf_hash: e.leaf_hash,
            endorsed_in,
        }))
    }

    /// The rules of spec 3.6 for an entry about to take `index`, given the entries staged
    /// before it; on success `staged` takes it in.
    pub(super) fn check_joint(
        &self,
        e: &SignedEntry,
        index: u64,
        staged: &mut JointStaged,
    ) -> Result<(), ChannelError> {
        let body = &e.entry.body;
        let named = check_form(body, index)?;
        if body.kind == Kind::Record {
            staged.records.insert(
                index,
                RecordState {
                    sender: body.sender,
                    leaf_hash: e.leaf_hash,
                    endorsed_in: None,
                },
            );
        }
        if let Some(named) = named {
            self.check_endorsed(body.sender, &named, index, staged)?;
            staged.endorsed.insert(named.record, index);
        }
        Ok(())
    }

    fn check_endorsed(
        &self,
        endorser: u32,
        named: &EndorsementPayload,
        index: u64,
        staged: &JointStaged,
    ) -> Result<(), ChannelError> {
        let target = self.endorsed_target(named.record, index, staged)?;
        joint_record::check_target(endorser, named, target)
            .map_err(|source| EntryRefusal::JointRecord { index, source }.into())
    }

    /// [`Draft::check`] and, for an endorsement, the rules of spec 3.6 against this
    /// replica's log (for a witness change those of 3.8: its number, its witnesses' keys,
    /// the other party's approval), as this replica's own party would send it: what the
    /// node and the CLI check before a message is signed.
    ///
    /// The co-signer's queued messages count as if appended in order after the log (so
    /// that a second endorsement of a record whose first is still queued is refused
    /// here, not by the sequencer, where it would hold up the queue).
    pub fn check_own_draft(&self, draft: &Draft) -> Result<(), ChannelError> {
        draft.check(&self.genesis, self.size())?;
        if draft.kind == Kind::WitnessChange {
            return self.check_own_witness_change(draft);
        }
        if draft.kind != Kind::Endorsement {
            return Ok(());
        }
        let mut staged = JointStaged::default();
        let mut index = self.size();
        if self.role == Role::Cosigner {
            for queued in self.queued()? {
                // A queued message the rules refuse now (one the log already holds) takes
                // no index; it is skipped as the sequencer would skip it.
                if self.check_joint(&queued, index, &mut staged).is_ok() {
                    index += 1;
                }
            }
        }
        let sender = self.own_party().entry_key()?.key_id();
        let body = draft.clone().into_body(&self.genesis.origin, sender, 0, 0);
        if let Some(named) = check_form(&body, index)? {
            self.check_endorsed(sender, &named, index, &staged)?;
        }
        Ok(())
    }

    /// The draft of this party's endorsement of the record at `record`: its index and
    /// leaf hash as the payload (spec 3.6). The rules are checked by
    /// [`Self::check_own_draft`], not here.
    pub fn endorsement_draft(&self, record: u64) -> Result<Draft, ChannelError> {
        let leaf_hash: Hash = if record < self.size() {
            self.store.leaf_hash(record)?
        } else {
            [0; 32]
        };
        let payload = EndorsementPayload {
            record,
            record_leaf_hash: leaf_hash,
        };
        Ok(Draft::new(
            Kind::Endorsement,
            &format!("Endorses entry {record}"),
            joint_record::ENDORSEMENT_CONTENT_TYPE,
            payload.encode().to_vec(),
        )
        .reply_to(record))
    }
}
