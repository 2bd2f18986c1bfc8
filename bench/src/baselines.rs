//! What the figures are measured against, in the same run:
//!
//! - the ceilings of this machine: Ed25519 verification (batched, as `verify_batch` does
//!   it, and one at a time, strict, as the ledger checks entries), raw sled batch insert
//!   plus fsync of values the size of an encoded entry, and the SHA-256 node hash;
//! - the peers: ct-merkle and rs_merkle doing the same tree work in memory (building the
//!   tree from leaf hashes, inclusion proofs, and ct-merkle's consistency proofs), and
//!   dyad's own in-memory tree (`tree::MemoryTree`) for reference.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use ct_merkle::mem_backed_tree::MemoryBackedTree;
use dyad_ledger::tree::{self, MemoryTree};
use dyad_verifier::keyed::KeyedVerifier;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::report::{per_s, Figures};
use super::{BenchError, BenchResult, Progress, Sizes};

/// A deterministic generator for indexes (the same sample every run): the testkit's seeded
/// PRNG, with the one draw the benchmarks need.
pub struct IndexSampler(dyad_testkit::rng::Rng);

impl IndexSampler {
    pub fn new(seed: u64) -> IndexSampler {
        IndexSampler(dyad_testkit::rng(seed))
    }

    /// Uniform in `lo..hi` (hi > lo).
    pub fn below(&mut self, lo: u64, hi: u64) -> u64 {
        use dyad_testkit::rng::RngExt;
        self.0.random_range(lo..hi)
    }
}

/// Runs `op` in rounds until `time` has passed; returns (ops, elapsed).
pub fn timed_loop(time: Duration, mut op: impl FnMut(u64) -> u64) -> (u64, Duration) {
    let start = Instant::now();
    let mut done = 0u64;
    let mut round = 0u64;
    while start.elapsed() < time {
        done += op(round);
        round += 1;
    }
    (done, start.elapsed())
}

/// The ceilings, signing and storing values of `entry_len` bytes (an encoded entry).
pub fn ceilings(
    sizes: &Sizes,
    entry_len: usize,
    work: &Path,
    progress: &Progress,
    figures: &mut Figures,
) -> BenchResult<()> {
    let bar = progress.step("ceilings: Ed25519 verification");
    signatures(sizes, entry_len, figures)?;
    bar.finish_and_clear();
    let total: u64 = sizes.sled_entries.iter().sum();
    let bar = progress.bar(total, "ceilings: raw sled batch insert + fsync");
    for (b, n) in [1usize, 10, 100, 1000].into_iter().zip(sizes.sled_entries) {
        let rate = sled_rate(&work.join(format!("sled-raw-{b}")), b, n, entry_len, &bar)?;
        figures.set(&format!("ceiling_sled_batch{b}_fsync_per_s"), rate);
        if b == 1000 {
            figures.set("ceiling_sled_batch_fsync_per_s", rate);
        }
    }
    bar.finish_and_clear();
    let bar = progress.step("ceilings: SHA-256 node hash");
    let mut h = [7u8; 32];
    let start = Instant::now();
    for _ in 0..sizes.hashes {
        h = Sha256::new()
            .chain_update([1u8])
            .chain_update(h)
            .chain_update(black_box(h))
            .finalize()
            .into();
    }
    black_box(h);
    figures.set(
        "ceiling_node_hash_per_s",
        per_s(sizes.hashes, start.elapsed()),
    );
    bar.finish_and_clear();
    Ok(())
}

fn signatures(sizes: &Sizes, entry_len: usize, figures: &mut Figures) -> BenchResult<()> {
    // Two signers, as in a channel, over entry-sized messages.
    let keys: Vec<SigningKey> = (0u8..2)
        .map(|i| SigningKey::from_bytes(&Sha256::digest([b'k', i]).into()))
        .collect();
    let n = sizes.sig_batch;
    let messages: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let mut m = format!("message {i} ").into_bytes();
            m.resize(entry_len, b'.');
            m
        })
        .collect();
    let signatures: Vec<Signature> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| keys[i % 2].sign(m))
        .collect();
    let verifying: Vec<VerifyingKey> = (0..n).map(|i| keys[i % 2].verifying_key()).collect();
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    let mut failed = None;
    let (count, elapsed) = timed_loop(sizes.ops_time, |_| {
        if let Err(e) = ed25519_dalek::verify_batch(&refs, &signatures, &verifying) {
            failed = Some(e);
        }
        n as u64
    });
    if let Some(e) = failed {
        return Err(BenchError::not_verified("the Ed25519 batch", e));
    }
    figures.set("ceiling_sig_verify_batch_per_s", per_s(count, elapsed));
    let (count, elapsed) = timed_loop(sizes.ops_time, |round| {
        let i = (round as usize) % n;
        if let Err(e) = verifying[i].verify_strict(&messages[i], &signatures[i]) {
            failed = Some(e);
        }
        1
    });
    if let Some(e) = failed {
        return Err(BenchError::not_verified("an Ed25519 signature", e));
    }
    figures.set("ceiling_sig_verify_single_per_s", per_s(count, elapsed));
    // The same checks with each key's precomputed table (dyad_verifier::keyed), which
    // decides what verify_strict decides.
    let keyed: Vec<KeyedVerifier> = keys
        .iter()
        .map(|k| KeyedVerifier::new(&k.verifying_key()))
        .collect();
    let bytes: Vec<[u8; 64]> = signatures.iter().map(Signature::to_bytes).collect();
    let mut refused = false;
    let (count, elapsed) = timed_loop(sizes.ops_time, |round| {
        let i = (round as usize) % n;
        refused |= !keyed[i % 2].verify(&messages[i], &bytes[i]);
        1
    });
    if refused {
        return Err(BenchError::not_verified(
            "an Ed25519 signature (keyed verifier)",
            "refused",
        ));
    }
    figures.set("ceiling_sig_verify_keyed_per_s", per_s(count, elapsed));
    Ok(())
}

/// Raw sled: `n` values of an encoded entry's size under big-endian u64 keys, `batch` per
/// atomic batch, each batch made durable as the store makes its commits durable: sled's
/// flush (which ends in `sync_file_range` only), then an fsync of sled's `db` file.
fn sled_rate(
    dir: &Path,
    batch: usize,
    n: u64,
    value_len: usize,
    bar: &indicatif::ProgressBar,
) -> BenchResult<f64> {
    let db = sled::Config::new().path(dir).flush_every_ms(None).open()?;
    let db_file = dir.join("db");
    let file = std::fs::File::open(&db_file)
        .map_err(BenchError::io(format!("open {}", db_file.display())))?;
    let value = vec![0x5a; value_len];
    let start = Instant::now();
    let mut i = 0u64;
    while i < n {
        let mut b = sled::Batch::default();
        let end = (i + batch as u64).min(n);
        for k in i..end {
            b.insert(&k.to_be_bytes(), value.as_slice());
        }
        db.apply_batch(b)?;
        db.flush()?;
        file.sync_all()
            .map_err(BenchError::io(format!("fsync {}", db_file.display())))?;
        bar.inc(end - i);
        i = end;
    }
    let rate = per_s(n, start.elapsed());
    drop(db);
    std::fs::remove_dir_all(dir).map_err(BenchError::io(format!("remove {}", dir.display())))?;
    Ok(rate)
}

/// The peers at the size of the store whose proofs are measured: the same leaf hashes,
/// the tree built in memory, and as many inclusion proofs at the same random indexes.
pub fn peers(
    size: u64,
    sizes: &Sizes,
    progress: &Progress,
    figures: &mut Figures,
) -> BenchResult<()> {
    let bar = progress.step(&format!("peers: ct-merkle, rs_merkle at {size} leaves"));
    let leaves: Vec<[u8; 32]> = (0..size)
        .map(|i| tree::leaf_hash(&i.to_be_bytes()))
        .collect();
    let n = sizes.proofs as u64;
    let index = |seed| {
        let mut r = IndexSampler::new(seed);
        move || r.below(0, size)
    };

    {
        let start = Instant::now();
        let mut t = MemoryBackedTree::<Sha256, [u8; 32]>::new();
        for l in &leaves {
            t.push(*l);
        }
        black_box(t.root());
        figures.set("ctmerkle_build_leaves_per_s", per_s(size, start.elapsed()));
        let mut next = index(1);
        let start = Instant::now();
        for _ in 0..n {
            black_box(t.prove_inclusion(next() as usize));
        }
        figures.set("ctmerkle_inclusion_proofs_per_s", per_s(n, start.elapsed()));
        let mut next = index(2);
        let start = Instant::now();
        for _ in 0..n {
            // Proves that the tree of `size - additions` leaves is a prefix of this one.
            let additions = size - 1 - next().min(size - 2);
            black_box(t.prove_consistency(additions as usize));
        }
        figures.set(
            "ctmerkle_consistency_proofs_per_s",
            per_s(n, start.elapsed()),
        );
    }
    {
        let start = Instant::now();
        let t = rs_merkle::MerkleTree::<rs_merkle::algorithms::Sha256>::from_leaves(&leaves);
        black_box(t.root());
        figures.set("rsmerkle_build_leaves_per_s", per_s(size, start.elapsed()));
        let mut next = index(1);
        let start = Instant::now();
        for _ in 0..n {
            black_box(t.proof(&[next() as usize]));
        }
        figures.set("rsmerkle_inclusion_proofs_per_s", per_s(n, start.elapsed()));
    }
    {
        let start = Instant::now();
        let mut t = MemoryTree::new();
        for l in &leaves {
            t.append(*l);
        }
        black_box(t.root());
        figures.set("memtree_build_leaves_per_s", per_s(size, start.elapsed()));
        let mut next = index(1);
        let start = Instant::now();
        for _ in 0..n {
            let proof = tree::inclusion_proof(next(), size, &t)
                .map_err(|e| BenchError::not_verified("a MemoryTree inclusion proof", e))?;
            black_box(proof);
        }
        figures.set("memtree_inclusion_proofs_per_s", per_s(n, start.elapsed()));
    }
    bar.finish_and_clear();
    Ok(())
}
