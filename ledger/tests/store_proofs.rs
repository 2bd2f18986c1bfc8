//! The store's roots and proofs against two independent implementations: rs_merkle as an
//! oracle for roots and inclusion paths, and dyad-verifier, which must accept every proof
//! the store gives and reject every one altered by a single bit.
//!
//! rs_merkle builds a tree bottom-up, pairing neighbours layer by layer and carrying an
//! unpaired last node up unchanged (`concat_and_hash(left, None)` returns `left`). That
//! is exactly RFC 6962's shape: the largest-power-of-two split of section 2.1 puts every
//! complete subtree where the bottom-up pairing does, and the right edge's odd node is
//! carried up until it meets its left neighbour. rs_merkle's only difference is hashing:
//! it hashes a pair as H(left || right) and takes leaves as given. So the oracle's hasher
//! adds RFC 9162's domain separation itself, 0x01 for a pair and 0x00 for a leaf (which
//! the test hashes before handing leaves to rs_merkle), while keeping the default
//! promotion. The vector test in `store_vectors.rs` pins both against Go's tlog.

use std::sync::OnceLock;

use dyad_ledger::store::Store;
use dyad_ledger::tree::{leaf_hash, Hash};
use dyad_verifier::proof::{verify_consistency, verify_inclusion};
use proptest::prelude::*;
use rs_merkle::{Hasher, MerkleTree};
use sha2::{Digest, Sha256};

const N: u64 = 3000;

#[derive(Clone)]
struct Rfc6962;

impl Hasher for Rfc6962 {
    type Hash = [u8; 32];

    fn hash(data: &[u8]) -> [u8; 32] {
        Sha256::digest(data).into()
    }

    fn concat_and_hash(left: &[u8; 32], right: Option<&[u8; 32]>) -> [u8; 32] {
        match right {
            Some(right) => Sha256::new()
                .chain_update([0x01])
                .chain_update(left)
                .chain_update(right)
                .finalize()
                .into(),
            None => *left,
        }
    }
}

fn oracle_leaf(data: &[u8]) -> [u8; 32] {
    Rfc6962::hash(&[&[0x00][..], data].concat())
}

fn leaf(i: u64) -> Vec<u8> {
    format!("entry {i}")
        .into_bytes()
        .repeat(1 + (i % 3) as usize)
}

fn oracle(size: u64) -> MerkleTree<Rfc6962> {
    let leaves: Vec<[u8; 32]> = (0..size).map(|i| oracle_leaf(&leaf(i))).collect();
    MerkleTree::from_leaves(&leaves)
}

/// One store of N entries for all cases, committed in batches of irregular sizes.
fn shared() -> &'static Store {
    static STORE: OnceLock<(tempfile::TempDir, Store)> = OnceLock::new();
    &STORE
        .get_or_init(|| {
            let tmp = tempfile::tempdir().unwrap();
            let mut store = Store::create(&tmp.path().join("log")).unwrap();
            let mut next = 0;
            let mut step = 1;
            while next < N {
                let mut b = store.batch();
                for i in next..(next + step).min(N) {
                    b.append_leaf(leaf(i));
                }
                store.commit(b).unwrap();
                next = (next + step).min(N);
                step = step * 3 % 257 + 1;
            }
            (tmp, store)
        })
        .1
}

fn flip(proof: &[Hash], which: usize, bit: u8) -> Vec<Hash> {
    let mut p = proof.to_vec();
    p[which][usize::from(bit / 8)] ^= 1 << (bit % 8);
    p
}

#[test]
fn the_oracle_is_rfc_6962() {
    // MTH of RFC 9162 2.1.1, spelled out for three leaves: node(node(a, b), c).
    let (a, b, c) = (oracle_leaf(b"a"), oracle_leaf(b"b"), oracle_leaf(b"c"));
    let expected = Rfc6962::concat_and_hash(&Rfc6962::concat_and_hash(&a, Some(&b)), Some(&c));
    assert_eq!(
        MerkleTree::<Rfc6962>::from_leaves(&[a, b, c]).root(),
        Some(expected)
    );
    assert_eq!(oracle_leaf(b"a"), leaf_hash(b"a"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn roots_and_inclusion_paths_match_rs_merkle(size in 1..=N, index_seed in any::<u64>()) {
        let store = shared();
        let index = index_seed % size;
        let tree = oracle(size);
        let root = store.root_at(size).unwrap();
        prop_assert_eq!(Some(root), tree.root());
        let proof = store.inclusion_proof(index, size).unwrap();
        let expected = tree.proof(&[index as usize]);
        prop_assert_eq!(proof.as_slice(), expected.proof_hashes());
    }

    #[test]
    fn every_proof_verifies_and_no_altered_one_does(
        size in 1..=N,
        index_seed in any::<u64>(),
        old_seed in any::<u64>(),
        which_seed in any::<usize>(),
        bit in any::<u8>(),
    ) {
        let store = shared();
        let index = index_seed % size;
        let root = store.root_at(size).unwrap();
        let lh = store.leaf_hash(index).unwrap();
        prop_assert_eq!(lh, leaf_hash(&leaf(index)));

        let proof = store.inclusion_proof(index, size).unwrap();
        prop_assert_eq!(verify_inclusion(&lh, index, size, &proof, &root), Ok(()));
        if !proof.is_empty() {
            let bad = flip(&proof, which_seed % proof.len(), bit);
            prop_assert!(verify_inclusion(&lh, index, size, &bad, &root).is_err());
            prop_assert!(verify_inclusion(&lh, index, size, &proof[..proof.len() - 1], &root).is_err());
        }
        let mut longer = proof.clone();
        longer.push(root);
        prop_assert!(verify_inclusion(&lh, index, size, &longer, &root).is_err());
        let other = leaf_hash(b"some other entry");
        prop_assert!(verify_inclusion(&other, index, size, &proof, &root).is_err());

        let old = old_seed % (size + 1);
        let old_root = store.root_at(old).unwrap();
        let proof = store.consistency_proof(old, size).unwrap();
        prop_assert_eq!(verify_consistency(old, size, &old_root, &root, &proof), Ok(()));
        if !proof.is_empty() {
            let bad = flip(&proof, which_seed % proof.len(), bit);
            prop_assert!(verify_consistency(old, size, &old_root, &root, &bad).is_err());
            prop_assert!(verify_consistency(old, size, &old_root, &root, &proof[1..]).is_err());
        }
        if old > 0 && old < size {
            let mut wrong_old = old_root;
            wrong_old[(bit % 32) as usize] ^= 1;
            prop_assert!(verify_consistency(old, size, &wrong_old, &root, &proof).is_err());
        }
    }

    #[test]
    fn any_batching_gives_the_same_tree(splits in proptest::collection::vec(1u64..40, 1..12)) {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = Store::create(tmp.path()).unwrap();
        let mut size = 0;
        for n in splits {
            let mut b = store.batch();
            for i in size..size + n {
                prop_assert_eq!(b.append_leaf(leaf(i)), i);
            }
            let head = store.commit(b).unwrap();
            size += n;
            prop_assert_eq!(head.size, size);
            prop_assert_eq!(Some(head.root), oracle(size).root());
            prop_assert_eq!(store.root_at(size).unwrap(), shared().root_at(size).unwrap());
        }
    }
}

#[test]
fn every_proof_of_a_small_tree_verifies() {
    let store = shared();
    for size in 1..=70 {
        let root = store.root_at(size).unwrap();
        for index in 0..size {
            let proof = store.inclusion_proof(index, size).unwrap();
            verify_inclusion(&store.leaf_hash(index).unwrap(), index, size, &proof, &root).unwrap();
        }
        for old in 0..=size {
            let proof = store.consistency_proof(old, size).unwrap();
            verify_consistency(old, size, &store.root_at(old).unwrap(), &root, &proof).unwrap();
        }
    }
}
