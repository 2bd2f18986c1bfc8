//! Micro-benchmarks of the ledger's hot paths: `cargo bench -p dyad-ledger`.
//!
//! Tree hashing and appending, proof building from an in-memory tree of a million leaves,
//! and entry encoding, decoding, signing and strict signature checking. The store's own
//! figures (durable appends, proofs from disk, open time) are `dyad-bench`'s and
//! examples/store_scale's, which need a disk and minutes, not a micro-benchmark.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use dyad_ledger::entry::{Draft, Entry, Kind, SignedEntry};
use dyad_ledger::keys::SignerKey;
use dyad_ledger::tree::{self, leaf_hash, node_hash, Frontier, MemoryTree};

const TREE_SIZE: u64 = 1 << 20;

fn hashing(c: &mut Criterion) {
    let mut g = c.benchmark_group("tree_hash");
    g.throughput(Throughput::Elements(1));
    let entry = vec![7u8; 250];
    g.bench_function("leaf_hash_250B", |b| {
        b.iter(|| leaf_hash(black_box(&entry)))
    });
    let (l, r) = ([1u8; 32], [2u8; 32]);
    g.bench_function("node_hash", |b| {
        b.iter(|| node_hash(black_box(&l), black_box(&r)))
    });
    g.finish();
}

fn appending(c: &mut Criterion) {
    let leaves: Vec<_> = (0..1024u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    let mut g = c.benchmark_group("tree_append");
    g.throughput(Throughput::Elements(leaves.len() as u64));
    g.bench_function("frontier_1024", |b| {
        b.iter(|| {
            let mut frontier = Frontier::new();
            for leaf in &leaves {
                black_box(frontier.append(*leaf));
            }
            frontier.root()
        })
    });
    g.finish();
}

fn proofs(c: &mut Criterion) {
    let mut tree = MemoryTree::new();
    for i in 0..TREE_SIZE {
        tree.append(leaf_hash(&i.to_be_bytes()));
    }
    let mut g = c.benchmark_group("proof_build");
    g.throughput(Throughput::Elements(1));
    let mut k = 0u64;
    g.bench_function("inclusion_1M", |b| {
        b.iter(|| {
            k = (k + 7919) % TREE_SIZE;
            tree::inclusion_proof(k, TREE_SIZE, &tree).unwrap()
        })
    });
    g.bench_function("consistency_1M", |b| {
        b.iter(|| {
            k = (k + 7919) % TREE_SIZE;
            tree::consistency_proof(k + 1, TREE_SIZE, &tree).unwrap()
        })
    });
    g.finish();
}

fn entries(c: &mut Criterion) {
    let key = SignerKey::from_seed("bench.example/alpha", [3; 32]).unwrap();
    let draft = || {
        Draft::new(
            Kind::Notification,
            "exercise starts Monday",
            "text/plain",
            vec![b'.'; 120],
        )
    };
    let signed = draft()
        .sign(&key, "bench.example/dyad", 1, 1_767_225_600_000)
        .unwrap();
    let bytes = signed.bytes.clone();
    let verifying = ed25519_dalek::VerifyingKey::from_bytes(&key.public_key()).unwrap();
    let mut g = c.benchmark_group("entry");
    g.throughput(Throughput::Elements(1));
    g.bench_function("sign", |b| {
        b.iter_batched(
            draft,
            |d| {
                d.sign(&key, "bench.example/dyad", 1, 1_767_225_600_000)
                    .unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("encode", |b| b.iter(|| signed.entry.encode().unwrap()));
    g.bench_function("decode", |b| {
        b.iter(|| Entry::decode(black_box(&bytes)).unwrap())
    });
    g.bench_function("decode_signed", |b| {
        b.iter(|| SignedEntry::decode(black_box(&bytes)).unwrap())
    });
    g.bench_function("signature_verifies", |b| {
        b.iter(|| assert!(signed.entry.signature_verifies(0, &verifying)))
    });
    g.finish();
}

criterion_group!(benches, hashing, appending, proofs, entries);
criterion_main!(benches);
