//! Receipts (spec section 8) built by hand: a C2SP tlog-proof with the entry in `extra`.

mod entry_support;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use dyad_verifier::entry::{EntryError, Kind};
use dyad_verifier::genesis::{CommitError, PartyRole};
use dyad_verifier::policy::Policy;
use dyad_verifier::receipt::{self, ReceiptError, ReceiptTrust};
use dyad_verifier::Hash;
use entry_support::*;

/// A channel of 12 entries, a committed checkpoint of all of them co-signed at `t`, and
/// the receipt for `index`.
fn fixture(witnesses: usize, threshold: u8) -> (Channel, Vec<u8>) {
    let c = Channel::with_entries(11, witnesses, threshold);
    let note = c.checkpoint(c.leaves.len(), c.time_for(c.leaves.len()));
    (c, note)
}

fn receipt_for(c: &Channel, index: usize, note: &[u8]) -> Vec<u8> {
    let leaves = c.leaf_hashes();
    let size = match std::str::from_utf8(note).unwrap().lines().nth(1) {
        Some(s) => s.parse::<usize>().unwrap(),
        None => leaves.len(),
    };
    receipt::format(
        &c.leaves[index],
        index as u64,
        &inclusion_proof(index, &leaves[..size]),
        note,
    )
}

fn parties(c: &Channel) -> ReceiptTrust {
    ReceiptTrust::parties(c.bravo.entry_vkey(), c.alpha.entry_vkey()).unwrap()
}

#[test]
fn every_receipt_verifies_and_says_who_sent_what() {
    let (c, note) = fixture(0, 0);
    for index in 0..c.leaves.len() {
        let r = receipt_for(&c, index, &note);
        assert!(r.starts_with(b"c2sp.org/tlog-proof@v1\nextra "));
        let v =
            receipt::verify(&r, &parties(&c)).unwrap_or_else(|e| panic!("receipt {index}: {e}"));
        assert_eq!(v.index, index as u64);
        assert_eq!(v.leaf_hash, leaf_hash(&c.leaves[index]));
        assert_eq!(v.committed.checkpoint.size, c.leaves.len() as u64);
        assert_eq!(v.committed.cosigned_at, c.time_for(c.leaves.len()));
        assert_eq!(v.committed.log, c.alpha.log_vkey(ORIGIN));
        let expected_sender = if v.entry.sender == c.alpha.key_id() {
            &c.alpha
        } else {
            &c.bravo
        };
        assert_eq!(v.sender, expected_sender.entry_vkey());
        let role = if expected_sender.name == c.alpha.name {
            PartyRole::Sequencer
        } else {
            PartyRole::Cosigner
        };
        assert_eq!(v.sender_role, role);
        if index == 0 {
            assert_eq!(v.entry.kind, Kind::Genesis);
        }
        // The same with the genesis as the trust.
        receipt::verify(&r, &ReceiptTrust::genesis(&c.genesis).unwrap()).unwrap();
        receipt::verify(&r, &parties(&c).with_origin(ORIGIN)).unwrap();
    }
}

#[test]
fn parse_and_format_are_inverse_and_strict() {
    let (c, note) = fixture(0, 0);
    let r = receipt_for(&c, 5, &note);
    let parsed = receipt::parse(&r).unwrap();
    assert_eq!(parsed.entry_bytes, c.leaves[5]);
    assert_eq!(parsed.index, 5);
    assert_eq!(parsed.checkpoint_note, note);
    assert_eq!(
        receipt::format(
            &parsed.entry_bytes,
            parsed.index,
            &parsed.proof,
            &parsed.checkpoint_note
        ),
        r
    );

    let text = String::from_utf8(r.clone()).unwrap();
    let with = |from: &str, to: &str| receipt::parse(text.replacen(from, to, 1).as_bytes());
    assert_eq!(
        with("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2"),
        Err(ReceiptError::NotATlogProof)
    );
    assert_eq!(
        with("index 5\n", "index 05\n"),
        Err(ReceiptError::MalformedIndex)
    );
    assert_eq!(
        with("index 5\n", "index +5\n"),
        Err(ReceiptError::MalformedIndex)
    );
    assert_eq!(
        with("index 5\n", "index  5\n"),
        Err(ReceiptError::MalformedIndex)
    );
    assert_eq!(
        with("index 5\n", "index 18446744073709551616\n"),
        Err(ReceiptError::MalformedIndex)
    );
    assert_eq!(with("extra ", "extra  "), Err(ReceiptError::ExtraNotBase64));
    assert_eq!(with("extra ", "extras "), Err(ReceiptError::MissingExtra));

    // Without the extra line: a valid tlog-proof, but not a dyad receipt.
    let no_extra = format!(
        "c2sp.org/tlog-proof@v1\n{}",
        &text[text.find("index").unwrap()..]
    );
    assert_eq!(
        receipt::parse(no_extra.as_bytes()),
        Err(ReceiptError::MissingExtra)
    );
    // A proof hash of the wrong length.
    let short = BASE64.encode([0u8; 31]);
    let bad = text.replacen("index 5\n", &format!("index 5\n{short}\n"), 1);
    assert_eq!(
        receipt::parse(bad.as_bytes()),
        Err(ReceiptError::MalformedProofHash { line: 4 })
    );
    // 65 proof hashes.
    let hash = BASE64.encode([7u8; 32]);
    let many = text.replacen(
        "index 5\n",
        &format!("index 5\n{}", format!("{hash}\n").repeat(65)),
        1,
    );
    assert_eq!(
        receipt::parse(many.as_bytes()),
        Err(ReceiptError::TooManyProofHashes)
    );
    // No blank line, or nothing after it.
    let head = &text[..text.find("\n\n").unwrap() + 1];
    assert!(matches!(
        receipt::parse(head.as_bytes()),
        Err(ReceiptError::Truncated { .. })
    ));
    assert_eq!(
        receipt::parse(format!("{head}\n").as_bytes()),
        Err(ReceiptError::MissingCheckpoint)
    );
    assert_eq!(receipt::parse(b""), Err(ReceiptError::NotATlogProof));
    // An entry too large to be one.
    let huge = format!(
        "c2sp.org/tlog-proof@v1\nextra {}\nindex 0\n\n",
        BASE64.encode(vec![0u8; 65536])
    );
    assert!(matches!(
        receipt::parse(huge.as_bytes()),
        Err(ReceiptError::EntryTooLarge { .. })
    ));
}

#[test]
fn tampered_receipts_are_rejected_with_the_right_error() {
    let (c, note) = fixture(0, 0);
    let leaves = c.leaf_hashes();
    let trust = parties(&c);
    let index = 7;
    let proof = inclusion_proof(index, &leaves);

    // Another entry's bytes at this index.
    let r = receipt::format(&c.leaves[index + 1], index as u64, &proof, &note);
    assert!(matches!(
        receipt::verify(&r, &trust),
        Err(ReceiptError::Inclusion(_))
    ));
    // The right entry at the wrong index.
    let r = receipt::format(&c.leaves[index], index as u64 + 1, &proof, &note);
    assert!(matches!(
        receipt::verify(&r, &trust),
        Err(ReceiptError::Inclusion(_))
    ));
    // An index beyond the checkpoint.
    let r = receipt::format(&c.leaves[index], leaves.len() as u64, &proof, &note);
    assert!(matches!(
        receipt::verify(&r, &trust),
        Err(ReceiptError::Inclusion(_))
    ));
    // A proof hash changed, dropped or added.
    let mut p = proof.clone();
    p[1][0] ^= 1;
    let r = receipt::format(&c.leaves[index], index as u64, &p, &note);
    assert!(matches!(
        receipt::verify(&r, &trust),
        Err(ReceiptError::Inclusion(_))
    ));
    let r = receipt::format(&c.leaves[index], index as u64, &proof[1..], &note);
    assert!(matches!(
        receipt::verify(&r, &trust),
        Err(ReceiptError::Inclusion(_))
    ));
    let r = receipt::format(
        &c.leaves[index],
        index as u64,
        &[proof.as_slice(), &[[0; 32]]].concat(),
        &note,
    );
    assert!(matches!(
        receipt::verify(&r, &trust),
        Err(ReceiptError::Inclusion(_))
    ));
    // An entry whose signature is broken (and which is then not the leaf either).
    let mut e = c.leaves[index].clone();
    *e.last_mut().unwrap() ^= 1;
    let r = receipt::format(&e, index as u64, &proof, &note);
    assert!(matches!(
        receipt::verify(&r, &trust),
        Err(ReceiptError::Entry(EntryError::BadSignature { .. }))
    ));

    // A checkpoint without the co-signature, or without the log signature.
    let root = c.root(leaves.len());
    let size = leaves.len() as u64;
    let unsigned = note_of(&c, size, &root, true, false);
    let r = receipt::format(&c.leaves[index], index as u64, &proof, &unsigned);
    // A key change below the checkpoint would look like this (spec 8): the error says a
    // key history may be missing.
    assert!(matches!(
        receipt::verify(&r, &trust),
        Err(ReceiptError::MayNeedKeyHistory(
            CommitError::MissingCosignature(_)
        ))
    ));
    let uncosigned_log = note_of(&c, size, &root, false, true);
    let r = receipt::format(&c.leaves[index], index as u64, &proof, &uncosigned_log);
    assert!(matches!(
        receipt::verify(&r, &trust),
        Err(ReceiptError::MayNeedKeyHistory(
            CommitError::MissingLogSignature(_)
        ))
    ));
    // A checkpoint with another root.
    let other = note_of(&c, size, &[9; 32], true, true);
    let r = receipt::format(&c.leaves[index], index as u64, &proof, &other);
    assert!(matches!(
        receipt::verify(&r, &trust),
        Err(ReceiptError::Inclusion(_))
    ));
}

fn note_of(c: &Channel, size: u64, root: &Hash, log: bool, cosign: bool) -> Vec<u8> {
    let cos = [(&c.bravo, 1_800_000_000u64)];
    note(
        ORIGIN,
        size,
        root,
        log.then_some(&c.alpha),
        if cosign { &cos } else { &[] },
    )
}

#[test]
fn roles_come_from_the_checkpoint() {
    let (c, note) = fixture(0, 0);
    let r = receipt_for(&c, 3, &note);
    // In either order, the log is alpha and bravo co-signed.
    for trust in [
        ReceiptTrust::parties(c.alpha.entry_vkey(), c.bravo.entry_vkey()).unwrap(),
        ReceiptTrust::parties(c.bravo.entry_vkey(), c.alpha.entry_vkey()).unwrap(),
    ] {
        let v = receipt::verify(&r, &trust).unwrap();
        assert_eq!(v.committed.log.public_key_bytes(), c.alpha.public_key());
        assert_eq!(v.committed.cosigner, c.bravo.cosignature_vkey());
    }
    // A note where bravo signs as the log and alpha only co-signs: the roles swap, and the
    // genesis receipt (which names alpha as sequencer) no longer verifies.
    let size = c.leaves.len() as u64;
    let root = c.root(c.leaves.len());
    let swapped = entry_support::note(
        ORIGIN,
        size,
        &root,
        Some(&c.bravo),
        &[(&c.alpha, 1_800_000_000)],
    );
    let r = receipt_for(&c, 3, &swapped);
    let v = receipt::verify(&r, &parties(&c)).unwrap();
    assert_eq!(v.committed.log.public_key_bytes(), c.bravo.public_key());
    let r0 = receipt_for(&c, 0, &swapped);
    assert_eq!(
        receipt::verify(&r0, &parties(&c)),
        Err(ReceiptError::GenesisNotTrusted)
    );
    // But not for a trust that pins the genesis roles.
    assert!(receipt::verify(&r, &ReceiptTrust::genesis(&c.genesis).unwrap()).is_err());
    // Pinning another origin fails.
    assert!(matches!(
        receipt::verify(&r, &parties(&c).with_origin("elsewhere")),
        Err(ReceiptError::WrongOrigin { .. })
    ));
}

#[test]
fn witnesses_count_when_required() {
    let (c, note) = fixture(3, 2);
    let r = receipt_for(&c, 4, &note);
    let w: Vec<_> = c.witnesses.iter().map(TestKey::cosignature_vkey).collect();
    receipt::verify(&r, &ReceiptTrust::genesis(&c.genesis).unwrap()).unwrap();
    receipt::verify(&r, &parties(&c).with_witnesses(w.clone(), 3).unwrap()).unwrap();
    receipt::verify(&r, &parties(&c)).unwrap();

    // Only one witness co-signs.
    let size = c.leaves.len() as u64;
    let root = c.root(c.leaves.len());
    let one = entry_support::note(
        ORIGIN,
        size,
        &root,
        Some(&c.alpha),
        &[(&c.bravo, 1_800_000_000), (&c.witnesses[1], 1_800_000_001)],
    );
    let r = receipt_for(&c, 4, &one);
    // Too few witnesses may be a witness change left out of the key history (spec 8).
    assert_eq!(
        receipt::verify(&r, &ReceiptTrust::genesis(&c.genesis).unwrap()),
        Err(ReceiptError::MayNeedKeyHistory(
            CommitError::NotEnoughWitnesses {
                found: 1,
                required: 2
            }
        ))
    );
    assert!(receipt::verify(&r, &parties(&c).with_witnesses(w.clone(), 1).unwrap()).is_ok());
    assert!(parties(&c).with_witnesses(w.clone(), 4).is_err());
    assert!(parties(&c)
        .with_witnesses(vec![c.witnesses[0].entry_vkey()], 1)
        .is_err());

    // A policy: the channel's own, and one that asks for every witness.
    let policy = c.genesis.policy().unwrap();
    let trust = ReceiptTrust::policy(policy, c.alpha.entry_vkey(), c.bravo.entry_vkey()).unwrap();
    assert!(matches!(
        receipt::verify(&r, &trust),
        Err(ReceiptError::Policy(_))
    ));
    let r_all = receipt_for(&c, 4, &note);
    assert!(receipt::verify(&r_all, &trust).is_ok());
    let mut strict = Policy::new();
    strict.add_log(c.alpha.log_vkey(ORIGIN)).unwrap();
    strict
        .add_witness("cosigner", c.bravo.cosignature_vkey())
        .unwrap();
    strict.add_witness("w", w[0].clone()).unwrap();
    strict
        .add_group(
            "both",
            dyad_verifier::policy::Threshold::All,
            &["cosigner", "w"],
        )
        .unwrap();
    strict.set_quorum("both").unwrap();
    let trust = ReceiptTrust::policy(strict, c.alpha.entry_vkey(), c.bravo.entry_vkey()).unwrap();
    assert!(receipt::verify(&r_all, &trust).is_ok());
    assert!(receipt::verify(&r, &trust).is_err());
    // A policy that does not ask for the co-signer still needs its cosignature.
    let mut lax = Policy::new();
    lax.add_log(c.alpha.log_vkey(ORIGIN)).unwrap();
    lax.set_quorum("none").unwrap();
    let trust = ReceiptTrust::policy(lax, c.alpha.entry_vkey(), c.bravo.entry_vkey()).unwrap();
    assert!(matches!(
        receipt::verify(&r_all, &trust),
        Err(ReceiptError::NotCommitted(CommitError::MissingCosignature(
            _
        )))
    ));
}

#[test]
fn entries_that_break_position_rules_are_rejected() {
    // A log where entry 2 replies to itself: the sequencer appended it anyway.
    let mut c = Channel::with_entries(1, 0, 0);
    c.push(1, Kind::Response, 1, T0_MS + 5000, Some(2));
    let note = c.checkpoint(c.leaves.len(), c.time_for(c.leaves.len()));
    let r = receipt_for(&c, 2, &note);
    assert_eq!(
        receipt::verify(&r, &parties(&c)),
        Err(ReceiptError::Entry(EntryError::ReplyToNotEarlier {
            index: 2,
            reply_to: 2
        }))
    );
    // A stranger's entry in the log.
    let mut c = Channel::with_entries(1, 0, 0);
    let stranger = TestKey::new("test.example/stranger");
    let mut e = draft(ORIGIN, Kind::Inquiry, &stranger, 1, T0_MS);
    c.leaves.push(sign_and_encode(&mut e, &[&stranger]));
    c.times.push(T0_MS);
    let note = c.checkpoint(c.leaves.len(), c.time_for(c.leaves.len()));
    let r = receipt_for(&c, 2, &note);
    assert_eq!(
        receipt::verify(&r, &parties(&c)),
        Err(ReceiptError::Entry(EntryError::SenderNotAParty {
            key_id: stranger.key_id()
        }))
    );
    // An entry of another channel, logged here.
    let mut c = Channel::with_entries(1, 0, 0);
    let mut e = draft("test.example/dyad/other", Kind::Inquiry, &c.alpha, 1, T0_MS);
    let alpha = c.alpha.clone();
    c.leaves.push(sign_and_encode(&mut e, &[&alpha]));
    c.times.push(T0_MS);
    let note = c.checkpoint(c.leaves.len(), c.time_for(c.leaves.len()));
    let r = receipt_for(&c, 2, &note);
    assert!(matches!(
        receipt::verify(&r, &parties(&c)),
        Err(ReceiptError::OriginMismatch { .. })
    ));
}

#[test]
fn parsing_never_panics_on_mangled_receipts() {
    let (c, note) = fixture(0, 0);
    let r = receipt_for(&c, 5, &note);
    let trust = parties(&c);
    // Deterministic mangling: every line dropped, every line doubled.
    let text = String::from_utf8(r).unwrap();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    for i in 0..lines.len() {
        let mut dropped = lines.clone();
        dropped.remove(i);
        assert!(
            receipt::verify(dropped.concat().as_bytes(), &trust).is_err(),
            "line {i} dropped"
        );
        let mut doubled = lines.clone();
        doubled.insert(i, lines[i]);
        assert!(
            receipt::verify(doubled.concat().as_bytes(), &trust).is_err(),
            "line {i} doubled"
        );
    }
}
