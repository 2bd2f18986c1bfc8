//! How many entries from an index fit a byte bound: what the sequencer asks before each
//! add-checkpoint step (spec/node.md 3, `max_cosign_bytes`), answered from the bundle
//! records where it can. A full bundle's record holds its length, and a bundle is its 256
//! entries each behind a 2-byte length (spec/store.md, "Files"), so its entries' bytes are
//! known without reading them; only a bundle the range cuts, or the one that crosses the
//! bound, and the entries not yet bundled are read.

use std::ops::Range;

use super::layout::BUNDLE_WIDTH;
use super::read::read_bundle_record;
use super::{Damage, Store, StoreError};

impl Store {
    /// The largest `end` in `range` (at least `range.start`) such that the entries
    /// `range.start..end` take at most `limit` bytes together, counting each entry's
    /// encoded bytes as [`Store::leaf`] returns them.
    pub fn entries_within(&self, range: Range<u64>, limit: u64) -> Result<u64, StoreError> {
        self.check_held(range.end)?;
        let mut bytes = 0u64;
        let mut at = range.start;
        while at < range.end {
            let bundle = at / BUNDLE_WIDTH;
            let bundle_end = (bundle + 1) * BUNDLE_WIDTH;
            if at % BUNDLE_WIDTH == 0 && bundle_end <= range.end {
                let record = read_bundle_record(&self.db, bundle)?;
                let entries = record
                    .len
                    .checked_sub(2 * BUNDLE_WIDTH)
                    .ok_or(Damage::MalformedBundle { index: bundle })?;
                if bytes + entries <= limit {
                    bytes += entries;
                    at = bundle_end;
                    continue;
                }
            }
            // Entry by entry up to the end of this bundle (one read of it, if full).
            for item in self.leaves(at..bundle_end.min(range.end))? {
                let (_, leaf) = item?;
                bytes += leaf.len() as u64;
                if bytes > limit {
                    return Ok(at);
                }
                at += 1;
            }
        }
        Ok(at)
    }
}
