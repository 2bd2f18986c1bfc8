//! The channel rules on keys (spec/dyad.md 3.4, 3.7): which key may sign an entry at an
//! index (the sender's current key there; a retired one is refused whatever its
//! signature), and what a key-change entry must be (its form, the new key's signature,
//! a new key the channel never had).

use super::key_state::{EntryKey, KeyChangeAt, KeyState};
use super::{Channel, EntryRefusal};
use crate::entry::key_change::KeyChange;
use crate::entry::{EntryBody, Kind, SignedEntry};

impl Channel {
    /// The sender's key, if the entry's sender is a party's current key in `keys` (the
    /// keys at the entry's index) and its signature verifies under it. `signature_ok` is
    /// the check under this replica's keys before the batch: it stands when the key is the
    /// same; a key a key change earlier in the batch brought in is checked here.
    pub(super) fn current_sender(
        &self,
        e: &SignedEntry,
        index: u64,
        keys: &KeyState,
        signature_ok: bool,
    ) -> Result<EntryKey, EntryRefusal> {
        let id = e.entry.body.sender;
        let Some(sender) = keys.current_by_id(id) else {
            return Err(match keys.party_of(id) {
                Some(sequencer) => EntryRefusal::RetiredKey {
                    index,
                    key_id: id,
                    party: keys.current(sequencer).party.name.clone(),
                },
                None => EntryRefusal::UnknownSender { index, key_id: id },
            });
        };
        let verified = if self.keys.current_by_id(id).is_some() {
            signature_ok
        } else {
            e.signature_verifies_keyed(0, &sender.key)
        };
        if !verified {
            return Err(EntryRefusal::BadSignature { index });
        }
        Ok(sender.clone())
    }
}

/// For a key-change entry at `index` by `sender`: its form, its new-key signature, and a
/// new key the channel never had (spec 3.7). Returns the change to take once every other
/// rule passed; `None` for other kinds.
pub(super) fn check_key_change(
    body: &EntryBody,
    index: u64,
    sender: &EntryKey,
    keys: &KeyState,
) -> Result<Option<KeyChangeAt>, EntryRefusal> {
    if body.kind != Kind::KeyChange {
        return Ok(None);
    }
    let change =
        KeyChange::check(body).map_err(|source| EntryRefusal::KeyChange { index, source })?;
    keys.check_new(sender.sequencer, &change.new_public_key)
        .map_err(|_| EntryRefusal::NewKeyReused {
            index,
            party: sender.party.name.clone(),
        })?;
    Ok(Some(KeyChangeAt {
        index,
        sequencer: sender.sequencer,
        public_key: change.new_public_key,
    }))
}
