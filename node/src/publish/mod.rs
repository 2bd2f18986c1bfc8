//! Publishing the log to object storage (spec/node.md, "Publishing to object storage"):
//! the C2SP tlog-tiles files and the attachments, written to an S3-compatible bucket or a
//! directory ([`target`]) in an order that keeps every published checkpoint's objects in
//! place ([`plan`]), resumed from the checkpoint already published ([`state`]), each
//! request retried with backoff ([`retry`]), each object with its HTTP headers
//! ([`headers`]).
//!
//! Publishing the read API to a bucket makes the log as public as the bucket. A hash-only
//! publish ([`PlanOptions::hash_only`]) writes hash tiles and checkpoints alone: a
//! proof-of-existence mirror that reveals no entry and no attachment.

pub mod follow;
pub mod headers;
pub mod plan;
pub mod retry;
pub mod source;
pub mod state;
pub mod target;

use object_store::PutPayload;

pub use follow::PublishConfig;
pub use plan::{Item, PlanOptions};
pub use retry::Backoff;
pub use source::{Source, StoreSource};
pub use target::{Target, TargetError};

/// Why a publish failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The log has no co-signed checkpoint yet.
    #[error("the log has no committed (co-signed) checkpoint yet; nothing to publish")]
    NoCommittedCheckpoint,
    /// The store could not be read, or a tile does not match the tree.
    #[error(transparent)]
    Store(#[from] dyad_ledger::store::StoreError),
    /// An attachment could not be read.
    #[error(transparent)]
    Attachment(#[from] dyad_ledger::attachments::AttachmentError),
    /// An attachment is to be published but no attachment directory was given.
    #[error("attachment {hash}: no attachment store to read it from")]
    NoAttachmentStore {
        /// Its SHA-256, hex.
        hash: String,
    },
    /// The checkpoint is taken once, at the start, not read as an object.
    #[error("the checkpoint is not read as an object")]
    CheckpointNotRead,
    /// The target could not be opened.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// An object could not be read or written, retries exhausted.
    #[error("{target}: {key}: {source}")]
    Object {
        /// The target's URL.
        target: String,
        /// The object's key.
        key: String,
        /// What the object store reported.
        source: object_store::Error,
    },
    /// The running node could not be read (it is stopping).
    #[error("the node's log could not be read: {0}")]
    Node(String),
}

/// What to publish and how hard to try.
#[derive(Clone, Copy, Debug, Default)]
pub struct PublishOptions {
    /// Which objects.
    pub plan: PlanOptions,
    /// Retries of each request.
    pub backoff: Backoff,
}

/// What one publish did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Published {
    /// The size of the checkpoint the target held before.
    pub from: u64,
    /// The size of the checkpoint it holds now.
    pub size: u64,
    /// Objects written, the checkpoint included.
    pub objects_written: u64,
    /// Immutable objects already there, not written again.
    pub objects_kept: u64,
    /// Bytes written.
    pub bytes_written: u64,
}

/// Publishes the latest co-signed checkpoint of `source` and everything it covers to
/// `target`, starting from what the target already holds; `progress(done, total)` after
/// each object. Publishing the same size again writes only the partial tiles and the
/// checkpoint.
pub async fn publish<S: Source>(
    source: &S,
    target: &Target,
    options: &PublishOptions,
    mut progress: impl FnMut(u64, u64),
) -> Result<Published, PublishError> {
    let (size, note) = source.checkpoint().await?;
    let object_error = |key: &str| {
        let (target, key) = (target.url.clone(), key.to_owned());
        move |source| PublishError::Object {
            target,
            key,
            source,
        }
    };
    let from = state::published_size(target, options.backoff)
        .await
        .map_err(object_error("checkpoint"))?;
    let from = if from > size { 0 } else { from };
    let attachments = if options.plan.hash_only {
        Vec::new()
    } else {
        source.attachments_named(from, size).await?
    };
    let items = plan::plan(from, size, &attachments, options.plan);
    let total = items.len() as u64;
    let mut done = Published {
        from,
        size,
        ..Published::default()
    };
    progress(0, total);
    for (i, item) in items.iter().enumerate() {
        let path = item.path();
        let key = target.key(&path);
        let bytes = match item {
            Item::Checkpoint => note.clone(),
            _ => source.read(item).await?,
        };
        let len = bytes.len() as u64;
        if item.is_immutable()
            && state::holds(target.store.as_ref(), &key, len, options.backoff)
                .await
                .map_err(object_error(&path))?
        {
            done.objects_kept += 1;
        } else {
            put(target, &key, item, bytes, options.backoff)
                .await
                .map_err(object_error(&path))?;
            done.objects_written += 1;
            done.bytes_written += len;
        }
        progress(i as u64 + 1, total);
    }
    Ok(done)
}

async fn put(
    target: &Target,
    key: &object_store::path::Path,
    item: &Item,
    bytes: Vec<u8>,
    backoff: Backoff,
) -> Result<(), object_store::Error> {
    let payload = PutPayload::from(bytes);
    retry::with_retry(backoff, key.as_ref(), || {
        let options = headers::put_options(item, target.carries_headers);
        target.store.put_opts(key, payload.clone(), options)
    })
    .await
    .map(|_| ())
}

/// [`publish`] of a store, for synchronous callers (`dyad export tiles --to`).
pub fn publish_store_blocking(
    store: &dyad_ledger::store::Store,
    attachments: Option<&dyad_ledger::attachments::Attachments>,
    url: &str,
    options: &PublishOptions,
    progress: impl FnMut(u64, u64),
) -> Result<Published, PublishError> {
    let target = Target::open(url)?;
    let source = StoreSource {
        store,
        attachments,
        checks: crate::tile_check::TileChecks::default(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| PublishError::Node(e.to_string()))?;
    rt.block_on(publish(&source, &target, options, progress))
}
