//! Damage to the tlog-tiles layout: full entry bundles (the `bundles` file and their `B`
//! records), full stored tiles (the `tiles-L` files) and the single entry records of the
//! bundle still filling (`e`), each refused on open or found by `verify_all` with a
//! specific error.
//! The tests edit the files and the sled database directly, using the layout documented
//! in `store` and spec/store.md.

use std::path::Path;

use dyad_ledger::store::{CheckpointProblem, Damage, Store, StoreError};
use dyad_ledger::tree::{leaf_hash, Hash};
use dyad_testkit::store::{note, open_db_behind_the_store};

/// 600 = 512 + 64 + 16 + 8: bundles 0 and 1 and level-0 tiles 0 and 1 are full;
/// entries 512.. are single records; the nodes of the right edge, (9, 0), (6, 8), (4, 36)
/// and (3, 74), are computed on open from them and from the full tiles.
const SIZE: u64 = 600;

fn leaf(i: u64) -> Vec<u8> {
    format!("entry number {i}").into_bytes()
}

fn key(kind: u8, i: u64) -> Vec<u8> {
    [&[kind][..], &i.to_be_bytes()].concat()
}

fn key2(kind: u8, level: u8, i: u64) -> Vec<u8> {
    [&[kind, level][..], &i.to_be_bytes()].concat()
}

/// Byte offset of node (level 8L + sub, index) inside its stored tile.
fn tile_at(sub: u8, pos: u64) -> usize {
    (512 - (512 >> sub) + pos as usize) * 32
}

/// Byte offset of entry `i`'s first data byte inside its bundle.
fn bundle_at(i: u64) -> usize {
    let first = i - i % 256;
    (first..i).map(|j| 2 + leaf(j).len()).sum::<usize>() + 2
}

/// The root of the first `n` leaves, by the RFC 9162 definition (not the ledger's tree).
fn root_of(n: u64) -> Hash {
    dyad_testkit::store::root_of(n, leaf)
}

/// A healthy store of `size` entries in batches, with a checkpoint at 64.
fn build(dir: &Path, size: u64) {
    let mut store = Store::create(dir).unwrap();
    for range in [0..40, 40..64, 64..300, 300..size] {
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

/// Opens sled directly (its threads may hold the lock a moment after the store closed).
fn with_db(dir: &Path, edit: impl FnOnce(&sled::Db)) {
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

/// Flips one bit of byte `at` of a file of the store.
fn flip_file(dir: &Path, name: &str, at: usize) {
    let path = dir.join(name);
    let mut b = std::fs::read(&path).unwrap();
    b[at] ^= 0x01;
    std::fs::write(path, b).unwrap();
}

/// Changes a file of the store with `edit`.
fn edit_file(dir: &Path, name: &str, edit: impl FnOnce(&mut Vec<u8>)) {
    let path = dir.join(name);
    let mut b = std::fs::read(&path).unwrap_or_default();
    edit(&mut b);
    std::fs::write(path, b).unwrap();
}

const TILE: usize = 510 * 32;

/// Bytes of full bundle `b` (256 entries, each with a u16 length prefix).
fn bundle_len(b: u64) -> usize {
    (b * 256..(b + 1) * 256).map(|j| 2 + leaf(j).len()).sum()
}

/// Offset of full bundle `b` in the bundles file.
fn bundle_start(b: u64) -> usize {
    (0..b).map(bundle_len).sum()
}

fn damaged_store(size: u64, edit: impl FnOnce(&Path)) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    build(&dir, size);
    edit(&dir);
    (tmp, dir)
}

fn open_damage_at(size: u64, edit: impl FnOnce(&Path)) -> Damage {
    let (_tmp, dir) = damaged_store(size, edit);
    match Store::open(&dir) {
        Err(StoreError::Damaged(d)) => d,
        other => panic!("expected open to refuse the store, got {other:?}"),
    }
}

fn open_damage(edit: impl FnOnce(&Path)) -> Damage {
    open_damage_at(SIZE, edit)
}

fn scan_damage(edit: impl FnOnce(&Path)) -> Damage {
    let (_tmp, dir) = damaged_store(SIZE, edit);
    let store = Store::open(&dir).expect("this damage is beyond the O(log n) checks of open");
    match store.verify_all(|_, _| {}) {
        Err(StoreError::Damaged(d)) => d,
        other => panic!("expected verify_all to find damage, got {other:?}"),
    }
}

#[test]
fn a_flipped_byte_inside_a_full_bundle() {
    assert_eq!(
        scan_damage(|d| flip_file(d, "bundles", bundle_start(1) + bundle_at(300) + 1)),
        Damage::LeafHashMismatch { index: 300 }
    );
    // A length prefix: the bundle no longer holds 256 entries.
    assert_eq!(
        scan_damage(|d| flip_file(d, "bundles", 0)),
        Damage::MalformedBundle { index: 0 }
    );
    // When the last entry is in a full bundle, open reads it.
    assert_eq!(
        open_damage_at(512, |d| flip_file(
            d,
            "bundles",
            bundle_start(1) + bundle_at(511)
        )),
        Damage::LeafHashMismatch { index: 511 }
    );
    // A bundle's record that points elsewhere in the file: not where the one before
    // ended, or (the last one) past the file's end.
    assert_eq!(
        scan_damage(|d| with_db(d, |db| flip(db, &key(b'B', 0), 7))),
        Damage::MalformedBundle { index: 0 }
    );
    assert!(matches!(
        open_damage(|d| with_db(d, |db| flip(db, &key(b'B', 1), 7))),
        Damage::FileTooShort { .. }
    ));
}

#[test]
fn a_flipped_byte_inside_a_full_tile() {
    assert_eq!(
        scan_damage(|d| flip_file(d, "tiles-0", tile_at(0, 10) + 5)),
        Damage::LeafHashMismatch { index: 10 }
    );
    assert_eq!(
        scan_damage(|d| flip_file(d, "tiles-0", tile_at(3, 2))),
        Damage::NodeMismatch { level: 3, index: 2 }
    );
    // The top two nodes of a full level-0 tile hash to a node of tile level 1, whose
    // right edge open computes from them: (8, 1) here, in the root.
    assert!(matches!(
        open_damage(|d| flip_file(d, "tiles-0", TILE + tile_at(7, 1) + 31)),
        Damage::HeadRootMismatch { size: SIZE, .. }
    ));
    // Node (6, 0) is the root of the newest checkpoint, which open checks.
    assert_eq!(
        open_damage(|d| flip_file(d, "tiles-0", tile_at(6, 0))),
        Damage::Checkpoint {
            size: 64,
            problem: CheckpointProblem::RootMismatch
        }
    );
}

#[test]
fn the_single_records_of_the_right_edge() {
    // Open computes the right edge from the entries of the bundle still filling and
    // checks the root it gives.
    for index in [520, SIZE - 1] {
        match open_damage(|d| with_db(d, |db| flip(db, &key(b'e', index), 2))) {
            Damage::HeadRootMismatch { size, .. } => assert_eq!(size, SIZE),
            other => panic!("entry {index}: {other:?}"),
        }
    }
    assert_eq!(
        open_damage(|d| with_db(d, |db| {
            db.remove(key(b'e', 530)).unwrap();
        })),
        Damage::MissingEntry { index: 530 }
    );
    // Records a full bundle or tile replaced must not linger or come back.
    assert_eq!(
        open_damage(|d| with_db(d, |db| {
            db.insert(key(b'e', 10), leaf(10)).unwrap();
        })),
        Damage::StrayEntry { index: 10 }
    );
    assert_eq!(
        open_damage(|d| with_db(d, |db| {
            db.insert(key2(b'n', 0, 5), &leaf_hash(&leaf(5))[..])
                .unwrap();
        })),
        Damage::StrayNode { level: 0, index: 5 }
    );
}

#[test]
fn reading_a_damaged_store_gives_errors_not_panics() {
    // A full bundle's record lost: open does not read it (only the last entry), reads do.
    let (_tmp, dir) = damaged_store(SIZE, |d| {
        with_db(d, |db| {
            db.remove(key(b'B', 1)).unwrap();
        })
    });
    let store = Store::open(&dir).unwrap();
    assert!(matches!(
        store.leaf(300),
        Err(StoreError::Damaged(Damage::MissingBundle { index: 1 }))
    ));
    let listed: Vec<_> = store.leaves(254..300).unwrap().collect();
    assert_eq!(listed.len(), 3, "the iterator stops at the gap");
    assert!(matches!(
        listed[2],
        Err(StoreError::Damaged(Damage::MissingBundle { index: 1 }))
    ));
    assert!(store.entry_bundle(1, 256).is_err());
    assert!(
        store.inclusion_proof(300, SIZE).is_ok(),
        "proofs do not read the entries"
    );
    assert!(matches!(
        store.verify_all(|_, _| {}),
        Err(StoreError::Damaged(Damage::MissingBundle { index: 1 }))
    ));
}

#[test]
fn a_deleted_bundle_or_tile() {
    assert_eq!(
        scan_damage(|d| with_db(d, |db| {
            db.remove(key(b'B', 1)).unwrap();
        })),
        Damage::MissingBundle { index: 1 }
    );
    assert_eq!(
        open_damage_at(512, |d| with_db(d, |db| {
            db.remove(key(b'B', 1)).unwrap();
        })),
        Damage::HeadSizeMismatch {
            head_size: 512,
            last_entry: Some(255)
        }
    );
    // The bundles file cut short, or gone.
    let short = bundle_start(2) as u64 - 1;
    assert_eq!(
        open_damage(|d| edit_file(d, "bundles", |b| b.truncate(short as usize))),
        Damage::FileTooShort {
            file: "bundles".into(),
            len: short,
            expected: short + 1
        }
    );
    assert!(matches!(
        open_damage(|d| std::fs::remove_file(d.join("bundles")).unwrap()),
        Damage::FileTooShort { len: 0, .. }
    ));
    // The tiles file cut inside tile 1, or gone: the newest checkpoint's root is node
    // (6, 0), in tile 0, and open checks that every full tile is there.
    assert_eq!(
        open_damage(|d| edit_file(d, "tiles-0", |b| b.truncate(TILE + 5))),
        Damage::MissingTile {
            tile_level: 0,
            index: 1
        }
    );
    assert_eq!(
        open_damage(|d| std::fs::remove_file(d.join("tiles-0")).unwrap()),
        Damage::MissingTile {
            tile_level: 0,
            index: 0
        }
    );
}

#[test]
fn bundles_or_tiles_swapped() {
    let swap = |from: usize, mid: usize, end: usize| {
        move |b: &mut Vec<u8>| {
            let swapped = [&b[mid..end], &b[from..mid]].concat();
            b[from..end].copy_from_slice(&swapped);
        }
    };
    // Swapped in the file, their records unchanged: bundle 0's record now covers bytes
    // that do not hold exactly 256 entries, or other entries.
    let err = scan_damage(|d| edit_file(d, "bundles", swap(0, bundle_start(1), bundle_start(2))));
    assert!(
        matches!(
            err,
            Damage::MalformedBundle { index: 0 } | Damage::LeafHashMismatch { index: 0 }
        ),
        "{err:?}"
    );
    // Open computes node (9, 0) of the right edge from the two tiles' top nodes.
    assert!(matches!(
        open_damage(|d| edit_file(d, "tiles-0", swap(0, TILE, 2 * TILE))),
        Damage::HeadRootMismatch { size: SIZE, .. }
    ));
}

#[test]
fn bundles_or_tiles_beyond_the_head() {
    assert_eq!(
        open_damage(|d| with_db(d, |db| {
            db.insert(key(b'B', 2), &[0u8; 16][..]).unwrap();
        })),
        Damage::BundleBeyondHead {
            index: 2,
            size: SIZE
        }
    );
    // Bytes after the last full bundle or tile are what an interrupted commit leaves:
    // open cuts them off, and nothing of them is ever served.
    for name in ["bundles", "tiles-0", "tiles-1"] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("log");
        build(&dir, SIZE);
        let before = std::fs::read(dir.join(name)).unwrap_or_default();
        edit_file(&dir, name, |b| b.extend_from_slice(&[7u8; 2 * TILE]));
        let store = Store::open(&dir).unwrap();
        assert_eq!(std::fs::read(dir.join(name)).unwrap(), before, "{name}");
        store.verify_all(|_, _| {}).unwrap();
        // Appended while the store is open (behind its back): verify_all names the file.
        edit_file(&dir, name, |b| b.push(1));
        assert!(
            matches!(
                store.verify_all(|_, _| {}),
                Err(StoreError::Damaged(Damage::FileLength { ref file, .. })) if file == name
            ),
            "{name}"
        );
    }
}
