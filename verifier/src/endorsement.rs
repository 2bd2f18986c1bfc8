//! A record's receipt with its endorsement's (spec/dyad.md sections 3.6 and 8): the pure
//! check that turns two verified receipts into "signed by A, endorsed by B".
//!
//! Both receipts are verified first, under the same trust ([`receipt::verify`]); this adds
//! what ties them together. They MUST be proved against the same committed checkpoint
//! (same origin, size and root): the endorsement is later in the log than the record, so
//! the checkpoint that commits the endorsement commits the record too, and one checkpoint
//! makes the pair one statement of one log.
//!
//! [`receipt::verify`]: crate::receipt::verify

use crate::joint_record::{self, EndorsedTarget, RecordState};
use crate::key::VerifierKey;
use crate::receipt::VerifiedReceipt;
use crate::rules::{EndorsementError, Kind};

/// A record endorsed by the other party: who signed it, who endorsed it, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endorsed {
    /// The record's index.
    pub record: u64,
    /// The endorsement's index.
    pub endorsement: u64,
    /// The record's sender.
    pub signed_by: VerifierKey,
    /// The endorsement's sender: the other party.
    pub endorsed_by: VerifierKey,
}

/// Checks that `endorsement` endorses `record` (section 3.6): a record and an endorsement,
/// proved against the same checkpoint, the endorsement by the other party naming the
/// record's index and leaf hash. The log rules (section 3.6) also make it the only
/// endorsement of that record; a receipt cannot show that, an audit does.
pub fn check_receipts(
    record: &VerifiedReceipt,
    endorsement: &VerifiedReceipt,
) -> Result<Endorsed, EndorsementError> {
    if record.entry.kind != Kind::Record {
        return Err(EndorsementError::ReceiptNotOfRecord(record.entry.kind));
    }
    if endorsement.entry.kind != Kind::Endorsement {
        return Err(EndorsementError::ReceiptNotOfEndorsement(
            endorsement.entry.kind,
        ));
    }
    if record.committed.checkpoint != endorsement.committed.checkpoint {
        return Err(EndorsementError::DifferentCheckpoints);
    }
    let named = joint_record::check_form(&endorsement.entry.joint_fields(), endorsement.index)?
        .ok_or(EndorsementError::ReceiptNotOfEndorsement(Kind::Endorsement))?;
    if named.record != record.index {
        return Err(EndorsementError::EndorsesAnotherEntry {
            record: record.index,
            named: named.record,
        });
    }
    let target = EndorsedTarget::Record(RecordState {
        sender: record.entry.sender,
        leaf_hash: record.leaf_hash,
        endorsed_in: None,
    });
    joint_record::check_target(endorsement.entry.sender, &named, target)?;
    Ok(Endorsed {
        record: record.index,
        endorsement: endorsement.index,
        signed_by: record.sender.clone(),
        endorsed_by: endorsement.sender.clone(),
    })
}
