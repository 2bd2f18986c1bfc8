//! Snapshots: a copy equal to its source, and one taken while commits continue on another
//! thread equal to the source at its size.

use std::sync::{Arc, RwLock};

use super::super::tests::{commit_batch, leaf};
use super::*;
use crate::store::head_file::HeadRead;

fn records(store: &Store) -> Vec<(sled::IVec, sled::IVec)> {
    store.db.iter().map(|kv| kv.unwrap()).collect()
}

#[test]
fn a_snapshot_holds_the_same_records_files_and_head_and_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let mut source = Store::create(&tmp.path().join("source")).unwrap();
    // 600 entries: full bundles and tiles in the files, single entries and nodes in sled.
    while source.size() < 600 {
        commit_batch(&mut source).unwrap();
    }
    let dest = tmp.path().join("copy");
    let mut phases = Vec::new();
    let info = source
        .snapshot(&dest, |phase, _, _| {
            if phases.last() != Some(&phase) {
                phases.push(phase)
            }
        })
        .unwrap();
    assert_eq!(phases, [SnapshotPhase::Copying, SnapshotPhase::Verifying]);
    assert_eq!(info.head, source.head());
    assert_eq!(info.commits, source.commits());
    assert_eq!(
        info.checkpoint,
        source.latest_checkpoint().unwrap().map(|c| c.0)
    );
    assert_eq!(info.verified.entries, source.size());

    let copy = Store::open(&dest).unwrap();
    assert_eq!(copy.head(), source.head());
    assert_eq!(copy.commits(), source.commits());
    assert_eq!(records(&copy), records(&source));
    assert_eq!(info.records, records(&source).len() as u64);
    // The flat files whole (the source's hold no bytes beyond what they cover); `head`
    // holds the same newest record (its other copy is the commit before in the source).
    for name in ["bundles", "tiles-0"] {
        let a = std::fs::read(source.dir().join(name)).unwrap();
        assert!(
            std::fs::read(dest.join(name)).unwrap() == a,
            "{name} differs"
        );
    }
    let HeadRead::Found(_, recorded) = HeadFile::read(&dest).unwrap() else {
        panic!("no head record in the copy");
    };
    assert_eq!(recorded, source.recorded());
    copy.verify_all(|_, _| {}).unwrap();
    // Nothing else is left beside it.
    let names: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");

    // A non-empty destination is refused and left alone.
    let head = copy.head();
    drop(copy);
    let err = source.snapshot(&dest, |_, _, _| {}).unwrap_err();
    assert!(
        matches!(err, SnapshotError::DestinationNotEmpty { .. }),
        "{err}"
    );
    assert_eq!(Store::open(&dest).unwrap().head(), head);
}

#[test]
fn a_capture_dropped_unfinished_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let mut source = Store::create(&tmp.path().join("source")).unwrap();
    commit_batch(&mut source).unwrap();
    let capture = source.snapshot_capture(&tmp.path().join("copy")).unwrap();
    drop(capture);
    let names: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["source"]);
}

#[test]
fn a_snapshot_taken_while_commits_continue_is_the_source_at_its_size() {
    let tmp = tempfile::tempdir().unwrap();
    let source = Arc::new(RwLock::new(
        Store::create(&tmp.path().join("source")).unwrap(),
    ));
    commit_batch(&mut source.write().unwrap()).unwrap();
    // The writer commits until the snapshots are taken, then once more: however slow the
    // machine, commits run beside every snapshot and the source ends past the last one.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (source, stop) = (source.clone(), stop.clone());
        std::thread::spawn(move || {
            for _ in 0..10_000 {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                commit_batch(&mut source.write().unwrap()).unwrap();
                std::thread::yield_now();
            }
            commit_batch(&mut source.write().unwrap()).unwrap();
        })
    };
    let mut taken = Vec::new();
    for n in 0..3 {
        let dest = tmp.path().join(format!("copy-{n}"));
        // Under the read side of the lock only: the copy of the files runs beside commits.
        let capture = source.read().unwrap().snapshot_capture(&dest).unwrap();
        let info = capture.finish(|_, _, _| {}).unwrap();
        taken.push((dest, info));
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    let source = source.read().unwrap();
    assert!(taken.last().unwrap().1.head.size < source.size());
    for (dest, info) in taken {
        let copy = Store::open(&dest).unwrap();
        assert_eq!(copy.head(), info.head);
        assert_eq!(source.root_at(info.head.size).unwrap(), info.head.root);
        let last = info.head.size - 1;
        assert_eq!(copy.leaf(last).unwrap(), leaf(last));
        copy.verify_all(|_, _| {}).unwrap();
    }
}

/// A measurement, not a check: `cargo test -p dyad-ledger --release -- --ignored
/// snapshot_of_a_large_store --nocapture` prints how long the capture (the pause of
/// commits) and the whole snapshot of a store of `DYAD_SNAPSHOT_ENTRIES` entries take.
#[test]
#[ignore]
fn snapshot_of_a_large_store() {
    use super::super::tests::note;
    let entries: u64 = std::env::var("DYAD_SNAPSHOT_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let tmp = tempfile::tempdir().unwrap();
    let mut source = Store::create(&tmp.path().join("source")).unwrap();
    while source.size() < entries {
        let before = source.head();
        let mut batch = source.batch();
        for i in before.size..(before.size + 1000).min(entries) {
            batch.append_leaf(leaf(i % 5000));
        }
        if before.size > 0 {
            batch.put_checkpoint(before.size, note(before.size, &before.root));
        }
        source.commit(batch).unwrap();
    }
    let started = std::time::Instant::now();
    let capture = source.snapshot_capture(&tmp.path().join("copy")).unwrap();
    let paused = started.elapsed();
    let info = capture.finish(|_, _, _| {}).unwrap();
    println!(
        "{} entries, {} records, {} file bytes: capture {:?}, whole snapshot {:?}",
        info.head.size,
        info.records,
        info.file_bytes,
        paused,
        started.elapsed()
    );
}
