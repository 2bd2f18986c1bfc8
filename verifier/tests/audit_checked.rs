//! The split audit (LeafChecker on any thread, Auditor::push_checked in order) gives the
//! same verdict as Auditor::push_leaf, and a checked leaf cannot be pushed out of turn or
//! into another channel's audit. So does the audit on threads (`push_leaves`), which also
//! stops at a read error after the leaves before it and reads only a bounded way ahead.

mod entry_support;

use dyad_verifier::audit::{
    self, AuditError, AuditReport, AuditTrust, Auditor, CheckedLeaf, CheckpointFeed,
};
use dyad_verifier::entry::{Entry, EntryError};
use dyad_verifier::parallel_audit::{push_leaves, PushError, CHUNK};
use entry_support::*;
use std::sync::atomic::{AtomicUsize, Ordering};

const N: usize = 600;
const SIZES: [usize; 4] = [1, 100, 257, N + 1];

fn checkpoints(c: &Channel) -> Vec<Vec<u8>> {
    SIZES
        .iter()
        .map(|&s| c.checkpoint(s, c.time_for(s)))
        .collect()
}

fn trust(c: &Channel) -> AuditTrust {
    AuditTrust::Parties([c.alpha.entry_vkey(), c.bravo.entry_vkey()])
}

/// Every leaf after the genesis is checked first, in reverse (as a pool of threads may
/// finish them in any order), then the results are pushed in index order, stopping at the
/// first error, with the checkpoints fed as `audit` feeds them.
fn run_checked(c: &Channel, cps: &[Vec<u8>]) -> Result<AuditReport, AuditError> {
    let mut feed = CheckpointFeed::new(cps)?;
    let mut auditor = Auditor::new(trust(c))?;
    auditor.push_leaf(&c.leaves[0])?;
    feed.give_due(&mut auditor)?;
    let checker = auditor.leaf_checker().expect("a checker after the genesis");
    let mut checked: Vec<Result<CheckedLeaf, AuditError>> = (1..c.leaves.len())
        .rev()
        .map(|i| checker.check(i as u64, &c.leaves[i]))
        .collect();
    checked.reverse();
    for leaf in checked {
        auditor.push_checked(leaf?)?;
        feed.give_due(&mut auditor)?;
    }
    feed.give_rest(&mut auditor)?;
    auditor.finish()
}

/// The audit on `threads` checking threads (`push_leaves`), with the checkpoints fed as
/// `audit` feeds them.
fn run_parallel(c: &Channel, cps: &[Vec<u8>], threads: usize) -> Result<AuditReport, AuditError> {
    let mut feed = CheckpointFeed::new(cps)?;
    let mut auditor = Auditor::new(trust(c))?;
    let leaves = c.leaves.iter().cloned().map(Ok::<_, String>);
    match push_leaves(&mut auditor, leaves, threads, |a| feed.give_due(a)) {
        Ok(()) => {}
        Err(PushError::Audit(e)) => return Err(e),
        Err(PushError::Source(e)) => panic!("the leaves are in memory: {e}"),
    }
    feed.give_rest(&mut auditor)?;
    auditor.finish()
}

/// The sequential audit's verdict, which the split and the parallel audits must give too
/// (N leaves are three chunks, the last one partial).
fn same_verdict(c: &Channel) -> Result<AuditReport, AuditError> {
    let cps = checkpoints(c);
    let whole = audit::audit(c.leaves.clone(), &cps, trust(c));
    assert_eq!(run_checked(c, &cps), whole);
    for threads in [1, 2, 3] {
        assert_eq!(run_parallel(c, &cps, threads), whole, "{threads} threads");
    }
    whole
}

fn edited(edit: &dyn Fn(u64, &mut Entry) -> Option<TestKey>) -> Channel {
    Channel::with_entries_edited(N, 0, 0, edit)
}

#[test]
fn a_clean_log_passes_both_ways() {
    let c = Channel::with_entries(N, 0, 0);
    let report = same_verdict(&c).unwrap();
    assert_eq!(report.leaves, N as u64 + 1);
    assert_eq!(report.root, c.root(N + 1));
    assert_eq!(report.committed_size, N as u64 + 1);
}

#[test]
fn broken_entries_are_found_at_the_same_index_with_the_same_error() {
    // Signed by the other party.
    let who = Channel::sender_of(300);
    let c = edited(&|i, _| {
        (i == 300).then(|| TestKey::new(["test.example/bravo", "test.example/alpha"][who]))
    });
    assert!(matches!(
        same_verdict(&c),
        Err(AuditError::Entry { index: 300, .. })
    ));
    // Bad signature bytes under the right key ID.
    let mut c = Channel::with_entries(N, 0, 0);
    let len = c.leaves[200].len();
    c.leaves[200][len - 1] ^= 1;
    assert!(matches!(
        same_verdict(&c),
        Err(AuditError::Entry {
            index: 200,
            error: EntryError::BadSignature { .. }
        })
    ));
    // An order-dependent rule: a sequence gap.
    let c = edited(&|i, e| {
        if i >= 400 && Channel::sender_of(i) == Channel::sender_of(400) {
            e.sequence += 1;
        }
        None
    });
    assert!(matches!(
        same_verdict(&c),
        Err(AuditError::SequenceGap { index: 400, .. })
    ));
    // A timestamp before the sender's previous entry.
    let c = edited(&|i, e| {
        if i == 450 {
            e.timestamp_ms = T0_MS;
        }
        None
    });
    assert!(matches!(
        same_verdict(&c),
        Err(AuditError::TimestampBeforePrevious { index: 450, .. })
    ));
    // A checkpoint whose root is not the leaves' (the checkpoint of size 257 over other
    // leaves): the tree is built from the checked leaves' hashes.
    let c = Channel::with_entries(N, 0, 0);
    let mut other = Channel::with_entries(N, 0, 0);
    other.leaves[10] = c.leaves[11].clone();
    let mut cps = checkpoints(&c);
    cps[2] = other.checkpoint(257, c.time_for(257));
    let whole = audit::audit(c.leaves.clone(), &cps, trust(&c));
    assert!(matches!(
        whole,
        Err(AuditError::RootMismatch { size: 257, .. })
    ));
    assert_eq!(run_checked(&c, &cps), whole);
    assert_eq!(run_parallel(&c, &cps, 2), whole);
}

/// Two bad entries in different chunks, the later one checked first by a faster thread:
/// the first is named, as the sequential audit names it.
#[test]
fn the_parallel_audit_names_the_first_bad_entry_of_a_tampered_log() {
    let mut c = Channel::with_entries(N, 0, 0);
    for i in [2 * CHUNK + 7, CHUNK + 3] {
        let len = c.leaves[i].len();
        c.leaves[i][len - 1] ^= 1;
    }
    let found = same_verdict(&c);
    assert!(
        matches!(found, Err(AuditError::Entry { index, error: EntryError::BadSignature { .. } }) if index == CHUNK as u64 + 3),
        "{found:?}"
    );
}

/// Pushes the leaves on two threads, leaf `error_at` being unreadable; the leaves pushed.
fn run_with_read_error(c: &Channel, error_at: usize) -> (Result<(), PushError<usize>>, u64) {
    let mut auditor = Auditor::new(trust(c)).unwrap();
    let leaves = c.leaves.iter().enumerate().map(move |(i, leaf)| match i {
        _ if i == error_at => Err(i),
        _ => Ok(leaf.clone()),
    });
    let result = push_leaves(&mut auditor, leaves, 2, |_| Ok(()));
    (result, auditor.leaves())
}

#[test]
fn a_read_error_stops_the_parallel_audit_after_the_leaves_before_it() {
    let mut c = Channel::with_entries(N, 0, 0);
    assert_eq!(run_with_read_error(&c, 0), (Err(PushError::Source(0)), 0));
    assert_eq!(
        run_with_read_error(&c, 300),
        (Err(PushError::Source(300)), 300)
    );
    // A bad entry after the read error is never reached; one before it is reported.
    let len = c.leaves[520].len();
    c.leaves[520][len - 1] ^= 1;
    assert_eq!(
        run_with_read_error(&c, 300),
        (Err(PushError::Source(300)), 300)
    );
    let len = c.leaves[100].len();
    c.leaves[100][len - 1] ^= 1;
    let (result, pushed) = run_with_read_error(&c, 300);
    assert!(
        matches!(
            result,
            Err(PushError::Audit(AuditError::Entry { index: 100, .. }))
        ),
        "{result:?}"
    );
    assert_eq!(pushed, 100);
}

/// An endless source whose leaf 1 is bad: the audit stops there, having read only a few
/// chunks ahead (it never holds the whole log).
#[test]
fn the_parallel_audit_reads_a_bounded_way_ahead() {
    let c = Channel::with_entries(2, 0, 0);
    let mut bad = c.leaves[1].clone();
    let len = bad.len();
    bad[len - 1] ^= 1;
    let read = AtomicUsize::new(0);
    let leaves = std::iter::once(c.leaves[0].clone())
        .chain(std::iter::repeat(bad))
        .inspect(|_| {
            read.fetch_add(1, Ordering::Relaxed);
        })
        .map(Ok::<_, String>);
    let mut auditor = Auditor::new(trust(&c)).unwrap();
    let result = push_leaves(&mut auditor, leaves, 2, |_| Ok(()));
    assert!(
        matches!(
            result,
            Err(PushError::Audit(AuditError::Entry { index: 1, .. }))
        ),
        "{result:?}"
    );
    let read = read.load(Ordering::Relaxed);
    assert!(read <= 16 * CHUNK, "{read} leaves read ahead");
}

#[test]
fn a_checked_leaf_is_pushed_only_in_turn_and_only_into_its_channel() {
    let c = Channel::with_entries(10, 0, 0);
    let mut auditor = Auditor::new(trust(&c)).unwrap();
    assert!(auditor.leaf_checker().is_none());
    auditor.push_leaf(&c.leaves[0]).unwrap();
    let checker = auditor.leaf_checker().unwrap();
    let second = checker.check(2, &c.leaves[2]).unwrap();
    assert_eq!(second.index(), 2);
    assert_eq!(
        auditor.clone().push_checked(second),
        Err(AuditError::CheckedLeafMismatch { index: 1, found: 2 })
    );

    // A checker of another channel (other keys, same shape) is refused too.
    let mut stranger = Channel::new(0, 0);
    stranger.origin = "other.example/dyad".into();
    stranger.alpha = TestKey::new("other.example/alpha");
    stranger.genesis = genesis_record(&stranger.origin, &stranger.alpha, &c.bravo, &[], 0);
    stranger.leaves = vec![genesis_entry(
        &stranger.genesis,
        &stranger.alpha,
        &c.bravo,
        T0_MS,
    )];
    let mut other = Auditor::new(AuditTrust::Parties([
        stranger.alpha.entry_vkey(),
        c.bravo.entry_vkey(),
    ]))
    .unwrap();
    other.push_leaf(&stranger.leaves[0]).unwrap();
    let entry = c.make(1, dyad_verifier::Kind::Notification, 1, T0_MS + 1000, None);
    let mut entry = entry;
    entry.origin = stranger.origin.clone();
    let bytes = sign_and_encode(&mut entry, &[&c.bravo]);
    let foreign = other.leaf_checker().unwrap().check(1, &bytes).unwrap();
    assert_eq!(
        auditor.push_checked(foreign),
        Err(AuditError::CheckedLeafMismatch { index: 1, found: 1 })
    );
    // The auditor stays failed.
    let first = checker.check(1, &c.leaves[1]).unwrap();
    assert!(matches!(
        auditor.push_checked(first),
        Err(AuditError::CheckedLeafMismatch { .. })
    ));
}
