//! The node's HTTP interface (spec/node.md): the public router (tiles API, add-checkpoint,
//! submit, metrics) and the admin router (append, status), with their size limits, status
//! codes, caching headers, logs and metrics.

// A refusal is a ready response; handlers return it as is, once per request.
#![allow(clippy::result_large_err)]

use std::fmt::Display;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http_body_util::BodyExt;
use serde::Serialize;
use tokio::sync::oneshot;

use crate::admin::{AppendRequest, AppendResponse};
use crate::batcher::{Item, Rejection, Reply, Submission};
use crate::listen;
use crate::promise::{BatchPromise, Promise};
use crate::submit::{self, MAX_SUBMIT_BATCH_BYTES};
use crate::tiles::Tile;
use crate::witness::{self, MAX_REQUEST_BYTES};
use crate::{cosigner, lock, now_ms, NodeError, PromiseRecord, Shared};
use dyad_ledger::channel::{ChannelError, EntryRefusal, Role};
use dyad_ledger::entry::{Draft, Kind, SignedEntry, MAX_ENTRY_LEN};
use dyad_ledger::store::StoreError;
use dyad_ledger::tree::Hash;

/// Full tiles and bundles never change.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Partial tiles do not change either, but may be replaced by full ones: cache briefly.
const PARTIAL: &str = "public, max-age=5";
/// The checkpoint changes with every commit.
const MUTABLE: &str = "no-cache";
/// An admin append request: a draft, its payload in base64 (at most 61440 bytes, so
/// about 82 KiB), and a few fields.
const MAX_ADMIN_BODY: usize = 128 * 1024;

/// A plain response with a content type and no caching.
pub(crate) fn text(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Body>,
) -> Response {
    let mut r = (status, body.into()).into_response();
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Refuses a request: counts it, logs it, answers `status` with the message.
pub(crate) fn reject(
    shared: &Shared,
    endpoint: &'static str,
    status: StatusCode,
    reason: &'static str,
    message: impl Display,
) -> Response {
    shared.metrics.reject(endpoint, reason);
    if status.is_server_error() {
        tracing::error!(endpoint, status = status.as_u16(), reason, %message, "request failed");
    } else {
        tracing::warn!(endpoint, status = status.as_u16(), reason, %message, "request refused");
    }
    text(status, "text/plain; charset=utf-8", format!("{message}\n"))
}

/// tlog-witness 409: the co-signer's size as `text/x.tlog.size`.
pub(crate) fn size_conflict(
    shared: &Shared,
    endpoint: &'static str,
    reason: &'static str,
    size: u64,
    message: impl Display,
) -> Response {
    shared.metrics.reject(endpoint, reason);
    tracing::warn!(endpoint, status = 409, reason, size, %message, "request refused");
    text(
        StatusCode::CONFLICT,
        witness::SIZE_CONTENT_TYPE,
        witness::size_body(size),
    )
}

/// Runs one listener until the node stops, then closes its connections gracefully. Its
/// connections are limited and timed out as [`listen`] says.
pub(crate) async fn run(
    listener: tokio::net::TcpListener,
    router: Router,
    shared: Arc<Shared>,
    name: &'static str,
) {
    let limits = listen::Limits {
        max_connections: shared.config.max_connections,
        header_timeout: shared.config.header_timeout,
        idle_timeout: shared.config.idle_timeout,
    };
    let metrics = shared.metrics.listen.clone();
    let stop = async move { shared.stopped().await };
    listen::serve(listener, router, limits, metrics, stop, name).await;
}

pub(crate) fn public_router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/checkpoint", get(checkpoint))
        .route("/tile/{*path}", get(tile))
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/submit", post(submit))
        .route("/submit-batch", post(submit_batch))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .with_state(shared)
}

pub(crate) fn admin_router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/admin/append", post(admin_append))
        .route("/admin/status", get(admin_status))
        .fallback(not_found)
        .with_state(shared)
}

async fn not_found() -> Response {
    text(
        StatusCode::NOT_FOUND,
        "text/plain; charset=utf-8",
        "not found\n",
    )
}

enum BodyError {
    TooLarge,
    Broken(String),
    /// The body did not arrive within the body timeout, or stalled for the idle timeout.
    Timeout,
    /// The byte budget for bodies being received stayed spent until the body timeout.
    Busy,
}

/// A request body held in memory, with its share of the node's body budget: the share is
/// given back when the request is done with it.
pub(crate) struct Buffered {
    bytes: Bytes,
    _permit: listen::BudgetPermit,
}

impl std::ops::Deref for Buffered {
    type Target = Bytes;
    fn deref(&self) -> &Bytes {
        &self.bytes
    }
}

/// A too-large body is read and thrown away up to this much, so that the client sees the
/// 413 instead of a connection reset; a larger one is cut off.
const DRAIN_LIMIT: usize = 8 << 20;
const DRAIN_TIME: Duration = Duration::from_secs(5);

/// Reads a body of at most `limit` bytes; a declared or actual larger one is refused
/// without being stored (or kept in memory beyond the limit). The body must arrive within
/// the body timeout, with no pause longer than the idle timeout, and the memory it takes
/// is taken from the node's body budget before it is allocated.
async fn read_body(
    shared: &Shared,
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Buffered, BodyError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        if declared.is_some_and(|n| n <= DRAIN_LIMIT as u64) {
            drain(body).await;
        }
        return Err(BodyError::TooLarge);
    }
    let budget = &shared.body_budget;
    let mut permit = budget.empty(shared.metrics.listen.clone());
    let cut = permit.cut_signal();
    let deadline = tokio::time::Instant::now() + shared.config.body_timeout;
    let stall = shared.config.idle_timeout;
    let mut body = body;
    let mut out = Vec::new();
    // Bytes of `out`'s capacity already taken from the budget.
    let mut taken = 0usize;
    loop {
        let wait = deadline.min(tokio::time::Instant::now() + stall);
        let frame = tokio::select! {
            f = tokio::time::timeout_at(wait, body.frame()) => match f {
                Err(_) => return Err(BodyError::Timeout),
                Ok(f) => f,
            },
            _ = cut.cut() => return Err(BodyError::Timeout),
        };
        match frame {
            None => {
                return Ok(Buffered {
                    bytes: Bytes::from(out),
                    _permit: permit,
                })
            }
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    let need = out.len() + data.len();
                    if need > limit {
                        drain(body).await;
                        return Err(BodyError::TooLarge);
                    }
                    if need > taken {
                        // Grow geometrically (within the limit), paying before allocating.
                        let grow_to = need.max(taken.saturating_mul(2)).min(limit);
                        let took = tokio::select! {
                            t = budget.take(&mut permit, grow_to - taken, deadline) => t,
                            _ = cut.cut() => return Err(BodyError::Timeout),
                        };
                        if !took {
                            return Err(BodyError::Busy);
                        }
                        taken = grow_to;
                        out.reserve_exact(taken - out.len());
                    }
                    out.extend_from_slice(&data);
                }
            }
            Some(Err(e)) => return Err(BodyError::Broken(e.to_string())),
        }
    }
}

/// Reads and discards the rest of a body, up to [`DRAIN_LIMIT`] bytes or [`DRAIN_TIME`].
async fn drain(mut body: Body) {
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        let mut seen = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, |d| d.len());
            if seen > DRAIN_LIMIT {
                break;
            }
        }
    })
    .await;
}

fn body_error(shared: &Shared, endpoint: &'static str, e: BodyError, limit: usize) -> Response {
    match e {
        BodyError::TooLarge => reject(
            shared,
            endpoint,
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            format!("the body exceeds {limit} bytes"),
        ),
        BodyError::Broken(why) => reject(
            shared,
            endpoint,
            StatusCode::BAD_REQUEST,
            "broken-body",
            format!("cannot read the body: {why}"),
        ),
        BodyError::Timeout => reject(
            shared,
            endpoint,
            StatusCode::REQUEST_TIMEOUT,
            "body-timeout",
            "the body did not arrive in time (or paused too long); send it again",
        ),
        BodyError::Busy => reject(
            shared,
            endpoint,
            StatusCode::SERVICE_UNAVAILABLE,
            "body-budget",
            "too many request bodies are being received now; retry later",
        ),
    }
}

fn unavailable(shared: &Shared, endpoint: &'static str, e: NodeError) -> Response {
    match e {
        NodeError::Stopped => reject(
            shared,
            endpoint,
            StatusCode::SERVICE_UNAVAILABLE,
            "stopping",
            "the node is stopping",
        ),
        e => reject(
            shared,
            endpoint,
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            e,
        ),
    }
}

async fn checkpoint(State(shared): State<Arc<Shared>>) -> Response {
    match shared
        .read(|ch| Ok(ch.store().latest_checkpoint().map_err(ChannelError::from)?))
        .await
    {
        Ok(Some((_, note))) => {
            let mut r = text(StatusCode::OK, "text/plain; charset=utf-8", note);
            r.headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static(MUTABLE));
            r
        }
        Ok(None) => text(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "no co-signed checkpoint yet\n",
        ),
        Err(e) => unavailable(&shared, "checkpoint", e),
    }
}

async fn tile(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    // The path as sent, not percent-decoded: only the canonical form names a tile.
    let tile = match Tile::parse_path(uri.path().strip_prefix('/').unwrap_or_default()) {
        Ok(t) => t,
        Err(e) => {
            shared.metrics.reject("tile", "bad-path");
            tracing::debug!(error = %e, "bad tile path");
            return text(
                StatusCode::BAD_REQUEST,
                "text/plain; charset=utf-8",
                format!("{e}\n"),
            );
        }
    };
    // Only tiles of the tree the log has signed: a later tree may not exist yet.
    if !tile.exists_in(shared.published()) {
        return text(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "no such tile in the published tree\n",
        );
    }
    let checker = shared.clone();
    let read = move |ch: &dyad_ledger::channel::Channel| {
        Ok(checker
            .tile_checks
            .read(ch.store(), &tile)
            .map_err(ChannelError::from)?)
    };
    match shared.read(read).await {
        Ok(bytes) => {
            let mut r = (StatusCode::OK, bytes).into_response();
            let h = r.headers_mut();
            h.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            h.insert(
                CACHE_CONTROL,
                HeaderValue::from_static(if tile.is_full() { IMMUTABLE } else { PARTIAL }),
            );
            r
        }
        Err(NodeError::Channel(ChannelError::Store(StoreError::Damaged(d)))) => reject(
            &shared,
            "tile",
            StatusCode::INTERNAL_SERVER_ERROR,
            "damaged",
            format!("this node's store is damaged, so it does not serve {tile}: {d}; the operator must run `dyad verify store`"),
        ),
        Err(e) => unavailable(&shared, "tile", e),
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    text(
        StatusCode::OK,
        "text/plain; version=0.0.4; charset=utf-8",
        shared.metrics.render(),
    )
}

async fn add_checkpoint(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match read_body(&shared, &headers, body, MAX_REQUEST_BYTES).await {
        Ok(body) => cosigner::add_checkpoint(shared.clone(), body.bytes.clone()).await,
        Err(e) => body_error(&shared, "add-checkpoint", e, MAX_REQUEST_BYTES),
    }
}

/// Why a submitted entry cannot even be handed to the batcher: it does not decode, or it
/// is not the co-signer's entry for this channel (spec/node.md section 4).
fn precheck_submission(shared: &Shared, bytes: &[u8]) -> Result<SignedEntry, Rejection> {
    let refuse = |status: u16, reason, message: String| Rejection {
        status,
        reason,
        message,
    };
    let entry = SignedEntry::decode(bytes).map_err(|e| {
        refuse(
            400,
            "malformed-entry",
            format!("not a canonical dyad entry: {e}"),
        )
    })?;
    let b = &entry.entry.body;
    if b.origin != shared.origin {
        return Err(refuse(
            422,
            "wrong-origin",
            format!("the entry is for channel {:?}", b.origin),
        ));
    }
    if b.sender != shared.cosigner_key_id || b.kind == Kind::Genesis {
        return Err(refuse(
            403,
            "not-cosigner",
            format!("sender {:08x} is not this channel's co-signer", b.sender),
        ));
    }
    // The signature is verified by the batcher (`Channel::stage_each`, over all cores),
    // before anything is written or promised.
    Ok(entry)
}

fn refuse(shared: &Shared, endpoint: &'static str, r: &Rejection) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
    reject(shared, endpoint, status, r.reason, &r.message)
}

fn not_sequencer(shared: &Shared, endpoint: &'static str) -> Response {
    reject(
        shared,
        endpoint,
        StatusCode::NOT_FOUND,
        "not-sequencer",
        "this node is a co-signer; submit to the sequencer",
    )
}

/// `POST /submit` on the sequencer: one entry signed by the co-signer; answered with a
/// signed promise of inclusion once the entry is durable.
async fn submit(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Body) -> Response {
    const EP: &str = "submit";
    if shared.role != Role::Sequencer {
        return not_sequencer(&shared, EP);
    }
    let body = match read_body(&shared, &headers, body, MAX_ENTRY_LEN).await {
        Ok(b) => b,
        Err(e) => return body_error(&shared, EP, e, MAX_ENTRY_LEN),
    };
    let entry = match precheck_submission(&shared, &body) {
        Ok(e) => e,
        Err(r) => return refuse(&shared, EP, &r),
    };
    let leaf_hash = entry.leaf_hash;
    let appended = match enqueue(&shared, EP, Item::Signed(entry)).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let promise = Promise {
        origin: shared.origin.clone(),
        index: appended.index,
        leaf_hash,
    };
    tracing::debug!(
        index = appended.index,
        existing = appended.existing,
        "submission promised"
    );
    text(
        StatusCode::OK,
        "text/plain; charset=utf-8",
        promise.sign(&shared.key, &shared.log_key),
    )
}

/// `POST /submit-batch` on the sequencer (spec/node.md 4.2): up to `MAX_SUBMIT_BATCH` of
/// the co-signer's entries, each judged as `/submit` would judge it, in order; answered
/// once every accepted one is durable, with a result line per entry and one promise for
/// all the accepted ones (one signature instead of one per entry).
async fn submit_batch(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    const EP: &str = "submit-batch";
    if shared.role != Role::Sequencer {
        return not_sequencer(&shared, EP);
    }
    let body = match read_body(&shared, &headers, body, MAX_SUBMIT_BATCH_BYTES).await {
        Ok(b) => b,
        Err(e) => return body_error(&shared, EP, e, MAX_SUBMIT_BATCH_BYTES),
    };
    let framed = match submit::parse_batch(&body) {
        Ok(f) => f,
        Err(e) => return reject(&shared, EP, StatusCode::BAD_REQUEST, "malformed-batch", e),
    };
    if shared.is_stopping() {
        return reject(
            &shared,
            EP,
            StatusCode::SERVICE_UNAVAILABLE,
            "stopping",
            "the node is stopping",
        );
    }
    // Handed over in order, so that the batcher appends them in sequence order. Once one
    // cannot be handed over (the queue is full), neither are the later ones: they would
    // only meet a gap.
    let mut pending = Vec::with_capacity(framed.len());
    let mut blocked: Option<Rejection> = None;
    for bytes in framed {
        let slot = match (&blocked, precheck_submission(&shared, bytes)) {
            (Some(r), _) => Err(r.clone()),
            (None, Err(r)) => Err(r),
            (None, Ok(entry)) => {
                let leaf_hash = entry.leaf_hash;
                match hand_over(&shared, Item::Signed(entry)) {
                    Ok(rx) => Ok((leaf_hash, rx)),
                    Err(r) => {
                        blocked = Some(r.clone());
                        Err(r)
                    }
                }
            }
        };
        pending.push(slot);
    }
    let mut results = Vec::with_capacity(pending.len());
    let mut promised = Vec::new();
    for slot in pending {
        let reply = match slot {
            Ok((leaf_hash, rx)) => outcome(rx).await.map(|a| (leaf_hash, a)),
            Err(r) => Err(r),
        };
        results.push(match reply {
            Ok((leaf_hash, a)) => {
                promised.push((a.index, leaf_hash));
                submit::SubmitResult::Accepted { index: a.index }
            }
            Err(r) => {
                shared.metrics.reject(EP, r.reason);
                submit::SubmitResult::Refused {
                    status: r.status,
                    message: r.message,
                }
            }
        });
    }
    // A promise lists each entry once, by increasing index.
    promised.sort_unstable();
    promised.dedup();
    let promise = (!promised.is_empty()).then(|| {
        BatchPromise {
            origin: shared.origin.clone(),
            entries: promised,
        }
        .sign(&shared.key, &shared.log_key)
    });
    text(
        StatusCode::OK,
        "text/plain; charset=utf-8",
        submit::SubmitResults { results, promise }.encode(),
    )
}

/// Hands an item to the batcher; the receiver gets its fate once it is durable or refused.
fn hand_over(shared: &Shared, item: Item) -> Result<oneshot::Receiver<Reply>, Rejection> {
    let unavailable = |reason, message: &str| Rejection {
        status: 503,
        reason,
        message: message.into(),
    };
    if shared.is_stopping() {
        return Err(unavailable("stopping", "the node is stopping"));
    }
    let Some(batcher) = &shared.batcher else {
        return Err(Rejection {
            status: 404,
            reason: "not-sequencer",
            message: "not the sequencer".into(),
        });
    };
    let (tx, rx) = oneshot::channel();
    match batcher.try_send(Submission { item, reply: tx }) {
        Ok(()) => Ok(rx),
        Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => Err(unavailable(
            "busy",
            "too many submissions waiting; retry later",
        )),
        Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => {
            Err(unavailable("stopping", "the node is stopping"))
        }
    }
}

/// Waits for the batcher's answer about one item.
async fn outcome(rx: oneshot::Receiver<Reply>) -> Reply {
    rx.await.unwrap_or_else(|_| {
        Err(Rejection {
            status: 503,
            reason: "stopping",
            message: "the node stopped before the entry was written; submit it again".into(),
        })
    })
}

/// Hands an item to the batcher and waits until it is durable (or refused).
async fn enqueue(
    shared: &Arc<Shared>,
    endpoint: &'static str,
    item: Item,
) -> Result<dyad_ledger::channel::Appended, Response> {
    let rx = hand_over(shared, item).map_err(|r| refuse(shared, endpoint, &r))?;
    outcome(rx).await.map_err(|r| refuse(shared, endpoint, &r))
}

fn check_token(shared: &Shared, headers: &HeaderMap) -> Result<(), Response> {
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

async fn admin_status(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(r) = check_token(&shared, &headers) {
        return r;
    }
    match shared.status().await {
        Ok(status) => json(StatusCode::OK, &status),
        Err(e) => unavailable(&shared, "admin", e),
    }
}

fn json(status: StatusCode, value: &impl Serialize) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    text(status, "application/json", body)
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Wait {
    Queued,
    Accepted,
    Committed,
}

async fn admin_append(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    const EP: &str = "admin-append";
    if let Err(r) = check_token(&shared, &headers) {
        return r;
    }
    let body = match read_body(&shared, &headers, body, MAX_ADMIN_BODY).await {
        Ok(b) => b,
        Err(e) => return body_error(&shared, EP, e, MAX_ADMIN_BODY),
    };
    let req: AppendRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return reject(
                &shared,
                EP,
                StatusCode::BAD_REQUEST,
                "bad-json",
                format!("not an append request: {e}"),
            )
        }
    };
    let kind = match Kind::parse(&req.kind) {
        Some(k) if k != Kind::Genesis => k,
        _ => {
            return reject(
                &shared,
                EP,
                StatusCode::BAD_REQUEST,
                "bad-kind",
                format!("unknown kind {:?}", req.kind),
            )
        }
    };
    let wait = match req.wait.as_deref() {
        None | Some("accepted") => Wait::Accepted,
        Some("queued") => Wait::Queued,
        Some("committed") => Wait::Committed,
        Some(other) => {
            return reject(
                &shared,
                EP,
                StatusCode::BAD_REQUEST,
                "bad-wait",
                format!("unknown wait {other:?}"),
            )
        }
    };
    let payload = match STANDARD.decode(req.payload.as_bytes()) {
        Ok(p) => p,
        Err(e) => {
            return reject(
                &shared,
                EP,
                StatusCode::BAD_REQUEST,
                "bad-payload",
                format!("the payload is not base64: {e}"),
            )
        }
    };
    let mut draft = Draft::new(kind, &req.subject, &req.content_type, payload);
    draft.reply_to = req.reply_to;
    // The draft's rules (spec 3.1-3.3: its fields, its reply, the genesis limits), checked
    // before it is queued or appended: a co-signer's message refused by the sequencer
    // later would block its queue.
    let d = draft.clone();
    match shared
        .read(move |ch| Ok(d.check(ch.genesis(), ch.size())))
        .await
    {
        Ok(Ok(())) => {}
        Ok(Err(refusal)) => {
            let (reason, message) = draft_refusal(&refusal);
            return reject(
                &shared,
                EP,
                StatusCode::UNPROCESSABLE_ENTITY,
                reason,
                message,
            );
        }
        Err(e) => return unavailable(&shared, EP, e),
    }
    let timeout =
        Duration::from_millis(req.timeout_ms.unwrap_or(10_000)).min(shared.config.max_wait);
    let deadline = tokio::time::Instant::now() + timeout;
    match shared.role {
        Role::Sequencer => {
            let appended = match enqueue(&shared, EP, Item::Own(draft)).await {
                Ok(a) => a,
                Err(r) => return r,
            };
            let committed =
                wait == Wait::Committed && wait_committed(&shared, appended.index, deadline).await;
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
        Role::Cosigner => {
            let key = shared.key.clone();
            let entry = match shared
                .write(move |ch| Ok(ch.queue_own(&key, draft, now_ms())?))
                .await
            {
                Ok(e) => e,
                Err(NodeError::Channel(e)) => {
                    let (status, reason) = crate::batcher::classify(&e);
                    return reject(
                        &shared,
                        EP,
                        StatusCode::from_u16(status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY),
                        reason,
                        e,
                    );
                }
                Err(e) => return unavailable(&shared, EP, e),
            };
            shared.wake_submitter.notify_one();
            let leaf = entry.leaf_hash;
            let mut promise = if wait >= Wait::Accepted {
                wait_promise(&shared, &leaf, deadline).await
            } else {
                None
            };
            let mut committed = match &promise {
                Some(p) if wait == Wait::Committed => {
                    wait_committed(&shared, p.index, deadline).await
                }
                Some(p) => *shared.committed.borrow() > p.index,
                None => false,
            };
            // Committed means this message is at its index, not merely that the index is.
            if let Some(p) = promise.as_ref().filter(|_| committed) {
                if !crate::promise_check::holds(&shared, p.index, leaf).await {
                    tracing::error!(index = p.index, "the co-signed tree holds another leaf where the sequencer promised this message");
                    committed = false;
                    promise = None;
                }
            }
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
    }
}

/// How a draft [`Draft::check`] refuses is answered (always 422): a draft that is not a
/// valid entry on its own is `invalid-draft`, one that breaks a channel rule is
/// `channel-rule`. `index` in a refusal is the replica's size.
fn draft_refusal(refusal: &EntryRefusal) -> (&'static str, String) {
    use EntryRefusal as R;
    let message = match refusal {
        R::Invalid { source, .. } => return ("invalid-draft", source.to_string()),
        R::ResponseWithoutReplyTo { .. } => {
            "a response must say which entry it answers (reply_to)".to_owned()
        }
        R::ReplyToNotEarlier { index, reply_to } => format!(
            "reply_to {reply_to} must name an entry this replica holds, 1 to {}",
            index.saturating_sub(1)
        ),
        R::PayloadTooLarge { len, max, .. } => {
            format!("the payload has {len} bytes; the channel allows {max}")
        }
        // The kind is parsed without genesis and an admin draft has no attachments; the
        // other rules are about who signed an entry and when, which a draft is not yet.
        R::GenesisNotFirst { .. }
        | R::AttachmentTooLarge { .. }
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
