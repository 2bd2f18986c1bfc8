//! The sequencer's group commit: collects submissions (the co-signer's signed entries) and
//! the operator's own drafts for at most `max_delay` after the first, or `max_batch` of
//! them, checks each on its own (`Channel::stage_each`), writes the accepted ones and the
//! checkpoint of the new tree, signed as the log, with one durable store batch (one
//! fsync), answers each (only now is anything acknowledged) and wakes the committer. The
//! next batch is collected, and its signatures checked, while one is written.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::check_ahead::check_signatures;
use crate::metrics::Metrics;
use crate::{now_ms, Shared};
use dyad_ledger::channel::{
    Appended, Channel, ChannelError, CheckedSignatures, EntryRefusal, Staged,
};
use dyad_ledger::entry::{Draft, EntryError, SignedEntry};
use dyad_ledger::keys::SignerKey;

/// What the batcher appends.
pub(crate) enum Item {
    /// An entry signed by the co-signer, already checked statelessly.
    Signed(SignedEntry),
    /// The operator's own message, signed by the batcher as the sequencer.
    Own(Draft),
    /// The operator's key change to this new key (`rotation.rs`): it ends a batch and is
    /// written on its own.
    KeyChange(Box<SignerKey>),
}

/// A request refused, with the HTTP status and a short label for the metrics.
#[derive(Clone, Debug)]
pub(crate) struct Rejection {
    pub status: u16,
    pub reason: &'static str,
    pub message: String,
}

pub(crate) type Reply = Result<Appended, Rejection>;

pub(crate) struct Submission {
    pub item: Item,
    pub reply: oneshot::Sender<Reply>,
}

/// How a failed append is answered: an entry the channel refused by the rule it broke
/// (403 for who signed it, 409 for its place in the sender's sequence, 422 for the rest);
/// any other failure is the node's own (500). Both matches are exhaustive, so a new error
/// must be given its status here.
pub(crate) fn classify(e: &ChannelError) -> (u16, &'static str) {
    use ChannelError as E;
    match e {
        E::Refused(refusal) => classify_refusal(refusal),
        E::NewKeyName { .. } => (422, "new-key-name"),
        E::Store(_)
        | E::Genesis(_)
        | E::WrongRole { .. }
        | E::NotOurKey { .. }
        | E::RetiredOwnKey { .. }
        | E::KeyNotCurrentAt { .. }
        | E::MissingRole
        | E::Note(_)
        | E::Checkpoint(_)
        | E::CheckpointOrigin { .. }
        | E::MissingLogSignature
        | E::MissingCosignature
        | E::WitnessQuorum { .. }
        | E::CheckpointBeyondLog { .. }
        | E::Rollback { .. }
        | E::RootMismatch { .. }
        | E::EntryCountMismatch { .. }
        | E::DuplicateEntry { .. }
        | E::BadStoredGenesis(_)
        | E::CheckpointDamaged { .. } => (500, "internal"),
    }
}

fn classify_refusal(r: &EntryRefusal) -> (u16, &'static str) {
    use EntryRefusal as R;
    match r {
        R::SequenceGap { .. } => (409, "sequence"),
        // Witness changes (spec/dyad.md 3.8) are refused under the rule's own name.
        R::WitnessChange { source, .. } => (422, source.code()),
        R::BadSignature { .. } => (403, "bad-signature"),
        R::UnknownSender { .. } => (403, "unknown-sender"),
        R::RetiredKey { .. } => (403, "retired-key"),
        R::WrongOrigin { .. } => (422, "wrong-origin"),
        R::Invalid { .. } => (422, "invalid-entry"),
        R::GenesisNotFirst { .. }
        | R::TimestampBackwards { .. }
        | R::TimestampInFuture { .. }
        | R::ReplyToNotEarlier { .. }
        | R::ResponseWithoutReplyTo { .. }
        | R::PayloadTooLarge { .. }
        | R::AttachmentTooLarge { .. }
        | R::JointRecord { .. }
        | R::KeyChange { .. }
        | R::NewKeyReused { .. }
        | R::KeyChangeAsMessage { .. }
        | R::NotStix { .. } => (422, "channel-rule"),
    }
}

pub(crate) fn rejection(e: &ChannelError) -> Rejection {
    let (status, reason) = classify(e);
    Rejection {
        status,
        reason,
        message: e.to_string(),
    }
}

fn draft_rejection(e: &EntryError) -> Rejection {
    Rejection {
        status: 422,
        reason: "invalid-draft",
        message: e.to_string(),
    }
}

/// Collects batches and writes them in order. While one batch is written (its fsync,
/// mostly), the next is collected and its submitted entries' signatures are checked
/// (`check_ahead.rs`), so that staging it under the lock checks only what is left.
pub(crate) async fn run_batcher(shared: Arc<Shared>, mut rx: mpsc::Receiver<Submission>) {
    let max_batch = shared.config.max_batch.max(1);
    let max_delay = shared.config.max_delay;
    let mut stop = shared.shutdown_signal();
    let mut own_next: Option<u64> = None;
    let mut writing: Option<tokio::task::JoinHandle<Option<u64>>> = None;
    let mut check = shared.signature_check().await;
    loop {
        let first = tokio::select! {
            biased;
            s = rx.recv() => match s {
                Some(s) => s,
                None => break,
            },
            _ = stop.wait_for(|s| *s) => break,
        };
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + max_delay;
        while batch.len() < max_batch && !ends_batch(&batch) {
            tokio::select! {
                s = rx.recv() => match s {
                    Some(s) => batch.push(s),
                    None => break,
                },
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        let signed = submitted(&batch);
        let ahead = if signed.is_empty() {
            CheckedSignatures::default()
        } else {
            check_signatures(check.clone(), move || signed).await
        };
        if let Some(previous) = writing.take() {
            own_next = previous.await.unwrap_or(None);
            // The keys after the previous batch (a key change in it moves them on).
            check = shared.signature_check().await;
        }
        let s = shared.clone();
        writing = Some(tokio::spawn(async move {
            write_batch(&s, batch, own_next, ahead).await
        }));
    }
    if let Some(previous) = writing.take() {
        own_next = previous.await.unwrap_or(None);
    }
    // Stopping: what was already queued is still written and answered.
    rx.close();
    let mut rest = Vec::new();
    let none = CheckedSignatures::default;
    while let Some(s) = rx.recv().await {
        rest.push(s);
        if rest.len() == max_batch || ends_batch(&rest) {
            own_next = write_batch(&shared, std::mem::take(&mut rest), own_next, none()).await;
        }
    }
    if !rest.is_empty() {
        write_batch(&shared, rest, own_next, none()).await;
    }
}

/// The entries the co-signer submitted in a batch (the operator's own are signed when the
/// batch is written).
fn submitted(batch: &[Submission]) -> Vec<SignedEntry> {
    batch
        .iter()
        .filter_map(|s| match &s.item {
            Item::Signed(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

/// A key change ends the batch it joins.
fn ends_batch(batch: &[Submission]) -> bool {
    batch
        .last()
        .is_some_and(|s| matches!(s.item, Item::KeyChange(_)))
}

/// Writes one batch, then the key change that ended it, if one did.
async fn write_batch(
    shared: &Arc<Shared>,
    mut batch: Vec<Submission>,
    mut own_next: Option<u64>,
    ahead: CheckedSignatures,
) -> Option<u64> {
    let key_change = match batch.pop() {
        Some(Submission {
            item: Item::KeyChange(new),
            reply,
        }) => Some((new, reply)),
        Some(last) => {
            batch.push(last);
            None
        }
        None => None,
    };
    if !batch.is_empty() {
        own_next = write_entries(shared, batch, own_next, ahead).await;
    }
    match key_change {
        Some((new, reply)) => super::rotation::change_key(shared, new, reply, own_next).await,
        None => own_next,
    }
}

/// Writes one batch on blocking threads and answers every submission in it. Returns the
/// sequencer's next own sequence number, when known.
///
/// The costly part (signing own drafts, checking every entry, the signatures not checked
/// `ahead` over all cores) runs under the shared lock, so that the co-signer's tile reads (replicating the previous
/// batch) go on meanwhile; only the store commit takes the exclusive lock. The batcher is
/// the only task that appends, so the log cannot change in between (and if it did, the
/// commit would refuse the stale staging and the batch would go one by one).
async fn write_entries(
    shared: &Arc<Shared>,
    batch: Vec<Submission>,
    own_next: Option<u64>,
    ahead: CheckedSignatures,
) -> Option<u64> {
    let now = now_ms();
    let s = shared.clone();
    let prepared = shared
        .read(move |ch| {
            let prepared = prepare(ch, &s, &batch, (own_next, &ahead), now);
            Ok((batch, prepared))
        })
        .await;
    let (batch, prepared) = match prepared {
        Ok(p) => p,
        Err(e) => {
            // The replies' senders were dropped with the batch: the handlers answer 503.
            tracing::error!(error = %e, "a batch could not be checked");
            return None;
        }
    };
    let s = shared.clone();
    match shared
        .write(move |ch| Ok(apply_batch(ch, &s, batch, own_next, now, prepared)))
        .await
    {
        Ok(next) => next,
        Err(e) => {
            tracing::error!(error = %e, "a batch could not be written");
            None
        }
    }
}

/// A batch checked and staged, with the next own sequence number after it.
type Prepared = Result<Option<(Staged, Option<u64>)>, ChannelError>;

/// Signs the batch's own drafts with consecutive sequence numbers from `own_next` and
/// judges every entry on its own (`Channel::stage_each`). `None` when the batch must go
/// one by one: the first own message since start (`append_own` finds its sequence
/// number), or an own message refused (the later ones would break their sequence).
/// Signatures `ahead` found good are not checked again.
fn prepare(
    ch: &Channel,
    shared: &Shared,
    batch: &[Submission],
    (own_next, ahead): (Option<u64>, &CheckedSignatures),
    now: u64,
) -> Prepared {
    let has_own = batch.iter().any(|s| matches!(s.item, Item::Own(_)));
    if has_own && own_next.is_none() {
        return Ok(None);
    }
    let mut next = own_next.unwrap_or(0);
    let mut entries = Vec::with_capacity(batch.len());
    let signer = shared.keys().signer.clone();
    for s in batch {
        let e = match &s.item {
            Item::Signed(e) => e.clone(),
            Item::Own(d) => match d.clone().sign(&signer, &shared.origin, next, now) {
                Ok(e) => {
                    next += 1;
                    e
                }
                Err(_) => return Ok(None),
            },
            // Never here (`write_batch` takes it apart); one by one refuses it.
            Item::KeyChange(_) => return Ok(None),
        };
        entries.push(e);
    }
    let staged = ch.stage_each_checked(&entries, now, ahead)?;
    let own_refused = batch
        .iter()
        .zip(staged.results())
        .any(|(s, r)| matches!(s.item, Item::Own(_)) && r.is_err());
    if own_refused {
        return Ok(None);
    }
    Ok(Some((staged, own_next.map(|_| next))))
}

fn apply_batch(
    ch: &mut Channel,
    shared: &Shared,
    batch: Vec<Submission>,
    own_next: Option<u64>,
    now: u64,
    prepared: Prepared,
) -> Option<u64> {
    let count = batch.len();
    let size_before = ch.size();
    // Whether the batch's checkpoint was signed in the batch's own store commit.
    let mut signed = false;
    // The key the log signs with now (the write lock keeps it so for the batch).
    let signer = shared.keys().signer.clone();
    let own_next = match prepared {
        Ok(Some((staged, next))) => match ch.commit_staged_and_sign(&signer, staged) {
            Ok((results, note)) => {
                signed = note.is_some();
                for (s, result) in batch.into_iter().zip(results) {
                    let reply = result.map_err(|e| rejection(&e));
                    if let Err(r) = &reply {
                        refused(shared, r);
                    }
                    let _ = s.reply.send(reply);
                }
                next
            }
            Err(e) => {
                tracing::warn!(error = %e, entries = count, "the batch could not be written; appending its entries one by one");
                one_by_one(ch, shared, &signer, batch, own_next, now)
            }
        },
        Ok(None) => one_by_one(ch, shared, &signer, batch, own_next, now),
        Err(e) => {
            tracing::warn!(error = %e, entries = count, "the batch could not be checked; appending its entries one by one");
            one_by_one(ch, shared, &signer, batch, own_next, now)
        }
    };
    let added = ch.size() - size_before;
    Metrics::set(&shared.metrics.log_size, ch.size());
    if added > 0 {
        Metrics::inc(&shared.metrics.entries, added);
        Metrics::inc(&shared.metrics.batches, 1);
        tracing::debug!(entries = added, size = ch.size(), "batch durable");
        let signed = signed
            || match ch.sign_checkpoint(&signer) {
                Ok(_) => true,
                Err(e) => {
                    tracing::error!(error = %e, "cannot sign the checkpoint; the next batch will");
                    false
                }
            };
        if signed {
            Metrics::inc(&shared.metrics.checkpoints_signed, 1);
            shared.set_published(ch.size());
            shared.wake_committer.notify_one();
        }
    }
    own_next
}

/// Counts and logs an entry the channel refused.
fn refused(shared: &Shared, r: &Rejection) {
    shared.metrics.reject("append", r.reason);
    tracing::warn!(status = r.status, reason = r.reason, message = %r.message, "entry refused by the channel rules");
}

/// Each submission on its own (one store batch each). Used for the first own message
/// after a start, when an own message was refused, and after a failed write.
fn one_by_one(
    ch: &mut Channel,
    shared: &Shared,
    signer: &SignerKey,
    batch: Vec<Submission>,
    mut own_next: Option<u64>,
    now: u64,
) -> Option<u64> {
    for s in batch {
        let reply = match s.item {
            Item::Signed(e) => ch
                .append_signed(std::slice::from_ref(&e), now)
                .map(|a| a[0])
                .map_err(|e| rejection(&e)),
            Item::Own(d) => match own_next {
                Some(seq) => match d.sign(signer, &shared.origin, seq, now) {
                    Ok(e) => match ch.append_signed(std::slice::from_ref(&e), now) {
                        Ok(a) => {
                            own_next = Some(seq + 1);
                            Ok(a[0])
                        }
                        Err(e) => Err(rejection(&e)),
                    },
                    Err(e) => Err(draft_rejection(&e)),
                },
                None => match ch.append_own(signer, vec![d], now) {
                    Ok(a) => {
                        match ch.entry(a[0].index) {
                            Ok(e) => own_next = Some(e.entry.body.sequence + 1),
                            Err(e) => {
                                tracing::error!(error = %e, "cannot read back an appended entry")
                            }
                        }
                        Ok(a[0])
                    }
                    Err(e) => Err(rejection(&e)),
                },
            },
            Item::KeyChange(_) => Err(Rejection {
                status: 500,
                reason: "internal",
                message: "a key change is written on its own, not in a batch".into(),
            }),
        };
        if let Err(r) = &reply {
            refused(shared, r);
        }
        let _ = s.reply.send(reply);
    }
    own_next
}
