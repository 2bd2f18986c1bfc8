//! Channel-level figures, printed, not asserted:
//! `cargo run --release -p dyad-ledger --example append_signed -- DIR [ENTRIES]`
//!
//! Pre-signs ENTRIES (default 200,000) co-signer messages of about 300 encoded bytes, then
//! - the sequencer's durable signed appends (`Channel::append_signed`: signature checked,
//!   encoded, hashed into the tree, stored, one fsync per batch) at batch sizes 1, 10, 100
//!   and 1000;
//! - the co-signer accepting the same entries (`Channel::accept_and_cosign`: decode,
//!   check, recompute the root, store, co-sign) in steps of 1000;
//! - the sequencer's `sign_checkpoint` alone (one small durable batch).
//!
//! With a third argument BATCH, only that batch size is timed, on all ENTRIES (for
//! profiling). DIR must not exist yet (or be empty); it is left in place.

use std::path::Path;
use std::time::Instant;

use dyad_ledger::channel::{Channel, Role};
use dyad_ledger::entry::{Draft, Kind, SignedEntry};
use dyad_ledger::genesis::{cosign_proposal, Genesis, Party};
use dyad_ledger::keys::SignerKey;

const ORIGIN: &str = "example.org/dyad/bench";

use dyad_ledger::clock::now_ms;

/// CPU time of this process (all threads) so far, in seconds: on a shared machine this,
/// not the wall clock, is the cost of the work.
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime and stime are the
    // 12th and 13th, in clock ticks of 1/100 s on Linux.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    (f.get(11).unwrap_or(&0.0) + f.get(12).unwrap_or(&0.0)) / 100.0
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = Path::new(args.get(1).expect("DIR [ENTRIES]"));
    let total: u64 = args.get(2).map_or(200_000, |n| n.parse().unwrap());
    let alpha = SignerKey::from_seed("example.org/alpha", [1; 32]).unwrap();
    let bravo = SignerKey::from_seed("example.org/bravo", [2; 32]).unwrap();
    let t0 = now_ms() - 60_000;
    let genesis = Genesis::new(ORIGIN, Party::of(&alpha), Party::of(&bravo));
    let proposal = genesis.propose(&alpha, t0).unwrap();
    let (genesis_entry, _) = cosign_proposal(&proposal.bytes, &bravo).unwrap();
    let mut seq = Channel::create(&dir.join("alpha"), &genesis_entry, Role::Sequencer).unwrap();
    let mut cos = Channel::create(&dir.join("bravo"), &genesis_entry, Role::Cosigner).unwrap();

    let start = Instant::now();
    let signed: Vec<SignedEntry> = (1..=total)
        .map(|i| {
            Draft::new(
                Kind::ThreatIndicators,
                &format!("indicators batch {i}"),
                "application/json",
                format!("{{\"ip\":\"192.0.2.{}\",\"seen\":{i}}}", i % 256)
                    .into_bytes()
                    .into_iter()
                    .chain(std::iter::repeat_n(b' ', 150))
                    .collect(),
            )
            .sign(&bravo, ORIGIN, i, t0 + i / 1000)
            .unwrap()
        })
        .collect();
    let bytes: usize = signed.iter().map(|e| e.bytes.len()).sum();
    println!(
        "signed {total} entries ({} bytes each on average) in {:.2?}",
        bytes / signed.len(),
        start.elapsed()
    );

    // Each batch size gets a share of the entries in proportion to its speed.
    let plan: [(usize, u64); 4] = [
        (1, (total / 100).max(1)),
        (10, (total / 40).max(10)),
        (100, total / 10),
        (1000, total),
    ];
    let only: Option<usize> = args.get(3).map(|b| b.parse().unwrap());
    let plan: Vec<(usize, u64)> = match only {
        Some(b) => vec![(b, total)],
        None => plan.to_vec(),
    };
    let mut next = 0usize;
    for (batch, budget) in plan {
        let end = (next as u64 + budget).min(total) as usize;
        if end <= next {
            break;
        }
        let (start, cpu) = (Instant::now(), cpu_s());
        for chunk in signed[next..end].chunks(batch) {
            seq.append_signed(chunk, now_ms()).unwrap();
        }
        let t = start.elapsed();
        println!(
            "append_signed batch {batch:>4}: {:>7} entries in {t:>9.2?}: {:>8.0} entries/s, {:>6.1} CPU-us per entry",
            end - next,
            (end - next) as f64 / t.as_secs_f64(),
            (cpu_s() - cpu) * 1e6 / (end - next) as f64
        );
        next = end;
    }

    let start = Instant::now();
    let n = 200;
    for _ in 0..n {
        seq.sign_checkpoint(&alpha).unwrap();
    }
    println!(
        "sign_checkpoint: {:.0}/s",
        n as f64 / start.elapsed().as_secs_f64()
    );

    // The co-signer takes the log in steps, as add-checkpoint would hand it over.
    let size = seq.size();
    let step = 1000u64;
    let (start, cpu) = (Instant::now(), cpu_s());
    let mut at = cos.size();
    while at < size {
        let to = (at + step).min(size);
        let entries: Vec<Vec<u8>> = seq
            .store()
            .leaves(at..to)
            .unwrap()
            .map(|l| l.unwrap().1)
            .collect();
        let text = dyad_verifier::checkpoint::Checkpoint {
            origin: ORIGIN.to_owned(),
            size: to,
            root: seq.store().root_at(to).unwrap(),
            extensions: Vec::new(),
        }
        .to_text();
        let log_key = genesis.log_key().unwrap();
        let sig = alpha.sign(text.as_bytes());
        let note = format!(
            "{text}\n{}",
            dyad_verifier::note::signature_line(log_key.name(), log_key.key_id(), &sig)
        );
        cos.accept_and_cosign(&bravo, &entries, note.as_bytes(), now_ms())
            .unwrap();
        at = to;
    }
    let t = start.elapsed();
    println!(
        "accept_and_cosign step {step}: {} entries in {t:.2?}: {:.0} entries/s, {:.1} CPU-us per entry",
        size - 1,
        (size - 1) as f64 / t.as_secs_f64(),
        (cpu_s() - cpu) * 1e6 / (size - 1) as f64
    );
}
