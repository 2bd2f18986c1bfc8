//! `GET /healthz` and `GET /readyz` (spec/node.md 1.2): for supervisors and load balancers.
//! They answer anyone, on the public and the admin listeners, and say nothing of the log:
//! one word or one line of `text/plain`, never cached.

use std::sync::{Arc, TryLockError};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use dyad_ledger::channel::Role;

use crate::response::text;
use crate::Shared;

const TEXT: &str = "text/plain; charset=utf-8";

/// `/healthz`: 200 `ok` while the process serves; 503 once the node stopped itself because
/// its store cannot be written safely (a restart is what helps then).
pub(super) async fn healthz(State(shared): State<Arc<Shared>>) -> Response {
    let (status, body) = health(shared.failure.get().is_some());
    text(status, TEXT, body)
}

fn health(failed: bool) -> (StatusCode, &'static str) {
    if failed {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "failed: the store cannot be written safely; restart the node\n",
        )
    } else {
        (StatusCode::OK, "ok\n")
    }
}

/// `/readyz`: 200 `ready` once the node accepts work, 503 with the reason otherwise.
pub(super) async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    match not_ready(&Readiness::of(&shared)) {
        None => text(StatusCode::OK, TEXT, "ready\n"),
        Some(why) => text(StatusCode::SERVICE_UNAVAILABLE, TEXT, format!("{why}\n")),
    }
}

/// What readiness depends on, read from the shared state without waiting for a lock.
struct Readiness {
    failed: bool,
    stopping: bool,
    replica_open: bool,
    role: Role,
    peer_url_known: bool,
    /// Why the node may not sign yet (the peer check, spec/node.md section 10).
    signing_blocked: Option<String>,
}

impl Readiness {
    fn of(shared: &Shared) -> Readiness {
        // The replica is taken out only while stopping; a writer holding the lock (a
        // commit in progress) means it is open, and a handler must not wait for it.
        let replica_open = match shared.ledger.try_read() {
            Ok(guard) => guard.is_some(),
            Err(TryLockError::WouldBlock) => true,
            Err(TryLockError::Poisoned(_)) => false,
        };
        Readiness {
            failed: shared.failure.get().is_some(),
            stopping: shared.is_stopping(),
            replica_open,
            role: shared.role,
            peer_url_known: shared.peer_url().is_some(),
            signing_blocked: shared.signing_blocked(),
        }
    }
}

/// Why the node does not accept work, or `None` when it does. The sequencer accepts
/// appends and submissions without its peer (it signs and retries the co-signer later);
/// the co-signer can neither co-sign (it fetches the entries from the sequencer) nor
/// submit its messages until it knows the sequencer's URL. Whether the peer answers is
/// not readiness: a peer's outage must not take this node out of service, except at start,
/// until the peer check has confirmed the replica (spec/node.md section 10).
fn not_ready(r: &Readiness) -> Option<String> {
    let why = if r.failed {
        "the store cannot be written safely"
    } else if r.stopping {
        "the node is stopping"
    } else if !r.replica_open {
        "the replica is not open"
    } else if r.role == Role::Cosigner && !r.peer_url_known {
        "the sequencer's URL is not known (--peer URL)"
    } else if let Some(why) = &r.signing_blocked {
        return Some(format!("not ready: {why}"));
    } else {
        return None;
    };
    Some(format!("not ready: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serving(role: Role) -> Readiness {
        Readiness {
            failed: false,
            stopping: false,
            replica_open: true,
            role,
            peer_url_known: true,
            signing_blocked: None,
        }
    }

    #[test]
    fn health_is_ok_until_the_store_failed() {
        assert_eq!(health(false), (StatusCode::OK, "ok\n"));
        let (status, body) = health(true);
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("restart"));
    }

    #[test]
    fn a_serving_node_with_its_peer_url_is_ready() {
        assert_eq!(not_ready(&serving(Role::Sequencer)), None);
        assert_eq!(not_ready(&serving(Role::Cosigner)), None);
    }

    #[test]
    fn the_cosigner_needs_the_sequencer_url_the_sequencer_does_not() {
        let mut seq = serving(Role::Sequencer);
        seq.peer_url_known = false;
        assert_eq!(not_ready(&seq), None);
        let mut cos = serving(Role::Cosigner);
        cos.peer_url_known = false;
        assert!(not_ready(&cos).unwrap().contains("URL is not known"));
    }

    #[test]
    fn a_node_that_may_not_sign_yet_is_not_ready_and_says_why() {
        let mut r = serving(Role::Sequencer);
        r.signing_blocked = Some("the peer check is under way".into());
        assert_eq!(
            not_ready(&r).as_deref(),
            Some("not ready: the peer check is under way")
        );
    }

    #[test]
    fn a_failed_stopping_or_closed_node_is_not_ready_and_says_why() {
        let mut r = serving(Role::Sequencer);
        r.replica_open = false;
        assert!(not_ready(&r).unwrap().contains("replica is not open"));
        r.stopping = true;
        assert!(not_ready(&r).unwrap().contains("stopping"));
        r.failed = true;
        assert!(not_ready(&r).unwrap().contains("store cannot be written"));
    }
}
