//! The co-signer's client of `POST /submit-batch` (spec/node.md 4.2): sends its entries,
//! reads the sequencer's answer and checks its promise. The body formats are
//! `dyad_ledger::wire::submit`.

use dyad_ledger::entry::SignedEntry;
use dyad_ledger::wire::promise::BatchPromise;
use dyad_ledger::wire::submit::{
    check_promise, encode_batch, SubmitError, SubmitResult, SubmitResults, MAX_SUBMIT_RESULTS_BYTES,
};
use dyad_verifier::key::VerifierKey;

use super::http::{http_error, read_bounded, ClientError};

/// Why [`submit_batch`] got no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum SubmitBatchError {
    /// The entries cannot be framed, or the answer or its promise is not accepted.
    #[error(transparent)]
    Answer(#[from] SubmitError),
    /// The request failed, or the sequencer answered with a status other than 200.
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// What [`submit_batch`] got: each entry's result and the verified promise covering the
/// accepted ones (with its note as received, to keep).
#[derive(Clone, Debug)]
pub struct SubmitOutcome {
    /// One result per entry sent, in order.
    pub results: Vec<SubmitResult>,
    /// The promise of the accepted entries and its note, when any was accepted.
    pub promise: Option<(BatchPromise, Vec<u8>)>,
}

/// `POST <base_url>/submit-batch` of `entries` (signed by the co-signer, in sequence
/// order; at most `MAX_SUBMIT_BATCH` and `MAX_SUBMIT_BATCH_BYTES` framed): the
/// sequencer's result per entry, and its promise for the accepted ones, verified under
/// `log_key` and checked against the entries. A status other than 200 is
/// [`ClientError::Status`].
pub async fn submit_batch(
    http: &reqwest::Client,
    base_url: &str,
    entries: &[SignedEntry],
    origin: &str,
    log_key: &VerifierKey,
) -> Result<SubmitOutcome, SubmitBatchError> {
    let url = format!("{}/submit-batch", base_url.trim_end_matches('/'));
    let body = encode_batch(entries.iter().map(|e| e.bytes.as_slice()))?;
    let resp = http
        .post(&url)
        .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
        .body(body)
        .send()
        .await
        .map_err(http_error(&url))?;
    let fetched = read_bounded(&url, resp, MAX_SUBMIT_RESULTS_BYTES).await?;
    if fetched.status != reqwest::StatusCode::OK {
        return Err(ClientError::Status {
            url,
            status: fetched.status.as_u16(),
            body: String::from_utf8_lossy(&fetched.body[..fetched.body.len().min(300)])
                .trim_end()
                .to_owned(),
        }
        .into());
    }
    let parsed = SubmitResults::parse(&fetched.body, entries.len())?;
    let promise = check_promise(&parsed, entries, origin, log_key)?;
    Ok(SubmitOutcome {
        results: parsed.results,
        promise: promise.zip(parsed.promise),
    })
}
