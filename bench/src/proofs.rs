//! Measurements 3 and 6: proofs from the store, and store open time and disk
//! bytes per entry.
//!
//! The store is opened as a replica opens it (`Store::open`), and proofs are built at the
//! store's full size: inclusion proofs of random indexes, consistency proofs from random
//! older sizes. Each proof is timed on its own for the percentiles. A few are checked
//! with the verifier, so that a fast wrong answer cannot pass for a figure.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dyad_ledger::store::Store;
use dyad_ledger::tree::leaf_hash;

use super::appends::Log;
use super::baselines::IndexSampler;
use super::report::{per_s, set_percentiles, Figures};
use super::{BenchError, BenchResult, Progress, Sizes};

/// Opens the store three times (closing it in between): the first open may find work
/// left by the writer; the median is the figure.
fn open_times(dir: &Path) -> BenchResult<(f64, f64)> {
    let mut ms = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        let store = Store::open(dir)?;
        ms.push(start.elapsed().as_secs_f64() * 1000.0);
        drop(store);
    }
    let first = ms[0];
    ms.sort_by(f64::total_cmp);
    Ok((first, ms[1]))
}

/// Bytes the directory takes on disk, as `du` counts them (allocated blocks).
pub fn disk_usage(dir: &Path) -> BenchResult<u64> {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let entries =
        std::fs::read_dir(dir).map_err(BenchError::io(format!("read {}", dir.display())))?;
    for entry in entries {
        let entry = entry.map_err(BenchError::io(format!("read {}", dir.display())))?;
        let meta = entry
            .metadata()
            .map_err(BenchError::io(format!("stat {}", entry.path().display())))?;
        total += if meta.is_dir() {
            disk_usage(&entry.path())?
        } else {
            meta.blocks() * 512
        };
    }
    Ok(total)
}

/// Measures the store in `dir`, writing its figures under `prefix`.
pub fn run(
    dir: &Path,
    prefix: &str,
    sizes: &Sizes,
    progress: &Progress,
    figures: &mut Figures,
) -> BenchResult<()> {
    let (first, median) = open_times(dir)?;
    let store = Store::open(dir)?;
    let size = store.size();
    figures.set(&format!("{prefix}open_ms"), median);
    figures.set(&format!("{prefix}open_first_ms"), first);
    figures.set(&format!("{prefix}proof_store_entries"), size as f64);

    let n = sizes.proofs as u64;
    let bar = progress.bar(2 * n, &format!("proofs from the store at {size} entries"));
    let root = store.root();
    let mut rng = IndexSampler::new(1);
    let mut times = Vec::with_capacity(n as usize);
    let mut total = Duration::ZERO;
    for k in 0..n {
        let index = rng.below(0, size);
        let start = Instant::now();
        let proof = store.inclusion_proof(index, size)?;
        let took = start.elapsed();
        total += took;
        times.push(took.as_secs_f64() * 1e6);
        if k < 16 {
            let leaf = leaf_hash(&store.leaf(index)?);
            dyad_verifier::proof::verify_inclusion(&leaf, index, size, &proof, &root)
                .map_err(|e| BenchError::not_verified("an inclusion proof from the store", e))?;
        }
        if k % 1024 == 0 {
            bar.inc(1024.min(n - k));
        }
    }
    figures.set(&format!("{prefix}inclusion_proofs_per_s"), per_s(n, total));
    set_percentiles(
        figures,
        &format!("{prefix}inclusion_proof_"),
        "us",
        &mut times,
    );

    times.clear();
    let mut total = Duration::ZERO;
    for k in 0..n {
        let old = rng.below(1, size);
        let start = Instant::now();
        let proof = store.consistency_proof(old, size)?;
        let took = start.elapsed();
        total += took;
        times.push(took.as_secs_f64() * 1e6);
        if k < 16 {
            let old_root = store.root_at(old)?;
            dyad_verifier::proof::verify_consistency(old, size, &old_root, &root, &proof)
                .map_err(|e| BenchError::not_verified("a consistency proof from the store", e))?;
        }
        if k % 1024 == 0 {
            bar.inc(1024.min(n - k));
        }
    }
    figures.set(
        &format!("{prefix}consistency_proofs_per_s"),
        per_s(n, total),
    );
    set_percentiles(
        figures,
        &format!("{prefix}consistency_proof_"),
        "us",
        &mut times,
    );
    // The first pass's indexes again: the level-0 tiles they read are now in the page
    // cache, unless the machine dropped them meanwhile. The first pass may read some from
    // the disk (a store just written, a host that keeps little cache); this one shows what
    // a proof costs when its tile is cached.
    let mut again = IndexSampler::new(1);
    let start = Instant::now();
    for _ in 0..n {
        let index = again.below(0, size);
        store.inclusion_proof(index, size)?;
    }
    figures.set(
        &format!("{prefix}inclusion_proofs_again_per_s"),
        per_s(n, start.elapsed()),
    );
    bar.finish_and_clear();
    drop(store);

    let disk = disk_usage(dir)?;
    let per_entry = disk as f64 / size.max(1) as f64;
    figures.set(&format!("{prefix}disk_bytes_per_entry"), per_entry);
    if let Some(entry) = figures.get("entry_bytes") {
        figures.set(
            &format!("{prefix}ratio_disk_to_entry_bytes"),
            per_entry / entry,
        );
    }
    Ok(())
}

/// Leaves in the pool the big store repeats.
const POOL: u64 = 4096;

/// Builds the 10M-entry store of the full scale with raw store batches of 1000: the log's
/// first 4096 real encoded messages, repeated. Signing and checking 10M entries through the
/// channel would take the whole budget; proofs, open time and disk use depend on the
/// number and size of the leaves, not on their content.
pub fn build_big_store(
    work: &Path,
    log: &Log,
    entries: u64,
    progress: &Progress,
) -> BenchResult<PathBuf> {
    let pool: Vec<Vec<u8>> = {
        let store = Store::open(&log.store_dir)?;
        // Entry 0 is the genesis: the pool is the messages after it.
        let end = (POOL + 1).min(store.size());
        store
            .leaves(1..end)?
            .map(|item| item.map(|(_, leaf)| leaf))
            .collect::<Result<_, _>>()?
    };
    let dir = work.join("big-store");
    let mut store = Store::create(&dir)?;
    let bar = progress.bar(entries, &format!("building a {entries}-entry store"));
    let mut i = 0u64;
    while i < entries {
        let mut batch = store.batch();
        let end = (i + 1000).min(entries);
        for k in i..end {
            batch.append_leaf(pool[(k % pool.len() as u64) as usize].clone());
        }
        store.commit(batch)?;
        bar.inc(end - i);
        i = end;
    }
    bar.finish_and_clear();
    Ok(dir)
}
