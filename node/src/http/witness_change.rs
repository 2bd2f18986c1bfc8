//! The witness-change routes (spec/node.md 5.6; spec/dyad.md 3.8). A witness change is
//! made by one party and approved by the other:
//!
//! - `POST /admin/witness-change/approve` on the approving party's node: the node checks
//!   the proposed set (the record's form rules and `WitnessKeyReused`) and signs the
//!   witness-change statement for the channel's next witness-change number with its
//!   current key. An approval is no entry or checkpoint signature (spec/dyad.md 3.8: two
//!   approvals under one number are no conflict of section 10).
//! - `POST /admin/witness-change` on the sending party's node: the node drafts the entry
//!   with that approval, checks it against every rule of the channel (the approval
//!   under the other party's current key included), then appends it (sequencer, through
//!   the batcher like `/admin/append`) or queues it for the sequencer (co-signer).
//!
//! Witness URLs given in either request are stored by the sequencer's node (the channel
//! names witnesses by key only; spec/node.md 3.2), before anything is signed or appended.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use dyad_ledger::channel::{ChannelError, EntryRefusal, Role};
use dyad_ledger::entry::witness_change::{self, WitnessChangeError};
use dyad_ledger::entry::Draft;
use dyad_ledger::genesis::Party;
use dyad_verifier::key::VerifierKey;

use super::admin::authorized_body;
use super::submission::enqueue;
use crate::admin::{
    Approver, WitnessChangeApproval, WitnessChangeApproveRequest, WitnessChangeResponse,
    WitnessSpec,
};
use crate::response::{json, reject, unavailable};
use crate::sequencer::Item;
use crate::witnessing::urls::WitnessUrlError;
use crate::{now_ms, NodeError, Shared};

/// The endpoints' names in metrics and logs.
const APPROVE: &str = "admin-witness-change-approve";
const CHANGE: &str = "admin-witness-change";
/// At most 32 witnesses of a name (255 bytes), a key string and a URL (2048 bytes) each,
/// and as many URLs again by name: well under this.
const MAX_WITNESS_CHANGE_BODY: usize = 256 * 1024;
/// More URLs by name than this is no witness set (spec/dyad.md 3.8: 0..=32 witnesses).
const MAX_WITNESS_URLS: usize = 32;

/// A refusal to answer with.
type Refused = Box<Response>;

/// `POST /admin/witness-change/approve`: this party approves the witness set of the body
/// for the other party's next witness change.
pub(super) async fn admin_approve(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let body =
        match authorized_body(&shared, &headers, body, APPROVE, MAX_WITNESS_CHANGE_BODY).await {
            Ok(b) => b,
            Err(r) => return r,
        };
    match approve(&shared, &body).await {
        Ok(approval) => {
            tracing::info!(
                number = approval.number,
                witnesses = approval.witnesses.len(),
                threshold = approval.witness_threshold,
                "witness change approved through the admin API"
            );
            json(StatusCode::OK, &approval)
        }
        Err(r) => *r,
    }
}

async fn approve(shared: &Arc<Shared>, body: &[u8]) -> Result<WitnessChangeApproval, Refused> {
    let bad = |reason, message: String| {
        Box::new(reject(
            shared,
            APPROVE,
            StatusCode::BAD_REQUEST,
            reason,
            message,
        ))
    };
    let req: WitnessChangeApproveRequest = serde_json::from_slice(body).map_err(|e| {
        bad(
            "bad-json",
            format!("not a witness-change approval request: {e}"),
        )
    })?;
    let witnesses = parse_witnesses(&req.witnesses).map_err(|m| bad("bad-witness", m))?;
    let urls = urls_of(&req.witnesses, &BTreeMap::new(), &witnesses)
        .map_err(|m| bad("bad-witness-url", m))?;
    let threshold = req.witness_threshold;
    // The number and the checks come from the same state of the replica.
    let list = witnesses.clone();
    let number = shared
        .read(move |ch| {
            let number = ch.next_witness_change_number();
            let unsigned = witness_change::payload(number, &list, threshold, [0; 64]);
            if let Err(e) = unsigned.check_terms() {
                return Ok(Err(Refusal::Form(e)));
            }
            if let Err(e) = ch.check_witness_list(&list) {
                return Ok(Err(Refusal::Channel(e)));
            }
            Ok(Ok(number))
        })
        .await
        .map_err(|e| Box::new(unavailable(shared, APPROVE, e)))?
        .map_err(|r| Box::new(r.answer(shared, APPROVE)))?;
    store_urls(shared, APPROVE, &urls)?;
    let signer = shared.keys().signer.clone();
    let approval = witness_change::approve(&signer, &shared.origin, number, &witnesses, threshold);
    Ok(WitnessChangeApproval {
        origin: shared.origin.clone(),
        number,
        witnesses: witnesses
            .iter()
            .map(|w| WitnessSpec {
                name: w.name.clone(),
                public_key: STANDARD.encode(w.public_key),
                url: urls.get(&w.name).cloned(),
            })
            .collect(),
        witness_threshold: threshold,
        approval: STANDARD.encode(approval),
        approver: Approver {
            name: signer.name().to_owned(),
            key_id: format!("{:08x}", signer.key_id()),
        },
        witness_urls: BTreeMap::new(),
    })
}

/// `POST /admin/witness-change`: this party makes the witness change the other party
/// approved.
pub(super) async fn admin_witness_change(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let body = match authorized_body(&shared, &headers, body, CHANGE, MAX_WITNESS_CHANGE_BODY).await
    {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (number, draft, urls) = match parse_change(&shared, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    if let Err(r) = check(&shared, &draft).await {
        return *r;
    }
    let stored_urls = match store_urls(&shared, CHANGE, &urls) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let made = match shared.role {
        Role::Sequencer => append(&shared, draft).await,
        Role::Cosigner => queue(&shared, draft).await,
    };
    match made {
        Ok((state, index, sequence, leaf_hash)) => {
            tracing::info!(number, state, "witness change made through the admin API");
            json(
                StatusCode::OK,
                &WitnessChangeResponse {
                    state: state.into(),
                    index,
                    sequence,
                    number,
                    leaf_hash: hex::encode(leaf_hash),
                    stored_urls,
                },
            )
        }
        Err(r) => *r,
    }
}

/// The request's witness change as a draft (its number first), and the URLs it gives.
fn parse_change(
    shared: &Shared,
    body: &[u8],
) -> Result<(u32, Draft, BTreeMap<String, String>), Refused> {
    let bad = |reason, message: String| {
        Box::new(reject(
            shared,
            CHANGE,
            StatusCode::BAD_REQUEST,
            reason,
            message,
        ))
    };
    let req: WitnessChangeApproval = serde_json::from_slice(body)
        .map_err(|e| bad("bad-json", format!("not a witness-change approval: {e}")))?;
    if req.origin != shared.origin {
        let message = format!(
            "the approval is for channel {:?}, not this node's {:?}",
            req.origin, shared.origin
        );
        return Err(Box::new(reject(
            shared,
            CHANGE,
            StatusCode::UNPROCESSABLE_ENTITY,
            "wrong-origin",
            message,
        )));
    }
    let witnesses = parse_witnesses(&req.witnesses).map_err(|m| bad("bad-witness", m))?;
    let urls = urls_of(&req.witnesses, &req.witness_urls, &witnesses)
        .map_err(|m| bad("bad-witness-url", m))?;
    let approval: [u8; 64] = STANDARD
        .decode(req.approval.as_bytes())
        .ok()
        .and_then(|a| <[u8; 64]>::try_from(a).ok())
        .ok_or_else(|| {
            bad(
                "bad-approval",
                "the approval is not 64 bytes in standard base64".to_owned(),
            )
        })?;
    let payload = witness_change::payload(req.number, &witnesses, req.witness_threshold, approval);
    Ok((req.number, witness_change::draft(&payload), urls))
}

/// Every rule of the channel on the draft as this party's next entry (spec/dyad.md 3.8:
/// the form rules, the number, the keys, the approval under the other party's current
/// key), before anything is signed: a co-signer's entry refused by the sequencer later
/// would block its queue.
async fn check(shared: &Arc<Shared>, draft: &Draft) -> Result<(), Refused> {
    let d = draft.clone();
    match shared.read(move |ch| Ok(ch.check_own_draft(&d))).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Box::new(Refusal::Channel(e).answer(shared, CHANGE))),
        Err(e) => Err(Box::new(unavailable(shared, CHANGE, e))),
    }
}

/// Sequencer: the batcher signs and appends the entry.
async fn append(shared: &Arc<Shared>, draft: Draft) -> Result<Made, Refused> {
    let appended = enqueue(shared, CHANGE, Item::Own(draft))
        .await
        .map_err(Box::new)?;
    Ok(("pending", Some(appended.index), None, appended.leaf_hash))
}

/// Co-signer: the entry is signed and queued durably; the submitter sends it.
async fn queue(shared: &Arc<Shared>, draft: Draft) -> Result<Made, Refused> {
    let s = shared.clone();
    let queued = shared
        .write(move |ch| Ok(ch.queue_own(&s.keys().signer, draft, now_ms())?))
        .await;
    let entry = match queued {
        Ok(e) => e,
        Err(NodeError::Channel(e)) => {
            return Err(Box::new(Refusal::Channel(e).answer(shared, CHANGE)))
        }
        Err(e) => return Err(Box::new(unavailable(shared, CHANGE, e))),
    };
    shared.wake_submitter.notify_one();
    Ok((
        "queued",
        None,
        Some(entry.entry.body.sequence),
        entry.leaf_hash,
    ))
}

/// What was made: state, index (sequencer), sequence (co-signer), leaf hash.
type Made = (&'static str, Option<u64>, Option<u64>, [u8; 32]);

/// Why the channel refuses a witness change, answered with the rule's name (spec/dyad.md
/// 3.8) as the reason.
enum Refusal {
    Form(WitnessChangeError),
    Channel(ChannelError),
}

impl Refusal {
    fn answer(self, shared: &Shared, endpoint: &'static str) -> Response {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        match self {
            Refusal::Form(e) => {
                let message = format!("{}: {e}", e.code());
                reject(shared, endpoint, status, e.code(), message)
            }
            Refusal::Channel(ChannelError::Refused(r)) => {
                let (reason, message) = named(&r);
                reject(shared, endpoint, status, reason, message)
            }
            Refusal::Channel(e) => {
                let (code, reason) = crate::sequencer::batcher::classify(&e);
                if code >= 500 {
                    return unavailable(shared, endpoint, NodeError::Channel(e));
                }
                let status = StatusCode::from_u16(code).unwrap_or(status);
                reject(shared, endpoint, status, reason, e)
            }
        }
    }
}

/// A refusal's rule name (the spec's, for the witness-change rules) and its message.
fn named(r: &EntryRefusal) -> (&'static str, String) {
    use EntryRefusal as R;
    let code = match r {
        R::WitnessChange { source, .. } => source.code(),
        _ => "channel-rule",
    };
    (code, format!("{code}: {r}"))
}

/// The witnesses of a request as parties: each key given as standard base64 of its 32
/// bytes or as its verifier key string (under the same name). The parties' own rules
/// (spec/dyad.md 4) are checked by the record's codec afterwards.
fn parse_witnesses(specs: &[WitnessSpec]) -> Result<Vec<Party>, String> {
    specs
        .iter()
        .enumerate()
        .map(|(i, w)| {
            // Standard base64 has '+' too: a key string is one that is not 32 bytes of it.
            let raw = STANDARD
                .decode(w.public_key.as_bytes())
                .ok()
                .and_then(|k| <[u8; 32]>::try_from(k).ok());
            let public_key = match raw {
                Some(k) => k,
                None => {
                    let key = VerifierKey::parse(&w.public_key).map_err(|e| {
                        format!(
                            "witness {i} ({:?}): the public key is neither 32 bytes in standard base64 nor a verifier key string: {e}",
                            w.name
                        )
                    })?;
                    if key.name() != w.name {
                        return Err(format!(
                            "witness {i}: the key string names {:?}, not {:?}",
                            key.name(),
                            w.name
                        ));
                    }
                    key.public_key_bytes()
                }
            };
            Ok(Party {
                name: w.name.clone(),
                public_key,
            })
        })
        .collect()
}

/// The URLs a request gives, by witness name: each witness's `url`, then `extra` over
/// them. A URL for a name outside the new set is refused (it could only be a mistake).
fn urls_of(
    specs: &[WitnessSpec],
    extra: &BTreeMap<String, String>,
    witnesses: &[Party],
) -> Result<BTreeMap<String, String>, String> {
    if extra.len() > MAX_WITNESS_URLS {
        return Err(format!(
            "{} witness URLs; a witness set has at most {MAX_WITNESS_URLS}",
            extra.len()
        ));
    }
    let mut urls: BTreeMap<String, String> = specs
        .iter()
        .filter_map(|w| w.url.clone().map(|u| (w.name.clone(), u)))
        .collect();
    urls.extend(extra.clone());
    if let Some(name) = urls
        .keys()
        .find(|n| !witnesses.iter().any(|w| &w.name == *n))
    {
        return Err(format!(
            "a URL is given for {name:?}, which is not a witness of the new set"
        ));
    }
    crate::witnessing::urls::check(&urls).map_err(|e| e.to_string())
}

/// Stores the URLs (sequencer: it asks the witnesses); a co-signer's node keeps none.
fn store_urls(
    shared: &Arc<Shared>,
    endpoint: &'static str,
    urls: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, Refused> {
    if shared.role != Role::Sequencer || urls.is_empty() {
        return Ok(BTreeMap::new());
    }
    let saver = shared.config.save_witness_urls.as_ref();
    match shared.witness_urls.add(urls, saver) {
        Ok(stored) => {
            shared.wake_witnessing.notify_one();
            Ok(stored)
        }
        Err(e @ WitnessUrlError::Bad { .. }) => Err(Box::new(reject(
            shared,
            endpoint,
            StatusCode::BAD_REQUEST,
            "bad-witness-url",
            e,
        ))),
        Err(e @ WitnessUrlError::Save(_)) => Err(Box::new(reject(
            shared,
            endpoint,
            StatusCode::INTERNAL_SERVER_ERROR,
            "witness-urls-not-stored",
            e,
        ))),
    }
}
