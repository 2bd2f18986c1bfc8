//! The operator's admin API: `POST /admin/append` and `GET /admin/status`, behind the
//! bearer token.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use dyad_ledger::channel::{ChannelError, EntryRefusal, Role};
use dyad_ledger::entry::{Draft, Kind};
use dyad_ledger::tree::Hash;

use super::body::{body_error, read_body, Buffered};
use super::submission::enqueue;
use crate::admin::{AppendRequest, AppendResponse};
use crate::response::{json, reject, unavailable};
use crate::sequencer::Item;
use crate::{lock, now_ms, NodeError, PromiseRecord, Shared};

/// An admin append request: a draft, its payload in base64 (at most 61440 bytes, so
/// about 82 KiB), and a few fields.
const MAX_ADMIN_BODY: usize = 128 * 1024;

/// The bearer token of every admin request (spec/node.md section 5), or the 401.
pub(super) fn check_token(shared: &Shared, headers: &HeaderMap) -> Result<(), Response> {
    let given = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_credentials);
    let ok = given.is_some_and(|g| constant_time_eq(g.as_bytes(), shared.admin_token.as_bytes()));
    if ok {
        return Ok(());
    }
    let mut r = reject(
        shared,
        "admin",
        StatusCode::UNAUTHORIZED,
        "bad-token",
        "a valid bearer token (the data directory's admin.token) is required",
    );
    r.headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    Err(r)
}

/// The body of an admin request (at most `limit` bytes) once its token is checked; or the
/// refusal to answer with.
pub(super) async fn authorized_body(
    shared: &Shared,
    headers: &HeaderMap,
    body: Body,
    endpoint: &'static str,
    limit: usize,
) -> Result<Buffered, Response> {
    check_token(shared, headers)?;
    read_body(shared, headers, body, limit)
        .await
        .map_err(|e| body_error(shared, endpoint, e, limit))
}

/// The credentials of an `Authorization: Bearer <token>` header; the scheme name is
/// case-insensitive (RFC 7235 section 2.1).
fn bearer_credentials(value: &str) -> Option<&str> {
    let (scheme, rest) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim_start_matches(' '))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(super) async fn admin_status(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = check_token(&shared, &headers) {
        return r;
    }
    match shared.status().await {
        Ok(status) => json(StatusCode::OK, &status),
        Err(e) => unavailable(&shared, "admin", e),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Wait {
    Queued,
    Accepted,
    Committed,
}

/// `POST /admin/append`: parses the request, checks the draft against the channel's rules,
/// then appends it (sequencer) or queues it for the sequencer (co-signer), waiting as the
/// request asks.
pub(super) async fn admin_append(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let body = match authorized_body(&shared, &headers, body, APPEND, MAX_ADMIN_BODY).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (draft, wait, timeout_ms) = match parse_append(&shared, &body) {
        Ok(parsed) => parsed,
        Err(r) => return r,
    };
    if let Err(r) = check_draft(&shared, &draft).await {
        return r;
    }
    if let Err(e) = crate::attachment::check_held(&shared, &draft.attachments).await {
        return reject(
            &shared,
            APPEND,
            StatusCode::CONFLICT,
            "attachment-missing",
            e,
        );
    }
    let timeout = Duration::from_millis(timeout_ms.unwrap_or(10_000)).min(shared.config.max_wait);
    let deadline = tokio::time::Instant::now() + timeout;
    match shared.role {
        Role::Sequencer => append_as_sequencer(&shared, draft, wait, deadline).await,
        Role::Cosigner => queue_as_cosigner(&shared, draft, wait, deadline).await,
    }
}

/// The endpoint's name in metrics and logs.
const APPEND: &str = "admin-append";

/// The request's draft, what to wait for, and the timeout it asks for; or a 400.
fn parse_append(shared: &Shared, body: &[u8]) -> Result<(Draft, Wait, Option<u64>), Response> {
    let bad =
        |reason, message: String| reject(shared, APPEND, StatusCode::BAD_REQUEST, reason, message);
    let req: AppendRequest = serde_json::from_slice(body)
        .map_err(|e| bad("bad-json", format!("not an append request: {e}")))?;
    let kind = match Kind::parse(&req.kind) {
        Some(k) if k != Kind::Genesis => k,
        _ => return Err(bad("bad-kind", format!("unknown kind {:?}", req.kind))),
    };
    let wait = match req.wait.as_deref() {
        None | Some("accepted") => Wait::Accepted,
        Some("queued") => Wait::Queued,
        Some("committed") => Wait::Committed,
        Some(other) => return Err(bad("bad-wait", format!("unknown wait {other:?}"))),
    };
    let payload = STANDARD
        .decode(req.payload.as_bytes())
        .map_err(|e| bad("bad-payload", format!("the payload is not base64: {e}")))?;
    let mut draft = Draft::new(kind, &req.subject, &req.content_type, payload);
    draft.reply_to = req.reply_to;
    draft.attachments =
        crate::attachment::from_refs(&req.attachments).map_err(|e| bad("bad-attachment", e))?;
    Ok((draft, wait, req.timeout_ms))
}

/// The draft's rules (spec 3.1-3.3 and 3.6: its fields, its reply, the genesis limits,
/// and an endorsement's record in this replica's log), checked
/// before it is queued or appended: a co-signer's message refused by the sequencer later
/// would block its queue.
async fn check_draft(shared: &Arc<Shared>, draft: &Draft) -> Result<(), Response> {
    let d = draft.clone();
    match shared.read(move |ch| Ok(ch.check_own_draft(&d))).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(ChannelError::Refused(refusal))) => {
            let (reason, message) = draft_refusal(&refusal);
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            Err(reject(shared, APPEND, status, reason, message))
        }
        Ok(Err(e)) => Err(unavailable(shared, APPEND, NodeError::Channel(e))),
        Err(e) => Err(unavailable(shared, APPEND, e)),
    }
}

/// The sequencer appends its own message through the batcher (one durable write per batch).
async fn append_as_sequencer(
    shared: &Arc<Shared>,
    draft: Draft,
    wait: Wait,
    deadline: tokio::time::Instant,
) -> Response {
    let appended = match enqueue(shared, APPEND, Item::Own(draft)).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let committed =
        wait == Wait::Committed && wait_committed(shared, appended.index, deadline).await;
    let state = if committed || *shared.committed.borrow() > appended.index {
        "committed"
    } else {
        "pending"
    };
    let status = if wait == Wait::Committed && state != "committed" {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    json(
        status,
        &AppendResponse {
            state: state.into(),
            index: Some(appended.index),
            leaf_hash: hex::encode(appended.leaf_hash),
            promise: None,
        },
    )
}

/// The co-signer queues its message durably; its submitter sends it to the sequencer.
async fn queue_as_cosigner(
    shared: &Arc<Shared>,
    draft: Draft,
    wait: Wait,
    deadline: tokio::time::Instant,
) -> Response {
    let s = shared.clone();
    let entry = match shared
        .write(move |ch| Ok(ch.queue_own(&s.keys().signer, draft, now_ms())?))
        .await
    {
        Ok(e) => e,
        Err(NodeError::Channel(e)) => {
            let (status, reason) = crate::sequencer::batcher::classify(&e);
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            return reject(shared, APPEND, status, reason, e);
        }
        Err(e) => return unavailable(shared, APPEND, e),
    };
    shared.wake_submitter.notify_one();
    let leaf = entry.leaf_hash;
    let (promise, committed) = await_cosigner_outcome(shared, &leaf, wait, deadline).await;
    let state = match (&promise, committed) {
        (_, true) => "committed",
        (Some(_), false) => "pending",
        (None, _) => "queued",
    };
    let reached = match wait {
        Wait::Queued => true,
        Wait::Accepted => promise.is_some(),
        Wait::Committed => committed,
    };
    let status = if reached {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    json(
        status,
        &AppendResponse {
            state: state.into(),
            index: promise.as_ref().map(|p| p.index),
            leaf_hash: hex::encode(leaf),
            promise: promise.map(|p| String::from_utf8_lossy(&p.note).into_owned()),
        },
    )
}

/// Waits, as `wait` asks and until `deadline`, for the sequencer's promise of the queued
/// message and for a co-signed tree holding it at the promised index.
async fn await_cosigner_outcome(
    shared: &Arc<Shared>,
    leaf: &Hash,
    wait: Wait,
    deadline: tokio::time::Instant,
) -> (Option<PromiseRecord>, bool) {
    let mut promise = if wait >= Wait::Accepted {
        wait_promise(shared, leaf, deadline).await
    } else {
        None
    };
    let mut committed = match &promise {
        Some(p) if wait == Wait::Committed => wait_committed(shared, p.index, deadline).await,
        Some(p) => *shared.committed.borrow() > p.index,
        None => false,
    };
    // Committed means this message is at its index, not merely that the index is.
    if let Some(p) = promise.as_ref().filter(|_| committed) {
        if !crate::cosigner::promise_check::holds(shared, p.index, *leaf).await {
            tracing::error!(
                index = p.index,
                "the co-signed tree holds another leaf where the sequencer promised this message"
            );
            committed = false;
            promise = None;
        }
    }
    (promise, committed)
}

/// How a draft [`Draft::check`] refuses is answered (always 422): a draft that is not a
/// valid entry on its own is `invalid-draft`, one that breaks a channel rule is
/// `channel-rule`. `index` in a refusal is the replica's size.
fn draft_refusal(refusal: &EntryRefusal) -> (&'static str, String) {
    use EntryRefusal as R;
    let message = match refusal {
        R::Invalid { source, .. } => return ("invalid-draft", source.to_string()),
        R::NotStix { source, .. } => {
            return (
                "invalid-draft",
                format!("the payload is not a valid STIX 2.1 document: {source}"),
            )
        }
        R::ResponseWithoutReplyTo { .. } => {
            "a response must say which entry it answers (reply_to)".to_owned()
        }
        R::ReplyToNotEarlier { index, reply_to } => format!(
            "reply_to {reply_to} must name an entry this replica holds, 1 to {}",
            index.saturating_sub(1)
        ),
        R::JointRecord { source, .. } => {
            return (source.code(), format!("{source} ({})", source.code()))
        }
        R::WitnessChange { source, .. } => {
            return (source.code(), format!("{source} ({})", source.code()))
        }
        R::PayloadTooLarge { len, max, .. } => {
            format!("the payload has {len} bytes; the channel allows {max}")
        }
        // The kind is parsed without genesis, an attachment over the limit says so; the
        // other rules are about who signed an entry and when, which a draft is not yet.
        R::GenesisNotFirst { .. }
        | R::AttachmentTooLarge { .. }
        | R::KeyChangeAsMessage { .. }
        | R::KeyChange { .. }
        | R::NewKeyReused { .. }
        | R::RetiredKey { .. }
        | R::WrongOrigin { .. }
        | R::UnknownSender { .. }
        | R::BadSignature { .. }
        | R::SequenceGap { .. }
        | R::TimestampBackwards { .. }
        | R::TimestampInFuture { .. } => refusal.to_string(),
    };
    ("channel-rule", message)
}

/// Waits until a co-signed checkpoint covers `index`, the deadline, or the stop.
async fn wait_committed(shared: &Shared, index: u64, deadline: tokio::time::Instant) -> bool {
    let mut rx = shared.committed.subscribe();
    tokio::select! {
        r = rx.wait_for(|c| *c > index) => r.is_ok(),
        _ = tokio::time::sleep_until(deadline) => false,
        _ = shared.stopped() => false,
    }
}

/// Waits until the sequencer has promised the entry with this leaf hash.
async fn wait_promise(
    shared: &Shared,
    leaf: &Hash,
    deadline: tokio::time::Instant,
) -> Option<PromiseRecord> {
    let mut rx = shared.promise_events.subscribe();
    loop {
        if let Some(p) = lock(&shared.promises).get(leaf).cloned() {
            return Some(p);
        }
        tokio::select! {
            r = rx.changed() => if r.is_err() { return None },
            _ = tokio::time::sleep_until(deadline) => return None,
            _ = shared.stopped() => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::bearer_credentials;

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for (header, want) in [
            ("Bearer abc", Some("abc")),
            ("bearer abc", Some("abc")),
            ("BEARER abc", Some("abc")),
            ("bEaReR  abc", Some("abc")),
            ("Basic abc", None),
            ("Bearerabc", None),
            ("Bearer", None),
            ("Bearers abc", None),
        ] {
            assert_eq!(bearer_credentials(header), want, "{header:?}");
        }
    }
}
