//! The sequencer's ways to append: signed entries (its own or the co-signer's submissions),
//! the same with the log-signed checkpoint of the new tree in one batch, entries judged one
//! by one for group commit, and its own drafts. Every way stages the entries through
//! `Channel::stage`, which applies the channel rules (`rules.rs`) to each in order.

use std::collections::HashMap;

use super::checkpoints::META_SIGNED;
use super::joint::JointStaged;
use super::key_state::KeyState;
use super::senders::{sender_meta, SenderState};
use super::signature_check::CheckedSignatures;
use super::{Channel, ChannelError, EntryRefusal, Role};
use crate::entry::{Draft, SignedEntry};
use crate::keys::SignerKey;
use crate::store::{Batch, StoreError};
use crate::tree::Hash;

/// Where an appended entry landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    /// The entry's index in the log.
    pub index: u64,
    /// The entry's leaf hash (RFC 9162).
    pub leaf_hash: Hash,
    /// True when the entry was already in the log (idempotent resubmission).
    pub existing: bool,
}

/// What staging does with an entry the channel rules refuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OnRefusal {
    /// The whole batch is refused.
    Abort,
    /// The entry is left out; the others are judged without it.
    Skip,
}

/// Whether entries are new to both parties or already agreed (spec/dyad.md 3.2): the
/// content policy (STIX validation of `application/stix+json` payloads) applies to what a
/// party is asked to add, not to history below a checkpoint both co-signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Admission {
    /// Entries a party is asked to add or co-sign: every rule, the content policy too.
    New,
    /// Entries recovered from the peer below a co-signed checkpoint: the channel rules
    /// of spec 3.1–3.5, without the content policy, so that a log the parties agreed on
    /// before the policy existed can still be recovered.
    Agreed,
}

/// What the channel rules track from entry to entry: each party's sequence and clock (by
/// its genesis key ID) and the parties' keys (which key changes move on).
#[derive(Clone, Debug)]
pub(super) struct Progress {
    pub(super) senders: HashMap<u32, SenderState>,
    pub(super) keys: KeyState,
}

/// Each entry's fate when entries are judged one by one: where it landed, or why not.
pub type EachAppended = Vec<Result<Appended, ChannelError>>;

/// Entries checked one by one and staged by [`Channel::stage_each`], not yet written.
pub struct Staged {
    batch: Batch,
    results: EachAppended,
    progress: Progress,
    /// The log's size when staged: a later change makes the staging stale.
    base: u64,
}

impl Staged {
    /// Each entry's fate, in the order given: where it will land, or why it is refused.
    pub fn results(&self) -> &[Result<Appended, ChannelError>] {
        &self.results
    }

    /// Whether any entry is refused.
    pub fn any_refused(&self) -> bool {
        self.results.iter().any(Result::is_err)
    }
}

impl Channel {
    /// Checks `entries` as the next entries of the log and stages them in `batch`; the
    /// first refused entry refuses them all.
    pub(super) fn stage_entries(
        &self,
        batch: &mut Batch,
        entries: &[SignedEntry],
        now_ms: u64,
        (admission, ahead): (Admission, Option<&CheckedSignatures>),
    ) -> Result<(Vec<Appended>, Progress), ChannelError> {
        let (results, progress) =
            self.stage(batch, entries, now_ms, OnRefusal::Abort, (admission, ahead))?;
        let appended = results.into_iter().collect::<Result<Vec<_>, _>>()?;
        Ok((appended, progress))
    }

    /// Where the channel rules stand after the log's last entry.
    fn progress(&self) -> Progress {
        Progress {
            senders: self.senders.clone(),
            keys: self.keys.clone(),
        }
    }

    /// Takes in what a committed batch staged.
    pub(super) fn advance(&mut self, progress: Progress) {
        self.senders = progress.senders;
        self.keys = progress.keys;
    }

    /// Checks `entries` in order as the next entries of the log and stages the accepted
    /// ones in `batch`. With [`OnRefusal::Skip`] a refused entry is left out and reported
    /// in its slot, and the later ones are judged as if it had never been submitted; with
    /// [`OnRefusal::Abort`] the first refusal is the error. The outer error is a store
    /// failure: then nothing can be judged. Signatures `ahead` found good are not checked
    /// again (`signature_check.rs`).
    fn stage(
        &self,
        batch: &mut Batch,
        entries: &[SignedEntry],
        now_ms: u64,
        on_refusal: OnRefusal,
        (admission, ahead): (Admission, Option<&CheckedSignatures>),
    ) -> Result<(EachAppended, Progress), ChannelError> {
        let mut progress = self.progress();
        let mut appended = Vec::with_capacity(entries.len());
        let mut next = self.store.size();
        // (sender, sequence) -> (index, leaf hash) of entries staged in this batch.
        let mut staged: HashMap<(u32, u64), (u64, Hash)> = HashMap::new();
        let mut joint = JointStaged::default();
        let verified = self.verify_signatures(entries, ahead);
        for (e, &signature_ok) in entries.iter().zip(&verified) {
            let body = &e.entry.body;
            let party = progress.keys.party_id(body.sender);
            let key = (party, body.sequence);
            // A sender's sequence number names its message (spec 3.3): the same entry again
            // is a resubmission and keeps its index; another entry under a used number is a
            // replay, which check_entry rejects.
            let used = progress
                .senders
                .get(&party)
                .is_some_and(|s| body.sequence <= s.last_sequence);
            let seen = match staged.get(&key) {
                Some(&found) => Some(found),
                // Only a used number can name an entry already in the log: new entries
                // (the hot path) cost no read.
                None if !used => None,
                None => self
                    .index_of_sequence(party, body.sequence)?
                    .map(|i| (i, [0; 32])),
            };
            if let Some((index, mut hash)) = seen {
                if hash == [0; 32] {
                    hash = self.store.leaf_hash(index)?;
                }
                if hash == e.leaf_hash {
                    appended.push(Ok(Appended {
                        index,
                        leaf_hash: e.leaf_hash,
                        existing: true,
                    }));
                    continue;
                }
            }
            let checked = self.check_entry(
                e,
                next,
                (&mut progress, &mut joint),
                (now_ms, admission),
                signature_ok,
            );
            match (checked, on_refusal) {
                (Ok(()), _) => {}
                (Err(refused @ ChannelError::Refused(_)), OnRefusal::Skip) => {
                    appended.push(Err(refused));
                    continue;
                }
                // A refusal with Abort, or a store failure: nothing can be judged.
                (Err(e), _) => return Err(e),
            }
            let index = batch.append_leaf(e.bytes.clone());
            debug_assert_eq!(index, next);
            staged.insert(key, (index, e.leaf_hash));
            appended.push(Ok(Appended {
                index,
                leaf_hash: e.leaf_hash,
                existing: false,
            }));
            next += 1;
        }
        for (id, state) in &progress.senders {
            if self.senders.get(id) != Some(state) {
                batch.put_meta(&sender_meta(*id), state.to_bytes().to_vec());
            }
        }
        progress.keys.stage_new(&self.keys, batch);
        joint.stage_index(batch);
        self.stage_sequence_index(
            batch,
            staged
                .into_iter()
                .map(|((sender, seq), (index, _))| (sender, seq, index)),
        )?;
        Ok((appended, progress))
    }

    /// Sequencer: appends signed entries (its own or the co-signer's submissions) as one
    /// durable batch. Resubmitting an entry already in the log returns its index.
    /// Nothing is written unless every new entry is valid.
    pub fn append_signed(
        &mut self,
        entries: &[SignedEntry],
        now_ms: u64,
    ) -> Result<Vec<Appended>, ChannelError> {
        self.append_signed_checked(entries, now_ms, &CheckedSignatures::default())
    }

    /// [`Self::append_signed`], with the signatures `ahead` found good not checked again
    /// (`signature_check.rs`): the caller checked them while the previous batch was written.
    pub fn append_signed_checked(
        &mut self,
        entries: &[SignedEntry],
        now_ms: u64,
        ahead: &CheckedSignatures,
    ) -> Result<Vec<Appended>, ChannelError> {
        self.check_writable()?;
        self.require_role(Role::Sequencer)?;
        let mut batch = self.store.batch();
        let (appended, progress) =
            self.stage_entries(&mut batch, entries, now_ms, (Admission::New, Some(ahead)))?;
        if appended.iter().any(|a| !a.existing) {
            self.store.commit(batch)?;
            self.advance(progress);
        }
        Ok(appended)
    }

    /// Sequencer, for group commit: [`Self::append_signed`] and [`Self::sign_checkpoint`]
    /// in ONE durable store batch (one fsync instead of two). Returns the appended entries
    /// and, when any entry is new, the log-signed checkpoint note of the new tree (which
    /// still needs the co-signature). Nothing is written unless every new entry is valid.
    pub fn append_signed_and_sign(
        &mut self,
        key: &SignerKey,
        entries: &[SignedEntry],
        now_ms: u64,
    ) -> Result<(Vec<Appended>, Option<Vec<u8>>), ChannelError> {
        self.check_writable()?;
        self.require_role(Role::Sequencer)?;
        let mut batch = self.store.batch();
        let (appended, progress) =
            self.stage_entries(&mut batch, entries, now_ms, (Admission::New, None))?;
        let new = appended.iter().filter(|a| !a.existing);
        let Some(note) = self.sign_new_tree(key, &progress.keys, &mut batch, new)? else {
            self.require_own_key(key)?;
            return Ok((appended, None));
        };
        self.store.commit(batch)?;
        self.advance(progress);
        Ok((appended, Some(note)))
    }

    /// Sequencer, for group commit with an answer per entry: checks each entry on its own,
    /// in order, exactly as appending them one by one would (a refused entry is left out and
    /// the later ones are judged without it), and stages the accepted ones. Nothing is
    /// written: [`Self::commit_staged_and_sign`] writes them, or the staging is dropped.
    /// Every signature is verified (strictly, over the machine's cores) before an entry is
    /// staged.
    pub fn stage_each(&self, entries: &[SignedEntry], now_ms: u64) -> Result<Staged, ChannelError> {
        self.stage_each_checked(entries, now_ms, &CheckedSignatures::default())
    }

    /// [`Self::stage_each`], with the signatures `ahead` found good not checked again
    /// (`signature_check.rs`): the caller checked them while the previous batch was written.
    pub fn stage_each_checked(
        &self,
        entries: &[SignedEntry],
        now_ms: u64,
        ahead: &CheckedSignatures,
    ) -> Result<Staged, ChannelError> {
        self.check_writable()?;
        self.require_role(Role::Sequencer)?;
        let mut batch = self.store.batch();
        let judged = (Admission::New, Some(ahead));
        let (results, progress) =
            self.stage(&mut batch, entries, now_ms, OnRefusal::Skip, judged)?;
        Ok(Staged {
            batch,
            results,
            progress,
            base: self.store.size(),
        })
    }

    /// Sequencer: writes what [`Self::stage_each`] accepted and the log-signed checkpoint of
    /// the new tree as ONE durable store batch (one fsync). Returns each entry's result and,
    /// when any entry is new, the checkpoint note (which still needs the co-signature).
    /// Refused if the log changed since the staging.
    pub fn commit_staged_and_sign(
        &mut self,
        key: &SignerKey,
        staged: Staged,
    ) -> Result<(EachAppended, Option<Vec<u8>>), ChannelError> {
        self.check_writable()?;
        self.require_role(Role::Sequencer)?;
        let Staged {
            mut batch,
            results,
            progress,
            base,
        } = staged;
        if base != self.store.size() {
            return Err(StoreError::StaleBatch {
                batch_base: base,
                size: self.store.size(),
            }
            .into());
        }
        let new = results
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .filter(|a| !a.existing);
        let Some(note) = self.sign_new_tree(key, &progress.keys, &mut batch, new)? else {
            self.require_own_key(key)?;
            return Ok((results, None));
        };
        self.store.commit(batch)?;
        self.advance(progress);
        Ok((results, Some(note)))
    }

    /// Stages the log-signed checkpoint of the tree the `new` appended entries make, if
    /// there are any; returns its note. `key` must be the sequencer's key at the new size
    /// in `keys` (spec 3.7: a key change in the batch already moves it to the new key).
    fn sign_new_tree<'a>(
        &self,
        key: &SignerKey,
        keys: &KeyState,
        batch: &mut Batch,
        new: impl Iterator<Item = &'a Appended>,
    ) -> Result<Option<Vec<u8>>, ChannelError> {
        // The new tree's head, from the leaf hashes in hand; commit recomputes it and
        // refuses nothing here, since the note is metadata to the store.
        let mut frontier = self.store.frontier().clone();
        let before = frontier.size();
        for a in new {
            frontier.push(a.leaf_hash);
        }
        if frontier.size() == before {
            return Ok(None);
        }
        self.require_key_at(key, &keys.current(true).party, frontier.size())?;
        let note = self.log_signed_note(key, frontier.size(), frontier.root())?;
        batch.put_meta(META_SIGNED, note.clone());
        Ok(Some(note))
    }

    /// Sequencer: signs and appends its own messages as one durable batch.
    pub fn append_own(
        &mut self,
        key: &SignerKey,
        drafts: Vec<Draft>,
        now_ms: u64,
    ) -> Result<Vec<Appended>, ChannelError> {
        self.require_role(Role::Sequencer)?;
        self.require_own_key(key)?;
        let first = self.next_sequence(key.key_id())?;
        let size = self.size();
        super::outbox::refuse_key_change(&drafts, size)?;
        let mut signed = Vec::with_capacity(drafts.len());
        for (i, draft) in drafts.into_iter().enumerate() {
            let e = draft
                .sign(key, &self.genesis.origin, first + i as u64, now_ms)
                .map_err(|source| EntryRefusal::Invalid {
                    index: size + i as u64,
                    source,
                })?;
            signed.push(e);
        }
        self.append_signed(&signed, now_ms)
    }
}
