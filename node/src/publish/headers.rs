//! The HTTP headers each published object carries (spec/node.md, "Publishing to object
//! storage"): immutable objects are cached for good, the checkpoint and partial tiles,
//! which the next publish replaces, only briefly.

use object_store::{Attribute, Attributes, PutOptions};

use super::plan::Item;

/// Full tiles, bundles and attachments never change.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// The checkpoint and partial tiles are replaced as the log grows.
pub const SHORT_LIVED: &str = "public, max-age=5";

/// The media type of `item`: tiles and checkpoints per C2SP tlog-tiles.
pub fn content_type(item: &Item) -> &'static str {
    match item {
        Item::Checkpoint => "text/plain; charset=utf-8",
        Item::Tile(_) | Item::Attachment { .. } => "application/octet-stream",
    }
}

/// The `Cache-Control` of `item`.
pub fn cache_control(item: &Item) -> &'static str {
    if item.is_immutable() {
        IMMUTABLE
    } else {
        SHORT_LIVED
    }
}

/// The put options of `item`: with its headers when the target stores them (a
/// directory does not: its web server sets them).
pub fn put_options(item: &Item, carries_headers: bool) -> PutOptions {
    let mut attributes = Attributes::new();
    if carries_headers {
        attributes.insert(Attribute::ContentType, content_type(item).into());
        attributes.insert(Attribute::CacheControl, cache_control(item).into());
    }
    PutOptions {
        attributes,
        ..PutOptions::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dyad_ledger::wire::tiles::Tile;

    #[test]
    fn immutable_objects_are_cached_for_good_and_the_rest_briefly() {
        let full = Item::Tile(Tile::hashes(0, 0, 256));
        let partial = Item::Tile(Tile::hashes(0, 1, 3));
        let attachment = Item::Attachment {
            sha256: [0; 32],
            size: 1,
        };
        assert_eq!(cache_control(&full), IMMUTABLE);
        assert_eq!(cache_control(&attachment), IMMUTABLE);
        assert_eq!(cache_control(&partial), SHORT_LIVED);
        assert_eq!(cache_control(&Item::Checkpoint), SHORT_LIVED);
        assert!(put_options(&full, false).attributes.is_empty());
        assert_eq!(put_options(&full, true).attributes.len(), 2);
    }
}
