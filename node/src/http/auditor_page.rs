//! `/audit/`: the auditor's page (verifier-wasm/www), unguarded like the health checks.
//! It is the same static file for everyone and holds nothing of the log; the page then
//! reads `/checkpoint` and `/tile/...` from this origin with the reader's credential.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::{CONTENT_SECURITY_POLICY, LOCATION, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use crate::response::text;
use crate::Shared;

/// The page may run its inline scripts and the wasm module, and fetch from this origin
/// only: no external requests.
const POLICY: &str = "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval' 'wasm-unsafe-eval' blob:; worker-src blob:; style-src 'unsafe-inline'; connect-src 'self'; img-src data:";

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/audit", get(redirect))
        .route("/audit/", get(page))
        .route("/audit/index.html", get(page))
}

async fn redirect() -> Response {
    let mut r = text(
        StatusCode::MOVED_PERMANENTLY,
        "text/plain; charset=utf-8",
        "/audit/\n",
    );
    r.headers_mut()
        .insert(LOCATION, HeaderValue::from_static("/audit/"));
    r
}

async fn page(State(shared): State<Arc<Shared>>) -> Response {
    let Some(page) = shared.config.auditor_page else {
        return text(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "the auditor's page was not built into this dyad (verifier-wasm/www/build.sh, then build dyad with DYAD_WEB_PAGE set)\n",
        );
    };
    let mut r = text(StatusCode::OK, "text/html; charset=utf-8", page);
    let h = r.headers_mut();
    h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}
