//! What can go wrong: [`StoreError`] for every failure of the store's operations, and
//! within it [`Damage`], a store changed behind its back (by hand or by a disk), and
//! [`CheckpointProblem`], a checkpoint that does not fit the log.

use std::io;
use std::path::{Path, PathBuf};

use super::head_file::Progress;
use super::layout::FORMAT;
use crate::tree::{Hash, TreeError};

/// Why a checkpoint does not fit the log (at commit) or the stored tree (at open).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointProblem {
    #[error("its text is not UTF-8")]
    NotUtf8,
    #[error("its body is not a tlog-checkpoint: {0}")]
    Malformed(dyad_verifier::checkpoint::CheckpointError),
    #[error("its body says size {body_size}")]
    SizeMismatch { body_size: u64 },
    #[error("the log holds only {log_size} entries")]
    BeyondLog { log_size: u64 },
    #[error("its root is not the root of the log's first entries")]
    RootMismatch,
}

/// What is wrong with a store that was changed outside this module (or by a disk).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Damage {
    #[error("the head record is {len} bytes, not 40")]
    MalformedHead { len: usize },
    #[error("the head says {head_size} entries but the last stored entry is {}", last_entry.map_or("none".to_owned(), |i| i.to_string()))]
    HeadSizeMismatch {
        head_size: u64,
        last_entry: Option<u64>,
    },
    #[error(
        "the head's root for size {size} is {}, but the stored tree gives {}",
        to_hex(stored),
        to_hex(computed)
    )]
    HeadRootMismatch {
        size: u64,
        stored: Hash,
        computed: Hash,
    },
    #[error("entry {index} is missing")]
    MissingEntry { index: u64 },
    #[error("entry {index} does not hash to its stored leaf hash")]
    LeafHashMismatch { index: u64 },
    #[error("tree node (level {level}, index {index}) is missing")]
    MissingNode { level: u8, index: u64 },
    #[error("tree node (level {level}, index {index}) is {len} bytes, not 32")]
    MalformedNode { level: u8, index: u64, len: usize },
    #[error("tree node (level {level}, index {index}) is not the hash of its two children")]
    NodeMismatch { level: u8, index: u64 },
    #[error("tree node (level {level}, index {index}) lies beyond the head's {size} entries")]
    NodeBeyondHead { level: u8, index: u64, size: u64 },
    #[error("entry {index} is stored both in its full bundle and on its own")]
    StrayEntry { index: u64 },
    #[error("entry bundle {index} is missing")]
    MissingBundle { index: u64 },
    #[error("entry bundle {index} does not hold exactly 256 length-prefixed entries")]
    MalformedBundle { index: u64 },
    #[error("entry bundle {index} lies beyond the head's {size} entries")]
    BundleBeyondHead { index: u64, size: u64 },
    #[error("stored tile (tile level {tile_level}, index {index}) is missing")]
    MissingTile { tile_level: u8, index: u64 },
    #[error(
        "stored tile (tile level {tile_level}, index {index}) does not hash to tree node (level {}, index {index}) above it: one of them is damaged (in the file tiles-{tile_level} or the level above)",
        u32::from(*tile_level) * 8 + 8
    )]
    TileMismatch { tile_level: u8, index: u64 },
    #[error(
        "tree node (level {level}, index {index}) is stored both in its full tile and on its own"
    )]
    StrayNode { level: u8, index: u64 },
    #[error("the checkpoint stored for size {size} is wrong: {problem}")]
    Checkpoint {
        size: u64,
        problem: CheckpointProblem,
    },
    #[error("a record has a malformed key {}", to_hex(key))]
    MalformedKey { key: Vec<u8> },
    #[error(
        "the store was rolled back: it last committed {} (recorded in its `head` file), but the database holds only {}; a damaged database file can make it lose its latest writes like this. Restore the store from a backup, or re-create it and re-sync it from the peer",
        recorded, found
    )]
    RolledBack { recorded: Progress, found: Progress },
    #[error(
        "the database holds another log than the store committed: its `head` file records root {} at {size} entries, the database gives {} there. Restore the store from a backup, or re-create it and re-sync it from the peer",
        to_hex(recorded_root),
        to_hex(found_root)
    )]
    ForkedFromRecord {
        size: u64,
        recorded_root: Hash,
        found_root: Hash,
    },
    #[error("the `head` file holds no readable record (both copies are damaged); move the file aside and run `dyad verify store`: opening without it writes a new one from the database's state, and the full check tells whether the rest is intact")]
    HeadRecordUnreadable,
    #[error("the file {file} is {len} bytes, shorter than the {expected} its records cover")]
    FileTooShort {
        file: String,
        len: u64,
        expected: u64,
    },
    #[error("the file {file} is {len} bytes, not the {expected} its records cover")]
    FileLength {
        file: String,
        len: u64,
        expected: u64,
    },
    #[error("the commit count record is {len} bytes, not 8")]
    MalformedCommitCount { len: usize },
    #[error("the metadata name {} is not UTF-8", to_hex(name))]
    MetaNameNotUtf8 { name: Vec<u8> },
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no dyad store at {}", path.display())]
    NotFound { path: PathBuf },
    #[error("a store already exists at {}", path.display())]
    AlreadyExists { path: PathBuf },
    #[error("{} is not a dyad store: {reason}", path.display())]
    NotAStore { path: PathBuf, reason: &'static str },
    #[error("{} holds store format {found:?}; this build reads {:?}", path.display(), String::from_utf8_lossy(FORMAT))]
    UnsupportedFormat { path: PathBuf, found: String },
    #[error("{} holds the old store format {found:?}, which this build no longer reads: re-create the store (export its entries with the build that wrote it and append them to a new store)", path.display())]
    OldFormat { path: PathBuf, found: String },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("the database: {0}")]
    Db(#[from] sled::Error),
    #[error("the store is damaged: {0}")]
    Damaged(#[from] Damage),
    #[error(transparent)]
    Tree(#[from] TreeError),
    #[error("entry {index} is {len} bytes; an entry is at most {max}")]
    LeafTooLarge { index: u64, len: usize, max: usize },
    #[error("the batch appends after entry {batch_base} but the log now has {size} entries")]
    StaleBatch { batch_base: u64, size: u64 },
    #[error("checkpoint for size {size} rejected: {problem}")]
    CheckpointRejected {
        size: u64,
        problem: CheckpointProblem,
    },
    #[error("the metadata name {name:?} is empty or longer than {max} bytes")]
    BadMetaName { name: String, max: usize },
    #[error("{what} of {len} bytes is over the limit of {max}")]
    ValueTooLarge {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("the tile or bundle width {width} is not between 1 and 256")]
    BadTileWidth { width: u16 },
    #[error("the store at {} is in use by another process", path.display())]
    Locked { path: PathBuf },
    #[error("the log cannot hold more entries")]
    LogFull,
    #[error(
        "an earlier commit failed after writing began, so the store's state is unknown; reopen it"
    )]
    Poisoned,
}

pub(super) fn io_error(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

pub(super) fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
