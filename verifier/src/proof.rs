//! RFC 9162 inclusion (section 2.1.3.2) and consistency (section 2.1.4.2) proof
//! verification.
//!
//! Proofs are lists of hashes ordered from the leaf (or the old tree's last subtree)
//! upwards, as RFC 9162 produces them. Rather than walking the RFC's loop and
//! failing when it runs out of hashes, the verifiers first derive the proof's
//! exact length from the sizes, so that a proof that is too short or too long is
//! named as such, and then fold the hashes in a single pass.
//!
//! A proof alone does not pin the tree size: two sizes that give the same path
//! shape accept the same proof against the same root. Binding a size to a root
//! is the job of the signed checkpoint that carries both.

use alloc::vec::Vec;
use core::cmp::Ordering;

use crate::hash::{node_hash, Hash, EMPTY_ROOT};

/// Longest inclusion proof: one hash per level of a tree of up to 2^64 - 1 leaves.
pub const MAX_INCLUSION_PROOF_HASHES: usize = 64;

/// Longest consistency proof. It is one more than the tree height because the
/// proof starts with the old tree's last subtree hash when the old size is not a
/// power of two; for example 2^64 - 3 to 2^64 - 1 takes 65 hashes.
pub const MAX_CONSISTENCY_PROOF_HASHES: usize = 65;

/// Most hashes [`hashes_from_slices`] accepts: the longest proof of either kind.
pub const MAX_PROOF_HASHES: usize = MAX_CONSISTENCY_PROOF_HASHES;

/// Why a proof was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    #[error("the tree is empty: it includes no leaf")]
    EmptyTree,
    #[error("leaf index {index} is not below the tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("inclusion proof has {length} hashes, the tree shape needs {expected}")]
    InclusionProofTooShort { length: usize, expected: usize },
    #[error("inclusion proof has {length} hashes, the tree shape needs {expected}")]
    InclusionProofTooLong { length: usize, expected: usize },
    #[error("the inclusion proof leads to a different root")]
    RootMismatch,
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    OldSizeAfterNewSize { old_size: u64, new_size: u64 },
    #[error("consistency proof has {length} hashes, the tree shapes need {expected}")]
    ConsistencyProofTooShort { length: usize, expected: usize },
    #[error("consistency proof has {length} hashes, the tree shapes need {expected}")]
    ConsistencyProofTooLong { length: usize, expected: usize },
    #[error("the old tree has size 0 but its root is not the empty tree's root")]
    OldRootNotEmptyTreeRoot,
    #[error("old and new trees have the same size but different roots")]
    SameSizeRootsDiffer,
    #[error("the consistency proof does not lead to the old root")]
    OldRootMismatch,
    #[error("the consistency proof does not lead to the new root")]
    NewRootMismatch,
    #[error("proof hash {position} has {length} bytes, want 32")]
    HashWrongLength { position: usize, length: usize },
    #[error("proof has {count} hashes, at most {MAX_PROOF_HASHES} are accepted")]
    TooManyHashes { count: usize },
}

/// Number of bits needed to write `value`: 0 for 0, 64 for values >= 2^63.
fn bit_length(value: u64) -> usize {
    (u64::BITS - value.leading_zeros()) as usize
}

/// Bits of `value` above the lowest `bits`; shifting a u64 by 64 would overflow.
fn bits_above(value: u64, bits: usize) -> u64 {
    u32::try_from(bits)
        .ok()
        .and_then(|b| value.checked_shr(b))
        .unwrap_or(0)
}

/// The path from a leaf to the root splits in two: `inner` levels inside the
/// largest perfect subtree that holds both the leaf and the tree's last leaf
/// (where the sibling may be on either side), then `border` levels where the
/// path's node is the right child of a perfect subtree on its left.
#[derive(Debug, Clone, Copy)]
struct PathShape {
    inner: usize,
    border: usize,
}

impl PathShape {
    fn new(index: u64, last_index: u64) -> Self {
        let inner = bit_length(index ^ last_index);
        let border = bits_above(index, inner).count_ones() as usize;
        Self { inner, border }
    }
}

/// Number of hashes in the inclusion proof for leaf `index` in a tree of `size` leaves.
pub fn inclusion_proof_length(index: u64, size: u64) -> Result<usize, ProofError> {
    if size == 0 {
        return Err(ProofError::EmptyTree);
    }
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let shape = PathShape::new(index, size - 1);
    Ok(shape.inner + shape.border)
}

/// Recomputes the root that an inclusion proof leads to from `leaf_hash` at `index`
/// in a tree of `size` leaves (RFC 9162 section 2.1.3.2).
pub fn root_from_inclusion_proof(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    let expected = inclusion_proof_length(index, size)?;
    let length = proof.len();
    match length.cmp(&expected) {
        Ordering::Less => return Err(ProofError::InclusionProofTooShort { length, expected }),
        Ordering::Greater => return Err(ProofError::InclusionProofTooLong { length, expected }),
        Ordering::Equal => {}
    }
    let shape = PathShape::new(index, size - 1);
    let (inner, border) = proof.split_at(shape.inner.min(length));

    let mut hash = *leaf_hash;
    for (level, sibling) in inner.iter().enumerate() {
        hash = if (index >> level) & 1 == 0 {
            node_hash(&hash, sibling)
        } else {
            node_hash(sibling, &hash)
        };
    }
    for sibling in border {
        hash = node_hash(sibling, &hash);
    }
    Ok(hash)
}

/// Checks that `proof` shows the leaf with hash `leaf_hash` at `index` in the tree
/// of `size` leaves whose root is `root`.
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if root_from_inclusion_proof(leaf_hash, index, size, proof)? == *root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// How a consistency proof from `old_size` to `new_size` (0 < old < new) is laid out.
#[derive(Debug, Clone, Copy)]
struct ConsistencyShape {
    /// The old tree's last perfect subtree is the old root itself, so the proof
    /// does not repeat it; otherwise the proof starts with that subtree's hash.
    starts_from_old_root: bool,
    /// Levels below the old tree's last perfect subtree: the proof skips them.
    skipped_levels: usize,
    path: PathShape,
}

impl ConsistencyShape {
    fn new(old_size: u64, new_size: u64) -> Self {
        let skipped_levels = old_size.trailing_zeros() as usize;
        let mut path = PathShape::new(old_size - 1, new_size - 1);
        // The highest differing bit of (old-1) and (new-1) is one that (old-1) lacks,
        // and (old-1)'s lowest `skipped_levels` bits are all set, so inner > skipped.
        path.inner = path.inner.saturating_sub(skipped_levels);
        Self {
            starts_from_old_root: old_size.is_power_of_two(),
            skipped_levels,
            path,
        }
    }

    fn len(&self) -> usize {
        usize::from(!self.starts_from_old_root) + self.path.inner + self.path.border
    }
}

/// Number of hashes in the consistency proof from `old_size` to `new_size`.
pub fn consistency_proof_length(old_size: u64, new_size: u64) -> Result<usize, ProofError> {
    if old_size > new_size {
        return Err(ProofError::OldSizeAfterNewSize { old_size, new_size });
    }
    if old_size == 0 || old_size == new_size {
        return Ok(0);
    }
    Ok(ConsistencyShape::new(old_size, new_size).len())
}

/// Checks that `proof` shows the tree of `new_size` leaves with root `new_root`
/// extends the tree of `old_size` leaves with root `old_root` (RFC 9162 section 2.1.4.2).
///
/// RFC 9162 defines no proof from the empty tree; dyad accepts exactly the empty
/// proof, and only when `old_root` is the empty tree's root ([`EMPTY_ROOT`]).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    let expected = consistency_proof_length(old_size, new_size)?;
    let length = proof.len();
    match length.cmp(&expected) {
        Ordering::Less => return Err(ProofError::ConsistencyProofTooShort { length, expected }),
        Ordering::Greater => return Err(ProofError::ConsistencyProofTooLong { length, expected }),
        Ordering::Equal => {}
    }
    if old_size == 0 && *old_root != EMPTY_ROOT {
        return Err(ProofError::OldRootNotEmptyTreeRoot);
    }
    if old_size == new_size {
        return if old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::SameSizeRootsDiffer)
        };
    }
    if old_size == 0 {
        return Ok(());
    }

    let shape = ConsistencyShape::new(old_size, new_size);
    let (seed, path) = match (shape.starts_from_old_root, proof.split_first()) {
        (true, _) => (*old_root, proof),
        (false, Some((first, rest))) => (*first, rest),
        (false, None) => return Err(ProofError::ConsistencyProofTooShort { length, expected }),
    };
    let (inner, border) = path.split_at(shape.path.inner.min(path.len()));

    // Index, at the level of the old tree's last perfect subtree, of that subtree.
    let node_index = (old_size - 1) >> shape.skipped_levels;
    let mut old_hash = seed;
    let mut new_hash = seed;
    for (level, sibling) in inner.iter().enumerate() {
        if (node_index >> level) & 1 == 1 {
            old_hash = node_hash(sibling, &old_hash);
            new_hash = node_hash(sibling, &new_hash);
        } else {
            // A right sibling lies beyond the old tree: only the new tree has it.
            new_hash = node_hash(&new_hash, sibling);
        }
    }
    for sibling in border {
        old_hash = node_hash(sibling, &old_hash);
        new_hash = node_hash(sibling, &new_hash);
    }

    if old_hash != *old_root {
        return Err(ProofError::OldRootMismatch);
    }
    if new_hash != *new_root {
        return Err(ProofError::NewRootMismatch);
    }
    Ok(())
}

/// Reads one 32-byte hash.
pub fn hash_from_slice(bytes: &[u8]) -> Result<Hash, ProofError> {
    Hash::try_from(bytes).map_err(|_| ProofError::HashWrongLength {
        position: 0,
        length: bytes.len(),
    })
}

/// Reads a proof's hashes, at most [`MAX_PROOF_HASHES`] of them.
pub fn hashes_from_slices<T: AsRef<[u8]>>(items: &[T]) -> Result<Vec<Hash>, ProofError> {
    if items.len() > MAX_PROOF_HASHES {
        return Err(ProofError::TooManyHashes { count: items.len() });
    }
    items
        .iter()
        .enumerate()
        .map(|(position, item)| {
            let bytes = item.as_ref();
            Hash::try_from(bytes).map_err(|_| ProofError::HashWrongLength {
                position,
                length: bytes.len(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_proofs_fit_the_limits() {
        assert_eq!(
            inclusion_proof_length(0, u64::MAX),
            Ok(MAX_INCLUSION_PROOF_HASHES)
        );
        assert_eq!(
            consistency_proof_length(u64::MAX - 2, u64::MAX),
            Ok(MAX_CONSISTENCY_PROOF_HASHES)
        );
    }

    #[test]
    fn consistency_lengths_never_exceed_the_limit_near_u64_max() {
        for old in (u64::MAX - 300)..u64::MAX {
            for new in [old + 1, u64::MAX] {
                let length = consistency_proof_length(old, new).unwrap();
                assert!(
                    length <= MAX_CONSISTENCY_PROOF_HASHES,
                    "{old} -> {new}: {length}"
                );
            }
        }
    }
}
