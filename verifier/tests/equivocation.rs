//! Evidence of equivocation (spec/evidence.md): each kind verifies with only the accused
//! key, and tampered or non-contradicting evidence is rejected.

mod entry_support;

use dyad_verifier::equivocation::{self, Contradiction, EvidenceError, LeafInclusion};
use dyad_verifier::proof::ProofError;
use dyad_verifier::Hash;
use entry_support::*;

struct Fork {
    c: Channel,
    /// The real tree's leaf hashes.
    real: Vec<Hash>,
    /// A forked history: the same log but leaf 42 replaced, and 20 more leaves.
    forked: Vec<Hash>,
}

fn fork() -> Fork {
    let c = Channel::with_entries(99, 0, 0);
    let real = c.leaf_hashes();
    let mut forked = real.clone();
    forked[42] = leaf_hash(b"a different entry 42");
    forked.extend((0..20u8).map(|i| leaf_hash(&[i])));
    Fork { c, real, forked }
}

/// A note of the first `size` of `leaves`, signed by the log and, if `cosign`, co-signed.
fn note_of(f: &Fork, leaves: &[Hash], size: usize, cosign: bool) -> Vec<u8> {
    let cos = [(&f.c.bravo, 1_800_000_000 + size as u64)];
    note(
        ORIGIN,
        size as u64,
        &mth(&leaves[..size]),
        Some(&f.c.alpha),
        if cosign { &cos } else { &[] },
    )
}

fn leaf_at(leaves: &[Hash], size: usize, index: usize) -> LeafInclusion {
    LeafInclusion {
        leaf_hash: leaves[index],
        proof: inclusion_proof(index, &leaves[..size]),
    }
}

#[test]
fn same_size_different_roots_is_evidence() {
    let f = fork();
    let a = note_of(&f, &f.real, 100, true);
    let b = note_of(&f, &f.forked, 100, true);
    let evidence = equivocation::build(&a, &b, &Contradiction::SameSize);
    assert!(evidence.starts_with(b"dyad-equivocation/v1\nkind same-size\n"));

    let log = f.c.alpha.log_vkey(ORIGIN);
    let v = equivocation::verify(&evidence, &log).unwrap();
    assert_eq!((v.first.size, v.second.size), (100, 100));
    assert_ne!(v.first.root, v.second.root);
    assert_eq!(v.signer, log);
    assert_eq!(v.timestamps, None);
    // The co-signer co-signed both: it equivocated too.
    let v = equivocation::verify(&evidence, &f.c.bravo.cosignature_vkey()).unwrap();
    assert_eq!(v.timestamps, Some((1_800_000_100, 1_800_000_100)));
    // Someone who signed neither is not accused.
    let stranger = TestKey::new("test.example/stranger");
    assert!(matches!(
        equivocation::verify(&evidence, &stranger.log_vkey(ORIGIN)),
        Err(EvidenceError::NotSigned { which: 1, .. })
    ));
    // The same checkpoint twice is no contradiction; nor are two sizes.
    let same = equivocation::build(&a, &a, &Contradiction::SameSize);
    assert_eq!(
        equivocation::verify(&same, &log),
        Err(EvidenceError::SameRoot)
    );
    let c = note_of(&f, &f.forked, 110, true);
    let sizes = equivocation::build(&a, &c, &Contradiction::SameSize);
    assert_eq!(
        equivocation::verify(&sizes, &log),
        Err(EvidenceError::SizesDiffer {
            first: 100,
            second: 110
        })
    );
    // Checkpoints of two different logs.
    let other = note(
        "test.example/dyad/other",
        100,
        &mth(&f.forked[..100]),
        Some(&f.c.alpha),
        &[],
    );
    let other_key = f.c.alpha.log_vkey("test.example/dyad/other");
    let two_logs = equivocation::build(&a, &other, &Contradiction::SameSize);
    assert!(matches!(
        equivocation::verify(&two_logs, &other_key),
        Err(EvidenceError::NotSigned { which: 1, .. })
    ));
    let cos = f.c.bravo.cosignature_vkey();
    let other_cosigned = note(
        "test.example/dyad/other",
        100,
        &mth(&f.forked[..100]),
        None,
        &[(&f.c.bravo, 5)],
    );
    let two_logs = equivocation::build(&a, &other_cosigned, &Contradiction::SameSize);
    assert!(matches!(
        equivocation::verify(&two_logs, &cos),
        Err(EvidenceError::DifferentOrigins { .. })
    ));
}

#[test]
fn different_leaves_at_one_index_is_evidence() {
    let f = fork();
    let log = f.c.alpha.log_vkey(ORIGIN);
    // Real tree of 100, forked tree of 120: not the same size, so only the leaves show it.
    let a = note_of(&f, &f.real, 100, true);
    let b = note_of(&f, &f.forked, 120, true);
    let contradiction = Contradiction::DifferentLeaf {
        index: 42,
        first: leaf_at(&f.real, 100, 42),
        second: leaf_at(&f.forked, 120, 42),
    };
    let evidence = equivocation::build(&a, &b, &contradiction);
    let v = equivocation::verify(&evidence, &log).unwrap();
    assert_eq!((v.first.size, v.second.size), (100, 120));
    assert_eq!(v.contradiction, contradiction);
    equivocation::verify(&evidence, &f.c.bravo.cosignature_vkey()).unwrap();
    // Either order, and the larger tree first.
    let swapped = Contradiction::DifferentLeaf {
        index: 42,
        first: leaf_at(&f.forked, 120, 42),
        second: leaf_at(&f.real, 100, 42),
    };
    equivocation::verify(&equivocation::build(&b, &a, &swapped), &log).unwrap();
    // The parse of what was built is what was built.
    let parsed = equivocation::parse(&evidence).unwrap();
    assert_eq!(
        (parsed.first_note, parsed.second_note, parsed.contradiction),
        (a.clone(), b.clone(), contradiction)
    );

    // Two honest, consistent checkpoints cannot be framed: the leaf at 42 is the same in
    // both, and no other leaf hash has an inclusion proof.
    let honest = note_of(&f, &f.real, 90, true);
    let same_leaf = Contradiction::DifferentLeaf {
        index: 42,
        first: leaf_at(&f.real, 90, 42),
        second: leaf_at(&f.real, 100, 42),
    };
    assert_eq!(
        equivocation::verify(&equivocation::build(&honest, &a, &same_leaf), &log),
        Err(EvidenceError::SameLeaf)
    );
    let framed = Contradiction::DifferentLeaf {
        index: 42,
        first: leaf_at(&f.real, 90, 42),
        second: LeafInclusion {
            leaf_hash: f.forked[42],
            proof: inclusion_proof(42, &f.real[..100]),
        },
    };
    assert!(matches!(
        equivocation::verify(&equivocation::build(&honest, &a, &framed), &log),
        Err(EvidenceError::Inclusion {
            which: 2,
            error: ProofError::RootMismatch
        })
    ));
    // An index beyond the smaller tree.
    let beyond = Contradiction::DifferentLeaf {
        index: 100,
        first: LeafInclusion {
            leaf_hash: [1; 32],
            proof: vec![],
        },
        second: leaf_at(&f.forked, 120, 100),
    };
    assert!(matches!(
        equivocation::verify(&equivocation::build(&a, &b, &beyond), &log),
        Err(EvidenceError::Inclusion {
            which: 1,
            error: ProofError::IndexOutOfRange { .. }
        })
    ));
}

#[test]
fn tampered_evidence_is_rejected() {
    let f = fork();
    let log = f.c.alpha.log_vkey(ORIGIN);
    // Notes signed by the log alone, so that every byte of the file matters to this key.
    let a = note_of(&f, &f.real, 100, false);
    let b = note_of(&f, &f.forked, 120, false);
    let same = note_of(&f, &f.forked, 100, false);
    let cases = [
        equivocation::build(&a, &same, &Contradiction::SameSize),
        equivocation::build(
            &a,
            &b,
            &Contradiction::DifferentLeaf {
                index: 42,
                first: leaf_at(&f.real, 100, 42),
                second: leaf_at(&f.forked, 120, 42),
            },
        ),
    ];
    for evidence in &cases {
        equivocation::verify(evidence, &log).unwrap();
        for at in 0..evidence.len() {
            let mut t = evidence.clone();
            t[at] ^= 0x01;
            assert!(
                equivocation::verify(&t, &log).is_err(),
                "byte {at} ({:?}) flipped still verifies",
                evidence[at] as char
            );
        }
        for cut in 0..evidence.len() {
            assert!(
                equivocation::verify(&evidence[..cut], &log).is_err(),
                "cut at {cut}"
            );
        }
        let mut longer = evidence.clone();
        longer.push(b'\n');
        assert!(matches!(
            equivocation::verify(&longer, &log),
            Err(EvidenceError::LengthMismatch { .. })
        ));
    }
}

#[test]
fn the_format_is_strict() {
    let f = fork();
    let a = note_of(&f, &f.real, 100, false);
    let b = note_of(&f, &f.forked, 120, false);
    let good = equivocation::build(
        &a,
        &b,
        &Contradiction::DifferentLeaf {
            index: 42,
            first: leaf_at(&f.real, 100, 42),
            second: leaf_at(&f.forked, 120, 42),
        },
    );
    let text = |e: &[u8]| String::from_utf8(e.to_vec()).unwrap();
    let t = text(&good);
    let parse = |s: String| equivocation::parse(s.as_bytes());
    assert_eq!(
        parse(t.replacen("dyad-equivocation/v1", "dyad-equivocation/v2", 1)),
        Err(EvidenceError::NotEvidence)
    );
    assert!(matches!(
        parse(t.replacen("kind different-leaf", "kind other", 1)),
        Err(EvidenceError::UnexpectedLine { line: 2, .. })
    ));
    assert!(matches!(
        parse(t.replacen("index 42", "index 042", 1)),
        Err(EvidenceError::UnexpectedLine { line: 3, .. })
    ));
    assert!(matches!(
        parse(t.replacen("\nleaf ", "\nleaves ", 1)),
        Err(EvidenceError::UnexpectedLine { line: 5, .. })
    ));
    let hash = format!(
        "{}\n",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [3u8; 32])
    );
    let many = t.replacen("\nnote ", &format!("\n{}note ", hash.repeat(65)), 2);
    assert!(matches!(
        parse(many),
        Err(EvidenceError::TooManyProofHashes { .. }) | Err(EvidenceError::UnexpectedLine { .. })
    ));
    let proof_start = t.find("\nleaf ").unwrap() + 1;
    let after_leaf = proof_start + t[proof_start..].find('\n').unwrap() + 1;
    let mut with_many = t.clone();
    with_many.insert_str(after_leaf, &hash.repeat(60));
    assert!(matches!(
        parse(with_many),
        Err(EvidenceError::TooManyProofHashes { .. })
    ));
    assert_eq!(equivocation::parse(b""), Err(EvidenceError::NotEvidence));
    // A length that claims more than is there.
    let bad = t.replacen(
        &format!("note {}\n", a.len()),
        &format!("note {}\n", a.len() + 10_000),
        1,
    );
    assert!(matches!(
        parse(bad),
        Err(EvidenceError::LengthMismatch { .. })
    ));
    let huge = t.replacen(
        &format!("note {}\n", a.len()),
        "note 18446744073709551615\n",
        1,
    );
    assert!(matches!(
        parse(huge),
        Err(EvidenceError::LengthMismatch { .. })
    ));
}
