//! The store's contract: create/open, atomic batches, reads, and the errors that leave
//! it unchanged.

use dyad_ledger::store::{Batch, CheckpointProblem, Head, Store, StoreError, MAX_LEAF_BYTES};
use dyad_ledger::tree::{leaf_hash, Hash, MemoryTree, TreeError, EMPTY_ROOT};
use dyad_testkit::store::note;

fn leaf(i: u64) -> Vec<u8> {
    format!("leaf {i}").into_bytes()
}

fn append(store: &mut Store, range: std::ops::Range<u64>) -> Head {
    let mut batch = store.batch();
    for i in range {
        assert_eq!(batch.append_leaf(leaf(i)), i);
    }
    store.commit(batch).unwrap()
}

fn reference(n: u64) -> MemoryTree {
    let mut t = MemoryTree::new();
    for i in 0..n {
        t.append(leaf_hash(&leaf(i)));
    }
    t
}

#[test]
fn create_refuses_an_existing_store_and_open_a_missing_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("nested/log");
    match Store::open(&dir) {
        Err(e @ StoreError::NotFound { .. }) => {
            assert!(e.to_string().contains("nested/log"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    assert!(!dir.exists(), "open must not create anything");
    let store = Store::create(&dir).unwrap();
    assert_eq!(
        store.head(),
        Head {
            size: 0,
            root: EMPTY_ROOT
        }
    );
    drop(store);
    assert!(matches!(
        Store::create(&dir),
        Err(StoreError::AlreadyExists { .. })
    ));
    let store = Store::open(&dir).unwrap();
    assert_eq!(store.size(), 0);
    assert_eq!(store.latest_checkpoint().unwrap(), None);
    // A directory that exists but holds no store is fine to create in, but not to open.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert!(matches!(
        Store::open(&empty),
        Err(StoreError::NotFound { .. })
    ));
    Store::create(&empty).unwrap();
}

#[test]
fn a_batch_is_committed_whole_and_survives_reopening() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let mut store = Store::create(&dir).unwrap();
    // Batch::default() is the batch for an empty log.
    let mut first = Batch::default();
    assert_eq!(first.append_leaf(leaf(0)), 0);
    assert_eq!(first.append_leaf(leaf(1)), 1);
    first.put_meta("role", b"sequencer".to_vec());
    let head = store.commit(first).unwrap();
    assert_eq!(
        head,
        Head {
            size: 2,
            root: reference(2).root()
        }
    );

    let mut batch = store.batch();
    for i in 2..1000 {
        assert_eq!(batch.append_leaf(leaf(i)), i);
    }
    batch.put_checkpoint(2, note(2, &head.root));
    batch.put_checkpoint(1000, note(1000, &reference(1000).root()));
    batch.put_meta("queue/0001", b"a".to_vec());
    batch.put_meta("queue/0002", b"b".to_vec());
    batch.put_meta("other", b"c".to_vec());
    batch.remove_meta("role");
    batch.put_meta("role", b"cosigner".to_vec());
    let head = store.commit(batch).unwrap();
    assert_eq!(head.size, 1000);
    drop(store);

    let store = Store::open(&dir).unwrap();
    assert_eq!(store.head(), head);
    assert_eq!(store.root(), reference(1000).root());
    assert_eq!(
        store.meta("role").unwrap().as_deref(),
        Some(&b"cosigner"[..])
    );
    assert_eq!(store.meta("missing").unwrap(), None);
    assert_eq!(
        store.meta_with_prefix("queue/").unwrap(),
        vec![
            ("queue/0001".to_owned(), b"a".to_vec()),
            ("queue/0002".to_owned(), b"b".to_vec())
        ]
    );
    assert_eq!(
        store.latest_checkpoint().unwrap(),
        Some((1000, note(1000, &head.root)))
    );
    assert_eq!(
        store.checkpoint(2).unwrap(),
        Some(note(2, &reference(2).root()))
    );
    assert_eq!(store.checkpoint(3).unwrap(), None);
    let sizes: Vec<u64> = store.checkpoints().map(|c| c.unwrap().0).collect();
    assert_eq!(sizes, vec![2, 1000]);
    for i in [0, 1, 2, 511, 999] {
        assert_eq!(store.leaf(i).unwrap(), leaf(i));
        assert_eq!(store.leaf_hash(i).unwrap(), leaf_hash(&leaf(i)));
    }
    assert!(matches!(
        store.leaf(1000),
        Err(StoreError::Tree(TreeError::IndexOutOfRange {
            index: 1000,
            size: 1000
        }))
    ));
    let verified = store.verify_all(|_, _| {}).unwrap();
    assert_eq!((verified.entries, verified.checkpoints), (1000, 2));
    assert_eq!(verified.nodes, (0..10).map(|l| 1000u64 >> l).sum::<u64>());
}

#[test]
fn leaves_are_read_as_a_range() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::create(tmp.path()).unwrap();
    append(&mut store, 0..300);
    let got: Vec<(u64, Vec<u8>)> = store.leaves(17..260).unwrap().map(Result::unwrap).collect();
    assert_eq!(got, (17..260).map(|i| (i, leaf(i))).collect::<Vec<_>>());
    assert_eq!(store.leaves(5..5).unwrap().count(), 0);
    assert_eq!(store.leaves(0..300).unwrap().count(), 300);
    assert!(matches!(
        store.leaves(0..301),
        Err(StoreError::Tree(TreeError::SizeBeyondLog {
            size: 301,
            available: 300
        }))
    ));
}

/// `entries_within` counts full bundles from their records and reads only the bundles a
/// range cuts or the bound crosses: every answer matches summing the entries one by one,
/// at bounds that fall on, just before and just after entry and bundle edges.
#[test]
fn entries_within_a_byte_bound_match_summing_each_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::create(tmp.path()).unwrap();
    // Three full bundles of 256, then entries not yet bundled; lengths vary with i.
    append(&mut store, 0..900);
    let naive = |start: u64, end: u64, limit: u64| {
        let mut bytes = 0;
        for i in start..end {
            bytes += store.leaf(i).unwrap().len() as u64;
            if bytes > limit {
                return i;
            }
        }
        end
    };
    for (start, end) in [
        (0, 900),
        (0, 768),
        (1, 900),
        (255, 513),
        (256, 512),
        (300, 301),
        (700, 900),
        (5, 5),
    ] {
        let mut limits = vec![0, 1, 6, u64::MAX];
        let mut total = 0;
        for i in start..end {
            total += store.leaf(i).unwrap().len() as u64;
            if i % 37 == 0 || i % 256 == 255 || i + 1 == end {
                limits.extend([total - 1, total, total + 1]);
            }
        }
        for limit in limits {
            assert_eq!(
                store.entries_within(start..end, limit).unwrap(),
                naive(start, end, limit),
                "{start}..{end} within {limit} bytes"
            );
        }
    }
    assert!(matches!(
        store.entries_within(0..901, u64::MAX),
        Err(StoreError::Tree(TreeError::SizeBeyondLog {
            size: 901,
            available: 900
        }))
    ));
}

/// Proofs at the store's own size use its frontier's folds for the subtrees at the right
/// edge (`Frontier::right_subtree`), which every append makes stale: after each batch,
/// every proof at the new size matches the in-memory tree's, folded from its nodes.
#[test]
fn proofs_at_the_current_size_match_after_every_append() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::create(tmp.path()).unwrap();
    let mut size = 0;
    for n in [1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233] {
        append(&mut store, size..size + n);
        size += n;
        let full = reference(size);
        for i in 0..size {
            assert_eq!(
                store.inclusion_proof(i, size).unwrap(),
                dyad_ledger::tree::inclusion_proof(i, size, &full).unwrap(),
                "inclusion of {i} at {size}"
            );
        }
        for old in 0..=size {
            assert_eq!(
                store.consistency_proof(old, size).unwrap(),
                dyad_ledger::tree::consistency_proof(old, size, &full).unwrap(),
                "consistency {old} to {size}"
            );
        }
    }
}

#[test]
fn proofs_and_roots_at_every_size_match_an_in_memory_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::create(tmp.path()).unwrap();
    // Odd batch sizes, so batch edges fall everywhere in the tree.
    let mut size = 0;
    for n in [1, 2, 3, 5, 8, 13, 21, 34, 55, 89] {
        append(&mut store, size..size + n);
        size += n;
    }
    let full = reference(size);
    for s in 0..=size {
        assert_eq!(
            store.root_at(s).unwrap(),
            dyad_ledger::tree::root_at(s, &full).unwrap(),
            "root at {s}"
        );
    }
    for s in [1, 7, 64, 100, 231] {
        for i in (0..s).step_by(3) {
            assert_eq!(
                store.inclusion_proof(i, s).unwrap(),
                dyad_ledger::tree::inclusion_proof(i, s, &full).unwrap()
            );
        }
        for old in 0..=s {
            assert_eq!(
                store.consistency_proof(old, s).unwrap(),
                dyad_ledger::tree::consistency_proof(old, s, &full).unwrap()
            );
        }
    }
    assert!(matches!(
        store.root_at(size + 1),
        Err(StoreError::Tree(TreeError::SizeBeyondLog { .. }))
    ));
    assert!(matches!(
        store.inclusion_proof(size, size),
        Err(StoreError::Tree(TreeError::IndexOutOfRange { .. }))
    ));
    assert!(matches!(
        store.consistency_proof(5, 4),
        Err(StoreError::Tree(TreeError::OldSizeAfterNew {
            old: 5,
            new: 4
        }))
    ));
    assert!(matches!(
        store.consistency_proof(1, size + 1),
        Err(StoreError::Tree(TreeError::SizeBeyondLog { .. }))
    ));
    assert_eq!(
        store.consistency_proof(0, size).unwrap(),
        Vec::<Hash>::new()
    );
    assert_eq!(
        store.consistency_proof(size, size).unwrap(),
        Vec::<Hash>::new()
    );
}

#[test]
fn rejected_batches_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let mut store = Store::create(&dir).unwrap();
    append(&mut store, 0..10);
    let head = store.head();

    let mut stale = store.batch();
    stale.append_leaf(leaf(10));
    append(&mut store, 10..12);
    let head2 = store.head();
    assert!(matches!(
        store.commit(stale),
        Err(StoreError::StaleBatch {
            batch_base: 10,
            size: 12
        })
    ));
    // A default batch is for an empty log only.
    let mut wrong = Batch::default();
    wrong.append_leaf(leaf(99));
    assert!(matches!(
        store.commit(wrong),
        Err(StoreError::StaleBatch {
            batch_base: 0,
            size: 12
        })
    ));
    assert_eq!(store.head(), head2);
    assert_eq!(head.size + 2, head2.size);
    let head = head2;

    type Expect = fn(&StoreError) -> bool;
    let attempts: Vec<(Batch, Expect)> = vec![
        {
            let mut b = store.batch();
            b.append_leaf(leaf(12));
            b.append_leaf(vec![0; MAX_LEAF_BYTES + 1]);
            b.put_meta("after", b"x".to_vec());
            (b, |e| {
                matches!(
                    e,
                    StoreError::LeafTooLarge {
                        index: 13,
                        len: 65536,
                        max: 65535
                    }
                )
            })
        },
        {
            let mut b = store.batch();
            b.append_leaf(leaf(12));
            b.put_checkpoint(5, note(5, &[0; 32]));
            (b, |e| {
                matches!(
                    e,
                    StoreError::CheckpointRejected {
                        size: 5,
                        problem: CheckpointProblem::RootMismatch
                    }
                )
            })
        },
        {
            let mut b = store.batch();
            b.append_leaf(leaf(12));
            b.put_checkpoint(14, note(14, &[0; 32]));
            (b, |e| {
                matches!(
                    e,
                    StoreError::CheckpointRejected {
                        size: 14,
                        problem: CheckpointProblem::BeyondLog { log_size: 13 }
                    }
                )
            })
        },
        {
            let mut b = store.batch();
            b.put_checkpoint(6, note(5, &[0; 32]));
            (b, |e| {
                matches!(
                    e,
                    StoreError::CheckpointRejected {
                        size: 6,
                        problem: CheckpointProblem::SizeMismatch { body_size: 5 }
                    }
                )
            })
        },
        {
            let mut b = store.batch();
            b.put_checkpoint(6, b"not a note".to_vec());
            (b, |e| {
                matches!(
                    e,
                    StoreError::CheckpointRejected {
                        size: 6,
                        problem: CheckpointProblem::Malformed(_)
                    }
                )
            })
        },
        {
            let mut b = store.batch();
            b.append_leaf(leaf(12));
            b.put_meta("", b"x".to_vec());
            (b, |e| matches!(e, StoreError::BadMetaName { .. }))
        },
    ];
    for (batch, expected) in attempts {
        let err = store.commit(batch).unwrap_err();
        assert!(expected(&err), "unexpected error {err:?}");
        assert_eq!(store.head(), head);
        // Still usable afterwards.
        assert_eq!(store.frontier().size(), head.size);
    }
    drop(store);
    let mut store = Store::open(&dir).unwrap();
    assert_eq!(store.head(), head);
    assert_eq!(store.meta("after").unwrap(), None);
    assert_eq!(store.latest_checkpoint().unwrap(), None);
    store.verify_all(|_, _| {}).unwrap();

    // A checkpoint may name a size inside the batch that creates it.
    let mut b = store.batch();
    for i in 12..20 {
        b.append_leaf(leaf(i));
    }
    b.put_checkpoint(15, note(15, &reference(15).root()));
    b.put_checkpoint(20, note(20, &reference(20).root()));
    store.commit(b).unwrap();
    assert_eq!(store.latest_checkpoint().unwrap().map(|c| c.0), Some(20));
    drop(store);
    Store::open(&dir).unwrap().verify_all(|_, _| {}).unwrap();
}

#[test]
fn an_empty_batch_is_a_no_op() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::create(tmp.path()).unwrap();
    append(&mut store, 0..3);
    let head = store.head();
    assert_eq!(store.commit(store.batch()).unwrap(), head);
    assert_eq!(store.commit(Batch::default()).unwrap(), head);
}

#[test]
fn tiles_are_level_8l_ranges_of_complete_nodes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::create(tmp.path()).unwrap();
    append(&mut store, 0..(256 * 3 + 10));
    let full = reference(256 * 3 + 10);
    let tile = store.tile(0, 1, 256).unwrap();
    let expected: Vec<Hash> = (256..512).map(|i| leaf_hash(&leaf(i))).collect();
    assert_eq!(tile, expected);
    assert_eq!(
        store.tile(0, 3, 10).unwrap(),
        (768..778).map(|i| leaf_hash(&leaf(i))).collect::<Vec<_>>()
    );
    // Level-1 tile 0 holds the roots of the three complete level-0 tiles.
    let roots = store.tile(1, 0, 3).unwrap();
    for (k, r) in roots.iter().enumerate() {
        let k = k as u64;
        let sub: MemoryTree = {
            let mut t = MemoryTree::new();
            for i in k * 256..(k + 1) * 256 {
                t.append(leaf_hash(&leaf(i)));
            }
            t
        };
        assert_eq!(*r, sub.root());
    }
    assert_eq!(dyad_ledger::tree::root_at(256, &full).unwrap(), roots[0]);
    assert!(matches!(
        store.tile(0, 3, 11),
        Err(StoreError::Tree(TreeError::SizeBeyondLog { .. }))
    ));
    assert!(matches!(
        store.tile(1, 0, 4),
        Err(StoreError::Tree(TreeError::SizeBeyondLog { .. }))
    ));
    assert!(matches!(
        store.tile(0, 0, 0),
        Err(StoreError::BadTileWidth { width: 0 })
    ));
    assert!(matches!(
        store.tile(0, 0, 257),
        Err(StoreError::BadTileWidth { width: 257 })
    ));
    assert!(store.tile(9, 0, 1).is_err());
    assert!(store.tile(0, u64::MAX, 1).is_err());
}

#[test]
fn large_entries_go_to_sled_blob_files_and_stay_readable() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let mut store = Store::create(&dir).unwrap();
    let big = |i: u64| {
        let mut v = vec![(i % 251) as u8; MAX_LEAF_BYTES];
        v[..8].copy_from_slice(&i.to_be_bytes());
        v
    };
    for round in 0..4u64 {
        let mut b = store.batch();
        for i in round * 10..round * 10 + 10 {
            b.append_leaf(big(i));
        }
        store.commit(b).unwrap();
    }
    // sled writes pages over ~128 KiB as separate files, which commit fsyncs itself.
    let blobs = std::fs::read_dir(dir.join("blobs")).unwrap().count();
    assert!(blobs > 0, "expected sled blob files for 64 KiB entries");
    // Open syncs only blobs above the marker the last durable commit left.
    let newest_blob = std::fs::read_dir(dir.join("blobs"))
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().to_str()?.parse::<u64>().ok())
        .max()
        .unwrap();
    let marker: u64 = std::fs::read_to_string(dir.join("blobs.synced"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(marker >= newest_blob, "{marker} < {newest_blob}");
    drop(store);
    // A torn marker only means syncing everything again.
    std::fs::write(dir.join("blobs.synced"), "garbage").unwrap();
    let mut store = Store::open(&dir).unwrap();
    for i in 0..40 {
        assert_eq!(store.leaf(i).unwrap(), big(i));
    }
    let mut b = store.batch();
    for i in 40..50 {
        b.append_leaf(big(i));
    }
    store.commit(b).unwrap();
    store.verify_all(|_, _| {}).unwrap();
    drop(store);
    let store = Store::open(&dir).unwrap();
    assert_eq!(store.leaf(45).unwrap(), big(45));
}

#[test]
fn verify_all_reports_progress_up_to_its_total() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::create(tmp.path()).unwrap();
    append(&mut store, 0..40_000);
    let mut calls = Vec::new();
    store
        .verify_all(|done, total| calls.push((done, total)))
        .unwrap();
    let total = calls[0].1;
    assert_eq!(calls.first(), Some(&(0, total)));
    assert_eq!(calls.last(), Some(&(total, total)));
    assert!(calls.windows(2).all(|w| w[0].0 <= w[1].0));
    assert!(calls.len() > 2);
}

#[test]
fn a_store_is_opened_by_one_process_at_a_time() {
    let tmp = tempfile::tempdir().unwrap();
    let _store = Store::create(tmp.path()).unwrap();
    assert!(matches!(
        Store::open(tmp.path()),
        Err(StoreError::Locked { .. })
    ));
}

#[test]
fn create_takes_over_the_empty_database_a_crashed_create_left() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    // What sled leaves when a crash comes before the first batch: a database, no records.
    drop(sled::Config::new().path(&dir).open().unwrap());
    assert!(matches!(
        Store::open(&dir),
        Err(StoreError::NotAStore { .. })
    ));
    let mut store = Store::create(&dir).unwrap();
    append(&mut store, 0..3);
    drop(store);
    assert_eq!(Store::open(&dir).unwrap().size(), 3);

    // A database with anything in it is not taken over.
    let other = tmp.path().join("other");
    {
        let db = sled::Config::new().path(&other).open().unwrap();
        db.insert(b"someone else's", &b"data"[..]).unwrap();
        db.flush().unwrap();
    }
    assert!(matches!(
        Store::create(&other),
        Err(StoreError::AlreadyExists { .. })
    ));
}
