//! One checkpoint sent to one witness (C2SP tlog-witness `add-checkpoint`): the old size
//! the witness holds, a consistency proof from there, the co-signed note. A 409 names the
//! witness's size: the request is sent again once from that size with a new proof. The
//! answer is read bounded, and its cosignature is kept only if it verifies under the
//! witness's genesis key.

use std::sync::Arc;

use dyad_ledger::channel::ChannelError;
use dyad_ledger::wire::witness::{self, AddCheckpoint};
use dyad_verifier::key::VerifierKey;
use dyad_verifier::note;

use crate::client::read_bounded;
use crate::{NodeError, Shared};

/// How often one send follows a 409 to a new size before giving up for this round.
const MAX_CONFLICT_RESENDS: usize = 2;

/// Why a witness did not co-sign.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WitnessCallError {
    /// Not reached, timed out, or a body too large: worth retrying later.
    #[error("{0}")]
    Unreachable(String),
    /// 422: the witness cannot verify the checkpoint or its proof; asking again with the
    /// same checkpoint cannot help.
    #[error("the witness refused the checkpoint as unverifiable (422): {0}")]
    Refused(String),
    /// 409 naming a size that no proof from this log can start from.
    #[error("the witness holds size {witness} but this log's checkpoint has size {ours}: it holds another tree or is ahead")]
    Conflict { witness: u64, ours: u64 },
    /// Another answer than the protocol's.
    #[error("{0}")]
    Protocol(String),
    /// The answer's cosignature does not verify under the witness's key.
    #[error("the witness's cosignature does not verify: {0}")]
    BadCosignature(String),
    /// This node could not make the request (the replica could not prove consistency).
    #[error("cannot prepare the request: {0}")]
    Local(String),
}

/// A witness's cosignature on a checkpoint.
pub(crate) struct Cosignature {
    /// The witness's verified line(s), each ending in "\n".
    pub lines: Vec<u8>,
}

/// Sends the co-signed `note` of `size` entries to the witness at `url`, starting from
/// `known` (the witness's size, if known), and updates `known` from its answers.
pub(crate) async fn send(
    shared: &Arc<Shared>,
    http: &reqwest::Client,
    url: &str,
    key: &VerifierKey,
    note_bytes: &[u8],
    size: u64,
    known: &mut Option<u64>,
) -> Result<Cosignature, WitnessCallError> {
    let endpoint = format!("{}/add-checkpoint", url.trim_end_matches('/'));
    let mut resends = 0;
    loop {
        let old = known.unwrap_or(0);
        if old > size {
            return Err(WitnessCallError::Conflict {
                witness: old,
                ours: size,
            });
        }
        let proof = consistency_proof(shared, old, size).await?;
        let request = AddCheckpoint {
            old,
            proof,
            note: note_bytes.to_vec(),
        };
        let resp = http
            .post(&endpoint)
            .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(request.encode())
            .send()
            .await
            .map_err(|e| {
                WitnessCallError::Unreachable(
                    crate::client::ClientError::Http {
                        url: endpoint.clone(),
                        source: e,
                    }
                    .to_string(),
                )
            })?;
        let fetched = read_bounded(&endpoint, resp, witness::MAX_RESPONSE_BYTES)
            .await
            .map_err(|e| WitnessCallError::Unreachable(e.to_string()))?;
        let body_text = || {
            String::from_utf8_lossy(&fetched.body[..fetched.body.len().min(300)])
                .trim_end()
                .to_owned()
        };
        match fetched.status.as_u16() {
            200 => {
                let lines = witness::parse_cosignature_response(&fetched.body)
                    .map_err(|e| WitnessCallError::Protocol(format!("{endpoint}: {e}")))?;
                let lines = verified_lines(key, note_bytes, lines)?;
                *known = Some(size);
                return Ok(Cosignature { lines });
            }
            409 => {
                let is_size = fetched
                    .content_type
                    .as_deref()
                    .is_some_and(|t| t.starts_with(witness::SIZE_CONTENT_TYPE));
                let theirs = match witness::parse_size_body(&fetched.body) {
                    Ok(s) if is_size => s,
                    _ => {
                        return Err(WitnessCallError::Protocol(format!(
                            "{endpoint}: 409 without a size: {}",
                            body_text()
                        )))
                    }
                };
                *known = Some(theirs);
                if theirs == old || theirs > size || resends >= MAX_CONFLICT_RESENDS {
                    return Err(WitnessCallError::Conflict {
                        witness: theirs,
                        ours: size,
                    });
                }
                resends += 1;
            }
            422 => return Err(WitnessCallError::Refused(body_text())),
            status => {
                return Err(WitnessCallError::Unreachable(format!(
                    "{endpoint}: HTTP {status}: {}",
                    body_text()
                )))
            }
        }
    }
}

async fn consistency_proof(
    shared: &Arc<Shared>,
    old: u64,
    size: u64,
) -> Result<Vec<[u8; 32]>, WitnessCallError> {
    if old == 0 || old >= size {
        return Ok(Vec::new());
    }
    shared
        .read(move |ch| {
            ch.store()
                .consistency_proof(old, size)
                .map_err(|e| NodeError::from(ChannelError::from(e)))
        })
        .await
        .map_err(|e| WitnessCallError::Local(e.to_string()))
}

/// The lines of the witness's answer that carry its key name, checked to verify under
/// its key on the note (a witness cannot slip in lines of other keys).
fn verified_lines(
    key: &VerifierKey,
    note_bytes: &[u8],
    lines: &[u8],
) -> Result<Vec<u8>, WitnessCallError> {
    let prefix = format!("\u{2014} {} ", key.name());
    let own: Vec<u8> = lines
        .split_inclusive(|b| *b == b'\n')
        .filter(|l| l.starts_with(prefix.as_bytes()))
        .flatten()
        .copied()
        .collect();
    if own.is_empty() {
        return Err(WitnessCallError::BadCosignature(format!(
            "no line under the witness's name {:?}",
            key.name()
        )));
    }
    let mut merged = note_bytes.to_vec();
    merged.extend_from_slice(&own);
    match note::verify(&merged, std::slice::from_ref(key)) {
        Ok(v) if v.verified.iter().any(|s| s.key == *key) => Ok(own),
        Ok(_) => Err(WitnessCallError::BadCosignature(
            "no line verifies under the witness's key".into(),
        )),
        Err(e) => Err(WitnessCallError::BadCosignature(e.to_string())),
    }
}
