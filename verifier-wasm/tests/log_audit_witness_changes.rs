//! The page follows witness changes (spec/dyad.md 3.8) as the native verifier does: its
//! whole-log audit over tlog-tiles ([`LogAudit`]) and its audit of leaves held whole report
//! the witness change and judge each checkpoint by the witnesses at its size, and its
//! receipt check takes a witness change from the key history (`key-changes/`, section 8).
//! The logs are built with the verifier's own test support (one copy of the fixture), and
//! read from the spec vectors. Runs natively: the functions are the ones the wasm module
//! exports.

#[path = "../../verifier/tests/entry_support/mod.rs"]
mod entry_support;

use std::collections::BTreeMap;

use dyad_testkit::witness_change as spec;
use dyad_verifier::audit::{self, AuditTrust};
use dyad_verifier::entry::Kind;
use dyad_verifier::receipt::{self, ReceiptTrust};
use dyad_verifier::receipt_history::verify_with_key_history;
use dyad_verifier_wasm::log_audit::LogAudit;
use dyad_verifier_wasm::proofs::LeafAudit;
use dyad_verifier_wasm::receipt::ReceiptCheck;
use entry_support::*;
use serde_json::Value;

/// The log: genesis (witnesses w0, w1, both required); a message each; the co-signer
/// changes the witnesses at index 3 to n0, n1 (one required), approved by the sequencer;
/// a message each; its checkpoint of size 6, co-signed by the co-signer and n0. With
/// `approver` another key than the sequencer's, the approval is bad.
fn log(approver: Option<&TestKey>) -> (Channel, Vec<u8>, Vec<TestKey>) {
    let mut c = Channel::new(2, 2);
    let (alpha, bravo) = (c.alpha.clone(), c.bravo.clone());
    c.push(0, Kind::Notification, 1, T0_MS + 1000, None);
    c.push(1, Kind::Notification, 1, T0_MS + 2000, None);
    let new: Vec<TestKey> = ["n0", "n1"]
        .iter()
        .map(|n| TestKey::new(&format!("{n}.witness.example")))
        .collect();
    let listed: Vec<(&str, [u8; 32])> = new
        .iter()
        .map(|w| (w.name.as_str(), w.public_key()))
        .collect();
    let record = spec::record(1, &listed, 1);
    let approval = approver
        .unwrap_or(&alpha)
        .sign(&spec::statement(&c.origin, &record));
    let mut e = draft(&c.origin, Kind::WitnessChange, &bravo, 2, T0_MS + 3000);
    e.content_type = spec::CONTENT_TYPE.into();
    e.payload = spec::payload(&record, &approval);
    c.leaves.push(sign_and_encode(&mut e, &[&bravo]));
    c.times.push(T0_MS + 3000);
    c.push(0, Kind::Notification, 2, T0_MS + 4000, None);
    c.push(1, Kind::Notification, 3, T0_MS + 5000, None);
    let at = c.time_for(6);
    let note = note(
        &c.origin,
        6,
        &c.root(6),
        Some(&alpha),
        &[(&bravo, at), (&new[0], at)],
    );
    (c, note, new)
}

fn key_files(c: &Channel) -> Vec<(String, String)> {
    [("alpha.pub", &c.alpha), ("bravo.pub", &c.bravo)]
        .into_iter()
        .map(|(name, k)| (name.to_owned(), format!("{}\n", k.entry_vkey())))
        .collect()
}

/// The log as a tlog-tiles server holds it: one partial entry bundle and hash tile.
fn tiles(leaves: &[Vec<u8>]) -> BTreeMap<String, Vec<u8>> {
    let mut bundle = Vec::new();
    let mut hashes = Vec::new();
    for leaf in leaves {
        bundle.extend_from_slice(&u16::try_from(leaf.len()).unwrap().to_be_bytes());
        bundle.extend_from_slice(leaf);
        hashes.extend_from_slice(&leaf_hash(leaf));
    }
    let n = leaves.len();
    BTreeMap::from([
        (format!("tile/entries/000.p/{n}"), bundle),
        (format!("tile/0/000.p/{n}"), hashes),
    ])
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// Drives the audit as the page's worker does.
fn audit_over_tiles(keys: &[(String, String)], note: &[u8], leaves: &[Vec<u8>]) -> Value {
    let served = tiles(leaves);
    let mut audit = LogAudit::new(keys).expect("two party keys");
    assert_eq!(json(&audit.start(note))["valid"], true);
    for _ in 0..100 {
        let request = json(&audit.next_request());
        if request["done"] == true {
            return json(&audit.finish());
        }
        let path = request["path"].as_str().unwrap();
        let fed = json(&audit.feed(&served[path], false));
        if fed["valid"] != true {
            return json(&audit.finish());
        }
    }
    panic!("the audit never finished");
}

#[test]
fn the_page_audit_follows_a_witness_change_as_the_native_audit_does() {
    let (c, note, new) = log(None);
    let keys = key_files(&c);
    let report = audit_over_tiles(&keys, &note, &c.leaves);
    assert_eq!(report["valid"], true, "{report}");
    let changes = report["witness_changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{report}");
    assert_eq!(changes[0]["index"], 3);
    assert_eq!(changes[0]["number"], 1);
    assert_eq!(changes[0]["sender"], "co-signer");
    assert_eq!(changes[0]["witness_threshold"], 1);
    assert_eq!(
        changes[0]["witnesses"][1]["key"],
        new[1].cosignature_vkey().to_string()
    );
    // The native audit of the same leaves and checkpoint.
    let trust = AuditTrust::Parties([c.alpha.entry_vkey(), c.bravo.entry_vkey()]);
    let native = audit::audit(c.leaves.clone(), std::slice::from_ref(&note), trust).unwrap();
    assert_eq!(native.witness_changes.len(), 1);
    assert_eq!(native.witness_changes[0].index, 3);
    // The page's audit of leaves held whole gives the same report.
    let mut whole = LeafAudit::new();
    for leaf in &c.leaves {
        whole.add_leaf(leaf.clone());
    }
    whole.add_checkpoint(note);
    assert_eq!(json(&whole.run(&keys)), report);
}

#[test]
fn the_page_audit_refuses_a_witness_change_the_native_audit_refuses() {
    let stranger = TestKey::new("test.example/stranger");
    let (c, note, _) = log(Some(&stranger));
    let keys = key_files(&c);
    let report = audit_over_tiles(&keys, &note, &c.leaves);
    assert_eq!(report["valid"], false, "{report}");
    let trust = AuditTrust::Parties([c.alpha.entry_vkey(), c.bravo.entry_vkey()]);
    let native = audit::audit(c.leaves.clone(), &[note], trust).unwrap_err();
    let reason = report["reason"].as_str().unwrap();
    assert!(reason.contains(&native.to_string()), "{reason} / {native}");
    assert!(reason.contains("entry 3"), "{reason}");
}

#[test]
fn the_page_receipt_check_takes_the_witness_change_from_the_key_history() {
    let (c, note, _) = log(None);
    let receipt_of = |index: usize| {
        let proof = inclusion_proof(index, &c.leaf_hashes());
        receipt::format(&c.leaves[index], index as u64, &proof, &note)
    };
    let (main, change) = (receipt_of(4), receipt_of(3));
    let mut check = ReceiptCheck::new();
    for (name, text) in key_files(&c) {
        check.add_key_file(&name, &text);
    }
    check.add_key_change("3.tlog-proof", change.clone());
    let answer = json(&check.verify(&main));
    assert_eq!(answer["valid"], true, "{answer}");
    assert_eq!(answer["witness_changes"][0]["index"], 3);
    // Judged by the new witnesses (one required): n0's cosignature is the one counted.
    assert_eq!(answer["witnesses"].as_array().unwrap().len(), 1);
    let trust = ReceiptTrust::parties(c.alpha.entry_vkey(), c.bravo.entry_vkey()).unwrap();
    let native = verify_with_key_history(&main, &[change], &trust).unwrap();
    assert_eq!(native.witness_changes.len(), 1);
    assert_eq!(native.committed.witnesses.len(), 1);

    // A bad approval in the key history: both refuse it, naming the entry.
    let stranger = TestKey::new("test.example/stranger");
    let (bad, bad_note, _) = log(Some(&stranger));
    let bad_receipt = |index: usize| {
        let proof = inclusion_proof(index, &bad.leaf_hashes());
        receipt::format(&bad.leaves[index], index as u64, &proof, &bad_note)
    };
    let mut check = ReceiptCheck::new();
    for (name, text) in key_files(&bad) {
        check.add_key_file(&name, &text);
    }
    check.add_key_change("3.tlog-proof", bad_receipt(3));
    let answer = json(&check.verify(&bad_receipt(4)));
    assert_eq!(answer["valid"], false, "{answer}");
    let native = verify_with_key_history(&bad_receipt(4), &[bad_receipt(3)], &trust).unwrap_err();
    let reason = answer["reason"].as_str().unwrap();
    assert!(reason.contains(&native.to_string()), "{reason} / {native}");
    assert!(
        reason.contains("BadApproval") || reason.contains("approval"),
        "{reason}"
    );
}

/// The spec vectors' log continued with its key changes and witness changes
/// (spec/vectors/entries.json, `witness_changes`), audited over tiles from the genesis
/// keys: both witness changes are followed, and the latest checkpoint, co-signed by the
/// last change's witnesses, verifies.
#[test]
fn the_page_audit_follows_the_vector_witness_changes() {
    let v = vectors();
    let mut leaves = vector_leaves(&v);
    for section in ["key_changes", "witness_changes"] {
        for e in array_of(field(&v, section), "entries") {
            assert_eq!(u64_of(e, "index"), leaves.len() as u64);
            leaves.push(unhex(str_of(e, "entry_hex")));
        }
    }
    let w = field(&v, "witness_changes");
    let latest = array_of(w, "checkpoints")
        .iter()
        .max_by_key(|c| u64_of(c, "size"))
        .unwrap();
    assert_eq!(u64_of(latest, "size"), leaves.len() as u64);
    let keys: Vec<(String, String)> = ["sequencer", "cosigner"]
        .iter()
        .map(|role| {
            let p = vector_party(&v, role);
            (format!("{role}.pub"), format!("{}\n", str_of(p, "vkey")))
        })
        .collect();
    let report = audit_over_tiles(&keys, str_of(latest, "note").as_bytes(), &leaves);
    assert_eq!(report["valid"], true, "{report}");
    let followed: Vec<u64> = report["witness_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["index"].as_u64().unwrap())
        .collect();
    let expected: Vec<u64> = array_of(w, "entries")
        .iter()
        .filter(|e| str_of(field(e, "decoded"), "kind") == "witness-change")
        .map(|e| u64_of(e, "index"))
        .collect();
    assert_eq!(followed, expected);
    assert_eq!(report["key_changes"].as_array().unwrap().len(), 2);
}
