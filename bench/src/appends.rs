//! Measurement 1: durable appends of signed entries on one node, at batch
//! sizes 1, 10, 100 and 1000.
//!
//! The entries arrive as bytes, signed by their senders (alternately both parties), as
//! a submission reaches the sequencer. What is timed is the log's part: decoding each
//! entry and hashing it as a leaf, checking its sender's signature and the channel rules,
//! appending it to the tree, and storing the batch with one fsync. Signing (the senders'
//! work) and checkpoint co-signing happen outside the clock. The log this builds is the
//! one the proofs, receipts and audit use.
//!
//! As in the sequencer's node (its batcher), a batch's signatures are checked while the
//! batch before it is written (`Channel::signature_check`): a thread decodes and checks
//! one batch ahead, and the clock runs over both. A batch's latency is from the start of
//! its check to its fsync.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use dyad_ledger::channel::{Channel, CheckedSignatures, SignatureCheck};
use dyad_ledger::entry::SignedEntry;

use super::fixture::{self, now_ms, Parties};
use super::report::{per_s, set_percentiles, Figures};
use super::{BenchError, BenchResult, Progress, Sizes};

/// The channel log the appends built, closed.
pub struct Log {
    /// The sequencer's store directory.
    pub store_dir: PathBuf,
    /// Entries in the log, the genesis included, all covered by its last co-signed
    /// checkpoint.
    pub entries: u64,
}

/// A batch as received (its bytes), decoded and its signatures checked ahead of the
/// store (`Channel::signature_check`), with when that began.
struct Checked {
    began: Instant,
    entries: Vec<SignedEntry>,
    ahead: CheckedSignatures,
}

fn check(signatures: &SignatureCheck, wire: &[Vec<u8>]) -> BenchResult<Checked> {
    let began = Instant::now();
    let entries = wire
        .iter()
        .map(|bytes| SignedEntry::decode(bytes))
        .collect::<Result<Vec<_>, _>>()?;
    let ahead = signatures.check(&entries);
    Ok(Checked {
        began,
        entries,
        ahead,
    })
}

/// The one place the bench appends to the ledger: a batch made durable together.
/// Switch it here when the ledger offers a faster path.
fn append_batch(channel: &mut Channel, batch: &Checked) -> BenchResult<()> {
    let appended = channel.append_signed_checked(&batch.entries, now_ms(), &batch.ahead)?;
    if let Some(a) = appended.iter().find(|a| a.existing) {
        return Err(BenchError::not_verified(
            "an append",
            format!("entry {} was taken as a resubmission", a.index),
        ));
    }
    Ok(())
}

/// Appends `wire` `batch` entries at a time, each batch checked on a second thread while
/// the one before it is written. Returns each batch's latency in ms.
fn append_pipelined(
    channel: &mut Channel,
    wire: &[Vec<u8>],
    batch: usize,
    bar: &indicatif::ProgressBar,
) -> BenchResult<Vec<f64>> {
    let signatures = channel.signature_check();
    let mut latencies = Vec::with_capacity(wire.len().div_ceil(batch));
    std::thread::scope(|scope| {
        // One batch waits checked while the next is being checked.
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let checker = scope.spawn(move || {
            for group in wire.chunks(batch) {
                if tx.send(check(&signatures, group)).is_err() {
                    break;
                }
            }
        });
        for checked in rx {
            let checked = checked?;
            append_batch(channel, &checked)?;
            latencies.push(checked.began.elapsed().as_secs_f64() * 1000.0);
            bar.inc(checked.entries.len() as u64);
        }
        checker
            .join()
            .map_err(|_| BenchError::Thread("signature check"))
    })?;
    Ok(latencies)
}

pub fn run(
    sizes: &Sizes,
    work: &std::path::Path,
    parties: &Parties,
    progress: &Progress,
    figures: &mut Figures,
) -> BenchResult<Log> {
    let dir = work.join("log");
    let mut channel = fixture::create_channel(&dir, parties, false)?;
    // Messages appended so far; message m is at index m + 1, after the genesis.
    let mut sent = 0u64;
    let mut bytes = 0u64;
    for (i, &(batch, count)) in sizes.appends.iter().enumerate() {
        // The last stage fills the log up to its size.
        let count = if i + 1 == sizes.appends.len() {
            count.max((sizes.log_entries - 1).saturating_sub(sent))
        } else {
            count
        };
        let bar = progress.bar(count, &format!("appends: batch {batch}"));
        let chunk = sizes.checkpoint_every.max(batch as u64);
        let mut timed = Duration::ZERO;
        let mut latencies = Vec::new();
        let mut done = 0u64;
        while done < count {
            let n = chunk.min(count - done);
            let wire = fixture::signed_messages(parties, sent, sent + n, now_ms())?;
            bytes += wire.iter().map(|w| w.len() as u64).sum::<u64>();
            let start = Instant::now();
            latencies.extend(append_pipelined(&mut channel, &wire, batch, &bar)?);
            timed += start.elapsed();
            sent += n;
            done += n;
            fixture::cosign(&mut channel, parties)?;
        }
        bar.finish_and_clear();
        figures.set(
            &format!("append_signed_batch{batch}_per_s"),
            per_s(count, timed),
        );
        set_percentiles(
            figures,
            &format!("append_batch{batch}_"),
            "ms",
            &mut latencies,
        );
    }
    figures.set("entry_bytes", bytes as f64 / sent.max(1) as f64);
    let entries = channel.size();
    let committed = channel.committed_size()?;
    if committed != entries {
        return Err(BenchError::not_verified(
            "the log",
            format!("{committed} of its {entries} entries are committed"),
        ));
    }
    figures.set("log_entries", entries as f64);
    drop(channel);
    Ok(Log {
        store_dir: dir.join("alpha/ledger"),
        entries,
    })
}
