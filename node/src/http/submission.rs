//! `POST /submit` and `POST /submit-batch` (the sequencer): the co-signer's signed
//! messages, handed to the batcher and answered with promises of inclusion.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use dyad_ledger::channel::Role;
use dyad_ledger::entry::key_change::KeyChange;
use dyad_ledger::entry::{Kind, SignedEntry, MAX_ENTRY_LEN};
use dyad_ledger::keys::SignerKey;
use dyad_ledger::wire::promise::{BatchPromise, Promise};
use dyad_ledger::wire::submit::{self, MAX_SUBMIT_BATCH_BYTES};
use dyad_verifier::key::{SignatureType, VerifierKey};
use tokio::sync::oneshot;

use super::body::{body_error, read_body};
use crate::response::{reject, text};
use crate::sequencer::{Item, Rejection, Reply, Submission};
use crate::Shared;

/// The entry key IDs a submission may be signed by: every key the co-signer has had
/// (a retired one is refused by the channel's rules, with that reason) and, within one
/// batch, the new key of a co-signer key change earlier in it (spec/dyad.md 3.7).
struct CosignerIds {
    ids: Vec<u32>,
    name: String,
}

impl CosignerIds {
    fn now(shared: &Shared) -> CosignerIds {
        let keys = shared.keys();
        CosignerIds {
            ids: keys.cosigner_ids.clone(),
            name: keys.cosigner_name.clone(),
        }
    }

    /// After `entry` (accepted as the co-signer's): a key change adds its new key.
    fn follow(&mut self, entry: &SignedEntry) {
        let b = &entry.entry.body;
        if b.kind != Kind::KeyChange {
            return;
        }
        let Ok(change) = KeyChange::decode(&b.payload) else {
            return;
        };
        if let Ok(key) = VerifierKey::new(&self.name, SignatureType::Ed25519, change.new_public_key)
        {
            self.ids.push(key.key_id());
        }
    }
}

/// Why a submitted entry cannot even be handed to the batcher: it does not decode, or it
/// is not the co-signer's entry for this channel (spec/node.md section 4).
fn precheck_submission(
    ids: &CosignerIds,
    shared: &Shared,
    bytes: &[u8],
) -> Result<SignedEntry, Rejection> {
    let refuse = |status: u16, reason, message: String| Rejection {
        status,
        reason,
        message,
    };
    let entry = SignedEntry::decode(bytes).map_err(|e| {
        refuse(
            400,
            "malformed-entry",
            format!("not a canonical dyad entry: {e}"),
        )
    })?;
    let b = &entry.entry.body;
    if b.origin != shared.origin {
        return Err(refuse(
            422,
            "wrong-origin",
            format!("the entry is for channel {:?}", b.origin),
        ));
    }
    if !ids.ids.contains(&b.sender) || b.kind == Kind::Genesis {
        return Err(refuse(
            403,
            "not-cosigner",
            format!("sender {:08x} is not this channel's co-signer", b.sender),
        ));
    }
    // The signature is verified by the batcher (`check_ahead.rs` while the batch before
    // is written, else `Channel::stage_each_checked`; over all cores), before anything is
    // written or promised.
    Ok(entry)
}

/// The submission's attachments are held here, fetched from the co-signer if not
/// (spec/node.md 2.2); a missing one is a temporary failure (503): the co-signer resubmits.
async fn hold_attachments(shared: &Arc<Shared>, entry: &SignedEntry) -> Result<(), Rejection> {
    let wanted = crate::attachment::named_by([entry]);
    crate::attachment::fetch_missing(shared, &wanted)
        .await
        .map_err(|e| Rejection {
            status: 503,
            reason: "attachment-missing",
            message: e.to_string(),
        })
}

/// Each framed entry checked statelessly, with its attachments held. The attachments are
/// fetched before any entry is handed to the batcher (not under its lock), in order: an
/// entry whose attachment is missing blocks those after it.
async fn precheck_with_attachments(
    shared: &Arc<Shared>,
    framed: &[&[u8]],
) -> Vec<Result<SignedEntry, Rejection>> {
    let mut prechecked = Vec::with_capacity(framed.len());
    let mut missing: Option<Rejection> = None;
    let mut ids = CosignerIds::now(shared);
    for bytes in framed {
        let entry = precheck_submission(&ids, shared, bytes);
        if let Ok(e) = &entry {
            ids.follow(e);
        }
        let checked = match (&missing, entry) {
            (Some(r), _) => Err(r.clone()),
            (None, Ok(entry)) => match hold_attachments(shared, &entry).await {
                Ok(()) => Ok(entry),
                Err(r) => {
                    missing = Some(r.clone());
                    Err(r)
                }
            },
            (None, Err(r)) => Err(r),
        };
        prechecked.push(checked);
    }
    prechecked
}

fn refuse(shared: &Shared, endpoint: &'static str, r: &Rejection) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
    reject(shared, endpoint, status, r.reason, &r.message)
}

fn not_sequencer(shared: &Shared, endpoint: &'static str) -> Response {
    reject(
        shared,
        endpoint,
        StatusCode::NOT_FOUND,
        "not-sequencer",
        "this node is a co-signer; submit to the sequencer",
    )
}

/// `POST /submit` on the sequencer: one entry signed by the co-signer; answered with a
/// signed promise of inclusion once the entry is durable.
pub(super) async fn submit(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    const EP: &str = "submit";
    if shared.role != Role::Sequencer {
        return not_sequencer(&shared, EP);
    }
    let body = match read_body(&shared, &headers, body, MAX_ENTRY_LEN).await {
        Ok(b) => b,
        Err(e) => return body_error(&shared, EP, e, MAX_ENTRY_LEN),
    };
    let entry = match precheck_submission(&CosignerIds::now(&shared), &shared, &body) {
        Ok(e) => e,
        Err(r) => return refuse(&shared, EP, &r),
    };
    if let Err(r) = hold_attachments(&shared, &entry).await {
        return refuse(&shared, EP, &r);
    }
    let leaf_hash = entry.leaf_hash;
    let appended = match enqueue(&shared, EP, Item::Signed(entry)).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let promise = Promise {
        origin: shared.origin.clone(),
        index: appended.index,
        leaf_hash,
    };
    tracing::debug!(
        index = appended.index,
        existing = appended.existing,
        "submission promised"
    );
    text(
        StatusCode::OK,
        "text/plain; charset=utf-8",
        sign_promise(&shared, |key, log_key| promise.sign(key, log_key)),
    )
}

/// `POST /submit-batch` on the sequencer (spec/node.md 4.2): up to `MAX_SUBMIT_BATCH` of
/// the co-signer's entries, each judged as `/submit` would judge it, in order; answered
/// once every accepted one is durable, with a result line per entry and one promise for
/// all the accepted ones (one signature instead of one per entry).
pub(super) async fn submit_batch(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    const EP: &str = "submit-batch";
    if shared.role != Role::Sequencer {
        return not_sequencer(&shared, EP);
    }
    let body = match read_body(&shared, &headers, body, MAX_SUBMIT_BATCH_BYTES).await {
        Ok(b) => b,
        Err(e) => return body_error(&shared, EP, e, MAX_SUBMIT_BATCH_BYTES),
    };
    let framed = match submit::parse_batch(&body) {
        Ok(f) => f,
        Err(e) => return reject(&shared, EP, StatusCode::BAD_REQUEST, "malformed-batch", e),
    };
    if shared.is_stopping() {
        return reject(
            &shared,
            EP,
            StatusCode::SERVICE_UNAVAILABLE,
            "stopping",
            "the node is stopping",
        );
    }
    // Handed over in order, so that the batcher appends them in sequence order, and after
    // the batch before (`submit_order.rs`: the co-signer keeps two in flight). Once one
    // cannot be handed over (the queue is full), neither are the later ones: they would
    // only meet a gap.
    let prechecked = precheck_with_attachments(&shared, &framed).await;
    let first = prechecked.iter().find_map(|c| c.as_ref().ok());
    if let Some(first) = first {
        let order = &shared.submit_order;
        order.wait_for_turn(first.entry.body.sequence).await;
    }
    let mut pending = Vec::with_capacity(prechecked.len());
    let mut blocked: Option<Rejection> = None;
    let mut last_handed = None;
    for checked in prechecked {
        let slot = match (&blocked, checked) {
            (Some(r), _) => Err(r.clone()),
            (None, Err(r)) => Err(r),
            (None, Ok(entry)) => {
                let (leaf_hash, sequence) = (entry.leaf_hash, entry.entry.body.sequence);
                match hand_over(&shared, Item::Signed(entry)) {
                    Ok(rx) => {
                        last_handed = Some(sequence);
                        Ok((leaf_hash, rx))
                    }
                    Err(r) => {
                        blocked = Some(r.clone());
                        Err(r)
                    }
                }
            }
        };
        pending.push(slot);
    }
    if let Some(last) = last_handed {
        shared.submit_order.handed_over(last);
    }
    let mut results = Vec::with_capacity(pending.len());
    let mut promised = Vec::new();
    for slot in pending {
        let reply = match slot {
            Ok((leaf_hash, rx)) => outcome(rx).await.map(|a| (leaf_hash, a)),
            Err(r) => Err(r),
        };
        results.push(match reply {
            Ok((leaf_hash, a)) => {
                promised.push((a.index, leaf_hash));
                submit::SubmitResult::Accepted { index: a.index }
            }
            Err(r) => {
                shared.metrics.reject(EP, r.reason);
                submit::SubmitResult::Refused {
                    status: r.status,
                    message: r.message,
                }
            }
        });
    }
    // A promise lists each entry once, by increasing index.
    promised.sort_unstable();
    promised.dedup();
    let promise = (!promised.is_empty()).then(|| BatchPromise {
        origin: shared.origin.clone(),
        entries: promised,
    });
    let promise = promise.map(|p| sign_promise(&shared, |key, log_key| p.sign(key, log_key)));
    text(
        StatusCode::OK,
        "text/plain; charset=utf-8",
        submit::SubmitResults { results, promise }.encode(),
    )
}

/// Signs a promise with the log's key now (the batcher may have changed it, spec/dyad.md
/// 3.7: the co-signer then checks it once it has the key change).
fn sign_promise<T>(shared: &Shared, sign: impl FnOnce(&SignerKey, &VerifierKey) -> T) -> T {
    let keys = shared.keys();
    sign(&keys.signer, &keys.log_key)
}

/// Hands an item to the batcher; the receiver gets its fate once it is durable or refused.
fn hand_over(shared: &Shared, item: Item) -> Result<oneshot::Receiver<Reply>, Rejection> {
    let unavailable = |reason, message: &str| Rejection {
        status: 503,
        reason,
        message: message.into(),
    };
    if shared.is_stopping() {
        return Err(unavailable("stopping", "the node is stopping"));
    }
    let Some(batcher) = &shared.batcher else {
        return Err(Rejection {
            status: 404,
            reason: "not-sequencer",
            message: "not the sequencer".into(),
        });
    };
    let (tx, rx) = oneshot::channel();
    match batcher.try_send(Submission { item, reply: tx }) {
        Ok(()) => Ok(rx),
        Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => Err(unavailable(
            "busy",
            "too many submissions waiting; retry later",
        )),
        Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => {
            Err(unavailable("stopping", "the node is stopping"))
        }
    }
}

/// Waits for the batcher's answer about one item.
async fn outcome(rx: oneshot::Receiver<Reply>) -> Reply {
    rx.await.unwrap_or_else(|_| {
        Err(Rejection {
            status: 503,
            reason: "stopping",
            message: "the node stopped before the entry was written; submit it again".into(),
        })
    })
}

/// Hands an item to the batcher and waits until it is durable (or refused).
pub(super) async fn enqueue(
    shared: &Arc<Shared>,
    endpoint: &'static str,
    item: Item,
) -> Result<dyad_ledger::channel::Appended, Response> {
    let rx = hand_over(shared, item).map_err(|r| refuse(shared, endpoint, &r))?;
    outcome(rx).await.map_err(|r| refuse(shared, endpoint, &r))
}
