//! Who may use which route (spec/node.md 9.6): the party routes answer the peer only, the
//! read API and `/metrics` the peer, holders of a valid read token, or anyone when the node
//! serves `--public-read`. Refusals say nothing about the log.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONNECTION, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use crate::response::reject;
use crate::tls::Peer;
use crate::Shared;

/// Who is at the other end of a request's connection, as the listener saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Caller {
    /// A TLS client whose certificate carries a valid binding by this party key.
    Party([u8; 32]),
    /// A TLS client without a certificate.
    Anonymous,
    /// Plain HTTP behind a TLS-terminating proxy (`insecure_http`): the proxy admits
    /// clients, and the node serves them as it would the peer.
    TrustedProxy,
}

impl From<Peer> for Caller {
    fn from(peer: Peer) -> Caller {
        match peer {
            Peer::Party(key) => Caller::Party(key),
            Peer::NotThePeer => Caller::Anonymous,
        }
    }
}

impl Caller {
    fn is_peer(&self, shared: &Shared) -> bool {
        match self {
            Caller::Party(key) => shared.keys().peer.contains(key),
            Caller::TrustedProxy => true,
            Caller::Anonymous => false,
        }
    }

    /// The party itself (its own CLI, presenting the node's own certificate) or the peer.
    fn is_party(&self, shared: &Shared) -> bool {
        match self {
            Caller::Party(key) => {
                let keys = shared.keys();
                keys.peer.contains(key) || keys.own.contains(key)
            }
            Caller::TrustedProxy => true,
            Caller::Anonymous => false,
        }
    }
}

fn caller(request: &Request) -> Caller {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or(Caller::Anonymous)
}

/// `/submit`, `/submit-batch`, `/add-checkpoint`: the peer only.
pub(crate) async fn peer_only(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let caller = caller(&request);
    if caller.is_peer(&shared) {
        return next.run(request).await;
    }
    if !caller.is_party(&shared) && matches!(caller, Caller::Party(_)) {
        return reconnect(&shared);
    }
    reject(
        &shared,
        "access",
        StatusCode::FORBIDDEN,
        "not-the-peer",
        "this route answers the peer's node only",
    )
}

/// The peer's routes that make the node sign (`/submit`, `/submit-batch`,
/// `/add-checkpoint`): 503 until the peer check allows signing (spec/node.md section 10),
/// before the body is read; the peer retries. Layered inside [`peer_only`]: a stranger
/// learns nothing.
pub(crate) async fn signing(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    match shared.signing_blocked() {
        None => next.run(request).await,
        Some(why) => refuse_unconfirmed(&shared, why),
    }
}

/// `/admin/append`: as [`signing`], but the operator's request waits for the peer check
/// (at most [`ADMIN_CHECK_WAIT`]) first: right after a start it is usually done in moments.
pub(crate) async fn signing_or_wait(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let mut check = shared.peer_check.subscribe();
    let _ = tokio::time::timeout(
        ADMIN_CHECK_WAIT,
        check.wait_for(|c| c.blocks_signing().is_none()),
    )
    .await;
    match shared.signing_blocked() {
        None => next.run(request).await,
        Some(why) => refuse_unconfirmed(&shared, why),
    }
}

/// How long an admin append waits for the peer check.
const ADMIN_CHECK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

fn refuse_unconfirmed(shared: &Shared, why: String) -> Response {
    reject(
        shared,
        "peer-check",
        StatusCode::SERVICE_UNAVAILABLE,
        "peer-check",
        why,
    )
}

/// The read API and `/metrics`: a party, a valid read token, or anyone on a public node.
pub(crate) async fn readers(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let caller = caller(&request);
    if shared.config.public_read || caller.is_party(&shared) {
        return next.run(request).await;
    }
    if let Caller::Party(_) = caller {
        return reconnect(&shared);
    }
    let Some(token) = bearer(&request) else {
        return unauthorized(&shared, "no-credential", "a read credential is required");
    };
    match shared.access.verify(token) {
        Ok(true) => next.run(request).await,
        Ok(false) => unauthorized(
            &shared,
            "bad-credential",
            "the read credential is not valid (unknown, revoked or expired)",
        ),
        Err(e) => {
            tracing::error!(error = %e, "cannot read the credential store");
            reject(
                &shared,
                "access",
                StatusCode::SERVICE_UNAVAILABLE,
                "access-store",
                "the node cannot check read credentials now",
            )
        }
    }
}

/// The token of an `Authorization: Bearer` header, if well-formed.
fn bearer(request: &Request) -> Option<&str> {
    let value = request.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// A connection a party opened with a key it has since replaced (spec/dyad.md 3.7): the
/// key is no longer accepted, and the client's current certificate is bound by the new
/// one. 421 (RFC 9110 15.5.20: retry over another connection) with `Connection: close`,
/// so that its connection pool drops this connection and its retry reconnects.
fn reconnect(shared: &Shared) -> Response {
    let mut r = reject(
        shared,
        "access",
        StatusCode::MISDIRECTED_REQUEST,
        "reconnect",
        "this connection was opened under a party key that a key change has replaced; reconnect",
    );
    r.headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    r
}

fn unauthorized(shared: &Shared, reason: &'static str, message: &'static str) -> Response {
    let mut r = reject(shared, "access", StatusCode::UNAUTHORIZED, reason, message);
    r.headers_mut().insert(
        WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"dyad\""),
    );
    r
}
