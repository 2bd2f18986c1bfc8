//! The log on disk: entries, the Merkle tree's complete nodes, checkpoints and the
//! channel's metadata in one sled database and a few append-only flat files, changed only
//! by atomic, durable commits. The format (`dyad-store/3`) is specified in spec/store.md.
//!
//! # Layout
//!
//! The entries and the tree are kept in the shape of C2SP tlog-tiles (tiles of height 8,
//! 256 wide). What is complete never changes, so it lives in flat files beside sled:
//!
//! - `<dir>/bundles`: every *full* entry bundle (entries `b·256 .. b·256+255`, each as a
//!   u16 length then its bytes, exactly the tlog-tiles entry bundle), back to back in
//!   bundle order;
//! - `<dir>/tiles-L`: every *full* stored tile of tile level `L`, tile `N` at byte
//!   `N·16320` (see below).
//!
//! sled (at `<dir>/`: `db`, `conf`, `snap.*`; only the default tree) holds the small
//! records: the head, where each full bundle lies, and the right edge that is still
//! filling. Values stay far below sled's page size, so sled never writes `blobs/`, a read
//! of a full tile is one `pread` of the bytes needed, and sled's open and per-record costs
//! stay small (about one record per 256 entries). Keys start with one byte naming their
//! kind; integers are big-endian, so sled's key order is numeric order.
//!
//! | key | value |
//! |---|---|
//! | `V` | the store format, `dyad-store/3` |
//! | `H` | the head: size (u64) then root (32 bytes) |
//! | `S` | how many commits the store has made (u64) |
//! | `B` bundle:u64 | where full bundle `bundle` lies in `bundles`: start (u64), length (u64) |
//! | `e` index:u64 | entry `index` (its bytes, at most 65535), only while its bundle is not full: at most 255 such records |
//! | `n` level:u8 index:u64 | the complete subtree root over leaves `[index << level, (index + 1) << level)` (see [`crate::tree`]), only while the stored tile it belongs to is not full |
//! | `c` size:u64 | a checkpoint note (signed-note bytes) for the tree of `size` entries |
//! | `m` name | a metadata value of the channel layer |
//!
//! Node `(level, index)` belongs to the stored tile of tile level `L = level / 8` and
//! tile index `N = index >> (8 - level % 8)`. A stored tile is full once all 256 nodes
//! of tree level `8L` with indexes `N·256 ..` exist; it is then 510 hashes of 32 bytes,
//! level by level from the bottom: the 256 hashes of level `8L` (the tlog-tiles tile),
//! then the 128 of level `8L+1` over them, then 64, ... and the 2 of level `8L+7` (the
//! tile's own root is node `(8L+8, N)`, which belongs to the tile above). Sub-level `s`
//! starts at hash `512 - (512 >> s)`. So every complete node is at a computed offset. The
//! commit that fills a bundle or a tile appends it to its file and, in one atomic sled
//! batch, writes the bundle's `B` record and removes the `e` or `n` records it replaces.
//!
//! # Durability
//!
//! A commit writes the full bundles and tiles it completes to their files and
//! `fdatasync`s them, then applies one sled batch, flushes, and `fdatasync`s `<dir>/db`
//! itself (sled 0.34's `flush` ends in `sync_file_range` on Linux, which neither flushes
//! the drive's cache nor the file's size): one sync per batch (group commit), never per
//! entry, plus one per flat file the batch extended. Per batch-1 commit that is, in
//! system calls: sled's two `pwrite`s and two `sync_file_range`s, one `fdatasync`, one
//! `pwrite` of the head file and one `statx` of `blobs/`; sled hands each flush to its
//! I/O thread, which costs some 25 futex calls and, on a busy machine, a wait for a core. A commit returns only once its
//! batch is durable; a crash at any point leaves the old or the new state, since sled
//! applies a batch atomically and sled's records never point past what the files durably
//! hold. Bytes a crashed commit left beyond the files' covered ends are cut off on open.
//!
//! sled writes pages too large for its log to `<dir>/blobs/` without syncing them; the
//! store's own values never get there, but a metadata value or note near the 1 MiB limit
//! could: so a commit syncs new blob files (it looks only when the directory changed),
//! and opening syncs those not yet recorded as synced (`<dir>/blobs.synced`).
//!
//! A crash during [`Store::create`] leaves a database without records, which `create`
//! takes over when run again. Opening fsyncs the database file, so what sled recovered
//! from an interrupted run is durable before it is built upon.
//!
//! # Integrity
//!
//! Opening checks, in O(log n) reads, that the head matches the entries, the stored
//! tiles and nodes of the right edge, the last entry and the newest checkpoint, and refuses
//! a store changed behind its back with a [`Damage`] naming what is wrong.
//! [`Store::verify_all`] streams through everything.
//!
//! sled's recovery treats a damaged log record like a torn write at the end of its log:
//! it drops that record and every later one, and the database opens at an earlier state
//! that is consistent in itself. So the last durable commit's count, size and root are
//! also kept outside sled, in `<dir>/head` (see `HeadFile`), and open refuses a database
//! behind that record ([`Damage::RolledBack`]) or off it ([`Damage::ForkedFromRecord`]).
//!
//! sled itself does O(records) work when it opens: it reads its page table snapshot and
//! replays its log written since the last open (it takes a new snapshot when it opens).

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use crate::tree::{Frontier, Hash};

mod batch;
mod blob_sync;
mod checkpoint;
mod commit;
mod error;
mod files;
mod head_file;
mod layout;
mod nodes;
mod open;
mod read;
mod verify;

pub use batch::Batch;
use blob_sync::BlobSync;
use error::io_error;
pub use error::{CheckpointProblem, Damage, StoreError};
use files::{FileId, Files};
use head_file::HeadFile;
pub use head_file::Progress;

pub use layout::{
    Head, BUNDLE_WIDTH, MAX_LEAF_BYTES, MAX_META_NAME_BYTES, MAX_VALUE_BYTES, STORED_TILE_HASHES,
    TILE_HEIGHT, TILE_WIDTH,
};
pub use open::{StoreOptions, DEFAULT_CACHE_BYTES};
pub use read::{Checkpoints, Leaves};
pub use verify::Verified;

pub struct Store {
    dir: PathBuf,
    db: sled::Db,
    /// `<dir>/db`, kept open to fsync it after each flush.
    db_file: File,
    frontier: Frontier,
    blobs: BlobSync,
    head_file: HeadFile,
    files: std::sync::Arc<Files>,
    /// The `n` records (nodes of the stored tiles still filling: a few thousand at most),
    /// kept in memory so that a proof reads sled not at all.
    edge: HashMap<(u8, u64), Hash>,
    /// Where the next full bundle goes in the bundles file: the end of the last one.
    bundles_end: u64,
    /// Commits made, as sled holds them (`S`).
    commits: u64,
    poisoned: bool,
    #[cfg(test)]
    fault: Option<tests::Fault>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .field("size", &self.size())
            .finish_non_exhaustive()
    }
}

impl Store {
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    pub fn head(&self) -> Head {
        Head {
            size: self.size(),
            root: self.root(),
        }
    }

    /// How many commits the store has made (the `S` record).
    pub fn commits(&self) -> u64 {
        self.commits
    }

    /// The right edge of the current tree, e.g. to compute the root a batch would give.
    pub fn frontier(&self) -> &Frontier {
        &self.frontier
    }

    /// Fails with [`StoreError::Poisoned`] once a commit failed after writing began: until
    /// the store is reopened, what sled holds in memory may include that batch, so callers
    /// must not read state to build the next batch from.
    pub fn check_writable(&self) -> Result<(), StoreError> {
        if self.poisoned {
            return Err(StoreError::Poisoned);
        }
        Ok(())
    }

    /// Fails with [`StoreError::Poisoned`] once a commit failed after writing began: sled's
    /// memory may then hold records of that batch (entries, checkpoints, metadata) that
    /// are not durable, or that the head does not cover. The size, the root and the nodes
    /// of the tree of that size (kept in memory and in the tile files) stay readable.
    fn check_readable(&self) -> Result<(), StoreError> {
        self.check_writable()
    }
}

fn sync_path(path: &Path) -> Result<(), StoreError> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io_error(path))
}

#[cfg(test)]
mod tests {
    //! Faults injected inside `commit`: in this process (an error) and in a child process
    //! that aborts, as a crash would, at a chosen point. The child is this test binary,
    //! re-executed to run `crash_child` only.

    use super::commit::FaultPoint;
    use super::*;
    use crate::tree::{self, MemoryTree};
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
    fn leaf(i: u64) -> Vec<u8> {
        let mut v = format!("entry {i} ").into_bytes();
        v.resize(v.len() + (i as usize * 37) % 300, b'x');
        v
    }

    fn note(size: u64, root: &Hash) -> Vec<u8> {
        let b64 = base64::engine::general_purpose::STANDARD.encode(root);
        format!("example.org/test\n{size}\n{b64}\n\n\u{2014} example.org/test AAAA\n").into_bytes()
    }

    /// One batch of K entries, a batch counter, and a checkpoint of the size before it.
    fn commit_batch(store: &mut Store) -> Result<Head, StoreError> {
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
        let mut t = MemoryTree::new();
        for i in 0..size {
            t.append(tree::leaf_hash(&leaf(i)));
        }
        t.root()
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
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "store::tests::crash_child",
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

    /// Not a test on its own: the body of the child process of the crash tests.
    #[test]
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
        // The first child may die while still creating the store.
        for ms in [2, 40, 75, 5, 120, 20, 60] {
            let durable = run_child(&dir, &format!("timer-{ms}"));
            let recovered = check_whole(&dir);
            eprintln!(
                "abort after {ms} ms: {durable} entries reported durable, {recovered} recovered"
            );
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
}
