//! Evidence of a broken promise (spec/evidence.md section 6): verifies with the log key
//! alone; anything that is not a broken promise, or is not written canonically, is refused.

mod entry_support;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use dyad_verifier::promise_evidence::{self, BrokenPromiseError};
use dyad_verifier::proof::ProofError;
use dyad_verifier::Hash;
use entry_support::*;

/// A promise note (spec/node.md 4.1) of `entries`, signed by `key` as the log.
fn promise(key: &TestKey, origin: &str, entries: &[(u64, Hash)]) -> Vec<u8> {
    let mut text = format!("dyad-promise/v1\n{origin}\n");
    for (i, h) in entries {
        text.push_str(&format!("{i}\n{}\n", BASE64.encode(h)));
    }
    format!("{text}\n{}", key.note_line(origin, &text)).into_bytes()
}

struct Case {
    alpha: TestKey,
    bravo: TestKey,
    leaves: Vec<Hash>,
    promised: Hash,
}

fn case() -> Case {
    let leaves: Vec<Hash> = (0..13u8).map(|i| leaf_hash(&[i])).collect();
    Case {
        alpha: TestKey::new("alpha.example"),
        bravo: TestKey::new("bravo.example"),
        leaves,
        promised: leaf_hash(b"the co-signer's message"),
    }
}

fn evidence(c: &Case, index: usize, size: usize) -> Vec<u8> {
    let p = promise(
        &c.alpha,
        ORIGIN,
        &[(3, [7; 32]), (index as u64, c.promised)],
    );
    let cp = note(
        ORIGIN,
        size as u64,
        &mth(&c.leaves[..size]),
        Some(&c.alpha),
        &[],
    );
    promise_evidence::build(
        index as u64,
        &c.leaves[index],
        &inclusion_proof(index, &c.leaves[..size]),
        &p,
        &cp,
    )
}

#[test]
fn a_promise_and_a_tree_with_another_leaf_there_is_proof() {
    let c = case();
    let bytes = evidence(&c, 9, 13);
    assert!(bytes.starts_with(b"dyad-broken-promise/v1\nindex 9\npromise "));
    let log = c.alpha.log_vkey(ORIGIN);
    let v = promise_evidence::verify(&bytes, &log).unwrap();
    assert_eq!(v.index, 9);
    assert_eq!(v.promised_leaf, c.promised);
    assert_eq!(v.found_leaf, c.leaves[9]);
    assert_eq!(v.promised_entries, 2);
    assert_eq!(
        (v.checkpoint.size, v.checkpoint.origin.as_str()),
        (13, ORIGIN)
    );
    // The parse is the inverse of build.
    let p = promise_evidence::parse(&bytes).unwrap();
    assert_eq!(
        promise_evidence::build(
            p.index,
            &p.found_leaf,
            &p.proof,
            &p.promise_note,
            &p.checkpoint_note
        ),
        bytes
    );
    // Another key proves nothing: not the co-signer's, not the party key under its name.
    assert!(matches!(
        promise_evidence::verify(&bytes, &c.bravo.log_vkey(ORIGIN)),
        Err(BrokenPromiseError::PromiseNotSigned(_))
    ));
    assert!(promise_evidence::verify(&bytes, &c.alpha.entry_vkey()).is_err());
}

#[test]
fn what_is_not_a_broken_promise_is_refused() {
    let c = case();
    let log = c.alpha.log_vkey(ORIGIN);
    let size = 13;
    let cp = note(
        ORIGIN,
        size as u64,
        &mth(&c.leaves[..size]),
        Some(&c.alpha),
        &[],
    );
    let proof9 = inclusion_proof(9, &c.leaves[..size]);

    // The tree holds the promised leaf: the promise is kept.
    let kept = promise(&c.alpha, ORIGIN, &[(9, c.leaves[9])]);
    let bytes = promise_evidence::build(9, &c.leaves[9], &proof9, &kept, &cp);
    assert_eq!(
        promise_evidence::verify(&bytes, &log),
        Err(BrokenPromiseError::PromiseKept { index: 9 })
    );
    // The promise lists no entry at the index.
    let elsewhere = promise(&c.alpha, ORIGIN, &[(8, c.promised)]);
    let bytes = promise_evidence::build(9, &c.leaves[9], &proof9, &elsewhere, &cp);
    assert_eq!(
        promise_evidence::verify(&bytes, &log),
        Err(BrokenPromiseError::NotPromised { index: 9 })
    );
    // The tree does not reach the index yet.
    let small = note(ORIGIN, 9, &mth(&c.leaves[..9]), Some(&c.alpha), &[]);
    let p = promise(&c.alpha, ORIGIN, &[(9, c.promised)]);
    let bytes = promise_evidence::build(9, &c.leaves[9], &[], &p, &small);
    assert_eq!(
        promise_evidence::verify(&bytes, &log),
        Err(BrokenPromiseError::NotCovered { index: 9, size: 9 })
    );
    // A proof that does not verify (of another leaf, or a wrong path).
    let bytes = promise_evidence::build(9, &c.leaves[8], &proof9, &p, &cp);
    assert!(matches!(
        promise_evidence::verify(&bytes, &log),
        Err(BrokenPromiseError::Inclusion {
            index: 9,
            error: ProofError::RootMismatch
        }) | Err(BrokenPromiseError::Inclusion { .. })
    ));
    // Another log's promise.
    let other = promise(&c.alpha, "other.example/log", &[(9, c.promised)]);
    let bytes = promise_evidence::build(9, &c.leaves[9], &proof9, &other, &cp);
    assert!(promise_evidence::verify(&bytes, &log).is_err());
    // The checkpoint not signed by the log (co-signed only).
    let cosigned_only = note(
        ORIGIN,
        size as u64,
        &mth(&c.leaves[..size]),
        None,
        &[(&c.alpha, 1_800_000_000)],
    );
    let bytes = promise_evidence::build(9, &c.leaves[9], &proof9, &p, &cosigned_only);
    assert!(matches!(
        promise_evidence::verify(&bytes, &log),
        Err(BrokenPromiseError::CheckpointNotSigned(_))
    ));
    // A checkpoint note whose text is a promise: not a checkpoint.
    let bytes = promise_evidence::build(9, &c.leaves[9], &proof9, &p, &p);
    assert!(matches!(
        promise_evidence::verify(&bytes, &log),
        Err(BrokenPromiseError::Checkpoint(_))
    ));
}

#[test]
fn promises_are_read_only_in_their_canonical_form() {
    let c = case();
    let h = BASE64.encode(c.promised);
    for bad in [
        format!("dyad-promise/v1\n{ORIGIN}\n"),
        format!("dyad-promise/v1\n\n9\n{h}\n"),
        format!("dyad-promise/v1\n{ORIGIN}\n09\n{h}\n"),
        format!("dyad-promise/v1\n{ORIGIN}\n9\n{h}\n9\n{h}\n"),
        format!("dyad-promise/v1\n{ORIGIN}\n9\n{h}\n8\n{h}\n"),
        format!("dyad-promise/v1\n{ORIGIN}\n9\n"),
        format!("dyad-promise/v1\n{ORIGIN}\n9\n{h}"),
        format!("dyad-promise/v1\n{ORIGIN}\n9\n{h}\n\n"),
        format!("dyad-promise/v2\n{ORIGIN}\n9\n{h}\n"),
        format!("dyad-promise/v1\n{ORIGIN}\n+9\n{h}\n"),
    ] {
        assert!(
            promise_evidence::parse_promise_text(&bad).is_err(),
            "{bad:?}"
        );
    }
    let good = format!("dyad-promise/v1\n{ORIGIN}\n9\n{h}\n12\n{h}\n");
    let p = promise_evidence::parse_promise_text(&good).unwrap();
    assert_eq!(p.entries, vec![(9, c.promised), (12, c.promised)]);
    let many: String = (0..1025u64).map(|i| format!("{i}\n{h}\n")).collect();
    assert!(
        promise_evidence::parse_promise_text(&format!("dyad-promise/v1\n{ORIGIN}\n{many}"))
            .is_err()
    );
}

#[test]
fn the_file_is_parsed_strictly() {
    let c = case();
    let good = evidence(&c, 9, 13);
    assert!(promise_evidence::parse(&good).is_ok());
    let text = String::from_utf8(good.clone()).unwrap();
    let mut bad: Vec<Vec<u8>> = vec![
        text.replacen("dyad-broken-promise/v1", "dyad-broken-promise/v2", 1)
            .into(),
        text.replacen("index 9", "index 09", 1).into(),
        text.replacen("index 9", "index  9", 1).into(),
        text.replacen("index 9\n", "", 1).into(),
        text.replacen("\npromise ", "\npromise  ", 1).into(),
        good[..good.len() - 1].to_vec(),
        [good.as_slice(), b"x"].concat(),
        good[..40].to_vec(),
        Vec::new(),
    ];
    // A non-canonical proof hash (base64 with a non-zero padding bit).
    let first_proof = BASE64.encode(inclusion_proof(9, &c.leaves[..13])[0]);
    let mut tweaked = first_proof.clone().into_bytes();
    let last = tweaked.len() - 2;
    // The last character before '=' carries 4 bits of the hash and 2 padding bits: set
    // the lowest padding bit.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let at = ALPHABET.iter().position(|&a| a == tweaked[last]).unwrap();
    tweaked[last] = ALPHABET[at ^ 1];
    {
        bad.push(
            text.replacen(&first_proof, std::str::from_utf8(&tweaked).unwrap(), 1)
                .into(),
        );
    }
    // Too many proof hashes.
    let many: String = (0..65).map(|_| format!("{first_proof}\n")).collect();
    bad.push(text.replacen(&format!("{first_proof}\n"), &many, 1).into());
    for (i, b) in bad.iter().enumerate() {
        assert!(
            promise_evidence::parse(b).is_err(),
            "case {i}: {:?}",
            String::from_utf8_lossy(b)
        );
    }
    assert!(matches!(
        promise_evidence::parse(&vec![b'a'; promise_evidence::MAX_EVIDENCE_BYTES + 1]),
        Err(BrokenPromiseError::TooLarge { .. })
    ));
}
