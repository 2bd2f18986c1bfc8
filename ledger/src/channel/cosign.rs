//! The co-signer's side of a checkpoint (spec section 6): accepting the entries up to a
//! log-signed checkpoint after recomputing its root, and adding its cosignature.

use dyad_verifier::checkpoint::Checkpoint;
use dyad_verifier::note;

use super::append::Admission;
use super::checkpoints::{note_size, META_SIGNED};
use super::key_state::KeyState;
use super::outbox::QUEUE_PREFIX;
use super::signature_check::CheckedSignatures;
use super::{Channel, ChannelError, EntryRefusal, Role};
use crate::entry::SignedEntry;
use crate::genesis::Party;
use crate::keys::SignerKey;
use crate::store::Batch;
use crate::tree::Frontier;

pub(super) const META_AWAITING_WITNESSES: &str = "cosigned-awaiting-witnesses";

const CONFLICT_PREFIX: &str = "conflict/";

impl Channel {
    /// Checks a note this replica is about to store as its co-signed checkpoint: committed
    /// when its size needs no witnesses (spec 3.8: the threshold at its size), else signed
    /// by the log and the co-signer.
    fn check_cosigned(&self, keys: &KeyState, note_bytes: &[u8]) -> Result<(), ChannelError> {
        if keys.witnesses().at(note_size(note_bytes)).1 == 0 {
            self.verify_committed_in(keys, note_bytes)?;
            return Ok(());
        }
        let (_, has_log, has_cosigner, _) = self.verify_note_in(keys, note_bytes)?;
        if !has_log {
            return Err(ChannelError::MissingLogSignature);
        }
        if !has_cosigner {
            return Err(ChannelError::MissingCosignature);
        }
        Ok(())
    }

    /// The co-signed note this replica already holds for the tree of `size` entries with
    /// checkpoint `text`, if any: the committed checkpoint, or the one awaiting witnesses.
    fn held_cosigned(&self, size: u64, text: &str) -> Result<Option<Vec<u8>>, ChannelError> {
        let candidates = [
            self.store.checkpoint(size)?,
            self.store.meta(META_AWAITING_WITNESSES)?,
        ];
        for note_bytes in candidates.into_iter().flatten() {
            let Ok(parsed) = note::parse(&note_bytes) else {
                continue;
            };
            if parsed.text == text && self.check_cosigned(&self.keys, &note_bytes).is_ok() {
                return Ok(Some(note_bytes));
            }
        }
        Ok(None)
    }

    /// This party's own cosignature line(s) in a co-signed note (what `add-checkpoint`
    /// answers with): the lines of its cosignature key at the checkpoint's size.
    pub fn own_cosignature_lines(&self, note_bytes: &[u8]) -> Result<Vec<u8>, ChannelError> {
        let own = self
            .party_at(self.role, note_size(note_bytes))
            .cosignature_key()?;
        let parsed = note::parse(note_bytes)?;
        let mut out = Vec::new();
        for sig in &parsed.signatures {
            if sig.name == own.name() && sig.key_id == own.key_id() {
                out.extend_from_slice(
                    note::signature_line(&sig.name, sig.key_id, &sig.signature).as_bytes(),
                );
            }
        }
        Ok(out)
    }

    /// Co-signer: accepts the entries from its size up to a sequencer-signed checkpoint,
    /// checks every entry and recomputes the root, stores them in one durable batch, and
    /// returns the note with its cosignature added (spec section 6).
    /// Nothing is written unless everything verifies.
    pub fn accept_and_cosign(
        &mut self,
        key: &SignerKey,
        entries: &[Vec<u8>],
        signed_note: &[u8],
        now_ms: u64,
    ) -> Result<Vec<u8>, ChannelError> {
        let ahead = CheckedSignatures::default();
        self.accept_and_cosign_checked(key, entries, signed_note, (now_ms, &ahead))
    }

    /// [`Self::accept_and_cosign`], with the entries' signatures `ahead` found good not
    /// checked again (`signature_check.rs`): the node checks them before it takes its
    /// replica's exclusive lock.
    pub fn accept_and_cosign_checked(
        &mut self,
        key: &SignerKey,
        entries: &[Vec<u8>],
        signed_note: &[u8],
        (now_ms, ahead): (u64, &CheckedSignatures),
    ) -> Result<Vec<u8>, ChannelError> {
        self.check_cosign_request(signed_note, entries.len())?;
        let signed = decode_incoming(self.store.size(), entries)?;
        self.accept_decoded_and_cosign(key, &signed, signed_note, (now_ms, ahead))
    }

    /// [`Self::accept_and_cosign_checked`] for entries already decoded, each as
    /// [`SignedEntry::decode`] made it from the bytes the log sent: the node decodes them
    /// once, as they arrive, for its own checks before this one.
    pub fn accept_decoded_and_cosign(
        &mut self,
        key: &SignerKey,
        signed: &[SignedEntry],
        signed_note: &[u8],
        (now_ms, ahead): (u64, &CheckedSignatures),
    ) -> Result<Vec<u8>, ChannelError> {
        self.check_cosign_request(signed_note, signed.len())?;
        // Then the entries: a key change among them changes the keys the note must be
        // signed (and co-signed) with (spec 3.7). Nothing is written before all is checked.
        let mut batch = self.store.batch();
        let (appended, progress) =
            self.stage_entries(&mut batch, signed, now_ms, (Admission::New, Some(ahead)))?;
        let keys = &progress.keys;
        let checkpoint = self.check_incoming_size(keys, signed_note, signed.len())?;
        self.require_key_at(key, &keys.current(false).party, checkpoint.size)?;
        // The incoming note with only the lines verified here; our own line, if the note
        // carries one, makes way for the one added below.
        let own_key = Party::of(key).cosignature_key()?;
        let incoming = self.kept_note_in(keys, signed_note, Some(&own_key))?;
        let text = note::parse(&incoming)?.text;
        if signed.is_empty() {
            if let Some(answer) =
                self.answer_held_size(key, &checkpoint, &incoming, &text, now_ms)?
            {
                return Ok(answer);
            }
        }
        if let Some(dup) = appended.iter().find(|a| a.existing) {
            return Err(ChannelError::DuplicateEntry { index: dup.index });
        }
        self.check_incoming_root(&checkpoint, signed, &incoming)?;
        let cosigned = self.cosign_note(key, &incoming, &checkpoint, now_ms / 1000)?;
        // Nothing is stored that would not verify.
        self.check_cosigned(keys, &cosigned)?;
        self.stage_cosigned(&mut batch, keys, signed, incoming, &checkpoint, &cosigned);
        self.store.commit(batch)?;
        self.advance(progress);
        self.update_replica_record();
        Ok(cosigned)
    }

    /// What is checked before the entries are judged: this replica may write and
    /// co-signs, and the note's size is this replica's and `count` more entries (a note of
    /// another size is refused by check_incoming_size).
    fn check_cosign_request(&self, signed_note: &[u8], count: usize) -> Result<(), ChannelError> {
        self.check_writable()?;
        self.require_role(Role::Cosigner)?;
        if note_size(signed_note) != self.store.size() + count as u64 {
            self.check_incoming_size(&self.keys, signed_note, count)?;
        }
        Ok(())
    }

    /// The checkpoint of a log-signed note that is to cover this replica's entries and
    /// `count` more: refused if not signed by the log, smaller than what is held (a
    /// rollback, or a re-sent old checkpoint that must still match), or of another size.
    fn check_incoming_size(
        &self,
        keys: &KeyState,
        signed_note: &[u8],
        count: usize,
    ) -> Result<Checkpoint, ChannelError> {
        let (checkpoint, has_log, _, _) = self.verify_note_in(keys, signed_note)?;
        if !has_log {
            return Err(ChannelError::MissingLogSignature);
        }
        let held = self.store.size();
        if checkpoint.size < held {
            // The log may re-send an old checkpoint; it must still match what we hold.
            self.check_against_tree(&checkpoint)?;
            return Err(ChannelError::Rollback {
                size: checkpoint.size,
                held,
            });
        }
        let expected = held + count as u64;
        if checkpoint.size != expected {
            return Err(ChannelError::EntryCountMismatch {
                expected,
                size: checkpoint.size,
            });
        }
        Ok(checkpoint)
    }

    /// A checkpoint of a size already held, with no entries: it must be our tree, and is
    /// answered without a write, with the co-signed note already held or, failing that
    /// and if the size is committed, a fresh cosignature. `None`: neither, so it is
    /// accepted like any other.
    fn answer_held_size(
        &self,
        key: &SignerKey,
        checkpoint: &Checkpoint,
        incoming: &[u8],
        text: &str,
        now_ms: u64,
    ) -> Result<Option<Vec<u8>>, ChannelError> {
        self.check_against_tree(checkpoint)?;
        if let Some(held_note) = self.held_cosigned(checkpoint.size, text)? {
            return Ok(Some(held_note));
        }
        if self.committed_size()? >= checkpoint.size {
            let fresh = self.cosign_note(key, incoming, checkpoint, now_ms / 1000)?;
            self.check_cosigned(&self.keys, &fresh)?;
            return Ok(Some(fresh));
        }
        Ok(None)
    }

    /// Fails unless the `signed` entries added to this replica's tree give the root the log
    /// signed. A mismatch is evidence that the log signed another tree: the note (its
    /// verified lines only) is kept, once per size.
    fn check_incoming_root(
        &mut self,
        checkpoint: &Checkpoint,
        signed: &[SignedEntry],
        incoming: &[u8],
    ) -> Result<(), ChannelError> {
        let mut frontier: Frontier = self.store.frontier().clone();
        for e in signed {
            frontier.push(e.leaf_hash);
        }
        if frontier.root() == checkpoint.root {
            return Ok(());
        }
        let name = format!("{CONFLICT_PREFIX}{:020}", checkpoint.size);
        if self.store.meta(&name)?.is_none() {
            let mut conflict = self.store.batch();
            conflict.put_meta(&name, incoming.to_vec());
            self.store.commit(conflict)?;
        }
        Err(ChannelError::RootMismatch {
            size: checkpoint.size,
            claimed: hex::encode(checkpoint.root),
            computed: hex::encode(frontier.root()),
        })
    }

    /// Stages what accepting writes besides the entries: our own queued messages now in
    /// the log leave the queue, the incoming note becomes the newest signed checkpoint, and
    /// the co-signed note is committed or, when witnesses must co-sign too, awaits them.
    fn stage_cosigned(
        &self,
        batch: &mut Batch,
        keys: &KeyState,
        signed: &[SignedEntry],
        incoming: Vec<u8>,
        checkpoint: &Checkpoint,
        cosigned: &[u8],
    ) {
        for e in signed {
            // Ours under any of our keys (a key change may lie among them).
            if keys.party_of(e.entry.body.sender) == Some(false) {
                batch.remove_meta(&format!("{QUEUE_PREFIX}{:020}", e.entry.body.sequence));
            }
        }
        batch.put_meta(META_SIGNED, incoming);
        if keys.witnesses().at(checkpoint.size).1 == 0 {
            batch.put_checkpoint(checkpoint.size, cosigned.to_vec());
        } else {
            batch.put_meta(META_AWAITING_WITNESSES, cosigned.to_vec());
        }
    }

    /// Adds this party's cosignature/v1 line to a checkpoint note (C2SP tlog-cosignature)
    /// that holds only verified lines of the other keys: see [`Self::kept_note`].
    fn cosign_note(
        &self,
        key: &SignerKey,
        note_bytes: &[u8],
        checkpoint: &Checkpoint,
        timestamp: u64,
    ) -> Result<Vec<u8>, ChannelError> {
        let text = checkpoint.to_text();
        let cosign_key = Party::of(key).cosignature_key()?;
        let message = dyad_verifier::cosignature::signed_message(timestamp, &text);
        let mut sig = timestamp.to_be_bytes().to_vec();
        sig.extend_from_slice(&key.sign(&message));
        let mut out = note_bytes.to_vec();
        out.extend_from_slice(
            note::signature_line(cosign_key.name(), cosign_key.key_id(), &sig).as_bytes(),
        );
        Ok(out)
    }
}

/// The entries a log sent to extend this replica from `held`, decoded; the first that does
/// not decode is refused at its index.
pub(super) fn decode_incoming(
    held: u64,
    entries: &[Vec<u8>],
) -> Result<Vec<SignedEntry>, ChannelError> {
    let mut signed = Vec::with_capacity(entries.len());
    for (i, bytes) in entries.iter().enumerate() {
        signed.push(
            SignedEntry::decode(bytes).map_err(|source| EntryRefusal::Invalid {
                index: held + i as u64,
                source,
            })?,
        );
    }
    Ok(signed)
}
