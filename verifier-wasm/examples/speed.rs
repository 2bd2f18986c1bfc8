//! The native side of the browser/native speed ratio in BENCHMARKS.md: the same work as
//! `verifier-wasm/tests/speed.mjs` does in Chromium, through the same functions. Verifies
//! the last receipt of spec/vectors/entries.json, and audits its whole log (entries and
//! checkpoints), each for about two seconds, and prints receipts/s and audit entries/s.
//!
//!     cargo run --release -p dyad-verifier-wasm --example speed

use std::time::{Duration, Instant};

use dyad_verifier_wasm::proofs::LeafAudit;
use dyad_verifier_wasm::receipt::ReceiptCheck;
use serde_json::Value;

fn rate(mut work: impl FnMut() -> u64) -> f64 {
    let start = Instant::now();
    let mut done = 0;
    while start.elapsed() < Duration::from_secs(2) {
        done += work();
    }
    done as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../spec/vectors/entries.json");
    let v: Value = serde_json::from_slice(&std::fs::read(root).expect("the vectors")).unwrap();
    let keys: Vec<(String, String)> = v["parties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["vkey"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let receipt = v["receipts"].as_array().unwrap().last().unwrap()["receipt"]
        .as_str()
        .unwrap()
        .as_bytes()
        .to_vec();
    let mut check = ReceiptCheck::new();
    for (n, t) in &keys {
        check.add_key_file(n, t);
    }
    assert!(check.verify(&receipt).contains("\"valid\":true"));
    let receipts = rate(|| {
        check.verify(&receipt);
        1
    });
    let mut audit = LeafAudit::new();
    let entries = v["entries"].as_array().unwrap();
    for e in entries {
        audit.add_leaf(hex::decode(e["entry_hex"].as_str().unwrap()).unwrap());
    }
    for c in v["checkpoints"].as_array().unwrap() {
        audit.add_checkpoint(c["note"].as_str().unwrap().as_bytes().to_vec());
    }
    assert!(audit.run(&keys).contains("\"valid\":true"));
    let audited = rate(|| {
        audit.run(&keys);
        entries.len() as u64
    });
    println!("{{\"receipts_per_s\": {receipts:.0}, \"audit_entries_per_s\": {audited:.0}}}");
}
