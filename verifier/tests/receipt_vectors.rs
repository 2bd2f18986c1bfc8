//! Checkpoints and receipts of the ledger's spec vectors (spec/vectors/entries.json):
//! every checkpoint is committed, every receipt verifies, and no byte of a receipt can
//! change without it being rejected.

mod entry_support;

use dyad_verifier::genesis::ChannelParams;
use dyad_verifier::key::VerifierKey;
use dyad_verifier::receipt::{self, ReceiptTrust};
use entry_support::*;

fn party_keys(v: &serde_json::Value) -> (VerifierKey, VerifierKey) {
    let key = |role| VerifierKey::parse(str_of(vector_party(v, role), "vkey")).unwrap();
    (key("sequencer"), key("cosigner"))
}

#[test]
fn checkpoints_are_committed_and_match_the_entries() {
    let v = vectors();
    let genesis = vector_genesis(&v);
    let params = ChannelParams::new(genesis.clone()).unwrap();
    let policy = genesis.policy().unwrap();
    let leaves: Vec<_> = vector_leaves(&v).iter().map(|l| leaf_hash(l)).collect();
    let checkpoints = array_of(&v, "checkpoints");
    assert!(!checkpoints.is_empty(), "no checkpoints in the vectors");
    for c in checkpoints {
        let note = str_of(c, "note").as_bytes();
        let size = u64_of(c, "size");
        let committed = params
            .verify_checkpoint(note)
            .unwrap_or_else(|e| panic!("checkpoint {size} is not committed: {e}"));
        assert_eq!(committed.checkpoint.size, size);
        assert_eq!(hex(&committed.checkpoint.root), str_of(c, "root_hex"));
        assert_eq!(committed.cosigned_at, u64_of(c, "cosignature_timestamp"));
        assert_eq!(committed.checkpoint.origin, str_of(&v, "origin"));
        let by_policy = policy.verify_checkpoint(note).unwrap();
        assert_eq!(by_policy.checkpoint, committed.checkpoint);
        if size as usize <= leaves.len() {
            assert_eq!(
                committed.checkpoint.root,
                mth(&leaves[..size as usize]),
                "checkpoint {size}: root"
            );
        }
    }
}

#[test]
fn receipts_verify_with_the_two_party_keys() {
    let v = vectors();
    let (sequencer, cosigner) = party_keys(&v);
    let genesis = vector_genesis(&v);
    let leaves = vector_leaves(&v);
    let trusts = [
        ReceiptTrust::parties(sequencer.clone(), cosigner.clone()).unwrap(),
        ReceiptTrust::parties(cosigner.clone(), sequencer.clone()).unwrap(),
        ReceiptTrust::genesis(&genesis).unwrap(),
        ReceiptTrust::policy(
            genesis.policy().unwrap(),
            cosigner.clone(),
            sequencer.clone(),
        )
        .unwrap(),
    ];
    let receipts = array_of(&v, "receipts");
    assert!(!receipts.is_empty(), "no receipts in the vectors");
    for r in receipts {
        let index = u64_of(r, "index");
        let text = str_of(r, "receipt").as_bytes();
        for trust in &trusts {
            let verified =
                receipt::verify(text, trust).unwrap_or_else(|e| panic!("receipt {index}: {e}"));
            assert_eq!(verified.index, index);
            assert_eq!(
                verified.committed.log,
                sequencer.with_name(&genesis.origin).unwrap()
            );
            if let Some(leaf) = leaves.get(index as usize) {
                assert_eq!(verified.leaf_hash, leaf_hash(leaf));
            }
        }
        // format() writes exactly what parse() read.
        let parsed = receipt::parse(text).unwrap();
        assert_eq!(
            receipt::format(
                &parsed.entry_bytes,
                parsed.index,
                &parsed.proof,
                &parsed.checkpoint_note
            ),
            text
        );
    }
}

#[test]
fn a_receipt_with_any_byte_changed_is_rejected() {
    let v = vectors();
    let (sequencer, cosigner) = party_keys(&v);
    let plain = ReceiptTrust::parties(sequencer, cosigner).unwrap();
    // With the keys' precomputed tables too (src/keyed.rs): the same verdicts.
    for trust in [plain.clone(), plain.precomputed()] {
        every_changed_byte_is_rejected(&v, &trust);
    }
}

fn every_changed_byte_is_rejected(v: &serde_json::Value, trust: &ReceiptTrust) {
    for r in array_of(v, "receipts") {
        let index = u64_of(r, "index");
        let text = str_of(r, "receipt").as_bytes();
        receipt::verify(text, trust).unwrap_or_else(|e| panic!("receipt {index}: {e}"));
        for at in 0..text.len() {
            for flip in [0x01u8, 0x20] {
                let mut t = text.to_vec();
                t[at] ^= flip;
                assert!(
                    receipt::verify(&t, trust).is_err(),
                    "receipt {index}: byte {at} ^ {flip:#x} ({:?}) still verifies",
                    text[at] as char
                );
            }
        }
        // Cut anywhere, or with a byte added at the end.
        for cut in 0..text.len() {
            assert!(
                receipt::verify(&text[..cut], trust).is_err(),
                "receipt {index} cut at {cut}"
            );
        }
        let mut longer = text.to_vec();
        longer.push(b'\n');
        assert!(receipt::verify(&longer, trust).is_err());
    }
}

#[test]
fn receipts_need_both_parties() {
    let v = vectors();
    let (sequencer, cosigner) = party_keys(&v);
    let stranger = TestKey::new("example.org/dyad/stranger").entry_vkey();
    let text = str_of(&array_of(&v, "receipts")[1], "receipt").as_bytes();
    for trust in [
        ReceiptTrust::parties(sequencer.clone(), stranger.clone()).unwrap(),
        ReceiptTrust::parties(stranger.clone(), cosigner.clone()).unwrap(),
    ] {
        assert!(receipt::verify(text, &trust).is_err());
    }
    // The cosignature key in place of the entry key is refused up front.
    assert!(ReceiptTrust::parties(
        sequencer.clone(),
        cosigner.with_signature_type(dyad_verifier::key::SignatureType::CosignatureV1)
    )
    .is_err());
    // Requiring a witness nobody asked for fails.
    let w = TestKey::new("witness.example").cosignature_vkey();
    let trust = ReceiptTrust::parties(sequencer, cosigner)
        .unwrap()
        .with_witnesses(vec![w], 1)
        .unwrap();
    assert!(receipt::verify(text, &trust).is_err());
}
