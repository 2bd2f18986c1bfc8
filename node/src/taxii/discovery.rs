//! `GET /taxii2/` (discovery, TAXII 2.1 section 4.1) and `GET /taxii2/api/` (the API root,
//! section 4.2): one API root.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::HOST;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::answer::{check_accept, taxii};
use super::media::TAXII_MEDIA_TYPE;
use super::API_ROOT;
use crate::Shared;

/// The API root's URL: absolute when the request names its host (`https`, or on a
/// plain-HTTP node the scheme its proxy forwards), else the path alone (a relative URL).
fn root_url(shared: &Shared, headers: &HeaderMap) -> String {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let host = header(HOST.as_str()).filter(|h| !h.contains(['/', '@', ' ', '\\']));
    let scheme = match (shared.config.insecure_http, header("x-forwarded-proto")) {
        (false, _) => "https",
        (true, Some("https")) => "https",
        (true, _) => "http",
    };
    match host {
        Some(host) => format!("{scheme}://{host}{API_ROOT}"),
        None => API_ROOT.to_owned(),
    }
}

pub(super) async fn discovery(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(r) = check_accept(&shared, &headers) {
        return r;
    }
    let root = root_url(&shared, &headers);
    let body = json!({
        "title": format!("dyad {}", shared.origin),
        "description": "The committed threat indicators of a dyad channel, read-only.",
        "default": root,
        "api_roots": [root],
    });
    taxii(StatusCode::OK, body.to_string())
}

pub(super) async fn api_root(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(r) = check_accept(&shared, &headers) {
        return r;
    }
    let body = json!({
        "title": format!("dyad {}", shared.origin),
        "description": "One collection per direction of the channel.",
        "versions": [TAXII_MEDIA_TYPE],
        // Read-only: no request body is taken.
        "max_content_length": 0,
    });
    taxii(StatusCode::OK, body.to_string())
}
