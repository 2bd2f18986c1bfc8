//! The audit's local sources: a replica's store (read for its raw bytes only) and a sync
//! bundle holding the whole log.

use std::path::Path;

use dyad_verifier::audit::AuditTrust;

use super::attachments::{check_in_dir, BundleAttachments};
use super::stream::audit_stream;
use super::{AttachmentsAudit, AuditFailure, AuditOutcome};
use crate::bundle::{BundleReader, Record};
use crate::checkpoint_note;
use crate::data::{store_dir, DataDir};
use crate::error::{CliError, Result};
use crate::node_snapshot::through_running_node;
use crate::output::progress;

/// Audits the replica in `dir`; while a node runs there, a snapshot of its store taken
/// through the node (the same bytes the store would give, removed afterwards): the report
/// names the replica, never the snapshot. With `check_attachments`, every entry's
/// attachments are then checked in the data directory's attachment store (files written
/// atomically beside the store: read in place even while a node runs).
pub fn audit_data(dir: &Path, trust: AuditTrust, check_attachments: bool) -> Result<AuditOutcome> {
    let store_dir = store_dir(dir);
    let source = format!("replica {}", store_dir.display());
    let snapshot = through_running_node(&DataDir::new(dir))?;
    let read_from = snapshot
        .as_ref()
        .map_or(store_dir, |s| s.data_dir().ledger_path());
    let raw = match raw_log(&read_from) {
        Ok(raw) => raw,
        Err(RawError::Unreadable(e)) => return Err(e),
        Err(RawError::Damaged(e)) => {
            return Ok(AuditOutcome {
                source,
                result: Err(AuditFailure::Source(e)),
                attachments: AttachmentsAudit::Skipped,
            })
        }
    };
    let result = audit_stream(raw.leaves, raw.size, &raw.checkpoints, trust);
    // The attachments the audit found named (the log is not read again).
    Ok(AuditOutcome::then_attachments(
        source,
        result,
        check_attachments,
        |report| check_in_dir(dir, &report.attachments),
    ))
}

pub(super) fn audit_bundle(
    path: &Path,
    trust: AuditTrust,
    check_attachments: bool,
) -> Result<AuditOutcome> {
    let source = format!("bundle {}", path.display());
    // Pass 1: the bundle's form, its checkpoints (few and small), its entry count, and
    // its attachment records checked against the entries that name them. Pass 2 streams
    // the entries, so memory stays flat however long the log is.
    let mut reader = BundleReader::open(path)?;
    let mut checkpoints = Vec::new();
    let mut entries = 0u64;
    let mut attachments = BundleAttachments::default();
    let bar = progress(reader.len(), "reading bundle");
    while let Some(record) = reader.next_record()? {
        bar.set_position(reader.position());
        match record {
            Record::Entry { index, bytes } if check_attachments => {
                attachments.entry(index, &bytes);
                if entries == 0 && index != 0 {
                    return Err(not_from_zero(path, index));
                }
                entries += 1;
            }
            Record::Attachment { sha256, size } if check_attachments => {
                attachments.attachment(sha256, size)
            }
            Record::Chunk(bytes) if check_attachments => attachments.chunk(&bytes),
            Record::Entry { index, .. } => {
                if entries == 0 && index != 0 {
                    return Err(not_from_zero(path, index));
                }
                entries += 1;
            }
            Record::Cosigned(note) => checkpoints.push(note),
            _ => {}
        }
    }
    bar.finish_and_clear();
    if entries == 0 {
        return Err(CliError::usage_hint(
            format!("{}: the bundle holds no entries", path.display()),
            "export the whole log with `dyad sync export --from 0 --out FILE`",
        ));
    }
    let checksum_ok = reader.checksum_ok() == Some(true);
    let bundle_origin = reader.origin().to_owned();
    let mut second = BundleReader::open(path)?;
    let leaves = std::iter::from_fn(move || loop {
        match second.next_record() {
            Ok(Some(Record::Entry { bytes, .. })) => return Some(Ok(bytes)),
            Ok(Some(_)) => continue,
            Ok(None) => return None,
            Err(e) => return Some(Err(format!("the bundle changed while it was read: {e}"))),
        }
    });
    checkpoints.sort_by_key(|n| checkpoint_note::size(n));
    let mut result = audit_stream(leaves, entries, &checkpoints, trust);
    if let Ok(report) = &result {
        if report.genesis.origin != bundle_origin {
            result = Err(AuditFailure::Source(format!(
                "the bundle says origin {bundle_origin:?} but its genesis is of {:?}",
                report.genesis.origin
            )));
        } else if !checksum_ok {
            result = Err(AuditFailure::Checksum);
        }
    }
    Ok(AuditOutcome::then_attachments(
        source,
        result,
        check_attachments,
        |_| attachments.verdict(),
    ))
}

fn not_from_zero(path: &Path, index: u64) -> CliError {
    CliError::usage_hint(
        format!(
            "{}: the bundle starts at entry {index}; an audit needs the whole log from entry 0",
            path.display()
        ),
        "export it with `dyad sync export --from 0 --out FILE`",
    )
}

// ---------------------------------------------------------------------------------------
// The audit's only use of dyad-ledger: reading raw bytes out of a replica's store.
// ---------------------------------------------------------------------------------------

pub struct RawLog {
    pub size: u64,
    pub leaves: Box<dyn Iterator<Item = std::result::Result<Vec<u8>, String>> + Send>,
    /// Checkpoint notes, by size.
    pub checkpoints: Vec<Vec<u8>>,
}

pub enum RawError {
    /// The store cannot be opened at all (missing, locked): exit 2.
    Unreadable(CliError),
    /// The store refuses to open because it is damaged: the audit fails, exit 1.
    Damaged(String),
}

/// Opens a replica's sled store and yields its raw leaf bytes (index order) and its
/// checkpoint notes. It checks nothing itself: the verifier decides what they are worth.
/// (Opening a store does check its own structure; a store that refuses to open is
/// reported as a failed audit.)
fn raw_log(store_dir: &Path) -> std::result::Result<RawLog, RawError> {
    use dyad_ledger::store::{Store, StoreError};
    let store = Store::open(store_dir).map_err(|e| match e {
        StoreError::Damaged(d) => RawError::Damaged(format!("the store is damaged: {d}")),
        other => RawError::Unreadable(CliError::Store(other)),
    })?;
    let size = store.size();
    let mut checkpoints = Vec::new();
    for item in store.checkpoints() {
        match item {
            Ok((_, note)) => checkpoints.push(note),
            Err(e) => {
                return Err(RawError::Damaged(format!(
                    "the store's checkpoints cannot be read: {e}"
                )))
            }
        }
    }
    let leaves = store
        .leaves(0..size)
        .map_err(|e| RawError::Damaged(format!("the store's entries cannot be read: {e}")))?;
    // The iterator keeps the store open until the audit has read every leaf.
    let leaves = TiledLeaves {
        store,
        leaves,
        tiles: dyad_verifier::tiles::TileChecker::new(),
        done: false,
    };
    Ok(RawLog {
        size,
        leaves: Box::new(leaves),
        checkpoints,
    })
}

/// A store's leaves in order, with its hash tiles checked on the way: each leaf's hash goes
/// to the verifier's `TileChecker`, which asks for each tile as soon as what it must hold
/// is known. A tile that does not match (or cannot be read) ends the stream with an error
/// naming it, which fails the audit. Costs a SHA-256 per entry and one read per 256 hashes.
struct TiledLeaves {
    store: dyad_ledger::store::Store,
    leaves: dyad_ledger::store::Leaves,
    tiles: dyad_verifier::tiles::TileChecker,
    done: bool,
}

impl TiledLeaves {
    fn check(
        &mut self,
        mut due: Option<dyad_verifier::tiles::TileId>,
    ) -> std::result::Result<(), String> {
        while let Some(tile) = due {
            let hashes = self
                .store
                .tile(tile.level, tile.index, tile.width)
                .map_err(|e| format!("the store's hash {tile} cannot be read: {e}"))?;
            due = self.tiles.check(tile, &hashes).map_err(damaged)?;
        }
        Ok(())
    }
}

fn damaged(e: dyad_verifier::tiles::TileError) -> String {
    format!("the store's hash tiles do not match its entries: {e}; the store is damaged (run `dyad verify store` on it)")
}

impl Iterator for TiledLeaves {
    type Item = std::result::Result<Vec<u8>, String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let step = match self.leaves.next() {
            Some(Ok((_, bytes))) => self
                .tiles
                .push_leaf(&dyad_verifier::hash::leaf_hash(&bytes))
                .map_err(damaged)
                .and_then(|due| self.check(due))
                .map(|()| Some(bytes)),
            Some(Err(e)) => Err(format!("the store's entries cannot be read: {e}")),
            None => self
                .tiles
                .partial_tiles()
                .into_iter()
                .try_for_each(|tile| self.check(Some(tile)))
                .map(|()| None),
        };
        match step {
            Ok(Some(bytes)) => Some(Ok(bytes)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
