//! The ledger's Merkle tree (`dyad_ledger::tree`, over a `MemoryTree`; the sled store
//! serves the same functions from its own node table) against the RFC 9162 reference and
//! rs_merkle (RFC 6962 hasher), and the verifier on the ledger's proofs.
//!
//! Input (big-endian, `dyad_fuzz::Cursor`): `leaves u16` (n = leaves % 513), `queries u8`
//! (% 16), then per query `kind u8, a u16, b u16`, then leaf data (leaf i is byte i of the
//! rest, or its index once the rest runs out).
//!
//! Checked: the root after every append equals `Frontier::load` of that size and
//! `root_at` (all sizes when n <= 64, else every 61st); roots equal the reference MTH and
//! rs_merkle's at the first query's size; each query's inclusion or consistency proof equals the
//! reference's and verifies.
#![no_main]

use dyad_fuzz::oracle::rs_merkle_root;
use dyad_fuzz::reference::{self, leaf_hash, mth};
use dyad_fuzz::{Cursor, Hash};
use dyad_ledger::tree::{self as ledger_tree, Frontier, MemoryTree};
use dyad_verifier::proof;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut c = Cursor::new(data);
    let n = usize::from(c.u16()) % 513;
    let queries: Vec<(u8, u16, u16)> = (0..c.u8() % 16)
        .map(|_| (c.u8(), c.u16(), c.u16()))
        .collect();
    let rest = c.rest();
    let leaves: Vec<Hash> = (0..n)
        .map(|i| match rest.get(i) {
            Some(b) => leaf_hash(&[*b]),
            None => leaf_hash(&(i as u64).to_be_bytes()),
        })
        .collect();

    let mut tree = MemoryTree::new();
    let mut roots = vec![tree.root()];
    for leaf in &leaves {
        tree.append(*leaf);
        roots.push(tree.root());
    }
    assert_eq!(roots[0], reference::empty_root());
    let step = if n <= 64 { 1 } else { 61 };
    for k in (0..=n).step_by(step).chain([n]) {
        let at = ledger_tree::root_at(k as u64, &tree).expect("root_at");
        assert_eq!(
            at, roots[k],
            "root_at({k}) differs from the root after {k} appends"
        );
        let frontier = Frontier::load(k as u64, &tree).expect("Frontier::load");
        assert_eq!(
            frontier.root(),
            roots[k],
            "Frontier::load({k}) has another root"
        );
        assert_eq!(frontier.size(), k as u64);
        assert_eq!(frontier.hashes().len(), (k as u64).count_ones() as usize);
        if n <= 64 {
            assert_eq!(
                at,
                mth(&leaves[..k]),
                "root of {k} leaves differs from the reference"
            );
        }
    }
    assert_eq!(roots[n], mth(&leaves), "root differs from the reference");
    assert_eq!(
        roots[n],
        rs_merkle_root(&leaves),
        "root differs from rs_merkle's"
    );
    assert!(ledger_tree::root_at(n as u64 + 1, &tree).is_err());

    if n == 0 {
        return;
    }
    for (i, (kind, a, b)) in queries.into_iter().enumerate() {
        let size = 1 + usize::from(b) % n;
        if i == 0 {
            assert_eq!(
                roots[size],
                rs_merkle_root(&leaves[..size]),
                "rs_merkle root at {size}"
            );
        }
        if kind % 2 == 0 {
            let index = usize::from(a) % size;
            let path = ledger_tree::inclusion_proof(index as u64, size as u64, &tree)
                .expect("inclusion proof");
            assert_eq!(path, reference::path(index, &leaves[..size]));
            proof::verify_inclusion(
                &leaves[index],
                index as u64,
                size as u64,
                &path,
                &roots[size],
            )
            .expect("the verifier rejects the ledger's inclusion proof");
            assert!(ledger_tree::inclusion_proof(size as u64, size as u64, &tree).is_err());
        } else {
            let old = usize::from(a) % (size + 1);
            let path = ledger_tree::consistency_proof(old as u64, size as u64, &tree)
                .expect("consistency proof");
            assert_eq!(path, reference::consistency(old, &leaves[..size]));
            proof::verify_consistency(old as u64, size as u64, &roots[old], &roots[size], &path)
                .expect("the verifier rejects the ledger's consistency proof");
            if old > 0 {
                assert!(
                    ledger_tree::consistency_proof(size as u64, old as u64 - 1, &tree).is_err()
                );
            }
        }
    }
});
