//! The C2SP tlog-tiles read API (`GET /checkpoint`, `GET /tile/...`) and `GET /metrics`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use dyad_ledger::channel::ChannelError;
use dyad_ledger::store::StoreError;

use crate::response::{reject, text, unavailable};
use crate::tiles::Tile;
use crate::{NodeError, Shared};

/// Full tiles and bundles never change.
pub(super) const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Partial tiles do not change either, but may be replaced by full ones: cache briefly.
const PARTIAL: &str = "public, max-age=5";
/// The same for a closed read API: a shared cache must not serve a reader's tiles to
/// others (`public` would let it, despite the `Authorization` header).
pub(super) const IMMUTABLE_PRIVATE: &str = "private, max-age=31536000, immutable";
const PARTIAL_PRIVATE: &str = "private, max-age=5";
/// The checkpoint changes with every commit.
const MUTABLE: &str = "no-cache";

pub(super) async fn checkpoint(State(shared): State<Arc<Shared>>) -> Response {
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

pub(super) async fn tile(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
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
                HeaderValue::from_static(match (tile.is_full(), shared.config.public_read) {
                    (true, true) => IMMUTABLE,
                    (false, true) => PARTIAL,
                    (true, false) => IMMUTABLE_PRIVATE,
                    (false, false) => PARTIAL_PRIVATE,
                }),
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

pub(super) async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    text(
        StatusCode::OK,
        "text/plain; version=0.0.4; charset=utf-8",
        shared.metrics.render(),
    )
}
