//! Unit tests of the sequencer's append paths that need the channel's internals.

use std::path::Path;

use super::{Channel, ChannelError, EntryRefusal, Role};
use crate::entry::{Draft, Kind, SignedEntry};
use crate::genesis::{cosign_proposal, Genesis, Party};
use crate::keys::SignerKey;
use crate::store::StoreError;

const ORIGIN: &str = "example.org/dyad/test";

pub(super) fn keys() -> (SignerKey, SignerKey) {
    (
        SignerKey::from_seed("example.org/alpha", [1; 32]).unwrap(),
        SignerKey::from_seed("example.org/bravo", [2; 32]).unwrap(),
    )
}

pub(super) fn sequencer(dir: &Path, t0: u64) -> Channel {
    replica(dir, t0, Role::Sequencer)
}

/// The replica of `keys()`'s channel in `role` (alpha sequences, bravo co-signs).
pub(super) fn replica(dir: &Path, t0: u64, role: Role) -> Channel {
    let (alpha, bravo) = keys();
    let genesis = Genesis::new(ORIGIN, Party::of(&alpha), Party::of(&bravo));
    let proposal = genesis.propose(&alpha, t0).unwrap();
    let (entry, _) = cosign_proposal(&proposal.bytes, &bravo).unwrap();
    Channel::create(dir, &entry, role).unwrap()
}

pub(super) fn messages(key: &SignerKey, n: u64, t0: u64) -> Vec<SignedEntry> {
    (1..=n)
        .map(|i| {
            Draft::new(Kind::Notification, "s", "text/plain", vec![i as u8])
                .sign(key, ORIGIN, i, t0)
                .unwrap()
        })
        .collect()
}

#[test]
fn append_and_sign_in_one_batch_signs_the_new_tree() {
    let t0 = 1_767_225_600_000;
    let (alpha, bravo) = keys();
    let dir = tempfile::tempdir().unwrap();
    let mut ch = sequencer(dir.path(), t0);
    let batch = messages(&bravo, 5, t0);
    let (appended, note) = ch.append_signed_and_sign(&alpha, &batch, t0).unwrap();
    assert_eq!(appended.len(), 5);
    let note = note.expect("new entries are signed");
    assert_eq!(ch.latest_signed_checkpoint().unwrap(), Some(note.clone()));
    let text = String::from_utf8(note).unwrap();
    assert!(text.starts_with(&ch.checkpoint_text()), "{text}");
    assert_eq!(ch.latest_signed_size().unwrap(), 6);
    // A resubmission appends nothing and signs nothing.
    let (again, none) = ch.append_signed_and_sign(&alpha, &batch, t0).unwrap();
    assert!(again.iter().all(|a| a.existing) && none.is_none());
    // Only the sequencer's own key signs.
    assert!(matches!(
        ch.append_signed_and_sign(&bravo, &batch, t0),
        Err(ChannelError::NotOurKey { .. })
    ));
}

/// A batch large enough to be verified on several threads: the one bad signature is
/// found at its index, wherever it is, and nothing of the batch is written.
#[test]
fn a_bad_signature_in_a_parallel_batch_is_found_and_nothing_is_written() {
    let t0 = 1_767_225_600_000;
    let (_, bravo) = keys();
    for bad in [0usize, 17, 63] {
        let dir = tempfile::tempdir().unwrap();
        let mut ch = sequencer(dir.path(), t0);
        let mut batch = messages(&bravo, 64, t0);
        batch[bad].entry.signatures[0].signature[5] ^= 1;
        batch[bad] = SignedEntry::new(batch[bad].entry.clone()).unwrap();
        let err = ch.append_signed(&batch, t0).unwrap_err();
        assert!(
            matches!(err, ChannelError::Refused(EntryRefusal::BadSignature { index }) if index == 1 + bad as u64),
            "{err}"
        );
        assert_eq!(ch.size(), 1);
        // The good ones go in once the bad one is left out.
        batch.truncate(bad);
        if !batch.is_empty() {
            assert_eq!(ch.append_signed(&batch, t0).unwrap().len(), bad);
        }
        assert_eq!(ch.size(), 1 + bad as u64);
    }
}

/// Entries judged one by one in one batch: a bad signature is refused alone, the later
/// entries of its sender meet the gap it leaves, the others go in with one commit; a
/// staging made before the log changed is refused.
#[test]
fn stage_each_refuses_bad_entries_alone_and_a_stale_staging() {
    let t0 = 1_767_225_600_000;
    let (alpha, bravo) = keys();
    let dir = tempfile::tempdir().unwrap();
    let mut ch = sequencer(dir.path(), t0);
    let mut batch = messages(&bravo, 4, t0);
    batch[1].entry.signatures[0].signature[3] ^= 1;
    batch[1] = SignedEntry::new(batch[1].entry.clone()).unwrap();
    batch.extend(messages(&alpha, 1, t0));
    let staged = ch.stage_each(&batch, t0).unwrap();
    assert!(staged.any_refused());
    let (results, note) = ch.commit_staged_and_sign(&alpha, staged).unwrap();
    let kinds: Vec<&str> = results
        .iter()
        .map(|r| match r {
            Ok(_) => "ok",
            Err(ChannelError::Refused(EntryRefusal::BadSignature { .. })) => "signature",
            Err(ChannelError::Refused(EntryRefusal::SequenceGap { .. })) => "gap",
            Err(_) => "other",
        })
        .collect();
    assert_eq!(kinds, ["ok", "signature", "gap", "gap", "ok"]);
    assert_eq!(results[4].as_ref().unwrap().index, 2);
    assert_eq!(ch.size(), 3);
    let note = String::from_utf8(note.unwrap()).unwrap();
    assert!(note.starts_with(&ch.checkpoint_text()), "{note}");

    // Message 2 again, now well signed, staged; then the log grows before the commit.
    let fresh = messages(&bravo, 2, t0);
    let stale = ch.stage_each(&fresh[1..], t0).unwrap();
    assert!(!stale.any_refused());
    ch.append_signed(&fresh[1..], t0).unwrap();
    assert!(matches!(
        ch.commit_staged_and_sign(&alpha, stale),
        Err(ChannelError::Store(StoreError::StaleBatch { .. }))
    ));
    assert_eq!(ch.size(), 4);
}

/// The content policy of spec/dyad.md 3.2: a peer-signed `threat-indicators` entry
/// labelled `application/stix+json` that is not valid STIX 2.1 is refused by the
/// sequencer (a co-signer submission) and by the co-signer (asked to co-sign it), and
/// nothing is written; recovered below a co-signed checkpoint, it is history already
/// agreed and is taken.
#[test]
fn invalid_stix_from_the_peer_is_refused_but_agreed_history_is_recovered() {
    let t0 = 1_767_225_600_000;
    let (alpha, bravo) = keys();
    let dir = tempfile::tempdir().unwrap();
    let genesis = Genesis::new(ORIGIN, Party::of(&alpha), Party::of(&bravo));
    let proposal = genesis.propose(&alpha, t0).unwrap();
    let (genesis_entry, _) = cosign_proposal(&proposal.bytes, &bravo).unwrap();
    let mut seq =
        Channel::create(&dir.path().join("alpha"), &genesis_entry, Role::Sequencer).unwrap();
    let mut cos =
        Channel::create(&dir.path().join("bravo"), &genesis_entry, Role::Cosigner).unwrap();
    let bad = |key: &SignerKey| {
        Draft::new(
            Kind::ThreatIndicators,
            "IOCs",
            "application/stix+json;version=2.1",
            b"this is not json at all".to_vec(),
        )
        .sign(key, ORIGIN, 1, t0)
        .unwrap()
    };
    // The sequencer refuses the co-signer's submission.
    let refused = seq.append_signed(&[bad(&bravo)], t0).unwrap_err();
    assert!(
        matches!(
            refused,
            ChannelError::Refused(EntryRefusal::NotStix { index: 1, .. })
        ),
        "{refused}"
    );
    assert_eq!(seq.size(), 1);
    // A sequencer that took it anyway (here: as recovered history) asks for a
    // co-signature: the co-signer refuses and stores nothing.
    let entry = bad(&alpha);
    seq.append_recovered(std::slice::from_ref(&entry.bytes), t0)
        .unwrap();
    let note = seq.sign_checkpoint(&alpha).unwrap();
    let refused = cos
        .accept_and_cosign(&bravo, std::slice::from_ref(&entry.bytes), &note, t0)
        .unwrap_err();
    assert!(
        matches!(
            refused,
            ChannelError::Refused(EntryRefusal::NotStix { index: 1, .. })
        ),
        "{refused}"
    );
    assert!(refused.to_string().contains("not JSON"), "{refused}");
    assert_eq!(cos.size(), 1);
    // The same entry as history below a co-signed checkpoint is recovered.
    assert_eq!(cos.append_recovered(&[entry.bytes], t0).unwrap(), 2);
}
