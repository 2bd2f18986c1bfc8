//! The key history of a receipt (spec/dyad.md sections 3.7, 3.8, 8 and 8.1): for every
//! key-change and witness-change entry below the receipt's checkpoint, a receipt of that
//! entry against the same checkpoint, which `dyad receipt N --out DIR` writes as
//! `DIR/key-changes/<index>.tlog-proof`. A verifier starts from the genesis keys and
//! witnesses and takes the changes in index order; without them a checkpoint signed after a
//! key change does not verify, and one co-signed by the witnesses of a witness change is
//! judged by the older witnesses.

use dyad_ledger::entry::Kind;

use super::receipt_endorsement::receipt_at;
use crate::data::DataDir;
use crate::error::Result;
use crate::running_node::{probe, Probe};

/// The receipt directory's subdirectory of the key history.
pub const KEY_CHANGES_DIR: &str = "key-changes";

/// The file of the key change at `index` in [`KEY_CHANGES_DIR`].
pub fn file_name(index: u64) -> String {
    format!("{index}.tlog-proof")
}

/// The indices of the key-change and witness-change entries below `size`, ascending (the
/// entries a receipt's key history holds, spec 8): from the store's key and witness
/// state, or, while a node runs, by reading the log through it.
pub fn key_change_indices(data: &DataDir, size: u64) -> Result<Vec<u64>> {
    if let Probe::Running(node) = probe(data)? {
        let log = crate::node_log::NodeLog::read(&node, data)?;
        let mut found = Vec::new();
        log.for_each((0, size.min(log.published)), |index, e| {
            if matches!(e.entry.body.kind, Kind::KeyChange | Kind::WitnessChange) {
                found.push(index);
            }
            Ok(())
        })?;
        return Ok(found);
    }
    let (_, channel) = data.open()?;
    let indices = channel.key_history_indices();
    Ok(indices.into_iter().filter(|&i| i < size).collect())
}

/// The key history of a receipt against the checkpoint of `size`: each key or witness
/// change's index and its receipt against that same checkpoint.
pub fn key_history(data: &DataDir, size: u64) -> Result<Vec<(u64, Vec<u8>)>> {
    let mut out = Vec::new();
    for index in key_change_indices(data, size)? {
        out.push((index, receipt_at(data, index, size)?));
    }
    Ok(out)
}
