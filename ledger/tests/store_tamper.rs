//! A store changed behind its back: each kind of damage is refused on open (when it is
//! within the O(log n) checks) or found by `verify_all`, with an error that names it.
//! The tests edit the sled database directly, using the key layout documented in `store`.

use std::path::Path;

use dyad_ledger::store::{CheckpointProblem, Damage, Store, StoreError};
use dyad_ledger::tree::Hash;
use dyad_testkit::store::{note, open_db_behind_the_store};

/// 100 = 64 + 32 + 4: the right edge is nodes (6, 0), (5, 2) and (2, 24). All of it
/// lies in the first entry bundle and stored tile, which are not full: single `e` records,
/// and nodes that open computes from them. The tests of full bundles and tiles are in
/// `store_tamper_tiles.rs`.
const SIZE: u64 = 100;

fn leaf(i: u64) -> Vec<u8> {
    format!("entry number {i}").into_bytes()
}

fn entry_key(i: u64) -> Vec<u8> {
    [&[b'e'][..], &i.to_be_bytes()].concat()
}

fn node_key(level: u8, i: u64) -> Vec<u8> {
    [&[b'n', level][..], &i.to_be_bytes()].concat()
}

/// The root of the first `n` leaves, by the RFC 9162 definition (not the ledger's tree).
fn root_of(n: u64) -> Hash {
    dyad_testkit::store::root_of(n, leaf)
}

/// A healthy store of SIZE entries in three batches, with a checkpoint at 64.
fn build(dir: &Path) {
    let mut store = Store::create(dir).unwrap();
    for range in [0..40, 40..64, 64..SIZE] {
        let mut b = store.batch();
        for i in range.clone() {
            b.append_leaf(leaf(i));
        }
        if range.end == 64 {
            b.put_checkpoint(64, note(64, &root_of(64)));
        }
        store.commit(b).unwrap();
    }
    store.verify_all(|_, _| {}).unwrap();
}

fn tamper(dir: &Path, edit: impl FnOnce(&sled::Db)) {
    let db = open_db_behind_the_store(dir);
    edit(&db);
    db.flush().unwrap();
}

fn flip(db: &sled::Db, key: &[u8], at: usize) {
    let mut v = db
        .get(key)
        .unwrap()
        .expect("the key to tamper with exists")
        .to_vec();
    v[at] ^= 0x01;
    db.insert(key, v).unwrap();
}

fn damaged_store(edit: impl FnOnce(&sled::Db)) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    build(&dir);
    tamper(&dir, edit);
    (tmp, dir)
}

/// The damage `open` refuses the store with.
fn open_damage(edit: impl FnOnce(&sled::Db)) -> Damage {
    let (_tmp, dir) = damaged_store(edit);
    match Store::open(&dir) {
        Err(StoreError::Damaged(d)) => d,
        other => panic!("expected open to refuse the store, got {other:?}"),
    }
}

/// The damage only the full scan finds: open succeeds, verify_all does not.
fn scan_damage(edit: impl FnOnce(&sled::Db)) -> Damage {
    let (_tmp, dir) = damaged_store(edit);
    let store = Store::open(&dir).expect("this damage is beyond the O(log n) checks of open");
    match store.verify_all(|_, _| {}) {
        Err(StoreError::Damaged(d)) => d,
        other => panic!("expected verify_all to find damage, got {other:?}"),
    }
}

/// Open computes the nodes of the tile still filling from the entries of the bundle still
/// filling, and checks the root they give: a changed entry there is refused on open.
fn refused_with_another_root(edit: impl FnOnce(&sled::Db)) {
    match open_damage(edit) {
        Damage::HeadRootMismatch {
            size: SIZE,
            stored,
            computed,
        } => {
            assert_eq!(stored, root_of(SIZE));
            assert_ne!(computed, stored);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_flipped_byte_in_an_entry() {
    refused_with_another_root(|db| flip(db, &entry_key(37), 3));
    refused_with_another_root(|db| flip(db, &entry_key(SIZE - 1), 0));
}

#[test]
fn a_tree_node_stored_as_a_record_of_its_own() {
    // Format 4 never writes one (format 3 did; open upgrades such a store first).
    assert_eq!(
        open_damage(|db| {
            db.insert(node_key(3, 2), &[0u8; 32][..]).unwrap();
        }),
        Damage::StrayNode { level: 3, index: 2 }
    );
    assert_eq!(
        open_damage(|db| {
            db.insert(node_key(1, SIZE / 2), &[0u8; 32][..]).unwrap();
        }),
        Damage::StrayNode {
            level: 1,
            index: SIZE / 2
        }
    );
    assert_eq!(
        open_damage(|db| {
            db.insert(&b"n\x02"[..], &[0u8; 32][..]).unwrap();
        }),
        Damage::MalformedKey {
            key: b"n\x02".to_vec()
        }
    );
}

#[test]
fn a_flipped_byte_in_the_head() {
    assert!(matches!(
        open_damage(|db| flip(db, b"H", 20)),
        Damage::HeadRootMismatch { size: SIZE, .. }
    ));
    assert_eq!(
        open_damage(|db| flip(db, b"H", 7)),
        Damage::HeadSizeMismatch {
            head_size: SIZE ^ 1,
            last_entry: Some(SIZE - 1)
        }
    );
    assert_eq!(
        open_damage(|db| {
            db.insert(b"H", &[0u8; 39][..]).unwrap();
        }),
        Damage::MalformedHead { len: 39 }
    );
}

#[test]
fn a_deleted_entry() {
    assert_eq!(
        open_damage(|db| {
            db.remove(entry_key(50)).unwrap();
        }),
        Damage::MissingEntry { index: 50 }
    );
    assert_eq!(
        open_damage(|db| {
            db.remove(entry_key(SIZE - 1)).unwrap();
        }),
        Damage::HeadSizeMismatch {
            head_size: SIZE,
            last_entry: Some(SIZE - 2)
        }
    );
    // Cutting the log back, head and all, leaves a database consistent in itself: the
    // head file outside sled still records the last commit.
    let damage = open_damage(|db| {
        db.remove(entry_key(SIZE - 1)).unwrap();
        let mut head = db.get(b"H").unwrap().unwrap().to_vec();
        head[..8].copy_from_slice(&(SIZE - 1).to_be_bytes());
        head[8..].copy_from_slice(&root_of(SIZE - 1));
        db.insert(b"H", head).unwrap();
    });
    match damage {
        Damage::RolledBack { recorded, found } => {
            assert_eq!((recorded.size, found.size), (SIZE, SIZE - 1));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn two_entries_swapped() {
    refused_with_another_root(|db| {
        let a = db.get(entry_key(20)).unwrap().unwrap();
        let b = db.get(entry_key(30)).unwrap().unwrap();
        db.insert(entry_key(20), b).unwrap();
        db.insert(entry_key(30), a).unwrap();
    });
}

#[test]
fn an_entry_appended_behind_the_stores_back() {
    assert_eq!(
        open_damage(|db| {
            db.insert(entry_key(SIZE), &b"extra"[..]).unwrap();
        }),
        Damage::HeadSizeMismatch {
            head_size: SIZE,
            last_entry: Some(SIZE)
        }
    );
}

#[test]
fn a_checkpoint_that_does_not_match_the_tree() {
    let cp_key = [&[b'c'][..], &64u64.to_be_bytes()].concat();
    assert_eq!(
        open_damage(|db| {
            db.insert(cp_key.clone(), note(64, &root_of(63))).unwrap();
        }),
        Damage::Checkpoint {
            size: 64,
            problem: CheckpointProblem::RootMismatch
        }
    );
    assert_eq!(
        open_damage(|db| {
            db.insert(cp_key.clone(), note(65, &root_of(65))).unwrap();
        }),
        Damage::Checkpoint {
            size: 64,
            problem: CheckpointProblem::SizeMismatch { body_size: 65 }
        }
    );
    let beyond = [&[b'c'][..], &(SIZE + 1).to_be_bytes()].concat();
    assert_eq!(
        open_damage(|db| {
            db.insert(beyond, note(SIZE + 1, &root_of(SIZE))).unwrap();
        }),
        Damage::Checkpoint {
            size: SIZE + 1,
            problem: CheckpointProblem::BeyondLog { log_size: SIZE }
        }
    );
    assert!(matches!(
        open_damage(|db| {
            db.insert(cp_key.clone(), &b"garbage"[..]).unwrap();
        }),
        Damage::Checkpoint {
            size: 64,
            problem: CheckpointProblem::Malformed(_)
        }
    ));
    // An older checkpoint is checked by the full scan.
    let older = [&[b'c'][..], &10u64.to_be_bytes()].concat();
    assert_eq!(
        scan_damage(|db| {
            db.insert(older, note(10, &root_of(11))).unwrap();
        }),
        Damage::Checkpoint {
            size: 10,
            problem: CheckpointProblem::RootMismatch
        }
    );
}

#[test]
fn not_a_store_at_all() {
    let (_tmp, dir) = damaged_store(|db| {
        db.remove(b"V").unwrap();
    });
    assert!(matches!(
        Store::open(&dir),
        Err(StoreError::NotAStore { .. })
    ));
    let (_tmp, dir) = damaged_store(|db| {
        db.insert(b"V", &b"dyad-store/99"[..]).unwrap();
    });
    match Store::open(&dir) {
        Err(StoreError::UnsupportedFormat { found, .. }) => assert_eq!(found, "dyad-store/99"),
        other => panic!("{other:?}"),
    }
}
