//! Proofs, checkpoints and receipts: what the parties print and what auditors check
//! with `dyad verify` (which uses only the verifier crate).

mod common;

use common::*;
use predicates::str::contains;
use serde_json::Value;

/// A channel with 6 entries, the first 4 committed.
fn setup() -> Env {
    let env = Env::new();
    env.channel();
    for i in 1..=3 {
        env.append("alpha", "notification", &format!("message {i}"), "body\n");
    }
    env.sync("alpha", "bravo");
    env.sync("bravo", "alpha");
    env.append("alpha", "inquiry", "late 1", "x");
    env.append("alpha", "inquiry", "late 2", "y");
    env
}

fn keys(v: &Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn inclusion_and_consistency_proofs_round_trip_through_verify() {
    let env = setup();
    // Default size: the latest co-signed size when it covers the entry.
    let out = env
        .at("alpha")
        .args(["--json", "prove", "inclusion", "2"])
        .assert()
        .success();
    let raw = stdout(out.get_output());
    assert!(
        raw.starts_with("{\"index\":2,\"size\":4,\"leaf_hash\":\""),
        "field order of the contract: {raw}"
    );
    let p = json(raw.as_bytes());
    assert_eq!(keys(&p), ["index", "size", "leaf_hash", "root", "proof"]);
    assert_eq!(p["proof"].as_array().unwrap().len(), 2);
    for h in p["proof"]
        .as_array()
        .unwrap()
        .iter()
        .chain([&p["leaf_hash"], &p["root"]])
    {
        assert_eq!(b64d(h.as_str().unwrap()).len(), 32);
    }
    // The root is the co-signed checkpoint's.
    let cp = env.stdout_json(env.at("alpha").args(["--json", "checkpoint"]));
    assert_eq!(cp["root"], p["root"]);
    // A pending entry: proved in the whole tree.
    let p5 = env.stdout_json(env.at("alpha").args(["--json", "prove", "inclusion", "5"]));
    assert_eq!(p5["size"], 6);
    std::fs::write(env.path("incl.json"), raw.as_bytes()).unwrap();
    let v = env.stdout_json(
        env.dyad()
            .args(["--json", "verify", "inclusion", "incl.json"]),
    );
    assert_eq!(v["valid"], true);
    env.dyad()
        .args(["verify", "inclusion", "incl.json"])
        .assert()
        .success()
        .stdout(contains("OK"));

    let c = env.stdout_json(
        env.at("alpha")
            .args(["--json", "prove", "consistency", "2", "6"]),
    );
    assert_eq!(
        keys(&c),
        ["old_size", "new_size", "old_root", "new_root", "proof"]
    );
    std::fs::write(env.path("cons.json"), c.to_string()).unwrap();
    env.dyad()
        .args(["verify", "consistency", "cons.json"])
        .assert()
        .success();
    // Read from standard input too.
    env.dyad()
        .args(["verify", "consistency", "-"])
        .write_stdin(c.to_string())
        .assert()
        .success();

    // A proof for a different tree: the root of size 6 with the proof for size 4.
    let mut wrong = p.clone();
    wrong["root"] = p5["root"].clone();
    std::fs::write(env.path("wrong.json"), wrong.to_string()).unwrap();
    let mut other_size = p.clone();
    other_size["size"] = Value::from(6);
    std::fs::write(env.path("wrong2.json"), other_size.to_string()).unwrap();
    let mut bad_cons = c.clone();
    bad_cons["old_root"] = p["leaf_hash"].clone();
    std::fs::write(env.path("wrong3.json"), bad_cons.to_string()).unwrap();
    std::fs::write(env.path("junk.json"), "{\"index\": 1}").unwrap();
    let mut short = p.clone();
    short["root"] = Value::from("AAAA");
    std::fs::write(env.path("short.json"), short.to_string()).unwrap();
    // Proofs that do not verify exit 1; unreadable input exits 2.
    let verify_cases = [
        Refusal {
            name: "another tree's root",
            args: &["inclusion", "wrong.json"],
            code: 1,
            says: &["the inclusion proof does not verify"],
        },
        Refusal {
            name: "another tree's size",
            args: &["inclusion", "wrong2.json"],
            code: 1,
            says: &[],
        },
        Refusal {
            name: "a consistency proof from another old root",
            args: &["consistency", "wrong3.json"],
            code: 1,
            says: &["does not verify"],
        },
        Refusal {
            name: "a missing proof file",
            args: &["inclusion", "nope.json"],
            code: 2,
            says: &["nope.json"],
        },
        Refusal {
            name: "JSON that is no proof",
            args: &["inclusion", "junk.json"],
            code: 2,
            says: &["not inclusion proof JSON"],
        },
        Refusal {
            name: "a root that is no SHA-256",
            args: &["inclusion", "short.json"],
            code: 2,
            says: &["root is not a base64 SHA-256"],
        },
    ];
    for case in &verify_cases {
        let mut verify = env.dyad();
        verify.arg("verify");
        case.check(verify);
    }
    let out = env
        .dyad()
        .args(["--json", "verify", "inclusion", "wrong.json"])
        .assert()
        .code(1);
    assert_eq!(json(&out.get_output().stdout)["valid"], false);

    // Bad ranges are usage errors.
    let prove_cases = [
        Refusal {
            name: "an index past the end",
            args: &["inclusion", "6"],
            code: 2,
            says: &[],
        },
        Refusal {
            name: "a size past the end",
            args: &["inclusion", "1", "--size", "9"],
            code: 2,
            says: &["only 6 entries"],
        },
        Refusal {
            name: "sizes in the wrong order",
            args: &["consistency", "5", "3"],
            code: 2,
            says: &[],
        },
    ];
    for case in &prove_cases {
        let mut prove = env.at("alpha");
        prove.arg("prove");
        case.check(prove);
    }
}

#[test]
fn checkpoints_verify_only_under_both_trusted_keys() {
    let env = setup();
    env.keygen("charlie");
    let note = env
        .at("bravo")
        .arg("checkpoint")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    std::fs::write(env.path("cp"), &note).unwrap();
    let t = env.trust();
    let v = env.stdout_json(
        env.dyad()
            .args(["--json", "verify", "checkpoint", "cp"])
            .args(&t),
    );
    assert_eq!(v["valid"], true);
    assert_eq!(v["size"], 4);
    assert_eq!(v["signers"][0]["signatures"][0]["role"], "log");
    assert_eq!(v["signers"][1]["signatures"][0]["role"], "cosigner");
    env.dyad()
        .args(["verify", "checkpoint", "cp", "--origin", ORIGIN])
        .args(&t)
        .assert()
        .success();
    env.dyad()
        .args(["verify", "checkpoint", "cp", "--origin", "other.example/x"])
        .args(&t)
        .assert()
        .code(1)
        .stderr(contains("not \"other.example/x\""));
    // A key that did not sign it.
    env.dyad()
        .args([
            "verify",
            "checkpoint",
            "cp",
            "--trust",
            "keys/alpha.pub",
            "--trust",
            "keys/charlie.pub",
        ])
        .assert()
        .code(1)
        .stderr(contains(
            "not signed or co-signed by trusted key cert.charlie.example",
        ));
    // Only the sequencer's signature, as exported for co-signing: the co-signer's is missing.
    let bundle = env.path("for-cosigning");
    env.at("alpha")
        .args(["sync", "export", "--out"])
        .arg(&bundle)
        .assert()
        .success();
    let text = std::fs::read_to_string(&bundle).unwrap();
    let signed = text
        .lines()
        .find_map(|l| l.strip_prefix("checkpoint "))
        .unwrap();
    std::fs::write(env.path("cp-seq"), b64d(signed)).unwrap();
    env.dyad()
        .args(["verify", "checkpoint", "cp-seq"])
        .args(&t)
        .assert()
        .code(1)
        .stderr(contains("cert.bravo.example"));
    env.dyad()
        .args([
            "verify",
            "checkpoint",
            "cp-seq",
            "--trust",
            "keys/alpha.pub",
        ])
        .assert()
        .success();
    // A flipped bit in a signature.
    let mut bad = note.clone();
    let at = bad.len() - 10;
    bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(env.path("cp-bad"), &bad).unwrap();
    env.dyad()
        .args(["verify", "checkpoint", "cp-bad"])
        .args(&t)
        .assert()
        .code(1)
        .stderr(contains("does not verify"));
    env.dyad()
        .args(["verify", "checkpoint", "cp"])
        .assert()
        .code(2)
        .stderr(contains("--trust"));
}

#[test]
fn receipts_verify_offline_and_refuse_corruption() {
    let env = setup();
    let t = env.trust();
    env.at("alpha")
        .args(["--json", "receipt", "2", "--out", "r2.tlog-proof"])
        .assert()
        .success();
    let receipt = std::fs::read(env.path("r2.tlog-proof")).unwrap();
    assert!(receipt.starts_with(b"c2sp.org/tlog-proof@v1\nextra "));
    // Both replicas give the same receipt bytes (same co-signed checkpoint).
    let from_bravo = env
        .at("bravo")
        .args(["receipt", "2"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(from_bravo, receipt);

    let v = env.stdout_json(
        env.dyad()
            .args(["--json", "verify", "receipt", "r2.tlog-proof"])
            .args(&t),
    );
    assert_eq!(v["valid"], true);
    assert_eq!(v["index"], 2);
    assert_eq!(v["subject"], "message 2");
    assert_eq!(v["sender"], "cert.alpha.example");
    assert_eq!(v["sender_role"], "sequencer");
    assert_eq!(v["checkpoint"]["size"], 4);
    // Keys in either order.
    env.dyad()
        .args([
            "verify",
            "receipt",
            "r2.tlog-proof",
            "--trust",
            "keys/bravo.pub",
            "--trust",
            "keys/alpha.pub",
            "--origin",
            ORIGIN,
        ])
        .assert()
        .success()
        .stdout(contains("OK: receipt for entry 2"));

    // Pending entries have no receipt yet.
    env.at("alpha")
        .args(["receipt", "5"])
        .assert()
        .code(1)
        .stderr(contains("entry 5 is pending"));
    env.at("alpha").args(["receipt", "9"]).assert().code(2);

    // Corruptions: a flipped byte in the entry, the proof, the checkpoint; truncation.
    let text = String::from_utf8(receipt.clone()).unwrap();
    let lines: Vec<&str> = text.split('\n').collect();
    let flip = |s: &str| {
        let mut b = b64d(s);
        let mid = b.len() / 2;
        b[mid] ^= 1;
        b64e(&b)
    };
    let mut variants = Vec::new();
    let mut l = lines.clone();
    let extra = format!("extra {}", flip(&lines[1][6..]));
    l[1] = &extra;
    variants.push(("entry", l.join("\n")));
    let mut l = lines.clone();
    let proof = flip(lines[3]);
    l[3] = &proof;
    variants.push(("proof", l.join("\n")));
    let mut l = lines.clone();
    let index = "index 3";
    l[2] = index;
    variants.push(("index", l.join("\n")));
    variants.push((
        "root",
        text.replacen(
            &text.split('\n').nth(8).unwrap().to_owned(),
            &flip(text.split('\n').nth(8).unwrap()),
            1,
        ),
    ));
    for (what, body) in variants {
        std::fs::write(env.path("bad.tlog-proof"), body).unwrap();
        let out = env
            .dyad()
            .args(["verify", "receipt", "bad.tlog-proof"])
            .args(&t)
            .assert()
            .code(1);
        assert!(
            stderr(out.get_output()).contains("the receipt does not verify"),
            "{what}: {}",
            stderr(out.get_output())
        );
    }
    // Not of a receipt's form at all: unreadable input, exit 2.
    for (what, body) in [
        ("truncated", text[..text.len() - 20].to_owned()),
        ("header", text.replacen("tlog-proof@v1", "tlog-proof@v9", 1)),
    ] {
        std::fs::write(env.path("bad.tlog-proof"), body).unwrap();
        let out = env
            .dyad()
            .args(["verify", "receipt", "bad.tlog-proof"])
            .args(&t)
            .assert()
            .code(2);
        assert!(
            stderr(out.get_output()).contains("not a receipt")
                || stderr(out.get_output()).contains("checkpoint is not"),
            "{what}: {}",
            stderr(out.get_output())
        );
    }
    // Wrong keys.
    env.keygen("charlie");
    env.dyad()
        .args([
            "verify",
            "receipt",
            "r2.tlog-proof",
            "--trust",
            "keys/alpha.pub",
            "--trust",
            "keys/charlie.pub",
        ])
        .assert()
        .code(1);
    env.dyad()
        .args([
            "verify",
            "receipt",
            "r2.tlog-proof",
            "--trust",
            "keys/alpha.pub",
        ])
        .assert()
        .code(2)
        .stderr(contains("both parties"));
    env.dyad()
        .args(["verify", "receipt", "missing"])
        .args(&t)
        .assert()
        .code(2);
}
