//! The streaming auditor on a synthetic 1000-entry log: a clean log passes, and each kind
//! of tampering is reported at the right index or checkpoint size with the right error.

mod entry_support;

use dyad_verifier::audit::{self, AuditError, AuditTrust, Auditor};
use dyad_verifier::entry::{Entry, EntryError, Kind};
use dyad_verifier::equivocation;
use dyad_verifier::genesis::CommitError;
use entry_support::*;

const N: usize = 1000;
/// Checkpoint sizes of the synthetic log (1001 leaves with the genesis).
const SIZES: [usize; 7] = [1, 64, 100, 257, 500, 777, N + 1];

/// The co-signer co-signs a checkpoint one second after its last entry's (unedited) time.
fn cosigned_at(size: usize) -> u64 {
    (T0_MS + (size as u64 - 1) * 1000) / 1000 + 1
}

fn checkpoints(c: &Channel) -> Vec<Vec<u8>> {
    SIZES
        .iter()
        .map(|&s| c.checkpoint(s, cosigned_at(s)))
        .collect()
}

fn trust(c: &Channel) -> AuditTrust {
    AuditTrust::Parties([c.bravo.entry_vkey(), c.alpha.entry_vkey()])
}

fn run(c: &Channel, cps: &[Vec<u8>]) -> Result<audit::AuditReport, AuditError> {
    audit::audit(c.leaves.clone(), cps, trust(c))
}

fn edited(edit: &dyn Fn(u64, &mut Entry) -> Option<TestKey>) -> Channel {
    Channel::with_entries_edited(N, 0, 0, edit)
}

#[test]
fn a_clean_log_passes() {
    let c = Channel::with_entries(N, 0, 0);
    let cps = checkpoints(&c);
    let report = run(&c, &cps).unwrap();
    assert_eq!(report.leaves, N as u64 + 1);
    assert_eq!(report.root, c.root(N + 1));
    assert_eq!(report.committed_size, N as u64 + 1);
    assert_eq!(report.pending, 0);
    assert_eq!(report.checkpoints, SIZES.len() as u64);
    assert_eq!(report.genesis, c.genesis);
    assert_eq!(report.kinds.iter().sum::<u64>(), N as u64 + 1);
    assert_eq!(report.kinds[Kind::Genesis.as_u8() as usize], 1);
    assert_eq!(
        report.kinds[Kind::Response.as_u8() as usize],
        (N / 5) as u64
    );
    assert_eq!(
        report.entries_by_sequencer + report.entries_by_cosigner,
        N as u64 + 1
    );
    assert_eq!(report.latest_checkpoint.unwrap().size, N as u64 + 1);

    // In any order of the checkpoint list, with the genesis pinned, with duplicates.
    let mut reversed = cps.clone();
    reversed.reverse();
    reversed.push(cps[3].clone());
    assert!(audit::audit(
        c.leaves.clone(),
        &reversed,
        AuditTrust::Genesis(c.genesis.clone())
    )
    .is_ok());
    // With no checkpoint at all: everything is pending.
    let report = run(&c, &[]).unwrap();
    assert_eq!((report.committed_size, report.pending), (0, N as u64 + 1));
    // With entries after the last checkpoint.
    let report = run(&c, &cps[..5]).unwrap();
    assert_eq!(
        (report.committed_size, report.pending),
        (500, N as u64 + 1 - 500)
    );
}

#[test]
fn checkpoints_may_come_when_the_leaves_reach_them() {
    // The other feeding order: each checkpoint right after its last leaf.
    let c = Channel::with_entries(N, 0, 0);
    let cps = checkpoints(&c);
    let mut auditor = Auditor::from_parties(c.alpha.entry_vkey(), c.bravo.entry_vkey()).unwrap();
    let mut next = 0;
    for leaf in &c.leaves {
        auditor.push_leaf(leaf).unwrap();
        while next < SIZES.len() && SIZES[next] as u64 == auditor.leaves() {
            let verdict = auditor.check_checkpoint(&cps[next]).unwrap();
            assert!(verdict.root_checked);
            assert_eq!(verdict.cosigned_at, Some(cosigned_at(SIZES[next])));
            next += 1;
        }
    }
    let report = auditor.finish().unwrap();
    assert_eq!(report.committed_size, N as u64 + 1);
    assert_eq!(report.root, c.root(N + 1));
}

#[test]
fn a_changed_entry_byte_is_found_at_its_index() {
    let c = Channel::with_entries(N, 0, 0);
    let cps = checkpoints(&c);
    for (index, at) in [(1usize, 60usize), (500, 100), (1000, 0)] {
        let mut t = Channel::with_entries(0, 0, 0);
        t.leaves = c.leaves.clone();
        let at = at.min(t.leaves[index].len() - 1);
        t.leaves[index][at] ^= 0x40;
        let err = run(&t, &cps).unwrap_err();
        match err {
            AuditError::Entry { index: i, .. } => assert_eq!(i, index as u64),
            other => panic!("byte {at} of entry {index}: {other:?}"),
        }
    }
    // A byte of the payload: the signature no longer verifies.
    let mut t = Channel::with_entries(0, 0, 0);
    t.leaves = c.leaves.clone();
    let len = t.leaves[500].len();
    t.leaves[500][len - 90] ^= 1; // in the payload: before the attachment count and signatures
    let sender = if Channel::sender_of(500) == 0 {
        &c.alpha
    } else {
        &c.bravo
    };
    assert_eq!(
        run(&t, &cps),
        Err(AuditError::Entry {
            index: 500,
            error: EntryError::BadSignature {
                key_id: sender.key_id()
            }
        })
    );
    // The genesis.
    t.leaves = c.leaves.clone();
    t.leaves[0][10] ^= 1;
    assert!(matches!(
        run(&t, &cps),
        Err(AuditError::Entry { index: 0, .. })
    ));
}

#[test]
fn a_dropped_entry_is_found() {
    let c = Channel::with_entries(N, 0, 0);
    let cps = checkpoints(&c);
    // 400 and 401 are from the same sender: the gap shows at once.
    assert_eq!(Channel::sender_of(400), Channel::sender_of(401));
    let mut t = Channel::with_entries(0, 0, 0);
    t.leaves = c.leaves.clone();
    t.leaves.remove(400);
    let sender = if Channel::sender_of(400) == 0 {
        &c.alpha
    } else {
        &c.bravo
    };
    let expected = (1..400)
        .filter(|&i| Channel::sender_of(i) == Channel::sender_of(400))
        .count() as u64
        + 1;
    assert_eq!(
        run(&t, &cps),
        Err(AuditError::SequenceGap {
            index: 400,
            sender: sender.key_id(),
            expected,
            found: expected + 1
        })
    );
    // The last entry dropped: the last checkpoint commits to a leaf that is not there.
    t.leaves = c.leaves.clone();
    t.leaves.pop();
    assert_eq!(
        run(&t, &cps),
        Err(AuditError::CheckpointBeyondLog {
            size: N as u64 + 1,
            leaves: N as u64
        })
    );
}

#[test]
fn swapped_entries_are_found() {
    let c = Channel::with_entries(N, 0, 0);
    let cps = checkpoints(&c);
    let mut t = Channel::with_entries(0, 0, 0);
    // Same sender: a sequence out of order.
    assert_eq!(Channel::sender_of(600), Channel::sender_of(601));
    t.leaves = c.leaves.clone();
    t.leaves.swap(600, 601);
    assert!(matches!(
        run(&t, &cps),
        Err(AuditError::SequenceGap { index: 600, .. })
    ));
    // Different senders, no replies between them: every entry is fine on its own, and the
    // next checkpoint's root gives it away.
    assert_ne!(Channel::sender_of(602), Channel::sender_of(603));
    t.leaves = c.leaves.clone();
    t.leaves.swap(602, 603);
    assert!(matches!(
        run(&t, &cps),
        Err(AuditError::RootMismatch { size: 777, .. })
    ));
    // A response swapped with what it answers: it now answers itself.
    t.leaves = c.leaves.clone();
    t.leaves.swap(604, 605);
    assert_eq!(
        run(&t, &cps),
        Err(AuditError::Entry {
            index: 604,
            error: EntryError::ReplyToNotEarlier {
                index: 604,
                reply_to: 604
            }
        })
    );
}

#[test]
fn a_forged_signature_is_found() {
    // Entry 300 claims bravo's or alpha's name but is signed by the other party.
    let who = Channel::sender_of(300);
    let c = edited(&|i, _| {
        (i == 300).then(|| {
            if who == 0 {
                TestKey::new("test.example/bravo")
            } else {
                TestKey::new("test.example/alpha")
            }
        })
    });
    let cps = checkpoints(&c);
    assert!(matches!(
        run(&c, &cps),
        Err(AuditError::Entry {
            index: 300,
            error: EntryError::SignatureKeyMismatch { .. }
        })
    ));
    // Signed with a stranger's key that has the party's name: the key ID differs.
    let c = edited(&|i, e| {
        (i == 300).then(|| {
            let mut k = TestKey::new("test.example/mallory");
            k.name = if who == 0 {
                "test.example/alpha".into()
            } else {
                "test.example/bravo".into()
            };
            let _ = e;
            k
        })
    });
    assert!(matches!(
        run(&c, &cps),
        Err(AuditError::Entry { index: 300, .. })
    ));
    // Same key ID, wrong signature bytes.
    let c0 = Channel::with_entries(N, 0, 0);
    let mut c = Channel::with_entries(0, 0, 0);
    c.leaves = c0.leaves.clone();
    let len = c.leaves[300].len();
    c.leaves[300][len - 64..].copy_from_slice(&c0.leaves[301][c0.leaves[301].len() - 64..]);
    assert!(matches!(
        run(&c, &checkpoints(&c0)),
        Err(AuditError::Entry {
            index: 300,
            error: EntryError::BadSignature { .. }
        })
    ));
}

#[test]
fn a_sequence_gap_is_found() {
    let c = edited(&|i, e| {
        if i >= 700 && Channel::sender_of(i) == Channel::sender_of(700) {
            e.sequence += 1;
        }
        None
    });
    let cps = checkpoints(&c);
    assert!(matches!(
        run(&c, &cps),
        Err(AuditError::SequenceGap { index: 700, .. })
    ));
    // A repeated sequence (a replay).
    let c = edited(&|i, e| {
        if i >= 700 && Channel::sender_of(i) == Channel::sender_of(700) {
            e.sequence -= 1;
        }
        None
    });
    match run(&c, &checkpoints(&c)) {
        Err(AuditError::SequenceGap {
            index: 700,
            expected,
            found,
            ..
        }) => assert_eq!(found + 1, expected),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_reply_to_pointing_forward_is_found() {
    let c = edited(&|i, e| {
        if i == 700 {
            e.reply_to = Some(800);
        }
        None
    });
    assert_eq!(
        run(&c, &checkpoints(&c)),
        Err(AuditError::Entry {
            index: 700,
            error: EntryError::ReplyToNotEarlier {
                index: 700,
                reply_to: 800
            }
        })
    );
}

#[test]
fn a_checkpoint_whose_root_does_not_match_is_found() {
    let c = Channel::with_entries(N, 0, 0);
    let mut cps = checkpoints(&c);
    // Size 500, but the root of 499 leaves, properly signed and co-signed.
    let root = c.root(499);
    cps[4] = note(
        ORIGIN,
        500,
        &root,
        Some(&c.alpha),
        &[(&c.bravo, cosigned_at(500))],
    );
    assert_eq!(
        run(&c, &cps),
        Err(AuditError::RootMismatch {
            size: 500,
            checkpoint_root: root,
            computed_root: c.root(500)
        })
    );
}

#[test]
fn a_checkpoint_without_the_cosignature_is_found() {
    let c = Channel::with_entries(N, 0, 0);
    let mut cps = checkpoints(&c);
    cps[4] = note(ORIGIN, 500, &c.root(500), Some(&c.alpha), &[]);
    assert!(matches!(
        run(&c, &cps),
        Err(AuditError::NotCommitted {
            size: Some(500),
            error: CommitError::MissingCosignature(_)
        })
    ));
    // Without the log's signature.
    cps[4] = note(
        ORIGIN,
        500,
        &c.root(500),
        None,
        &[(&c.bravo, cosigned_at(500))],
    );
    assert!(matches!(
        run(&c, &cps),
        Err(AuditError::NotCommitted {
            size: Some(500),
            error: CommitError::MissingLogSignature(_)
        })
    ));
    // Too few witnesses, when the genesis asks for them.
    let w = Channel::with_entries(50, 2, 2);
    let root = w.root(51);
    let one = note(
        ORIGIN,
        51,
        &root,
        Some(&w.alpha),
        &[
            (&w.bravo, cosigned_at(51)),
            (&w.witnesses[0], cosigned_at(51)),
        ],
    );
    assert!(matches!(
        audit::audit(w.leaves.clone(), &[one], trust(&w)),
        Err(AuditError::NotCommitted {
            size: Some(51),
            error: CommitError::NotEnoughWitnesses {
                found: 1,
                required: 2
            }
        })
    ));
    assert!(audit::audit(
        w.leaves.clone(),
        &[w.checkpoint(51, cosigned_at(51))],
        trust(&w)
    )
    .is_ok());
}

#[test]
fn timestamps_are_bounded() {
    // Entry 62 claims a time an hour after the checkpoint of 64 was co-signed. (Its
    // sender's next entry is 66, so nothing else fails before the checkpoint of 64.)
    assert_eq!(Channel::sender_of(62), 0);
    assert!((63..66).all(|i| Channel::sender_of(i) == 1));
    let late = T0_MS + 3_600_000;
    let c = edited(&|i, e| {
        if i == 62 {
            e.timestamp_ms = late;
        }
        None
    });
    let cps: Vec<_> = SIZES
        .iter()
        .map(|&s| c.checkpoint(s, cosigned_at(s)))
        .collect();
    assert_eq!(
        run(&c, &cps),
        Err(AuditError::TimestampAfterCosignature {
            index: 62,
            timestamp_ms: late,
            checkpoint_size: 64,
            cosigned_at: cosigned_at(64),
        })
    );
    // Fed late (each checkpoint after its leaves), the same entry is named.
    let mut auditor = Auditor::new(trust(&c)).unwrap();
    let mut result = Ok(());
    'feed: for leaf in &c.leaves {
        if let Err(e) = auditor.push_leaf(leaf) {
            result = Err(e);
            break;
        }
        for (s, cp) in SIZES.iter().zip(&cps) {
            if *s as u64 == auditor.leaves() {
                if let Err(e) = auditor.check_checkpoint(cp) {
                    result = Err(e);
                    break 'feed;
                }
            }
        }
    }
    assert_eq!(
        result,
        Err(AuditError::TimestampAfterCosignature {
            index: 62,
            timestamp_ms: late,
            checkpoint_size: 64,
            cosigned_at: cosigned_at(64),
        })
    );

    // An entry earlier than its sender's previous one.
    let c = edited(&|i, e| {
        if i == 90 {
            e.timestamp_ms = T0_MS + 10;
        }
        None
    });
    assert!(matches!(
        run(&c, &checkpoints(&c)),
        Err(AuditError::TimestampBeforePrevious { index: 90, timestamp_ms, .. }) if timestamp_ms == T0_MS + 10
    ));
    // An entry (bravo's first, so no previous one of its own) well before the genesis.
    assert_eq!((Channel::sender_of(1), Channel::sender_of(3)), (0, 1));
    let c = edited(&|i, e| {
        if i == 3 {
            e.timestamp_ms = T0_MS - 301_000;
        }
        None
    });
    assert_eq!(
        run(&c, &checkpoints(&c)),
        Err(AuditError::TimestampBeforeGenesis {
            index: 3,
            timestamp_ms: T0_MS - 301_000,
            minimum_ms: T0_MS - 300_000
        })
    );
    // Within the skew is fine.
    let c = edited(&|i, e| {
        if i == 3 {
            e.timestamp_ms = T0_MS - 300_000;
        }
        None
    });
    assert!(run(&c, &checkpoints(&c)).is_ok());
}

#[test]
fn checkpoint_order_and_conflicts() {
    let c = Channel::with_entries(200, 0, 0);
    let cp = |s: usize| c.checkpoint(s, cosigned_at(s));
    let new = || Auditor::new(trust(&c)).unwrap();

    let mut a = new();
    assert_eq!(
        a.check_checkpoint(&cp(1)),
        Err(AuditError::CheckpointBeforeGenesis)
    );

    // Backwards.
    let mut a = new();
    a.push_leaf(&c.leaves[0]).unwrap();
    a.check_checkpoint(&cp(100)).unwrap();
    assert_eq!(
        a.check_checkpoint(&cp(50)),
        Err(AuditError::CheckpointBackwards {
            size: 50,
            previous: 100
        })
    );
    // The auditor stays failed.
    assert!(a.push_leaf(&c.leaves[1]).is_err());

    // Too late for the frontier.
    let mut a = new();
    for leaf in &c.leaves[..60] {
        a.push_leaf(leaf).unwrap();
    }
    assert_eq!(
        a.check_checkpoint(&cp(50)),
        Err(AuditError::CheckpointTooLate {
            size: 50,
            leaves: 60
        })
    );

    // Two different roots for one size: equivocation, with evidence that verifies.
    let mut a = new();
    a.push_leaf(&c.leaves[0]).unwrap();
    a.check_checkpoint(&cp(100)).unwrap();
    let forked = note(
        ORIGIN,
        100,
        &[7; 32],
        Some(&c.alpha),
        &[(&c.bravo, cosigned_at(100))],
    );
    match a.check_checkpoint(&forked) {
        Err(AuditError::ConflictingCheckpoints {
            size: 100,
            evidence,
        }) => {
            let v = equivocation::verify(&evidence, &c.alpha.log_vkey(ORIGIN)).unwrap();
            assert_eq!(v.first.size, 100);
            equivocation::verify(&evidence, &c.bravo.cosignature_vkey()).unwrap();
        }
        other => panic!("{other:?}"),
    }
    // The same checkpoint twice is fine.
    let mut a = new();
    a.push_leaf(&c.leaves[0]).unwrap();
    a.check_checkpoint(&cp(100)).unwrap();
    a.check_checkpoint(&cp(100)).unwrap();

    // Another channel's checkpoint.
    let mut a = new();
    a.push_leaf(&c.leaves[0]).unwrap();
    let other = note(
        "test.example/other",
        1,
        &c.root(1),
        Some(&c.alpha),
        &[(&c.bravo, 1)],
    );
    assert!(matches!(
        a.check_checkpoint(&other),
        Err(AuditError::NotCommitted { size: Some(1), .. })
    ));
}

#[test]
fn the_genesis_must_be_the_trusted_one() {
    let c = Channel::with_entries(5, 0, 0);
    let stranger = TestKey::new("test.example/stranger");
    let a = Auditor::from_parties(c.alpha.entry_vkey(), stranger.entry_vkey());
    let mut a = a.unwrap();
    assert_eq!(a.push_leaf(&c.leaves[0]), Err(AuditError::UntrustedGenesis));
    let mut g = c.genesis.clone();
    g.max_clock_skew_s = 1;
    let mut a = Auditor::from_genesis(g).unwrap();
    assert_eq!(a.push_leaf(&c.leaves[0]), Err(AuditError::UntrustedGenesis));
    let mut a = Auditor::from_genesis(c.genesis.clone()).unwrap();
    assert!(matches!(
        a.push_leaf(&c.leaves[1]),
        Err(AuditError::Entry {
            index: 0,
            error: EntryError::FirstNotGenesis { .. }
        })
    ));
    assert!(Auditor::from_parties(c.alpha.cosignature_vkey(), c.bravo.entry_vkey()).is_err());
    assert_eq!(
        audit::audit(Vec::<Vec<u8>>::new(), &[], trust(&c)),
        Err(AuditError::EmptyLog)
    );
    assert!(matches!(
        audit::audit(c.leaves.clone(), &[b"not a note".to_vec()], trust(&c)),
        Err(AuditError::NotCommitted { size: None, .. })
    ));
}

/// The report names each distinct attachment (SHA-256 and size) once, with the first entry
/// naming it, in index order: what the CLI checks the attachment bytes against.
#[test]
fn the_report_lists_each_attachment_once_with_the_first_entry_naming_it() {
    use dyad_verifier::entry::Attachment;
    let file = |byte: u8, size: u64| Attachment {
        sha256: [byte; 32],
        size,
        name: format!("file-{byte}-{size}.txt"),
        content_type: "text/plain".to_owned(),
    };
    // Entries 2, 8, 11 and 14 are notifications.
    let named: &[(u64, &[(u8, u64)])] = &[
        (2, &[(1, 10)]),
        (8, &[(1, 10)]),
        (11, &[(1, 10), (2, 5)]),
        (14, &[(1, 11)]),
    ];
    let c = edited(&|i, e| {
        if let Some((_, files)) = named.iter().find(|(at, _)| *at == i) {
            e.attachments = files.iter().map(|&(b, s)| file(b, s)).collect();
        }
        None
    });
    let report = run(&c, &checkpoints(&c)).unwrap();
    // The synthetic log's own attachments (on entry 4) are listed too; these are ours.
    let listed: Vec<(u64, Attachment)> = report
        .attachments
        .into_iter()
        .filter(|n| n.attachment.name.starts_with("file-"))
        .map(|n| (n.index, n.attachment))
        .collect();
    assert_eq!(
        listed,
        vec![(2, file(1, 10)), (11, file(2, 5)), (14, file(1, 11))]
    );
}
