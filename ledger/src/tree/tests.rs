//! The tree's unit tests: roots, frontiers and proofs against a reference.

use super::*;
use std::cell::Cell;

// The RFC 9162 definitions, from the one copy of the test oracles.
use dyad_testkit::merkle::{
    consistency_proof as reference_consistency, inclusion_proof as reference_path,
    root as reference_root,
};

fn leaves(n: u64) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(format!("leaf {i}").as_bytes()))
        .collect()
}

fn tree_of(leaves: &[Hash]) -> MemoryTree {
    let mut t = MemoryTree::new();
    for l in leaves {
        t.append(*l);
    }
    t
}

/// Counts reads, to hold proofs to O(log n).
struct Counting<'a> {
    tree: &'a MemoryTree,
    reads: Cell<u64>,
}

impl NodeReader for Counting<'_> {
    type Error = TreeError;
    fn size(&self) -> u64 {
        self.tree.size()
    }
    fn node(&self, level: u8, index: u64) -> Result<Hash, TreeError> {
        self.reads.set(self.reads.get() + 1);
        self.tree.node(level, index)
    }
}

#[test]
fn empty_root_is_sha256_of_nothing() {
    assert_eq!(EMPTY_ROOT, <[u8; 32]>::from(Sha256::digest(b"")));
    assert_eq!(Frontier::new().root(), EMPTY_ROOT);
    assert_eq!(root_at(0, &MemoryTree::new()), Ok(EMPTY_ROOT));
}

#[test]
fn hashes_are_domain_separated() {
    let a = leaf_hash(b"a");
    let mut manual = Sha256::new();
    manual.update([0u8]);
    manual.update(b"a");
    assert_eq!(a, <[u8; 32]>::from(manual.finalize()));
    let mut manual = Sha256::new();
    manual.update([1u8]);
    manual.update(a);
    manual.update(a);
    assert_eq!(node_hash(&a, &a), <[u8; 32]>::from(manual.finalize()));
}

#[test]
fn append_reports_every_completed_node() {
    let mut f = Frontier::new();
    let l = leaves(8);
    let ids = |nodes: Vec<Node>| nodes.iter().map(|n| (n.level, n.index)).collect::<Vec<_>>();
    assert_eq!(ids(f.append(l[0])), vec![(0, 0)]);
    assert_eq!(ids(f.append(l[1])), vec![(0, 1), (1, 0)]);
    assert_eq!(ids(f.append(l[2])), vec![(0, 2)]);
    let fourth = f.append(l[3]);
    assert_eq!(ids(fourth.clone()), vec![(0, 3), (1, 1), (2, 0)]);
    assert_eq!(fourth[2].hash, reference_root(&l[..4]));
    for leaf in &l[4..7] {
        f.append(*leaf);
    }
    assert_eq!(ids(f.append(l[7])), vec![(0, 7), (1, 3), (2, 1), (3, 0)]);
    assert_eq!(f.hashes().len(), 1);
}

#[test]
fn frontier_root_and_load_match_reference() {
    let l = leaves(300);
    let full = tree_of(&l);
    let mut f = Frontier::new();
    for (i, leaf) in l.iter().enumerate() {
        f.append(*leaf);
        let size = i as u64 + 1;
        assert_eq!(f.root(), reference_root(&l[..=i]), "size {size}");
        assert_eq!(f.hashes().len(), size.count_ones() as usize);
        let loaded = Frontier::load(size, &full).unwrap();
        assert_eq!(loaded, f);
        assert_eq!(root_at(size, &full).unwrap(), f.root());
    }
}

#[test]
fn proofs_match_reference_for_every_small_tree() {
    let l = leaves(70);
    let full = tree_of(&l);
    for n in 1..=l.len() {
        for m in 0..n {
            assert_eq!(
                inclusion_proof(m as u64, n as u64, &full).unwrap(),
                reference_path(m, &l[..n]),
                "inclusion {m} in {n}"
            );
        }
        for m in 1..=n {
            let expected = if m == n {
                Vec::new()
            } else {
                reference_consistency(m, &l[..n])
            };
            assert_eq!(
                consistency_proof(m as u64, n as u64, &full).unwrap(),
                expected,
                "consistency {m} to {n}"
            );
        }
    }
}

#[test]
fn edge_cases_are_typed_errors() {
    let full = tree_of(&leaves(5));
    assert_eq!(
        inclusion_proof(5, 5, &full),
        Err(TreeError::IndexOutOfRange { index: 5, size: 5 })
    );
    assert_eq!(
        inclusion_proof(0, 0, &full),
        Err(TreeError::IndexOutOfRange { index: 0, size: 0 })
    );
    assert_eq!(
        inclusion_proof(0, 6, &full),
        Err(TreeError::SizeBeyondLog {
            size: 6,
            available: 5
        })
    );
    assert_eq!(
        consistency_proof(4, 3, &full),
        Err(TreeError::OldSizeAfterNew { old: 4, new: 3 })
    );
    assert_eq!(consistency_proof(0, 5, &full), Ok(Vec::new()));
    assert_eq!(consistency_proof(0, 0, &full), Ok(Vec::new()));
    assert_eq!(consistency_proof(3, 3, &full), Ok(Vec::new()));
    assert_eq!(
        consistency_proof(1, 6, &full),
        Err(TreeError::SizeBeyondLog {
            size: 6,
            available: 5
        })
    );
    assert_eq!(
        root_at(6, &full),
        Err(TreeError::SizeBeyondLog {
            size: 6,
            available: 5
        })
    );
    assert_eq!(inclusion_proof(0, 1, &full), Ok(Vec::new()));
}

#[test]
fn missing_nodes_are_reported_not_invented() {
    let mut full = tree_of(&leaves(6));
    full.nodes.remove(&(1, 2));
    assert_eq!(
        root_at(6, &full),
        Err(TreeError::MissingNode { level: 1, index: 2 })
    );
    assert_eq!(
        Frontier::load(6, &full),
        Err(TreeError::MissingNode { level: 1, index: 2 })
    );
    assert!(root_at(4, &full).is_ok());
}

#[test]
fn reads_are_logarithmic() {
    // A size with many set bits is the worst case for the right edge.
    let n: u64 = (1 << 12) - 1;
    let full = tree_of(&leaves(n));
    let counting = Counting {
        tree: &full,
        reads: Cell::new(0),
    };
    let mut worst = 0;
    for (m, size) in [
        (0, n),
        (n / 2, n),
        (n - 1, n),
        (1, n),
        (n - 2, n - 1),
        (2047, 4095),
    ] {
        counting.reads.set(0);
        inclusion_proof(m, size, &counting).unwrap();
        worst = worst.max(counting.reads.get());
        counting.reads.set(0);
        consistency_proof(m.max(1), size, &counting).unwrap();
        worst = worst.max(counting.reads.get());
    }
    counting.reads.set(0);
    root_at(n, &counting).unwrap();
    assert_eq!(counting.reads.get(), 12);
    // Each level of the path reads at most one decomposition of at most 12 parts,
    // and those shrink as the path descends: far below the 4095 leaves.
    assert!(worst <= 2 * 12 * 2, "{worst} reads");
}

#[test]
fn split_is_largest_power_of_two_below() {
    assert_eq!(split(2), 1);
    assert_eq!(split(3), 2);
    assert_eq!(split(4), 2);
    assert_eq!(split(5), 4);
    assert_eq!(split(u64::MAX), 1 << 63);
    assert_eq!(split((1 << 63) + 1), 1 << 63);
}
