//! `GET /attachment/<64 lowercase hex>` (spec/node.md 2.2): an attachment of the replica,
//! streamed. The stored file is hashed whole before the answer (a damaged file is a 500,
//! never sent), then streamed from the same open file while hashed again: if its bytes
//! changed meanwhile, the body ends in an error, so the client sees a broken transfer,
//! never a complete wrong one. Memory stays at a few chunks whatever the file's size.

use std::io::{self, Read};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use dyad_ledger::attachments::{parse_hex, AttachmentError};
use dyad_ledger::tree::Hash;
use hyper::body::Frame;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::tiles::{IMMUTABLE, IMMUTABLE_PRIVATE};
use crate::response::{reject, text};
use crate::Shared;

const EP: &str = "attachment";
const CHUNK: usize = 64 * 1024;
/// Chunks read ahead of the connection.
const CHUNKS_IN_FLIGHT: usize = 4;

pub(super) async fn attachment(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
) -> Response {
    let Some(hash) = parse_hex(&name) else {
        return reject(
            &shared,
            EP,
            StatusCode::BAD_REQUEST,
            "bad-path",
            "an attachment is named by its SHA-256 in 64 lowercase hex digits",
        );
    };
    let store = shared.attachments.clone();
    let opened = tokio::task::spawn_blocking(move || store.open_verified(&hash)).await;
    let (file, size) = match opened {
        Ok(Ok(opened)) => opened,
        Ok(Err(AttachmentError::NotFound { .. })) => {
            return text(
                StatusCode::NOT_FOUND,
                "text/plain; charset=utf-8",
                "no such attachment\n",
            )
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "an attachment cannot be served");
            return reject(
                &shared,
                EP,
                StatusCode::INTERNAL_SERVER_ERROR,
                "damaged",
                format!("{e}; the operator must restore it"),
            );
        }
        Err(e) => {
            return reject(
                &shared,
                EP,
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                e,
            )
        }
    };
    let (tx, rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
    tokio::task::spawn_blocking(move || send_chunks(file, hash, tx));
    let mut r = Response::new(Body::new(Chunks { rx }));
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(CONTENT_LENGTH, HeaderValue::from(size));
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_static(if shared.config.public_read {
            IMMUTABLE
        } else {
            IMMUTABLE_PRIVATE
        }),
    );
    r
}

/// Reads the file chunk by chunk into `tx`, hashing; an error (or a hash that is no longer
/// `hash`) is sent last, which aborts the response. Stops when the connection is gone.
fn send_chunks(mut file: std::fs::File, hash: Hash, tx: mpsc::Sender<io::Result<Bytes>>) {
    let mut hasher = Sha256::new();
    loop {
        let mut buf = vec![0; CHUNK];
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        };
        buf.truncate(n);
        hasher.update(&buf);
        if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
            return;
        }
    }
    if <Hash>::from(hasher.finalize()) != hash {
        tracing::error!(attachment = %hex::encode(hash), "an attachment changed while it was sent; the transfer was aborted");
        let _ = tx.blocking_send(Err(io::Error::other("the attachment changed while sent")));
    }
}

/// The response body: the chunks `send_chunks` reads.
struct Chunks {
    rx: mpsc::Receiver<io::Result<Bytes>>,
}

impl hyper::body::Body for Chunks {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.rx
            .poll_recv(cx)
            .map(|next| next.map(|chunk| chunk.map(Frame::data)))
    }
}
