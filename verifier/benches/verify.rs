//! Micro-benchmarks of the verifier's hot paths: `cargo bench -p dyad-verifier`.
//!
//! Inputs are built with the tests' hand-written encoder (tests/entry_support), so what is
//! timed is exactly what an auditor or a receipt checker runs. Figures go to BENCHMARKS.md
//! with the machine's load; `dyad-bench` measures the same operations end to end.

#[path = "../tests/entry_support/mod.rs"]
mod entry_support;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use dyad_verifier::audit::{AuditTrust, Auditor};
use dyad_verifier::entry;
use dyad_verifier::genesis::ChannelParams;
use dyad_verifier::hash::{leaf_hash, node_hash};
use dyad_verifier::proof::{root_from_inclusion_proof, verify_consistency, verify_inclusion};
use dyad_verifier::receipt::{self, ReceiptTrust};
use dyad_verifier::Hash;
use entry_support::{inclusion_proof, Channel};

/// Distinct, reproducible hashes standing in for proof siblings.
fn hashes(n: usize, salt: u8) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(&[salt, (i >> 8) as u8, i as u8]))
        .collect()
}

/// A complete tree in memory, level by level, so that RFC 9162 subtree hashes (and so
/// real consistency proofs) over a million leaves take one lookup per perfect subtree.
struct Levels(Vec<Vec<Hash>>);

impl Levels {
    fn new(size: u64) -> Levels {
        let mut levels = vec![(0..size).map(|i| leaf_hash(&i.to_be_bytes())).collect()];
        while let Some(last) = levels.last().filter(|l: &&Vec<Hash>| l.len() > 1) {
            let next = last
                .chunks_exact(2)
                .map(|p| node_hash(&p[0], &p[1]))
                .collect();
            levels.push(next);
        }
        Levels(levels)
    }

    /// MTH of leaves `[lo, hi)`.
    fn mth(&self, lo: u64, hi: u64) -> Hash {
        let n = hi - lo;
        let level = n.trailing_zeros();
        if n.is_power_of_two() && lo % n == 0 {
            return self.0[level as usize][(lo >> level) as usize];
        }
        let k = 1 << (63 - (n - 1).leading_zeros());
        node_hash(&self.mth(lo, lo + k), &self.mth(lo + k, hi))
    }

    /// RFC 9162 section 2.1.4.1 SUBPROOF(m, D[lo..hi], b), siblings appended leaf upwards.
    fn subproof(&self, m: u64, lo: u64, hi: u64, complete: bool, out: &mut Vec<Hash>) {
        let n = hi - lo;
        if m == n {
            if !complete {
                out.push(self.mth(lo, hi));
            }
            return;
        }
        let k = 1 << (63 - (n - 1).leading_zeros());
        if m <= k {
            self.subproof(m, lo, lo + k, complete, out);
            out.push(self.mth(lo + k, hi));
        } else {
            self.subproof(m - k, lo + k, hi, false, out);
            out.push(self.mth(lo, lo + k));
        }
    }
}

fn hashing(c: &mut Criterion) {
    let mut g = c.benchmark_group("hash");
    let entry = vec![7u8; 250];
    g.throughput(Throughput::Elements(1));
    g.bench_function("leaf_hash_250B", |b| {
        b.iter(|| leaf_hash(black_box(&entry)))
    });
    let (l, r) = ([1u8; 32], [2u8; 32]);
    g.bench_function("node_hash", |b| {
        b.iter(|| node_hash(black_box(&l), black_box(&r)))
    });
    g.finish();
}

fn proofs(c: &mut Criterion) {
    let mut g = c.benchmark_group("proof");
    g.throughput(Throughput::Elements(1));
    // Any siblings make a valid proof of the root they lead to; the cost depends only on
    // the path length, which the size fixes.
    for size in [1u64 << 20, 10_000_000] {
        let index = size / 3;
        let length = dyad_verifier::proof::inclusion_proof_length(index, size).unwrap();
        let proof = hashes(length, 1);
        let leaf = leaf_hash(b"leaf");
        let root = root_from_inclusion_proof(&leaf, index, size, &proof).unwrap();
        g.bench_function(format!("verify_inclusion_{size}"), |b| {
            b.iter(|| verify_inclusion(&leaf, black_box(index), size, &proof, &root).unwrap())
        });
    }
    let size = (1u64 << 20) + 4321;
    let tree = Levels::new(size);
    let old = size / 3;
    let mut proof = Vec::new();
    tree.subproof(old, 0, size, true, &mut proof);
    let (old_root, new_root) = (tree.mth(0, old), tree.mth(0, size));
    g.bench_function(format!("verify_consistency_{old}_{size}"), |b| {
        b.iter(|| verify_consistency(black_box(old), size, &old_root, &new_root, &proof).unwrap())
    });
    g.finish();
}

fn entries(c: &mut Criterion) {
    let channel = Channel::with_entries(20, 0, 0);
    let params = ChannelParams::new(channel.genesis.clone()).unwrap();
    // Entry 7 is a plain, single-signature entry (see Channel::with_entries).
    let bytes = channel.leaves[7].clone();
    let decoded = entry::decode(&bytes).unwrap();
    let (_, sender) = params.party_by_key_id(decoded.sender).unwrap();
    let sender = sender.clone();
    let mut g = c.benchmark_group("entry");
    g.throughput(Throughput::Elements(1));
    g.bench_function("decode", |b| {
        b.iter(|| entry::decode(black_box(&bytes)).unwrap())
    });
    g.bench_function("verify_signature", |b| {
        b.iter(|| entry::verify_signature(black_box(&bytes), &decoded, &sender).unwrap())
    });
    g.bench_function("check_entry", |b| {
        b.iter(|| entry::check_entry(black_box(&bytes), 7, &params).unwrap())
    });
    g.finish();
}

fn checkpoints_and_receipts(c: &mut Criterion) {
    let channel = Channel::with_entries(40, 0, 0);
    let size = channel.leaves.len();
    let note = channel.checkpoint(size, channel.time_for(size));
    let params = ChannelParams::new(channel.genesis.clone()).unwrap();
    let mut g = c.benchmark_group("checkpoint");
    g.throughput(Throughput::Elements(1));
    g.bench_function("verify_committed", |b| {
        b.iter(|| params.verify_checkpoint(black_box(&note)).unwrap())
    });
    g.finish();

    let index = 17;
    let receipt_bytes = receipt::format(
        &channel.leaves[index],
        index as u64,
        &inclusion_proof(index, &channel.leaf_hashes()),
        &note,
    );
    let by_parties =
        ReceiptTrust::parties(channel.alpha.entry_vkey(), channel.bravo.entry_vkey()).unwrap();
    let by_genesis = ReceiptTrust::genesis(&channel.genesis).unwrap();
    let mut g = c.benchmark_group("receipt");
    g.throughput(Throughput::Elements(1));
    g.bench_function("verify_trusting_parties", |b| {
        b.iter(|| receipt::verify(black_box(&receipt_bytes), &by_parties).unwrap())
    });
    g.bench_function("verify_trusting_genesis", |b| {
        b.iter(|| receipt::verify(black_box(&receipt_bytes), &by_genesis).unwrap())
    });
    g.finish();
}

fn audit(c: &mut Criterion) {
    let channel = Channel::with_entries(255, 0, 0);
    let leaves = channel.leaves.len();
    let note = channel.checkpoint(leaves, channel.time_for(leaves));
    let trust = AuditTrust::Parties([channel.alpha.entry_vkey(), channel.bravo.entry_vkey()]);
    let mut g = c.benchmark_group("audit");
    g.throughput(Throughput::Elements(leaves as u64));
    g.sample_size(20);
    g.bench_function("push_leaf_256", |b| {
        b.iter_batched(
            || Auditor::new(trust.clone()).unwrap(),
            |mut auditor| {
                for leaf in &channel.leaves {
                    auditor.push_leaf(leaf).unwrap();
                    if auditor.leaves() == 1 {
                        auditor.check_checkpoint(&note).unwrap();
                    }
                }
                auditor.finish().unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(
    benches,
    hashing,
    proofs,
    entries,
    checkpoints_and_receipts,
    audit
);
criterion_main!(benches);
