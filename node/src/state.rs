//! The state a node's tasks and request handlers share ([`Shared`]), and the status it
//! reports.

use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use dyad_ledger::channel::{Channel, Role};
use dyad_ledger::tree::Hash;
use serde::Serialize;
use tokio::sync::{mpsc, watch, Notify};

use crate::cosigner::{evidence_store, promise_check};
use crate::{failure, io_err, listen, sequencer, tile_check, Metrics, NodeConfig, NodeError};

pub(crate) use dyad_ledger::clock::now_ms;

/// What the sequencer said about one of this co-signer's messages.
#[derive(Clone, Debug)]
pub(crate) struct PromiseRecord {
    pub index: u64,
    /// The promise note, shared by the entries of one batch.
    pub note: Arc<Vec<u8>>,
}

/// What the node knows of its peer.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PeerStatus {
    /// The peer's latest co-signed size, as last reported (sequencer only).
    pub cosigner_size: Option<u64>,
    /// The last error talking to the peer, if the last attempt failed.
    pub last_error: Option<String>,
    /// Consecutive failed attempts.
    pub failures: u64,
}

/// A snapshot of the node, as `GET /admin/status` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct NodeStatus {
    /// `sequencer` or `cosigner`.
    pub role: &'static str,
    /// The log's origin.
    pub origin: String,
    /// Entries in this replica.
    pub size: u64,
    /// Entries covered by the newest checkpoint signed by the log: what the tiles API serves.
    pub published_size: u64,
    /// Entries covered by the newest co-signed checkpoint: committed.
    pub committed_size: u64,
    /// This party's messages queued for the sequencer (co-signer only).
    pub queued: u64,
    /// The peer's base URL, once known.
    pub peer_url: Option<String>,
    /// What this node knows of its peer.
    pub peer: PeerStatus,
    /// `tls` (TLS 1.3, spec/node.md section 9) or `plain-http` (`--insecure-http`).
    pub transport: &'static str,
    /// The read API answers anyone (`--public-read`).
    pub public_read: bool,
    /// The pin of the node's TLS certificate (`sha256//…`), which read credentials carry.
    pub tls_pin: String,
    /// Setup warnings an operator should act on (e.g. plain HTTP).
    pub warnings: Vec<String>,
    /// Whether the node has confirmed with its peer that this replica holds everything
    /// this party signed (spec/node.md section 10); it signs nothing before.
    pub peer_check: crate::reconcile::PeerCheck,
    /// Why the last fetch of an attachment named by the peer's entry failed (spec/node.md
    /// 2.1): nothing naming it is co-signed or appended until it is held. Cleared once a fetch succeeds.
    pub last_attachment_error: Option<String>,
    /// The largest attachment of the channel (genesis), for a client storing one beside the node.
    pub max_attachment_size: u64,
    /// The largest payload of the channel (genesis), for a client choosing between a
    /// payload and an attachment.
    pub max_payload: u32,
    /// Publishing to object storage (`--publish`), when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publish: Option<PublishStatus>,
    /// The witnesses of the next checkpoint and their threshold (spec 7, spec/dyad.md 3.8);
    /// sequencer: what each last did.
    pub witnesses: crate::witnessing::status::WitnessesStatus,
}

/// Publishing to object storage, as `GET /admin/status` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct PublishStatus {
    /// The target (`s3://…` or `file:///…`; it holds no secret).
    pub url: String,
    /// Hash tiles and checkpoints only.
    pub hash_only: bool,
    /// The size of the checkpoint last published.
    pub published_size: u64,
    /// Committed entries not yet published.
    pub lag: u64,
    /// Publishes that failed after their retries.
    pub errors: u64,
    /// Why the last publish failed, cleared by the next that succeeds.
    pub last_error: Option<String>,
}

/// State shared by the node's tasks and request handlers.
pub(crate) struct Shared {
    pub(crate) ledger: RwLock<Option<Channel>>,
    pub role: Role,
    pub origin: String,
    /// The keys the node signs and checks with now ([`Shared::keys`]), from the
    /// replica's key state; they follow key changes (`keys.rs`).
    pub(crate) keys: RwLock<Arc<crate::keys::NodeKeys>>,
    /// The private keys the node holds: the configured one, those before it, and any
    /// given to `rotate-key` since the start.
    pub(crate) held_keys: crate::keys::HeldKeys,
    /// The node's TLS identity, acceptor and peer verifier.
    pub link: crate::link::Link,
    /// The credential store, as `dyad access` last wrote it.
    pub access: crate::read_access::ReadAccess,
    pub config: NodeConfig,
    pub data_dir: PathBuf,
    pub admin_token: String,
    /// Tiles are served for trees up to this size.
    pub published: AtomicU64,
    pub committed: watch::Sender<u64>,
    /// When (ms since the epoch) the last "committed" line was logged: at most one a second.
    pub commit_logged_ms: AtomicU64,
    pub peer_url: RwLock<Option<String>>,
    pub peer: Mutex<PeerStatus>,
    pub http: reqwest::Client,
    pub metrics: Metrics,
    /// Full tiles and bundles checked against the tree before they were served.
    pub tile_checks: tile_check::TileChecks,
    pub(crate) stopping: AtomicBool,
    pub(crate) shutdown: watch::Sender<bool>,
    /// Sequencer: the batcher's input.
    pub batcher: Option<mpsc::Sender<sequencer::Submission>>,
    /// Sequencer: submit-batch requests hand over their entries in sequence order.
    pub submit_order: sequencer::submit_order::SubmitOrder,
    /// Sequencer: new signed checkpoints to send.
    pub wake_committer: Notify,
    /// Co-signer: new queued messages to submit.
    pub wake_submitter: Notify,
    /// Co-signer: promises received, by leaf hash; `promise_events` ticks on each.
    pub promises: Mutex<HashMap<Hash, PromiseRecord>>,
    pub promise_events: watch::Sender<u64>,
    /// Co-signer: one add-checkpoint at a time (check `old`, fetch, store: atomically).
    pub cosign_lock: tokio::sync::Mutex<()>,
    /// Request bodies being buffered, over all connections, take their bytes from here.
    pub body_budget: listen::BodyBudget,
    /// The TAXII feed of the committed indicators (spec/node.md section 11).
    pub taxii: crate::taxii::Feed,
    /// The peer check (spec/node.md section 10): nothing is signed until it allows.
    pub peer_check: watch::Sender<crate::reconcile::PeerCheck>,
    /// Set when the node stopped itself because its store cannot be written safely.
    pub(crate) failure: failure::Failure,
    /// The evidence directory, with its cap.
    pub evidence: evidence_store::EvidenceStore,
    /// Co-signer: the sequencer's promises by index, checked before co-signing.
    pub promise_book: promise_check::PromiseBook,
    /// Why the last publish to object storage failed (`--publish`).
    pub last_publish_error: Mutex<Option<String>>,
    /// The attachment store, `<data_dir>/attachments`.
    pub attachments: dyad_ledger::attachments::Attachments,
    /// Why the last fetch of a peer's attachment failed, until one succeeds.
    pub last_attachment_error: Mutex<Option<String>>,
    /// The current witnesses' status (sequencer: what each did; co-signer: names only).
    pub witnesses: Mutex<crate::witnessing::status::WitnessesStatus>,
    /// A co-signed checkpoint awaits witnesses (sequencer) or the witnessed note (co-signer).
    pub wake_witnessing: Notify,
    /// Sequencer: the witnesses' add-checkpoint URLs in force, by key name.
    pub(crate) witness_urls: crate::witnessing::urls::WitnessUrls,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    /// Runs `f` on the replica on a blocking thread, under the shared lock.
    pub async fn read<T, F>(self: &Arc<Self>, f: F) -> Result<T, NodeError>
    where
        F: FnOnce(&Channel) -> Result<T, NodeError> + Send + 'static,
        T: Send + 'static,
    {
        let shared = self.clone();
        tokio::task::spawn_blocking(move || {
            let guard = shared
                .ledger
                .read()
                .map_err(|_| NodeError::Task("ledger lock poisoned".into()))?;
            f(guard.as_ref().ok_or(NodeError::Stopped)?)
        })
        .await
        .map_err(|e| NodeError::Task(e.to_string()))?
    }

    /// Runs `f` on the replica on a blocking thread, under the exclusive lock.
    pub async fn write<T, F>(self: &Arc<Self>, f: F) -> Result<T, NodeError>
    where
        F: FnOnce(&mut Channel) -> Result<T, NodeError> + Send + 'static,
        T: Send + 'static,
    {
        let shared = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = shared
                .ledger
                .write()
                .map_err(|_| NodeError::Task("ledger lock poisoned".into()))?;
            let ch = guard.as_mut().ok_or(NodeError::Stopped)?;
            let result = f(ch);
            // A failed commit may be answered inside `f` (e.g. as refusals): look anyway.
            failure::check_after_write(&shared, ch);
            shared.follow_key_changes(ch);
            result
        })
        .await
        .map_err(|e| NodeError::Task(e.to_string()))?
    }

    pub fn peer_url(&self) -> Option<String> {
        self.peer_url
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    pub(crate) fn begin_stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.shutdown.send_replace(true);
        self.wake_committer.notify_one();
        self.wake_submitter.notify_one();
        self.wake_witnessing.notify_one();
    }

    /// Resolves once the node is stopping.
    pub async fn stopped(&self) {
        let mut rx = self.shutdown.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Records a new committed size (and wakes whoever waits for it).
    pub fn set_committed(&self, size: u64) {
        Metrics::set(&self.metrics.committed_size, size);
        let grew = self.committed.send_if_modified(|c| {
            let grew = size > *c;
            if grew {
                *c = size;
            }
            grew
        });
        // An operator sees the log advance without a line per batch under load.
        let now = now_ms();
        let last = self.commit_logged_ms.load(Ordering::Relaxed);
        if grew
            && now >= last.saturating_add(1000)
            && self
                .commit_logged_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::info!(committed = size, "entries committed (co-signed)");
        }
    }

    pub fn set_published(&self, size: u64) {
        self.published.fetch_max(size, Ordering::SeqCst);
    }

    pub fn published(&self) -> u64 {
        self.published.load(Ordering::SeqCst)
    }

    pub fn set_peer_check(&self, state: crate::reconcile::PeerCheck) {
        self.peer_check.send_replace(state);
    }

    /// Why the node may not sign anything yet (the peer check has not allowed it), if so.
    pub fn signing_blocked(&self) -> Option<String> {
        self.peer_check.borrow().blocks_signing()
    }

    pub fn peer_ok(&self) {
        let mut p = lock(&self.peer);
        if p.failures > 0 {
            tracing::info!(failed_attempts = p.failures, "the peer answers again");
        }
        p.last_error = None;
        p.failures = 0;
    }

    pub fn peer_failed(&self, error: String) {
        let mut p = lock(&self.peer);
        p.last_error = Some(error);
        p.failures += 1;
    }

    pub async fn status(self: &Arc<Self>) -> Result<NodeStatus, NodeError> {
        let (size, committed_size, queued, max_payload, witness_keys, witness_threshold) = self
            .read(|ch| {
                // Counted, not decoded: a long queue made every status call decode it all
                // under the read lock.
                let queued = if ch.role() == Role::Cosigner {
                    ch.queued_len()? as u64
                } else {
                    0
                };
                let max_payload = ch.genesis().max_payload;
                Ok((
                    ch.size(),
                    ch.committed_size()?,
                    queued,
                    max_payload,
                    ch.witness_keys().to_vec(),
                    ch.witness_threshold(),
                ))
            })
            .await?;
        // The witnesses of the next checkpoint (a witness change may have just changed them).
        crate::witnessing::follow_set_status(self, &witness_keys, witness_threshold);
        Ok(NodeStatus {
            role: self.role.as_str(),
            origin: self.origin.clone(),
            size,
            published_size: self.published(),
            committed_size,
            queued,
            peer_url: self.peer_url(),
            peer: lock(&self.peer).clone(),
            transport: if self.config.insecure_http {
                "plain-http"
            } else {
                "tls"
            },
            public_read: self.config.public_read,
            tls_pin: self.link.pin(),
            warnings: self.setup_warnings(),
            peer_check: self.peer_check.borrow().clone(),
            last_attachment_error: lock(&self.last_attachment_error).clone(),
            max_attachment_size: self.attachments.max_size(),
            max_payload,
            publish: self.config.publish.as_ref().map(|p| {
                let published = self.metrics.publish_size.load(Ordering::Relaxed);
                PublishStatus {
                    url: p.url.clone(),
                    hash_only: p.hash_only,
                    published_size: published,
                    lag: committed_size.saturating_sub(published),
                    errors: self.metrics.publish_errors.load(Ordering::Relaxed),
                    last_error: lock(&self.last_publish_error).clone(),
                }
            }),
            witnesses: lock(&self.witnesses).clone(),
        })
    }

    fn setup_warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.config.insecure_http {
            warnings.push("the public listener serves plain HTTP (--insecure-http): the node cannot authenticate clients and serves every request as the peer's; only a TLS-terminating proxy that admits the peer and readers alone may stand in front of it".to_owned());
        }
        warnings
    }

    /// Writes `bytes` to `<data_dir>/<dir>/<name>` unless it exists (first copy wins),
    /// whole or not at all (temporary file, fsync, link into place, fsync of the directory).
    pub fn keep_file(&self, dir: &str, name: &str, bytes: &[u8]) -> Result<(), NodeError> {
        let dir = self.data_dir.join(dir);
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let path = dir.join(name);
        evidence_store::write_atomic(&path, bytes)
            .map(|_| ())
            .map_err(io_err(&path))
    }
}

/// The size of the newest checkpoint the log signed (sequencer) or this co-signer accepted.
pub(crate) fn signed_size(ch: &Channel) -> Result<u64, NodeError> {
    let from_note = ch
        .latest_signed_checkpoint()?
        .and_then(|note| dyad_verifier::checkpoint::parse_note(&note).ok())
        .map(|c| c.size);
    Ok(from_note.unwrap_or(0).max(ch.committed_size()?))
}
