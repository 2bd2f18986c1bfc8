//! This replica's own party key (spec/dyad.md 3.7): which key may sign for the party now
//! (its current key; a retired one never again: a party must never sign two conflicting
//! things), which key signs a checkpoint of a given size, and the party's own key changes.

use super::{Appended, Channel, ChannelError, EntryRefusal, Role};
use crate::entry::key_change::KeyChange;
use crate::entry::{Kind, SignedEntry};
use crate::genesis::Party;
use crate::keys::SignerKey;

impl Channel {
    /// The key this party signs with now: its current key in the log or, for a co-signer
    /// whose own key change waits in its outbox, that change's new key (the old key has
    /// handed over: it must never sign again).
    pub fn own_signing_party(&self) -> Result<Party, ChannelError> {
        let mut party = self.own_party().clone();
        if self.role == Role::Cosigner {
            if let Some(new_key) = self.queued_new_key()? {
                party.public_key = new_key;
            }
        }
        Ok(party)
    }

    /// The new key of the co-signer's latest own key change in its outbox (once sequenced,
    /// it is also its current key in the log, so it stays right): the outbox is read on
    /// the first call only. Once it handed over, the old key stays retired.
    fn queued_new_key(&self) -> Result<Option<[u8; 32]>, ChannelError> {
        if let Some(known) = self.queued_new_key.get() {
            return Ok(*known);
        }
        let mut found = None;
        for e in self.queued()? {
            if e.entry.body.kind == Kind::KeyChange {
                if let Ok(change) = KeyChange::decode(&e.entry.body.payload) {
                    found = Some(change.new_public_key);
                }
            }
        }
        Ok(*self.queued_new_key.get_or_init(|| found))
    }

    /// Fails unless `key` is the key this party signs with now ([`Self::own_signing_party`]);
    /// a key the party retired is refused as such.
    pub fn check_own_key(&self, key: &SignerKey) -> Result<(), ChannelError> {
        self.require_key_is(key, &self.own_signing_party()?, None)
    }

    pub(super) fn require_own_key(&self, key: &SignerKey) -> Result<(), ChannelError> {
        self.check_own_key(key)
    }

    /// Fails unless `key` is `party`, the party's key at checkpoint size `size`.
    pub(super) fn require_key_at(
        &self,
        key: &SignerKey,
        party: &Party,
        size: u64,
    ) -> Result<(), ChannelError> {
        self.require_key_is(key, party, Some(size))
    }

    fn require_key_is(
        &self,
        key: &SignerKey,
        party: &Party,
        size: Option<u64>,
    ) -> Result<(), ChannelError> {
        if Party::of(key) == *party {
            return Ok(());
        }
        let own = self.role == Role::Sequencer;
        let name = key.name().to_owned();
        let key_id = key.key_id();
        // A key the party had (ID unique in the channel's history) that is not the one
        // wanted: a later key change retired it.
        let retired = self.keys.party_of(key_id) == Some(own) && name == party.name;
        Err(match size {
            _ if retired => ChannelError::RetiredOwnKey { name, key_id },
            Some(size) => ChannelError::KeyNotCurrentAt {
                name,
                key_id,
                role: self.role.as_str(),
                size,
            },
            None => ChannelError::NotOurKey {
                name,
                role: self.role.as_str(),
            },
        })
    }

    /// This party's key change from `old` (the key it signs with now) to `new`, signed as
    /// its next message; refused before anything is signed if `new` is not a fresh key
    /// under the party's name (spec 3.7).
    fn own_key_change(
        &self,
        old: &SignerKey,
        new: &SignerKey,
        now_ms: u64,
    ) -> Result<SignedEntry, ChannelError> {
        self.check_writable()?;
        self.require_own_key(old)?;
        if new.name() != old.name() {
            return Err(ChannelError::NewKeyName {
                expected: old.name().to_owned(),
                found: new.name().to_owned(),
            });
        }
        let index = self.size();
        let own = self.role == Role::Sequencer;
        let fresh = self.keys.check_new(own, &new.public_key()).is_ok()
            && self.own_signing_party()?.public_key != new.public_key();
        if !fresh {
            let party = old.name().to_owned();
            return Err(EntryRefusal::NewKeyReused { index, party }.into());
        }
        let sequence = self.next_sequence(old.key_id())?;
        KeyChange::draft(&self.genesis.origin, old.key_id(), sequence, new)
            .sign(old, &self.genesis.origin, sequence, now_ms)
            .map_err(|source| EntryRefusal::Invalid { index, source }.into())
    }

    /// Sequencer: appends its own key change from `old` to `new` (one durable batch).
    /// From the next entry on only `new` signs for it, checkpoints included.
    pub fn append_key_change(
        &mut self,
        old: &SignerKey,
        new: &SignerKey,
        now_ms: u64,
    ) -> Result<Appended, ChannelError> {
        self.require_role(Role::Sequencer)?;
        let e = self.own_key_change(old, new, now_ms)?;
        let appended = self.append_signed(&[e], now_ms)?;
        // append_signed answers one result per entry given: this is never empty.
        appended
            .into_iter()
            .next()
            .ok_or_else(|| EntryRefusal::KeyChangeAsMessage { index: self.size() }.into())
    }

    /// Co-signer: queues its own key change from `old` to `new` for the sequencer. From
    /// then on only `new` signs for it: its later messages, and the checkpoints that hold
    /// the key change (checkpoints below it need the retired key, which signs no more).
    pub fn queue_key_change(
        &mut self,
        old: &SignerKey,
        new: &SignerKey,
        now_ms: u64,
    ) -> Result<SignedEntry, ChannelError> {
        self.require_role(Role::Cosigner)?;
        let e = self.own_key_change(old, new, now_ms)?;
        let queued = self.queue_signed(e)?;
        self.queued_new_key = std::sync::OnceLock::from(Some(new.public_key()));
        Ok(queued)
    }
}
