//! The co-signer's side of the node: C2SP tlog-witness `add-checkpoint`
//! ([`add_checkpoint`]), which co-signs a checkpoint only once it has fetched ([`fetch`]),
//! checked (against the sequencer's promises too: [`promise_check`]) and stored its new
//! entries; the submitter that sends this party's queued messages to the sequencer and
//! keeps its promises ([`submitter`]); and the evidence directory where conflicts are kept
//! ([`evidence_store`]).

pub(crate) mod add_checkpoint;
pub(crate) mod evidence_store;
pub(crate) mod fetch;
pub(crate) mod promise_check;
pub(crate) mod submitter;

pub(crate) use add_checkpoint::add_checkpoint;
pub use evidence_store::{MAX_EVIDENCE_FILES, MAX_EVIDENCE_TOTAL_BYTES};
pub use promise_check::{BROKEN_PROMISE_EXT, BROKEN_PROMISE_PREFIX};
pub(crate) use submitter::run_submitter;
