//! Pure wire formats: bytes in, typed values out, and back. No I/O, no store, no transport;
//! the node serves and fetches them.
//!
//! - [`tiles`]: C2SP tlog-tiles paths, hash tiles and entry bundles.

pub mod tiles;
