//! Two replicas of one channel: appends, co-signing, proofs, and what each kind of
//! tampering by the peer is rejected as.

use dyad_ledger::channel::{Channel, ChannelError, EntryRefusal};
use dyad_ledger::entry::{Draft, Kind};
use dyad_testkit::channel::{message, stranger, Replicas, ORIGIN, T0};
use dyad_verifier::hash::leaf_hash;
use dyad_verifier::proof::{verify_consistency, verify_inclusion};

#[test]
fn exchange_commits_on_both_replicas_and_proofs_verify() {
    let mut p = Replicas::new();
    let drafts: Vec<Draft> = (1..=20).map(message).collect();
    let appended = p.seq.append_own(&p.alpha, drafts, T0 + 1000).unwrap();
    assert_eq!(
        appended.iter().map(|a| a.index).collect::<Vec<_>>(),
        (1..=20).collect::<Vec<_>>()
    );
    assert_eq!(
        p.seq.committed_size().unwrap(),
        0,
        "nothing is committed before the co-signature"
    );

    let reply = Draft::new(
        Kind::Response,
        "re: message 3",
        "text/plain",
        b"ack".to_vec(),
    )
    .reply_to(3);
    let queued = p.cos.queue_own(&p.bravo, reply, T0 + 2000).unwrap();
    assert_eq!(p.cos.queued().unwrap(), vec![queued.clone()]);
    assert_eq!(p.cos.queued_len().unwrap(), 1);
    assert_eq!(
        p.cos.next_sequence(p.bravo.key_id()).unwrap(),
        2,
        "the queue counts"
    );
    let landed = p
        .seq
        .append_signed(std::slice::from_ref(&queued), T0 + 2000)
        .unwrap();
    assert_eq!(landed[0].index, 21);
    // Idempotent: the same submission again gets the same index and writes nothing.
    let again = p.seq.append_signed(&[queued], T0 + 2000).unwrap();
    assert!(again[0].existing && again[0].index == 21 && p.seq.size() == 22);

    let old_root = p.cos.store().root();
    p.sync(T0 + 3000);
    assert_eq!(p.cos.size(), 22);
    assert_eq!(p.cos.store().root(), p.seq.store().root());
    assert_eq!(p.seq.committed_size().unwrap(), 22);
    assert_eq!(p.cos.committed_size().unwrap(), 22);
    assert!(
        p.cos.queued().unwrap().is_empty(),
        "the queue empties once the message is in the log"
    );
    assert_eq!(
        (
            p.seq.latest_signed_size().unwrap(),
            p.cos.latest_signed_size().unwrap()
        ),
        (22, 22)
    );

    let root = p.seq.store().root();
    for index in [0, 1, 13, 21] {
        let proof = p.seq.store().inclusion_proof(index, 22).unwrap();
        let leaf = p.seq.store().leaf(index).unwrap();
        verify_inclusion(&leaf_hash(&leaf), index, 22, &proof, &root).unwrap();
    }
    let proof = p.seq.store().consistency_proof(1, 22).unwrap();
    verify_consistency(1, 22, &old_root, &root, &proof).unwrap();

    // Both replicas reopen with the same committed state.
    let cos_dir = p.cos.store().dir().to_path_buf();
    drop(p.cos);
    let reopened = Channel::open(&cos_dir).unwrap();
    assert_eq!(reopened.committed_size().unwrap(), 22);
}

fn tamper_case(mutate: impl FnOnce(&mut Vec<Vec<u8>>)) -> ChannelError {
    let mut p = Replicas::new();
    p.seq
        .append_own(&p.alpha, (1..=5).map(message).collect(), T0 + 1000)
        .unwrap();
    let signed = p.seq.sign_checkpoint(&p.alpha).unwrap();
    let mut entries = p.new_entries();
    mutate(&mut entries);
    let err = p
        .cos
        .accept_and_cosign(&p.bravo, &entries, &signed, T0 + 2000)
        .unwrap_err();
    assert_eq!(
        p.cos.size(),
        1,
        "nothing may be stored from a rejected batch"
    );
    err
}

#[test]
fn changed_entry_byte_is_rejected() {
    let err = tamper_case(|e| {
        let b = &mut e[2];
        // The payload ends 84 bytes before the end: attachment count (8), signature count
        // (8), key id (4), signature (64).
        let at = b.len() - 85;
        b[at] ^= 0x20;
    });
    assert!(
        matches!(
            err,
            ChannelError::Refused(EntryRefusal::BadSignature { index: 3 })
        ),
        "{err}"
    );
}

#[test]
fn dropped_entry_is_rejected() {
    let err = tamper_case(|e| {
        e.remove(2);
    });
    assert!(
        matches!(err, ChannelError::EntryCountMismatch { .. }),
        "{err}"
    );
}

#[test]
fn dropped_entry_with_forged_count_is_a_sequence_gap() {
    let err = tamper_case(|e| {
        let last = e.last().unwrap().clone();
        e.remove(2);
        e.push(last);
    });
    assert!(
        matches!(
            err,
            ChannelError::Refused(EntryRefusal::SequenceGap {
                index: 3,
                expected: 3,
                found: 4,
                ..
            })
        ),
        "{err}"
    );
}

#[test]
fn reordered_entries_are_rejected() {
    let err = tamper_case(|e| e.swap(1, 2));
    assert!(
        matches!(
            err,
            ChannelError::Refused(EntryRefusal::SequenceGap {
                index: 2,
                expected: 2,
                found: 3,
                ..
            })
        ),
        "{err}"
    );
}

#[test]
fn wrong_signature_is_rejected() {
    let err = tamper_case(|e| {
        let b = &mut e[0];
        let last = b.len() - 1;
        b[last] ^= 1;
    });
    assert!(
        matches!(
            err,
            ChannelError::Refused(EntryRefusal::BadSignature { index: 1 })
        ),
        "{err}"
    );
}

#[test]
fn checkpoint_with_a_different_root_is_refused_and_kept() {
    let mut p = Replicas::new();
    p.seq
        .append_own(&p.alpha, (1..=3).map(message).collect(), T0 + 1000)
        .unwrap();
    let signed = p.seq.sign_checkpoint(&p.alpha).unwrap();
    // A sequencer that signed one tree but sends the entries of another.
    let mut entries = p.new_entries();
    let other = message(99).sign(&p.alpha, ORIGIN, 3, T0 + 1000).unwrap();
    entries[2] = other.bytes;
    let err = p
        .cos
        .accept_and_cosign(&p.bravo, &entries, &signed, T0 + 2000)
        .unwrap_err();
    assert!(
        matches!(err, ChannelError::RootMismatch { size: 4, .. }),
        "{err}"
    );
    assert_eq!(p.cos.size(), 1);
}

#[test]
fn forged_or_incomplete_checkpoints_are_not_committed() {
    let mut p = Replicas::new();
    p.seq
        .append_own(&p.alpha, vec![message(1)], T0 + 1000)
        .unwrap();
    let signed = p.seq.sign_checkpoint(&p.alpha).unwrap();
    // Without the co-signature it is not committed.
    assert!(matches!(
        p.seq.add_committed_checkpoint(&signed),
        Err(ChannelError::MissingCosignature)
    ));
    // Signed by a stranger claiming the log's name: not the log key.
    let stranger = stranger();
    let text = p.seq.checkpoint_text();
    let log_key_id = p.seq.genesis().log_key().unwrap().key_id();
    let forged_sig = stranger.sign(text.as_bytes());
    let forged = format!(
        "{text}\n{}",
        dyad_verifier::note::signature_line(ORIGIN, log_key_id, &forged_sig)
    );
    let entries = p.new_entries();
    assert!(p
        .cos
        .accept_and_cosign(&p.bravo, &entries, forged.as_bytes(), T0 + 2000)
        .is_err());
    assert_eq!(p.cos.size(), 1);
}

#[test]
fn replayed_and_foreign_entries_are_rejected_by_the_sequencer() {
    let mut p = Replicas::new();
    let first = p.cos.queue_own(&p.bravo, message(1), T0 + 1000).unwrap();
    p.seq
        .append_signed(std::slice::from_ref(&first), T0 + 1000)
        .unwrap();
    // The same message under a new signature but an old sequence number is a replay.
    let replay = message(1).sign(&p.bravo, ORIGIN, 1, T0 + 1500).unwrap();
    let err = p.seq.append_signed(&[replay], T0 + 2000).unwrap_err();
    assert!(
        matches!(
            err,
            ChannelError::Refused(EntryRefusal::SequenceGap {
                expected: 2,
                found: 1,
                ..
            })
        ),
        "{err}"
    );
    // A message signed for another channel.
    let foreign = message(2)
        .sign(&p.bravo, "example.org/dyad/other", 2, T0 + 1500)
        .unwrap();
    assert!(matches!(
        p.seq.append_signed(&[foreign], T0 + 2000),
        Err(ChannelError::Refused(EntryRefusal::WrongOrigin { .. }))
    ));
    // A message from someone who is not a party.
    let stranger = stranger();
    let alien = message(3).sign(&stranger, ORIGIN, 1, T0 + 1500).unwrap();
    assert!(matches!(
        p.seq.append_signed(&[alien], T0 + 2000),
        Err(ChannelError::Refused(EntryRefusal::UnknownSender { .. }))
    ));
    // A timestamp far in the sequencer's future.
    let future = message(4)
        .sign(&p.bravo, ORIGIN, 2, T0 + 10_000_000)
        .unwrap();
    assert!(matches!(
        p.seq.append_signed(&[future], T0 + 2000),
        Err(ChannelError::Refused(
            EntryRefusal::TimestampInFuture { .. }
        ))
    ));
    assert_eq!(p.seq.size(), 2);
}

#[test]
fn a_stale_checkpoint_is_a_rollback() {
    let mut p = Replicas::new();
    p.seq
        .append_own(&p.alpha, vec![message(1)], T0 + 1000)
        .unwrap();
    let old = p.seq.sign_checkpoint(&p.alpha).unwrap();
    let entries = p.new_entries();
    p.cos
        .accept_and_cosign(&p.bravo, &entries, &old, T0 + 2000)
        .unwrap();
    p.seq
        .append_own(&p.alpha, vec![message(2)], T0 + 3000)
        .unwrap();
    p.sync(T0 + 4000);
    let err = p
        .cos
        .accept_and_cosign(&p.bravo, &[], &old, T0 + 5000)
        .unwrap_err();
    assert!(
        matches!(err, ChannelError::Rollback { size: 2, held: 3 }),
        "{err}"
    );
}

#[test]
fn only_the_parties_own_keys_and_roles_may_act() {
    let mut p = Replicas::new();
    let err = p
        .cos
        .append_own(&p.bravo, vec![message(1)], T0)
        .unwrap_err();
    assert!(matches!(err, ChannelError::WrongRole { .. }));
    let err = p
        .seq
        .append_own(&p.bravo, vec![message(1)], T0)
        .unwrap_err();
    assert!(matches!(err, ChannelError::NotOurKey { .. }));
}

/// `Draft::check` is the channel's own rules for a draft: each bad draft is refused by it
/// with the refusal appending it gives, and a draft it passes is appended. (A genesis
/// draft is refused by both, by appending already when signing: it has one signature.)
#[test]
fn draft_check_refuses_what_appending_refuses() {
    let mut p = Replicas::new();
    p.seq
        .append_own(&p.alpha, vec![message(1)], T0 + 1000)
        .unwrap();
    let genesis = p.seq.genesis().clone();
    let with = |f: fn(&mut Draft)| {
        let mut d = message(2);
        f(&mut d);
        d
    };
    let bad = [
        with(|d| d.subject = "a\u{202e}b".into()),
        with(|d| d.subject = "bell\u{7}".into()),
        with(|d| d.subject = "x".repeat(1025)),
        with(|d| d.content_type = "t\u{e9}xt".into()),
        with(|d| d.payload = vec![0; 61_441]),
        with(|d| d.kind = Kind::Response),
        with(|d| d.reply_to = Some(0)),
        with(|d| d.reply_to = Some(2)),
    ];
    for draft in bad {
        let index = p.seq.size();
        let checked = draft.check(&genesis, index).unwrap_err();
        let appended = p
            .seq
            .append_own(&p.alpha, vec![draft.clone()], T0 + 2000)
            .unwrap_err();
        assert!(
            matches!(&appended, ChannelError::Refused(r) if *r == checked),
            "{draft:?}: check says {checked}, appending says {appended}"
        );
    }
    let genesis_kind = with(|d| d.kind = Kind::Genesis);
    assert!(matches!(
        genesis_kind.check(&genesis, 2),
        Err(EntryRefusal::GenesisNotFirst { index: 2 })
    ));
    assert!(p
        .seq
        .append_own(&p.alpha, vec![genesis_kind], T0 + 2000)
        .is_err());
    assert!(matches!(
        with(|d| d.subject = "a\u{202e}b".into()).check(&genesis, 2),
        Err(EntryRefusal::Invalid {
            index: 2,
            source: dyad_ledger::entry::EntryError::BadSubject
        })
    ));
    let good = with(|d| {
        d.kind = Kind::Response;
        d.reply_to = Some(1);
    });
    good.check(&genesis, p.seq.size()).unwrap();
    p.seq.append_own(&p.alpha, vec![good], T0 + 2000).unwrap();
    assert_eq!(p.seq.size(), 3);
}
