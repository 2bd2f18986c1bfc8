//! A node that cannot go on: a commit failed after writing began (the store is poisoned:
//! what it holds in memory may differ from the disk until it is reopened). Serving on
//! would answer from a state that may not be durable, so the node stops itself and its
//! shutdown reports the failure (`dyad serve` then exits non-zero); a restart reopens the
//! store from what really is on disk. Closing the store is bounded: sled's flush on a
//! full disk may never return, and the node must still exit.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::{NodeError, Shared};
use dyad_ledger::channel::Channel;

/// The longest wait for the store to close (sled flushes on drop).
pub(crate) const CLOSE_LIMIT: Duration = Duration::from_secs(10);

/// Why the node stopped itself, once it has.
#[derive(Default)]
pub(crate) struct Failure(Mutex<Option<String>>);

impl Failure {
    pub fn get(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, why: String) -> bool {
        let mut f = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if f.is_some() {
            return false;
        }
        *f = Some(why);
        true
    }
}

/// After a write on the replica: if it left the store poisoned, stops the node.
pub(crate) fn check_after_write(shared: &Shared, ch: &Channel) {
    if let Err(e) = ch.store().check_writable() {
        stop_on_failure(shared, e.to_string());
    }
}

/// Records why the node cannot go on and begins stopping it.
pub(crate) fn stop_on_failure(shared: &Shared, why: String) {
    if shared.failure.set(why.clone()) {
        tracing::error!(reason = %why, "the store cannot be written safely any more: the node stops; restart it (it reopens the store from what is on disk)");
        shared.begin_stop();
    }
}

/// Takes the replica out of the shared state and drops it (closing the store) on a
/// thread of its own, waiting at most [`CLOSE_LIMIT`]: a close that hangs (sled's flush on a
/// full disk) is left behind and reported, so that the process can still exit.
pub(crate) async fn close_ledger(shared: &Arc<Shared>) -> Result<(), NodeError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let s = shared.clone();
    let spawned = std::thread::Builder::new()
        .name("dyad-close".into())
        .spawn(move || {
            let mut guard = s.ledger.write().unwrap_or_else(|p| p.into_inner());
            drop(guard.take());
            drop(guard);
            let _ = tx.send(());
        });
    if let Err(e) = spawned {
        return Err(NodeError::Task(format!(
            "cannot start closing the store: {e}"
        )));
    }
    match tokio::time::timeout(CLOSE_LIMIT, rx).await {
        Ok(_) => Ok(()),
        Err(_) => {
            tracing::error!(limit = ?CLOSE_LIMIT, "the store did not close in time (a flush may hang on a full or failing disk); stopping without it");
            Err(NodeError::CloseTimeout(CLOSE_LIMIT))
        }
    }
}
