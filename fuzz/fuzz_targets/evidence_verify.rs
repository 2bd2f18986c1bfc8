//! `dyad_verifier::equivocation::verify` (spec/evidence.md) against the keys that can be
//! accused: the spec vectors' log key and co-signer's cosignature key, the witnessed
//! channel's log key and witness X1's cosignature key.
//!
//! Never panics, and accepted evidence really is evidence, rechecked independently: both
//! notes carry a valid signature by the key, both texts are checkpoints of one origin,
//! and either they have the same size and different roots, or the two different leaf
//! hashes verify at the index in both trees under the RFC 9162 reference verifier.
#![no_main]

use std::sync::OnceLock;

use dyad_fuzz::reference;
use dyad_fuzz::vectors::{vectors, WITNESSED_ORIGIN};
use dyad_verifier::checkpoint;
use dyad_verifier::equivocation::{self, Contradiction};
use dyad_verifier::key::VerifierKey;
use dyad_verifier::note;
use libfuzzer_sys::fuzz_target;

fn keys() -> &'static [VerifierKey] {
    static KEYS: OnceLock<Vec<VerifierKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let v = vectors();
        vec![
            v.sequencer.log_key(&v.origin),
            v.cosigner.cosignature_key(),
            v.sequencer.log_key(WITNESSED_ORIGIN),
            v.witnesses()[0].cosignature_key(),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    for key in keys() {
        let Ok(verified) = equivocation::verify(data, key) else {
            continue;
        };
        let evidence = equivocation::parse(data).expect("verified evidence parses");
        let mut checkpoints = Vec::new();
        for n in [&evidence.first_note, &evidence.second_note] {
            let signed = note::verify(n, std::slice::from_ref(key))
                .expect("a note of verified evidence verifies");
            assert!(signed.verified.iter().any(|s| s.key == *key));
            checkpoints.push(checkpoint::parse(&signed.text).expect("a checkpoint"));
        }
        let (first, second) = (&checkpoints[0], &checkpoints[1]);
        assert_eq!((first, second), (&verified.first, &verified.second));
        assert_eq!(first.origin, second.origin, "evidence across two logs");
        match &evidence.contradiction {
            Contradiction::SameSize => {
                assert_eq!(first.size, second.size);
                assert_ne!(
                    first.root, second.root,
                    "same-size evidence with equal roots"
                );
            }
            Contradiction::DifferentLeaf {
                index,
                first: a,
                second: b,
            } => {
                assert_ne!(
                    a.leaf_hash, b.leaf_hash,
                    "different-leaf evidence with equal leaves"
                );
                assert!(reference::verify_inclusion(
                    &a.leaf_hash,
                    *index,
                    first.size,
                    &a.proof,
                    &first.root
                ));
                assert!(reference::verify_inclusion(
                    &b.leaf_hash,
                    *index,
                    second.size,
                    &b.proof,
                    &second.root
                ));
            }
        }
    }
});
