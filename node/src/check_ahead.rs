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

    /// [`Self::signature_check`], with a memo of the entries a log sent that are this
    /// co-signer's own queued messages, byte for byte (`Channel::own_queued_signatures`):
    /// it signed them, so they are not checked again. The memo is empty if the queue cannot
    /// be read.
    pub(crate) async fn incoming_check(
        self: &Arc<Self>,
        entries: Arc<Vec<SignedEntry>>,
    ) -> Option<(SignatureCheck, CheckedSignatures)> {
        let read = self.read(move |ch| {
            let own = ch.own_queued_signatures(&entries).unwrap_or_default();
            Ok((ch.signature_check(), own))
        });
        read.await.ok()
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
    on_blocking_thread(check, move |check| check.check(&gather())).await
}

/// Checks the entries a log sent, decoded as they arrived, on a blocking thread: those
/// the memo of [`Shared::incoming_check`] does not hold.
pub(crate) async fn check_incoming(
    check: Option<(SignatureCheck, CheckedSignatures)>,
    entries: Arc<Vec<SignedEntry>>,
) -> CheckedSignatures {
    on_blocking_thread(check, move |(check, own)| check.check_beyond(&entries, own)).await
}

/// Runs `run` with `check` on a blocking thread; nothing found good without a check (then
/// staging checks every signature itself).
async fn on_blocking_thread<C, R>(check: Option<C>, run: R) -> CheckedSignatures
where
    C: Send + 'static,
    R: FnOnce(C) -> CheckedSignatures + Send + 'static,
{
    let Some(check) = check else {
        return CheckedSignatures::default();
    };
    tokio::task::spawn_blocking(move || run(check))
        .await
        .unwrap_or_default()
}
