//! Reads of what the store holds: entries (one at a time, a range, a tlog-tiles entry
//! bundle), hash tiles, proofs, checkpoints and metadata. Every read of sled's records
//! fails with [`StoreError::Poisoned`] after a failed commit (spec/store.md, "A failed
//! commit"); the tree of the last durable commit stays readable.

use std::ops::Range;

use super::files::{FileId, Files};
use super::layout::{
    bundle_entry, bundle_key, checkpoint_key, entry_key, key_u64, meta_key, push_bundle_entry,
    split_bundle, tile_full, BundleRecord, BUNDLE_WIDTH, CHECKPOINT, TILE_HEIGHT, TILE_WIDTH,
};
use super::{Damage, Store, StoreError};
use crate::tree::{self, Hash, NodeReader, TreeError};

impl Store {
    /// The root of the tree of the first `size` entries.
    pub fn root_at(&self, size: u64) -> Result<Hash, StoreError> {
        if size == self.size() {
            return Ok(self.root());
        }
        tree::root_at(size, self)
    }

    /// Entry `index`: for a full bundle, one read and at most 256 length prefixes walked.
    pub fn leaf(&self, index: u64) -> Result<Vec<u8>, StoreError> {
        self.check_readable()?;
        self.check_index(index)?;
        read_leaf(&self.db, &self.files, self.size(), index)
    }

    /// The leaf hash of entry `index`.
    pub fn leaf_hash(&self, index: u64) -> Result<Hash, StoreError> {
        self.check_index(index)?;
        self.node(0, index)
    }

    /// The store's size, if readable and at least `end`: a range ending at `end` is held.
    pub(super) fn check_held(&self, end: u64) -> Result<u64, StoreError> {
        self.check_readable()?;
        let size = self.size();
        if end > size {
            return Err(TreeError::SizeBeyondLog {
                size: end,
                available: size,
            }
            .into());
        }
        Ok(size)
    }

    pub(super) fn check_index(&self, index: u64) -> Result<(), StoreError> {
        let size = self.size();
        if index >= size {
            return Err(TreeError::IndexOutOfRange { index, size }.into());
        }
        Ok(())
    }

    /// The entries with indexes in `range`, in order, a full bundle per read.
    pub fn leaves(&self, range: Range<u64>) -> Result<Leaves, StoreError> {
        let size = self.check_held(range.end)?;
        let start = range.start.min(range.end);
        Ok(Leaves {
            db: self.db.clone(),
            files: self.files.clone(),
            size,
            bundle: None,
            next: start,
            end: range.end,
        })
    }

    /// RFC 9162 section 2.1.3.1 inclusion proof of entry `index` in the tree of `size` entries.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, StoreError> {
        tree::inclusion_proof(index, size, self)
    }

    /// RFC 9162 section 2.1.4.1 consistency proof from the tree of `old` entries to `new`.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, StoreError> {
        tree::consistency_proof(old, new, self)
    }

    /// The hashes of C2SP tlog-tiles tile `tile_level`/`index` of `width` hashes: tree
    /// level 8·`tile_level`, node indexes `index`·256 onwards. A full tile is one read;
    /// a partial one comes from the right edge in memory. Every hash must exist, i.e. the
    /// tile must lie within the current tree.
    pub fn tile(&self, tile_level: u8, index: u64, width: u16) -> Result<Vec<Hash>, StoreError> {
        if width == 0 || width > TILE_WIDTH {
            return Err(StoreError::BadTileWidth { width });
        }
        let size = self.size();
        let level = tile_level
            .checked_mul(TILE_HEIGHT)
            .filter(|&l| l <= tree::MAX_LEVEL);
        let first = index.checked_mul(u64::from(TILE_WIDTH));
        let end = first.and_then(|f| f.checked_add(u64::from(width)));
        let (Some(level), Some(first), Some(end)) = (level, first, end) else {
            return Err(TreeError::SizeBeyondLog {
                size: u64::MAX,
                available: size,
            }
            .into());
        };
        // The last hash of the tile covers leaves up to `end << level`.
        let covered = end
            .checked_shl(u32::from(level))
            .filter(|&c| c >> level == end);
        if covered.is_none_or(|c| c > size) {
            return Err(TreeError::SizeBeyondLog {
                size: covered.unwrap_or(u64::MAX),
                available: size,
            }
            .into());
        }
        if tile_full(size, tile_level, index) {
            let bytes = self.stored_tile(tile_level, index, usize::from(width))?;
            return Ok(bytes
                .chunks_exact(32)
                .map(|h| h.try_into().expect("32 bytes"))
                .collect());
        }
        (first..end)
            .map(|index| {
                self.edge
                    .get(&(level, index))
                    .copied()
                    .ok_or_else(|| Damage::MissingNode { level, index }.into())
            })
            .collect()
    }

    /// C2SP tlog-tiles entry bundle `index` with its first `width` entries: each entry as
    /// a u16 length then its bytes. A full bundle is one read.
    pub fn entry_bundle(&self, index: u64, width: u16) -> Result<Vec<u8>, StoreError> {
        self.check_readable()?;
        if width == 0 || width > TILE_WIDTH {
            return Err(StoreError::BadTileWidth { width });
        }
        let size = self.size();
        let end = index
            .checked_mul(BUNDLE_WIDTH)
            .and_then(|f| f.checked_add(u64::from(width)));
        if end.is_none_or(|e| e > size) {
            return Err(TreeError::SizeBeyondLog {
                size: end.unwrap_or(u64::MAX),
                available: size,
            }
            .into());
        }
        let first = index * BUNDLE_WIDTH;
        if (index + 1) * BUNDLE_WIDTH <= size {
            let bytes = read_bundle(&self.db, &self.files, index)?;
            if width == TILE_WIDTH {
                return Ok(bytes);
            }
            let entries = split_bundle(&bytes, BUNDLE_WIDTH as usize)
                .ok_or(Damage::MalformedBundle { index })?;
            let mut out = Vec::new();
            for e in &entries[..usize::from(width)] {
                push_bundle_entry(&mut out, e);
            }
            return Ok(out);
        }
        let mut out = Vec::new();
        for leaf in self.leaves(first..first + u64::from(width))? {
            push_bundle_entry(&mut out, &leaf?.1);
        }
        Ok(out)
    }

    /// The checkpoint note stored for `size`, if any.
    pub fn checkpoint(&self, size: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.check_readable()?;
        Ok(self.db.get(checkpoint_key(size))?.map(|v| v.to_vec()))
    }

    /// The stored checkpoint with the largest size.
    pub fn latest_checkpoint(&self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        self.checkpoints().next_back().transpose()
    }

    /// Every stored checkpoint, by size.
    pub fn checkpoints(&self) -> Checkpoints {
        Checkpoints {
            iter: self.db.scan_prefix([CHECKPOINT]),
            poisoned: self.poisoned,
            done: false,
        }
    }

    /// The metadata record `name`, if any.
    pub fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.check_readable()?;
        Ok(self.db.get(meta_key(name))?.map(|v| v.to_vec()))
    }

    /// The metadata record with the greatest name starting with `prefix`: one read.
    pub fn last_meta_with_prefix(
        &self,
        prefix: &str,
    ) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        self.check_readable()?;
        let Some(kv) = self.db.scan_prefix(meta_key(prefix)).next_back() else {
            return Ok(None);
        };
        let (k, v) = kv?;
        let name = std::str::from_utf8(&k[1..]).map_err(|_| Damage::MetaNameNotUtf8 {
            name: k[1..].to_vec(),
        })?;
        Ok(Some((name.to_owned(), v.to_vec())))
    }

    /// How many metadata records have a name starting with `prefix` (nothing is copied).
    pub fn count_meta_with_prefix(&self, prefix: &str) -> Result<usize, StoreError> {
        self.check_readable()?;
        let mut n = 0;
        for kv in self.db.scan_prefix(meta_key(prefix)) {
            kv?;
            n += 1;
        }
        Ok(n)
    }

    /// Every metadata record whose name starts with `prefix`, by name.
    pub fn meta_with_prefix(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.check_readable()?;
        let mut out = Vec::new();
        for kv in self.db.scan_prefix(meta_key(prefix)) {
            let (k, v) = kv?;
            let name = std::str::from_utf8(&k[1..]).map_err(|_| Damage::MetaNameNotUtf8 {
                name: k[1..].to_vec(),
            })?;
            out.push((name.to_owned(), v.to_vec()));
        }
        Ok(out)
    }
}

/// Where full bundle `index` lies in the bundles file.
pub(super) fn read_bundle_record(db: &sled::Db, index: u64) -> Result<BundleRecord, StoreError> {
    let raw = db
        .get(bundle_key(index))?
        .ok_or(Damage::MissingBundle { index })?;
    Ok(BundleRecord::decode(&raw).ok_or(Damage::MalformedBundle { index })?)
}

pub(super) fn read_bundle(db: &sled::Db, files: &Files, index: u64) -> Result<Vec<u8>, StoreError> {
    let record = read_bundle_record(db, index)?;
    let mut bytes = vec![0; record.len as usize];
    if !files.read_at(FileId::Bundles, record.start, &mut bytes)? {
        return Err(Damage::MissingBundle { index }.into());
    }
    Ok(bytes)
}

/// Entry `index` of a log of `size` entries.
pub(super) fn read_leaf(
    db: &sled::Db,
    files: &Files,
    size: u64,
    index: u64,
) -> Result<Vec<u8>, StoreError> {
    let bundle = index / BUNDLE_WIDTH;
    if (bundle + 1) * BUNDLE_WIDTH <= size {
        let bytes = read_bundle(db, files, bundle)?;
        let pos = (index % BUNDLE_WIDTH) as usize;
        return bundle_entry(&bytes, pos)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| Damage::MalformedBundle { index: bundle }.into());
    }
    match db.get(entry_key(index))? {
        Some(v) => Ok(v.to_vec()),
        None => Err(Damage::MissingEntry { index }.into()),
    }
}

/// Entries of a range, in order; an entry missing in the middle is reported, not skipped.
/// A full bundle is read once for all its entries.
pub struct Leaves {
    db: sled::Db,
    files: std::sync::Arc<Files>,
    size: u64,
    /// The bundle being walked: its index, bytes and the offset of the next entry.
    bundle: Option<(u64, Vec<u8>, usize)>,
    next: u64,
    end: u64,
}

impl Leaves {
    fn read(&mut self, index: u64) -> Result<Vec<u8>, StoreError> {
        let bundle = index / BUNDLE_WIDTH;
        if (bundle + 1) * BUNDLE_WIDTH > self.size {
            return match self.db.get(entry_key(index))? {
                Some(v) => Ok(v.to_vec()),
                // A commit since the iterator began may have filled the bundle.
                None => match self.db.get(bundle_key(bundle))? {
                    Some(_) => {
                        self.size = self.size.max((bundle + 1) * BUNDLE_WIDTH);
                        self.read(index)
                    }
                    None => Err(Damage::MissingEntry { index }.into()),
                },
            };
        }
        let pos = (index % BUNDLE_WIDTH) as usize;
        let malformed = || StoreError::from(Damage::MalformedBundle { index: bundle });
        match &mut self.bundle {
            Some((b, bytes, offset)) if *b == bundle => {
                let entry = bundle_entry(&bytes[*offset..], 0).ok_or_else(malformed)?;
                *offset += 2 + entry.len();
                Ok(entry.to_vec())
            }
            _ => {
                let bytes = read_bundle(&self.db, &self.files, bundle)?;
                // Walk to the entry once; the following ones continue from there.
                let mut offset = 0;
                for _ in 0..pos {
                    let entry = bundle_entry(&bytes[offset..], 0).ok_or_else(malformed)?;
                    offset += 2 + entry.len();
                }
                let entry = bundle_entry(&bytes[offset..], 0)
                    .ok_or_else(malformed)?
                    .to_vec();
                offset += 2 + entry.len();
                self.bundle = Some((bundle, bytes, offset));
                Ok(entry)
            }
        }
    }
}

impl Iterator for Leaves {
    type Item = Result<(u64, Vec<u8>), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        let index = self.next;
        let item = self.read(index).map(|leaf| (index, leaf));
        // After an error the iterator ends.
        self.next = if item.is_ok() { index + 1 } else { self.end };
        Some(item)
    }
}

/// Stored checkpoints by size.
pub struct Checkpoints {
    iter: sled::Iter,
    /// The store was poisoned: the only item is that error.
    poisoned: bool,
    /// The error was yielded.
    done: bool,
}

impl Checkpoints {
    fn poisoned_once(&mut self) -> Option<Result<(u64, Vec<u8>), StoreError>> {
        if std::mem::replace(&mut self.done, true) {
            return None;
        }
        Some(Err(StoreError::Poisoned))
    }
}

fn checkpoint_record(
    kv: sled::Result<(sled::IVec, sled::IVec)>,
) -> Result<(u64, Vec<u8>), StoreError> {
    let (k, v) = kv?;
    let size = key_u64(&k, 0).ok_or_else(|| Damage::MalformedKey { key: k.to_vec() })?;
    Ok((size, v.to_vec()))
}

impl Iterator for Checkpoints {
    type Item = Result<(u64, Vec<u8>), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.poisoned {
            return self.poisoned_once();
        }
        self.iter.next().map(checkpoint_record)
    }
}

impl DoubleEndedIterator for Checkpoints {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.poisoned {
            return self.poisoned_once();
        }
        self.iter.next_back().map(checkpoint_record)
    }
}
