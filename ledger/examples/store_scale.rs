//! Scale figures for the store, printed, not asserted:
//! `cargo run --release -p dyad-ledger --example store_scale -- DIR ENTRIES [BATCH]`
//!
//! Appends 200-byte entries in batches (default 1000) until the store in DIR (created
//! if missing) holds ENTRIES, then reopens it twice and times proofs, random and
//! sequential reads (with RSS), verifies nothing else. Leave DIR in place to time a later open again. With DYAD_VERIFY set, also
//! times `verify_all`. With BATCH 1, also times raw sled's durable batch-1 commit
//! before and after, as the ceiling.

use std::path::Path;
use std::time::Instant;

use dyad_ledger::store::Store;

fn entry(i: u64) -> Vec<u8> {
    let mut v = format!("bench entry {i} ").into_bytes();
    v.resize(200, b'.');
    v
}

fn disk_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            if m.is_dir() {
                disk_bytes(&e.path())
            } else {
                m.len()
            }
        })
        .sum()
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// The ceiling of a durable batch-1 commit on this machine: raw sled, one 200-byte value
/// and a 40-byte head per batch, flushed, then `db` fsynced, as the store commits.
fn raw_sled_ceiling(dir: &Path, n: u64) {
    let raw = dir.with_extension("raw-sled");
    let _ = std::fs::remove_dir_all(&raw);
    let db = sled::Config::new()
        .path(&raw)
        .flush_every_ms(None)
        .open()
        .unwrap();
    let file = std::fs::File::open(raw.join("db")).unwrap();
    let start = Instant::now();
    for i in 0..n {
        let mut b = sled::Batch::default();
        b.insert(&i.to_be_bytes()[..], entry(i));
        b.insert(&b"H"[..], &[0u8; 40][..]);
        db.apply_batch(b).unwrap();
        db.flush().unwrap();
        file.sync_all().unwrap();
    }
    println!(
        "raw sled ceiling, {n} batches of 1 (insert, flush, fsync): {:.0}/s",
        n as f64 / start.elapsed().as_secs_f64()
    );
    drop(db);
    let _ = std::fs::remove_dir_all(&raw);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = Path::new(args.get(1).expect("DIR ENTRIES [BATCH]"));
    let target: u64 = args.get(2).expect("ENTRIES").parse().unwrap();
    let batch: u64 = args.get(3).map_or(1000, |b| b.parse().unwrap());

    let start = Instant::now();
    let mut store = if dir.join("db").exists() {
        Store::open(dir).unwrap()
    } else {
        Store::create(dir).unwrap()
    };
    println!(
        "open/create at size {}: {:.2?}",
        store.size(),
        start.elapsed()
    );
    let from = store.size();
    if batch == 1 && from < target {
        raw_sled_ceiling(dir, (target - from).min(2000));
    }
    if from < target {
        let start = Instant::now();
        let mut last = Instant::now();
        let mut i = from;
        while i < target {
            let mut b = store.batch();
            for j in i..(i + batch).min(target) {
                b.append_leaf(entry(j));
            }
            store.commit(b).unwrap();
            i = (i + batch).min(target);
            if last.elapsed().as_secs() >= 30 {
                last = Instant::now();
                eprintln!(
                    "  {i} entries, {:.0}/s so far",
                    (i - from) as f64 / start.elapsed().as_secs_f64()
                );
            }
        }
        let t = start.elapsed();
        println!(
            "appended {} entries in batches of {batch} in {t:.2?}: {:.0} entries/s",
            target - from,
            (target - from) as f64 / t.as_secs_f64()
        );
    }
    drop(store);
    if batch == 1 && from < target {
        raw_sled_ceiling(dir, (target - from).min(2000));
    }

    for which in ["first", "second"] {
        let start = Instant::now();
        let store = Store::open(dir).unwrap();
        println!(
            "{which} open at size {}: {:.2?} (RSS {} MiB)",
            store.size(),
            start.elapsed(),
            rss_kib() / 1024
        );
        drop(store);
    }

    let store = Store::open(dir).unwrap();
    let size = store.size();
    let n = 20_000u64;
    let start = Instant::now();
    for k in 0..n {
        let index = (k * 7919 + k * k * 104729) % size;
        store.inclusion_proof(index, size).unwrap();
    }
    let t = start.elapsed();
    println!(
        "{n} inclusion proofs at size {size}: {:.0}/s (RSS {} MiB)",
        n as f64 / t.as_secs_f64(),
        rss_kib() / 1024
    );
    let start = Instant::now();
    for k in 0..n {
        let old = 1 + (k * 7919 + k * k * 104729) % (size - 1);
        store.consistency_proof(old, size).unwrap();
    }
    let t = start.elapsed();
    println!(
        "{n} consistency proofs to size {size}: {:.0}/s (RSS {} MiB)",
        n as f64 / t.as_secs_f64(),
        rss_kib() / 1024
    );
    let start = Instant::now();
    for k in 0..n {
        let index = (k * 7919 + k * k * 104729) % size;
        store.leaf(index).unwrap();
    }
    println!(
        "{n} random leaf reads: {:.0}/s (RSS {} MiB)",
        n as f64 / start.elapsed().as_secs_f64(),
        rss_kib() / 1024
    );
    // The audit's path: every entry in order, memory sampled as it goes.
    let start = Instant::now();
    let mut peak = rss_kib();
    let mut bytes = 0u64;
    for (i, item) in store.leaves(0..size).unwrap().enumerate() {
        bytes += item.unwrap().1.len() as u64;
        if i % 100_000 == 0 {
            peak = peak.max(rss_kib());
        }
    }
    println!(
        "sequential read of {size} entries ({} MiB): {:.0} entries/s (peak RSS {} MiB)",
        bytes >> 20,
        size as f64 / start.elapsed().as_secs_f64(),
        peak / 1024
    );
    if std::env::var_os("DYAD_VERIFY").is_some() {
        let start = Instant::now();
        let v = store.verify_all(|_, _| {}).unwrap();
        println!(
            "verify_all of {} entries, {} nodes: {:.2?} (RSS {} MiB)",
            v.entries,
            v.nodes,
            start.elapsed(),
            rss_kib() / 1024
        );
    }
    let bytes = disk_bytes(dir);
    println!(
        "on disk: {:.1} MiB, {:.0} bytes per entry",
        bytes as f64 / f64::from(1 << 20),
        bytes as f64 / size as f64
    );
}
