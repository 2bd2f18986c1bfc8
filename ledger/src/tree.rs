//! RFC 9162 Merkle tree math: hashing, the right edge of a growing tree, and proofs
//! built from stored complete subtrees.
//!
//! The tree is never held in memory. A tree of `n` leaves is described by its *complete*
//! subtrees: node `(level, index)` is the root of the perfect subtree over leaves
//! `[index * 2^level, (index + 1) * 2^level)`. Such a node exists once all its leaves
//! exist and never changes afterwards, so a store can write it once and keep it. Every
//! other subtree the RFC needs (the right edge of a tree whose size is not a power of
//! two) is computed from the O(log n) complete subtrees it is made of.
//!
//! This module is the ledger's own implementation; `dyad-verifier` has an independent
//! one, and the tests check each against the other.

use std::collections::HashMap;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// A SHA-256 hash: a leaf, an interior node or a tree's root.
pub type Hash = [u8; 32];

/// RFC 9162 section 2.1.1: the hash of an empty tree is the hash of the empty string.
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// The largest level a node can have: a tree holds fewer than 2^64 leaves.
pub const MAX_LEVEL: u8 = 63;

/// RFC 9162 section 2.1.1: MTH({d}) = SHA-256(0x00 || d).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    h.finalize().into()
}

/// RFC 9162 section 2.1.1: an interior node is SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Why a proof or a node could not be computed from a tree.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// The reader does not have a node the computation needs.
    #[error("tree node at level {level}, index {index} is missing")]
    MissingNode {
        /// The node's tree level.
        level: u8,
        /// The node's index at its level.
        index: u64,
    },
    /// A leaf index at or beyond the tree's size.
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// The entry's index.
        index: u64,
        /// The tree's size.
        size: u64,
    },
    /// A tree size larger than the log the reader holds.
    #[error("tree size {size} is larger than the log's {available} leaves")]
    SizeBeyondLog {
        /// The size asked for.
        size: u64,
        /// The leaves the reader holds.
        available: u64,
    },
    /// A consistency proof asked from a larger size to a smaller one.
    #[error("consistency proof from size {old} to the smaller size {new}")]
    OldSizeAfterNew {
        /// The size proved from.
        old: u64,
        /// The size proved to.
        new: u64,
    },
}

/// Read access to the complete subtrees of a tree of `size()` leaves.
///
/// The error type is the reader's own (a store reports I/O and corruption); it must be
/// able to carry the tree's own errors.
pub trait NodeReader {
    /// The reader's error, able to carry the tree's own.
    type Error: From<TreeError>;

    /// The number of leaves the reader holds: every complete node over leaves below it exists.
    fn size(&self) -> u64;

    /// The root of the complete subtree over leaves `[index << level, (index + 1) << level)`.
    fn node(&self, level: u8, index: u64) -> Result<Hash, Self::Error>;

    /// The nodes `ids` (level, index), appended to `out` in order. A proof asks for all
    /// its nodes at once, so that a reader that keeps neighbours together (a store's
    /// tiles) can fetch each group in one read.
    fn nodes(&self, ids: &[(u8, u64)], out: &mut Vec<Hash>) -> Result<(), Self::Error> {
        for &(level, index) in ids {
            out.push(self.node(level, index)?);
        }
        Ok(())
    }

    /// MTH(D\[lo:size\]), the subtree at the right edge of the reader's whole tree that
    /// starts at `lo`, if the reader has it ready (a store keeps its frontier's folds,
    /// [`Frontier::right_subtree`]); `None` has it folded from its complete parts.
    fn right_subtree(&self, _lo: u64) -> Option<Hash> {
        None
    }
}

/// The subtree hashes a proof is made of, as the complete nodes each is folded from:
/// collected first, then read in one [`NodeReader::nodes`] call.
struct ProofPlan {
    ids: Vec<(u8, u64)>,
    /// Where each proof hash's nodes end in `ids`, and its hash if the reader had it ready.
    ends: Vec<(usize, Option<Hash>)>,
}

impl ProofPlan {
    fn new() -> ProofPlan {
        ProofPlan {
            ids: Vec::with_capacity(128),
            ends: Vec::with_capacity(64),
        }
    }

    /// MTH(D[lo:hi]) for a subtree of the RFC 9162 recursion. One that is not complete
    /// ends at the tree's right edge; the reader may have it ready.
    fn subtree<R: NodeReader + ?Sized>(&mut self, lo: u64, hi: u64, reader: &R) {
        let ready = match (hi - lo).is_power_of_two() || hi != reader.size() {
            true => None,
            false => reader.right_subtree(lo),
        };
        if ready.is_none() {
            self.ids.extend(decompose(lo, hi));
        }
        self.ends.push((self.ids.len(), ready));
    }

    /// Reads the nodes and folds each subtree's, in reverse order of planning.
    fn read_reversed<R: NodeReader + ?Sized>(self, reader: &R) -> Result<Vec<Hash>, R::Error> {
        let mut hashes = Vec::with_capacity(self.ids.len());
        reader.nodes(&self.ids, &mut hashes)?;
        let mut out = Vec::with_capacity(self.ends.len());
        let mut start = 0;
        for &(end, ready) in &self.ends {
            out.push(ready.unwrap_or_else(|| fold_right(&hashes[start..end])));
            start = end;
        }
        out.reverse();
        Ok(out)
    }
}

/// A complete node, as handed to storage when it comes into existence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Node {
    /// The node's level: 0 for a leaf, `k` for the root of `2^k` leaves.
    pub level: u8,
    /// The node's index among the nodes of its level, from the left.
    pub index: u64,
    /// The node's hash.
    pub hash: Hash,
}

/// The right edge of a tree: the roots of the complete subtrees that make up a tree of
/// `size` leaves, one per set bit of `size`, largest (leftmost) first. It is all that is
/// needed to append (the siblings of every node a new leaf completes are in it) and to
/// compute the root, so appending needs no reads.
#[derive(Clone, Debug, Default)]
pub struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
    /// MTH of each suffix of `hashes` (the subtrees at the right edge a proof may need),
    /// folded on first use after a change: see [`Frontier::right_subtree`].
    suffixes: OnceLock<Vec<Hash>>,
}

/// Two frontiers are equal when their trees are: the folds are derived.
impl PartialEq for Frontier {
    fn eq(&self, other: &Frontier) -> bool {
        self.size == other.size && self.hashes == other.hashes
    }
}

impl Eq for Frontier {}

impl Frontier {
    /// The right edge of the empty tree.
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// How many leaves the tree has.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The complete subtree roots, largest first.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// The tree head: the complete subtrees folded from the right, which is MTH of
    /// RFC 9162 section 2.1.1 (its split point k is the largest subtree's size).
    pub fn root(&self) -> Hash {
        fold_right(&self.hashes)
    }

    /// MTH(D\[lo:size\]) when `lo` is where one of the complete subtrees starts (the
    /// subtrees of an RFC 9162 proof that end at the right edge all do): the fold of the
    /// subtrees from there on, computed once per tree for every proof that needs one.
    pub fn right_subtree(&self, lo: u64) -> Option<Hash> {
        let suffixes = self.suffixes.get_or_init(|| {
            let mut folds = self.hashes.clone();
            for j in (0..folds.len().saturating_sub(1)).rev() {
                folds[j] = node_hash(&folds[j], &folds[j + 1]);
            }
            folds
        });
        let mut start = 0u64;
        for (j, (level, _)) in decompose(0, self.size).enumerate() {
            if start == lo {
                return suffixes.get(j).copied();
            }
            start += 1 << level;
        }
        None
    }

    /// Appends a leaf and returns the nodes it completes, leaf first: the leaf at level 0,
    /// then each node it closes, one level up each time.
    ///
    /// The log never reaches 2^64 leaves; a store refuses the append that would.
    pub fn append(&mut self, leaf: Hash) -> Vec<Node> {
        let mut nodes = Vec::with_capacity(1 + self.size.trailing_ones() as usize);
        self.append_with(leaf, |n| nodes.push(n));
        nodes
    }

    /// Appends a leaf, handing each node it completes to `completed` (as [`Self::append`]
    /// returns them), without allocating.
    pub fn append_with(&mut self, leaf: Hash, mut completed: impl FnMut(Node)) {
        let index = self.size;
        completed(Node {
            level: 0,
            index,
            hash: leaf,
        });
        let mut hash = leaf;
        // Each trailing one bit of the old size is a complete subtree of the same size as
        // the one just closed, directly to its left: they merge.
        for level in 0..index.trailing_ones() {
            let left = match self.hashes.pop() {
                Some(left) => left,
                None => break,
            };
            hash = node_hash(&left, &hash);
            let level = level as u8 + 1;
            completed(Node {
                level,
                index: index >> level,
                hash,
            });
        }
        self.hashes.push(hash);
        self.size = index + 1;
        self.suffixes.take();
    }

    /// Appends a leaf when only the new root is wanted.
    pub fn push(&mut self, leaf: Hash) {
        self.append_with(leaf, |_| {});
    }

    /// Reads the right edge of the tree of `size` leaves: one node per set bit of `size`.
    pub fn load<R: NodeReader + ?Sized>(size: u64, reader: &R) -> Result<Frontier, R::Error> {
        check_size(size, reader)?;
        let mut hashes = Vec::with_capacity(size.count_ones() as usize);
        for (level, index) in decompose(0, size) {
            hashes.push(reader.node(level, index)?);
        }
        Ok(Frontier {
            size,
            hashes,
            suffixes: OnceLock::new(),
        })
    }
}

fn fold_right(hashes: &[Hash]) -> Hash {
    let mut iter = hashes.iter().rev();
    match iter.next() {
        None => EMPTY_ROOT,
        Some(last) => iter.fold(*last, |acc, left| node_hash(left, &acc)),
    }
}

fn check_size<R: NodeReader + ?Sized>(size: u64, reader: &R) -> Result<(), TreeError> {
    let available = reader.size();
    if size > available {
        return Err(TreeError::SizeBeyondLog { size, available });
    }
    Ok(())
}

/// The complete subtrees that make up leaves `[lo, hi)`, left to right, for a range that
/// starts on a boundary of its own size's power of two, which every subtree of an
/// RFC 9162 tree does: the largest first, then halving.
fn decompose(lo: u64, hi: u64) -> impl Iterator<Item = (u8, u64)> {
    let mut start = lo;
    // The set bits of the width, highest first: one step per subtree, not per bit.
    let mut width = hi - lo;
    core::iter::from_fn(move || {
        if width == 0 {
            return None;
        }
        let level = 63 - width.leading_zeros() as u8;
        width ^= 1 << level;
        let id = (level, start >> level);
        start += 1 << level;
        Some(id)
    })
}

/// MTH(D[lo:hi]) for a subtree of the RFC 9162 recursion: one read if it is complete,
/// otherwise the fold of its complete parts.
fn subtree_hash<R: NodeReader + ?Sized>(lo: u64, hi: u64, reader: &R) -> Result<Hash, R::Error> {
    let mut parts = Vec::with_capacity((hi - lo).count_ones() as usize);
    for (level, index) in decompose(lo, hi) {
        parts.push(reader.node(level, index)?);
    }
    Ok(fold_right(&parts))
}

/// The largest power of two smaller than `n` (n > 1): RFC 9162's split point k.
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// The root of the tree made of the first `size` leaves, for any size the reader holds.
pub fn root_at<R: NodeReader + ?Sized>(size: u64, reader: &R) -> Result<Hash, R::Error> {
    check_size(size, reader)?;
    subtree_hash(0, size, reader)
}

/// RFC 9162 section 2.1.3.1: PATH(index, D\[size\]), the inclusion proof of leaf `index`
/// in the tree of `size` leaves, ordered from the leaf's sibling upwards.
pub fn inclusion_proof<R: NodeReader + ?Sized>(
    index: u64,
    size: u64,
    reader: &R,
) -> Result<Vec<Hash>, R::Error> {
    check_size(size, reader)?;
    if index >= size {
        return Err(TreeError::IndexOutOfRange { index, size }.into());
    }
    // The recursion walks down from the root; its outputs are appended on the way back
    // up, so collect top-down and reverse.
    let (mut lo, mut hi) = (0, size);
    let mut plan = ProofPlan::new();
    while hi - lo > 1 {
        let k = split(hi - lo);
        if index < lo + k {
            plan.subtree(lo + k, hi, reader);
            hi = lo + k;
        } else {
            plan.subtree(lo, lo + k, reader);
            lo += k;
        }
    }
    plan.read_reversed(reader)
}

/// RFC 9162 section 2.1.4.1: PROOF(old, D\[new\]), the consistency proof between the trees
/// of the first `old` and `new` leaves. Empty when `old` is 0 or equals `new`.
pub fn consistency_proof<R: NodeReader + ?Sized>(
    old: u64,
    new: u64,
    reader: &R,
) -> Result<Vec<Hash>, R::Error> {
    check_size(new, reader)?;
    if old > new {
        return Err(TreeError::OldSizeAfterNew { old, new }.into());
    }
    if old == 0 || old == new {
        return Ok(Vec::new());
    }
    // SUBPROOF(m, D[lo:hi], b), unrolled: `m` is relative to `lo`, `whole` is b.
    let (mut lo, mut hi, mut m, mut whole) = (0, new, old, true);
    let mut plan = ProofPlan::new();
    loop {
        if m == hi - lo {
            if !whole {
                plan.subtree(lo, hi, reader);
            }
            break;
        }
        let k = split(hi - lo);
        if m <= k {
            plan.subtree(lo + k, hi, reader);
            hi = lo + k;
        } else {
            plan.subtree(lo, lo + k, reader);
            lo += k;
            m -= k;
            whole = false;
        }
    }
    plan.read_reversed(reader)
}

/// A tree kept in memory: the complete nodes in a map. For tests, fuzzing and tools
/// that build a small tree (a receipt's proof checked against a handful of entries).
#[derive(Clone, Debug, Default)]
pub struct MemoryTree {
    frontier: Frontier,
    nodes: HashMap<(u8, u64), Hash>,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> MemoryTree {
        MemoryTree::default()
    }

    /// Appends a leaf hash, keeping the nodes it completes.
    pub fn append(&mut self, leaf: Hash) {
        for n in self.frontier.append(leaf) {
            self.nodes.insert((n.level, n.index), n.hash);
        }
    }

    /// The root of the tree as it is.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// The right edge of the tree as it is.
    pub fn frontier(&self) -> &Frontier {
        &self.frontier
    }
}

impl NodeReader for MemoryTree {
    type Error = TreeError;

    fn size(&self) -> u64 {
        self.frontier.size()
    }

    fn node(&self, level: u8, index: u64) -> Result<Hash, TreeError> {
        self.nodes
            .get(&(level, index))
            .copied()
            .ok_or(TreeError::MissingNode { level, index })
    }
}

#[cfg(test)]
mod tests;
