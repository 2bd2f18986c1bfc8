//! The node's clients: of the C2SP tlog-tiles read API of a dyad node or of a static tile
//! export ([`TileClient`], [`BlockingClient`]), a streaming audit over it ([`audit_url`]),
//! the co-signer's `POST /submit-batch` ([`submit_batch`]) and the operator's admin API
//! ([`AdminClient`]).
//!
//! Everything read is untrusted: every response is size-bounded before it is read, and
//! parsed strictly. Entries are only trustworthy once checked, e.g. by
//! [`dyad_verifier::audit::Auditor`] ([`audit_url`]), or by `Channel::accept_and_cosign`
//! (the co-signer).

mod admin;
mod audit;
mod http;
mod submit;
mod tile_nodes;
mod tiles;

pub use admin::{append_blocking, AdminClient, ReadAnswer};
pub(crate) use audit::claimed_size;
pub use audit::{audit, audit_url, AuditUrlError};
pub use http::{base_url, ClientError, Reach};
pub(crate) use http::{http_client_with, read_bounded, witness_client};
pub use submit::{submit_batch, SubmitBatchError, SubmitOutcome};
pub use tile_nodes::{TileNodes, TileNodesError};
pub use tiles::{
    fetch_checkpoint, fetch_entries, BlockingClient, BlockingEntries, EntryStream, OwnedEntries,
    TileClient,
};
