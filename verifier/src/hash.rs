//! RFC 9162 section 2.1.1 Merkle tree hashing with SHA-256.

use alloc::vec::Vec;

use sha2::{Digest, Sha256};

/// A SHA-256 digest: a Merkle tree node, leaf hash or root.
pub type Hash = [u8; 32];

/// Prefix of a leaf hash input; keeps leaves and interior nodes in separate domains
/// so that no interior node can be presented as a leaf (second preimage).
const LEAF_PREFIX: u8 = 0x00;
const NODE_PREFIX: u8 = 0x01;

/// The root of the empty tree, MTH({}) = SHA-256 of the empty string (RFC 9162
/// section 2.1.1). Go's `tlog.TreeHash(0)` returns all zeros instead; dyad follows the RFC.
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// SHA-256(0x00 || data).
pub fn leaf_hash(data: &[u8]) -> Hash {
    Sha256::new()
        .chain_update([LEAF_PREFIX])
        .chain_update(data)
        .finalize()
        .into()
}

/// SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    Sha256::new()
        .chain_update([NODE_PREFIX])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

/// The compact frontier of a tree being built leaf by leaf: the roots of its perfect
/// subtrees, largest (leftmost) first, one per set bit of the leaf count, so at most 64
/// hashes. Enough to compute the root of the leaves so far (RFC 9162 MTH), and no earlier
/// root.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Frontier {
    roots: Vec<Hash>,
    leaves: u64,
}

impl Frontier {
    /// Leaves pushed so far.
    pub(crate) fn leaves(&self) -> u64 {
        self.leaves
    }

    /// Appends a leaf hash. Returns false, and changes nothing, when the tree already has
    /// 2^64 - 1 leaves.
    #[must_use]
    pub(crate) fn push(&mut self, leaf: Hash) -> bool {
        let Some(leaves) = self.leaves.checked_add(1) else {
            return false;
        };
        // Merge the new leaf with the perfect subtrees it completes: one per trailing
        // set bit of the old leaf count.
        let mut hash = leaf;
        let mut n = self.leaves;
        while n & 1 == 1 {
            if let Some(left) = self.roots.pop() {
                hash = node_hash(&left, &hash);
            }
            n >>= 1;
        }
        self.roots.push(hash);
        self.leaves = leaves;
        true
    }

    /// The root of the leaves pushed so far (SHA-256 of nothing when there are none).
    pub(crate) fn root(&self) -> Hash {
        let mut hashes = self.roots.iter().rev();
        let Some(&last) = hashes.next() else {
            return EMPTY_ROOT;
        };
        hashes.fold(last, |right, left| node_hash(left, &right))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        let digest: Hash = Sha256::digest([]).into();
        assert_eq!(EMPTY_ROOT, digest);
    }

    #[test]
    fn frontier_root_matches_the_recursive_definition() {
        use dyad_testkit::merkle::root as mth;
        let mut frontier = Frontier::default();
        let mut leaves = Vec::new();
        assert_eq!(frontier.root(), EMPTY_ROOT);
        for i in 0..70u32 {
            let leaf = leaf_hash(&i.to_be_bytes());
            leaves.push(leaf);
            assert!(frontier.push(leaf));
            assert_eq!(frontier.root(), mth(&leaves), "size {}", i + 1);
            assert_eq!(frontier.roots.len(), (i + 1).count_ones() as usize);
            assert_eq!(frontier.leaves(), u64::from(i) + 1);
        }
    }

    #[test]
    fn a_full_frontier_takes_no_more_leaves() {
        let mut full = Frontier {
            roots: alloc::vec![[7; 32]; 64],
            leaves: u64::MAX,
        };
        let before = full.clone();
        assert!(!full.push([1; 32]));
        assert_eq!(full, before);
    }
}
