//! C2SP tlog-tiles (`c2sp.org/tlog-tiles`) as a pure format: tile paths, which tiles a
//! tree of a given size has, and the strict parsing of hash tiles and entry bundles (for
//! what comes from outside). Reading tiles from a store and serving them is the node's.
//!
//! - A **hash tile** `tile/<L>/<N>[.p/<W>]` is `W` (256 when full) consecutive Merkle tree
//!   hashes at tree level `8·L`, starting at node index `N·256`: each is the root of the
//!   subtree of `256^L` leaves `[(N·256 + i)·256^L, (N·256 + i + 1)·256^L)`.
//! - An **entry bundle** `tile/entries/<N>[.p/<W>]` is the entries `[N·256, N·256 + W)`,
//!   each prefixed by its length as a big-endian u16.
//! - `<N>` is written in zero-padded 3-digit path elements, all but the last starting with
//!   `x`: 1234067 is `x001/x234/067`.

use std::fmt;

use dyad_verifier::text::parse_decimal;

use crate::store::{TILE_HEIGHT, TILE_WIDTH};
use crate::tree::Hash;

/// Hashes in a full tile, entries in a full bundle.
pub const FULL_WIDTH: u16 = TILE_WIDTH;
/// The largest tile level whose hashes can exist: level 8·7 = 56 is the highest multiple of
/// 8 at or below the tree's top level 63. Paths may name levels up to 63; such tiles never
/// exist.
pub const MAX_TILE_LEVEL: u8 = 7;
/// The largest level a tile path may name (tlog-tiles: 0 to 63).
pub const MAX_PATH_LEVEL: u8 = 63;
/// A full hash tile: 256 hashes of 32 bytes.
pub const MAX_HASH_TILE_BYTES: usize = FULL_WIDTH as usize * 32;
/// The largest entry an entry bundle can carry (its u16 length prefix).
pub const MAX_BUNDLE_ENTRY_BYTES: usize = u16::MAX as usize;
/// A full entry bundle of the largest entries.
pub const MAX_BUNDLE_BYTES: usize = FULL_WIDTH as usize * (2 + MAX_BUNDLE_ENTRY_BYTES);

/// Which kind of resource a tile path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TileKind {
    /// A hash tile at tile level `L` (tree level `8·L`).
    Hashes {
        /// The tile level (tree level 8·L).
        level: u8,
    },
    /// An entry bundle.
    Entries,
}

/// One tile or entry bundle: `width` is 1..=256, and 256 means a full tile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tile {
    /// A hash tile (with its tile level) or an entry bundle.
    pub kind: TileKind,
    /// The tile's index at its level (`N` in the path).
    pub index: u64,
    /// How many hashes or entries it holds.
    pub width: u16,
}

/// Why a tile path, tile or bundle was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TileError {
    /// A path that is not a tlog-tiles tile or bundle path.
    #[error("not a tile path: {0}")]
    BadPath(String),
    /// A width outside 1..=256.
    #[error("tile width {0} is not between 1 and 256")]
    BadWidth(u16),
    /// A hash tile whose length is not 32 bytes per hash.
    #[error("a hash tile of width {width} has {expected} bytes, got {got}")]
    HashTileLength {
        /// The tile's width.
        width: u16,
        /// The length of that width.
        expected: usize,
        /// The length found.
        got: usize,
    },
    /// An entry bundle longer than the longest possible one.
    #[error("entry bundle has {got} bytes, more than the {max} a bundle can have")]
    BundleTooLarge {
        /// The length found.
        got: usize,
        /// The longest bundle.
        max: usize,
    },
    /// An entry bundle that ends inside an entry.
    #[error("entry bundle ends inside entry {entry} (of {width})")]
    BundleTruncated {
        /// The entry it ends in.
        entry: u16,
        /// The bundle's width.
        width: u16,
    },
    /// An entry bundle with bytes after its last entry.
    #[error("entry bundle has {extra} bytes after its {width} entries")]
    BundleTrailingBytes {
        /// The bundle's width.
        width: u16,
        /// How many bytes follow.
        extra: usize,
    },
}

impl Tile {
    /// The hash tile at tile level `level`, index `index`, of `width` hashes.
    pub fn hashes(level: u8, index: u64, width: u16) -> Tile {
        Tile {
            kind: TileKind::Hashes { level },
            index,
            width,
        }
    }

    /// The entry bundle at index `index`, of `width` entries.
    pub fn entries(index: u64, width: u16) -> Tile {
        Tile {
            kind: TileKind::Entries,
            index,
            width,
        }
    }

    /// Whether the tile is full (256 wide), so its content never changes.
    pub fn is_full(&self) -> bool {
        self.width == FULL_WIDTH
    }

    /// The tree level of the hashes in this tile: 8·L for hash tiles, 0 for bundles.
    fn tree_level(&self) -> u32 {
        match self.kind {
            TileKind::Hashes { level } => u32::from(level) * u32::from(TILE_HEIGHT),
            TileKind::Entries => 0,
        }
    }

    /// The smallest tree size in which this tile exists: its last hash (or entry) covers
    /// the leaves up to there. `None` when no tree of at most 2^64 - 1 leaves has it.
    pub fn min_tree_size(&self) -> Option<u64> {
        let end = self
            .index
            .checked_mul(u64::from(FULL_WIDTH))?
            .checked_add(u64::from(self.width))?;
        let level = self.tree_level();
        if level >= 64 {
            return None;
        }
        let covered = end.checked_shl(level)?;
        (covered >> level == end).then_some(covered)
    }

    /// Whether this tile exists, as written, in the tree of `size` leaves: full tiles
    /// below the edge, and partial tiles of any width up to what the tree has at that
    /// position (the widths of earlier checkpoints included).
    pub fn exists_in(&self, size: u64) -> bool {
        (1..=FULL_WIDTH).contains(&self.width) && self.min_tree_size().is_some_and(|m| m <= size)
    }

    /// The path below the log's prefix, e.g. `tile/0/x001/x234/067.p/5` or
    /// `tile/entries/000`.
    pub fn path(&self) -> String {
        let level = match self.kind {
            TileKind::Hashes { level } => level.to_string(),
            TileKind::Entries => "entries".to_owned(),
        };
        let mut p = format!("tile/{level}/{}", encode_index(self.index));
        if !self.is_full() {
            p.push_str(&format!(".p/{}", self.width));
        }
        p
    }

    /// Parses a path below the log's prefix (`tile/...`, without a leading slash), strictly:
    /// canonical numbers, canonical index elements, widths 1..=255 for partial tiles.
    pub fn parse_path(path: &str) -> Result<Tile, TileError> {
        let bad = || TileError::BadPath(truncate(path));
        let rest = path.strip_prefix("tile/").ok_or_else(bad)?;
        let (level, rest) = rest.split_once('/').ok_or_else(bad)?;
        let kind = if level == "entries" {
            TileKind::Entries
        } else {
            let l = parse_decimal(level.as_bytes()).ok_or_else(bad)?;
            if l > u64::from(MAX_PATH_LEVEL) {
                return Err(bad());
            }
            TileKind::Hashes { level: l as u8 }
        };
        let (index_part, width) = match rest.split_once(".p/") {
            Some((index_part, w)) => {
                let w = parse_decimal(w.as_bytes()).ok_or_else(bad)?;
                if w == 0 || w >= u64::from(FULL_WIDTH) {
                    return Err(bad());
                }
                (index_part, w as u16)
            }
            None => (rest, FULL_WIDTH),
        };
        let index = parse_index(index_part).ok_or_else(bad)?;
        Ok(Tile { kind, index, width })
    }
}

impl fmt::Display for Tile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(120).collect()
}

/// The tile index in 3-digit path elements: `x001/x234/067` for 1234067.
pub fn encode_index(mut n: u64) -> String {
    let mut s = format!("{:03}", n % 1000);
    while n >= 1000 {
        n /= 1000;
        s = format!("x{:03}/{s}", n % 1000);
    }
    s
}

/// Parses [`encode_index`]'s form, and only that form (no `x000` first element).
pub fn parse_index(s: &str) -> Option<u64> {
    let parts: Vec<&str> = s.split('/').collect();
    if parts.len() > 7 {
        return None;
    }
    let last = parts.len() - 1;
    let mut n: u64 = 0;
    for (i, part) in parts.iter().enumerate() {
        let digits = if i < last {
            part.strip_prefix('x')?
        } else {
            part
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let d: u64 = digits.parse().ok()?;
        if i == 0 && last > 0 && d == 0 {
            return None;
        }
        n = n.checked_mul(1000)?.checked_add(d)?;
    }
    Some(n)
}

/// Parses a hash tile of `width` hashes: exactly `32·width` bytes.
pub fn parse_hash_tile(bytes: &[u8], width: u16) -> Result<Vec<Hash>, TileError> {
    if !(1..=FULL_WIDTH).contains(&width) {
        return Err(TileError::BadWidth(width));
    }
    let expected = usize::from(width) * 32;
    if bytes.len() != expected {
        return Err(TileError::HashTileLength {
            width,
            expected,
            got: bytes.len(),
        });
    }
    Ok(bytes
        .chunks_exact(32)
        .map(|c| c.try_into().expect("32-byte chunk"))
        .collect())
}

/// Parses an entry bundle of exactly `width` entries, with nothing after the last.
pub fn parse_entry_bundle(bytes: &[u8], width: u16) -> Result<Vec<Vec<u8>>, TileError> {
    if !(1..=FULL_WIDTH).contains(&width) {
        return Err(TileError::BadWidth(width));
    }
    if bytes.len() > MAX_BUNDLE_BYTES {
        return Err(TileError::BundleTooLarge {
            got: bytes.len(),
            max: MAX_BUNDLE_BYTES,
        });
    }
    let mut out = Vec::with_capacity(usize::from(width));
    let mut rest = bytes;
    for entry in 0..width {
        let truncated = TileError::BundleTruncated { entry, width };
        let (len, tail) = rest.split_first_chunk::<2>().ok_or(truncated.clone())?;
        let len = usize::from(u16::from_be_bytes(*len));
        if tail.len() < len {
            return Err(truncated);
        }
        let (data, tail) = tail.split_at(len);
        out.push(data.to_vec());
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(TileError::BundleTrailingBytes {
            width,
            extra: rest.len(),
        });
    }
    Ok(out)
}

/// Every tile and bundle of the tree of `size` leaves, as tlog-tiles lays it out: for each
/// level, the full tiles then the partial one (if the level's count is not a multiple of
/// 256); then the entry bundles likewise.
pub fn tiles_of_tree(size: u64) -> impl Iterator<Item = Tile> {
    let levels = (0..=MAX_TILE_LEVEL).take_while(move |&l| (size >> (u32::from(l) * 8)) > 0);
    let hash_tiles = levels.flat_map(move |l| {
        level_tiles(size >> (u32::from(l) * 8))
            .map(move |(index, width)| Tile::hashes(l, index, width))
    });
    hash_tiles.chain(level_tiles(size).map(|(index, width)| Tile::entries(index, width)))
}

/// (index, width) of the tiles over `count` hashes at one level.
fn level_tiles(count: u64) -> impl Iterator<Item = (u64, u16)> {
    let full = count / u64::from(FULL_WIDTH);
    let partial = (count % u64::from(FULL_WIDTH)) as u16;
    (0..full)
        .map(|i| (i, FULL_WIDTH))
        .chain((partial > 0).then_some((full, partial)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_encoding_round_trips_and_is_canonical() {
        for (n, s) in [
            (0, "000"),
            (67, "067"),
            (999, "999"),
            (1000, "x001/000"),
            (1_234_067, "x001/x234/067"),
            (u64::MAX, "x018/x446/x744/x073/x709/x551/615"),
        ] {
            assert_eq!(encode_index(n), s);
            assert_eq!(parse_index(s), Some(n), "{s}");
        }
        for bad in [
            "",
            "1",
            "0067",
            "x000/067",
            "001/067",
            "x01/067",
            "x001/x067",
            "x018/x446/x744/x073/x709/x551/616",
            "x1a0/000",
        ] {
            assert_eq!(parse_index(bad), None, "{bad}");
        }
    }

    #[test]
    fn paths_round_trip_and_reject_non_canonical_forms() {
        for t in [
            Tile::hashes(0, 0, 256),
            Tile::hashes(1, 1_234_067, 5),
            Tile::entries(7, 255),
            Tile::entries(1000, 256),
        ] {
            assert_eq!(Tile::parse_path(&t.path()), Ok(t), "{t}");
        }
        assert_eq!(
            Tile::hashes(2, 1_234_067, 17).path(),
            "tile/2/x001/x234/067.p/17"
        );
        for bad in [
            "tile/00/000",
            "tile/64/000",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/05",
            "tile/0/000.p/",
            "tile/entries/000.p/1/2",
            "tile/0/",
            "tile/entries",
            "tiles/0/000",
            "/tile/0/000",
            "tile/-1/000",
            "tile/+1/000",
        ] {
            assert!(Tile::parse_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn existence_follows_the_tree_size() {
        // tlog-tiles' example: size 70,000 has 273 full level-0 tiles, a partial one of 112,
        // one full level-1 tile, a partial level-1 tile of 17 and a partial level-2 tile of 1.
        let tiles: Vec<Tile> = tiles_of_tree(70_000)
            .filter(|t| t.kind != TileKind::Entries)
            .collect();
        assert_eq!(
            tiles
                .iter()
                .filter(|t| t.kind == TileKind::Hashes { level: 0 } && t.is_full())
                .count(),
            273
        );
        assert!(tiles.contains(&Tile::hashes(0, 273, 112)));
        assert!(tiles.contains(&Tile::hashes(1, 0, 256)));
        assert!(tiles.contains(&Tile::hashes(1, 1, 17)));
        assert!(tiles.contains(&Tile::hashes(2, 0, 1)));
        assert_eq!(tiles.len(), 273 + 1 + 1 + 1 + 1);
        assert!(Tile::hashes(0, 273, 112).exists_in(70_000));
        assert!(!Tile::hashes(0, 273, 113).exists_in(70_000));
        assert!(!Tile::hashes(0, 273, 256).exists_in(70_000));
        assert!(Tile::hashes(2, 0, 1).exists_in(65_536));
        assert!(!Tile::hashes(2, 0, 1).exists_in(65_535));
        assert!(!Tile::hashes(8, 0, 1).exists_in(u64::MAX));
        assert!(!Tile::entries(u64::MAX, 256).exists_in(u64::MAX));
        // A tree of 256 leaves: one full level-0 tile and a partial level-1 tile of width 1.
        assert_eq!(
            tiles_of_tree(256).collect::<Vec<_>>(),
            vec![
                Tile::hashes(0, 0, 256),
                Tile::hashes(1, 0, 1),
                Tile::entries(0, 256)
            ]
        );
    }

    #[test]
    fn bundles_and_tiles_parse_strictly() {
        let mut bundle = Vec::new();
        for e in [&b"ab"[..], b"", b"xyz"] {
            bundle.extend_from_slice(&(e.len() as u16).to_be_bytes());
            bundle.extend_from_slice(e);
        }
        assert_eq!(
            parse_entry_bundle(&bundle, 3).unwrap(),
            vec![b"ab".to_vec(), vec![], b"xyz".to_vec()]
        );
        assert!(matches!(
            parse_entry_bundle(&bundle, 4),
            Err(TileError::BundleTruncated { entry: 3, .. })
        ));
        assert!(matches!(
            parse_entry_bundle(&bundle, 2),
            Err(TileError::BundleTrailingBytes { extra: 5, .. })
        ));
        assert!(matches!(
            parse_entry_bundle(&bundle[..bundle.len() - 1], 3),
            Err(TileError::BundleTruncated { entry: 2, .. })
        ));
        assert!(matches!(
            parse_entry_bundle(&bundle, 0),
            Err(TileError::BadWidth(0))
        ));
        assert!(matches!(
            parse_entry_bundle(&[0xff], 1),
            Err(TileError::BundleTruncated { entry: 0, .. })
        ));
        assert_eq!(
            parse_hash_tile(&[7; 64], 2).unwrap(),
            vec![[7; 32], [7; 32]]
        );
        assert!(parse_hash_tile(&[7; 63], 2).is_err());
        assert!(parse_hash_tile(&[7; 96], 2).is_err());
        assert!(parse_hash_tile(&[7; 32 * 257], 257).is_err());
    }
}
