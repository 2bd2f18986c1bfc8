//! Request bodies: read within a size limit, a time limit and the node's body budget.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::header::CONTENT_LENGTH;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use http_body_util::BodyExt;

use crate::listen;
use crate::response::reject;
use crate::Shared;

pub(super) enum BodyError {
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
pub(super) async fn read_body(
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

pub(super) fn body_error(
    shared: &Shared,
    endpoint: &'static str,
    e: BodyError,
    limit: usize,
) -> Response {
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
