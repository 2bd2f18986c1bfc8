//! The full check of a store, [`Store::verify_all`] (spec/store.md, "Open", last
//! paragraph): everything open does not look at, streamed in one pass per tree level.

use super::files::{FileId, Files};
use super::layout::{
    full_tiles, key_u64, locate, split_bundle, tile_offset, BundleRecord, BUNDLE, BUNDLE_WIDTH,
    ENTRY, STORED_TILE_BYTES, TILE_HEIGHT,
};
use super::{Damage, Store, StoreError};
use crate::tree::{self, Hash};

/// Totals of a full verification.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Verified {
    /// Entries checked against their leaf hashes.
    pub entries: u64,
    /// Tree nodes checked against their children.
    pub nodes: u64,
    /// Stored checkpoints checked against the tree.
    pub checkpoints: u64,
}

impl Store {
    /// Checks everything, streaming: every entry against its leaf hash, every node against
    /// its children (those of the right edge, which open computed, again), every record
    /// where the layout puts it and nothing beyond the head, every checkpoint against the
    /// tree. Reports the first damage found, at the lowest index of the lowest level.
    /// `progress(done, total)` is called now and then; memory stays flat (a bundle and a
    /// tile or two at a time).
    pub fn verify_all(&self, progress: impl FnMut(u64, u64)) -> Result<Verified, StoreError> {
        self.check_readable()?;
        let size = self.size();
        let levels = 64 - u64::from(size.leading_zeros());
        let total = (0..levels).map(|l| size >> l).sum::<u64>() + size;
        let mut ticker = Ticker::new(progress, total);
        self.check_no_node_records()?;
        self.verify_entries(&mut ticker)?;
        let nodes = self.verify_levels(&mut ticker)?;
        self.verify_root()?;
        let checkpoints = self.verify_checkpoints()?;
        ticker.finish();
        Ok(Verified {
            entries: size,
            nodes,
            checkpoints,
        })
    }

    /// Level 0: the entries (bundles, then single entries) against the leaf hashes, and no
    /// entry record, bundle record or bundle byte beyond the head.
    fn verify_entries(&self, ticker: &mut Ticker<impl FnMut(u64, u64)>) -> Result<(), StoreError> {
        let size = self.size();
        let full = size / BUNDLE_WIDTH;
        if let Some(index) = self
            .first_key(&[ENTRY])?
            .filter(|&i| i < full * BUNDLE_WIDTH)
        {
            return Err(Damage::StrayEntry { index }.into());
        }
        let mut hashes = LevelStream::new(self, 0, size);
        let mut entries = EntryStream::new(self, size);
        for index in 0..size {
            let bytes = entries.next_entry()?;
            let stored = hashes.next_hash()?;
            if tree::leaf_hash(&bytes) != stored {
                return Err(Damage::LeafHashMismatch { index }.into());
            }
            ticker.add(2);
        }
        entries.finish()?;
        hashes.finish()
    }

    /// Each level above the leaves against the one below: two streams side by side.
    /// Returns how many nodes there are, the leaf hashes included.
    fn verify_levels(&self, ticker: &mut Ticker<impl FnMut(u64, u64)>) -> Result<u64, StoreError> {
        let size = self.size();
        let mut nodes = size;
        for level in 1..=tree::MAX_LEVEL {
            let mut below = LevelStream::new(self, level - 1, size);
            let mut here = LevelStream::new(self, level, size);
            for index in 0..size >> level {
                let left = below.next_hash()?;
                let right = below.next_hash()?;
                let stored = here.next_hash()?;
                if stored != tree::node_hash(&left, &right) {
                    return Err(Damage::NodeMismatch { level, index }.into());
                }
                nodes += 1;
                ticker.add(1);
            }
            here.finish()?;
        }
        Ok(nodes)
    }

    /// The root of the stored tree against the head's.
    fn verify_root(&self) -> Result<(), StoreError> {
        let size = self.size();
        let root = tree::root_at(size, self)?;
        if root != self.root() {
            return Err(Damage::HeadRootMismatch {
                size,
                stored: self.root(),
                computed: root,
            }
            .into());
        }
        Ok(())
    }

    /// Every stored checkpoint against the tree; returns how many there are.
    fn verify_checkpoints(&self) -> Result<u64, StoreError> {
        let mut checkpoints = 0;
        for cp in self.checkpoints() {
            let (cp_size, note) = cp?;
            self.check_stored_checkpoint(cp_size, &note)?;
            checkpoints += 1;
        }
        Ok(checkpoints)
    }
}

/// Reports the progress of `verify_all` at the start, after every 65536 units of work and
/// at the end, not per item. An entry counts two (its bytes and its leaf hash), a node
/// above the leaves one: the total is the entries plus the nodes of every level.
struct Ticker<F: FnMut(u64, u64)> {
    progress: F,
    done: u64,
    total: u64,
}

impl<F: FnMut(u64, u64)> Ticker<F> {
    fn new(mut progress: F, total: u64) -> Ticker<F> {
        progress(0, total);
        Ticker {
            progress,
            done: 0,
            total,
        }
    }

    fn add(&mut self, work: u64) {
        self.done += work;
        if self.done & 0xffff == 0 {
            (self.progress)(self.done, self.total);
        }
    }

    fn finish(mut self) {
        (self.progress)(self.total, self.total);
    }
}

/// The stored entries in index order, from full bundles and then from single entries,
/// checking that each bundle record lies where the one before ended (the bundles lie back
/// to back in the file, in order, from its start to its end) and holds exactly 256 entries.
struct EntryStream<'a> {
    files: &'a Files,
    size: u64,
    /// Entries held by full bundles.
    in_bundles: u64,
    next: u64,
    bundles: sled::Iter,
    singles: sled::Iter,
    /// The bundle being walked, and the offset of its next entry.
    bundle: Vec<u8>,
    cursor: usize,
    /// Where the bundle being walked ends in the file.
    offset: u64,
}

impl<'a> EntryStream<'a> {
    fn new(store: &'a Store, size: u64) -> EntryStream<'a> {
        EntryStream {
            files: &store.files,
            size,
            in_bundles: size / BUNDLE_WIDTH * BUNDLE_WIDTH,
            next: 0,
            bundles: store.db.scan_prefix([BUNDLE]),
            singles: store.db.scan_prefix([ENTRY]),
            bundle: Vec::new(),
            cursor: 0,
            offset: 0,
        }
    }

    fn next_entry(&mut self) -> Result<Vec<u8>, StoreError> {
        let index = self.next;
        self.next += 1;
        if index >= self.in_bundles {
            return match self.singles.next().transpose()? {
                Some((k, v)) if key_u64(&k, 0) == Some(index) => Ok(v.to_vec()),
                _ => Err(Damage::MissingEntry { index }.into()),
            };
        }
        if index % BUNDLE_WIDTH == 0 {
            self.read_bundle(index / BUNDLE_WIDTH)?;
        }
        let v = &self.bundle;
        let cursor = self.cursor;
        let len = usize::from(u16::from_be_bytes([v[cursor], v[cursor + 1]]));
        let leaf = v[cursor + 2..cursor + 2 + len].to_vec();
        self.cursor += 2 + len;
        Ok(leaf)
    }

    /// Reads full bundle `bundle`, which must be the next `B` record and lie where the
    /// bundle before it ended.
    fn read_bundle(&mut self, bundle: u64) -> Result<(), StoreError> {
        let record = match self.bundles.next().transpose()? {
            Some((k, v)) if key_u64(&k, 0) == Some(bundle) => {
                BundleRecord::decode(&v).filter(|r| r.start == self.offset)
            }
            _ => return Err(Damage::MissingBundle { index: bundle }.into()),
        };
        let record = record.ok_or(Damage::MalformedBundle { index: bundle })?;
        self.bundle.resize(record.len as usize, 0);
        if !self
            .files
            .read_at(FileId::Bundles, record.start, &mut self.bundle)?
        {
            return Err(Damage::MissingBundle { index: bundle }.into());
        }
        if split_bundle(&self.bundle, BUNDLE_WIDTH as usize).is_none() {
            return Err(Damage::MalformedBundle { index: bundle }.into());
        }
        self.offset = record.end();
        self.cursor = 0;
        Ok(())
    }

    /// After every entry: no bundle record beyond them, no bytes in the bundles file
    /// beyond the last bundle, no single entry beyond the head.
    fn finish(mut self) -> Result<(), StoreError> {
        let size = self.size;
        if let Some((k, _)) = self.bundles.next().transpose()? {
            let index = key_u64(&k, 0).ok_or_else(|| Damage::MalformedKey { key: k.to_vec() })?;
            return Err(Damage::BundleBeyondHead { index, size }.into());
        }
        let len = self.files.len(FileId::Bundles)?;
        if len != self.offset {
            return Err(Damage::FileLength {
                file: FileId::Bundles.name(),
                len,
                expected: self.offset,
            }
            .into());
        }
        if let Some((k, _)) = self.singles.next().transpose()? {
            let index = key_u64(&k, 0).ok_or_else(|| Damage::MalformedKey { key: k.to_vec() })?;
            return Err(Damage::HeadSizeMismatch {
                head_size: size,
                last_entry: Some(index),
            }
            .into());
        }
        Ok(())
    }
}

/// The hashes of one tree level in index order, from full tiles and then from the right
/// edge in memory.
struct LevelStream<'a> {
    files: &'a Files,
    edge: &'a super::edge::Edge,
    level: u8,
    tile_level: u8,
    sub: u8,
    /// Nodes of this level held by full tiles.
    in_tiles: u64,
    count: u64,
    size: u64,
    next: u64,
    tile: Vec<u8>,
}

impl<'a> LevelStream<'a> {
    fn new(store: &'a Store, level: u8, size: u64) -> LevelStream<'a> {
        let (tile_level, _, sub, _) = locate(level, 0);
        LevelStream {
            files: &store.files,
            edge: &store.edge,
            level,
            tile_level,
            sub,
            in_tiles: full_tiles(size, tile_level) << (TILE_HEIGHT - sub),
            count: size >> level,
            size,
            next: 0,
            tile: vec![0; STORED_TILE_BYTES],
        }
    }

    fn next_hash(&mut self) -> Result<Hash, StoreError> {
        let (level, index) = (self.level, self.next);
        if index >= self.count {
            return Err(Damage::MissingNode { level, index }.into());
        }
        self.next += 1;
        if index < self.in_tiles {
            let (tile_level, tile, sub, pos) = locate(level, index);
            if pos == 0 {
                let at = tile * STORED_TILE_BYTES as u64;
                if !self
                    .files
                    .read_at(FileId::Tiles(tile_level), at, &mut self.tile)?
                {
                    return Err(Damage::MissingTile {
                        tile_level,
                        index: tile,
                    }
                    .into());
                }
            }
            let at = tile_offset(sub, pos);
            return Ok(self.tile[at..at + 32].try_into().expect("32 bytes"));
        }
        self.edge
            .get(&(level, index))
            .copied()
            .ok_or_else(|| Damage::MissingNode { level, index }.into())
    }

    /// After every hash of the level: the tiles file holds no tile beyond them.
    fn finish(self) -> Result<(), StoreError> {
        let size = self.size;
        if self.sub == 0 {
            // Every full tile of this tile level was read: the file holds nothing more.
            let file = FileId::Tiles(self.tile_level);
            let len = self.files.len(file)?;
            let expected = full_tiles(size, self.tile_level) * STORED_TILE_BYTES as u64;
            if len != expected {
                return Err(Damage::FileLength {
                    file: file.name(),
                    len,
                    expected,
                }
                .into());
            }
        }
        Ok(())
    }
}
