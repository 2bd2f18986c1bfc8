//! Witnessing by the sequencer's node (spec 7, spec/node.md): every checkpoint co-signed
//! by both parties is sent to each genesis witness's C2SP tlog-witness `add-checkpoint`
//! ([`client`]), with bounded backoff per witness ([`retry`]); the verified cosignatures
//! are collected as they come ([`requests`]: a slow witness does not hold up the others),
//! and once `witness_threshold` of them are held the note with them is stored as committed
//! (and served as `/checkpoint`). What each witness did is kept for
//! `/admin/status` and the metrics ([`status`]).

pub(crate) mod client;
pub(crate) mod follow;
mod requests;
pub(crate) mod retry;
pub mod status;

use std::sync::Arc;
use std::time::{Duration, Instant};

use dyad_verifier::checkpoint::Checkpoint;
use dyad_verifier::key::VerifierKey;

use self::requests::Requests;
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

impl Witness {
    fn has_cosigned(&self, size: u64) -> bool {
        self.cosigned.as_ref().is_some_and(|(s, _)| *s == size)
    }
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
    let mut requests = Requests::new(witnesses.len());
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
            // Answers still in flight (for a checkpoint since committed) are taken in.
            wait(
                &shared,
                &mut requests,
                &mut witnesses,
                Duration::from_secs(5),
            )
            .await;
            continue;
        };
        requests.launch(&shared, &http, &witnesses, checkpoint.size, &note);
        refresh(&shared, &witnesses, checkpoint.size);
        if quorum(&witnesses, checkpoint.size) >= threshold {
            commit(&shared, &witnesses, &checkpoint, &note).await;
            continue;
        }
        let next_try = witnesses
            .iter()
            .enumerate()
            .filter(|(i, _)| !requests.busy(*i))
            .filter_map(|(_, w)| w.retry.next_try())
            .min()
            .map_or(Duration::from_secs(5), |t| {
                t.saturating_duration_since(Instant::now())
            });
        wait(
            &shared,
            &mut requests,
            &mut witnesses,
            next_try.max(Duration::from_millis(10)),
        )
        .await;
    }
}

/// Until the next answer, a wake-up (a new checkpoint), `poll`, or the node stopping.
async fn wait(shared: &Shared, requests: &mut Requests, witnesses: &mut [Witness], poll: Duration) {
    if !requests.any() {
        return idle(shared, poll).await;
    }
    tokio::select! {
        _ = requests.next(shared, witnesses) => {}
        _ = idle(shared, poll) => {}
    }
}

fn quorum(witnesses: &[Witness], size: u64) -> usize {
    witnesses.iter().filter(|w| w.has_cosigned(size)).count()
}

/// Every witness's lag moves with the checkpoint, asked or not.
fn refresh(shared: &Shared, witnesses: &[Witness], size: u64) {
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
