//! The store's `head` file, outside sled, against a database that lost its latest
//! commits (as sled's recovery does when a log record is damaged): open refuses it, names
//! both states, and accepts a head file that is merely behind, missing or half damaged.

use std::path::Path;

use dyad_ledger::store::{Damage, Progress, Store, StoreError};
use dyad_ledger::tree::Hash;

fn leaf(i: u64) -> Vec<u8> {
    format!("entry {i}").into_bytes()
}

/// The root of the first `n` leaves, by the RFC 9162 definition (not the ledger's tree).
fn root_of(n: u64) -> Hash {
    dyad_testkit::store::root_of(n, leaf)
}

fn note(size: u64) -> Vec<u8> {
    dyad_testkit::store::note(size, &root_of(size))
}

fn append(store: &mut Store, n: u64) {
    let mut b = store.batch();
    for i in store.size()..store.size() + n {
        b.append_leaf(leaf(i));
    }
    store.commit(b).unwrap();
}

/// Copies every file of `from` except those named in `skip` into `to`, replacing them.
fn copy_files(from: &Path, to: &Path, skip: &[&str]) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let name = e.file_name();
        if skip.iter().any(|s| name == *s) {
            continue;
        }
        let target = to.join(&name);
        if e.file_type().unwrap().is_dir() {
            let _ = std::fs::remove_dir_all(&target);
            std::fs::create_dir_all(&target).unwrap();
            copy_files(&e.path(), &target, &[]);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

fn open_err(dir: &Path) -> Damage {
    match Store::open(dir) {
        Err(StoreError::Damaged(d)) => d,
        other => panic!("expected damage, got {other:?}"),
    }
}

/// A store of two commits (300 entries) saved aside, then one more commit made by `more`.
fn rolled_back_store(dir: &Path, saved: &Path, more: impl FnOnce(&mut Store)) {
    let mut store = Store::create(dir).unwrap();
    append(&mut store, 200);
    append(&mut store, 100);
    drop(store);
    copy_files(dir, saved, &[]);
    let mut store = Store::open(dir).unwrap();
    more(&mut store);
    drop(store);
    restore_database(saved, dir);
}

/// The database (every file but `head`) goes back to the state saved in `saved`.
fn restore_database(saved: &Path, dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_name() == "head" {
            continue;
        }
        if e.file_type().unwrap().is_dir() {
            std::fs::remove_dir_all(e.path()).unwrap();
        } else {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    copy_files(saved, dir, &["head"]);
}

#[test]
fn a_database_that_lost_appends_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, saved) = (tmp.path().join("log"), tmp.path().join("saved"));
    rolled_back_store(&dir, &saved, |s| append(s, 250));
    let d = open_err(&dir);
    let Damage::RolledBack { recorded, found } = d.clone() else {
        panic!("{d:?}")
    };
    assert_eq!(
        (recorded, found),
        (
            Progress {
                commits: 3,
                size: 550
            },
            Progress {
                commits: 2,
                size: 300
            }
        )
    );
    let msg = d.to_string();
    assert!(msg.contains("rolled back") && msg.contains("backup") && msg.contains("peer"));
}

#[test]
fn a_database_that_lost_a_checkpoint_or_metadata_commit_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, saved) = (tmp.path().join("log"), tmp.path().join("saved"));
    rolled_back_store(&dir, &saved, |s| {
        let mut b = s.batch();
        b.put_checkpoint(300, note(300));
        b.put_meta("seen", vec![1]);
        s.commit(b).unwrap();
    });
    assert!(matches!(
        open_err(&dir),
        Damage::RolledBack {
            recorded: Progress {
                commits: 3,
                size: 300
            },
            found: Progress {
                commits: 2,
                size: 300
            },
        }
    ));
}

#[test]
fn another_log_under_the_same_head_file_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let mut store = Store::create(&a).unwrap();
    append(&mut store, 10);
    drop(store);
    let mut store = Store::create(&b).unwrap();
    let mut batch = store.batch();
    for i in 0..10 {
        batch.append_leaf(format!("other {i}").into_bytes());
    }
    store.commit(batch).unwrap();
    drop(store);
    std::fs::copy(a.join("head"), b.join("head")).unwrap();
    let d = open_err(&b);
    assert!(
        matches!(d, Damage::ForkedFromRecord { size: 10, recorded_root, .. } if recorded_root == root_of(10)),
        "{d:?}"
    );
}

#[test]
fn a_head_file_behind_the_database_is_brought_forward() {
    // As after a crash between sled's fsync and the head file's update.
    let tmp = tempfile::tempdir().unwrap();
    let (dir, saved) = (tmp.path().join("log"), tmp.path().join("saved"));
    let mut store = Store::create(&dir).unwrap();
    append(&mut store, 5);
    drop(store);
    std::fs::create_dir_all(&saved).unwrap();
    std::fs::copy(dir.join("head"), saved.join("head")).unwrap();
    let mut store = Store::open(&dir).unwrap();
    append(&mut store, 5);
    drop(store);
    std::fs::copy(saved.join("head"), dir.join("head")).unwrap();
    let mut store = Store::open(&dir).unwrap();
    assert_eq!(store.size(), 10);
    // The record now names 10 entries: losing the next commit is noticed.
    drop(store);
    copy_files(&dir, &saved, &[]);
    store = Store::open(&dir).unwrap();
    append(&mut store, 1);
    drop(store);
    restore_database(&saved, &dir);
    assert!(matches!(open_err(&dir), Damage::RolledBack { .. }));
}

#[test]
fn a_missing_head_file_is_written_on_open() {
    // A store of a build before the head file existed.
    let tmp = tempfile::tempdir().unwrap();
    let (dir, saved) = (tmp.path().join("log"), tmp.path().join("saved"));
    let mut store = Store::create(&dir).unwrap();
    append(&mut store, 5);
    drop(store);
    std::fs::remove_file(dir.join("head")).unwrap();
    let store = Store::open(&dir).unwrap();
    assert_eq!(store.size(), 5);
    drop(store);
    assert!(dir.join("head").is_file());
    copy_files(&dir, &saved, &[]);
    let mut store = Store::open(&dir).unwrap();
    append(&mut store, 1);
    drop(store);
    restore_database(&saved, &dir);
    assert!(matches!(open_err(&dir), Damage::RolledBack { .. }));
}

#[test]
fn one_damaged_copy_of_the_record_is_survived_two_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let mut store = Store::create(&dir).unwrap();
    append(&mut store, 5);
    append(&mut store, 5);
    drop(store);
    let head = dir.join("head");
    let mut bytes = std::fs::read(&head).unwrap();
    // Commit 2 went to the first copy: damaging it leaves commit 1, which is behind.
    bytes[40] ^= 1;
    std::fs::write(&head, &bytes).unwrap();
    let store = Store::open(&dir).unwrap();
    assert_eq!(store.size(), 10);
    drop(store);
    let mut bytes = std::fs::read(&head).unwrap();
    bytes[40] ^= 1;
    bytes[4096 + 40] ^= 1;
    std::fs::write(&head, &bytes).unwrap();
    assert_eq!(open_err(&dir), Damage::HeadRecordUnreadable);
    std::fs::write(&head, b"").unwrap();
    assert_eq!(open_err(&dir), Damage::HeadRecordUnreadable);
}
