//! `dyad verify evidence` on broken-promise evidence (spec/evidence.md section 6): proven
//! (exit 0, human and --json), not proven (exit 1), unreadable (exit 2); and `dyad status`
//! shows the broken promises the co-signer kept.

mod common;

use common::*;
use dyad_ledger::keys::SignerKey;
use dyad_ledger::tree::{self, leaf_hash, MemoryTree};
use dyad_node::BatchPromise;
use dyad_verifier::checkpoint::Checkpoint;
use dyad_verifier::note::signature_line;
use dyad_verifier::promise_evidence;
use predicates::str::contains;

/// Evidence that alpha's log promised `promised` at index 5 and signed a tree of 8
/// leaves holding another leaf there.
fn evidence(alpha: &SignerKey) -> Vec<u8> {
    let log_key = alpha.verifier_key().with_name(ORIGIN).unwrap();
    let promised = leaf_hash(b"the co-signer's message");
    let promise = BatchPromise {
        origin: ORIGIN.into(),
        entries: vec![(5, promised)],
    }
    .sign(alpha, &log_key);
    let mut t = MemoryTree::new();
    for i in 0..8u8 {
        t.append(leaf_hash(&[i]));
    }
    let text = Checkpoint {
        origin: ORIGIN.into(),
        size: 8,
        root: t.root(),
        extensions: vec![],
    }
    .to_text();
    let checkpoint = format!(
        "{text}\n{}",
        signature_line(ORIGIN, log_key.key_id(), &alpha.sign(text.as_bytes()))
    );
    let proof = tree::inclusion_proof(5, 8, &t).unwrap();
    promise_evidence::build(5, &leaf_hash(&[5]), &proof, &promise, checkpoint.as_bytes())
}

#[test]
fn verify_evidence_proves_a_broken_promise_and_status_shows_it() {
    let env = Env::new();
    env.channel();
    let alpha = SignerKey::read_private_file(&env.path("keys/alpha.key")).unwrap();
    let bytes = evidence(&alpha);
    let file = env.path("bravo/evidence").join(format!(
        "broken-promise-5-aa-bb{}",
        dyad_node::BROKEN_PROMISE_EXT
    ));
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, &bytes).unwrap();

    env.dyad()
        .args(["verify", "evidence"])
        .arg(&file)
        .args(["--trust", "keys/bravo.pub", "--trust", "keys/alpha.pub"])
        .assert()
        .success()
        .stdout(contains(
            "BROKEN PROMISE PROVEN: cert.alpha.example (as the log of hotline.example/dyad/test) promised a message at index 5",
        ))
        .stdout(contains("in the checkpoint of size 8"));
    let v = env.stdout_json(
        env.dyad()
            .args(["--json", "verify", "evidence"])
            .arg(&file)
            .args(["--trust", "keys/alpha.pub"]),
    );
    assert_eq!(v["valid"], true);
    assert_eq!(v["evidence"], "broken-promise");
    assert_eq!(v["accused"], "cert.alpha.example");
    assert_eq!(v["index"], 5);
    assert_eq!(v["checkpoint"]["size"], 8);

    // Not proven with the co-signer's key alone: exit 1.
    env.dyad()
        .args(["verify", "evidence"])
        .arg(&file)
        .args(["--trust", "keys/bravo.pub"])
        .assert()
        .code(1)
        .stderr(contains("does not prove a broken promise"));
    // Tampered (the leaf found is the promised one's neighbour): not proven, exit 1.
    let text = String::from_utf8(bytes.clone()).unwrap();
    let other = dyad_verifier::hash::leaf_hash(&[6]);
    let tampered = text.replacen(
        &format!("leaf {}", b64e(&leaf_hash(&[5]))),
        &format!("leaf {}", b64e(&other)),
        1,
    );
    assert_ne!(tampered, text);
    std::fs::write(env.path("tampered.dyad-broken-promise"), tampered).unwrap();
    env.dyad()
        .args(["verify", "evidence", "tampered.dyad-broken-promise"])
        .args(["--trust", "keys/alpha.pub"])
        .assert()
        .code(1);
    // Unreadable: truncated, or not evidence at all: exit 2 (with --json, a JSON answer).
    std::fs::write(env.path("cut.dyad-broken-promise"), &bytes[..60]).unwrap();
    env.dyad()
        .args(["verify", "evidence", "cut.dyad-broken-promise"])
        .args(["--trust", "keys/alpha.pub"])
        .assert()
        .code(2)
        .stderr(contains("not valid evidence"));
    let out = env
        .dyad()
        .args(["--json", "verify", "evidence", "keys/alpha.pub"])
        .args(["--trust", "keys/alpha.pub"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(json(&out.stdout)["valid"], false);

    // The co-signer's status names the broken promise.
    env.at("bravo")
        .arg("status")
        .assert()
        .success()
        .stdout(contains(
            "1 promise(s) of inclusion broken by the sequencer",
        ))
        .stdout(contains("broken-promise-5-aa-bb"));
    let st = env.stdout_json(env.at("bravo").args(["--json", "status"]));
    assert_eq!(st["broken_promises"]["count"], 1);
    assert!(st["broken_promises"]["newest"]
        .as_str()
        .unwrap()
        .ends_with("broken-promise-5-aa-bb.dyad-broken-promise"));
    let st = env.stdout_json(env.at("alpha").args(["--json", "status"]));
    assert_eq!(st["broken_promises"]["count"], 0);
}
