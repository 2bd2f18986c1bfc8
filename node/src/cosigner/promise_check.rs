//! The co-signer holds the sequencer to its promises (spec/node.md 4.1): before it
//! co-signs a tree that covers a promised index, the leaf there must be the promised one.
//!
//! A tree that holds another leaf at a promised index is refused, and the promise, the
//! log-signed checkpoint and an inclusion proof of the other leaf are kept as portable
//! broken-promise evidence (`dyad-broken-promise/v1`, spec/evidence.md) in the evidence
//! directory. The message is submitted again (its promise is let go, and it is still in
//! the durable queue), and every later tree covering that index is refused too: the log
//! already signed a tree with another leaf there.

use std::collections::BTreeMap;
use std::fs;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use axum::response::Response;
use dyad_verifier::key::VerifierKey;
use dyad_verifier::promise_evidence;

use super::evidence_store::Kept;
use crate::metrics::Metrics;
use crate::response::reject;
use crate::{lock, NodeError, Shared, PROMISES_DIR};
use dyad_ledger::channel::{Channel, ChannelError};
use dyad_ledger::entry::SignedEntry;
use dyad_ledger::store::{Store, StoreError};
use dyad_ledger::tree::{self, Hash, NodeReader};
use dyad_ledger::wire::promise::{BatchPromise, MAX_BATCH_PROMISE_BYTES};

const EP: &str = "add-checkpoint";
/// The file name prefix of broken-promise evidence.
pub const BROKEN_PROMISE_PREFIX: &str = "broken-promise-";
/// The file name extension of broken-promise evidence.
pub const BROKEN_PROMISE_EXT: &str = ".dyad-broken-promise";
/// Most promise files read back at start (the newest first).
const MAX_PROMISE_FILES_LOADED: usize = 4096;

/// A promised leaf and the promise note that lists it.
#[derive(Clone, Debug)]
struct Promised {
    leaf: Hash,
    note: Arc<Vec<u8>>,
}

#[derive(Default)]
struct Book {
    /// Promised indexes not yet covered by a tree this co-signer co-signed.
    due: BTreeMap<u64, Promised>,
    /// Promises the log broke: every tree covering these indexes is refused.
    broken: BTreeMap<u64, Promised>,
}

/// The promises the sequencer made to this co-signer, by index.
#[derive(Default)]
pub(crate) struct PromiseBook(Mutex<Book>);

/// A promise the tree breaks.
#[derive(Clone, Debug)]
struct Breach {
    index: u64,
    promised: Promised,
    found: Hash,
    /// Seen before: already refused, evidence already kept.
    known: bool,
}

impl PromiseBook {
    /// Records the promised (index, leaf hash) pairs of a promise note. An index promised
    /// twice keeps its first promise: a tree can hold one leaf there, so one of the two is
    /// broken whichever it holds.
    pub fn record(&self, entries: &[(u64, Hash)], note: &Arc<Vec<u8>>) {
        let mut book = lock(&self.0);
        for &(index, leaf) in entries {
            book.due.entry(index).or_insert_with(|| Promised {
                leaf,
                note: note.clone(),
            });
        }
    }

    /// Promises up to `size` are kept: a tree of that size was checked and co-signed.
    pub fn settle(&self, size: u64) {
        let mut book = lock(&self.0);
        book.due = book.due.split_off(&size);
    }

    /// The first promise the leaves `leaf_at(i)` for `i` in `held..size` break, if any.
    fn breach(&self, held: u64, size: u64, leaf_at: impl Fn(u64) -> Hash) -> Option<Breach> {
        let book = lock(&self.0);
        let known = book.broken.range(held..size).find_map(|(&index, p)| {
            let found = leaf_at(index);
            (found != p.leaf).then(|| Breach {
                index,
                promised: p.clone(),
                found,
                known: true,
            })
        });
        known.or_else(|| {
            book.due.range(held..size).find_map(|(&index, p)| {
                let found = leaf_at(index);
                (found != p.leaf).then(|| Breach {
                    index,
                    promised: p.clone(),
                    found,
                    known: false,
                })
            })
        })
    }

    fn mark_broken(&self, index: u64, promised: Promised) {
        let mut book = lock(&self.0);
        book.due.remove(&index);
        book.broken.insert(index, promised);
    }
}

/// A tree made of a store's first `held` leaves and `new` leaves after them: what the
/// co-signer would hold once it accepted the new entries.
struct Extended<'a> {
    store: &'a Store,
    held: u64,
    new: &'a [Hash],
}

impl NodeReader for Extended<'_> {
    type Error = StoreError;

    fn size(&self) -> u64 {
        self.held + self.new.len() as u64
    }

    fn node(&self, level: u8, index: u64) -> Result<Hash, StoreError> {
        let width = 1u64.checked_shl(u32::from(level)).unwrap_or(u64::MAX);
        let end = index.saturating_add(1).saturating_mul(width);
        if end <= self.held {
            return self.store.node(level, index);
        }
        if level == 0 {
            let at = index
                .checked_sub(self.held)
                .and_then(|i| usize::try_from(i).ok());
            return at
                .and_then(|i| self.new.get(i).copied())
                .ok_or(StoreError::from(tree::TreeError::MissingNode {
                    level,
                    index,
                }));
        }
        Ok(tree::node_hash(
            &self.node(level - 1, 2 * index)?,
            &self.node(level - 1, 2 * index + 1)?,
        ))
    }
}

/// `note` with only its signature lines by `key`: what a third party needs, nothing more.
fn only_signed_by(note: &[u8], key: &VerifierKey) -> Option<Vec<u8>> {
    let parsed = dyad_verifier::note::parse(note).ok()?;
    let sig = parsed
        .signatures
        .iter()
        .find(|s| s.name == key.name() && s.key_id == key.key_id())?;
    let mut out = format!("{}\n", parsed.text);
    out.push_str(&dyad_verifier::note::signature_line(
        &sig.name,
        sig.key_id,
        &sig.signature,
    ));
    Some(out.into_bytes())
}

/// The evidence file's name: what conflicts (the index and the two leaves), so one
/// broken promise keeps one file however often the tree is offered.
pub fn evidence_name(index: u64, promised: &Hash, found: &Hash) -> String {
    format!(
        "{BROKEN_PROMISE_PREFIX}{index}-{}-{}{BROKEN_PROMISE_EXT}",
        hex::encode(&promised[..8]),
        hex::encode(&found[..8])
    )
}

/// Builds, checks and keeps broken-promise evidence; logs what became of it.
fn keep_evidence(
    shared: &Shared,
    breach: &Breach,
    proof: &[Hash],
    checkpoint_note: &[u8],
) -> Option<String> {
    // Evidence names one log key: the one that signed both (a promise and a checkpoint
    // on either side of a sequencer key change make none).
    let (log_key, promise, checkpoint) = shared.any_log_key(|k| {
        let promise = only_signed_by(&breach.promised.note, k)?;
        Some((k.clone(), promise, only_signed_by(checkpoint_note, k)?))
    })?;
    let evidence =
        promise_evidence::build(breach.index, &breach.found, proof, &promise, &checkpoint);
    if let Err(e) = promise_evidence::verify(&evidence, &log_key) {
        tracing::error!(error = %e, index = breach.index, "the broken promise does not make verifiable evidence");
        return None;
    }
    let name = evidence_name(breach.index, &breach.promised.leaf, &breach.found);
    match shared
        .evidence
        .keep(&name, &evidence, &shared.metrics, "broken promise")
    {
        Ok(Kept::New) => {
            tracing::error!(file = %name, index = breach.index, "the log broke its promise of inclusion: evidence kept");
            Some(name)
        }
        Ok(Kept::Exists) => Some(name),
        Ok(Kept::Full) => None,
        Err(e) => {
            tracing::error!(error = %e, file = %name, "cannot keep the evidence of a broken promise");
            None
        }
    }
}

/// A broken promise was found: the message goes back to be submitted again.
fn requeue(shared: &Shared, breach: &Breach) {
    shared
        .promise_book
        .mark_broken(breach.index, breach.promised.clone());
    let mut promises = lock(&shared.promises);
    if promises
        .get(&breach.promised.leaf)
        .is_some_and(|p| p.index == breach.index)
    {
        promises.remove(&breach.promised.leaf);
    }
    drop(promises);
    shared.wake_submitter.notify_one();
}

/// Checks the new entries `held..held + entries.len()` of a log-signed checkpoint against
/// the promises due in that range. `Err` is the refusal to answer with: the tree breaks a
/// promise (evidence kept, the message submitted again).
pub(crate) async fn check_new_entries(
    shared: &Arc<Shared>,
    held: u64,
    entries: &[SignedEntry],
    checkpoint_note: &[u8],
) -> Result<(), Response> {
    let size = held + entries.len() as u64;
    let breach = shared
        .promise_book
        .breach(held, size, |i| entries[(i - held) as usize].leaf_hash);
    let Some(breach) = breach else {
        return Ok(());
    };
    Metrics::inc(&shared.metrics.broken_promises, 1);
    let message = format!(
        "the tree of size {size} holds another leaf at index {} than the log promised there",
        breach.index
    );
    if !breach.known {
        requeue(shared, &breach);
        let leaves: Vec<Hash> = entries.iter().map(|e| e.leaf_hash).collect();
        let index = breach.index;
        let proof = shared
            .read(move |ch| {
                let reader = Extended {
                    store: ch.store(),
                    held,
                    new: &leaves,
                };
                tree::inclusion_proof(index, size, &reader)
                    .map_err(|e| NodeError::Channel(ChannelError::from(e)))
            })
            .await;
        match proof {
            Ok(proof) => {
                keep_evidence(shared, &breach, &proof, checkpoint_note);
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot prove the leaf that breaks the promise")
            }
        }
    }
    Err(reject(
        shared,
        EP,
        StatusCode::UNPROCESSABLE_ENTITY,
        "broken-promise",
        message,
    ))
}

/// Checks a promise just received (and recorded) against the indexes this replica already
/// holds under a co-signed checkpoint: a promise of an index already taken by another
/// leaf (co-signed before the promise arrived) is broken as it is made.
pub(crate) async fn check_held(shared: &Arc<Shared>, promise: &BatchPromise, note: &Arc<Vec<u8>>) {
    let entries = promise.entries.clone();
    let note = note.clone();
    let held = shared
        .read(move |ch| {
            let Some((size, checkpoint)) =
                ch.store().latest_checkpoint().map_err(ChannelError::from)?
            else {
                return Ok(None);
            };
            for (index, leaf) in entries.into_iter().take_while(|&(i, _)| i < size) {
                let found = ch.store().leaf_hash(index).map_err(ChannelError::from)?;
                if found != leaf {
                    let proof = ch
                        .store()
                        .inclusion_proof(index, size)
                        .map_err(ChannelError::from)?;
                    let breach = Breach {
                        index,
                        promised: Promised { leaf, note },
                        found,
                        known: false,
                    };
                    return Ok(Some((breach, proof, checkpoint)));
                }
            }
            Ok(None)
        })
        .await;
    match held {
        Ok(Some((breach, proof, checkpoint))) => {
            Metrics::inc(&shared.metrics.broken_promises, 1);
            tracing::error!(
                index = breach.index,
                "the log promised an index that already holds another co-signed leaf"
            );
            requeue(shared, &breach);
            keep_evidence(shared, &breach, &proof, &checkpoint);
        }
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "cannot check a promise against this replica"),
    }
}

/// At start (co-signer): the broken promises kept as evidence, and the promises of the
/// newest batches not yet covered by the co-signed tree, read back from the data
/// directory, so a restart forgets neither.
pub(crate) fn load(shared: &Shared, ch: &Channel) {
    let committed = ch.committed_size().unwrap_or(0);
    if let Ok(dir) = fs::read_dir(shared.evidence.dir()) {
        for entry in dir.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !(name.starts_with(BROKEN_PROMISE_PREFIX) && name.ends_with(BROKEN_PROMISE_EXT)) {
                continue;
            }
            let Ok(bytes) = fs::read(entry.path()) else {
                continue;
            };
            let Some(v) = shared.any_log_key(|k| promise_evidence::verify(&bytes, k).ok()) else {
                tracing::warn!(file = %name, "evidence of a broken promise that does not verify; ignored");
                continue;
            };
            let Ok(parsed) = promise_evidence::parse(&bytes) else {
                continue;
            };
            shared.promise_book.mark_broken(
                v.index,
                Promised {
                    leaf: v.promised_leaf,
                    note: Arc::new(parsed.promise_note),
                },
            );
        }
    }
    // Promise files are named by the first index they list (zero-padded): those at or
    // above the committed size, newest first, up to a bound.
    let Ok(dir) = fs::read_dir(shared.data_dir.join(PROMISES_DIR)) else {
        return;
    };
    let mut names: Vec<(u64, std::path::PathBuf)> = dir
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let first: u64 = name.get(..20)?.parse().ok()?;
            (first >= committed && name.ends_with(".promise")).then(|| (first, e.path()))
        })
        .collect();
    names.sort_unstable_by_key(|n| std::cmp::Reverse(n.0));
    for (_, path) in names.into_iter().take(MAX_PROMISE_FILES_LOADED) {
        let Ok(meta) = fs::metadata(&path) else {
            continue;
        };
        if meta.len() > MAX_BATCH_PROMISE_BYTES as u64 {
            continue;
        }
        let Ok(bytes) = fs::read(&path) else { continue };
        if let Some(p) = shared.any_log_key(|k| BatchPromise::verify(&bytes, k).ok()) {
            shared.promise_book.record(&p.entries, &Arc::new(bytes));
        }
    }
    shared.promise_book.settle(ch.size());
}

/// Whether this replica holds the leaf `leaf` at `index` (so a message promised there is
/// really in the log there before anyone is told it is committed).
pub(crate) async fn holds(shared: &Arc<Shared>, index: u64, leaf: Hash) -> bool {
    shared
        .read(move |ch| {
            Ok(index < ch.size()
                && ch.store().leaf_hash(index).map_err(ChannelError::from)? == leaf)
        })
        .await
        .unwrap_or(false)
}
