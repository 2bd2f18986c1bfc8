//! Opening a store of format `dyad-store/3` upgrades it in place to `dyad-store/4`
//! (spec/store.md, "Open"): format 3 also kept the nodes of the stored tiles still
//! filling as `n` records, which format 4 computes instead (edge.rs). The upgrade is one
//! sled batch that removes them and writes the new format record, flushed here and made
//! durable by open's fsync of `db`, which follows before the store is used; a crash before
//! that leaves format 3, which the next open upgrades.
//! Nothing else differs, so the head, the commit count and the files stay as they are.

use super::layout::{FORMAT, FORMAT_KEY, NODE};
use super::StoreError;
use std::path::Path;

/// Removes the `n` records and writes format 4's record, flushed (open then fsyncs `db`).
/// Returns how many records it removed (a few thousand at most: 255 per tree level).
pub(super) fn upgrade_from_format_3(db: &sled::Db, dir: &Path) -> Result<usize, StoreError> {
    let mut ops = sled::Batch::default();
    let mut removed = 0;
    for kv in db.scan_prefix([NODE]) {
        let (key, _) = kv?;
        ops.remove(key);
        removed += 1;
    }
    ops.insert(FORMAT_KEY, FORMAT);
    db.apply_batch(ops)?;
    db.flush()?;
    tracing::info!(dir = %dir.display(), removed, "upgraded the store from format dyad-store/3 to dyad-store/4");
    Ok(removed)
}
