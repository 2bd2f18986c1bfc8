//! Pure wire formats: bytes in, typed values out, and back. No I/O, no store, no transport;
//! the node serves and fetches them.
//!
//! - [`tiles`]: C2SP tlog-tiles paths, hash tiles and entry bundles.
//! - [`promise`]: the sequencer's signed promise of inclusion (spec/node.md 4.1).
//! - [`submit`]: `POST /submit-batch` framing and its answer (spec/node.md 4.2).
//! - [`witness`]: C2SP tlog-witness `add-checkpoint` request and answer bodies.

pub mod promise;
pub mod submit;
pub mod tiles;
pub mod witness;
