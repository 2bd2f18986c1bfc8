//! Witnessing by the sequencer's node (spec 7, spec/node.md 3.2): every checkpoint co-signed
//! by both parties is sent to each witness of its size (the genesis's, or those of the last
//! witness change below it, spec/dyad.md 3.8) at its C2SP tlog-witness `add-checkpoint`
//! ([`client`]), with bounded backoff per witness ([`retry`]); the verified cosignatures
//! are collected as they come ([`requests`]: a slow witness does not hold up the others),
//! and once that size's threshold of them are held the note with them is stored as
//! committed (and served as `/checkpoint`). What each current witness did is kept for
//! `/admin/status` and the metrics ([`status`]); a witness a change removed is dropped
//! from both. The URLs of the witnesses are node configuration ([`urls`]).

pub(crate) mod client;
pub(crate) mod follow;
mod requests;
pub(crate) mod retry;
pub mod status;
pub mod urls;

use std::sync::Arc;
use std::time::{Duration, Instant};

use dyad_verifier::checkpoint::Checkpoint;
use dyad_verifier::key::VerifierKey;

use self::requests::Requests;
use self::retry::Retry;
use self::status::{WitnessStatus, WitnessesStatus};
use crate::metrics::Metrics;
use crate::{lock, NodeError, Shared};

/// A witness's add-checkpoint base URL, by its key name (node configuration: the channel
/// names witnesses by key only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessUrl {
    /// The witness's key name, as in the genesis or the witness change.
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

/// The witnesses' status as the node starts: those of the next checkpoint, with the
/// configured URLs.
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
                url: urls
                    .iter()
                    .find(|u| u.name == k.name())
                    .map(|u| u.url.clone()),
                ..WitnessStatus::default()
            })
            .collect(),
    }
}

/// The status and metrics follow a witness set: a witness that stays keeps what it did,
/// a new one starts blank, a removed one is dropped (its metrics too).
pub(crate) fn follow_set_status(shared: &Shared, keys: &[VerifierKey], threshold: usize) {
    let mut status = lock(&shared.witnesses);
    let same = status.threshold == threshold
        && status.witnesses.len() == keys.len()
        && status
            .witnesses
            .iter()
            .zip(keys)
            .all(|(s, k)| s.name == k.name());
    if !same {
        let old = std::mem::take(&mut status.witnesses);
        status.threshold = threshold;
        status.witnesses = keys
            .iter()
            .map(|k| {
                old.iter()
                    .find(|s| s.name == k.name())
                    .cloned()
                    .unwrap_or_else(|| WitnessStatus {
                        name: k.name().to_owned(),
                        ..WitnessStatus::default()
                    })
            })
            .collect();
        let names: Vec<&str> = keys.iter().map(|k| k.name()).collect();
        shared.metrics.retain_witnesses(&names);
    }
    // URLs given through the admin API take effect without a restart.
    for s in status.witnesses.iter_mut() {
        s.url = shared.witness_urls.of(&s.name);
    }
}

/// The witnessing task of a sequencer. It runs whatever the channel's threshold: a
/// witness change can make witnesses needed later (spec/dyad.md 3.8); while no co-signed
/// checkpoint awaits witnesses it only waits.
pub(crate) async fn run_witnessing(shared: Arc<Shared>) {
    let http = match crate::client::witness_client(&shared.config) {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the witnesses' HTTP client");
            return;
        }
    };
    let mut witnesses: Vec<Witness> = Vec::new();
    let mut requests = Requests::default();
    loop {
        if shared.is_stopping() {
            break;
        }
        let awaiting = match shared.read(awaited).await {
            Ok(a) => a,
            Err(NodeError::Stopped) => break,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the checkpoint awaiting witnesses");
                None
            }
        };
        let Some((checkpoint, note, keys, threshold)) = awaiting else {
            if let Ok((keys, threshold)) = shared
                .read(|ch| Ok((ch.witness_keys().to_vec(), ch.witness_threshold())))
                .await
            {
                follow_set_status(&shared, &keys, threshold);
            }
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
        follow_set(&shared, &mut witnesses, &keys);
        requests.launch(&shared, &http, &witnesses, checkpoint.size, &note);
        refresh(&shared, &witnesses, checkpoint.size);
        if quorum(&witnesses, checkpoint.size) >= threshold {
            commit(&shared, &witnesses, &checkpoint, &note).await;
            continue;
        }
        let next_try = witnesses
            .iter()
            .filter(|w| !requests.busy(&w.key))
            .filter_map(|w| w.retry.next_try())
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

/// The checkpoint awaiting witnesses, with the witnesses and threshold of its size
/// (spec/dyad.md 3.8: those of the last witness change below it).
type Awaited = (Checkpoint, Vec<u8>, Vec<VerifierKey>, usize);

fn awaited(ch: &dyad_ledger::channel::Channel) -> Result<Option<Awaited>, NodeError> {
    let Some((checkpoint, note)) = ch.awaiting_witnesses()? else {
        return Ok(None);
    };
    let keys = ch.witness_keys_at(checkpoint.size).to_vec();
    let threshold = ch.witness_threshold_at(checkpoint.size);
    Ok(Some((checkpoint, note, keys, threshold)))
}

/// The witnesses asked become those of `keys`: one that stays keeps its state (what it
/// holds, its backoff, its cosignature), a new one starts afresh; each takes the URL the
/// node has for it now.
fn follow_set(shared: &Shared, witnesses: &mut Vec<Witness>, keys: &[VerifierKey]) {
    let same =
        witnesses.len() == keys.len() && witnesses.iter().zip(keys).all(|(w, k)| w.key == *k);
    if !same {
        let mut old = std::mem::take(witnesses);
        *witnesses = keys
            .iter()
            .map(|key| match old.iter().position(|w| w.key == *key) {
                Some(i) => old.swap_remove(i),
                None => Witness {
                    key: key.clone(),
                    url: None,
                    known: None,
                    retry: Retry::new(shared.config.retry_initial, shared.config.retry_max),
                    cosigned: None,
                },
            })
            .collect();
    }
    for w in witnesses.iter_mut() {
        w.url = shared.witness_urls.of(w.key.name());
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
    for w in witnesses {
        let (known, cosigned) = (w.known, w.cosigned.as_ref().map(|(s, _)| *s));
        let lag = size.saturating_sub(cosigned.unwrap_or(0));
        let shown = update_status(shared, w.key.name(), |s| {
            s.size = known;
            s.cosigned_size = cosigned;
            s.lag = lag;
        });
        // Status and metrics show the witnesses of the next checkpoint only.
        if shown {
            shared
                .metrics
                .set_witness(w.key.name(), cosigned.unwrap_or(0), lag);
        }
    }
}

/// Updates the status of the current witness of this name; false if there is none (a
/// change removed it).
fn update_status(shared: &Shared, name: &str, f: impl FnOnce(&mut WitnessStatus)) -> bool {
    match lock(&shared.witnesses)
        .witnesses
        .iter_mut()
        .find(|s| s.name == name)
    {
        Some(s) => {
            f(s);
            true
        }
        None => false,
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
