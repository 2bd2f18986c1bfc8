//! RFC 9162 inclusion proofs: `dyad_verifier::proof`.
//!
//! Input (read with `dyad_fuzz::Cursor`, big-endian), first a mode byte:
//!
//! - mode bit 0 clear, *any proof*: `index u64, size u64, leaf [32], root [32], count u8`,
//!   then `count % 70` hashes. Bit 1 folds the sizes into a small tree (size < 1024), bit 2
//!   replaces the root by the one the reference computes from the path (so that shape
//!   bugs show up as acceptances). The verifier must never panic, must agree with the
//!   RFC 9162 section 2.1.3.2 algorithm (`dyad_fuzz::reference`) on every input, and its
//!   `inclusion_proof_length` must be the only length it accepts.
//! - mode bit 0 set, *a real tree*: `leaves u16, size u16, index u16, mutation u8,
//!   position u8, bit u8, other_index u64, other_size u64`, then leaf data (leaf i is byte
//!   i of the rest, or its index once the rest runs out, so equal leaves are easy to make).
//!   The ledger's `tree::MemoryTree` holds the leaves; its root at `size` must equal the
//!   reference MTH and rs_merkle's (RFC 6962 hasher); its proof must equal the
//!   reference PATH and rs_merkle's proof, and the verifier must accept it; a proof with
//!   one bit flipped (in a hash, the leaf or the root) or a hash dropped or added must be
//!   rejected; with another index or size, the verifier must agree with the reference.
#![no_main]

use dyad_fuzz::oracle::{rs_merkle_path, rs_merkle_root};
use dyad_fuzz::reference::{self, leaf_hash, mth};
use dyad_fuzz::{Cursor, Hash};
use dyad_ledger::tree::{self as ledger_tree, MemoryTree};
use dyad_verifier::proof::{self, ProofError};
use libfuzzer_sys::fuzz_target;

fn check_any(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    let verdict = proof::verify_inclusion(leaf, index, size, proof, root);
    let expected = reference::verify_inclusion(leaf, index, size, proof, root);
    assert_eq!(
        verdict.is_ok(),
        expected,
        "verifier {verdict:?}, RFC 9162 algorithm {expected}: index {index} size {size} proof length {}",
        proof.len()
    );
    match (
        proof::inclusion_proof_length(index, size),
        proof::root_from_inclusion_proof(leaf, index, size, proof),
    ) {
        (Ok(len), Ok(computed)) => {
            assert_eq!(len, proof.len());
            assert!(len <= proof::MAX_INCLUSION_PROOF_HASHES);
            assert_eq!(computed == *root, verdict.is_ok());
            assert_eq!(
                Some(computed),
                reference::inclusion_root(leaf, index, size, proof)
            );
        }
        (Ok(len), Err(ProofError::InclusionProofTooShort { length, expected }))
        | (Ok(len), Err(ProofError::InclusionProofTooLong { length, expected })) => {
            assert_eq!((length, expected), (proof.len(), len));
            assert_ne!(len, proof.len());
        }
        (Err(_), Err(_)) => assert!(size == 0 || index >= size),
        (len, root) => {
            panic!("inclusion_proof_length {len:?} but root_from_inclusion_proof {root:?}")
        }
    }
    verdict.is_ok()
}

fn flip(hash: &mut Hash, bit: u8) {
    hash[usize::from(bit / 8) % 32] ^= 1 << (bit % 8);
}

fn any_proof(mode: u8, c: &mut Cursor<'_>) {
    let mut index = c.u64();
    let mut size = c.u64();
    let leaf = c.hash();
    let mut root = c.hash();
    let count = usize::from(c.u8() % 70);
    let proof: Vec<Hash> = (0..count).map(|_| c.hash()).collect();
    if mode & 2 != 0 {
        size %= 1024;
        index %= size + 1;
    }
    if mode & 4 != 0 {
        if let Some(r) = reference::inclusion_root(&leaf, index, size, &proof) {
            root = r;
        }
    }
    check_any(index, size, &leaf, &proof, &root);
}

fn real_tree(c: &mut Cursor<'_>) {
    let n = 1 + usize::from(c.u16()) % 300;
    let size = 1 + usize::from(c.u16()) % n;
    let index = usize::from(c.u16()) % size;
    let mutation = c.u8();
    let position = c.u8();
    let bit = c.u8();
    let other_index = c.u64();
    let other_size = c.u64();
    let rest = c.rest();
    let data: Vec<Vec<u8>> = (0..n)
        .map(|i| match rest.get(i) {
            Some(b) => vec![*b],
            None => (i as u64).to_be_bytes().to_vec(),
        })
        .collect();
    let leaves: Vec<Hash> = data.iter().map(|d| leaf_hash(d)).collect();
    assert_eq!(ledger_tree::leaf_hash(&data[index]), leaves[index]);
    assert_eq!(dyad_verifier::hash::leaf_hash(&data[index]), leaves[index]);

    let mut tree = MemoryTree::new();
    for leaf in &leaves {
        tree.append(*leaf);
    }
    assert_eq!(
        tree.root(),
        mth(&leaves),
        "ledger root differs from the reference"
    );
    let root = ledger_tree::root_at(size as u64, &tree).expect("root_at a held size");
    let expected_root = mth(&leaves[..size]);
    assert_eq!(
        root, expected_root,
        "ledger root_at({size}) differs from the reference"
    );
    assert_eq!(
        rs_merkle_root(&leaves[..size]),
        expected_root,
        "rs_merkle root differs"
    );

    let path =
        ledger_tree::inclusion_proof(index as u64, size as u64, &tree).expect("inclusion proof");
    assert_eq!(
        path,
        reference::path(index, &leaves[..size]),
        "ledger proof differs from RFC PATH"
    );
    assert_eq!(
        path,
        rs_merkle_path(&leaves[..size], index),
        "ledger proof differs from rs_merkle's"
    );
    assert!(
        check_any(index as u64, size as u64, &leaves[index], &path, &root),
        "the verifier rejects the ledger's proof"
    );

    let (index, size) = (index as u64, size as u64);
    let mut leaf = leaves[index as usize];
    let mut root = root;
    let mut path = path;
    match mutation % 6 {
        0 if !path.is_empty() => {
            let i = usize::from(position) % path.len();
            flip(&mut path[i], bit);
        }
        1 => flip(&mut leaf, bit),
        2 => flip(&mut root, bit),
        3 if !path.is_empty() => {
            path.remove(usize::from(position) % path.len());
        }
        4 => path.insert(
            usize::from(position) % (path.len() + 1),
            leaves[usize::from(bit) % leaves.len()],
        ),
        5 => {
            // Not necessarily invalid (a proof does not pin the size, and equal leaves make
            // some indexes interchangeable): the verifier must just agree with the RFC.
            let other_size = other_size % 1024;
            check_any(
                other_index % (other_size + 1),
                other_size,
                &leaf,
                &path,
                &root,
            );
            check_any(other_index, other_size, &leaf, &path, &root);
            return;
        }
        _ => return,
    }
    assert!(
        !check_any(index, size, &leaf, &path, &root),
        "the verifier accepts a mutated proof (mutation {})",
        mutation % 6
    );
}

fuzz_target!(|data: &[u8]| {
    let mut c = Cursor::new(data);
    let mode = c.u8();
    if mode & 1 == 0 {
        any_proof(mode, &mut c);
    } else {
        real_tree(&mut c);
    }
});
