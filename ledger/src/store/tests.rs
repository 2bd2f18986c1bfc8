//! Faults injected inside `commit`: in this process (an error) and in a child process
//! that aborts, as a crash would, at a chosen point. The child is this test binary,
//! re-executed to run `crash_child` only: ignored, so that a run of the tests does not
//! count it as a test that passed, and run by its exact name with `--ignored`.

use super::commit::FaultPoint;
use super::*;
use base64::Engine as _;
use std::io::{self, Write as _};
use std::process::Command;
use std::time::Duration;

const CHILD_ENV: &str = "DYAD_STORE_CRASH_CHILD";
/// Leaves per batch: a store that survived a crash holds a whole number of batches.
const K: u64 = 7;

pub(super) struct Fault {
    point: FaultPoint,
    on_commit: u64,
    commits: u64,
    abort: bool,
}

impl Fault {
    pub(super) fn hit(&mut self, point: FaultPoint) -> Result<(), StoreError> {
        if point == FaultPoint::BeforeApply {
            self.commits += 1;
        }
        if point != self.point || self.commits != self.on_commit {
            return Ok(());
        }
        if self.abort {
            std::process::abort();
        }
        Err(StoreError::Io {
            path: PathBuf::from("<injected>"),
            source: io::Error::other("injected fault"),
        })
    }
}

fn set_fault(store: &mut Store, point: FaultPoint, on_commit: u64, abort: bool) {
    store.fault = Some(Fault {
        point,
        on_commit,
        commits: 0,
        abort,
    });
}

/// Entry i: distinct, of varying length (some long enough to fill sled pages).
pub(super) fn leaf(i: u64) -> Vec<u8> {
    let mut v = format!("entry {i} ").into_bytes();
    v.resize(v.len() + (i as usize * 37) % 300, b'x');
    v
}

pub(super) fn note(size: u64, root: &Hash) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(root);
    format!("example.org/test\n{size}\n{b64}\n\n\u{2014} example.org/test AAAA\n").into_bytes()
}

/// One batch of K entries, a batch counter, and a checkpoint of the size before it.
pub(super) fn commit_batch(store: &mut Store) -> Result<Head, StoreError> {
    let before = store.head();
    let mut batch = store.batch();
    for i in before.size..before.size + K {
        batch.append_leaf(leaf(i));
    }
    batch.put_meta("batches", ((before.size + K) / K).to_be_bytes().to_vec());
    if before.size > 0 {
        batch.put_checkpoint(before.size, note(before.size, &before.root));
    }
    store.commit(batch)
}

fn reference_root(size: u64) -> Hash {
    let leaves: Vec<Hash> = (0..size)
        .map(|i| dyad_testkit::merkle::leaf_hash(&leaf(i)))
        .collect();
    dyad_testkit::merkle::root(&leaves)
}

/// What a store that went through crashes must look like: whole batches, with their
/// metadata and checkpoints, a correct tree, and everything intact.
fn check_whole(dir: &Path) -> u64 {
    let store = match Store::open(dir) {
        Ok(store) => store,
        // The crash came before the first create finished: creating again must work.
        Err(StoreError::NotFound { .. } | StoreError::NotAStore { .. }) => {
            drop(Store::create(dir).expect("a store whose creation crashed is created again"));
            Store::open(dir).unwrap()
        }
        Err(e) => panic!("a crashed store must open: {e}"),
    };
    let size = store.size();
    assert_eq!(size % K, 0, "size {size} is not a whole number of batches");
    assert_eq!(store.root(), reference_root(size));
    let batches = store
        .meta("batches")
        .unwrap()
        .map(|b| u64::from_be_bytes(b.try_into().unwrap()));
    assert_eq!(batches.unwrap_or(0), size / K);
    let latest = store.latest_checkpoint().unwrap().map(|(s, _)| s);
    assert_eq!(latest, if size > K { Some(size - K) } else { None });
    store
        .verify_all(|_, _| {})
        .expect("a crashed store verifies");
    size
}

/// Runs the child on `dir` and returns the largest size it reported durable. Panics
/// unless the child died of a signal (the abort), not of a panic or an exit.
fn run_child(dir: &Path, spec: &str) -> u64 {
    // libtest names a test by its module path without the crate's name.
    let module = module_path!().split_once("::").map_or("", |(_, path)| path);
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            &format!("{module}::crash_child"),
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_ENV, format!("{}|{spec}", dir.display()))
        .output()
        .unwrap();
    assert!(
        out.status.code().is_none(),
        "{spec}: the child should have aborted, but {}; stderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // libtest prints the test's name without a newline: the first report shares its line.
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .filter_map(|l| l.split_once("durable ").map(|(_, n)| n))
        .filter_map(|n| n.trim().parse().ok())
        .max()
        .unwrap_or(0)
}

/// Not a test on its own: the body of the child process of the crash tests, which
/// `run_child` starts. Without its environment variable it does nothing.
#[test]
#[ignore = "the child process of the crash tests, which run it themselves"]
fn crash_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut parts = spec.split('|');
    let dir = PathBuf::from(parts.next().unwrap());
    let point = parts.next().unwrap();
    // A timed abort may come while the store is still being opened or created.
    let timer = point
        .strip_prefix("timer-")
        .map(|ms| ms.parse::<u64>().unwrap());
    if let Some(ms) = timer {
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(ms));
            std::process::abort();
        });
    }
    let mut store = match Store::open(&dir) {
        Ok(store) => store,
        Err(StoreError::NotFound { .. } | StoreError::NotAStore { .. }) => {
            Store::create(&dir).unwrap()
        }
        Err(e) => panic!("{e}"),
    };
    let point = match point {
        "before-apply" => Some(FaultPoint::BeforeApply),
        "after-apply" => Some(FaultPoint::AfterApply),
        "after-flush" => Some(FaultPoint::AfterFlush),
        "after-sync" => Some(FaultPoint::AfterSync),
        _ => None,
    };
    if let Some(point) = point {
        set_fault(&mut store, point, 3, true);
    }
    let batches = if timer.is_some() { 100_000 } else { 5 };
    let mut stdout = io::stdout();
    for _ in 0..batches {
        let head = commit_batch(&mut store).unwrap();
        writeln!(stdout, "durable {}", head.size).unwrap();
        stdout.flush().unwrap();
    }
}

#[test]
fn a_crash_at_any_point_of_a_commit_leaves_the_old_or_the_new_state() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let mut size = 0;
    // The same store crashes again and again, each time picking up what the last run left.
    for point in [
        "before-apply",
        "after-apply",
        "after-flush",
        "after-sync",
        "before-apply",
        "after-sync",
    ] {
        let durable = run_child(&dir, point);
        let before = size;
        size = check_whole(&dir);
        // The crash hit the child's third commit; two were reported durable.
        assert_eq!(durable, before + 2 * K, "{point}");
        let expected: &[u64] = match point {
            "before-apply" => &[before + 2 * K],
            // Applied but not flushed: sled's buffers die with the process, or not.
            "after-apply" => &[before + 2 * K, before + 3 * K],
            // Written to the OS: a process crash cannot lose it.
            _ => &[before + 3 * K],
        };
        assert!(
            expected.contains(&size),
            "{point}: size {size}, expected one of {expected:?}"
        );
    }
}

#[test]
fn a_crash_at_a_random_moment_keeps_every_durable_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let mut size = 0;
    // The first child may die while still creating the store. On a loaded machine every
    // one of the first seven may die before its first commit; then longer timers follow,
    // until one gets that far.
    for (child, ms) in [2, 40, 75, 5, 120, 20, 60, 250, 1000, 4000]
        .into_iter()
        .enumerate()
    {
        if child >= 7 && size > 0 {
            break;
        }
        let durable = run_child(&dir, &format!("timer-{ms}"));
        let recovered = check_whole(&dir);
        eprintln!("abort after {ms} ms: {durable} entries reported durable, {recovered} recovered");
        assert!(
            recovered >= durable.max(size),
            "lost durable batches: {recovered} < {durable}"
        );
        assert!(
            recovered <= durable.max(size) + K,
            "more than the in-flight batch appeared"
        );
        size = recovered;
    }
    assert!(size > 0, "no child got as far as a commit");
}

#[test]
fn a_failed_commit_changes_nothing_in_memory_and_poisons_after_writing_began() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let mut store = Store::create(&dir).unwrap();
    commit_batch(&mut store).unwrap();
    let head = store.head();

    // Before anything is written: the store stays usable.
    set_fault(&mut store, FaultPoint::BeforeApply, 1, false);
    assert!(matches!(
        commit_batch(&mut store),
        Err(StoreError::Io { .. })
    ));
    assert_eq!(store.head(), head);
    assert_eq!(commit_batch(&mut store).unwrap().size, 2 * K);

    // After the batch reached sled: memory keeps the old state, and refuses to go on
    // from it, since the disk may already hold the new one.
    for point in [
        FaultPoint::AfterApply,
        FaultPoint::AfterFlush,
        FaultPoint::AfterSync,
    ] {
        let head = store.head();
        set_fault(&mut store, point, 1, false);
        assert!(
            matches!(commit_batch(&mut store), Err(StoreError::Io { .. })),
            "{point:?}"
        );
        assert_eq!(store.head(), head);
        assert_eq!(store.frontier().size(), head.size);
        assert!(matches!(
            commit_batch(&mut store),
            Err(StoreError::Poisoned)
        ));
        assert!(matches!(
            store.commit(store.batch()),
            Err(StoreError::Poisoned)
        ));
        assert!(matches!(store.check_writable(), Err(StoreError::Poisoned)));
        // Reads still answer for the old head.
        assert_eq!(store.root_at(head.size).unwrap(), head.root);
        drop(store);
        store = Store::open(&dir).unwrap();
        assert_eq!(
            store.size(),
            head.size + K,
            "{point:?}: the applied batch is there after reopening"
        );
        assert_eq!(store.root(), reference_root(head.size + K));
    }
    assert_eq!(commit_batch(&mut store).unwrap().size, store.size());
    store.verify_all(|_, _| {}).unwrap();
}

/// A commit that fails after sled took its batch: nothing of the batch is read back
/// (not its checkpoint of a tree larger than the store's, nor its metadata), while the
/// size, root and proofs of the last durable commit still answer.
#[test]
fn nothing_of_a_failed_commit_is_read_back() {
    for point in [
        FaultPoint::AfterApply,
        FaultPoint::AfterFlush,
        FaultPoint::AfterSync,
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("log");
        let mut store = Store::create(&dir).unwrap();
        commit_batch(&mut store).unwrap();
        commit_batch(&mut store).unwrap();
        let head = store.head();
        set_fault(&mut store, point, 1, false);
        let mut batch = store.batch();
        for i in head.size..head.size + 300 {
            batch.append_leaf(leaf(i));
        }
        let new_size = head.size + 300;
        batch.put_checkpoint(new_size, note(new_size, &reference_root(new_size)));
        batch.put_meta("batches", 99u64.to_be_bytes().to_vec());
        assert!(store.commit(batch).is_err(), "{point:?}");
        assert_eq!(store.head(), head);
        let poisoned = |r: Result<(), StoreError>| {
            assert!(matches!(r, Err(StoreError::Poisoned)), "{point:?}: {r:?}");
        };
        poisoned(store.latest_checkpoint().map(drop));
        poisoned(store.checkpoint(new_size).map(drop));
        let mut all = store.checkpoints();
        poisoned(all.next().unwrap().map(drop));
        assert!(all.next().is_none());
        drop(all);
        poisoned(store.meta("batches").map(drop));
        poisoned(store.meta_with_prefix("b").map(drop));
        poisoned(store.last_meta_with_prefix("b").map(drop));
        poisoned(store.count_meta_with_prefix("b").map(drop));
        poisoned(store.leaf(0).map(drop));
        poisoned(store.leaves(0..1).map(drop));
        poisoned(store.entry_bundle(0, 1).map(drop));
        poisoned(store.verify_all(|_, _| {}).map(drop));
        // The tree of the last durable commit still answers.
        assert_eq!(store.root_at(head.size).unwrap(), head.root);
        assert!(store.consistency_proof(K, head.size).is_ok());
        drop(store);
        let store = Store::open(&dir).unwrap();
        assert!(store.size() == head.size || store.size() == new_size);
    }
}

/// sled 0.34 writes a snapshot as `snap.<lsn>.generating`, syncs it and renames it, but on
/// open reads the last `snap.*` file by name, `.generating` included: a process killed
/// while writing one left a store sled refused to open ("Read corrupted data", seen once in
/// `a_crash_at_a_random_moment_keeps_every_durable_batch`). The store removes such an
/// unfinished snapshot and opens from the finished one and the log.
#[test]
fn a_snapshot_left_unfinished_by_a_crash_does_not_stop_the_store_opening() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let mut store = Store::create(&dir).unwrap();
    for _ in 0..3 {
        commit_batch(&mut store).unwrap();
    }
    drop(store);
    let unfinished = dir.join("snap.FFFFFFFFFFFFFFF0.generating");
    std::fs::write(&unfinished, [0xab; 100]).unwrap();
    assert_eq!(check_whole(&dir), 3 * K);
    assert!(!unfinished.exists(), "the unfinished snapshot is removed");
}
