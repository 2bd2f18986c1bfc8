//! The full check of a store, [`Store::verify_all`] (spec/store.md, "Open", last
//! paragraph): everything open does not look at, streamed in one pass per tree level.

use super::files::{FileId, Files};
use super::layout::{
    full_tiles, key_u64, locate, node_value, split_bundle, tile_offset, BundleRecord, BUNDLE,
    BUNDLE_WIDTH, ENTRY, NODE, STORED_TILE_BYTES, TILE_HEIGHT,
};
use super::{Damage, Store, StoreError};
use crate::tree::{self, Hash};

/// Totals of a full verification.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Verified {
    pub entries: u64,
    pub nodes: u64,
    pub checkpoints: u64,
}

impl Store {
    /// Checks everything, streaming: every entry against its leaf hash, every node against
    /// its children, every record where the layout puts it and nothing beyond the head,
    /// every checkpoint against the tree. Reports the first damage found, at the lowest
    /// index of the lowest level. `progress(done, total)` is called now and then; memory
    /// stays flat (a bundle and a tile or two at a time).
    pub fn verify_all(&self, mut progress: impl FnMut(u64, u64)) -> Result<Verified, StoreError> {
        self.check_readable()?;
        let size = self.size();
        let levels = 64 - u64::from(size.leading_zeros());
        let total = (0..levels).map(|l| size >> l).sum::<u64>() + size;
        progress(0, total);
        let mut done = 0u64;
        let mut tick = |done: u64| {
            if done & 0xffff == 0 {
                progress(done, total);
            }
        };

        // Entries (bundles, then single entries) against the leaf hashes (level 0).
        let full = size / BUNDLE_WIDTH;
        if let Some(index) = self
            .first_key(&[ENTRY])?
            .filter(|&i| i < full * BUNDLE_WIDTH)
        {
            return Err(Damage::StrayEntry { index }.into());
        }
        let mut hashes = LevelStream::new(self, 0, size);
        let mut bundles = self.db.scan_prefix([BUNDLE]);
        let mut singles = self.db.scan_prefix([ENTRY]);
        let mut current = Vec::new();
        let mut cursor = 0usize;
        // The bundles lie back to back in the file, in order, from its start to its end.
        let mut offset = 0;
        for index in 0..size {
            let bytes: Vec<u8> = if index < full * BUNDLE_WIDTH {
                let bundle = index / BUNDLE_WIDTH;
                if index % BUNDLE_WIDTH == 0 {
                    let record = match bundles.next().transpose()? {
                        Some((k, v)) if key_u64(&k, 0) == Some(bundle) => {
                            BundleRecord::decode(&v).filter(|r| r.start == offset)
                        }
                        _ => return Err(Damage::MissingBundle { index: bundle }.into()),
                    };
                    let record = record.ok_or(Damage::MalformedBundle { index: bundle })?;
                    current.resize(record.len as usize, 0);
                    if !self
                        .files
                        .read_at(FileId::Bundles, record.start, &mut current)?
                    {
                        return Err(Damage::MissingBundle { index: bundle }.into());
                    }
                    if split_bundle(&current, BUNDLE_WIDTH as usize).is_none() {
                        return Err(Damage::MalformedBundle { index: bundle }.into());
                    }
                    offset = record.end();
                    cursor = 0;
                }
                let v = &current;
                let len = usize::from(u16::from_be_bytes([v[cursor], v[cursor + 1]]));
                let leaf = v[cursor + 2..cursor + 2 + len].to_vec();
                cursor += 2 + len;
                leaf
            } else {
                match singles.next().transpose()? {
                    Some((k, v)) if key_u64(&k, 0) == Some(index) => v.to_vec(),
                    _ => return Err(Damage::MissingEntry { index }.into()),
                }
            };
            let stored = hashes.next_hash()?;
            if tree::leaf_hash(&bytes) != stored {
                return Err(Damage::LeafHashMismatch { index }.into());
            }
            done += 2;
            tick(done);
        }
        if let Some((k, _)) = bundles.next().transpose()? {
            let index = key_u64(&k, 0).ok_or_else(|| Damage::MalformedKey { key: k.to_vec() })?;
            return Err(Damage::BundleBeyondHead { index, size }.into());
        }
        let len = self.files.len(FileId::Bundles)?;
        if len != offset {
            return Err(Damage::FileLength {
                file: FileId::Bundles.name(),
                len,
                expected: offset,
            }
            .into());
        }
        if let Some((k, _)) = singles.next().transpose()? {
            let index = key_u64(&k, 0).ok_or_else(|| Damage::MalformedKey { key: k.to_vec() })?;
            return Err(Damage::HeadSizeMismatch {
                head_size: size,
                last_entry: Some(index),
            }
            .into());
        }
        hashes.finish()?;

        // Each level against the one below: two streams side by side.
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
                done += 1;
                tick(done);
            }
            here.finish()?;
        }

        let root = tree::root_at(size, self)?;
        if root != self.root() {
            return Err(Damage::HeadRootMismatch {
                size,
                stored: self.root(),
                computed: root,
            }
            .into());
        }
        let mut checkpoints = 0;
        for cp in self.checkpoints() {
            let (cp_size, note) = cp?;
            self.check_stored_checkpoint(cp_size, &note)?;
            checkpoints += 1;
        }
        progress(total, total);
        Ok(Verified {
            entries: size,
            nodes,
            checkpoints,
        })
    }
}

/// The stored hashes of one tree level in index order, from full tiles and then from
/// single nodes, checking that each record is where the layout puts it.
struct LevelStream<'a> {
    files: &'a Files,
    level: u8,
    tile_level: u8,
    sub: u8,
    /// Nodes of this level held by full tiles.
    in_tiles: u64,
    count: u64,
    size: u64,
    next: u64,
    singles: sled::Iter,
    tile: Vec<u8>,
}

impl<'a> LevelStream<'a> {
    fn new(store: &'a Store, level: u8, size: u64) -> LevelStream<'a> {
        let (tile_level, _, sub, _) = locate(level, 0);
        LevelStream {
            files: &store.files,
            level,
            tile_level,
            sub,
            in_tiles: full_tiles(size, tile_level) << (TILE_HEIGHT - sub),
            count: size >> level,
            size,
            next: 0,
            singles: store.db.scan_prefix([NODE, level]),
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
        match self.singles.next().transpose()? {
            Some((k, v)) => match key_u64(&k, 1) {
                Some(i) if i == index => node_value(level, index, &v),
                Some(i) if i < self.in_tiles => Err(Damage::StrayNode { level, index: i }.into()),
                Some(_) => Err(Damage::MissingNode { level, index }.into()),
                None => Err(Damage::MalformedKey { key: k.to_vec() }.into()),
            },
            None => Err(Damage::MissingNode { level, index }.into()),
        }
    }

    /// After every hash of the level: nothing may follow, in tiles or single nodes.
    fn finish(mut self) -> Result<(), StoreError> {
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
        if let Some(kv) = self.singles.next() {
            let (k, _) = kv?;
            let index = key_u64(&k, 1).ok_or_else(|| Damage::MalformedKey { key: k.to_vec() })?;
            let level = self.level;
            if index < self.in_tiles {
                return Err(Damage::StrayNode { level, index }.into());
            }
            return Err(Damage::NodeBeyondHead { level, index, size }.into());
        }
        Ok(())
    }
}
