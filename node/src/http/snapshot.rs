//! `POST /admin/snapshot` (spec/node.md 5.3): a consistent, verified copy of the store in
//! a new directory, taken while the node runs. The records are captured under the
//! replica's read lock (commits wait only for that); the flat files are copied and the
//! copy verified after it, on a blocking thread.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use dyad_ledger::store::SnapshotError;

use super::admin::authorized_body;
use crate::admin::{SnapshotRequest, SnapshotResponse};
use crate::response::{json, reject, unavailable};
use crate::Shared;

/// The endpoint's name in metrics and logs.
const SNAPSHOT: &str = "admin-snapshot";
/// A request names one directory.
const MAX_SNAPSHOT_BODY: usize = 16 * 1024;

pub(super) async fn admin_snapshot(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let body = match authorized_body(&shared, &headers, body, SNAPSHOT, MAX_SNAPSHOT_BODY).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let bad = |reason, message: String| {
        reject(&shared, SNAPSHOT, StatusCode::BAD_REQUEST, reason, message)
    };
    let req: SnapshotRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return bad("bad-json", format!("not a snapshot request: {e}")),
    };
    let Some(dest) = destination(&shared.data_dir, &req.dir) else {
        return bad(
            "bad-dir",
            format!(
                "{:?}: give an absolute path, or one inside the data directory without `..`",
                req.dir
            ),
        );
    };
    let started = Instant::now();
    let target = dest.clone();
    let captured = shared
        .read(move |ch| {
            let at = Instant::now();
            Ok((ch.store().snapshot_capture(&target), at.elapsed()))
        })
        .await;
    let (capture, paused) = match captured {
        Ok((Ok(capture), paused)) => (capture, paused),
        Ok((Err(e), _)) => return refused(&shared, e),
        Err(e) => return unavailable(&shared, SNAPSHOT, e),
    };
    let finished = tokio::task::spawn_blocking(move || capture.finish(|_, _, _| {})).await;
    let info = match finished {
        Ok(Ok(info)) => info,
        Ok(Err(e)) => return refused(&shared, e),
        Err(e) => return unavailable(&shared, SNAPSHOT, crate::NodeError::Task(e.to_string())),
    };
    tracing::info!(
        dir = %dest.display(),
        size = info.head.size,
        paused_ms = paused.as_millis() as u64,
        total_ms = started.elapsed().as_millis() as u64,
        "store snapshot taken"
    );
    json(
        StatusCode::OK,
        &SnapshotResponse {
            dir: dest.display().to_string(),
            size: info.head.size,
            root: STANDARD.encode(info.head.root),
            committed_size: info.checkpoint.unwrap_or(0),
            commits: info.commits,
            file_bytes: info.file_bytes,
            paused_ms: paused.as_millis() as u64,
            total_ms: started.elapsed().as_millis() as u64,
        },
    )
}

/// The directory a request names: an absolute path as given (the admin token already
/// proves the operator), or a relative one inside the data directory.
fn destination(data_dir: &Path, dir: &str) -> Option<PathBuf> {
    let path = Path::new(dir);
    if dir.is_empty() {
        return None;
    }
    if path.is_absolute() {
        return Some(path.to_owned());
    }
    path.components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        .then(|| data_dir.join(path))
}

fn refused(shared: &Shared, e: SnapshotError) -> Response {
    let (status, reason) = match &e {
        SnapshotError::DestinationNotEmpty { .. } => (StatusCode::CONFLICT, "dir-not-empty"),
        SnapshotError::NoParent { .. } => (StatusCode::BAD_REQUEST, "no-parent"),
        SnapshotError::DidNotVerify { .. } => {
            (StatusCode::INTERNAL_SERVER_ERROR, "snapshot-did-not-verify")
        }
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "snapshot-failed"),
    };
    reject(shared, SNAPSHOT, status, reason, e)
}

#[cfg(test)]
mod tests {
    use super::destination;
    use std::path::Path;

    #[test]
    fn a_relative_destination_stays_inside_the_data_directory() {
        let data = Path::new("/data");
        assert_eq!(destination(data, "snap/a"), Some("/data/snap/a".into()));
        assert_eq!(
            destination(data, "/elsewhere/b"),
            Some("/elsewhere/b".into())
        );
        assert_eq!(destination(data, "../b"), None);
        assert_eq!(destination(data, "a/../../b"), None);
        assert_eq!(destination(data, "./a"), Some("/data/./a".into()));
        assert_eq!(destination(data, ""), None);
    }
}
