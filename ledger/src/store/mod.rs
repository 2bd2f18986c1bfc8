//! The log on disk: entries, the Merkle tree's complete nodes, checkpoints and the
//! channel's metadata in one sled database and a few append-only flat files, changed only
//! by atomic, durable commits. The format (`dyad-store/4`) is specified in spec/store.md.
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
//! records: the head, where each full bundle lies, and the entries of the bundle still
//! filling. Values stay far below sled's page size, so sled never writes `blobs/`, a read
//! of a full tile is one `pread` of the bytes needed, and sled's open and per-record costs
//! stay small (about one record per 256 entries). Keys start with one byte naming their
//! kind; integers are big-endian, so sled's key order is numeric order.
//!
//! | key | value |
//! |---|---|
//! | `V` | the store format, `dyad-store/4` |
//! | `H` | the head: size (u64) then root (32 bytes) |
//! | `S` | how many commits the store has made (u64) |
//! | `B` bundle:u64 | where full bundle `bundle` lies in `bundles`: start (u64), length (u64) |
//! | `e` index:u64 | entry `index` (its bytes, at most 65535), only while its bundle is not full: at most 255 such records |
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
//! batch, writes the bundle's `B` record and removes the `e` records it replaces.
//!
//! The nodes of the stored tiles still filling, the right edge (at most 255 per tree
//! level), are not stored: open computes them from the entries of the bundle still
//! filling and the full tiles below (`edge.rs`), and commits keep them in memory. Format
//! 3 stored them as `n` records; opening a store of format 3 upgrades it (`upgrade.rs`).
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
//! tiles, the right edge it computes, the last entry and the newest checkpoint, and refuses
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
//!
//! # Where the code is
//!
//! - `layout.rs`: the format record, the keys and values of sled's records, the
//!   constants of the tlog-tiles shape, where a node or an entry lies;
//! - `error.rs`: [`StoreError`], [`Damage`], [`CheckpointProblem`];
//! - `batch.rs`: [`Batch`], the changes one commit makes;
//! - `open.rs`: [`Store::create`], [`Store::open`] and the checks of open;
//! - `commit.rs`: [`Store::commit`];
//! - `nodes.rs`: reading the tree's nodes, from full tiles or the right edge;
//! - `edge.rs`: computing the right edge on open;
//! - `upgrade.rs`: format 3 to format 4, on open;
//! - `read.rs`: entries, entry bundles, hash tiles, proofs, checkpoints, metadata;
//! - `checkpoint.rs`: the check of a checkpoint note against the tree;
//! - `verify.rs`: [`Store::verify_all`];
//! - `snapshot.rs`: [`Store::snapshot_capture`], a consistent copy taken while in use;
//! - what keeps the store durable beside sled: `files.rs` (the flat files of full
//!   bundles and tiles), `blob_sync.rs` (sled's blob files), `head_file.rs` (`<dir>/head`);
//! - `upper_tiles.rs`: tile levels 1 and up held in memory, so a proof reads one tile;
//! - `tests.rs`: crashes and faults injected into commit, checked by reopening.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::durable::{self, Durability, Existing, WriteOptions};
use crate::tree::{Frontier, Hash};

mod batch;
mod blob_sync;
mod checkpoint;
mod commit;
mod edge;
mod entry_bytes;
mod error;
mod files;
mod head_file;
mod layout;
mod nodes;
mod open;
mod read;
mod snapshot;
mod unfinished_snapshot;
mod upgrade;
mod upper_tiles;
mod verify;

pub use batch::Batch;
use blob_sync::BlobSync;
use error::io_error;
pub use error::{CheckpointProblem, Damage, StoreError};
use files::Files;
use head_file::HeadFile;
pub use head_file::Progress;

pub use layout::{
    Head, BUNDLE_WIDTH, MAX_LEAF_BYTES, MAX_META_NAME_BYTES, MAX_VALUE_BYTES, STORED_TILE_HASHES,
    TILE_HEIGHT, TILE_WIDTH,
};
pub use open::{StoreOptions, DEFAULT_CACHE_BYTES};
pub use read::{Checkpoints, Leaves};
pub use snapshot::{Capture, SnapshotError, SnapshotInfo, SnapshotPhase, SNAPSHOT_STAGING_MARK};
pub use verify::Verified;

/// A store, open: the log in one directory (see the module doc), used by one process at
/// a time (sled locks `<dir>/db`).
pub struct Store {
    dir: PathBuf,
    db: sled::Db,
    /// `<dir>/db`, kept open to fsync it after each flush.
    db_file: File,
    frontier: Frontier,
    blobs: BlobSync,
    head_file: HeadFile,
    files: std::sync::Arc<Files>,
    /// The right edge: the nodes of the stored tiles still filling (at most 255 per tree
    /// level), computed on open and kept in memory only (edge.rs).
    edge: edge::Edge,
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
    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How many entries the log holds.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The Merkle root of the log's entries.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// The tree head: size and root.
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

/// How the store writes its own small files (`head`, `blobs.synced`): mode 0666 less the
/// umask, as sled creates its files; each caller sets the durability it needs.
const STORE_FILE: WriteOptions = WriteOptions {
    durability: Durability::Durable,
    existing: Existing::Replace,
    mode: 0o666,
};

/// [`durable::sync_dir`]: makes the names created, renamed or removed in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    durable::sync_dir(dir).map_err(io_error(dir))
}

#[cfg(test)]
mod tests;
