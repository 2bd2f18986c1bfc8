//! `dyad verify receipt DIR` with a key history (spec/dyad.md sections 3.7, 8, 8.1): a
//! receipt after the sequencer's key change verifies from the two genesis keys when its
//! directory holds `key-changes/<index>.tlog-proof`, says a key history may be missing
//! when it does not, and is refused under `--policy` (section 9).
//!
//! The log is built by hand from the spec's encoding (dyad_testkit::entry, ::key_change),
//! so this test needs nothing of the ledger's key rotation.

mod common;

use std::fs;

use common::{stderr, stdout, Env};
use dyad_ledger::keys::SignerKey;
use dyad_ledger::sync::{Encoder, Record};
use dyad_testkit::channel::{alpha, bravo, genesis, ORIGIN, T0};
use dyad_testkit::entry::{Entry, Signature};
use dyad_testkit::key_change as spec;
use dyad_testkit::merkle::{inclusion_proof, root};
use dyad_verifier::key::{key_id, SignatureType};
use dyad_verifier::receipt;
use sha2::{Digest, Sha256};

fn leaf_hash(entry: &[u8]) -> [u8; 32] {
    Sha256::new()
        .chain_update([0])
        .chain_update(entry)
        .finalize()
        .into()
}

/// An entry of `kind` by `key`, signed by it.
fn entry(
    key: &SignerKey,
    kind: u8,
    sequence: u64,
    content_type: &str,
    payload: Vec<u8>,
) -> Vec<u8> {
    let mut e = Entry {
        version: 1,
        origin: ORIGIN.into(),
        kind,
        sender: key.key_id(),
        sequence,
        timestamp_ms: T0 + sequence * 1000 + u64::from(kind),
        reply_to: None,
        subject: "s".into(),
        content_type: content_type.into(),
        payload,
        attachments: Vec::new(),
        signatures: Vec::new(),
    };
    let signature = key.sign(&e.signed_message());
    e.signatures = vec![Signature {
        key_id: key.key_id(),
        signature,
    }];
    e.encode()
}

/// The checkpoint of `leaves` signed by `log` as the log and co-signed by `cosigner`.
fn note(leaves: &[Vec<u8>], log: &SignerKey, cosigner: &SignerKey) -> Vec<u8> {
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let hashes: Vec<[u8; 32]> = leaves.iter().map(|l| leaf_hash(l)).collect();
    let text = format!("{ORIGIN}\n{}\n{}\n", leaves.len(), b64(&root(&hashes)));
    let log_id = key_id(ORIGIN, SignatureType::Ed25519, &log.public_key());
    let log_sig = [&log_id.to_be_bytes()[..], &log.sign(text.as_bytes())].concat();
    let at = T0 / 1000 + 100;
    let message = format!("cosignature/v1\ntime {at}\n{text}");
    let cos_id = key_id(
        cosigner.name(),
        SignatureType::CosignatureV1,
        &cosigner.public_key(),
    );
    let cos_sig = [
        &cos_id.to_be_bytes()[..],
        &at.to_be_bytes(),
        &cosigner.sign(message.as_bytes()),
    ]
    .concat();
    format!(
        "{text}\n\u{2014} {ORIGIN} {}\n\u{2014} {} {}\n",
        b64(&log_sig),
        cosigner.name(),
        b64(&cos_sig)
    )
    .into_bytes()
}

fn receipt_of(leaves: &[Vec<u8>], index: usize, note: &[u8]) -> Vec<u8> {
    let hashes: Vec<[u8; 32]> = leaves.iter().map(|l| leaf_hash(l)).collect();
    receipt::format(
        &leaves[index],
        index as u64,
        &inclusion_proof(index, &hashes),
        note,
    )
}

/// The log of [`setup`]: leaves, and the checkpoint note of size 4 signed by the new key.
fn log() -> (Vec<Vec<u8>>, Vec<u8>) {
    let (alpha, bravo) = (alpha(), bravo());
    let new = SignerKey::from_seed(alpha.name(), [3; 32]).unwrap();
    let mut leaves = vec![genesis(T0).bytes];
    leaves.push(entry(&alpha, 4, 1, "text/plain", b"before".to_vec()));
    let statement = spec::statement(ORIGIN, alpha.key_id(), 2, &new.public_key());
    let payload = spec::payload(&new.public_key(), &new.sign(&statement));
    leaves.push(entry(&alpha, spec::KIND, 2, spec::CONTENT_TYPE, payload));
    leaves.push(entry(&new, 4, 3, "text/plain", b"after".to_vec()));
    let note = note(&leaves, &new, &bravo);
    (leaves, note)
}

/// Genesis; alpha's message 1; alpha's key change at index 2 to a new key; a message by
/// the new key at index 3; the checkpoint of size 4 signed by the new key. Writes the
/// receipt directory `dir` for entry 3, with its key history, and the genesis keys.
fn setup(env: &Env) {
    let (alpha, bravo) = (alpha(), bravo());
    let (leaves, note) = log();
    fs::create_dir_all(env.path("dir/key-changes")).unwrap();
    fs::write(
        env.path("dir/receipt.tlog-proof"),
        receipt_of(&leaves, 3, &note),
    )
    .unwrap();
    fs::write(
        env.path("dir/key-changes/2.tlog-proof"),
        receipt_of(&leaves, 2, &note),
    )
    .unwrap();
    for (file, key) in [("alpha.pub", &alpha), ("bravo.pub", &bravo)] {
        fs::write(env.path(file), format!("{}\n", key.verifier_key())).unwrap();
    }
    let (_, g) = dyad_verifier::genesis::check_genesis(&leaves[0]).unwrap();
    fs::write(env.path("channel.policy"), g.policy().unwrap().to_string()).unwrap();
}

fn verify(env: &Env, extra: &[&str]) -> std::process::Output {
    env.dyad()
        .args(["verify", "receipt", "dir"])
        .args(extra)
        .output()
        .unwrap()
}

const TRUST: [&str; 4] = ["--trust", "alpha.pub", "--trust", "bravo.pub"];

#[test]
fn a_receipt_after_a_key_change_verifies_with_its_key_history() {
    let env = Env::new();
    setup(&env);
    let out = verify(&env, &TRUST);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("key change   entry 2: the sequencer replaced key"),
        "{text}"
    );

    let out = env
        .dyad()
        .args(["--json", "verify", "receipt", "dir"])
        .args(TRUST)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v = common::json(&out.stdout);
    assert_eq!(v["index"], 3);
    assert_eq!(v["sender_role"], "sequencer");
    assert_eq!(v["key_changes"][0]["index"], 2);
    assert_eq!(v["key_changes"][0]["role"], "sequencer");
    assert_eq!(
        v["key_changes"][0]["old_key_id"],
        format!("{:08x}", alpha().key_id())
    );
}

#[test]
fn without_its_key_history_the_receipt_fails_saying_so() {
    let env = Env::new();
    setup(&env);
    fs::remove_dir_all(env.path("dir/key-changes")).unwrap();
    let out = verify(&env, &TRUST);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("may need its key history: key-changes/"),
        "{}",
        stderr(&out)
    );
}

/// `channel.policy` made stricter: its quorum also needs a witness `extra` that co-signs
/// nothing. Written as `strict.policy`.
fn write_stricter_policy(env: &Env) {
    env.keygen("extra");
    let extra = fs::read_to_string(env.path("keys/extra.pub")).unwrap();
    let text = fs::read_to_string(env.path("channel.policy")).unwrap();
    let quorum = text
        .lines()
        .find_map(|l| l.strip_prefix("quorum "))
        .expect("a quorum line")
        .to_owned();
    let mut strict: String = text
        .lines()
        .filter(|l| !l.starts_with("quorum "))
        .map(|l| format!("{l}\n"))
        .collect();
    strict.push_str(&format!(
        "witness extra {}\ngroup strict all {quorum} extra\nquorum strict\n",
        extra.trim()
    ));
    fs::write(env.path("strict.policy"), strict).unwrap();
}

/// Under a policy the key history starts from the parties the policy names (spec 9).
#[test]
fn a_key_history_is_followed_under_a_policy() {
    let env = Env::new();
    setup(&env);
    let out = verify(&env, &["--policy", "channel.policy"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    write_stricter_policy(&env);
    let out = verify(&env, &["--policy", "strict.policy"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("policy"), "{}", stderr(&out));
}

#[test]
fn the_audit_of_a_log_with_a_key_change_lists_it_and_follows_it_under_a_policy() {
    let env = Env::new();
    setup(&env);
    let (leaves, note) = log();
    let file = fs::File::create(env.path("log.bundle")).unwrap();
    let mut writer = Encoder::new(file, ORIGIN).unwrap();
    for (index, bytes) in leaves.into_iter().enumerate() {
        let index = index as u64;
        writer.record(&Record::Entry { index, bytes }).unwrap();
    }
    writer.record(&Record::Cosigned(note)).unwrap();
    writer.finish().unwrap();

    let audit = |extra: &[&str]| {
        env.dyad()
            .args(["--json", "audit", "--bundle", "log.bundle"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = audit(&TRUST);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = common::json(&out.stdout);
    assert_eq!(v["verdict"], "pass");
    assert_eq!(v["committed_size"], 4);
    assert_eq!(v["key_changes"][0]["index"], 2);
    assert_eq!(v["key_changes"][0]["role"], "sequencer");

    let out = audit(&["--policy", "channel.policy"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = common::json(&out.stdout);
    assert_eq!(v["verdict"], "pass");
    assert_eq!(v["key_changes"][0]["index"], 2);
    write_stricter_policy(&env);
    let out = audit(&["--policy", "strict.policy"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = common::json(&out.stdout);
    assert_eq!(v["verdict"], "fail");
    assert!(v["error"].as_str().unwrap().contains("policy"), "{v}");
}

#[test]
fn a_key_history_is_refused_with_a_mirror_before_any_request() {
    let env = Env::new();
    setup(&env);
    let out = verify(
        &env,
        &[&TRUST[..], &["--mirror", "https://127.0.0.1:9/"]].concat(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("key history"), "{}", stderr(&out));
}

/// `dyad verify checkpoint --key-history DIR` (spec 8): the bare checkpoint, signed by the
/// sequencer's new key, is committed under the keys the receipt directory's key history
/// gives from the genesis keys (with --trust, or a policy naming them); without the
/// history it is not, and a history against another checkpoint is refused.
#[test]
fn a_bare_checkpoint_after_a_key_change_verifies_with_a_key_history() {
    let env = Env::new();
    setup(&env);
    let (_, note) = log();
    fs::write(env.path("size4.checkpoint"), &note).unwrap();
    let check = |extra: &[&str]| {
        env.dyad()
            .args(["--json", "verify", "checkpoint", "size4.checkpoint"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = check(&[&TRUST[..], &["--key-history", "dir"]].concat());
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let v = common::json(&out.stdout);
    assert_eq!(v["committed"], true, "{v}");
    assert_eq!(v["size"], 4, "{v}");
    assert_eq!(v["key_changes"][0]["index"], 2, "{v}");
    let out = check(&["--policy", "channel.policy", "--key-history", "dir"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));

    // Without a key history the genesis keys did not sign it as the log.
    let empty = env.path("empty");
    fs::create_dir_all(&empty).unwrap();
    let out = check(&[&TRUST[..], &["--key-history", "empty"]].concat());
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));

    // A key history proved against another checkpoint note is refused.
    let (leaves, _) = log();
    let other = note_of_size(&leaves, 3);
    fs::write(
        env.path("dir/key-changes/2.tlog-proof"),
        receipt_of(&leaves[..3], 2, &other),
    )
    .unwrap();
    let out = check(&[&TRUST[..], &["--key-history", "dir"]].concat());
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("another checkpoint") || stdout(&out).contains("differ"),
        "{}",
        stdout(&out)
    );
}

/// A note of the first `size` leaves, signed by alpha's new key and co-signed by bravo.
fn note_of_size(leaves: &[Vec<u8>], size: usize) -> Vec<u8> {
    let new = SignerKey::from_seed(alpha().name(), [3; 32]).unwrap();
    note(&leaves[..size], &new, &bravo())
}
