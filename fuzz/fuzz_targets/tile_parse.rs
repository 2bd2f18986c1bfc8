//! C2SP tlog-tiles parsing (`dyad_node::tiles`): the server's tile path parser and
//! the client's readers of fetched hash tiles and entry bundles. Never panics; every
//! accepted path, tile and bundle is canonical (written back byte for byte); the tile
//! geometry (`min_tree_size`, `exists_in`, `tiles_of_tree`) is self-consistent.
//!
//! Layout: byte 0 picks the mode.
//! - 0: the rest is a path (`tile/...`), as the server's `GET /tile/{*path}` gets it;
//! - 1: u16 width, then a hash tile's bytes;
//! - 2: u16 width, then an entry bundle's bytes;
//! - 3: u64 tree size: the first tiles of that tree;
//! - 4: the rest is an index path (`x001/x234/067`).
#![no_main]

use dyad_fuzz::Cursor;
use dyad_node::tiles::{
    encode_index, parse_entry_bundle, parse_hash_tile, parse_index, tiles_of_tree, Tile, TileKind,
    FULL_WIDTH, MAX_PATH_LEVEL,
};
use libfuzzer_sys::fuzz_target;

fn check_geometry(t: &Tile) {
    assert!((1..=FULL_WIDTH).contains(&t.width));
    if let Some(m) = t.min_tree_size() {
        assert!(
            t.exists_in(m),
            "{t} does not exist in its smallest tree {m}"
        );
        assert!(m == 0 || !t.exists_in(m - 1), "{t} exists below {m}");
        assert!(t.exists_in(u64::MAX));
    } else {
        assert!(!t.exists_in(u64::MAX));
    }
}

fuzz_target!(|data: &[u8]| {
    let mut c = Cursor::new(data);
    match c.u8() % 5 {
        0 => {
            let Ok(path) = std::str::from_utf8(c.rest()) else {
                return;
            };
            let Ok(t) = Tile::parse_path(path) else {
                return;
            };
            assert_eq!(t.path(), path, "an accepted tile path is not canonical");
            assert_eq!(t.to_string(), path);
            if let TileKind::Hashes { level } = t.kind {
                assert!(level <= MAX_PATH_LEVEL);
            }
            check_geometry(&t);
        }
        1 => {
            let width = c.u16();
            let bytes = c.rest();
            let Ok(hashes) = parse_hash_tile(bytes, width) else {
                return;
            };
            assert_eq!(hashes.len(), usize::from(width));
            assert_eq!(hashes.concat(), bytes);
        }
        2 => {
            let width = c.u16();
            let bytes = c.rest();
            let Ok(entries) = parse_entry_bundle(bytes, width) else {
                return;
            };
            assert_eq!(entries.len(), usize::from(width));
            let mut again = Vec::with_capacity(bytes.len());
            for e in &entries {
                let len = u16::try_from(e.len()).expect("an entry of a bundle fits a u16");
                again.extend_from_slice(&len.to_be_bytes());
                again.extend_from_slice(e);
            }
            assert_eq!(again, bytes, "an accepted bundle is not canonical");
        }
        3 => {
            let size = c.u64();
            for t in tiles_of_tree(size).take(64) {
                assert!(t.exists_in(size), "{t} listed for size {size}");
                assert_eq!(Tile::parse_path(&t.path()), Ok(t));
                check_geometry(&t);
            }
        }
        _ => {
            let Ok(s) = std::str::from_utf8(c.rest()) else {
                return;
            };
            if let Some(n) = parse_index(s) {
                assert_eq!(
                    encode_index(n),
                    s,
                    "an accepted index path is not canonical"
                );
            }
        }
    }
});
