//! The tlog-tiles layout: full entry bundles and stored tiles, single records only at
//! the right edge, across bundle and tile boundaries and with batches that fill several
//! tiles at once.

use std::path::Path;

use dyad_ledger::store::{Store, StoreError, BUNDLE_WIDTH};
use dyad_ledger::tree::{self, leaf_hash, Hash, MemoryTree, NodeReader};
use dyad_testkit::store::{note, open_db_behind_the_store};

/// Cheap tiny leaves; every 7th one repeats an earlier one (RFC 6962 logs may hold
/// duplicate leaves).
fn leaf(i: u64) -> Vec<u8> {
    if i % 7 == 6 {
        return (i / 2).to_be_bytes()[5..].to_vec();
    }
    i.to_be_bytes()[5..].to_vec()
}

fn reference(n: u64) -> MemoryTree {
    let mut t = MemoryTree::new();
    for i in 0..n {
        t.append(leaf_hash(&leaf(i)));
    }
    t
}

/// Counts the records of one kind (the key's first byte) straight from sled.
fn records(dir: &Path, kind: u8) -> usize {
    let db = open_db_behind_the_store(dir);
    db.scan_prefix([kind]).count()
}

fn bundle_bytes(range: std::ops::Range<u64>) -> Vec<u8> {
    let mut out = Vec::new();
    for i in range {
        let l = leaf(i);
        out.extend_from_slice(&(l.len() as u16).to_be_bytes());
        out.extend_from_slice(&l);
    }
    out
}

/// Everything readable at `size` agrees with the in-memory tree.
fn check(store: &Store, full: &MemoryTree, size: u64) {
    assert_eq!(store.size(), size);
    assert_eq!(store.root(), full.root());
    // Around every bundle boundary near the end, and the start.
    let mut probes: Vec<u64> = vec![0, 1, 254, 255, 256, 257, size / 2];
    probes.extend((size.saturating_sub(260)..size).step_by(37));
    probes.push(size - 1);
    for &i in probes.iter().filter(|&&i| i < size) {
        assert_eq!(store.leaf(i).unwrap(), leaf(i), "leaf {i} at {size}");
        assert_eq!(store.leaf_hash(i).unwrap(), leaf_hash(&leaf(i)));
        assert_eq!(
            store.inclusion_proof(i, size).unwrap(),
            tree::inclusion_proof(i, size, full).unwrap()
        );
        let old = i + 1;
        assert_eq!(
            store.consistency_proof(old, size).unwrap(),
            tree::consistency_proof(old, size, full).unwrap()
        );
        assert_eq!(
            store.root_at(old).unwrap(),
            tree::root_at(old, full).unwrap()
        );
    }
    let start = size.saturating_sub(300);
    let got: Vec<Vec<u8>> = store
        .leaves(start..size)
        .unwrap()
        .map(|r| r.unwrap().1)
        .collect();
    assert_eq!(got, (start..size).map(leaf).collect::<Vec<_>>());
    // Entry bundles: full ones, partial views of full ones, and the partial last one.
    for b in [0, size / BUNDLE_WIDTH / 2, (size - 1) / BUNDLE_WIDTH] {
        let avail = (size - b * BUNDLE_WIDTH).min(256) as u16;
        for w in [1, avail / 2 + 1, avail] {
            let first = b * BUNDLE_WIDTH;
            assert_eq!(
                store.entry_bundle(b, w).unwrap(),
                bundle_bytes(first..first + u64::from(w)),
                "bundle {b} width {w} at {size}"
            );
        }
        assert!(matches!(
            store.entry_bundle(b, avail + 1),
            Err(StoreError::Tree(_)) | Err(StoreError::BadTileWidth { .. })
        ));
    }
    // Tiles at each level that has a hash: the last full tile and the partial one.
    for tile_level in 0..3u8 {
        let level = tile_level * 8;
        let hashes = size >> level;
        if hashes == 0 {
            continue;
        }
        for t in [0, (hashes - 1) / 256] {
            let w = (hashes - t * 256).min(256) as u16;
            let expected: Vec<Hash> = (t * 256..t * 256 + u64::from(w))
                .map(|i| full.node(level, i).unwrap())
                .collect();
            assert_eq!(store.tile(tile_level, t, w).unwrap(), expected);
            assert_eq!(store.tile(tile_level, t, 1).unwrap(), expected[..1]);
        }
    }
}

#[test]
fn across_bundle_and_tile_boundaries() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let mut store = Store::create(&dir).unwrap();
    let full = reference(65537 + 600);
    let mut size = 0;
    // Batches of varied sizes, landing exactly on and next to every boundary.
    for target in [
        1,
        255,
        256,
        257,
        511,
        512,
        1000,
        65535,
        65536,
        65537,
        65537 + 255,
        65537 + 600,
    ] {
        let mut b = store.batch();
        for i in size..target {
            assert_eq!(b.append_leaf(leaf(i)), i);
        }
        b.put_checkpoint(target, note(target, &tree::root_at(target, &full).unwrap()));
        store.commit(b).unwrap();
        size = target;
        let at = reference(size);
        check(&store, &at, size);
        if [255, 256, 257, 65535, 65536, 65537].contains(&size) {
            drop(store);
            // Only the last bundle's entries are single records; the nodes of filling
            // tiles are not stored at all (open computes them).
            let singles = records(&dir, b'e');
            assert_eq!(singles as u64, size % 256, "at {size}");
            assert_eq!(records(&dir, b'B') as u64, size / 256);
            assert_eq!(records(&dir, b'n'), 0, "node records at {size}");
            // Full tiles live in one flat file per tile level, nothing of them in sled.
            assert_eq!(records(&dir, b'T'), 0);
            let tile_bytes =
                |name: &str| std::fs::metadata(dir.join(name)).map_or(0, |m| m.len()) / (510 * 32);
            assert_eq!(tile_bytes("tiles-0"), size / 256, "at {size}");
            assert_eq!(tile_bytes("tiles-1"), size / 65536, "at {size}");
            store = Store::open(&dir).unwrap();
            check(&store, &at, size);
            let v = store.verify_all(|_, _| {}).unwrap();
            assert_eq!(v.entries, size);
            assert_eq!(v.nodes, (0..64).map(|l| size >> l).sum::<u64>());
        }
    }
    store.verify_all(|_, _| {}).unwrap();
}

#[test]
fn one_batch_fills_many_tiles_and_checkpoints_inside_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let mut store = Store::create(&dir).unwrap();
    let n = 65536 + 3 * 256 + 5;
    let full = reference(n);
    let mut b = store.batch();
    for i in 0..100 {
        b.append_leaf(leaf(i));
    }
    store.commit(b).unwrap();
    let mut b = store.batch();
    for i in 100..n {
        b.append_leaf(leaf(i));
    }
    // Checkpoints whose roots read nodes that only this batch's tiles hold.
    for cp in [100, 256, 300, 65536, n - 1] {
        b.put_checkpoint(cp, note(cp, &tree::root_at(cp, &full).unwrap()));
    }
    store.commit(b).unwrap();
    check(&store, &full, n);
    drop(store);
    let store = Store::open(&dir).unwrap();
    check(&store, &full, n);
    assert_eq!(store.verify_all(|_, _| {}).unwrap().checkpoints, 5);
}

#[test]
fn duplicate_leaves_are_appended() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::create(tmp.path()).unwrap();
    let mut b = store.batch();
    for _ in 0..300 {
        b.append_leaf(b"same".to_vec());
    }
    store.commit(b).unwrap();
    assert_eq!(store.size(), 300);
    assert_eq!(store.leaf(299).unwrap(), b"same");
    store.verify_all(|_, _| {}).unwrap();
}

#[test]
fn a_version_1_store_is_refused_with_advice() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    drop(Store::create(&dir).unwrap());
    with_db(&dir, |db| {
        db.insert(b"V", &b"dyad-store/1"[..]).unwrap();
    });
    match Store::open(&dir) {
        Err(e @ StoreError::OldFormat { .. }) => {
            assert!(e.to_string().contains("re-create"), "{e}")
        }
        other => panic!("{other:?}"),
    }
}

/// Edits sled directly, as another program would.
fn with_db(dir: &Path, edit: impl FnOnce(&sled::Db)) {
    let db = open_db_behind_the_store(dir);
    edit(&db);
    db.flush().unwrap();
}

/// Turns a store of format 4 into the format 3 it was before (spec/store.md in git
/// history): the format record, and an `n` record for every node of a stored tile still
/// filling, with `value` given the true node.
fn as_format_3(dir: &Path, size: u64, full: &MemoryTree, value: impl Fn(Hash) -> Vec<u8>) -> usize {
    let mut written = 0;
    with_db(dir, |db| {
        for level in 0..=tree::MAX_LEVEL {
            let (tile_level, sub) = (level / 8, level % 8);
            let full_tiles = size.checked_shr(8 + 8 * u32::from(tile_level)).unwrap_or(0);
            let filling_from = full_tiles << (8 - sub);
            for index in filling_from..size >> level {
                let key = [&[b'n', level][..], &index.to_be_bytes()].concat();
                db.insert(key, value(full.node(level, index).unwrap()))
                    .unwrap();
                written += 1;
            }
        }
        db.insert(b"V", &b"dyad-store/3"[..]).unwrap();
    });
    written
}

#[test]
fn a_format_3_store_is_upgraded_on_open() {
    // The right edge reaches tile levels 0, 1 and 2.
    let n = 65536 + 3 * 256 + 100;
    let full = reference(n);
    for (what, value) in [
        ("true nodes", (|h: Hash| h.to_vec()) as fn(Hash) -> Vec<u8>),
        // Format 4 computes the edge, so the upgrade never reads these.
        ("damaged nodes", |_| vec![7; 31]),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("log");
        let mut store = Store::create(&dir).unwrap();
        let mut b = store.batch();
        for i in 0..n {
            b.append_leaf(leaf(i));
        }
        b.put_checkpoint(n, note(n, &full.root()));
        store.commit(b).unwrap();
        drop(store);
        let written = as_format_3(&dir, n, &full, value);
        assert!(written > 100 + 3, "{what}: {written} node records");
        assert_eq!(records(&dir, b'n'), written);

        let mut store = Store::open(&dir).unwrap_or_else(|e| panic!("{what}: {e}"));
        check(&store, &full, n);
        store.verify_all(|_, _| {}).unwrap();
        let mut b = store.batch();
        b.append_leaf(leaf(n));
        store.commit(b).unwrap();
        drop(store);
        assert_eq!(records(&dir, b'n'), 0, "{what}");
        with_db(&dir, |db| {
            assert_eq!(db.get(b"V").unwrap().unwrap(), &b"dyad-store/4"[..]);
        });
        let store = Store::open(&dir).unwrap();
        check(&store, &reference(n + 1), n + 1);
    }
}
