//! TAXII answers: `application/taxii+json;version=2.1` bodies, error messages (TAXII 2.1
//! section 3.6.1) and the checks every TAXII request starts with (the `Accept` header, the
//! query, the collection).

// A refusal is a ready response; handlers return it as is.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::index::Record;
use super::media::{accepts_taxii, TAXII_MEDIA_TYPE};
use super::query::{self, Query};
use super::time::format_micros;
use super::{CollectionInfo, Direction};
use crate::response::unavailable;
use crate::{NodeError, Shared};

/// The endpoint name of every TAXII route in metrics and logs.
pub(super) const EP: &str = "taxii";

/// A TAXII body with status 200 (or `status`), not cached.
pub(super) fn taxii(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(TAXII_MEDIA_TYPE));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A TAXII error message, counted and logged as the node's other refusals are.
pub(super) fn error(
    shared: &Shared,
    status: StatusCode,
    reason: &'static str,
    description: impl std::fmt::Display,
) -> Response {
    shared.metrics.reject(EP, reason);
    tracing::warn!(endpoint = EP, status = status.as_u16(), reason, %description, "request refused");
    let body = json!({
        "title": reason,
        "description": description.to_string(),
        "http_status": status.as_u16().to_string(),
    });
    taxii(status, body.to_string())
}

/// 406 unless the request accepts TAXII 2.1.
pub(super) fn check_accept(shared: &Shared, headers: &HeaderMap) -> Result<(), Response> {
    let accept = headers.get(ACCEPT).map(|v| v.to_str().unwrap_or_default());
    if accepts_taxii(accept) {
        return Ok(());
    }
    Err(error(
        shared,
        StatusCode::NOT_ACCEPTABLE,
        "not-acceptable",
        format!("this server answers {TAXII_MEDIA_TYPE} only"),
    ))
}

/// The request's query, or a 400 naming what is wrong with it.
pub(super) fn parse_query(shared: &Shared, raw: Option<&str>) -> Result<Query, Response> {
    query::parse(raw.unwrap_or_default())
        .map_err(|e| error(shared, StatusCode::BAD_REQUEST, "bad-query", e))
}

/// The collection named `id`, or a 404.
pub(super) fn find_collection(
    shared: &Arc<Shared>,
    id: &str,
) -> Result<(CollectionInfo, Direction), Response> {
    match shared.taxii.collection(id) {
        Some(c) => Ok((c.clone(), c.direction)),
        None => Err(error(
            shared,
            StatusCode::NOT_FOUND,
            "no-such-collection",
            "no such collection",
        )),
    }
}

/// A failure to read the index: 503 while stopping, else 500.
pub(super) fn failed(shared: &Shared, e: NodeError) -> Response {
    unavailable(shared, EP, e)
}

/// Adds `X-TAXII-Date-Added-First` and `-Last` for a page's records.
pub(super) fn date_headers(mut r: Response, records: &[&Record]) -> Response {
    let (Some(first), Some(last)) = (records.first(), records.last()) else {
        return r;
    };
    for (name, record) in [
        ("x-taxii-date-added-first", first),
        ("x-taxii-date-added-last", last),
    ] {
        if let Ok(value) = HeaderValue::from_str(&format_micros(record.date_added)) {
            r.headers_mut().insert(name, value);
        }
    }
    r
}

/// The `more` and `next` members of a paged envelope, and the separator before the list.
pub(super) fn paging(next: Option<u64>) -> String {
    match next {
        Some(p) => format!("\"more\":true,\"next\":\"{}\"", query::format_cursor(p)),
        None => "\"more\":false".to_owned(),
    }
}
