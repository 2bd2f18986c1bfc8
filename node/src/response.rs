//! The node's HTTP answers: plain and JSON responses, refusals (counted and logged),
//! and the tlog-witness size conflict.

use std::fmt::Display;

use axum::body::Body;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use dyad_ledger::wire::witness;

use crate::{NodeError, Shared};

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

pub(crate) fn unavailable(shared: &Shared, endpoint: &'static str, e: NodeError) -> Response {
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

pub(crate) fn json(status: StatusCode, value: &impl Serialize) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    text(status, "application/json", body)
}
