//! A witness change (spec/dyad.md 3.8) in a replica, through the verifying commands:
//! `dyad receipt N --out DIR` writes the witness change into the key history
//! (`key-changes/<index>.tlog-proof`, spec 8.1), `dyad verify receipt DIR` follows it and
//! says so (text and `--json`), and `dyad audit --data` lists it.
//!
//! The witness change is appended with the ledger's API on the stopped sequencer's store
//! (the `dyad witness-change` commands are tested with them), approved by the co-signer's
//! key; it names one witness with threshold 0, so the checkpoints after it are committed on
//! the co-signer's cosignature alone and `dyad sync` can commit them.

mod common;

use common::{json, stderr, stdout, Env};
use dyad_ledger::channel::Channel;
use dyad_ledger::entry::witness_change;
use dyad_ledger::genesis::Party;
use dyad_ledger::keys::SignerKey;

fn key(env: &Env, file: &str) -> SignerKey {
    SignerKey::parse(&std::fs::read_to_string(env.path(file)).unwrap()).unwrap()
}

/// A channel (alpha sequences); a message; alpha's witness change at index 2, approved by
/// bravo; a message at index 3; everything committed on both sides.
fn setup() -> Env {
    let env = Env::new();
    env.channel();
    env.append("alpha", "notification", "before", "one");
    env.sync_all();
    let (alpha, bravo) = (key(&env, "keys/alpha.key"), key(&env, "keys/bravo.key"));
    let witness = SignerKey::from_seed("witness.example/w1", [7; 32]).unwrap();
    let witnesses = [Party::of(&witness)];
    let mut ch = Channel::open(&env.path("alpha/ledger")).unwrap();
    let origin = ch.origin().to_owned();
    let payload = witness_change::approved(&bravo, &origin, 1, &witnesses, 0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    ch.append_own(&alpha, vec![witness_change::draft(&payload)], now)
        .unwrap();
    drop(ch);
    env.append("alpha", "notification", "after", "two");
    env.sync_all();
    env
}

#[test]
fn a_receipt_directory_holds_the_witness_change_and_the_verifier_follows_it() {
    let env = setup();
    let out = env
        .at("alpha")
        .args(["receipt", "3", "--out", "dir"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(env.path("dir/key-changes/2.tlog-proof").is_file());
    let trust = env.trust();

    let out = env
        .dyad()
        .args(["verify", "receipt", "dir"])
        .args(&trust)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("witness change entry 2 (number 1, sent by the sequencer"),
        "{text}"
    );
    assert!(text.contains("[witness.example/w1]"), "{text}");

    let out = env
        .dyad()
        .args(["--json", "verify", "receipt", "dir"])
        .args(&trust)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&out.stdout);
    assert_eq!(v["witness_changes"][0]["index"], 2);
    assert_eq!(v["witness_changes"][0]["number"], 1);
    assert_eq!(v["witness_changes"][0]["witness_threshold"], 0);
    assert_eq!(
        v["witness_changes"][0]["witnesses"][0]["name"],
        "witness.example/w1"
    );
    assert_eq!(v["key_changes"].as_array().map(Vec::len), Some(0));
}

#[test]
fn the_audit_lists_the_witness_change() {
    let env = setup();
    let trust = env.trust();
    let out = env
        .at("alpha")
        .args(["--json", "audit"])
        .args(&trust)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&out.stdout);
    assert_eq!(v["verdict"], "pass");
    assert_eq!(v["witness_changes"][0]["index"], 2);
    assert_eq!(v["kinds"]["witness-change"], 1);

    let out = env.at("alpha").arg("audit").args(&trust).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("witness change entry 2 (number 1"),
        "{}",
        stdout(&out)
    );
}

/// `dyad policy show` after a witness change names the witnesses of the change and says
/// from which checkpoint size it holds (spec 9); a receipt after the change verifies under it.
#[test]
fn the_policy_after_a_witness_change_names_its_witnesses_and_where_it_holds() {
    let env = setup();
    let out = env
        .at("alpha")
        .args(["--json", "policy", "show"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&out.stdout);
    assert_eq!(v["witness_changes"], serde_json::json!([2]), "{v}");
    assert_eq!(v["holds_from_size"], 3, "{v}");
    assert_eq!(v["witnesses"][0]["name"], "witness.example/w1", "{v}");
    assert_eq!(v["witness_threshold"], 0, "{v}");

    let out = env.at("bravo").args(["policy", "show"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("witnesses changed at entry 2"),
        "{}",
        stderr(&out)
    );
    let policy = stdout(&out);
    assert!(
        policy.contains("witness w1 witness.example/w1+"),
        "{policy}"
    );
    std::fs::write(env.path("channel.policy"), &policy).unwrap();
    let out = env
        .at("alpha")
        .args(["receipt", "3", "--out", "dir"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = env
        .dyad()
        .args(["verify", "receipt", "dir", "--policy"])
        .arg(env.path("channel.policy"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
}
