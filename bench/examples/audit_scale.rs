//! Builds a channel replica of ENTRIES signed entries with a co-signed checkpoint every
//! 10,000 entries, to measure `dyad audit` on it (figures are the caller's, e.g. with
//! `/usr/bin/time -v`):
//!
//! ```text
//! cargo run --release -p dyad-bench --example audit_scale -- DIR ENTRIES
//! /usr/bin/time -v target/release/dyad audit --data DIR --trust DIR/alpha.pub --trust DIR/bravo.pub
//! ```
//!
//! DIR gets `ledger/` (the sequencer's store), `alpha.pub` and `bravo.pub`. The keys come
//! from fixed seeds: this is a measurement fixture, not a channel to use. Entries are
//! notifications of about 200 bytes, all from the sequencer; the co-signer's cosignature is
//! made here with its key rather than by a second replica, which would only double the time.
//! An existing DIR is extended up to ENTRIES.

use std::path::Path;
use std::time::Instant;

use dyad_ledger::channel::{Channel, Role};
use dyad_ledger::entry::{Draft, Kind};
use dyad_ledger::genesis::{cosign_proposal, Genesis, Party};
use dyad_ledger::keys::SignerKey;
use dyad_verifier::cosignature;
use dyad_verifier::key::SignatureType;
use dyad_verifier::note;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const CHECKPOINT_EVERY: u64 = 10_000;
const BATCH: u64 = 1_000;

use dyad_ledger::clock::now_ms;

/// The sequencer signs the current tree head; the co-signer's cosignature line is added
/// to it (tlog-cosignature) and the replica stores the committed note.
fn cosign(alpha: &mut Channel, alpha_key: &SignerKey, bravo_key: &SignerKey) -> Result<()> {
    let signed = alpha.sign_checkpoint(alpha_key)?;
    let text = note::parse(&signed)?.text;
    let timestamp = now_ms() / 1000 + 1;
    let signature = bravo_key.sign(&cosignature::signed_message(timestamp, &text));
    let cosigner = bravo_key
        .verifier_key()
        .with_signature_type(SignatureType::CosignatureV1);
    let line = note::signature_line(
        cosigner.name(),
        cosigner.key_id(),
        &cosignature::timestamped_signature(timestamp, &signature),
    );
    let mut committed = signed;
    committed.extend_from_slice(line.as_bytes());
    alpha.add_committed_checkpoint(&committed)?;
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(target)) = (args.get(1), args.get(2)) else {
        return Err("usage: audit_scale DIR ENTRIES".into());
    };
    let dir = Path::new(dir);
    let target: u64 = target.parse()?;
    let alpha_key = SignerKey::from_seed("bench.alpha.example/dyad", [1; 32])?;
    let bravo_key = SignerKey::from_seed("bench.bravo.example/dyad", [2; 32])?;
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join("alpha.pub"),
        format!("{}\n", alpha_key.verifier_key()),
    )?;
    std::fs::write(
        dir.join("bravo.pub"),
        format!("{}\n", bravo_key.verifier_key()),
    )?;
    let store = dir.join("ledger");
    let mut alpha = if store.exists() {
        Channel::open(&store)?
    } else {
        let genesis = Genesis::new(
            "bench.alpha.example/dyad/audit-scale",
            Party::of(&alpha_key),
            Party::of(&bravo_key),
        );
        let proposal = genesis.propose(&alpha_key, now_ms())?;
        let (entry, _) = cosign_proposal(&proposal.bytes, &bravo_key)?;
        Channel::create(&store, &entry, Role::Sequencer)?
    };
    let start = Instant::now();
    let from = alpha.size();
    while alpha.size() < target {
        let n = BATCH.min(target - alpha.size());
        let drafts = (0..n)
            .map(|i| {
                let mut payload = format!("scale entry {}: ", alpha.size() + i).into_bytes();
                payload.resize(120, b'.');
                Draft::new(Kind::Notification, "audit scale", "text/plain", payload)
            })
            .collect();
        alpha.append_own(&alpha_key, drafts, now_ms())?;
        if alpha.size() % CHECKPOINT_EVERY == 0 || alpha.size() == target {
            cosign(&mut alpha, &alpha_key, &bravo_key)?;
        }
    }
    println!(
        "{} entries (appended {} in {:.1?}) in {}",
        alpha.size(),
        alpha.size() - from,
        start.elapsed(),
        store.display()
    );
    Ok(())
}
