//! The page's whole-log audit ([`LogAudit`], driven over tlog-tiles) follows key changes
//! (spec/dyad.md 3.7) through the verifier's `Auditor`: the vector log continued with a
//! key change by each party (spec/vectors/entries.json, `key_changes`), served from memory
//! as tlog-tiles with its latest checkpoint signed under the new keys, audits from the
//! genesis keys and reports both changes, as the audit of the same leaves and checkpoints
//! held whole does. Runs natively: the functions are the ones the wasm module exports.

use std::collections::BTreeMap;

use dyad_verifier::hash::leaf_hash;
use dyad_verifier_wasm::log_audit::LogAudit;
use dyad_verifier_wasm::proofs::LeafAudit;
use serde_json::Value;

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../spec/vectors/entries.json");
    serde_json::from_slice(&std::fs::read(path).expect("spec/vectors/entries.json")).unwrap()
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not text"))
}

/// The two parties' `.pub` files, with their genesis keys.
fn key_files(v: &Value) -> Vec<(String, String)> {
    v["parties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let name = text(p, "name").rsplit('/').next().unwrap();
            (format!("{name}.pub"), format!("{}\n", text(p, "vkey")))
        })
        .collect()
}

/// The vector log's leaves with the key-change section's entries after them.
fn leaves(v: &Value) -> Vec<Vec<u8>> {
    let k = &v["key_changes"];
    let all = v["entries"].as_array().unwrap().iter();
    let all = all.chain(k["entries"].as_array().unwrap());
    all.enumerate()
        .map(|(i, e)| {
            assert_eq!(e["index"].as_u64(), Some(i as u64), "entries in log order");
            hex::decode(text(e, "entry_hex")).unwrap()
        })
        .collect()
}

/// The log as a tlog-tiles server holds it: one entry bundle and one level-0 hash tile,
/// each partial (the vector log has fewer than 256 entries).
fn tiles(leaves: &[Vec<u8>]) -> BTreeMap<String, Vec<u8>> {
    assert!(leaves.len() < 256, "one partial tile of each kind");
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

/// Drives the audit as the page's worker does: what it asks for, from `served`.
fn audit_over_tiles(
    keys: &[(String, String)],
    note: &[u8],
    served: &BTreeMap<String, Vec<u8>>,
) -> Value {
    let mut audit = LogAudit::new(keys).expect("two party keys");
    let started: Value = serde_json::from_str(&audit.start(note)).unwrap();
    assert_eq!(started["valid"], true, "{started}");
    for _ in 0..100 {
        let request: Value = serde_json::from_str(&audit.next_request()).unwrap();
        if request["done"] == true {
            return serde_json::from_str(&audit.finish()).unwrap();
        }
        let path = text(&request, "path");
        let bytes = served
            .get(path)
            .unwrap_or_else(|| panic!("the audit asked for {path}, which the log does not hold"));
        let fed: Value = serde_json::from_str(&audit.feed(bytes, false)).unwrap();
        if fed["valid"] != true {
            return serde_json::from_str(&audit.finish()).unwrap();
        }
    }
    panic!("the audit never finished");
}

#[test]
fn the_tiled_audit_follows_both_key_changes_from_the_genesis_keys() {
    let v = vectors();
    let k = &v["key_changes"];
    let keys = key_files(&v);
    let leaves = leaves(&v);
    let latest = k["checkpoints"]
        .as_array()
        .unwrap()
        .iter()
        .max_by_key(|c| c["size"].as_u64())
        .unwrap();
    assert_eq!(latest["size"].as_u64(), Some(leaves.len() as u64));
    let report = audit_over_tiles(&keys, text(latest, "note").as_bytes(), &tiles(&leaves));
    assert_eq!(report["valid"], true, "{report}");
    assert_eq!(report["entries"].as_u64(), Some(leaves.len() as u64));
    let followed: Vec<(&str, &str)> = report["key_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (text(c, "role"), text(c, "new_key")))
        .collect();
    let expected: Vec<(&str, &str)> = k["new_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| match text(n, "role") {
            "sequencer" => ("sequencer", text(n, "vkey")),
            _ => ("co-signer", text(n, "vkey")),
        })
        .collect();
    assert_eq!(followed, expected);
    let indices: Vec<u64> = k["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["decoded"]["kind"] == "key-change")
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    let reported: Vec<u64> = report["key_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["index"].as_u64().unwrap())
        .collect();
    assert_eq!(reported, indices);

    // The same leaves and checkpoint held whole give the same report.
    let mut whole = LeafAudit::new();
    for leaf in &leaves {
        whole.add_leaf(leaf.clone());
    }
    whole.add_checkpoint(text(latest, "note").as_bytes().to_vec());
    let whole: Value = serde_json::from_str(&whole.run(&keys)).unwrap();
    assert_eq!(whole, report);
}

#[test]
fn the_tiled_audit_stops_at_a_changed_key_change() {
    // Up to the checkpoint just below the co-signer's key change, which the sequencer
    // signed with its new key: one key change followed. The same log with a byte of the
    // key-change entry's new key changed fails at that entry.
    let v = vectors();
    let k = &v["key_changes"];
    let entries = k["entries"].as_array().unwrap();
    let index_of = |name: &str| {
        let e = entries.iter().find(|e| text(e, "name") == name).unwrap();
        e["index"].as_u64().unwrap() as usize
    };
    let (sequencer_change, cosigner_change) = (
        index_of("sequencer-key-change"),
        index_of("cosigner-key-change"),
    );
    let note = k["checkpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["size"].as_u64() == Some(cosigner_change as u64))
        .map(|c| text(c, "note").as_bytes().to_vec())
        .expect("a checkpoint just below the co-signer's key change");
    let mut leaves = leaves(&v);
    leaves.truncate(cosigner_change);
    let keys = key_files(&v);
    let report = audit_over_tiles(&keys, &note, &tiles(&leaves));
    assert_eq!(report["valid"], true, "{report}");
    let followed = report["key_changes"].as_array().unwrap();
    assert_eq!(followed.len(), 1, "{report}");
    assert_eq!(followed[0]["index"].as_u64(), Some(sequencer_change as u64));

    let payload = hex::decode(text(&entries[0]["decoded"], "payload_hex")).unwrap();
    let leaf = &mut leaves[sequencer_change];
    let at = leaf
        .windows(payload.len())
        .position(|w| w == payload.as_slice())
        .expect("the payload in the entry");
    leaf[at] ^= 1;
    let report = audit_over_tiles(&keys, &note, &tiles(&leaves));
    assert_eq!(report["valid"], false, "{report}");
    let reason = text(&report, "reason");
    assert!(
        reason.contains(&format!("entry {sequencer_change}")),
        "{reason}"
    );
}
