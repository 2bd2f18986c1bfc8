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
    /// The note is not UTF-8 text.
    #[error("its text is not UTF-8")]
    NotUtf8,
    /// The note's body does not parse as a checkpoint.
    #[error("its body is not a tlog-checkpoint: {0}")]
    Malformed(dyad_verifier::checkpoint::CheckpointError),
    /// The body's size is not the size the checkpoint is stored or offered for.
    #[error("its body says size {body_size}")]
    SizeMismatch {
        /// The size in the note's body.
        body_size: u64,
    },
    /// The checkpoint's size is larger than the log.
    #[error("the log holds only {log_size} entries")]
    BeyondLog {
        /// The log's size.
        log_size: u64,
    },
    /// The checkpoint's root is not the tree's root at its size.
    #[error("its root is not the root of the log's first entries")]
    RootMismatch,
}

/// What is wrong with a store that was changed outside this module (or by a disk).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Damage {
    /// The head record has the wrong length.
    #[error("the head record is {len} bytes, not 40")]
    MalformedHead {
        /// The record's length.
        len: usize,
    },
    /// The head's size does not match the entries stored.
    #[error("the head says {head_size} entries but the last stored entry is {}", last_entry.map_or("none".to_owned(), |i| i.to_string()))]
    HeadSizeMismatch {
        /// The head's size.
        head_size: u64,
        /// The last entry stored, if any.
        last_entry: Option<u64>,
    },
    /// The head's root is not the root the stored nodes give (on open: the full tiles and
    /// the right edge computed from the entries of the bundle still filling).
    #[error(
        "the head's root for size {size} is {}, but the stored entries and tree give {}: an entry or a tile was changed behind the store's back. Put back a backup (`dyad restore --from DIR`) or rebuild the replica from the peer (`dyad restore --from-peer URL`)",
        to_hex(stored),
        to_hex(computed)
    )]
    HeadRootMismatch {
        /// The head's size.
        size: u64,
        /// The head's root.
        stored: Hash,
        /// The root of the stored nodes.
        computed: Hash,
    },
    /// An entry within the head's size is not stored.
    #[error("entry {index} is missing")]
    MissingEntry {
        /// The entry's index.
        index: u64,
    },
    /// An entry does not hash to its stored leaf hash.
    #[error("entry {index} does not hash to its stored leaf hash")]
    LeafHashMismatch {
        /// The entry's index.
        index: u64,
    },
    /// A tree node the tree needs is not stored.
    #[error("tree node (level {level}, index {index}) is missing")]
    MissingNode {
        /// The node's tree level.
        level: u8,
        /// The node's index at its level.
        index: u64,
    },
    /// A stored tree node is not the hash of its children.
    #[error("tree node (level {level}, index {index}) is not the hash of its two children")]
    NodeMismatch {
        /// The node's tree level.
        level: u8,
        /// The node's index at its level.
        index: u64,
    },
    /// An entry is stored both in its full bundle and on its own.
    #[error("entry {index} is stored both in its full bundle and on its own")]
    StrayEntry {
        /// The entry's index.
        index: u64,
    },
    /// A full entry bundle within the head's size is missing.
    #[error("entry bundle {index} is missing")]
    MissingBundle {
        /// The bundle's index.
        index: u64,
    },
    /// A full entry bundle does not decode as 256 entries.
    #[error("entry bundle {index} does not hold exactly 256 length-prefixed entries")]
    MalformedBundle {
        /// The bundle's index.
        index: u64,
    },
    /// A full entry bundle is stored beyond the head's size.
    #[error("entry bundle {index} lies beyond the head's {size} entries")]
    BundleBeyondHead {
        /// The bundle's index.
        index: u64,
        /// The head's size.
        size: u64,
    },
    /// A full stored tile within the head's size is missing.
    #[error("stored tile (tile level {tile_level}, index {index}) is missing")]
    MissingTile {
        /// The tile level.
        tile_level: u8,
        /// The tile's index.
        index: u64,
    },
    /// A stored tile does not hash to the tree node above it.
    #[error(
        "stored tile (tile level {tile_level}, index {index}) does not hash to tree node (level {}, index {index}) above it: one of them is damaged (in the file tiles-{tile_level} or the level above)",
        u32::from(*tile_level) * 8 + 8
    )]
    TileMismatch {
        /// The tile level.
        tile_level: u8,
        /// The tile's index.
        index: u64,
    },
    /// A tree node is stored as a record of its own (`n`), which this format never
    /// writes: the nodes of tiles still filling are computed (spec/store.md, "The right
    /// edge"), and a build of format `dyad-store/3` refuses to open format 4: the database
    /// was changed behind the store's back.
    #[error(
        "tree node (level {level}, index {index}) is stored as a record of its own, which format dyad-store/4 never writes: the database was changed behind the store's back; put back a backup (`dyad restore --from DIR`) or rebuild the replica from the peer (`dyad restore --from-peer URL`)"
    )]
    StrayNode {
        /// The node's tree level.
        level: u8,
        /// The node's index at its level.
        index: u64,
    },
    /// A stored checkpoint does not match the tree.
    #[error("the checkpoint stored for size {size} is wrong: {problem}")]
    Checkpoint {
        /// The size it is stored for.
        size: u64,
        /// What is wrong with it.
        problem: CheckpointProblem,
    },
    /// A database record whose key is not one of the store's.
    #[error("a record has a malformed key {}", to_hex(key))]
    MalformedKey {
        /// The record's key.
        key: Vec<u8>,
    },
    /// The database holds fewer commits than the `head` file recorded.
    #[error(
        "the store was rolled back: it last committed {} (recorded in its `head` file), but the database holds only {}; a damaged database file can make it lose its latest writes like this. Put back a backup (`dyad restore --from DIR`) or rebuild the replica from the peer (`dyad restore --from-peer URL`)",
        recorded, found
    )]
    RolledBack {
        /// What the `head` file recorded.
        recorded: Progress,
        /// What the database holds.
        found: Progress,
    },
    /// The database's root differs from the one the `head` file recorded.
    #[error(
        "the database holds another log than the store committed: its `head` file records root {} at {size} entries, the database gives {} there. Put back a backup (`dyad restore --from DIR`) or rebuild the replica from the peer (`dyad restore --from-peer URL`)",
        to_hex(recorded_root),
        to_hex(found_root)
    )]
    ForkedFromRecord {
        /// The size the `head` file recorded.
        size: u64,
        /// The root it recorded.
        recorded_root: Hash,
        /// The database's root at that size.
        found_root: Hash,
    },
    /// Neither copy of the `head` file's record is readable.
    #[error("the `head` file holds no readable record (both copies are damaged); move the file aside and run `dyad verify store`: opening without it writes a new one from the database's state, and the full check tells whether the rest is intact")]
    HeadRecordUnreadable,
    /// A flat file is shorter than its records cover.
    #[error("the file {file} is {len} bytes, shorter than the {expected} its records cover")]
    FileTooShort {
        /// The file's name.
        file: String,
        /// The file's length.
        len: u64,
        /// The length its records cover.
        expected: u64,
    },
    /// A flat file's length is not what its records cover.
    #[error("the file {file} is {len} bytes, not the {expected} its records cover")]
    FileLength {
        /// The file's name.
        file: String,
        /// The file's length.
        len: u64,
        /// The length its records cover.
        expected: u64,
    },
    /// The commit count record has the wrong length.
    #[error("the commit count record is {len} bytes, not 8")]
    MalformedCommitCount {
        /// The record's length.
        len: usize,
    },
    /// A metadata record whose name is not UTF-8.
    #[error("the metadata name {} is not UTF-8", to_hex(name))]
    MetaNameNotUtf8 {
        /// The name's bytes.
        name: Vec<u8>,
    },
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No store in the directory.
    #[error("no dyad store at {}", path.display())]
    NotFound {
        /// The directory.
        path: PathBuf,
    },
    /// Creating a store where one exists.
    #[error("a store already exists at {}", path.display())]
    AlreadyExists {
        /// The directory.
        path: PathBuf,
    },
    /// The directory holds a database that is not a dyad store.
    #[error("{} is not a dyad store: {reason}", path.display())]
    NotAStore {
        /// The directory.
        path: PathBuf,
        /// What it lacks.
        reason: &'static str,
    },
    /// A store format this build does not know.
    #[error("{} holds store format {found:?}; this build reads {:?}", path.display(), String::from_utf8_lossy(FORMAT))]
    UnsupportedFormat {
        /// The directory.
        path: PathBuf,
        /// The format record found.
        found: String,
    },
    /// A store format this build no longer reads.
    #[error("{} holds the old store format {found:?}, which this build no longer reads: re-create the store (export its entries with the build that wrote it and append them to a new store)", path.display())]
    OldFormat {
        /// The directory.
        path: PathBuf,
        /// The format record found.
        found: String,
    },
    /// A file of the store could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// sled failed.
    #[error("the database: {0}")]
    Db(#[from] sled::Error),
    /// The store's content is damaged.
    #[error("the store is damaged: {0}")]
    Damaged(#[from] Damage),
    /// A proof or node computation failed.
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// An entry longer than a leaf may be.
    #[error("entry {index} is {len} bytes; an entry is at most {max}")]
    LeafTooLarge {
        /// The entry's index.
        index: u64,
        /// The entry's length.
        len: usize,
        /// The longest entry.
        max: usize,
    },
    /// A batch built for a log size that has since changed.
    #[error("the batch appends after entry {batch_base} but the log now has {size} entries")]
    StaleBatch {
        /// The size the batch was built for.
        batch_base: u64,
        /// The log's size now.
        size: u64,
    },
    /// A checkpoint offered for storing does not match the tree.
    #[error("checkpoint for size {size} rejected: {problem}")]
    CheckpointRejected {
        /// The size it was offered for.
        size: u64,
        /// What is wrong with it.
        problem: CheckpointProblem,
    },
    /// A metadata name that is empty or too long.
    #[error("the metadata name {name:?} is empty or longer than {max} bytes")]
    BadMetaName {
        /// The name.
        name: String,
        /// The longest name.
        max: usize,
    },
    /// A metadata value or checkpoint note over its limit.
    #[error("{what} of {len} bytes is over the limit of {max}")]
    ValueTooLarge {
        /// What the value is.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A tile or bundle width outside 1..=256.
    #[error("the tile or bundle width {width} is not between 1 and 256")]
    BadTileWidth {
        /// The width asked for.
        width: u16,
    },
    /// Another process has the store open.
    #[error("the store at {} is in use by another process", path.display())]
    Locked {
        /// The directory.
        path: PathBuf,
    },
    /// The log has reached the largest size it can have.
    #[error("the log cannot hold more entries")]
    LogFull,
    /// A commit failed after writing began; the store must be reopened.
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
