//! The add-checkpoint requests in flight, at most one per witness. A round does not wait
//! for every witness it asked: each answer is taken as it comes, so the checkpoint is
//! committed as soon as `witness_threshold` witnesses have co-signed it, while a slow or
//! hung witness's request runs on (to its timeout) and its answer, when it comes, is
//! recorded then.

use std::sync::Arc;
use std::time::Instant;

use dyad_verifier::key::VerifierKey;
use tokio::task::JoinSet;

use super::client::{self, Cosignature, WitnessCallError};
use super::{update_status, Witness};
use crate::metrics::Metrics;
use crate::Shared;

/// A finished request: which witness, the size it learned of, the size asked, the answer.
type Answer = (
    VerifierKey,
    Option<u64>,
    u64,
    Result<Cosignature, WitnessCallError>,
);

/// The requests in flight, each witness by its key: the witness set can change between
/// a request and its answer (spec/dyad.md 3.8).
#[derive(Default)]
pub(super) struct Requests {
    set: JoinSet<Answer>,
    busy: Vec<VerifierKey>,
}

impl Requests {
    /// Whether any request is in flight.
    pub(super) fn any(&self) -> bool {
        !self.set.is_empty()
    }

    /// Whether the witness of this key has a request in flight.
    pub(super) fn busy(&self, key: &VerifierKey) -> bool {
        self.busy.contains(key)
    }

    /// Sends the checkpoint of `size` to every witness that has not co-signed it, is due,
    /// and has no request in flight.
    pub(super) fn launch(
        &mut self,
        shared: &Arc<Shared>,
        http: &reqwest::Client,
        witnesses: &[Witness],
        size: u64,
        note: &[u8],
    ) {
        let now = Instant::now();
        for w in witnesses {
            let Some(url) = w.url.clone() else { continue };
            if self.busy(&w.key) || w.has_cosigned(size) || !w.retry.due(size, now) {
                continue;
            }
            let (shared, http, key, mut known) =
                (shared.clone(), http.clone(), w.key.clone(), w.known);
            let note = note.to_vec();
            self.busy.push(key.clone());
            self.set.spawn(async move {
                Metrics::inc(&shared.metrics.witness_requests, 1);
                let r = client::send(&shared, &http, &url, &key, &note, size, &mut known).await;
                (key, known, size, r)
            });
        }
    }

    /// Waits for the next answer and records it in `witnesses` and the status; `None`
    /// when nothing is in flight.
    pub(super) async fn next(&mut self, shared: &Shared, witnesses: &mut [Witness]) -> Option<()> {
        let answer = self.set.join_next().await?;
        // A request task does not panic; were one to, its witness is freed all the same.
        let Ok((key, known, size, result)) = answer else {
            self.busy.clear();
            return Some(());
        };
        self.busy.retain(|k| *k != key);
        // A witness removed by a change since the request counts for nothing now.
        if let Some(w) = witnesses.iter_mut().find(|w| w.key == key) {
            record(shared, w, known, size, result);
        }
        Some(())
    }
}

fn record(
    shared: &Shared,
    w: &mut Witness,
    known: Option<u64>,
    size: u64,
    result: Result<Cosignature, WitnessCallError>,
) {
    w.known = known;
    match result {
        Ok(cosignature) => {
            w.retry.succeeded();
            if w.cosigned.as_ref().is_none_or(|(s, _)| *s <= size) {
                w.cosigned = Some((size, cosignature.lines));
            }
            update_status(shared, w.key.name(), |s| {
                s.last_error = None;
                s.failures = 0;
            });
        }
        Err(e) => {
            Metrics::inc(&shared.metrics.witness_failures, 1);
            match &e {
                WitnessCallError::Refused(_) => w.retry.refused(size),
                _ => w.retry.failed(Instant::now()),
            }
            tracing::warn!(witness = %w.key.name(), error = %e, "witness did not co-sign");
            let why = e.to_string();
            update_status(shared, w.key.name(), |s| {
                s.last_error = Some(why);
                s.failures += 1;
            });
        }
    }
}
