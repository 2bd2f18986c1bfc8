//! The sequencer's side of the node: the group commit that appends submissions and the
//! operator's own messages ([`batcher`]), and the committer that has each signed
//! checkpoint co-signed ([`committer`]), and the sequencer's own key change ([`rotation`]). The `POST /submit` handlers that feed the
//! batcher are in `http/submission.rs`, and [`submit_order`] keeps the co-signer's batches
//! in sequence order on their way in.

pub(crate) mod batcher;
pub(crate) mod committer;
pub(crate) mod rotation;
pub(crate) mod submit_order;

pub(crate) use batcher::{run_batcher, Item, Rejection, Reply, Submission};
pub(crate) use committer::run_committer;
