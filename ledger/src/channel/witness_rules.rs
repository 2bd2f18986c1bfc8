//! The channel rules on witness changes (spec/dyad.md 3.8): the form rules (the
//! verifier's, `entry::witness_change::check`) with the other rules of a single entry,
//! then, after the entry's own signature, its place among the witness changes, new
//! witnesses the channel never had as other keys, and the other party's approval, in the
//! order `WrongWitnessChangeNumber`, `WitnessKeyReused`, `BadApproval`.

use super::key_state::{EntryKey, KeyState};
use super::witness_state::WitnessChangeAt;
use super::{Channel, ChannelError, EntryRefusal, Role};
use crate::entry::witness_change::{
    self, approval_verifies, witnesses_of, WitnessChangeError, WitnessChangePayload,
};
use crate::entry::{Draft, EntryBody, Kind};
use crate::genesis::Party;

/// The form rules of spec 3.8 on an entry about to take `index`; the payload of a witness
/// change, `None` for other kinds.
pub(super) fn check_form(
    body: &EntryBody,
    index: u64,
) -> Result<Option<WitnessChangePayload>, EntryRefusal> {
    witness_change::check(body).map_err(|source| EntryRefusal::WitnessChange { index, source })
}

/// The history rules of spec 3.8 for a well-formed witness change at `index` sent by
/// `sender`, under the keys and witnesses `keys` hold there. Returns the change to take
/// once every other rule passed.
pub(super) fn check_history(
    body: &EntryBody,
    change: &WitnessChangePayload,
    index: u64,
    sender: &EntryKey,
    keys: &KeyState,
) -> Result<WitnessChangeAt, EntryRefusal> {
    let expected = keys.witnesses().next_number();
    check_history_numbered(body, change, (index, expected), sender, keys)
}

/// [`check_history`] with the number the change must carry given.
fn check_history_numbered(
    body: &EntryBody,
    change: &WitnessChangePayload,
    (index, expected): (u64, u32),
    sender: &EntryKey,
    keys: &KeyState,
) -> Result<WitnessChangeAt, EntryRefusal> {
    let refused = |source| EntryRefusal::WitnessChange { index, source };
    if change.number != expected {
        return Err(refused(WitnessChangeError::WrongWitnessChangeNumber {
            expected,
            found: change.number,
        }));
    }
    let witnesses = witnesses_of(change);
    keys.check_new_witnesses(&witnesses).map_err(refused)?;
    // The other party's approval, by its current key at `index`, checked strictly (3.4).
    let approver = &keys.current(!sender.sequencer).party;
    let approved = approver
        .entry_key()
        .is_ok_and(|key| approval_verifies(&body.origin, change, &key));
    if !approved {
        return Err(refused(WitnessChangeError::BadApproval));
    }
    Ok(WitnessChangeAt {
        index,
        witnesses,
        threshold: change.witness_threshold,
    })
}

impl Channel {
    /// For a witness-change draft this replica's party would send next: the form rules and
    /// the history rules of spec 3.8 under the current keys and witnesses, so that a change
    /// the other party would refuse is refused before it is signed or queued. The
    /// co-signer's queued witness changes count as if appended (its next one takes the
    /// number after them).
    pub(super) fn check_own_witness_change(&self, draft: &Draft) -> Result<(), ChannelError> {
        let index = self.size();
        let sender = self.keys.current(self.role == Role::Sequencer).clone();
        let body = draft
            .clone()
            .into_body(&self.genesis.origin, sender.key_id, 0, 0);
        let Some(change) = check_form(&body, index)? else {
            return Ok(());
        };
        let mut expected = self.keys.witnesses().next_number();
        if self.role == Role::Cosigner {
            let queued = self
                .queued()?
                .iter()
                .filter(|e| e.entry.body.kind == Kind::WitnessChange)
                .count();
            expected = expected.saturating_add(u32::try_from(queued).unwrap_or(u32::MAX));
        }
        check_history_numbered(&body, &change, (index, expected), &sender, &self.keys)?;
        Ok(())
    }

    /// Whether a proposed witness list repeats no key the channel has had, but for
    /// witnesses it has had with the same name and key (spec 3.8, `WitnessKeyReused`):
    /// what a party checks before it approves a witness change.
    pub fn check_witness_list(&self, witnesses: &[Party]) -> Result<(), ChannelError> {
        self.keys.check_new_witnesses(witnesses).map_err(|source| {
            EntryRefusal::WitnessChange {
                index: self.size(),
                source,
            }
            .into()
        })
    }
}
