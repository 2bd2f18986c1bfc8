//! Witnessing by the sequencer's node (spec 7, spec/node.md): every checkpoint co-signed
//! by both parties is sent to each genesis witness's C2SP tlog-witness `add-checkpoint`
//! ([`client`]), with bounded backoff per witness ([`retry`]); the verified cosignatures
//! are collected, and once `witness_threshold` of them are held the note with them is
//! stored as committed (and served as `/checkpoint`). What each witness did is kept for
//! `/admin/status` and the metrics ([`status`]).

pub(crate) mod client;
pub(crate) mod follow;
pub(crate) mod retry;
pub mod status;

use std::sync::Arc;
use std::time::{Duration, Instant};

use dyad_verifier::checkpoint::Checkpoint;
use dyad_verifier::key::VerifierKey;

use self::client::WitnessCallError;
use self::retry::Retry;
use self::status::{WitnessStatus, WitnessesStatus};
use crate::metrics::Metrics;
use crate::{lock, NodeError, Shared};

/// A witness's add-checkpoint base URL, by its genesis key name (node configuration: the
/// genesis names witnesses by key only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessUrl {
    /// The witness's key name, as in the genesis.
    pub name: String,
    /// Its base URL (`add-checkpoint` is appended).
    pub url: String,
}

/// One witness as the witnessing task drives it.
struct Witness {
    key: VerifierKey,
    url: Option<String>,
    known: Option<u64>,
    retry: Retry,
    /// (size, verified lines) of its newest cosignature.
    cosigned: Option<(u64, Vec<u8>)>,
}

/// The witnesses' status as the node starts: from the genesis and the configured URLs.
pub(crate) fn initial_status(
    keys: &[VerifierKey],
    threshold: usize,
    urls: &[WitnessUrl],
) -> WitnessesStatus {
    WitnessesStatus {
        threshold,
        witnesses: keys
            .iter()
            .map(|k| WitnessStatus {
                name: k.name().to_owned(),
                url: url_of(urls, k),
                ..WitnessStatus::default()
            })
            .collect(),
    }
}

fn url_of(urls: &[WitnessUrl], key: &VerifierKey) -> Option<String> {
    urls.iter()
        .find(|u| u.name == key.name())
        .map(|u| u.url.clone())
}

/// The witnessing task of a sequencer whose genesis has `witness_threshold > 0`.
pub(crate) async fn run_witnessing(shared: Arc<Shared>) {
    let (keys, threshold) = match shared
        .read(|ch| Ok((ch.witness_keys().to_vec(), ch.witness_threshold())))
        .await
    {
        Ok(k) => k,
        Err(_) => return,
    };
    let http = match crate::client::witness_client(&shared.config) {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the witnesses' HTTP client");
            return;
        }
    };
    let mut witnesses: Vec<Witness> = keys
        .into_iter()
        .map(|key| Witness {
            url: url_of(&shared.config.witnesses, &key),
            key,
            known: None,
            retry: Retry::new(shared.config.retry_initial, shared.config.retry_max),
            cosigned: None,
        })
        .collect();
    loop {
        if shared.is_stopping() {
            break;
        }
        let awaiting = match shared.read(|ch| Ok(ch.awaiting_witnesses()?)).await {
            Ok(a) => a,
            Err(NodeError::Stopped) => break,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the checkpoint awaiting witnesses");
                None
            }
        };
        let Some((checkpoint, note)) = awaiting else {
            idle(&shared, Duration::from_secs(5)).await;
            continue;
        };
        round(&shared, &http, &mut witnesses, checkpoint.size, &note).await;
        if quorum(&witnesses, checkpoint.size) >= threshold {
            commit(&shared, &witnesses, &checkpoint, &note).await;
            continue;
        }
        let wait = witnesses
            .iter()
            .filter_map(|w| w.retry.next_try())
            .min()
            .map_or(Duration::from_secs(5), |t| {
                t.saturating_duration_since(Instant::now())
            });
        idle(&shared, wait.max(Duration::from_millis(10))).await;
    }
}

fn quorum(witnesses: &[Witness], size: u64) -> usize {
    witnesses
        .iter()
        .filter(|w| w.cosigned.as_ref().is_some_and(|(s, _)| *s == size))
        .count()
}

/// Sends the checkpoint to every witness that has not co-signed it and is due, at once.
async fn round(
    shared: &Arc<Shared>,
    http: &reqwest::Client,
    witnesses: &mut [Witness],
    size: u64,
    note: &[u8],
) {
    let now = Instant::now();
    let mut calls = Vec::new();
    for (i, w) in witnesses.iter_mut().enumerate() {
        let Some(url) = w.url.clone() else { continue };
        if w.cosigned.as_ref().is_some_and(|(s, _)| *s == size) || !w.retry.due(size, now) {
            continue;
        }
        let (shared, http, key, mut known) = (shared.clone(), http.clone(), w.key.clone(), w.known);
        let note = note.to_vec();
        calls.push(async move {
            Metrics::inc(&shared.metrics.witness_requests, 1);
            let r = client::send(&shared, &http, &url, &key, &note, size, &mut known).await;
            (i, known, r)
        });
    }
    let results = tokio::select! {
        r = futures_join(calls) => r,
        _ = shared.stopped() => return,
    };
    for (i, known, result) in results {
        let w = &mut witnesses[i];
        w.known = known;
        match result {
            Ok(cosignature) => {
                w.retry.succeeded();
                w.cosigned = Some((size, cosignature.lines));
                update_status(shared, i, |s| {
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
                update_status(shared, i, |s| {
                    s.last_error = Some(why);
                    s.failures += 1;
                });
            }
        }
    }
    // Every witness's lag moves with the checkpoint, asked this round or not.
    for (i, w) in witnesses.iter().enumerate() {
        let (known, cosigned) = (w.known, w.cosigned.as_ref().map(|(s, _)| *s));
        let lag = size.saturating_sub(cosigned.unwrap_or(0));
        update_status(shared, i, |s| {
            s.size = known;
            s.cosigned_size = cosigned;
            s.lag = lag;
        });
        shared
            .metrics
            .set_witness(w.key.name(), cosigned.unwrap_or(0), lag);
    }
}

/// Runs the calls concurrently and gathers their results.
async fn futures_join<F, T>(calls: Vec<F>) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let mut set = tokio::task::JoinSet::new();
    for c in calls {
        set.spawn(c);
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        if let Ok(r) = r {
            out.push(r);
        }
    }
    out
}

fn update_status(shared: &Shared, i: usize, f: impl FnOnce(&mut WitnessStatus)) {
    if let Some(s) = lock(&shared.witnesses).witnesses.get_mut(i) {
        f(s);
    }
}

/// Stores the note with the witnesses' cosignatures as committed.
async fn commit(shared: &Arc<Shared>, witnesses: &[Witness], checkpoint: &Checkpoint, note: &[u8]) {
    let mut merged = note.to_vec();
    for w in witnesses {
        if let Some((s, lines)) = &w.cosigned {
            if *s == checkpoint.size {
                merged.extend_from_slice(lines);
            }
        }
    }
    let size = checkpoint.size;
    match shared
        .write(move |ch| Ok(ch.add_committed_checkpoint(&merged)?))
        .await
    {
        Ok(_) => {
            Metrics::inc(&shared.metrics.checkpoints_committed, 1);
            shared.set_committed(size);
            tracing::debug!(size, "checkpoint witnessed and committed");
        }
        Err(e) => {
            tracing::error!(error = %e, size, "the witnessed checkpoint cannot be stored");
            idle(shared, Duration::from_secs(1)).await;
        }
    }
}

async fn idle(shared: &Shared, poll: Duration) {
    tokio::select! {
        _ = shared.wake_witnessing.notified() => {}
        _ = shared.stopped() => {}
        _ = tokio::time::sleep(poll) => {}
    }
}
