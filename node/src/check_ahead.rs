//! Checking entries' signatures before the replica's exclusive lock (the ledger's
//! `channel/signature_check.rs`): the sequencer's batcher checks a batch while the one
//! before it is written, and the co-signer checks what it is asked to co-sign before it
//! takes its lock. Staging trusts what was found only under the keys it was found with, so
//! a key change in between costs a second check, never a wrong verdict.

use std::sync::Arc;

use dyad_ledger::channel::{CheckedSignatures, SignatureCheck};
use dyad_ledger::entry::SignedEntry;

use crate::Shared;

impl Shared {
    /// The parties' current keys as the replica holds them; `None` if it cannot be read
    /// (then staging checks every signature itself).
    pub(crate) async fn signature_check(self: &Arc<Self>) -> Option<SignatureCheck> {
        self.read(|ch| Ok(ch.signature_check())).await.ok()
    }
}

/// Checks the entries `gather` returns (run on the blocking thread too, so that decoding
/// stays off the async workers), over the machine's cores.
pub(crate) async fn check_signatures<F>(
    check: Option<SignatureCheck>,
    gather: F,
) -> CheckedSignatures
where
    F: FnOnce() -> Vec<SignedEntry> + Send + 'static,
{
    let Some(check) = check else {
        return CheckedSignatures::default();
    };
    tokio::task::spawn_blocking(move || check.check(&gather()))
        .await
        .unwrap_or_default()
}

/// Checks the entries a log sent, decoded as they arrived, on a blocking thread.
pub(crate) async fn check_incoming(
    check: Option<SignatureCheck>,
    entries: Arc<Vec<SignedEntry>>,
) -> CheckedSignatures {
    let Some(check) = check else {
        return CheckedSignatures::default();
    };
    tokio::task::spawn_blocking(move || check.check(&entries))
        .await
        .unwrap_or_default()
}
