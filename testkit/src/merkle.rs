//! The RFC 9162 Merkle tree by its recursive definitions (section 2.1.1 MTH, 2.1.3.1 PATH,
//! 2.1.4.1 PROOF): slow and obviously right, for tests to compare a tree builder or a proof
//! verifier with. It hashes with SHA-256 itself, so an error in the hashing under test shows.

use sha2::{Digest, Sha256};

/// A SHA-256 digest: a leaf hash, a node hash or a root.
pub type Hash = [u8; 32];

/// MTH({}): the hash of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// MTH({d}) = SHA-256(0x00 || d).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0]);
    h.update(data);
    h.finalize().into()
}

/// SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// k, the largest power of two smaller than n (n > 1): the size of the left subtree.
pub fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// MTH(D[n]) over the leaf hashes.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// PATH(m, D[n]): the inclusion proof of leaf `m`, from the leaf upwards.
pub fn inclusion_proof(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = split(n);
    let (mut path, sibling) = if m < k {
        (inclusion_proof(m, &leaves[..k]), root(&leaves[k..]))
    } else {
        (inclusion_proof(m - k, &leaves[k..]), root(&leaves[..k]))
    };
    path.push(sibling);
    path
}

/// PROOF(m, D[n]): the consistency proof from the tree of the first `m` leaves (0 < m <= n).
pub fn consistency_proof(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    subproof(m, leaves, true)
}

/// SUBPROOF(m, D[n], b) of RFC 9162 2.1.4.1.
fn subproof(m: usize, leaves: &[Hash], complete: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if complete {
            Vec::new()
        } else {
            vec![root(leaves)]
        };
    }
    let k = split(n);
    let (mut proof, sibling) = if m <= k {
        (subproof(m, &leaves[..k], complete), root(&leaves[k..]))
    } else {
        (subproof(m - k, &leaves[k..], false), root(&leaves[..k]))
    };
    proof.push(sibling);
    proof
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9162 2.1.5's example tree of seven leaves: the proofs it lists by node name.
    #[test]
    fn the_rfc_examples_hold() {
        let d: Vec<Hash> = (0..7u8).map(|i| leaf_hash(&[i])).collect();
        let (a, b, c) = (d[0], d[1], d[2]);
        let g = node_hash(&a, &b);
        let h = node_hash(&c, &d[3]);
        let i = node_hash(&d[4], &d[5]);
        let k = node_hash(&g, &h);
        let l = node_hash(&i, &d[6]);
        assert_eq!(root(&d), node_hash(&k, &l));
        // "The inclusion proof for b is [a, h, l]."
        assert_eq!(inclusion_proof(1, &d), vec![a, h, l]);
        // "The consistency proof between hash0 and hash is PROOF(3, D[7]) = [c, d, g, l]."
        assert_eq!(consistency_proof(3, &d), vec![c, d[3], g, l]);
        // "...between hash1 and hash is PROOF(4, D[7]) = [l]."
        assert_eq!(consistency_proof(4, &d), vec![l]);
        // "...between hash2 and hash is PROOF(6, D[7]) = [i, j, k]." (j is d6 here)
        assert_eq!(consistency_proof(6, &d), vec![i, d[6], k]);
        assert_eq!(root(&[]), empty_root());
    }
}
