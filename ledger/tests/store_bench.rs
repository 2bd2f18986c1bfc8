//! Rough throughput figures, not run by default:
//! `cargo test --release -p dyad-ledger --test store_bench -- --ignored --nocapture --test-threads 1`
//! Set DYAD_BENCH_ENTRIES to change the size of the large log (default 1,000,000).

use std::time::Instant;

use dyad_ledger::store::Store;

fn entry(i: u64) -> Vec<u8> {
    // About the size of a small signed entry.
    let mut v = format!("bench entry {i} ").into_bytes();
    v.resize(200, b'.');
    v
}

fn entries() -> u64 {
    std::env::var("DYAD_BENCH_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

#[test]
#[ignore]
fn appends_per_second() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let mut store = Store::create(&dir).unwrap();
    let n = entries();
    let batch_size = 1000;
    let start = Instant::now();
    let mut i = 0;
    while i < n {
        let mut b = store.batch();
        for j in i..(i + batch_size).min(n) {
            b.append_leaf(entry(j));
        }
        store.commit(b).unwrap();
        i += batch_size;
    }
    let t = start.elapsed();
    println!(
        "batch {batch_size}: {n} entries in {t:.2?}: {:.0} entries/s",
        n as f64 / t.as_secs_f64()
    );

    let singles = 2000;
    let start = Instant::now();
    for j in n..n + singles {
        let mut b = store.batch();
        b.append_leaf(entry(j));
        store.commit(b).unwrap();
    }
    let t = start.elapsed();
    println!(
        "batch 1: {singles} entries in {t:.2?}: {:.0} entries/s (one fsync each)",
        singles as f64 / t.as_secs_f64()
    );

    let size = store.size();
    let start = Instant::now();
    for k in 0..1000u64 {
        let index = (k * 7919) % size;
        store.inclusion_proof(index, size).unwrap();
        store.consistency_proof(index + 1, size).unwrap();
    }
    println!(
        "1000 inclusion + 1000 consistency proofs at size {size}: {:.2?}",
        start.elapsed()
    );
    drop(store);

    let start = Instant::now();
    let store = Store::open(&dir).unwrap();
    println!(
        "open (with its checks) at size {}: {:.2?}",
        store.size(),
        start.elapsed()
    );

    let start = Instant::now();
    let v = store.verify_all(|_, _| {}).unwrap();
    println!(
        "verify_all of {} entries, {} nodes: {:.2?}",
        v.entries,
        v.nodes,
        start.elapsed()
    );
    let bytes: u64 = walk(&dir);
    println!("on disk: {:.1} MiB", bytes as f64 / (1 << 20) as f64);
}

fn walk(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            if m.is_dir() {
                walk(&e.path())
            } else {
                m.len()
            }
        })
        .sum()
}
