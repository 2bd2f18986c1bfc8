//! Key changes (spec/dyad.md 3.7) on two replicas: each party rotates mid-channel, its
//! entries and checkpoints move to the new key, the retired key is refused everywhere
//! (appending, signing, co-signing), forged key changes are refused by name, and the key
//! state survives reopening the stores.

use dyad_ledger::channel::{Channel, ChannelError, EntryRefusal, Role};
use dyad_ledger::entry::key_change::{KeyChange, KeyChangeError};
use dyad_ledger::entry::SignedEntry;
use dyad_ledger::keys::SignerKey;
use dyad_testkit::channel::{exchange, message, stranger, Replicas, ORIGIN, T0};

fn new_key(name: &str, seed: u8) -> SignerKey {
    SignerKey::from_seed(name, [seed; 32]).unwrap()
}

/// A message signed by `key` as its party's next message.
fn signed_by(ch: &Channel, key: &SignerKey, party_key_id: u32, i: u64, t: u64) -> SignedEntry {
    let sequence = ch.next_sequence(party_key_id).unwrap();
    message(i).sign(key, ORIGIN, sequence, t).unwrap()
}

/// Rotates `role`'s key from `old` to `new` as the CLI does without a node: the sequencer
/// appends its key change; the co-signer queues it and the sequencer appends the queue.
fn rotate(p: &mut Replicas, role: Role, old: &SignerKey, new: &SignerKey, t: u64) -> u64 {
    match role {
        Role::Sequencer => p.seq.append_key_change(old, new, t).unwrap().index,
        Role::Cosigner => {
            let e = p.cos.queue_key_change(old, new, t).unwrap();
            p.seq.append_signed(&[e], t).unwrap()[0].index
        }
    }
}

/// Which refusal a case expects.
type Expect = fn(&EntryRefusal) -> bool;

fn is_refused(e: &ChannelError, want: Expect) -> bool {
    matches!(e, ChannelError::Refused(r) if want(r))
}

#[test]
fn each_party_rotates_mid_channel_and_its_retired_key_is_refused() {
    for role in [Role::Sequencer, Role::Cosigner] {
        let mut p = Replicas::new();
        p.seq
            .append_own(&p.alpha, vec![message(1)], T0 + 1)
            .unwrap();
        p.sync(T0 + 2);
        let (old, new) = match role {
            Role::Sequencer => (p.alpha.clone(), new_key("example.org/alpha", 11)),
            Role::Cosigner => (p.bravo.clone(), new_key("example.org/bravo", 12)),
        };
        let at = rotate(&mut p, role, &old, &new, T0 + 3);
        assert_eq!(p.seq.key_change_indices(), vec![at], "{role:?}");
        let keys = match role {
            Role::Sequencer => [&new, &p.bravo],
            Role::Cosigner => [&p.alpha, &new],
        };
        // The co-signer takes the batch holding the key change: the log's note is signed,
        // and co-signed, with the keys at its size, the new ones.
        let note = exchange(&mut p.seq, &mut p.cos, keys, T0 + 4);
        assert_eq!(p.cos.committed_size().unwrap(), at + 1);
        assert!(String::from_utf8(note).unwrap().contains("example.org"));
        assert_eq!(p.seq.current_party(role).public_key, new.public_key());
        assert_eq!(p.seq.party_at(role, at).public_key, old.public_key());
        assert_eq!(p.seq.party_at(role, at + 1).public_key, new.public_key());

        // An entry under the new key is accepted; one under the retired key is refused.
        let old_id = old.key_id();
        let good = signed_by(&p.seq, &new, old_id, 2, T0 + 5);
        p.seq.append_signed(&[good], T0 + 5).unwrap();
        let stale = signed_by(&p.seq, &old, old_id, 3, T0 + 5);
        let err = p.seq.append_signed(&[stale], T0 + 5).unwrap_err();
        assert!(
            is_refused(&err, |r| matches!(r, EntryRefusal::RetiredKey { .. })),
            "{role:?}: {err}"
        );
        // The retired key signs nothing for its own replica either.
        let err = match role {
            Role::Sequencer => p.seq.sign_checkpoint(&old).unwrap_err(),
            Role::Cosigner => p.cos.queue_own(&old, message(4), T0 + 5).unwrap_err(),
        };
        assert!(
            matches!(err, ChannelError::RetiredOwnKey { .. }),
            "{role:?}: {err}"
        );
        exchange(&mut p.seq, &mut p.cos, keys, T0 + 6);

        // Reopened, both replicas know the key change from their stores.
        let Replicas { dir, seq, cos, .. } = p;
        drop((seq, cos));
        let mut seq = Channel::open(&dir.path().join("alpha")).unwrap();
        let mut cos = Channel::open(&dir.path().join("bravo")).unwrap();
        assert!(seq.checkpoint_damage().is_none() && cos.checkpoint_damage().is_none());
        assert_eq!(cos.key_change_indices(), vec![at]);
        let stale = signed_by(&seq, &old, old_id, 5, T0 + 7);
        let err = seq.append_signed(&[stale], T0 + 7).unwrap_err();
        assert!(is_refused(&err, |r| matches!(
            r,
            EntryRefusal::RetiredKey { .. }
        )));
        let good = signed_by(&seq, &new, old_id, 5, T0 + 7);
        seq.append_signed(&[good], T0 + 7).unwrap();
        exchange(&mut seq, &mut cos, keys, T0 + 8);
        assert_eq!(cos.committed_size().unwrap(), seq.size());
    }
}

#[test]
fn forged_or_clashing_key_changes_are_refused_by_name() {
    let p = Replicas::new();
    let alpha = &p.alpha;
    let fresh = new_key("example.org/alpha", 21);
    let seq_no = p.seq.next_sequence(alpha.key_id()).unwrap();
    let draft = |new: &SignerKey, sender: u32| KeyChange::draft(ORIGIN, sender, seq_no, new);
    let cases: Vec<(&str, SignedEntry, Expect)> = vec![
        (
            "signed only by the new key",
            draft(&fresh, fresh.key_id())
                .sign(&fresh, ORIGIN, seq_no, T0 + 1)
                .unwrap(),
            |r| matches!(r, EntryRefusal::UnknownSender { .. }),
        ),
        (
            "by a stranger",
            draft(&fresh, stranger().key_id())
                .sign(&stranger(), ORIGIN, seq_no, T0 + 1)
                .unwrap(),
            |r| matches!(r, EntryRefusal::UnknownSender { .. }),
        ),
        (
            "new key's signature for another sequence",
            KeyChange::draft(ORIGIN, alpha.key_id(), seq_no + 1, &fresh)
                .sign(alpha, ORIGIN, seq_no, T0 + 1)
                .unwrap(),
            |r| {
                matches!(
                    r,
                    EntryRefusal::KeyChange {
                        source: KeyChangeError::BadNewKeySignature,
                        ..
                    }
                )
            },
        ),
        (
            "the other party's key",
            draft(&new_key("example.org/alpha", 2), alpha.key_id())
                .sign(alpha, ORIGIN, seq_no, T0 + 1)
                .unwrap(),
            |r| matches!(r, EntryRefusal::NewKeyReused { .. }),
        ),
        (
            "its own current key",
            draft(alpha, alpha.key_id())
                .sign(alpha, ORIGIN, seq_no, T0 + 1)
                .unwrap(),
            |r| matches!(r, EntryRefusal::NewKeyReused { .. }),
        ),
    ];
    for (name, entry, want) in cases {
        let mut p = Replicas::new();
        let err = p.seq.append_signed(&[entry], T0 + 1).unwrap_err();
        assert!(is_refused(&err, want), "{name}: {err}");
        assert_eq!(p.seq.size(), 1, "{name}: nothing written");
    }
}

#[test]
fn a_key_change_and_messages_under_the_new_key_land_in_one_batch() {
    let mut p = Replicas::new();
    let new = new_key("example.org/bravo", 31);
    let bravo = p.bravo.clone();
    let mut queued = vec![p.cos.queue_key_change(&bravo, &new, T0 + 1).unwrap()];
    // From the queued key change on, the co-signer signs only with the new key.
    let err = p.cos.queue_own(&bravo, message(1), T0 + 1).unwrap_err();
    assert!(matches!(err, ChannelError::RetiredOwnKey { .. }), "{err}");
    queued.push(p.cos.queue_own(&new, message(1), T0 + 1).unwrap());
    // A checkpoint below its key change would need the retired key: refused.
    let note = p.seq.sign_checkpoint(&p.alpha).unwrap();
    p.seq
        .append_own(&p.alpha, vec![message(2)], T0 + 1)
        .unwrap();
    let note2 = p.seq.sign_checkpoint(&p.alpha).unwrap();
    let err = p
        .cos
        .accept_and_cosign(&new, &p.new_entries(), &note2, T0 + 1)
        .unwrap_err();
    assert!(matches!(err, ChannelError::KeyNotCurrentAt { .. }), "{err}");
    drop(note);
    let landed = p.seq.append_signed(&queued, T0 + 2).unwrap();
    assert_eq!(landed.iter().map(|a| a.index).collect::<Vec<_>>(), [2, 3]);
    exchange(&mut p.seq, &mut p.cos, [&p.alpha, &new], T0 + 3);
    assert!(p.cos.queued().unwrap().is_empty(), "the queue empties");
    assert_eq!(p.cos.committed_size().unwrap(), 4);
}

#[test]
fn the_sequencer_signs_a_batch_holding_its_key_change_only_with_the_new_key() {
    let mut p = Replicas::new();
    let new = new_key("example.org/alpha", 41);
    let seq_no = p.seq.next_sequence(p.alpha.key_id()).unwrap();
    let change = KeyChange::draft(ORIGIN, p.alpha.key_id(), seq_no, &new)
        .sign(&p.alpha, ORIGIN, seq_no, T0 + 1)
        .unwrap();
    let after = message(1).sign(&new, ORIGIN, seq_no + 1, T0 + 1).unwrap();
    let staged = p
        .seq
        .stage_each(&[change.clone(), after.clone()], T0 + 1)
        .unwrap();
    assert!(!staged.any_refused());
    let err = p
        .seq
        .append_signed_and_sign(&p.alpha, &[change.clone(), after.clone()], T0 + 1)
        .unwrap_err();
    assert!(matches!(err, ChannelError::RetiredOwnKey { .. }), "{err}");
    assert_eq!(p.seq.size(), 1, "nothing written");
    let (results, note) = p.seq.commit_staged_and_sign(&new, staged).unwrap();
    assert!(results.iter().all(Result::is_ok) && note.is_some());
    let entries = p.new_entries();
    let cosigned = p
        .cos
        .accept_and_cosign(&p.bravo, &entries, &note.unwrap(), T0 + 2)
        .unwrap();
    p.seq.add_committed_checkpoint(&cosigned).unwrap();
    assert_eq!(p.seq.committed_size().unwrap(), 3);
}

#[test]
fn a_new_key_must_keep_the_party_name_and_be_fresh() {
    let mut p = Replicas::new();
    let alpha = p.alpha.clone();
    let err = p
        .seq
        .append_key_change(&alpha, &new_key("example.org/other", 51), T0 + 1)
        .unwrap_err();
    assert!(matches!(err, ChannelError::NewKeyName { .. }), "{err}");
    let err = p.seq.append_key_change(&alpha, &alpha, T0 + 1).unwrap_err();
    assert!(is_refused(&err, |r| matches!(
        r,
        EntryRefusal::NewKeyReused { .. }
    )));
    let first = new_key("example.org/alpha", 52);
    p.seq.append_key_change(&alpha, &first, T0 + 1).unwrap();
    // Back to the retired key: refused (a key ID names one key in the channel's history).
    let err = p.seq.append_key_change(&first, &alpha, T0 + 2).unwrap_err();
    assert!(is_refused(&err, |r| matches!(
        r,
        EntryRefusal::NewKeyReused { .. }
    )));
    let err = p
        .seq
        .append_own(&alpha, vec![message(1)], T0 + 2)
        .unwrap_err();
    assert!(matches!(err, ChannelError::RetiredOwnKey { .. }), "{err}");
}

#[test]
fn a_key_change_draft_is_not_a_message() {
    let mut p = Replicas::new();
    let new = new_key("example.org/alpha", 61);
    let draft = KeyChange::draft(ORIGIN, p.alpha.key_id(), 1, &new);
    let refused = draft.check(p.seq.genesis(), p.seq.size()).unwrap_err();
    assert!(
        matches!(refused, EntryRefusal::KeyChangeAsMessage { .. }),
        "{refused}"
    );
    let alpha = p.alpha.clone();
    let err = p
        .seq
        .append_own(&alpha, vec![draft.clone()], T0 + 1)
        .unwrap_err();
    assert!(is_refused(&err, |r| matches!(
        r,
        EntryRefusal::KeyChangeAsMessage { .. }
    )));
    let bravo = p.bravo.clone();
    let err = p.cos.queue_own(&bravo, draft, T0 + 1).unwrap_err();
    assert!(is_refused(&err, |r| matches!(
        r,
        EntryRefusal::KeyChangeAsMessage { .. }
    )));
    assert_eq!((p.seq.size(), p.cos.queued_len().unwrap()), (1, 0));
}
