//! The node's HTTP interface (spec/node.md): the public router (tiles API, attachments,
//! add-checkpoint, submit, metrics) and the admin router (append, status, the replica's
//! reads, snapshot), both with the health checks, with their size limits, status codes,
//! caching headers, logs and metrics.

// A refusal is a ready response; handlers return it as is, once per request.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

use crate::listen;
use crate::response::text;
use crate::Shared;

mod add_checkpoint;
mod admin;
mod admin_reads;
mod attachment;
mod auditor_page;
mod body;
pub(crate) mod guard;
mod health;
mod rotate_key;
mod snapshot;
mod submission;
mod tiles;
mod witness_change;

/// Runs one listener until the node stops, then closes its connections gracefully. Its
/// connections are limited and timed out as [`listen`] says.
pub(crate) async fn run(
    listener: tokio::net::TcpListener,
    router: Router,
    handshake: listen::Handshake,
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
    listen::serve(listener, router, handshake, limits, metrics, stop, name).await;
}

/// `/healthz` and `/readyz`: unguarded, they answer anyone and reveal nothing of the log
/// (spec/node.md 1.2).
fn health_routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
}

/// The public listener's routes, each behind its guard (spec/node.md 9.6), and the
/// health checks, which need none.
pub(crate) fn public_router(shared: Arc<Shared>) -> Router {
    let reads = Router::new()
        .route("/checkpoint", get(tiles::checkpoint))
        .route("/tile/{*path}", get(tiles::tile))
        .route("/metrics", get(tiles::metrics))
        .route("/attachment/{name}", get(attachment::attachment))
        .merge(crate::taxii::routes())
        .route_layer(from_fn_with_state(shared.clone(), guard::readers));
    let party = Router::new()
        .route("/add-checkpoint", post(add_checkpoint::add_checkpoint))
        .route("/submit", post(submission::submit))
        .route("/submit-batch", post(submission::submit_batch))
        .route_layer(from_fn_with_state(shared.clone(), guard::signing))
        .route_layer(from_fn_with_state(shared.clone(), guard::peer_only));
    reads
        .merge(party)
        .merge(health_routes())
        .merge(auditor_page::routes())
        .fallback(not_found)
        .with_state(shared)
}

pub(crate) fn admin_router(shared: Arc<Shared>) -> Router {
    let signing = Router::new()
        .route("/admin/append", post(admin::admin_append))
        .route("/admin/rotate-key", post(rotate_key::admin_rotate_key))
        .route(
            "/admin/witness-change",
            post(witness_change::admin_witness_change),
        )
        .route(
            "/admin/witness-change/approve",
            post(witness_change::admin_approve),
        )
        .route_layer(from_fn_with_state(shared.clone(), guard::signing_or_wait));
    Router::new()
        .route("/admin/status", get(admin::admin_status))
        .route("/admin/receipt", get(admin_reads::receipt))
        .route("/admin/proof/inclusion", get(admin_reads::inclusion_proof))
        .route(
            "/admin/proof/consistency",
            get(admin_reads::consistency_proof),
        )
        .route("/admin/checkpoint", get(admin_reads::checkpoint))
        .route("/admin/snapshot", post(snapshot::admin_snapshot))
        .merge(signing)
        .merge(health_routes())
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
