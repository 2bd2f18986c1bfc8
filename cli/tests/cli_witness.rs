//! A channel created with `dyad init --witness FILE.pub=URL --witness-threshold 1`, served
//! by two `dyad serve` processes, witnessed by a `dyad witness serve` process: an entry
//! commits once the witness co-signed, `dyad status` shows the witness, and the committed
//! checkpoint carries its cosignature. Its policy (`dyad policy show`) requires the witness,
//! and receipts, checkpoints and audits (local and --url) verify under it, and fail under
//! a policy asking for a second witness.

mod common;

use std::time::Duration;

use common::policy::{policy_show, pub_key, requiring};
use common::witness::{
    append_committed, log_key, serve_channel, witnessed_channel, WitnessProcess,
};
use common::*;
use dyad_verifier::key::SignatureType;

#[test]
fn an_entry_commits_once_the_witness_cosigned_and_status_shows_the_witness() {
    let env = Env::new();
    env.keygen("alpha");
    env.keygen("bravo");
    env.keygen("wit");
    let witness_port = free_port();
    let witness_url = format!("http://127.0.0.1:{witness_port}");
    // The log key is the sequencer's key under the origin's name.
    std::fs::write(env.path("logs.txt"), format!("log {}\n", log_key(&env))).unwrap();
    let witness = WitnessProcess::start(
        &env,
        "keys/wit.key",
        "logs.txt",
        "witness-data",
        &format!("127.0.0.1:{witness_port}"),
    );
    assert_eq!(witness.announce["url"], witness_url.as_str());

    witnessed_channel(&env, std::path::Path::new("keys/wit.pub"), &witness_url);
    let config = json(&std::fs::read(env.path("alpha/dyad.json")).unwrap());
    assert_eq!(
        config["witness_urls"]["cert.wit.example"],
        witness_url.as_str()
    );

    let (alpha_node, _bravo_node) = serve_channel(&env);
    let appended = append_committed(&env, "witnessed");
    assert_eq!(appended["status"], "committed", "{appended}");

    let status = env.stdout_json(env.at("alpha").args(["--json", "status"]));
    let w = &status["node"]["witnesses"];
    assert_eq!(w["threshold"], 1, "{status}");
    assert_eq!(w["witnesses"][0]["name"], "cert.wit.example");
    assert_eq!(w["witnesses"][0]["cosigned_size"], 2, "{status}");
    let text = env.at("alpha").arg("status").output().unwrap();
    assert!(
        stdout(&text).contains("witness   cert.wit.example: co-signed size 2, 0 behind"),
        "{}",
        stdout(&text)
    );
    // The committed checkpoint carries the witness's cosignature line.
    let note = env.at("alpha").arg("checkpoint").output().unwrap();
    assert!(
        stdout(&note).contains("\u{2014} cert.wit.example "),
        "{}",
        stdout(&note)
    );
    std::fs::write(env.path("latest.checkpoint"), &note.stdout).unwrap();
    policies_of_a_witnessed_channel(&env, &alpha_node.url);
    a_witness_that_cosigns_a_fork_yields_evidence(&env);
}

/// The witness co-signs a fork shown to it (the test holds its key and plays the
/// misbehaving witness): a checkpoint of the channel's origin and size with another root.
/// `dyad evidence build` makes portable evidence of the two notes, and `dyad verify
/// evidence` proves the witness equivocated, with its key alone or under the channel's
/// policy, and finds no equivocation by the parties.
fn a_witness_that_cosigns_a_fork_yields_evidence(env: &Env) {
    use dyad_ledger::keys::SignerKey;
    use dyad_verifier::{checkpoint, cosignature, note};
    let ours = std::fs::read(env.path("latest.checkpoint")).unwrap();
    let parsed = note::parse(&ours).unwrap();
    let mut fork = checkpoint::parse(&parsed.text).unwrap();
    fork.root = [0x42; 32];
    let text = fork.to_text();
    let wit =
        SignerKey::parse(&std::fs::read_to_string(env.path("keys/wit.key")).unwrap()).unwrap();
    let key = pub_key(env, "wit").with_signature_type(SignatureType::CosignatureV1);
    let timestamp = 1_900_000_000u64;
    let mut sig = timestamp.to_be_bytes().to_vec();
    sig.extend_from_slice(&wit.sign(&cosignature::signed_message(timestamp, &text)));
    let forged = format!(
        "{text}\n{}",
        note::signature_line(key.name(), key.key_id(), &sig)
    );
    std::fs::write(env.path("fork.checkpoint"), forged).unwrap();
    // Two more notes that contradict nothing here: a larger size, another origin.
    for (file, edit) in [
        (
            "larger.checkpoint",
            text.replacen(
                &format!("\n{}\n", fork.size),
                &format!("\n{}\n", fork.size + 1),
                1,
            ),
        ),
        (
            "other.checkpoint",
            text.replacen(&fork.origin, "other.example/log", 1),
        ),
    ] {
        assert_ne!(edit, text);
        let line = note::signature_line(key.name(), key.key_id(), &sig);
        std::fs::write(env.path(file), format!("{edit}\n{line}")).unwrap();
    }

    let build = |second: &str, out: &str| {
        env.dyad()
            .args([
                "--json",
                "evidence",
                "build",
                "latest.checkpoint",
                second,
                "--out",
                out,
            ])
            .output()
            .unwrap()
    };
    let out = build("fork.checkpoint", "wit.evidence");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out.stdout)["contradiction"], "same-size");
    // The same checkpoint twice is no contradiction; an existing file is kept.
    assert_eq!(
        build("latest.checkpoint", "same.evidence").status.code(),
        Some(2)
    );
    assert!(!env.path("same.evidence").exists());
    assert_eq!(
        build("fork.checkpoint", "wit.evidence").status.code(),
        Some(2)
    );
    for other in ["larger.checkpoint", "other.checkpoint"] {
        let out = build(other, "no.evidence");
        assert_eq!(out.status.code(), Some(2), "{other}: {}", stdout(&out));
        assert!(!env.path("no.evidence").exists());
    }

    let verify = |trust: &[&str]| {
        env.dyad()
            .args(["--json", "verify", "evidence", "wit.evidence"])
            .args(trust)
            .output()
            .unwrap()
    };
    let out = verify(&["--trust", "keys/wit.pub"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let v = json(&out.stdout);
    assert_eq!(v["evidence"], "equivocation", "{v}");
    assert_eq!(v["accused"], "cert.wit.example", "{v}");
    let out = verify(&["--policy", "channel.policy"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(json(&out.stdout)["accused"], "cert.wit.example");
    let out = verify(&["--trust", "keys/alpha.pub", "--trust", "keys/bravo.pub"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
}

/// The channel's policy requires the witness; receipts, the checkpoint and audits verify
/// under it and fail under one that also asks for a witness who did not cosign.
fn policies_of_a_witnessed_channel(env: &Env, url: &str) {
    let (text, parsed) = policy_show(env, "alpha", "channel.policy");
    let wit = pub_key(env, "wit").with_signature_type(SignatureType::CosignatureV1);
    assert!(
        text.ends_with(&format!(
            "witness w1 {wit}\ngroup witnesses 1 w1\ngroup committed all cosigner witnesses\nquorum committed\n"
        )),
        "{text}"
    );
    assert_eq!(parsed.parties().unwrap().cosigner, pub_key(env, "bravo"));
    env.keygen("wit2");
    requiring(env, &text, &pub_key(env, "wit2"), "strict.policy");
    env.dyad()
        .env("DYAD_DATA", env.path("alpha"))
        .args(["receipt", "1", "--out", "r1.tlog-proof"])
        .assert()
        .success();

    let verify = |args: &[&str]| {
        let out = env.dyad().arg("--json").args(args).output().unwrap();
        (out.status.code().unwrap(), stdout(&out), stderr(&out))
    };
    let (code, out, err) = verify(&[
        "verify",
        "receipt",
        "r1.tlog-proof",
        "--policy",
        "channel.policy",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        json(out.as_bytes())["witnesses"][0]["name"],
        "cert.wit.example",
        "{out}"
    );
    let (code, out, err) = verify(&[
        "verify",
        "receipt",
        "r1.tlog-proof",
        "--policy",
        "strict.policy",
    ]);
    // With --json the error is a JSON object on standard output.
    assert_eq!(code, 1, "{err}");
    let out = json(out.as_bytes());
    let error = out["error"].as_str().unwrap_or_default();
    assert!(error.contains("no cosignature from extra"), "{out}");
    let (code, out, err) = verify(&[
        "verify",
        "checkpoint",
        "latest.checkpoint",
        "--policy",
        "channel.policy",
    ]);
    assert_eq!(code, 0, "{err}");
    let v = json(out.as_bytes());
    assert_eq!(v["cosigners"].as_array().unwrap().len(), 2, "{v}");
    let (code, _, err) = verify(&[
        "verify",
        "checkpoint",
        "latest.checkpoint",
        "--policy",
        "strict.policy",
    ]);
    assert_eq!(code, 1, "{err}");

    // Audits: the replica (through its running node) and the node's tiles API.
    let credential = env.path("auditor.cred");
    env.dyad()
        .env("DYAD_DATA", env.path("alpha"))
        .args(["access", "grant", "--name", "auditor", "--out"])
        .arg(&credential)
        .timeout(Duration::from_secs(30))
        .assert()
        .success();
    let audit = |policy: &str, remote: bool| {
        let mut c = env.dyad();
        c.args(["--json", "audit", "--policy", policy]);
        if remote {
            c.args(["--url", url, "--access"]).arg(&credential);
        } else {
            c.env("DYAD_DATA", env.path("alpha"));
        }
        let out = c.timeout(Duration::from_secs(60)).output().unwrap();
        (out.status.code().unwrap(), json(&out.stdout))
    };
    for remote in [false, true] {
        let (code, v) = audit("channel.policy", remote);
        assert_eq!(code, 0, "remote {remote}: {v}");
        assert_eq!(v["committed_size"], 2, "{v}");
        let (code, v) = audit("strict.policy", remote);
        assert_eq!(code, 1, "remote {remote}: {v}");
        let error = v["error"].as_str().unwrap_or_default();
        assert!(error.contains("does not satisfy the policy"), "{error}");
        assert!(error.contains("no cosignature from extra"), "{error}");
    }
}
