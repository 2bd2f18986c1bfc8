//! `dyad rotate-key` without a node (spec/dyad.md 3.7): the sequencer appends its key
//! change, the co-signer queues its own; both data directories then sign with the new
//! key only; the channel syncs and commits under the new keys; and `dyad receipt --out DIR`
//! writes the key history (key-changes/<index>.tlog-proof, spec 8.1).

mod common;

use std::fs;

use common::{json, stderr, Env};
use dyad_verifier::receipt;

fn rotate(env: &Env, data: &str, key: &str) -> std::process::Output {
    env.at(data)
        .args(["--json", "rotate-key", "--new-key", key])
        .output()
        .unwrap()
}

/// What a failed `--json` command said: its error object is on standard output.
fn said(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(out))
}

fn key_file(env: &Env, data: &str) -> String {
    let config = json(&fs::read(env.path(data).join("dyad.json")).unwrap());
    config["key_file"].as_str().unwrap().to_owned()
}

#[test]
fn both_parties_rotate_offline_and_receipts_carry_the_key_history() {
    let env = Env::new();
    env.channel();
    env.append(
        "alpha",
        "notification",
        "before",
        "signed by the genesis keys",
    );
    env.sync_all();

    env.new_party_key("alpha-2", "alpha");
    let out = rotate(&env, "alpha", "keys/alpha-2.key");
    assert!(out.status.success(), "{}", stderr(&out));
    let alpha_change = json(&out.stdout);
    assert_eq!(alpha_change["status"], "pending");
    let alpha_index = alpha_change["index"].as_u64().unwrap();
    assert!(key_file(&env, "alpha").ends_with("keys/alpha-2.key"));
    env.append(
        "alpha",
        "notification",
        "after",
        "signed by alpha's new key",
    );

    env.new_party_key("bravo-2", "bravo");
    let out = rotate(&env, "bravo", "keys/bravo-2.key");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out.stdout)["status"], "queued");
    assert!(key_file(&env, "bravo").ends_with("keys/bravo-2.key"));
    let queued = env.append(
        "bravo",
        "notification",
        "after",
        "signed by bravo's new key",
    );
    assert_eq!(queued["status"], "queued");
    env.sync_all();

    let log = common::log_json(&env, &env.path("alpha"));
    let entries = log["entries"].as_array().expect("entries");
    assert!(
        entries.iter().all(|e| e["status"] == "committed"),
        "everything is committed under the new keys: {log}"
    );
    let last = (entries.len() - 1) as u64;
    let bravo_index = entries
        .iter()
        .filter(|e| e["kind"] == "key-change")
        .map(|e| e["index"].as_u64().unwrap())
        .find(|&i| i != alpha_index)
        .expect("bravo's key change is in the log");

    // The receipt directory holds each key change's receipt against the same checkpoint.
    let dir = env.path("receipt-last");
    let out = env
        .at("alpha")
        .args(["--json", "receipt", &last.to_string(), "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = json(&out.stdout)["key_changes"].clone();
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");
    let main = receipt::parse(&fs::read(dir.join("receipt.tlog-proof")).unwrap()).unwrap();
    for index in [alpha_index, bravo_index] {
        let file = dir.join("key-changes").join(format!("{index}.tlog-proof"));
        let r = receipt::parse(&fs::read(&file).unwrap()).unwrap();
        assert_eq!(r.index, index);
        assert_eq!(r.checkpoint_note, main.checkpoint_note, "same checkpoint");
        let entry = dyad_ledger::entry::Entry::decode(&r.entry_bytes).unwrap();
        assert_eq!(entry.body.kind.as_str(), "key-change");
    }
}

#[test]
fn rotate_key_refuses_reused_misnamed_and_readable_keys() {
    let env = Env::new();
    env.channel();
    env.new_party_key("alpha-2", "alpha");
    // A restored data directory that has not caught up with the peer: nothing is signed.
    let marker = env.path("alpha/restored-from-backup");
    fs::write(&marker, "restored\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&marker, fs::Permissions::from_mode(0o600)).unwrap();
    }
    let out = rotate(&env, "alpha", "keys/alpha-2.key");
    assert_eq!(out.status.code(), Some(2), "{}", said(&out));
    assert!(
        said(&out).contains("restored from a backup"),
        "{}",
        said(&out)
    );
    assert!(key_file(&env, "alpha").ends_with("keys/alpha.key"));
    fs::remove_file(&marker).unwrap();
    let out = rotate(&env, "alpha", "keys/alpha-2.key");
    assert!(out.status.success(), "{}", said(&out));

    // Back to the retired key: a key the channel has had.
    let out = rotate(&env, "alpha", "keys/alpha.key");
    assert_eq!(out.status.code(), Some(2), "{}", said(&out));
    assert!(said(&out).contains("NewKeyReused"), "{}", said(&out));
    // A key under another party's name.
    env.new_party_key("other", "other");
    let out = rotate(&env, "alpha", "keys/other.key");
    assert_eq!(out.status.code(), Some(2), "{}", said(&out));
    assert!(said(&out).contains("cert.alpha.example"), "{}", said(&out));
    // A private key file others can read.
    env.new_party_key("alpha-3", "alpha");
    let path = env.path("keys/alpha-3.key");
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let out = rotate(&env, "alpha", "keys/alpha-3.key");
    assert!(!out.status.success(), "a readable key file is refused");
    assert!(
        key_file(&env, "alpha").ends_with("keys/alpha-2.key"),
        "config unchanged"
    );
    // A key change is not a message: `dyad append` does not offer the kind.
    let out = env
        .at("alpha")
        .args([
            "--json",
            "append",
            "--kind",
            "key-change",
            "--subject",
            "x",
            "-",
        ])
        .write_stdin(vec![0u8; 96])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", said(&out));
    // The same key again: nothing to rotate.
    let out = rotate(&env, "alpha", "keys/alpha-2.key");
    assert_eq!(out.status.code(), Some(2), "{}", said(&out));
}
