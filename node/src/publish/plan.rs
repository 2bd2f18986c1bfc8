//! What to write to bring a published copy from one tree size to a larger one, in the
//! order that never lets a reader see a checkpoint naming a missing object
//! (spec/node.md, "Publishing to object storage"): new full tiles and entry bundles,
//! then the partial tiles of the new tree, then the attachments its new entries name,
//! then the co-signed checkpoint, last.

use dyad_ledger::wire::tiles::{tiles_of_tree, Tile, TileKind};

/// One object to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// A hash tile or an entry bundle (full or partial).
    Tile(Tile),
    /// An attachment, under `attachment/<sha256 hex>`.
    Attachment {
        /// Its SHA-256.
        sha256: [u8; 32],
        /// Its size in bytes.
        size: u64,
    },
    /// The co-signed checkpoint.
    Checkpoint,
}

impl Item {
    /// Its path under the target's prefix (C2SP tlog-tiles; spec/node.md 2.2 for
    /// attachments).
    pub fn path(&self) -> String {
        match self {
            Item::Tile(tile) => tile.path(),
            Item::Attachment { sha256, .. } => format!("attachment/{}", hex::encode(sha256)),
            Item::Checkpoint => "checkpoint".to_owned(),
        }
    }

    /// Whether the object never changes once written (full tiles, bundles, attachments):
    /// cached for good, and not written again when already there.
    pub fn is_immutable(&self) -> bool {
        match self {
            Item::Tile(tile) => tile.is_full(),
            Item::Attachment { .. } => true,
            Item::Checkpoint => false,
        }
    }
}

/// What to publish.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Hash tiles and checkpoints only: no entry bundle, no attachment (a public
    /// proof-of-existence mirror that reveals no content).
    pub hash_only: bool,
}

/// The objects to write to go from a copy published at `old` leaves to `new` leaves,
/// in order; `attachments` are those the entries `old..new` name. `old` larger than
/// `new` (a copy of another log, or damaged) is treated as nothing published.
pub fn plan(
    old: u64,
    new: u64,
    attachments: &[([u8; 32], u64)],
    options: PlanOptions,
) -> Vec<Item> {
    let old = if old > new { 0 } else { old };
    let wanted = |tile: &Tile| !(options.hash_only && tile.kind == TileKind::Entries);
    // A full tile of the old tree is already published, and immutable.
    let published_full = |tile: &Tile| tile.is_full() && tile_is_full_at(tile, old);
    let mut full = Vec::new();
    let mut partial = Vec::new();
    for tile in tiles_of_tree(new).filter(wanted) {
        if published_full(&tile) {
            continue;
        }
        if tile.is_full() {
            full.push(Item::Tile(tile));
        } else {
            partial.push(Item::Tile(tile));
        }
    }
    let mut items = full;
    items.append(&mut partial);
    if !options.hash_only {
        items.extend(
            attachments
                .iter()
                .map(|&(sha256, size)| Item::Attachment { sha256, size }),
        );
    }
    items.push(Item::Checkpoint);
    items
}

/// Whether `tile` (full) was already full in the tree of `size` leaves.
fn tile_is_full_at(tile: &Tile, size: u64) -> bool {
    let level = match tile.kind {
        TileKind::Hashes { level } => u32::from(level),
        TileKind::Entries => 0,
    };
    // The tree of `size` leaves has `size >> 8*level` nodes at this tile level's base.
    let nodes = size >> (8 * level);
    (tile.index + 1) * 256 <= nodes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(items: &[Item]) -> Vec<String> {
        items.iter().map(Item::path).collect()
    }

    #[test]
    fn full_tiles_first_then_partial_then_attachments_then_the_checkpoint() {
        let a = ([0xab; 32], 5);
        let items = plan(0, 300, &[a], PlanOptions::default());
        assert_eq!(
            paths(&items),
            [
                "tile/0/000",
                "tile/entries/000",
                "tile/0/001.p/44",
                "tile/1/000.p/1",
                "tile/entries/001.p/44",
                &format!("attachment/{}", hex::encode([0xab; 32])),
                "checkpoint",
            ]
        );
    }

    #[test]
    fn what_was_published_full_is_not_planned_again() {
        let items = plan(256, 600, &[], PlanOptions::default());
        let p = paths(&items);
        assert!(!p.contains(&"tile/0/000".to_owned()), "{p:?}");
        assert!(!p.contains(&"tile/entries/000".to_owned()), "{p:?}");
        assert!(p.contains(&"tile/0/001".to_owned()), "{p:?}");
        assert_eq!(p.last().unwrap(), "checkpoint");
        // Unchanged size: only the partial tiles and the checkpoint, written again.
        let p = paths(&plan(600, 600, &[], PlanOptions::default()));
        assert_eq!(
            p,
            [
                "tile/0/002.p/88",
                "tile/1/000.p/2",
                "tile/entries/002.p/88",
                "checkpoint"
            ]
        );
        // A published size beyond the tree: everything again.
        assert_eq!(plan(700, 600, &[], PlanOptions::default()).len(), 8);
    }

    #[test]
    fn hash_only_plans_no_bundle_and_no_attachment() {
        let items = plan(0, 70_000, &[([1; 32], 1)], PlanOptions { hash_only: true });
        assert!(items.iter().all(|i| match i {
            Item::Tile(t) => t.kind != TileKind::Entries,
            Item::Attachment { .. } => false,
            Item::Checkpoint => true,
        }));
        assert!(items.iter().any(|i| i.path() == "tile/2/000.p/1"));
    }
}
