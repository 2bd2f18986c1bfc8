//! Signatures checked ahead of staging (`Channel::signature_check`): the verdicts are the
//! ones checking them at staging gives, a memo made for other entries or before a key
//! change (spec/dyad.md 3.7) decides nothing, and the co-signer takes a batch checked
//! before its lock.

use dyad_ledger::channel::{ChannelError, EntryRefusal, Role};
use dyad_ledger::entry::SignedEntry;
use dyad_ledger::keys::SignerKey;
use dyad_testkit::channel::{message, Replicas, ORIGIN, T0};

/// `n` messages from bravo, numbered on from its next sequence number.
fn from_bravo(p: &Replicas, key: &SignerKey, n: u64) -> Vec<SignedEntry> {
    let first = p.seq.next_sequence(p.bravo.key_id()).unwrap();
    (0..n)
        .map(|i| message(i).sign(key, ORIGIN, first + i, T0 + 1).unwrap())
        .collect()
}

/// Flips a bit of entry `i`'s signature, re-encoding it (so its leaf hash is its own).
fn spoil(entries: &mut [SignedEntry], i: usize) {
    entries[i].entry.signatures[0].signature[7] ^= 1;
    entries[i] = SignedEntry::new(entries[i].entry.clone()).unwrap();
}

fn is_bad_signature(e: &ChannelError, at: u64) -> bool {
    matches!(e, ChannelError::Refused(EntryRefusal::BadSignature { index }) if *index == at)
}

#[test]
fn signatures_checked_ahead_give_the_verdicts_of_staging() {
    for bad in [0usize, 31, 63] {
        let mut p = Replicas::new();
        let mut batch = from_bravo(&p, &p.bravo.clone(), 64);
        spoil(&mut batch, bad);
        let ahead = p.seq.signature_check().check(&batch);
        assert_eq!(ahead.len(), 63, "every good signature is remembered");
        let err = p
            .seq
            .append_signed_checked(&batch, T0 + 1, &ahead)
            .unwrap_err();
        assert!(is_bad_signature(&err, 1 + bad as u64), "{err}");
        assert_eq!(p.seq.size(), 1, "nothing of the batch is written");
        // One by one, the bad entry alone is refused, and its sender's later ones meet
        // the gap it leaves.
        let staged = p.seq.stage_each_checked(&batch, T0 + 1, &ahead).unwrap();
        let refused: Vec<usize> = (0..64).filter(|&i| staged.results()[i].is_err()).collect();
        assert_eq!(refused, (bad..64).collect::<Vec<_>>());
        batch.truncate(bad);
        let appended = p.seq.append_signed_checked(&batch, T0 + 1, &ahead).unwrap();
        assert_eq!(appended.len(), bad);
    }
}

#[test]
fn a_memo_for_other_entries_decides_nothing() {
    let mut p = Replicas::new();
    let good = from_bravo(&p, &p.bravo.clone(), 8);
    let ahead = p.seq.signature_check().check(&good);
    let mut other = good.clone();
    spoil(&mut other, 3);
    let err = p
        .seq
        .append_signed_checked(&other, T0 + 1, &ahead)
        .unwrap_err();
    assert!(is_bad_signature(&err, 4), "{err}");
    // Signed by a stranger under bravo's key ID: no memo makes it bravo's.
    let stranger = SignerKey::from_seed("example.org/bravo", [77; 32]).unwrap();
    let mut forged = from_bravo(&p, &stranger, 1);
    forged[0].entry.body.sender = p.bravo.key_id();
    forged[0].entry.signatures[0].key_id = p.bravo.key_id();
    let forged = vec![SignedEntry::new(forged[0].entry.clone()).unwrap()];
    let ahead = p.seq.signature_check().check(&forged);
    assert!(ahead.is_empty());
    let err = p
        .seq
        .append_signed_checked(&forged, T0 + 1, &ahead)
        .unwrap_err();
    assert!(is_bad_signature(&err, 1), "{err}");
    assert_eq!(p.seq.size(), 1);
}

#[test]
fn a_memo_made_before_a_key_change_is_not_trusted_after_it() {
    let mut p = Replicas::new();
    let old = p.bravo.clone();
    let stale = from_bravo(&p, &old, 2);
    let ahead = p.seq.signature_check().check(&stale);
    assert_eq!(ahead.len(), 2, "good when checked");
    let new = SignerKey::from_seed("example.org/bravo", [12; 32]).unwrap();
    let change = p.cos.queue_key_change(&old, &new, T0 + 1).unwrap();
    p.seq.append_signed(&[change], T0 + 1).unwrap();
    let err = p
        .seq
        .append_signed_checked(&stale, T0 + 2, &ahead)
        .unwrap_err();
    assert!(
        matches!(err, ChannelError::Refused(EntryRefusal::RetiredKey { .. })),
        "{err}"
    );
    // Under the new key the same messages go in, checked ahead under the new keys.
    let fresh = from_bravo(&p, &new, 2);
    let ahead = p.seq.signature_check().check(&fresh);
    assert_eq!(ahead.len(), 2);
    assert_eq!(
        p.seq
            .append_signed_checked(&fresh, T0 + 2, &ahead)
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn the_cosigner_takes_a_batch_checked_before_its_lock() {
    let mut p = Replicas::new();
    let batch = from_bravo(&p, &p.bravo.clone(), 40);
    p.seq.append_signed(&batch, T0 + 1).unwrap();
    let note = p.seq.sign_checkpoint(&p.alpha).unwrap();
    let entries = p.new_entries();
    let decoded: Vec<SignedEntry> = entries
        .iter()
        .map(|b| SignedEntry::decode(b).unwrap())
        .collect();
    let ahead = p.cos.signature_check().check(&decoded);
    assert_eq!(ahead.len(), 40);
    let bravo = p.bravo.clone();
    let cosigned = p
        .cos
        .accept_and_cosign_checked(&bravo, &entries, &note, (T0 + 2, &ahead))
        .unwrap();
    p.seq.add_committed_checkpoint(&cosigned).unwrap();
    assert_eq!(p.cos.committed_size().unwrap(), 41);
    assert_eq!(p.cos.role(), Role::Cosigner);
}
