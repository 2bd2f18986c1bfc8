//! The peer's attachments (spec/node.md 2.2): a replica holds every attachment of every
//! entry it stores (spec/dyad.md 3.5), so before it co-signs new entries (co-signer) or
//! appends a submission (sequencer) it fetches the ones it lacks from the peer's
//! `GET /attachment/<hash>`, streaming them to disk while hashing
//! ([`dyad_ledger::attachments::Receiving`]): nothing of a file is held in memory, and a
//! file gets its final name only complete and with the hash the entry names.

use std::sync::Arc;
use std::time::Duration;

use dyad_ledger::attachments::{parse_hex, AttachmentError, Attachments};
use dyad_ledger::entry::{Attachment, SignedEntry};

use crate::admin::AttachmentRef;
use crate::metrics::Metrics;
use crate::{lock, Shared};

/// A fetch may take this long, plus [`PER_MIB`] per MiB of the attachment.
const BASE_TIMEOUT: Duration = Duration::from_secs(30);
/// The slowest transfer accepted: 1 MiB/s.
const PER_MIB: Duration = Duration::from_secs(1);

/// Why an attachment named by an entry is not held.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AttachmentFetchError {
    #[error("attachment {hash}: this node does not know its peer's URL to fetch it from")]
    NoPeerUrl { hash: String },
    #[error("attachment {hash}: fetching it from the peer failed: {source}")]
    Request {
        hash: String,
        source: reqwest::Error,
    },
    #[error("attachment {hash}: the peer answered {status}")]
    Status {
        hash: String,
        status: reqwest::StatusCode,
    },
    #[error("attachment {hash}: not received within {timeout:?}")]
    Timeout { hash: String, timeout: Duration },
    #[error(transparent)]
    Store(#[from] AttachmentError),
    #[error("attachment {hash} of {size} bytes is not in this node's attachment store (store it there first)")]
    NotStored { hash: String, size: u64 },
    #[error("attachment {hash}: the store could not be reached: {why}")]
    Blocking { hash: String, why: String },
}

/// The attachments an admin append request names, or why one is malformed.
pub(crate) fn from_refs(refs: &[AttachmentRef]) -> Result<Vec<Attachment>, String> {
    refs.iter()
        .map(|r| {
            let sha256 = parse_hex(&r.sha256).ok_or_else(|| {
                format!(
                    "attachment {:?}: sha256 must be 64 lowercase hex digits",
                    r.name
                )
            })?;
            Ok(Attachment {
                sha256,
                size: r.size,
                name: r.name.clone(),
                content_type: r.content_type.clone(),
            })
        })
        .collect()
}

/// Every attachment an operator's message names is stored intact with its size (the CLI
/// stored it before asking): an entry is never signed naming what this replica lacks.
pub(crate) async fn check_held(
    shared: &Shared,
    attachments: &[Attachment],
) -> Result<(), AttachmentFetchError> {
    for a in attachments {
        if !held(shared, a).await? {
            return Err(AttachmentFetchError::NotStored {
                hash: hex::encode(a.sha256),
                size: a.size,
            });
        }
    }
    Ok(())
}

/// The attachments `entries` name, each once.
pub(crate) fn named_by<'a>(entries: impl IntoIterator<Item = &'a SignedEntry>) -> Vec<Attachment> {
    let mut out: Vec<Attachment> = entries
        .into_iter()
        .flat_map(|e| e.entry.body.attachments.iter().cloned())
        .collect();
    out.sort_by_key(|a| a.sha256);
    out.dedup_by_key(|a| a.sha256);
    out
}

/// Whether an intact copy of `a` is stored (hashing it on a blocking thread).
pub(crate) async fn held(shared: &Shared, a: &Attachment) -> Result<bool, AttachmentFetchError> {
    let store = shared.attachments.clone();
    let (hash, size) = (a.sha256, a.size);
    tokio::task::spawn_blocking(move || store.holds(&hash, size))
        .await
        .map_err(|e| AttachmentFetchError::Blocking {
            hash: hex::encode(hash),
            why: e.to_string(),
        })?
        .map_err(AttachmentFetchError::from)
}

/// Fetches from the peer every attachment of `wanted` not already held. On a failure it
/// logs it, counts it (`dyad_attachment_fetch_failures_total`) and keeps it for
/// `/admin/status` (`last_attachment_error`); a later complete fetch clears it.
pub(crate) async fn fetch_missing(
    shared: &Arc<Shared>,
    wanted: &[Attachment],
) -> Result<(), AttachmentFetchError> {
    let mut fetched = false;
    for a in wanted {
        let result = match held(shared, a).await {
            Ok(true) => continue,
            Ok(false) => fetch_one(shared, a).await,
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "an attachment the peer's entry names is missing here");
            Metrics::inc(&shared.metrics.attachment_fetch_failures, 1);
            *lock(&shared.last_attachment_error) = Some(e.to_string());
            return Err(e);
        }
        fetched = true;
    }
    if fetched {
        *lock(&shared.last_attachment_error) = None;
    }
    Ok(())
}

async fn fetch_one(shared: &Arc<Shared>, a: &Attachment) -> Result<(), AttachmentFetchError> {
    let hash = hex::encode(a.sha256);
    let Some(peer) = shared.peer_url() else {
        return Err(AttachmentFetchError::NoPeerUrl { hash });
    };
    let timeout = BASE_TIMEOUT + PER_MIB * u32::try_from(a.size >> 20).unwrap_or(u32::MAX);
    let download = download(shared, &shared.attachments, &peer, a, &hash, timeout);
    match tokio::time::timeout(timeout, download).await {
        Ok(result) => result,
        Err(_) => Err(AttachmentFetchError::Timeout { hash, timeout }),
    }
}

/// Streams the attachment from `peer` into the store. The chunks (at most a few tens of
/// KiB each) are written on the async thread; the final fsync and rename on a blocking one.
async fn download(
    shared: &Shared,
    store: &Attachments,
    peer: &str,
    a: &Attachment,
    hash: &str,
    timeout: Duration,
) -> Result<(), AttachmentFetchError> {
    let request = |source| AttachmentFetchError::Request {
        hash: hash.to_owned(),
        source,
    };
    // Refuses a size over the genesis limit before asking.
    let mut receiving = store.receive(a.sha256, a.size)?;
    let url = format!("{}/attachment/{hash}", peer.trim_end_matches('/'));
    let mut response = shared
        .http
        .get(&url)
        .timeout(timeout)
        .send()
        .await
        .map_err(request)?;
    if !response.status().is_success() {
        return Err(AttachmentFetchError::Status {
            hash: hash.to_owned(),
            status: response.status(),
        });
    }
    while let Some(chunk) = response.chunk().await.map_err(request)? {
        receiving.write(&chunk)?;
    }
    tokio::task::spawn_blocking(move || receiving.finish())
        .await
        .map_err(|e| AttachmentFetchError::Blocking {
            hash: hash.to_owned(),
            why: e.to_string(),
        })??;
    tracing::info!(attachment = %hash, size = a.size, "fetched an attachment from the peer");
    Ok(())
}
