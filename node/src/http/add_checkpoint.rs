//! C2SP tlog-witness `POST /add-checkpoint` (the co-signer).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::body::{body_error, read_body};
use crate::{cosigner, Shared};
use dyad_ledger::wire::witness::MAX_REQUEST_BYTES;

pub(super) async fn add_checkpoint(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match read_body(&shared, &headers, body, MAX_REQUEST_BYTES).await {
        Ok(body) => cosigner::add_checkpoint(shared.clone(), Bytes::clone(&body)).await,
        Err(e) => body_error(&shared, "add-checkpoint", e, MAX_REQUEST_BYTES),
    }
}
