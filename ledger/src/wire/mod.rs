//! Pure wire formats: bytes in, typed values out, and back. No I/O, no store, no transport;
//! the node serves and fetches them.
//!
//! - [`tiles`]: C2SP tlog-tiles paths, hash tiles and entry bundles.
//! - [`sync_bundle`]: the offline sync bundle, `dyad-sync/v1` (spec/sync.md).

pub mod sync_bundle;
pub mod tiles;
