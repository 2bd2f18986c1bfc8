//! An audit's leaves checked on the machine's cores ([`push_leaves`]; with `std` only).
//! It drives the [`audit`](mod@crate::audit) module's public API and adds no rule of its own.
//!
//! The work is the [`Auditor`]'s, spread over threads: a reader thread cuts the stream of
//! leaves into chunks, checking threads run the auditor's [`LeafChecker`] on them
//! (decoding, channel rules, strict signature: nearly all of an audit's cost), and the
//! calling thread pushes the results into the auditor in index order
//! ([`Auditor::push_checked`]), which applies the order-dependent rules (sequence numbers,
//! timestamps, key changes, the tree, checkpoints) as [`Auditor::push_leaf`] does, and so
//! stops at the same first problem with the same error. Memory is a bounded number of
//! chunks, whatever the log's length.

use std::collections::BTreeMap;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex, RwLock};
use std::vec::Vec;

use crate::audit::{AuditError, Auditor, CheckedLeaf, LeafChecker};

/// Leaves per unit of work handed to a checking thread: large enough that the channels'
/// overhead is nothing beside 256 signature checks, small enough that the leaves in
/// flight stay a few megabytes.
pub const CHUNK: usize = 256;

/// Chunks queued between the threads, per queue: with the reorder buffer, this bounds the
/// leaves held at once to a few times (threads + QUEUE) * CHUNK.
const QUEUE: usize = 4;

/// Why [`push_leaves`] stopped before the end of its leaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PushError<E> {
    /// The log does not verify: the auditor's first error (that of a sequential audit),
    /// or the error of the caller's `after`.
    Audit(AuditError),
    /// The source could not give the leaf after the last one pushed: reported instead of
    /// whatever the shortened log would look like.
    Source(E),
}

impl<E> From<AuditError> for PushError<E> {
    fn from(error: AuditError) -> PushError<E> {
        PushError::Audit(error)
    }
}

/// The number of checking threads to use: one per core (2 if that cannot be told).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Pushes every leaf of `leaves` into `auditor`, in order, with the verdict of
/// [`Auditor::push_leaf`] on each, checking their signatures on `threads` threads
/// (at least one), and calls `after` after each leaf is pushed (to give the checkpoints
/// due, e.g. [`CheckpointFeed::give_due`], or to count progress).
///
/// Leaves the auditor cannot check in parallel yet (leaf 0, the genesis, which makes the
/// channel) are pushed on this thread. After a key change, the checking threads take a
/// new [`LeafChecker`] with the new keys; leaves a checker made before it could not check
/// go to the auditor whole, which checks them with the key history, so the verdict does
/// not depend on when the threads saw the change.
///
/// Stops at the first error: the auditor's, `after`'s, or the source's (a `Source` error
/// comes after every leaf before it was pushed, so a bad leaf before a read error is
/// reported as such). The source iterator is read from another thread, and not read to
/// its end after an error.
///
/// [`CheckpointFeed::give_due`]: crate::audit::CheckpointFeed::give_due
pub fn push_leaves<E: Send>(
    auditor: &mut Auditor,
    leaves: impl Iterator<Item = Result<Vec<u8>, E>> + Send,
    threads: usize,
    mut after: impl FnMut(&mut Auditor) -> Result<(), AuditError>,
) -> Result<(), PushError<E>> {
    // A caller may have read leaf 0 itself, and found the end already.
    let mut leaves = leaves.fuse();
    let checker = loop {
        if let Some(checker) = auditor.leaf_checker() {
            break checker;
        }
        match leaves.next() {
            Some(leaf) => {
                auditor.push_leaf(&leaf.map_err(PushError::Source)?)?;
                after(auditor)?;
            }
            None => return Ok(()),
        }
    };
    let first = auditor.leaves();
    let checker = RwLock::new(Arc::new(checker));
    let mut changes = key_changes(auditor);
    check_in_parallel(leaves, first, threads.max(1), &checker, |leaf| {
        auditor.push_checked(leaf)?;
        after(auditor)?;
        if key_changes(auditor) != changes {
            changes = key_changes(auditor);
            if let Some(new) = auditor.leaf_checker() {
                *checker.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(new);
            }
        }
        Ok(())
    })
}

/// Key changes the auditor has taken in so far.
fn key_changes(auditor: &Auditor) -> usize {
    auditor.channel().map_or(0, |c| c.key_changes().len())
}

/// Leaves read from the source, numbered in order; `end` is the read error that cut the
/// stream after them, if any.
struct Chunk<E> {
    number: u64,
    first: u64,
    leaves: Vec<Vec<u8>>,
    end: Option<E>,
}

/// A chunk's leaves, checked. The checking stops at the chunk's first bad leaf: nothing
/// after it will be looked at.
struct Checked<E> {
    number: u64,
    leaves: Vec<Result<CheckedLeaf, AuditError>>,
    end: Option<E>,
}

/// Checks the leaves (the first at index `first`) on `threads` threads and hands them to
/// `push` in index order; stops at the first error (a bad leaf, `push`'s, or a read error).
fn check_in_parallel<E: Send>(
    leaves: impl Iterator<Item = Result<Vec<u8>, E>> + Send,
    first: u64,
    threads: usize,
    checker: &RwLock<Arc<LeafChecker>>,
    mut push: impl FnMut(CheckedLeaf) -> Result<(), AuditError>,
) -> Result<(), PushError<E>> {
    std::thread::scope(|scope| {
        let (work_tx, work_rx) = sync_channel::<Chunk<E>>(QUEUE);
        let (done_tx, done_rx) = sync_channel::<Checked<E>>(QUEUE);
        scope.spawn(move || read(leaves, first, work_tx));
        let work_rx = Arc::new(Mutex::new(work_rx));
        for _ in 0..threads {
            let (work_rx, done_tx) = (Arc::clone(&work_rx), done_tx.clone());
            scope.spawn(move || check(&work_rx, checker, &done_tx));
        }
        drop(done_tx);
        // Results arrive in any order; they are pushed in chunk order. When this returns
        // (at the end, or at the first error), dropping the receiver stops the checking
        // threads, whose failed sends in turn stop the reader.
        let mut pending = BTreeMap::new();
        let mut next = 0u64;
        for done in done_rx.iter() {
            pending.insert(done.number, done);
            while let Some(done) = pending.remove(&next) {
                next += 1;
                for leaf in done.leaves {
                    leaf.and_then(&mut push)?;
                }
                if let Some(e) = done.end {
                    return Err(PushError::Source(e));
                }
            }
        }
        Ok(())
    })
}

/// The reader: cuts the leaves into chunks until the end, a read error, or the audit
/// stopping (a failed send).
fn read<E>(
    mut leaves: impl Iterator<Item = Result<Vec<u8>, E>>,
    mut first: u64,
    work: SyncSender<Chunk<E>>,
) {
    for number in 0u64.. {
        let mut chunk = Chunk {
            number,
            first,
            leaves: Vec::with_capacity(CHUNK),
            end: None,
        };
        for item in leaves.by_ref().take(CHUNK) {
            match item {
                Ok(bytes) => chunk.leaves.push(bytes),
                Err(e) => {
                    chunk.end = Some(e);
                    break;
                }
            }
        }
        let last = chunk.end.is_some() || chunk.leaves.len() < CHUNK;
        first += chunk.leaves.len() as u64;
        if work.send(chunk).is_err() || last {
            return;
        }
    }
}

/// A checking thread: takes chunks until there are none or the audit stopped.
fn check<E>(
    work: &Mutex<Receiver<Chunk<E>>>,
    checker: &RwLock<Arc<LeafChecker>>,
    done: &SyncSender<Checked<E>>,
) {
    loop {
        // The lock is held only to take the next chunk, not while checking it.
        let next = work
            .lock()
            .map_err(|_| ())
            .and_then(|rx| rx.recv().map_err(|_| ()));
        let Ok(chunk) = next else { return };
        // The latest checker, taken once per chunk.
        let checker = Arc::clone(&checker.read().unwrap_or_else(|p| p.into_inner()));
        let mut checked = Vec::with_capacity(chunk.leaves.len());
        for (i, bytes) in chunk.leaves.iter().enumerate() {
            let leaf = checker.check(chunk.first + i as u64, bytes);
            let bad = leaf.is_err();
            checked.push(leaf);
            if bad {
                break;
            }
        }
        let result = Checked {
            number: chunk.number,
            leaves: checked,
            end: chunk.end,
        };
        if done.send(result).is_err() {
            return;
        }
    }
}
