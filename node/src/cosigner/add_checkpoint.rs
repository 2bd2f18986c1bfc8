//! C2SP tlog-witness `POST /add-checkpoint` on the co-signer, in stages: the request is
//! parsed ([`parse`]), its checkpoint checked as the log's ([`check_signed`]), compared with
//! this replica ([`check_against_replica`], keeping evidence of any conflict), the new
//! entries fetched from the sequencer ([`fetch_new_entries`]) and checked against its
//! promises, their attachments fetched ([`hold_attachments`]), then stored and co-signed ([`store_and_cosign`]).

// A refusal is a ready response; each stage returns it as is, once per request.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;
use dyad_ledger::channel::{ChannelError, CheckedSignatures, Role};
use dyad_ledger::entry::key_change::KeyChange;
use dyad_ledger::entry::{Kind, SignedEntry};
use dyad_ledger::tree::Hash;
use dyad_ledger::wire::witness::AddCheckpoint;
use dyad_verifier::checkpoint::Checkpoint;
use dyad_verifier::equivocation::{self, Contradiction};
use dyad_verifier::key::{SignatureType, VerifierKey};
use dyad_verifier::proof::verify_consistency;

use super::evidence_store::Kept;
use super::fetch::{self, FetchError};
use super::promise_check;
use crate::attachment;
use crate::check_ahead::check_incoming;
use crate::metrics::Metrics;
use crate::response::{reject, size_conflict, text};
use crate::{now_ms, NodeError, Shared};

const EP: &str = "add-checkpoint";

/// A stage's refusal: the response to answer with.
type Refused = Response;

/// Keeps a request whose checkpoint the log signed but which conflicts with this replica
/// (or comes with a proof that does not verify): it may be evidence of equivocation. The
/// file is named by what conflicts (`reason`, the sizes, the log's root and this
/// replica's), so the same conflict in other request bodies keeps the first file only.
fn keep_evidence(shared: &Shared, reason: &str, sizes: &str, roots: (&Hash, &Hash), body: &[u8]) {
    let name = format!(
        "{reason}-{sizes}-{}-{}.txt",
        hex::encode(&roots.0[..8]),
        hex::encode(&roots.1[..8])
    );
    match shared
        .evidence
        .keep(&name, body, &shared.metrics, "conflicting checkpoint")
    {
        Ok(Kept::New) => {
            tracing::warn!(file = %name, "kept a sequencer-signed checkpoint that conflicts with this replica as evidence")
        }
        Ok(Kept::Exists | Kept::Full) => {}
        Err(e) => tracing::error!(error = %e, file = %name, "cannot keep evidence"),
    }
}

/// Two notes signed by the log for one size with different roots: a portable
/// `dyad-equivocation/v1` file (spec/evidence.md) that anyone can check with the log key.
fn keep_equivocation(
    shared: &Shared,
    size: u64,
    roots: (&Hash, &Hash),
    ours: &[u8],
    theirs: &[u8],
) {
    let evidence = equivocation::build(ours, theirs, &Contradiction::SameSize);
    // The log key at `size` signed both: one of the keys the sequencer has had.
    if shared
        .any_log_key(|k| equivocation::verify(&evidence, k).ok())
        .is_none()
    {
        tracing::error!(
            size,
            "the conflicting checkpoints do not make verifiable evidence under any log key"
        );
        return;
    }
    let name = format!(
        "equivocation-{size}-{}-{}.dyad-equivocation",
        hex::encode(&roots.0[..8]),
        hex::encode(&roots.1[..8])
    );
    match shared
        .evidence
        .keep(&name, &evidence, &shared.metrics, "equivocation")
    {
        Ok(Kept::New) => {
            tracing::error!(file = %name, size, "the log signed two different trees of one size: evidence of equivocation kept")
        }
        Ok(Kept::Exists | Kept::Full) => {}
        Err(e) => tracing::error!(error = %e, file = %name, "cannot keep evidence"),
    }
}

fn internal(shared: &Shared, e: NodeError) -> Response {
    match e {
        NodeError::Stopped => reject(
            shared,
            EP,
            StatusCode::SERVICE_UNAVAILABLE,
            "stopping",
            "the node is stopping",
        ),
        e => reject(shared, EP, StatusCode::INTERNAL_SERVER_ERROR, "internal", e),
    }
}

/// `POST /add-checkpoint` (C2SP tlog-witness), on the co-signer.
pub(crate) async fn add_checkpoint(shared: Arc<Shared>, body: Bytes) -> Response {
    match add_checkpoint_stages(&shared, &body).await {
        Ok(cosignature) => cosignature,
        Err(refused) => refused,
    }
}

async fn add_checkpoint_stages(shared: &Arc<Shared>, body: &[u8]) -> Result<Response, Refused> {
    check_serving(shared)?;
    let (req, checkpoint) = parse(shared, body)?;
    let signed = check_signed(shared, &req, &checkpoint)?;
    // From here to the store, one request at a time: `old` must still be our size when
    // the new entries are stored (tlog-witness: check and persist atomically).
    let _serial = shared.cosign_lock.lock().await;
    let replica = read_replica(shared, &checkpoint).await?;
    let held = replica.held;
    let entries = match signed {
        LogSigned::ByCurrentKey => {
            check_against_replica(shared, &req, &checkpoint, &replica, body)?;
            fetch_new_entries(shared, held, checkpoint.size).await?
        }
        LogSigned::Unknown(why) => {
            let entries = fetch_for_new_log_key(shared, &req, &checkpoint, held, why).await?;
            check_against_replica(shared, &req, &checkpoint, &replica, body)?;
            entries
        }
    };
    // The entries' signatures are checked meanwhile, outside the replica's lock (all but
    // our own queued messages, which we signed).
    let entries = Arc::new(entries);
    let check = shared.incoming_check(entries.clone()).await;
    let (ahead, ready) = tokio::join!(check_incoming(check, entries.clone()), async {
        promise_check::check_new_entries(shared, held, &entries, &req.note).await?;
        hold_attachments(shared, &entries).await
    });
    ready?;
    Ok(store_and_cosign(shared, held, (entries, ahead), req.note).await)
}

/// Only a co-signer that is not stopping takes add-checkpoint.
fn check_serving(shared: &Shared) -> Result<(), Refused> {
    if shared.role != Role::Cosigner {
        return Err(reject(
            shared,
            EP,
            StatusCode::NOT_FOUND,
            "not-cosigner",
            "this node is the log's sequencer, not a co-signer",
        ));
    }
    if shared.is_stopping() {
        return Err(reject(
            shared,
            EP,
            StatusCode::SERVICE_UNAVAILABLE,
            "stopping",
            "the node is stopping",
        ));
    }
    Ok(())
}

/// The request body, and the checkpoint its note carries (signatures not checked yet).
fn parse(shared: &Shared, body: &[u8]) -> Result<(AddCheckpoint, Checkpoint), Refused> {
    let bad = |reason, e: &dyn std::fmt::Display| {
        reject(shared, EP, StatusCode::BAD_REQUEST, reason, e.to_string())
    };
    let req = AddCheckpoint::parse(body).map_err(|e| bad("malformed", &e))?;
    use dyad_verifier::checkpoint::{parse_note, CheckpointNoteError};
    let checkpoint = parse_note(&req.note).map_err(|e| match &e {
        CheckpointNoteError::Note(inner) => bad("malformed-note", inner),
        CheckpointNoteError::Checkpoint(inner) => bad("malformed-checkpoint", inner),
        _ => bad("malformed-checkpoint", &e),
    })?;
    Ok((req, checkpoint))
}

/// Whether a checkpoint is signed by the log key this replica knows.
enum LogSigned {
    ByCurrentKey,
    /// Not by it (why not): only a sequencer key change among the new entries can make
    /// it the log's (spec/dyad.md 3.7).
    Unknown(String),
}

/// The checkpoint is this log's and `old` is not beyond it; whether the log key signed it.
fn check_signed(
    shared: &Shared,
    req: &AddCheckpoint,
    checkpoint: &Checkpoint,
) -> Result<LogSigned, Refused> {
    if checkpoint.origin != shared.origin {
        return Err(reject(
            shared,
            EP,
            StatusCode::NOT_FOUND,
            "unknown-origin",
            format!("unknown origin {:?}", checkpoint.origin),
        ));
    }
    if req.old > checkpoint.size {
        return Err(reject(
            shared,
            EP,
            StatusCode::BAD_REQUEST,
            "old-beyond-size",
            format!(
                "old size {} is above the checkpoint's size {}",
                req.old, checkpoint.size
            ),
        ));
    }
    Ok(match signed_by(&req.note, &shared.keys().log_key) {
        Ok(()) => LogSigned::ByCurrentKey,
        Err(why) => LogSigned::Unknown(why),
    })
}

/// Whether `key` signed `note`, or why not.
fn signed_by(note: &[u8], key: &VerifierKey) -> Result<(), String> {
    match dyad_verifier::note::verify(note, std::slice::from_ref(key)) {
        Ok(v) if v.verified.iter().any(|s| s.key == *key) => Ok(()),
        Ok(_) => Err("the checkpoint is not signed by the log key".into()),
        Err(e) => Err(e.to_string()),
    }
}

fn bad_signature(shared: &Shared, why: impl std::fmt::Display) -> Refused {
    reject(shared, EP, StatusCode::FORBIDDEN, "bad-signature", why)
}

/// A checkpoint not signed by the log key this replica knows: the new entries are fetched
/// first (from the sequencer, within one step) and the checkpoint must be signed by the
/// new log key of a key change among them; the channel then checks that key change and
/// every other rule before anything is stored. Otherwise it is refused as unsigned.
async fn fetch_for_new_log_key(
    shared: &Shared,
    req: &AddCheckpoint,
    checkpoint: &Checkpoint,
    held: u64,
    why: String,
) -> Result<Vec<SignedEntry>, Refused> {
    let step = shared.config.max_cosign_step.max(1);
    if req.old != held || checkpoint.size <= held || checkpoint.size - held > step {
        return Err(bad_signature(shared, why));
    }
    // A note signed by nobody known is refused as such, whatever the fetch says.
    let entries = fetch_new_entries(shared, held, checkpoint.size)
        .await
        .map_err(|_| bad_signature(shared, &why))?;
    let signed = entries
        .iter()
        .filter_map(|e| new_log_key(&shared.origin, e))
        .any(|key| signed_by(&req.note, &key).is_ok());
    if !signed {
        return Err(bad_signature(shared, why));
    }
    Ok(entries)
}

/// The log key a key-change entry would make, were it the sequencer's.
fn new_log_key(origin: &str, e: &SignedEntry) -> Option<VerifierKey> {
    if e.entry.body.kind != Kind::KeyChange {
        return None;
    }
    let change = KeyChange::decode(&e.entry.body.payload).ok()?;
    VerifierKey::new(origin, SignatureType::Ed25519, change.new_public_key).ok()
}

/// What this replica holds, as far as one checkpoint is concerned.
struct Replica {
    /// Entries held.
    held: u64,
    /// The root of the tree held.
    root: Hash,
    /// The root of this replica's tree at the checkpoint's size, when it holds that many.
    root_at_size: Option<Hash>,
    /// This replica's co-signed note for the checkpoint's size, when its root differs:
    /// with the request's, proof of equivocation.
    conflicting_note: Option<Vec<u8>>,
}

async fn read_replica(shared: &Arc<Shared>, checkpoint: &Checkpoint) -> Result<Replica, Refused> {
    let size = checkpoint.size;
    let root = checkpoint.root;
    let replica = shared
        .read(move |ch| {
            let held = ch.size();
            let root_at_size = if size <= held {
                Some(ch.store().root_at(size).map_err(ChannelError::from)?)
            } else {
                None
            };
            let conflicting_note = match root_at_size {
                Some(r) if r != root => ch.store().checkpoint(size).map_err(ChannelError::from)?,
                _ => None,
            };
            Ok(Replica {
                held,
                root: ch.store().root(),
                root_at_size,
                conflicting_note,
            })
        })
        .await;
    replica.map_err(|e| internal(shared, e))
}

/// The checkpoint agrees with this replica: the same root at its size if held, `old` is
/// this replica's size, the consistency proof from there verifies, and the step is within
/// bounds. A log-signed conflict is kept as evidence.
fn check_against_replica(
    shared: &Shared,
    req: &AddCheckpoint,
    checkpoint: &Checkpoint,
    replica: &Replica,
    body: &[u8],
) -> Result<(), Refused> {
    let (size, held) = (checkpoint.size, replica.held);
    if let Some(root) = replica.root_at_size.filter(|r| *r != checkpoint.root) {
        keep_evidence(
            shared,
            "conflict",
            &size.to_string(),
            (&checkpoint.root, &root),
            body,
        );
        if let Some(ours) = &replica.conflicting_note {
            keep_equivocation(shared, size, (&root, &checkpoint.root), ours, &req.note);
        }
        return Err(size_conflict(
            shared,
            EP,
            "conflicting-root",
            held,
            format!("the log signed size {size} with a root that differs from this replica's"),
        ));
    }
    if req.old != held {
        return Err(size_conflict(
            shared,
            EP,
            "old-size-mismatch",
            held,
            format!("old size {} is not this co-signer's size {held}", req.old),
        ));
    }
    if size > held {
        if let Err(e) = verify_consistency(held, size, &replica.root, &checkpoint.root, &req.proof)
        {
            let sizes = format!("{size}-from-{held}");
            let roots = (&checkpoint.root, &replica.root);
            keep_evidence(shared, "inconsistent", &sizes, roots, body);
            return Err(reject(
                shared,
                EP,
                StatusCode::UNPROCESSABLE_ENTITY,
                "bad-consistency-proof",
                format!("the consistency proof from {held} to {size} does not verify: {e}"),
            ));
        }
    }
    let step = shared.config.max_cosign_step.max(1);
    if size - held > step {
        return Err(reject(
            shared,
            EP,
            StatusCode::UNPROCESSABLE_ENTITY,
            "step-too-large",
            format!(
                "{} new entries at once; this co-signer takes at most {step} per checkpoint",
                size - held
            ),
        ));
    }
    Ok(())
}

/// The entries `held..size` from the sequencer's tiles API, each decoded, within the
/// byte bound of one step.
async fn fetch_new_entries(
    shared: &Shared,
    held: u64,
    size: u64,
) -> Result<Vec<SignedEntry>, Refused> {
    if size <= held {
        return Ok(Vec::new());
    }
    let Some(peer) = shared.peer_url() else {
        return Err(reject(
            shared,
            EP,
            StatusCode::SERVICE_UNAVAILABLE,
            "no-peer-url",
            "this co-signer does not know the sequencer's URL to fetch the entries from",
        ));
    };
    fetch::new_entries(shared, &peer, held, size)
        .await
        .map_err(|e| {
            let (status, reason) = match &e {
                FetchError::TooLarge { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "step-too-large"),
                FetchError::Malformed { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "bad-entries"),
                FetchError::Client(_) => {
                    let message =
                        format!("cannot fetch entries {held}..{size} from the sequencer: {e}");
                    return reject(shared, EP, StatusCode::BAD_GATEWAY, "fetch-failed", message);
                }
            };
            reject(shared, EP, status, reason, e)
        })
}

/// Every attachment the new entries name is held here before they are co-signed
/// (spec/node.md 2.2), fetched from the sequencer if not. A missing or wrong one is a
/// temporary failure (503): the sequencer retries the checkpoint.
async fn hold_attachments(shared: &Arc<Shared>, entries: &[SignedEntry]) -> Result<(), Refused> {
    let wanted = attachment::named_by(entries);
    attachment::fetch_missing(shared, &wanted)
        .await
        .map_err(|e| {
            let status = StatusCode::SERVICE_UNAVAILABLE;
            reject(shared, EP, status, "attachment-missing", e)
        })
}

/// Stores the new entries and the checkpoint with this co-signer's cosignature in one
/// durable batch (`Channel::accept_decoded_and_cosign`: the signatures `ahead` found good
/// are not checked again under the lock), and answers with the cosignature lines.
async fn store_and_cosign(
    shared: &Arc<Shared>,
    held: u64,
    (entries, ahead): (Arc<Vec<SignedEntry>>, CheckedSignatures),
    note: Vec<u8>,
) -> Response {
    let s = shared.clone();
    let result = shared
        .write(move |ch| {
            // The key this party signs with now: its own key change may be among the
            // entries (then it is the new key, queued before, spec 3.7).
            let key = s.keys().signer.clone();
            let cosigned =
                ch.accept_decoded_and_cosign(&key, &entries, &note, (now_ms(), &ahead))?;
            let lines = ch.own_cosignature_lines(&cosigned)?;
            Ok((lines, ch.committed_size()?, ch.size()))
        })
        .await;
    match result {
        Ok((lines, committed, new_size)) => {
            Metrics::inc(&shared.metrics.entries, new_size - held);
            Metrics::inc(&shared.metrics.checkpoints_committed, 1);
            Metrics::set(&shared.metrics.log_size, new_size);
            shared.set_published(new_size);
            shared.set_committed(committed);
            shared.wake_witnessing.notify_one();
            shared.promise_book.settle(new_size);
            tracing::debug!(size = new_size, new_entries = new_size - held, "co-signed");
            text(StatusCode::OK, "text/plain; charset=utf-8", lines)
        }
        Err(NodeError::Channel(e)) => {
            let (status, reason) = match &e {
                ChannelError::RootMismatch { .. } => {
                    (StatusCode::UNPROCESSABLE_ENTITY, "root-mismatch")
                }
                ChannelError::Rollback { held, .. } => {
                    return size_conflict(shared, EP, "rollback", *held, e);
                }
                ChannelError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "store"),
                _ => (StatusCode::UNPROCESSABLE_ENTITY, "bad-entries"),
            };
            reject(shared, EP, status, reason, e)
        }
        Err(e) => internal(shared, e),
    }
}
