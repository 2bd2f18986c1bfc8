//! Measurement 4: verification on one core, with dyad-verifier only:
//! inclusion proofs, consistency proofs, co-signed checkpoints (the committed rule of
//! spec section 7 under the channel's genesis) and receipts (spec section 8: checkpoint,
//! entry signature, inclusion proof).
//!
//! The inputs come from the log the appends built: proofs at the size of its latest
//! co-signed checkpoint, that checkpoint's note, and receipts for random entries. Each
//! kind is verified in a loop on this thread for a fixed time; every result is checked.

use std::hint::black_box;

use dyad_ledger::store::Store;
use dyad_verifier::genesis::ChannelParams;
use dyad_verifier::receipt::{self, ReceiptTrust};
use dyad_verifier::Hash;

use super::appends::Log;
use super::baselines::{timed_loop, IndexSampler};
use super::fixture::Parties;
use super::report::{per_s, Figures};
use super::{BenchError, BenchResult, Progress, Sizes};

/// Distinct inputs per kind, cycled through by the loops.
const SAMPLES: usize = 1024;

struct Inclusion {
    leaf: Hash,
    index: u64,
    proof: Vec<Hash>,
}

struct Consistency {
    old: u64,
    old_root: Hash,
    proof: Vec<Hash>,
}

pub fn run(
    log: &Log,
    parties: &Parties,
    sizes: &Sizes,
    progress: &Progress,
    figures: &mut Figures,
) -> BenchResult<()> {
    let bar = progress.step("verification, one core");
    let store = Store::open(&log.store_dir)?;
    let (size, note) = store
        .latest_checkpoint()?
        .ok_or_else(|| BenchError::not_verified("the log", "it has no co-signed checkpoint"))?;
    let root = store.root_at(size)?;
    let mut rng = IndexSampler::new(3);
    let mut inclusions = Vec::with_capacity(SAMPLES);
    let mut receipts = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        // Receipts are for messages: entry 0 is the genesis.
        let index = rng.below(1, size);
        let entry = store.leaf(index)?;
        let proof = store.inclusion_proof(index, size)?;
        receipts.push(receipt::format(&entry, index, &proof, &note));
        inclusions.push(Inclusion {
            leaf: dyad_verifier::hash::leaf_hash(&entry),
            index,
            proof,
        });
    }
    let mut consistencies = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let old = rng.below(1, size);
        consistencies.push(Consistency {
            old,
            old_root: store.root_at(old)?,
            proof: store.consistency_proof(old, size)?,
        });
    }
    let genesis_entry = store.leaf(0)?;
    drop(store);
    let hashes: usize = inclusions.iter().map(|i| i.proof.len()).sum();
    figures.set("inclusion_proof_hashes", hashes as f64 / SAMPLES as f64);
    figures.set("verify_log_size", size as f64);

    let mut failure: Option<BenchError> = None;
    let (n, t) = timed_loop(sizes.ops_time, |round| {
        let s = &inclusions[round as usize % SAMPLES];
        let r = dyad_verifier::proof::verify_inclusion(&s.leaf, s.index, size, &s.proof, &root);
        if let Err(e) = black_box(r) {
            failure = Some(BenchError::not_verified("an inclusion proof", e));
        }
        1
    });
    check(failure.take())?;
    figures.set("verify_inclusion_per_s", per_s(n, t));

    let (n, t) = timed_loop(sizes.ops_time, |round| {
        let s = &consistencies[round as usize % SAMPLES];
        let r = dyad_verifier::proof::verify_consistency(s.old, size, &s.old_root, &root, &s.proof);
        if let Err(e) = black_box(r) {
            failure = Some(BenchError::not_verified("a consistency proof", e));
        }
        1
    });
    check(failure.take())?;
    figures.set("verify_consistency_per_s", per_s(n, t));

    let (_, genesis) = dyad_verifier::genesis::check_genesis(&genesis_entry)
        .map_err(|e| BenchError::not_verified("the genesis entry", e))?;
    let params =
        ChannelParams::new(genesis).map_err(|e| BenchError::not_verified("the genesis", e))?;
    let (n, t) = timed_loop(sizes.ops_time, |_| {
        match black_box(params.verify_checkpoint(&note)) {
            Ok(c) if c.checkpoint.size == size => {}
            Ok(c) => {
                failure = Some(BenchError::not_verified(
                    "the co-signed checkpoint",
                    format!("it says size {}, the store {size}", c.checkpoint.size),
                ))
            }
            Err(e) => failure = Some(BenchError::not_verified("the co-signed checkpoint", e)),
        }
        1
    });
    check(failure.take())?;
    figures.set("verify_checkpoint_per_s", per_s(n, t));

    let trust = ReceiptTrust::parties(
        parties.alpha.verifier_key().clone(),
        parties.bravo.verifier_key().clone(),
    )
    .map_err(|e| BenchError::not_verified("the parties' keys", e))?
    // As a verifier checking many receipts by the same parties does.
    .precomputed();
    let (n, t) = timed_loop(sizes.ops_time, |round| {
        let r = receipt::verify(&receipts[round as usize % SAMPLES], &trust);
        if let Err(e) = black_box(r) {
            failure = Some(BenchError::not_verified("a receipt", e));
        }
        1
    });
    check(failure.take())?;
    figures.set("verify_receipt_per_s", per_s(n, t));
    bar.finish_and_clear();
    Ok(())
}

fn check(failure: Option<BenchError>) -> BenchResult<()> {
    failure.map_or(Ok(()), Err)
}
