//! What store tests write beside their leaves: checkpoint notes the store keeps as opaque
//! bytes, and the root they must carry, computed by [`crate::merkle`] rather than by the
//! ledger's own tree.

use base64::Engine as _;

use crate::merkle::{self, Hash};

/// A checkpoint note (spec section 6 layout) of `size` and `root` under the origin
/// `example.org/log`, with a placeholder signature line: the store checks size and root,
/// not signatures.
pub fn note(size: u64, root: &Hash) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(root);
    format!("example.org/log\n{size}\n{b64}\n\n\u{2014} example.org/log Zm9vYmFy\n").into_bytes()
}

/// MTH of the leaves `leaf(0)..leaf(n)`, by the RFC 9162 definition.
pub fn root_of(n: u64, leaf: impl Fn(u64) -> Vec<u8>) -> Hash {
    let hashes: Vec<Hash> = (0..n).map(|i| merkle::leaf_hash(&leaf(i))).collect();
    merkle::root(&hashes)
}

/// The sled database of the store in `dir`, opened directly, as a program editing it
/// behind the store's back would. sled's threads hold its file lock a moment after a
/// store is dropped, so this tries for up to two seconds.
#[cfg(feature = "channel")]
pub fn open_db_behind_the_store(dir: &std::path::Path) -> sled::Db {
    let mut tries = 0;
    loop {
        match sled::Config::new().path(dir).open() {
            Ok(db) => return db,
            Err(_) if tries < 200 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => panic!("cannot open the store's database at {}: {e}", dir.display()),
        }
    }
}
