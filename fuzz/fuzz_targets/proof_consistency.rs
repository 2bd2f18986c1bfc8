//! RFC 9162 consistency proofs: `dyad_verifier::proof::verify_consistency`.
//!
//! Input (read with `dyad_fuzz::Cursor`, big-endian), first a mode byte:
//!
//! - mode bit 0 clear, *any proof*: `old u64, new u64, old_root [32], new_root [32],
//!   count u8`, then `count % 72` hashes. Bit 1 folds the sizes into a small tree
//!   (new < 1024), bit 2 replaces the roots by the ones the reference computes from the
//!   proof. The verifier must never panic, must agree with the RFC 9162 section 2.1.4.2
//!   algorithm plus spec section 5's rules (`dyad_fuzz::reference`) on every input, and
//!   `consistency_proof_length` must be the only length it accepts.
//! - mode bit 0 set, *a real tree*: `leaves u16, new u16, old u16, mutation u8,
//!   position u8, bit u8, other_old u64, other_new u64`, then leaf data (leaf i is byte i
//!   of the rest, or its index once the rest runs out). The ledger's `tree::MemoryTree`
//!   holds the leaves; its roots at `old` and `new` must equal the reference MTH and
//!   rs_merkle's; its proof must equal the reference SUBPROOF and the verifier must accept
//!   it; a proof with one bit flipped (in a hash or either root) or a hash dropped or added
//!   must be rejected; with other sizes the verifier must agree with the reference.
#![no_main]

use dyad_fuzz::oracle::rs_merkle_root;
use dyad_fuzz::reference::{self, leaf_hash, mth};
use dyad_fuzz::{Cursor, Hash};
use dyad_ledger::tree::{self as ledger_tree, MemoryTree};
use dyad_verifier::proof::{self, ProofError};
use libfuzzer_sys::fuzz_target;

fn check_any(old: u64, new: u64, old_root: &Hash, new_root: &Hash, proof: &[Hash]) -> bool {
    let verdict = proof::verify_consistency(old, new, old_root, new_root, proof);
    let expected = reference::verify_consistency(old, new, old_root, new_root, proof);
    assert_eq!(
        verdict.is_ok(),
        expected,
        "verifier {verdict:?}, RFC 9162 algorithm {expected}: {old} -> {new}, proof length {}",
        proof.len()
    );
    match proof::consistency_proof_length(old, new) {
        Ok(len) => {
            assert!(len <= proof::MAX_CONSISTENCY_PROOF_HASHES);
            if len != proof.len() {
                assert!(
                    matches!(
                        verdict,
                        Err(ProofError::ConsistencyProofTooShort { .. })
                            | Err(ProofError::ConsistencyProofTooLong { .. })
                    ),
                    "length {} where {len} is needed gave {verdict:?}",
                    proof.len()
                );
            }
        }
        Err(_) => assert!(old > new && verdict.is_err()),
    }
    verdict.is_ok()
}

fn flip(hash: &mut Hash, bit: u8) {
    hash[usize::from(bit / 8) % 32] ^= 1 << (bit % 8);
}

fn any_proof(mode: u8, c: &mut Cursor<'_>) {
    let mut old = c.u64();
    let mut new = c.u64();
    let mut old_root = c.hash();
    let mut new_root = c.hash();
    let count = usize::from(c.u8() % 72);
    let proof: Vec<Hash> = (0..count).map(|_| c.hash()).collect();
    if mode & 2 != 0 {
        new %= 1024;
        old %= new + 1;
    }
    if mode & 4 != 0 {
        if let Some((o, n)) = reference::consistency_roots(old, new, &old_root, &proof) {
            old_root = o;
            new_root = n;
        }
    }
    check_any(old, new, &old_root, &new_root, &proof);
}

fn real_tree(c: &mut Cursor<'_>) {
    let n = 1 + usize::from(c.u16()) % 300;
    let new = usize::from(c.u16()) % (n + 1);
    let old = usize::from(c.u16()) % (new + 1);
    let mutation = c.u8();
    let position = c.u8();
    let bit = c.u8();
    let other_old = c.u64();
    let other_new = c.u64();
    let rest = c.rest();
    let leaves: Vec<Hash> = (0..n)
        .map(|i| match rest.get(i) {
            Some(b) => leaf_hash(&[*b]),
            None => leaf_hash(&(i as u64).to_be_bytes()),
        })
        .collect();

    let mut tree = MemoryTree::new();
    for leaf in &leaves {
        tree.append(*leaf);
    }
    let mut old_root = ledger_tree::root_at(old as u64, &tree).expect("root_at old");
    let mut new_root = ledger_tree::root_at(new as u64, &tree).expect("root_at new");
    assert_eq!(
        old_root,
        mth(&leaves[..old]),
        "ledger root_at({old}) differs from the reference"
    );
    assert_eq!(
        new_root,
        mth(&leaves[..new]),
        "ledger root_at({new}) differs from the reference"
    );
    assert_eq!(
        rs_merkle_root(&leaves[..old]),
        old_root,
        "rs_merkle root differs"
    );
    assert_eq!(
        rs_merkle_root(&leaves[..new]),
        new_root,
        "rs_merkle root differs"
    );

    let mut path =
        ledger_tree::consistency_proof(old as u64, new as u64, &tree).expect("consistency proof");
    assert_eq!(
        path,
        reference::consistency(old, &leaves[..new]),
        "ledger proof differs from RFC 9162 PROOF({old}, D[{new}])"
    );
    let (old, new) = (old as u64, new as u64);
    assert!(
        check_any(old, new, &old_root, &new_root, &path),
        "the verifier rejects the ledger's proof {old} -> {new}"
    );
    match mutation % 6 {
        0 if !path.is_empty() => {
            let i = usize::from(position) % path.len();
            flip(&mut path[i], bit);
        }
        1 => flip(&mut old_root, bit),
        // From the empty tree any new root is consistent: only flip it when it counts.
        2 if old != 0 => flip(&mut new_root, bit),
        3 if !path.is_empty() => {
            path.remove(usize::from(position) % path.len());
        }
        4 => path.insert(
            usize::from(position) % (path.len() + 1),
            leaves[usize::from(bit) % leaves.len()],
        ),
        5 => {
            let small_new = other_new % 1024;
            check_any(
                other_old % (small_new + 1),
                small_new,
                &old_root,
                &new_root,
                &path,
            );
            check_any(other_old, other_new, &old_root, &new_root, &path);
            return;
        }
        _ => return,
    }
    assert!(
        !check_any(old, new, &old_root, &new_root, &path),
        "the verifier accepts a mutated proof {old} -> {new} (mutation {})",
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
