//! The co-signer's outbox: its own messages, signed and queued durably until the
//! sequencer's log holds them (then [`Channel::accept_and_cosign`] removes them).

use std::collections::HashSet;

use super::{Channel, ChannelError, CheckedSignatures, EntryRefusal, Role};
use crate::entry::{Draft, SignedEntry};
use crate::keys::SignerKey;

pub(super) const QUEUE_PREFIX: &str = "queue/";

impl Channel {
    /// The next sequence number for a sender: one past its last entry in the log or queue.
    pub fn next_sequence(&self, key_id: u32) -> Result<u64, ChannelError> {
        // A party's numbering runs on across its key changes (spec 3.3).
        let party = self.party_id_of_own(key_id)?;
        let in_log = self.senders.get(&party).map_or(0, |s| s.last_sequence);
        // The queue is in sequence order: only its last message matters.
        let queued = match self.store.last_meta_with_prefix(QUEUE_PREFIX)? {
            None => 0,
            Some((_, bytes)) => {
                let e = SignedEntry::decode(&bytes).map_err(|source| EntryRefusal::Invalid {
                    index: self.size(),
                    source,
                })?;
                if self.keys.party_id(e.entry.body.sender) == party {
                    e.entry.body.sequence
                } else {
                    0
                }
            }
        };
        Ok(in_log.max(queued) + 1)
    }

    /// The party ID (genesis key ID) of a sender key: one a party has had in the log, or
    /// the new key of this co-signer's key change still in its outbox.
    fn party_id_of_own(&self, key_id: u32) -> Result<u32, ChannelError> {
        if self.keys.party_of(key_id).is_none() && self.role == Role::Cosigner {
            let own = self.own_signing_party()?;
            if own.entry_key()?.key_id() == key_id {
                return Ok(self.keys.party_id(self.own_party().entry_key()?.key_id()));
            }
        }
        Ok(self.keys.party_id(key_id))
    }

    /// Co-signer: signs a message and queues it durably for submission to the sequencer.
    pub fn queue_own(
        &mut self,
        key: &SignerKey,
        draft: Draft,
        now_ms: u64,
    ) -> Result<SignedEntry, ChannelError> {
        self.check_writable()?;
        self.require_role(Role::Cosigner)?;
        self.require_own_key(key)?;
        refuse_key_change(std::slice::from_ref(&draft), self.size())?;
        let sequence = self.next_sequence(key.key_id())?;
        let e = draft
            .sign(key, &self.genesis.origin, sequence, now_ms)
            .map_err(|source| EntryRefusal::Invalid {
                index: self.size(),
                source,
            })?;
        self.queue_signed(e)
    }

    /// Co-signer: queues one of its own messages, already signed, durably.
    pub(super) fn queue_signed(&mut self, e: SignedEntry) -> Result<SignedEntry, ChannelError> {
        let sequence = e.entry.body.sequence;
        let mut batch = self.store.batch();
        batch.put_meta(&format!("{QUEUE_PREFIX}{sequence:020}"), e.bytes.clone());
        self.store.commit(batch)?;
        Ok(e)
    }

    /// Co-signer: [`Self::queue_own`] for several messages, with consecutive sequence
    /// numbers, in one durable store batch. Nothing is queued unless every draft signs.
    pub fn queue_own_batch(
        &mut self,
        key: &SignerKey,
        drafts: Vec<Draft>,
        now_ms: u64,
    ) -> Result<Vec<SignedEntry>, ChannelError> {
        self.check_writable()?;
        self.require_role(Role::Cosigner)?;
        self.require_own_key(key)?;
        refuse_key_change(&drafts, self.size())?;
        let first = self.next_sequence(key.key_id())?;
        let mut batch = self.store.batch();
        let mut out = Vec::with_capacity(drafts.len());
        for (sequence, draft) in (first..).zip(drafts) {
            let e = draft
                .sign(key, &self.genesis.origin, sequence, now_ms)
                .map_err(|source| EntryRefusal::Invalid {
                    index: self.size(),
                    source,
                })?;
            batch.put_meta(&format!("{QUEUE_PREFIX}{sequence:020}"), e.bytes.clone());
            out.push(e);
        }
        self.store.commit(batch)?;
        Ok(out)
    }

    /// Co-signer: its signed messages not yet seen in the log, oldest first.
    pub fn queued(&self) -> Result<Vec<SignedEntry>, ChannelError> {
        let mut out = Vec::new();
        for (_, bytes) in self.store.meta_with_prefix(QUEUE_PREFIX)? {
            out.push(
                SignedEntry::decode(&bytes).map_err(|source| EntryRefusal::Invalid {
                    index: self.size(),
                    source,
                })?,
            );
        }
        Ok(out)
    }

    /// How many of this party's own messages wait to be sequenced (co-signer).
    pub fn queued_len(&self) -> Result<usize, ChannelError> {
        Ok(self.store.count_meta_with_prefix(QUEUE_PREFIX)?)
    }

    /// Co-signer: which of `entries` (sent by the log) are its own queued messages, byte
    /// for byte as it signed them under its current key, as a memo of signatures known
    /// good under the current keys (`signature_check.rs`). It made those signatures, so
    /// checking them again would only repeat its own work; the leaf hash covers every byte,
    /// signature included, so a message the log changed, another sender's message, or one
    /// signed under an older key is not in the memo and is checked as usual. Empty on the
    /// sequencer, whose queue is empty.
    pub fn own_queued_signatures(
        &self,
        entries: &[SignedEntry],
    ) -> Result<CheckedSignatures, ChannelError> {
        let check = self.signature_check();
        let mut verified = HashSet::new();
        if self.role == Role::Cosigner {
            let own = self.keys.current(false).key_id;
            for e in entries.iter().filter(|e| e.entry.body.sender == own) {
                let name = format!("{QUEUE_PREFIX}{:020}", e.entry.body.sequence);
                if self.store.meta(&name)?.is_some_and(|q| q == e.bytes) {
                    verified.insert(e.leaf_hash);
                }
            }
        }
        Ok(check.memo(verified))
    }
}

/// A key change is made by [`Channel::queue_key_change`] or [`Channel::append_key_change`],
/// whose new-key signature binds the sequence number, not sent as a message.
pub(super) fn refuse_key_change(drafts: &[Draft], index: u64) -> Result<(), EntryRefusal> {
    if drafts
        .iter()
        .any(|d| d.kind == crate::entry::Kind::KeyChange)
    {
        return Err(EntryRefusal::KeyChangeAsMessage { index });
    }
    Ok(())
}
