//! Scale figures for the store, printed, not asserted:
//! `cargo run --release -p dyad-ledger --example store_scale -- DIR ENTRIES [BATCH]`
//!
//! Appends 200-byte entries in batches (default 1000) until the store in DIR (created
//! if missing) holds ENTRIES, then reopens it twice and times proofs, verifies nothing
//! else. Leave DIR in place to time a later open again. With DYAD_VERIFY set, also
//! times `verify_all`.

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
