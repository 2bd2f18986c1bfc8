//! `dyad receipt N --endorsement-out FILE`: beside a record's receipt, its endorsement's
//! receipt, proved against the same co-signed checkpoint (spec/dyad.md sections 3.6 and
//! 8), so that `dyad verify receipt R --endorsement FILE` shows "signed by A, endorsed by
//! B". In a receipt directory (`dyad receipt N --out DIR`) this file is
//! `DIR/endorsement.tlog-proof`, [`ENDORSEMENT_FILE`].

use std::path::Path;

use dyad_verifier::receipt;

use crate::data::DataDir;
use crate::error::{CliError, Result};
use crate::joint::JointLog;
use crate::replica_reads::Replica;

pub use dyad_verifier::receipt_directory::ENDORSEMENT_FILE;
use dyad_verifier::receipt_directory::RECEIPT_FILE;

/// The receipt of the endorsement of record `record`, proved against the checkpoint of
/// `checkpoint_size` (the record's receipt's). Fails (exit 1) when the record is not
/// endorsed, or its endorsement is not under that checkpoint yet.
pub fn endorsement_receipt(
    data: &DataDir,
    record: u64,
    checkpoint_size: u64,
) -> Result<(u64, Vec<u8>)> {
    let joint = JointLog::read(data)?;
    let Some(seen) = joint.records.get(&record) else {
        return Err(CliError::usage(format!("entry {record} is not a record")));
    };
    let Some(endorsement) = seen.endorsed_in else {
        return Err(CliError::check(format!(
            "record {record} is not endorsed yet"
        )));
    };
    if endorsement >= checkpoint_size {
        return Err(CliError::check(format!(
            "record {record}'s endorsement (entry {endorsement}) is not under the co-signed checkpoint of size {checkpoint_size} yet; sync and try again"
        )));
    }
    Ok((endorsement, receipt_at(data, endorsement, checkpoint_size)?))
}

/// The receipt of entry `endorsement`, proved against the checkpoint of `checkpoint_size`.
pub(super) fn receipt_at(
    data: &DataDir,
    endorsement: u64,
    checkpoint_size: u64,
) -> Result<Vec<u8>> {
    let replica = Replica::of(data)?;
    let proof = replica.inclusion_proof(endorsement, Some(checkpoint_size))?;
    let note = replica.checkpoint_note(Some(checkpoint_size))?;
    let entry_bytes = match &replica {
        Replica::Store(channel) => channel.store().leaf(endorsement)?,
        Replica::Node(_) => {
            drop(replica);
            leaf_through_node(data, endorsement)?
        }
    };
    Ok(receipt::format(
        &entry_bytes,
        endorsement,
        &proof.proof,
        &note,
    ))
}

/// Entry `index`'s bytes through the running node's tiles API.
fn leaf_through_node(data: &DataDir, index: u64) -> Result<Vec<u8>> {
    let crate::running_node::Probe::Running(node) = crate::running_node::probe(data)? else {
        return Err(CliError::check(
            "the node stopped while the receipt was made",
        ));
    };
    crate::node_log::NodeLog::read(&node, data)?.leaf(index)
}

/// The endorsement's receipt of entry `index` for a receipt directory: `None` when the entry
/// is not a record, or its endorsement is not (yet) under the checkpoint of
/// `checkpoint_size` (said on stderr, since the record's receipt is still whole).
pub fn endorsement_if_any(
    data: &DataDir,
    index: u64,
    checkpoint_size: u64,
) -> Result<Option<Vec<u8>>> {
    let joint = JointLog::read(data)?;
    match joint.records.get(&index).map(|r| r.endorsed_in) {
        None => Ok(None),
        Some(None) => {
            eprintln!(
                "note: record {index} is not endorsed yet: the directory has no {ENDORSEMENT_FILE}"
            );
            Ok(None)
        }
        Some(Some(e)) if e >= checkpoint_size => {
            eprintln!("note: record {index}'s endorsement (entry {e}) is not under the co-signed checkpoint of size {checkpoint_size} yet: the directory has no {ENDORSEMENT_FILE}");
            Ok(None)
        }
        // The log was read once above: the endorsement's index is known.
        Some(Some(e)) => Ok(Some(receipt_at(data, e, checkpoint_size)?)),
    }
}

/// Writes the endorsement's receipt for record `record` to `path`; returns its index.
pub fn write_endorsement_receipt(
    data: &DataDir,
    record: u64,
    checkpoint_size: u64,
    path: &Path,
) -> Result<u64> {
    let (index, bytes) = endorsement_receipt(data, record, checkpoint_size)?;
    super::receipt::write_receipt(path, &bytes)?;
    Ok(index)
}

/// The record's receipt and its endorsement's receipt that `dyad verify receipt FILE`
/// checks: `FILE` and `--endorsement` as given; or, for a receipt directory (or its
/// `receipt.tlog-proof`), the `endorsement.tlog-proof` beside it when there is one.
pub fn receipt_pair(
    file: &Path,
    endorsement: Option<&Path>,
) -> (std::path::PathBuf, Option<std::path::PathBuf>) {
    let (receipt, dir) = if file.is_dir() {
        (file.join(RECEIPT_FILE), Some(file))
    } else if file.file_name().is_some_and(|n| n == RECEIPT_FILE) {
        (file.to_path_buf(), file.parent())
    } else {
        (file.to_path_buf(), None)
    };
    let beside = dir
        .map(|d| d.join(ENDORSEMENT_FILE))
        .filter(|p| p.is_file());
    (receipt, endorsement.map(Path::to_path_buf).or(beside))
}
