//! The layout of the store on disk (spec/store.md, "Files" and "sled records"): the
//! format record, the keys of sled's records and the encoding of their values, and where
//! a node or an entry lies in the tlog-tiles shape of full stored tiles and entry bundles.

use crate::tree::{self, Hash};

/// tlog-tiles entry bundles prefix each entry with a uint16 length.
pub const MAX_LEAF_BYTES: usize = 65535;
/// Checkpoint notes and metadata values are small records, not payloads.
pub const MAX_VALUE_BYTES: usize = 1 << 20;
/// The longest metadata name, in bytes.
pub const MAX_META_NAME_BYTES: usize = 1024;

pub(super) const FORMAT: &[u8] = b"dyad-store/4";
/// The format before, which open upgrades in place (upgrade.rs): it also kept the nodes
/// of the tiles still filling, as `n` records.
pub(super) const UPGRADED_FORMAT: &[u8] = b"dyad-store/3";
/// Formats this build recognises but no longer reads.
pub(super) const OLD_FORMATS: &[&[u8]] = &[b"dyad-store/1", b"dyad-store/2"];
pub(super) const FORMAT_KEY: &[u8] = b"V";
pub(super) const HEAD_KEY: &[u8] = b"H";
/// How many commits the store has made (u64): lets the head record outside sled notice a
/// lost commit that changed no entries (checkpoints, metadata). Absent in stores written
/// before it existed, which is the same as 0.
pub(super) const COMMITS_KEY: &[u8] = b"S";
pub(super) const ENTRY: u8 = b'e';
pub(super) const BUNDLE: u8 = b'B';
/// The key kind of format 3's node records: none in format 4, which computes the nodes of
/// the tiles still filling (edge.rs).
pub(super) const NODE: u8 = b'n';
pub(super) const CHECKPOINT: u8 = b'c';
pub(super) const META: u8 = b'm';

/// tlog-tiles: a tile is 2^8 hashes wide, and tile level L holds tree level 8L.
pub const TILE_HEIGHT: u8 = 8;
/// Hashes in a full tile, entries in a full bundle (C2SP tlog-tiles).
pub const TILE_WIDTH: u16 = 256;
/// Entries per full entry bundle.
pub const BUNDLE_WIDTH: u64 = 256;
/// Hashes in a stored tile: 256 + 128 + ... + 2.
pub const STORED_TILE_HASHES: usize = 510;
pub(super) const STORED_TILE_BYTES: usize = STORED_TILE_HASHES * 32;
/// Tile levels that can hold nodes of a tree of fewer than 2^64 leaves.
pub(super) const TILE_LEVELS: u8 = (tree::MAX_LEVEL / TILE_HEIGHT) + 1;

pub(super) fn entry_key(index: u64) -> [u8; 9] {
    let mut k = [ENTRY; 9];
    k[1..].copy_from_slice(&index.to_be_bytes());
    k
}

pub(super) fn bundle_key(index: u64) -> [u8; 9] {
    let mut k = [BUNDLE; 9];
    k[1..].copy_from_slice(&index.to_be_bytes());
    k
}

pub(super) fn checkpoint_key(size: u64) -> [u8; 9] {
    let mut k = [CHECKPOINT; 9];
    k[1..].copy_from_slice(&size.to_be_bytes());
    k
}

pub(super) fn meta_key(name: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + name.len());
    k.push(META);
    k.extend_from_slice(name.as_bytes());
    k
}

/// The u64 after a one-byte prefix (and `skip` more bytes), if the key has exactly that shape.
pub(super) fn key_u64(key: &[u8], skip: usize) -> Option<u64> {
    let rest: [u8; 8] = key.get(1 + skip..)?.try_into().ok()?;
    Some(u64::from_be_bytes(rest))
}

/// Where node `(level, index)` lives: (tile level, tile index, sub-level, position).
pub(super) fn locate(level: u8, index: u64) -> (u8, u64, u8, u64) {
    let sub = level % TILE_HEIGHT;
    let shift = u32::from(TILE_HEIGHT - sub);
    (
        level / TILE_HEIGHT,
        index >> shift,
        sub,
        index & ((1 << shift) - 1),
    )
}

/// Byte offset of a node inside a stored tile's value.
pub(super) fn tile_offset(sub: u8, pos: u64) -> usize {
    (512 - (512 >> sub) + pos as usize) * 32
}

/// Whether stored tile `tile_level`/`index` is full in a tree of `size` leaves.
pub(super) fn tile_full(size: u64, tile_level: u8, index: u64) -> bool {
    let needed = (u128::from(index) + 1) << (8 + 8 * u32::from(tile_level));
    needed <= u128::from(size)
}

/// How many stored tiles of `tile_level` are full in a tree of `size` leaves.
pub(super) fn full_tiles(size: u64, tile_level: u8) -> u64 {
    (u128::from(size) >> (8 + 8 * u32::from(tile_level))) as u64
}

/// The entries of an encoded entry bundle, or None unless it holds exactly `count`.
pub(super) fn split_bundle(bytes: &[u8], count: usize) -> Option<Vec<&[u8]>> {
    let mut out = Vec::with_capacity(count);
    let mut rest = bytes;
    while !rest.is_empty() {
        let (len, tail) = rest.split_first_chunk::<2>()?;
        let len = usize::from(u16::from_be_bytes(*len));
        if tail.len() < len || out.len() == count {
            return None;
        }
        out.push(&tail[..len]);
        rest = &tail[len..];
    }
    (out.len() == count).then_some(out)
}

/// Entry `pos` of an encoded entry bundle, walking at most `pos + 1` length prefixes.
pub(super) fn bundle_entry(bytes: &[u8], pos: usize) -> Option<&[u8]> {
    let mut rest = bytes;
    for i in 0.. {
        let (len, tail) = rest.split_first_chunk::<2>()?;
        let len = usize::from(u16::from_be_bytes(*len));
        let entry = tail.get(..len)?;
        if i == pos {
            return Some(entry);
        }
        rest = &tail[len..];
    }
    None
}

pub(super) fn push_bundle_entry(out: &mut Vec<u8>, leaf: &[u8]) {
    // Callers have checked MAX_LEAF_BYTES.
    out.extend_from_slice(&(leaf.len() as u16).to_be_bytes());
    out.extend_from_slice(leaf);
}

/// The tree head: how many entries the log holds and their Merkle root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// How many entries the log holds.
    pub size: u64,
    /// Their Merkle root (RFC 9162).
    pub root: Hash,
}

impl Head {
    pub(super) fn encode(&self) -> [u8; 40] {
        let mut b = [0; 40];
        b[..8].copy_from_slice(&self.size.to_be_bytes());
        b[8..].copy_from_slice(&self.root);
        b
    }

    pub(super) fn decode(b: &[u8]) -> Option<Head> {
        let b: &[u8; 40] = b.try_into().ok()?;
        let (size, root) = b.split_at(8);
        Some(Head {
            size: u64::from_be_bytes(size.try_into().ok()?),
            root: root.try_into().ok()?,
        })
    }
}

/// Where a full entry bundle lies in `<dir>/bundles`: the value of its `B` record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct BundleRecord {
    pub(super) start: u64,
    pub(super) len: u64,
}

impl BundleRecord {
    pub(super) fn end(&self) -> u64 {
        self.start + self.len
    }

    pub(super) fn encode(&self) -> [u8; 16] {
        let mut b = [0; 16];
        b[..8].copy_from_slice(&self.start.to_be_bytes());
        b[8..].copy_from_slice(&self.len.to_be_bytes());
        b
    }

    pub(super) fn decode(b: &[u8]) -> Option<BundleRecord> {
        let b: &[u8; 16] = b.try_into().ok()?;
        let r = BundleRecord {
            start: u64::from_be_bytes(b[..8].try_into().ok()?),
            len: u64::from_be_bytes(b[8..].try_into().ok()?),
        };
        // 256 entries of at most 65535 bytes and their length prefixes.
        (r.len <= BUNDLE_WIDTH * (MAX_LEAF_BYTES as u64 + 2)
            && r.start.checked_add(r.len).is_some())
        .then_some(r)
    }
}
