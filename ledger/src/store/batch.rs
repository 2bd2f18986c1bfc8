//! A batch: the changes one commit makes together (spec/store.md, "Commit").

use super::Store;

/// Changes to make together: one atomic, durable commit.
///
/// Get one from [`Store::batch`], which knows where the leaves will go. `Batch::default()`
/// is a batch for an empty log; commit refuses a batch whose leaves no longer start at
/// the log's size, so leaves never land at indexes other than those `append_leaf` returned.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    pub(super) base: u64,
    pub(super) leaves: Vec<Vec<u8>>,
    pub(super) checkpoints: Vec<(u64, Vec<u8>)>,
    pub(super) meta: Vec<(String, Option<Vec<u8>>)>,
}

impl Batch {
    /// Stages an entry and returns the index it will have.
    pub fn append_leaf(&mut self, bytes: Vec<u8>) -> u64 {
        self.leaves.push(bytes);
        self.base + self.leaves.len() as u64 - 1
    }

    /// Stages a checkpoint note for the tree of `size` entries. Commit checks that the
    /// note's body names that size and the log's root at that size; signatures are the
    /// channel layer's business.
    pub fn put_checkpoint(&mut self, size: u64, note: Vec<u8>) {
        self.checkpoints.push((size, note));
    }

    /// Sets the metadata record `name` to `value`.
    pub fn put_meta(&mut self, name: &str, value: Vec<u8>) {
        self.meta.push((name.to_owned(), Some(value)));
    }

    /// Removes the metadata record `name`.
    pub fn remove_meta(&mut self, name: &str) {
        self.meta.push((name.to_owned(), None));
    }

    /// How many entries the batch appends.
    pub fn leaf_count(&self) -> usize {
        self.leaves.len()
    }

    /// Whether the batch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty() && self.checkpoints.is_empty() && self.meta.is_empty()
    }
}

impl Store {
    /// A batch whose leaves go after the log's current last entry.
    pub fn batch(&self) -> Batch {
        Batch {
            base: self.size(),
            ..Batch::default()
        }
    }
}
