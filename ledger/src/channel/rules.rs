//! The channel rules checked on each new entry (spec 3.1–3.5): origin, sender, signature,
//! sequence, timestamps, replies, the genesis limits and the joint-record rules (3.6,
//! `joint.rs`); and [`Draft::check`], the same
//! rules for a message not yet signed, which is where the node and the CLI check drafts.

use super::append::{Admission, Progress};
use super::joint::{check_form, JointStaged};
use super::key_rules::check_key_change;
use super::key_state::EntryKey;
use super::senders::SenderState;
use super::witness_rules;
use super::{Channel, ChannelError, EntryRefusal};
use crate::entry::{Draft, EntryBody, Kind, SignedEntry};
use crate::genesis::Genesis;
use crate::stix;

impl Channel {
    /// The channel rules for an entry about to take `index` (spec 3.1–3.6), in order: the
    /// entry's own fields and who sent it, then its place in the sender's sequence and
    /// time, then its reply and the genesis limits, then (for entries new to both parties,
    /// `admission`) the content policy, then a key change's rules (3.7) and a witness
    /// change's rules against the history (3.8: its form rules come with the joint-record
    /// ones, before the reply rules), then the joint-record rules against the log and the
    /// batch (`joint`). On success the sender's state in `progress` moves on to this entry
    /// (and to its new key, for a key change; to the new witnesses, for a witness change), and
    /// `joint` takes it in. A refusal is
    /// [`ChannelError::Refused`]; any other error is the store's. `signature_ok` is the result of
    /// `Channel::verify_signatures` (`signature_check.rs`) for it.
    pub(super) fn check_entry(
        &self,
        e: &SignedEntry,
        index: u64,
        (progress, joint): (&mut Progress, &mut JointStaged),
        (now_ms, admission): (u64, Admission),
        signature_ok: bool,
    ) -> Result<(), ChannelError> {
        let sender = self.check_sender(e, index, &progress.keys, signature_ok)?;
        let body = &e.entry.body;
        let party = progress.keys.party_id(body.sender);
        let state = progress.senders.get(&party).copied().unwrap_or_default();
        self.check_sequence_and_time(body, index, state, &sender, now_ms)?;
        // The joint-record rules (spec 3.6) name their own refusals, before the reply
        // rules they imply; last, since on success they take the entry into `joint`.
        check_form(body, index)?;
        // So do a witness change's form rules (spec 3.8).
        let witness_form = witness_rules::check_form(body, index)?;
        check_reply_and_limits(body, &self.genesis, index)?;
        if admission == Admission::New {
            check_content_policy(body, index)?;
        }
        let change = check_key_change(body, index, &sender, &progress.keys)?;
        let witness_change = match &witness_form {
            Some(payload) => Some(witness_rules::check_history(
                body,
                payload,
                index,
                &sender,
                &progress.keys,
            )?),
            None => None,
        };
        self.check_joint(e, index, joint)?;
        if let Some(change) = change {
            // check_key_change found the new key unused in these very keys.
            progress
                .keys
                .apply(change)
                .map_err(|_| EntryRefusal::NewKeyReused {
                    index,
                    party: sender.party.name.clone(),
                })?;
        }
        if let Some(change) = witness_change {
            // check_history found its new witnesses unused in these very keys.
            progress
                .keys
                .apply_witness_change(&change)
                .map_err(|source| EntryRefusal::WitnessChange { index, source })?;
        }
        progress.senders.insert(
            party,
            SenderState {
                last_sequence: body.sequence,
                last_timestamp_ms: body.timestamp_ms,
            },
        );
        Ok(())
    }

    /// The entry's fields (spec 3.1), its origin, that it is not a second genesis (3.2),
    /// and that a party's current key signed it (3.4, 3.7). Returns the sender's key.
    fn check_sender(
        &self,
        e: &SignedEntry,
        index: u64,
        keys: &super::key_state::KeyState,
        signature_ok: bool,
    ) -> Result<EntryKey, EntryRefusal> {
        let body = &e.entry.body;
        e.entry
            .validate()
            .map_err(|source| EntryRefusal::Invalid { index, source })?;
        if body.origin != self.genesis.origin {
            return Err(EntryRefusal::WrongOrigin {
                index,
                expected: self.genesis.origin.clone(),
                found: body.origin.clone(),
            });
        }
        check_not_genesis(body.kind, index)?;
        self.current_sender(e, index, keys, signature_ok)
    }

    /// The entry's sequence number follows the sender's last one, and its timestamp is
    /// plausible (spec 3.3).
    fn check_sequence_and_time(
        &self,
        body: &EntryBody,
        index: u64,
        state: SenderState,
        sender: &EntryKey,
        now_ms: u64,
    ) -> Result<(), EntryRefusal> {
        let expected = state.last_sequence + 1;
        if body.sequence != expected {
            return Err(EntryRefusal::SequenceGap {
                index,
                sender: sender.party.name.clone(),
                expected,
                found: body.sequence,
            });
        }
        let skew_ms = u64::from(self.genesis.max_clock_skew_s) * 1000;
        let floor = state
            .last_timestamp_ms
            .max(self.genesis_timestamp_ms.saturating_sub(skew_ms));
        if body.timestamp_ms < floor {
            return Err(EntryRefusal::TimestampBackwards {
                index,
                found_ms: body.timestamp_ms,
                previous_ms: floor,
            });
        }
        if body.timestamp_ms > now_ms.saturating_add(skew_ms) {
            return Err(EntryRefusal::TimestampInFuture {
                index,
                found_ms: body.timestamp_ms,
                now_ms,
            });
        }
        Ok(())
    }
}

impl Draft {
    /// Whether this draft can become the entry at `index` of the channel `genesis` opens,
    /// by the rules that do not depend on who signs it or when (spec 3.1-3.3, 3.5): its
    /// fields and encoded size, its kind, its reply, the genesis limits on payload and
    /// attachments, and the content policy (a `threat-indicators` STIX payload validates). The channel checks every entry it appends with the same functions
    /// (`Channel::check_entry`), so a draft that passes can be refused later only for its
    /// sender, sequence or time. The node's admin API and the CLI call this before a
    /// message is signed, queued or has its attachments stored, with the replica's size
    /// as `index`: the least index the entry can take.
    pub fn check(&self, genesis: &Genesis, index: u64) -> Result<(), EntryRefusal> {
        self.check_form(&genesis.origin)
            .map_err(|source| EntryRefusal::Invalid { index, source })?;
        check_not_genesis(self.kind, index)?;
        if self.kind == Kind::KeyChange {
            return Err(EntryRefusal::KeyChangeAsMessage { index });
        }
        let body = self.clone().into_body(&genesis.origin, 0, 0, 0);
        check_form(&body, index)?;
        witness_rules::check_form(&body, index)?;
        check_reply_and_limits(&body, genesis, index)?;
        check_content_policy(&body, index)
    }
}

/// Only entry 0 is a genesis entry (spec 3.2).
fn check_not_genesis(kind: Kind, index: u64) -> Result<(), EntryRefusal> {
    if kind == Kind::Genesis {
        return Err(EntryRefusal::GenesisNotFirst { index });
    }
    Ok(())
}

/// The reply rules (spec 3.3) and the genesis limits on payload and attachments (3.1,
/// 3.5).
fn check_reply_and_limits(
    body: &EntryBody,
    genesis: &Genesis,
    index: u64,
) -> Result<(), EntryRefusal> {
    match body.reply_to {
        Some(r) if r == 0 || r >= index => {
            return Err(EntryRefusal::ReplyToNotEarlier { index, reply_to: r })
        }
        None if body.kind == Kind::Response => {
            return Err(EntryRefusal::ResponseWithoutReplyTo { index })
        }
        _ => {}
    }
    // A witness change's payload is not subject to max_payload (spec 3.8), like the
    // genesis's; the entry's own bound holds.
    if body.kind != Kind::WitnessChange && body.payload.len() > genesis.max_payload as usize {
        return Err(EntryRefusal::PayloadTooLarge {
            index,
            len: body.payload.len(),
            max: genesis.max_payload,
        });
    }
    if let Some(a) = body
        .attachments
        .iter()
        .find(|a| a.size > genesis.max_attachment_size)
    {
        return Err(EntryRefusal::AttachmentTooLarge {
            index,
            size: a.size,
            max: genesis.max_attachment_size,
        });
    }
    Ok(())
}

/// The content policy (spec/dyad.md 3.2): a `threat-indicators` entry labelled
/// `application/stix+json` carries a valid STIX 2.1 document. A ledger policy, not a
/// verifier rule: both parties refuse to add or co-sign such an entry.
fn check_content_policy(body: &EntryBody, index: u64) -> Result<(), EntryRefusal> {
    if body.kind == Kind::ThreatIndicators && stix::is_stix_content_type(&body.content_type) {
        stix::validate_document(&body.payload).map_err(|source| EntryRefusal::NotStix {
            index,
            source: Box::new(source),
        })?;
    }
    Ok(())
}
