//! RFC 9162 section 2.1.1 Merkle tree hashing with SHA-256.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        let digest: Hash = Sha256::digest([]).into();
        assert_eq!(EMPTY_ROOT, digest);
    }
}
