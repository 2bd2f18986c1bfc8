//! What a replica stores of a checkpoint note it is handed: only the lines it verified,
//! never a note that does not verify, nothing at all for a size it already co-signed; and
//! how it opens when a stored note does not verify (rebuilt, or read-only).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use dyad_ledger::channel::{Channel, ChannelError};
use dyad_ledger::store::Store;
use dyad_testkit::channel::{message, Replicas, ORIGIN, T0};

/// Appends `n` messages on the sequencer and has them co-signed; the co-signed note.
fn sync(p: &mut Replicas, n: u64, now: u64) -> Vec<u8> {
    let first = p.seq.size();
    let drafts = (first..first + n).map(message).collect();
    p.seq.append_own(&p.alpha, drafts, now).unwrap();
    p.sync(now)
}

fn unknown_lines(n: usize) -> String {
    (0..n)
        .map(|i| {
            let mut sig = vec![i as u8; 68];
            sig[..4].copy_from_slice(&(0x2000_0000u32 + i as u32).to_be_bytes());
            format!("\u{2014} example.org/junk{i} {}\n", STANDARD.encode(sig))
        })
        .collect()
}

fn with(note: &[u8], extra: &str) -> Vec<u8> {
    let mut out = note.to_vec();
    out.extend_from_slice(extra.as_bytes());
    out
}

fn lines(note: &[u8]) -> usize {
    String::from_utf8_lossy(note).lines().count()
}

#[test]
fn re_cosigning_a_held_size_answers_the_held_note_and_writes_nothing() {
    let mut p = Replicas::new();
    let committed = sync(&mut p, 3, T0 + 1000);
    let size = p.cos.size();
    let commits = p.cos.store().commits();
    // The public note itself, and with 98 lines of unknown keys (100 lines in all).
    for replay in [committed.clone(), with(&committed, &unknown_lines(98))] {
        for now in [T0 + 5000, T0 + 9000] {
            let answer = p
                .cos
                .accept_and_cosign(&p.bravo, &[], &replay, now)
                .unwrap();
            assert_eq!(answer, committed);
            assert!(!p.cos.own_cosignature_lines(&answer).unwrap().is_empty());
        }
    }
    assert_eq!(p.cos.store().commits(), commits, "a replay cost a commit");
    let (stored_size, stored) = p.cos.store().latest_checkpoint().unwrap().unwrap();
    assert_eq!((stored_size, &stored), (size, &committed));
    p.cos.verify_committed(&stored).unwrap();
    // The replica reopens, and the channel goes on.
    let dir = p.dir.path().join("bravo");
    drop(p.cos);
    p.cos = Channel::open(&dir).unwrap();
    assert!(p.cos.checkpoint_damage().is_none());
    sync(&mut p, 2, T0 + 10_000);
    assert_eq!(p.cos.committed_size().unwrap(), size + 2);
}

#[test]
fn only_verified_lines_are_stored_on_either_side() {
    let mut p = Replicas::new();
    sync(&mut p, 1, T0 + 1000);
    p.seq
        .append_own(&p.alpha, vec![message(9)], T0 + 2000)
        .unwrap();
    let signed = p.seq.sign_checkpoint(&p.alpha).unwrap();
    let entries = vec![p.seq.store().leaf(p.seq.size() - 1).unwrap()];
    // The log's note with 97 unknown lines: the co-signer stores 2 lines, not 99.
    let padded = with(&signed, &unknown_lines(97));
    let cosigned = p
        .cos
        .accept_and_cosign(&p.bravo, &entries, &padded, T0 + 3000)
        .unwrap();
    assert_eq!(
        lines(&cosigned),
        3 + 1 + 2,
        "{}",
        String::from_utf8_lossy(&cosigned)
    );
    let stored = p.cos.store().checkpoint(p.cos.size()).unwrap().unwrap();
    assert_eq!(stored, cosigned);
    p.cos.verify_committed(&stored).unwrap();
    // The sequencer too keeps only the two lines it verified.
    let back = with(&cosigned, &unknown_lines(98));
    p.seq.add_committed_checkpoint(&back).unwrap();
    let kept = p.seq.store().checkpoint(p.seq.size()).unwrap().unwrap();
    assert_eq!(kept, cosigned);
}

#[test]
fn a_conflicting_root_is_kept_once() {
    let mut p = Replicas::new();
    sync(&mut p, 1, T0 + 1000);
    // The sequencer signs a tree the co-signer will not get: another entry at index 2.
    p.seq
        .append_own(&p.alpha, vec![message(2)], T0 + 2000)
        .unwrap();
    let signed = p.seq.sign_checkpoint(&p.alpha).unwrap();
    let other = message(3)
        .sign(&p.alpha, ORIGIN, 2, T0 + 2000)
        .unwrap()
        .bytes;
    let commits = p.cos.store().commits();
    for extra in [String::new(), unknown_lines(3), unknown_lines(5)] {
        let err = p
            .cos
            .accept_and_cosign(
                &p.bravo,
                std::slice::from_ref(&other),
                &with(&signed, &extra),
                T0 + 3000,
            )
            .unwrap_err();
        assert!(matches!(err, ChannelError::RootMismatch { .. }), "{err}");
    }
    assert_eq!(
        p.cos.store().commits(),
        commits + 1,
        "evidence is kept once"
    );
    let kept = p.cos.store().meta_with_prefix("conflict/").unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].1, signed);
}

#[test]
fn a_stored_checkpoint_that_does_not_verify_is_rebuilt_or_opens_read_only() {
    let mut p = Replicas::new();
    let committed = sync(&mut p, 2, T0 + 1000);
    let size = p.cos.size();
    let dir = p.dir.path().join("bravo");
    drop(p.cos);

    // What an older build stored on a replay: the note with a second line of the
    // co-signer's. Opening rebuilds it from the lines that verify.
    let own = committed
        .split(|&b| b == b'\n')
        .find(|l| l.starts_with("\u{2014} example.org/bravo".as_bytes()))
        .unwrap()
        .to_vec();
    let mut bad = committed.clone();
    bad.extend_from_slice(&own);
    bad.push(b'\n');
    let bad = with(&bad, &unknown_lines(98));
    {
        let mut store = Store::open(&dir).unwrap();
        let mut batch = store.batch();
        batch.put_checkpoint(size, bad);
        store.commit(batch).unwrap();
    }
    let cos = Channel::open(&dir).unwrap();
    assert_eq!(cos.repaired_checkpoint(), Some(size));
    assert!(cos.checkpoint_damage().is_none());
    let (_, stored) = cos.store().latest_checkpoint().unwrap().unwrap();
    assert_eq!(stored, committed);
    drop(cos);

    // A note the co-signer never signed cannot be rebuilt: the replica opens read-only.
    let log_only: Vec<u8> = {
        let text = String::from_utf8(committed.clone()).unwrap();
        let keep: Vec<&str> = text
            .split_inclusive('\n')
            .filter(|l| !l.starts_with("\u{2014} example.org/bravo"))
            .collect();
        keep.concat().into_bytes()
    };
    {
        let mut store = Store::open(&dir).unwrap();
        let mut batch = store.batch();
        batch.put_checkpoint(size, log_only);
        store.commit(batch).unwrap();
    }
    let mut cos = Channel::open(&dir).unwrap();
    let damage = cos.checkpoint_damage().cloned().expect("read-only");
    assert_eq!(damage.size, size);
    assert_eq!(cos.size(), size);
    assert_eq!(cos.committed_size().unwrap(), size);
    let err = cos.queue_own(&p.bravo, message(1), T0 + 5000).unwrap_err();
    assert!(
        matches!(err, ChannelError::CheckpointDamaged { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("restore"), "{err}");
}
