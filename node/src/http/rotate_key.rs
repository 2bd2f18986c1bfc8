//! `POST /admin/rotate-key` (spec/node.md 5.5): this party replaces its key while its node
//! runs (spec/dyad.md 3.7). The node reads the new private key from a file on its own
//! machine (the key never travels over the API), then the sequencer's batcher appends the
//! key change (`sequencer/rotation.rs`) or the co-signer queues it for the sequencer. From
//! then on the node signs with the new key only; `keys.rs` follows the change.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use dyad_ledger::channel::{Appended, ChannelError, Role};
use dyad_ledger::keys::SignerKey;

use super::admin::authorized_body;
use super::submission::enqueue;
use crate::admin::{RotateKeyRequest, RotateKeyResponse};
use crate::response::{json, reject, unavailable};
use crate::sequencer::Item;
use crate::{now_ms, NodeError, Shared};

/// The endpoint's name in metrics and logs.
const ROTATE: &str = "admin-rotate-key";
/// A request names one file.
const MAX_ROTATE_BODY: usize = 16 * 1024;

pub(super) async fn admin_rotate_key(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let body = match authorized_body(&shared, &headers, body, ROTATE, MAX_ROTATE_BODY).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let new = match read_new_key(&shared, &body).await {
        Ok(k) => k,
        Err(r) => return r,
    };
    let old = shared.keys().signer.clone();
    if new.public_key() == old.public_key() {
        let message = "the new key is already this party's current key; nothing to rotate";
        return reject(&shared, ROTATE, StatusCode::CONFLICT, "same-key", message);
    }
    let made = match shared.role {
        Role::Sequencer => append(&shared, new.clone()).await,
        Role::Cosigner => queue(&shared, new.clone()).await,
    };
    match made {
        Ok(response) => {
            tracing::info!(state = %response.state, new_key = %new.verifier_key(), "key change made through the admin API");
            json(StatusCode::OK, &response)
        }
        Err(r) => r,
    }
}

/// The request's key file, read (mode 0600, a private key) on a blocking thread.
async fn read_new_key(shared: &Shared, body: &[u8]) -> Result<SignerKey, Response> {
    let bad =
        |reason, message: String| reject(shared, ROTATE, StatusCode::BAD_REQUEST, reason, message);
    let req: RotateKeyRequest = serde_json::from_slice(body)
        .map_err(|e| bad("bad-json", format!("not a rotate-key request: {e}")))?;
    let path = PathBuf::from(&req.new_key_file);
    if !path.is_absolute() {
        let message = format!(
            "{:?}: give the new key file's absolute path",
            req.new_key_file
        );
        return Err(bad("bad-path", message));
    }
    let read = tokio::task::spawn_blocking(move || SignerKey::read_private_file(&path)).await;
    match read {
        Ok(Ok(key)) => Ok(key),
        // The error names the file and what is wrong with it, never the key.
        Ok(Err(e)) => Err(bad("bad-key", e.to_string())),
        Err(e) => Err(unavailable(shared, ROTATE, NodeError::Task(e.to_string()))),
    }
}

fn key_id(key: &SignerKey) -> String {
    format!("{:08x}", key.key_id())
}

/// Sequencer: the batcher appends the key change once the log is co-signed.
async fn append(shared: &Arc<Shared>, new: SignerKey) -> Result<RotateKeyResponse, Response> {
    let old = shared.keys().signer.clone();
    let appended: Appended =
        enqueue(shared, ROTATE, Item::KeyChange(Box::new(new.clone()))).await?;
    Ok(RotateKeyResponse {
        state: "pending".into(),
        index: Some(appended.index),
        sequence: None,
        leaf_hash: hex::encode(appended.leaf_hash),
        old_key_id: key_id(&old),
        new_key_id: key_id(&new),
    })
}

/// Co-signer: the key change is queued durably; the submitter sends it to the sequencer.
async fn queue(shared: &Arc<Shared>, new: SignerKey) -> Result<RotateKeyResponse, Response> {
    let s = shared.clone();
    let changing = new.clone();
    let queued = shared
        .write(move |ch| {
            let old = s.keys().signer.clone();
            // Held before the write ends, so that the node follows the change at once.
            s.held_keys.add(changing.clone());
            let e = ch.queue_key_change(&old, &changing, now_ms())?;
            Ok((old, e))
        })
        .await;
    let (old, entry) = match queued {
        Ok(q) => q,
        Err(NodeError::Channel(e)) => return Err(refused(shared, &e)),
        Err(e) => return Err(unavailable(shared, ROTATE, e)),
    };
    shared.wake_submitter.notify_one();
    Ok(RotateKeyResponse {
        state: "queued".into(),
        index: None,
        sequence: Some(entry.entry.body.sequence),
        leaf_hash: hex::encode(entry.leaf_hash),
        old_key_id: key_id(&old),
        new_key_id: key_id(&new),
    })
}

/// A key change the channel refused (a reused key, another key name, …), by its rule.
fn refused(shared: &Shared, e: &ChannelError) -> Response {
    let (status, reason) = crate::sequencer::batcher::classify(e);
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
    reject(shared, ROTATE, status, reason, e)
}
