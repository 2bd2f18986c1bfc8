//! Property tests: proofs from a reference tree (RFC 6962 definitions) verify,
//! every mutation of them is rejected, and where a mutated claim may legitimately
//! verify (another tree size of the same path shape) the verifier agrees with the
//! RFC 9162 algorithm run step by step.

mod common;

use common::*;
use dyad_verifier::hash::EMPTY_ROOT;
use dyad_verifier::proof::{
    consistency_proof_length, inclusion_proof_length, root_from_inclusion_proof,
    verify_consistency, verify_inclusion, ProofError,
};
use dyad_verifier::Hash;
use proptest::prelude::*;
use proptest::sample::Index;

fn flip(hash: &Hash, bit: u8) -> Hash {
    let mut flipped = *hash;
    flipped[usize::from(bit / 8)] ^= 1 << (bit % 8);
    flipped
}

fn tree_and_index() -> impl Strategy<Value = (usize, usize)> {
    (1usize..2000).prop_flat_map(|size| (Just(size), 0..size))
}

/// Sizes near powers of two and near u64::MAX, where the tree shape changes, and any other.
fn interesting_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        (0u32..64).prop_map(|s| 1u64 << s),
        (0u32..64).prop_map(|s| (1u64 << s) - 1),
        (0u32..64).prop_map(|s| (1u64 << s) + 1),
        (0u64..8).prop_map(|d| u64::MAX - d),
    ]
}

fn old_and_new_size() -> impl Strategy<Value = (usize, usize)> {
    (1usize..2000).prop_flat_map(|new| (0..=new, Just(new)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn inclusion_proofs_verify_and_mutations_fail(
        (size, index) in tree_and_index(),
        pick: Index,
        bit: u8,
        other_index: Index,
        other_size in 1u64..4000,
        extra: [u8; 32],
    ) {
        let leaves = synthetic_leaves(size);
        let root = reference_root(&leaves);
        let proof = reference_inclusion_proof(index, &leaves);
        let leaf = leaves[index];
        let (index64, size64) = (index as u64, size as u64);

        prop_assert_eq!(inclusion_proof_length(index64, size64), Ok(proof.len()));
        prop_assert_eq!(verify_inclusion(&leaf, index64, size64, &proof, &root), Ok(()));
        prop_assert!(rfc_inclusion_ok(&leaf, index64, size64, &proof, &root));

        if !proof.is_empty() {
            let mut flipped = proof.clone();
            let at = pick.index(proof.len());
            flipped[at] = flip(&flipped[at], bit);
            prop_assert_eq!(verify_inclusion(&leaf, index64, size64, &flipped, &root), Err(ProofError::RootMismatch));

            let truncated = &proof[..proof.len() - 1];
            let is_too_short = matches!(
                verify_inclusion(&leaf, index64, size64, truncated, &root),
                Err(ProofError::InclusionProofTooShort { .. })
            );
            prop_assert!(is_too_short);
        }

        let mut extended = proof.clone();
        extended.push(extra);
        let is_too_long = matches!(
            verify_inclusion(&leaf, index64, size64, &extended, &root),
            Err(ProofError::InclusionProofTooLong { .. })
        );
        prop_assert!(is_too_long);

        prop_assert_eq!(
            verify_inclusion(&flip(&leaf, bit), index64, size64, &proof, &root),
            Err(ProofError::RootMismatch)
        );
        prop_assert_eq!(
            verify_inclusion(&leaf, index64, size64, &proof, &flip(&root, bit)),
            Err(ProofError::RootMismatch)
        );

        // Leaves are distinct, so no other index holds this leaf.
        let wrong_index = other_index.index(size) as u64;
        if wrong_index != index64 {
            prop_assert!(verify_inclusion(&leaf, wrong_index, size64, &proof, &root).is_err());
        }

        if other_size != size64 {
            let claimed = verify_inclusion(&leaf, index64, other_size, &proof, &root);
            prop_assert_eq!(claimed.is_ok(), rfc_inclusion_ok(&leaf, index64, other_size, &proof, &root));
            if index64 >= other_size {
                prop_assert_eq!(claimed, Err(ProofError::IndexOutOfRange { index: index64, size: other_size }));
            }
        }
    }

    #[test]
    fn consistency_proofs_verify_and_mutations_fail(
        (old_size, new_size) in old_and_new_size(),
        pick: Index,
        bit: u8,
        other_old: Index,
        other_new in 1u64..4000,
        extra: [u8; 32],
    ) {
        let leaves = synthetic_leaves(new_size);
        let old_root = reference_root(&leaves[..old_size]);
        let new_root = reference_root(&leaves);
        let proof = if old_size == 0 { Vec::new() } else { reference_consistency_proof(old_size, &leaves) };
        let (old64, new64) = (old_size as u64, new_size as u64);

        prop_assert_eq!(consistency_proof_length(old64, new64), Ok(proof.len()));
        prop_assert_eq!(verify_consistency(old64, new64, &old_root, &new_root, &proof), Ok(()));
        if 0 < old64 && old64 < new64 {
            prop_assert!(rfc_consistency_ok(old64, new64, &old_root, &new_root, &proof));
        }

        if !proof.is_empty() {
            let mut flipped = proof.clone();
            let at = pick.index(proof.len());
            flipped[at] = flip(&flipped[at], bit);
            let result = verify_consistency(old64, new64, &old_root, &new_root, &flipped);
            let is_mismatch = matches!(result, Err(ProofError::OldRootMismatch | ProofError::NewRootMismatch));
            prop_assert!(is_mismatch, "{:?}", result);

            let truncated = &proof[..proof.len() - 1];
            let is_too_short = matches!(
                verify_consistency(old64, new64, &old_root, &new_root, truncated),
                Err(ProofError::ConsistencyProofTooShort { .. })
            );
            prop_assert!(is_too_short);
        }

        let mut extended = proof.clone();
        extended.push(extra);
        let is_too_long = matches!(
            verify_consistency(old64, new64, &old_root, &new_root, &extended),
            Err(ProofError::ConsistencyProofTooLong { .. })
        );
        prop_assert!(is_too_long);

        prop_assert!(verify_consistency(old64, new64, &flip(&old_root, bit), &new_root, &proof).is_err());
        // From the empty tree every new root is consistent: the empty proof says nothing about it.
        let new_root_flipped = verify_consistency(old64, new64, &old_root, &flip(&new_root, bit), &proof);
        prop_assert_eq!(new_root_flipped.is_ok(), old64 == 0);
        if old_size < new_size {
            prop_assert!(verify_consistency(old64, new64, &new_root, &old_root, &proof).is_err());
        }

        let wrong_old = other_old.index(new_size) as u64;
        if wrong_old != old64 && wrong_old > 0 && old64 > 0 {
            let claimed = verify_consistency(wrong_old, new64, &old_root, &new_root, &proof);
            prop_assert_eq!(claimed.is_ok(), rfc_consistency_ok(wrong_old, new64, &old_root, &new_root, &proof));
        }
        if other_new != new64 && old64 > 0 {
            let claimed = verify_consistency(old64, other_new, &old_root, &new_root, &proof);
            let oracle = old64 < other_new && rfc_consistency_ok(old64, other_new, &old_root, &new_root, &proof);
            prop_assert_eq!(claimed.is_ok(), oracle);
        }
    }

    /// Sizes anywhere in u64, up to u64::MAX: whatever root the verifier computes
    /// from an arbitrary proof of the right length, the RFC algorithm computes too.
    #[test]
    fn inclusion_agrees_with_the_rfc_loop_on_huge_trees(
        size in interesting_u64(),
        index in interesting_u64(),
        hashes in proptest::collection::vec(any::<[u8; 32]>(), 64),
        leaf: [u8; 32],
    ) {
        prop_assume!(size > 0);
        let index = if index < size { index } else { index % size };
        let length = inclusion_proof_length(index, size).unwrap();
        let proof = &hashes[..length];
        let root = root_from_inclusion_proof(&leaf, index, size, proof).unwrap();
        prop_assert_eq!(rfc_inclusion_root(&leaf, index, size, proof), Some(root));
        prop_assert_eq!(verify_inclusion(&leaf, index, size, proof, &root), Ok(()));
    }

    #[test]
    fn consistency_agrees_with_the_rfc_loop_on_huge_trees(
        a in interesting_u64(),
        b in interesting_u64(),
        hashes in proptest::collection::vec(any::<[u8; 32]>(), 65),
        old_root: [u8; 32],
    ) {
        let (old_size, new_size) = (a.min(b), a.max(b));
        prop_assume!(0 < old_size && old_size < new_size);
        let length = consistency_proof_length(old_size, new_size).unwrap();
        prop_assert!(length <= 65);
        let proof = &hashes[..length];
        let (rfc_old, rfc_new) = rfc_consistency_roots(old_size, new_size, &old_root, proof).unwrap();
        prop_assert_eq!(verify_consistency(old_size, new_size, &rfc_old, &rfc_new, proof), Ok(()));
        if old_size.is_power_of_two() {
            prop_assert_eq!(rfc_old, old_root);
        }
    }

    /// Any input at all gives an answer, never a panic.
    #[test]
    fn arbitrary_inputs_never_panic(
        index: u64,
        size: u64,
        old_size: u64,
        new_size: u64,
        hashes in proptest::collection::vec(any::<[u8; 32]>(), 0..70),
        a: [u8; 32],
        b: [u8; 32],
    ) {
        let _ = verify_inclusion(&a, index, size, &hashes, &b);
        let _ = verify_consistency(old_size, new_size, &a, &b, &hashes);
        let _ = verify_consistency(old_size.min(new_size), new_size, &a, &b, &hashes);
        let _ = inclusion_proof_length(index, size);
        let _ = consistency_proof_length(old_size, new_size);
    }
}

#[test]
fn edge_cases_have_their_own_errors() {
    let leaf = synthetic_leaves(1)[0];
    assert_eq!(
        verify_inclusion(&leaf, 0, 0, &[], &EMPTY_ROOT),
        Err(ProofError::EmptyTree)
    );
    assert_eq!(
        verify_inclusion(&leaf, 3, 3, &[], &leaf),
        Err(ProofError::IndexOutOfRange { index: 3, size: 3 })
    );
    assert_eq!(verify_inclusion(&leaf, 0, 1, &[], &leaf), Ok(()));
    // A tree of 2^64 - 1 leaves: 63 perfect subtrees beside its last leaf, 64 levels above its first.
    assert_eq!(
        verify_inclusion(&leaf, u64::MAX - 1, u64::MAX, &[], &leaf),
        Err(ProofError::InclusionProofTooShort {
            length: 0,
            expected: 63
        })
    );
    assert_eq!(
        verify_inclusion(&leaf, 0, u64::MAX, &[], &leaf),
        Err(ProofError::InclusionProofTooShort {
            length: 0,
            expected: 64
        })
    );

    let root3 = reference_root(&synthetic_leaves(3));
    let root4 = reference_root(&synthetic_leaves(4));
    assert_eq!(
        verify_consistency(4, 3, &root4, &root3, &[]),
        Err(ProofError::OldSizeAfterNewSize {
            old_size: 4,
            new_size: 3
        })
    );
    // From the empty tree: only the empty proof, only from the RFC 6962 empty root.
    assert_eq!(verify_consistency(0, 3, &EMPTY_ROOT, &root3, &[]), Ok(()));
    assert_eq!(
        verify_consistency(0, 0, &EMPTY_ROOT, &EMPTY_ROOT, &[]),
        Ok(())
    );
    assert_eq!(
        verify_consistency(0, 3, &[0; 32], &root3, &[]),
        Err(ProofError::OldRootNotEmptyTreeRoot)
    );
    assert_eq!(
        verify_consistency(0, 3, &EMPTY_ROOT, &root3, &[root3]),
        Err(ProofError::ConsistencyProofTooLong {
            length: 1,
            expected: 0
        })
    );
    assert_eq!(
        verify_consistency(0, 0, &EMPTY_ROOT, &root3, &[]),
        Err(ProofError::SameSizeRootsDiffer)
    );
    // Same size: the empty proof and equal roots.
    assert_eq!(verify_consistency(3, 3, &root3, &root3, &[]), Ok(()));
    assert_eq!(
        verify_consistency(3, 3, &root3, &root4, &[]),
        Err(ProofError::SameSizeRootsDiffer)
    );
    assert_eq!(
        verify_consistency(3, 3, &root3, &root3, &[root3]),
        Err(ProofError::ConsistencyProofTooLong {
            length: 1,
            expected: 0
        })
    );
}

#[test]
fn hashes_are_read_with_position_and_length() {
    use dyad_verifier::proof::{hash_from_slice, hashes_from_slices, MAX_PROOF_HASHES};
    assert_eq!(hash_from_slice(&[7; 32]), Ok([7; 32]));
    assert_eq!(
        hash_from_slice(&[7; 31]),
        Err(ProofError::HashWrongLength {
            position: 0,
            length: 31
        })
    );
    let items = vec![vec![1u8; 32], vec![2u8; 32], vec![3u8; 33]];
    assert_eq!(
        hashes_from_slices(&items),
        Err(ProofError::HashWrongLength {
            position: 2,
            length: 33
        })
    );
    assert_eq!(hashes_from_slices(&items[..2]), Ok(vec![[1; 32], [2; 32]]));
    let too_many = vec![[0u8; 32]; MAX_PROOF_HASHES + 1];
    assert_eq!(
        hashes_from_slices(&too_many),
        Err(ProofError::TooManyHashes {
            count: MAX_PROOF_HASHES + 1
        })
    );
    assert_eq!(
        hashes_from_slices(&too_many[1..]).map(|v| v.len()),
        Ok(MAX_PROOF_HASHES)
    );
}
