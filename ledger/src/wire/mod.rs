//! Pure wire formats: bytes in, typed values out, and back. No I/O, no store, no transport;
//! the node serves and fetches them, the CLI carries sync bundles.
//!
//! - [`tiles`]: C2SP tlog-tiles paths, hash tiles and entry bundles.
//! - [`promise`]: the sequencer's signed promise of inclusion (spec/node.md 4.1).
//! - [`submit`]: `POST /submit-batch` framing and its answer (spec/node.md 4.2).
//! - [`witness`]: C2SP tlog-witness `add-checkpoint` request and answer bodies.
//! - [`witness_request`]: what a witness decides about one request (no I/O).
//! - [`sync_bundle`]: the offline sync bundle, `dyad-sync/v1` (spec/sync.md).

pub mod promise;
pub mod submit;
pub mod sync_bundle;
pub mod tiles;
pub mod witness;
pub mod witness_request;
