//! Measurement 1: durable appends of signed entries on one node, at batch
//! sizes 1, 10, 100 and 1000.
//!
//! The entries arrive as bytes, signed by their senders (alternately both parties), as
//! a submission reaches the sequencer. What is timed is the log's part: decoding each
//! entry and hashing it as a leaf, checking its sender's signature and the channel rules,
//! appending it to the tree, and storing the batch with one fsync. Signing (the senders'
//! work) and checkpoint co-signing happen outside the clock. The log this builds is the
//! one the proofs, receipts and audit use.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use dyad_ledger::channel::Channel;
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

/// The one place the bench appends to the ledger: a batch of entries as received (their
/// bytes), made durable together. Switch it here when the ledger offers a faster path.
fn append_batch(channel: &mut Channel, wire: &[Vec<u8>]) -> BenchResult<()> {
    let entries = wire
        .iter()
        .map(|bytes| SignedEntry::decode(bytes))
        .collect::<Result<Vec<_>, _>>()?;
    let appended = channel.append_signed(&entries, now_ms())?;
    if let Some(a) = appended.iter().find(|a| a.existing) {
        return Err(BenchError::not_verified(
            "an append",
            format!("entry {} was taken as a resubmission", a.index),
        ));
    }
    Ok(())
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
            for group in wire.chunks(batch) {
                let start = Instant::now();
                append_batch(&mut channel, group)?;
                let took = start.elapsed();
                timed += took;
                latencies.push(took.as_secs_f64() * 1000.0);
                bar.inc(group.len() as u64);
            }
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
