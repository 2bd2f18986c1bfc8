//! The wasm build of the checks and the native build agree on every vector: runs
//! `vectors.test.mjs` under Node.js on the wasm module (which also checks each answer
//! against the vectors' expectations), then replays every call it recorded through the
//! native build and requires the same answer, field for field.
//!
//! Needs `$DYAD_WEB_DIR`, the output of `verifier-wasm/www/build.sh` (its `pkg-node/`),
//! and `node`. Without them the test says so and passes, unless
//! `DYAD_REQUIRE_EXTERNAL_TOOLS=1` (as in CI), where it fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use dyad_verifier_wasm::{evidence, proofs, receipt::ReceiptCheck};
use serde_json::Value;

/// The page's build directory, or `None` when the test must be skipped.
pub fn web_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("DYAD_WEB_DIR").map(PathBuf::from);
    let required = std::env::var("DYAD_REQUIRE_EXTERNAL_TOOLS").as_deref() == Ok("1");
    match dir {
        Some(d) if d.join("pkg-node").is_dir() => Some(d),
        other => {
            let why = match other {
                Some(d) => format!("{} has no pkg-node/", d.display()),
                None => "DYAD_WEB_DIR is not set".to_owned(),
            };
            assert!(
                !required,
                "{why}: build the page with verifier-wasm/www/build.sh (DYAD_REQUIRE_EXTERNAL_TOOLS=1)"
            );
            eprintln!("skipped: {why} (build it with verifier-wasm/www/build.sh)");
            None
        }
    }
}

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("a hex string")).expect("hex")
}

fn key_files(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .expect("key files")
        .iter()
        .map(|p| {
            (
                p[0].as_str().unwrap().to_owned(),
                p[1].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The native answer to a recorded call.
fn native(case: &Value) -> String {
    let u = |k: &str| case[k].as_u64().expect(k);
    match case["fn"].as_str().expect("fn") {
        "receipt" => {
            let mut check = ReceiptCheck::new();
            for (n, t) in key_files(&case["keys"]) {
                check.add_key_file(&n, &t);
            }
            for a in case["attachments"].as_array().unwrap() {
                check.add_attachment(a[0].as_str().unwrap(), unhex(&a[1]));
            }
            for h in case["key_history"].as_array().unwrap() {
                check.add_key_change(h[0].as_str().unwrap(), unhex(&h[1]));
            }
            if !case["endorsement_hex"].is_null() {
                check.set_endorsement(unhex(&case["endorsement_hex"]));
            }
            check.verify(&unhex(&case["receipt_hex"]))
        }
        "evidence" => evidence::verify(&unhex(&case["evidence_hex"]), &key_files(&case["keys"])),
        "inclusion" => proofs::verify_inclusion(
            &unhex(&case["leaf_hash_hex"]),
            u("index"),
            u("size"),
            &unhex(&case["proof_hex"]),
            &unhex(&case["root_hex"]),
        ),
        "consistency" => proofs::verify_consistency(
            u("old_size"),
            u("new_size"),
            &unhex(&case["old_root_hex"]),
            &unhex(&case["new_root_hex"]),
            &unhex(&case["proof_hex"]),
        ),
        "note" => proofs::verify_note(
            &unhex(&case["note_hex"]),
            case["key_lines"].as_str().unwrap(),
        ),
        "leaf_audit" => {
            let mut audit = proofs::LeafAudit::new();
            for l in case["leaves_hex"].as_array().unwrap() {
                audit.add_leaf(unhex(l));
            }
            for c in case["checkpoints_hex"].as_array().unwrap() {
                audit.add_checkpoint(unhex(c));
            }
            audit.run(&key_files(&case["keys"]))
        }
        other => panic!("unknown call {other}"),
    }
}

fn run_node(web: &Path, cases: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors.test.mjs");
    let out = Command::new("node")
        .arg("--test")
        .arg(&script)
        .env("DYAD_WEB_PKG_NODE", web.join("pkg-node"))
        .env("DYAD_WEB_CASES", cases)
        .output()
        .expect("node runs (install it with .ci/install-web-tools.sh)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the vectors through the wasm module under Node.js:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn wasm_and_native_agree_on_every_vector() {
    let Some(web) = web_dir() else { return };
    let tmp = std::env::temp_dir().join(format!("dyad-wasm-cases-{}.json", std::process::id()));
    run_node(&web, &tmp);
    let cases: Vec<Value> =
        serde_json::from_slice(&std::fs::read(&tmp).expect("the recorded calls")).unwrap();
    let _ = std::fs::remove_file(&tmp);
    assert!(cases.len() > 100, "only {} calls recorded", cases.len());
    let mut differ = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let native: Value = serde_json::from_str(&native(case)).unwrap();
        if native != case["answer"] {
            differ.push(format!(
                "call {i} ({}): wasm {} native {native}",
                case["fn"], case["answer"]
            ));
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
    eprintln!("{} calls: the wasm and native answers agree", cases.len());
}
