//! A byte damaged on disk in a stored hash tile or an entry bundle: `dyad verify store`
//! exits 1 naming it, `dyad audit --data` fails naming the tile or entry, and `dyad status`
//! reports the recorded damage (exit 1) until the store verifies again. A clean store
//! passes all three.

mod common;

use std::path::Path;

use common::*;
use dyad_ledger::channel::Channel;
use dyad_ledger::entry::{Draft, Kind};
use dyad_ledger::keys::SignerKey;

/// A channel whose sequencer replica holds 1 + 300 entries: level-0 tile 0 and bundle 0
/// are full, in the `tiles-0` and `bundles` files.
fn channel_with_full_tiles() -> Env {
    let env = Env::new();
    env.channel();
    let key =
        SignerKey::parse(&std::fs::read_to_string(env.path("keys/alpha.key")).unwrap()).unwrap();
    let mut ch = Channel::open(&env.path("alpha/ledger")).unwrap();
    let drafts: Vec<Draft> = (0..300)
        .map(|i| {
            Draft::new(
                Kind::Notification,
                &format!("n {i}"),
                "text/plain",
                vec![b'x'; 30],
            )
        })
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    ch.append_own(&key, drafts, now).unwrap();
    env
}

fn flip(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at] ^= 0x10;
    std::fs::write(path, bytes).unwrap();
}

fn verify_store(env: &Env, json_out: bool) -> std::process::Output {
    let mut c = env.at("alpha");
    if json_out {
        c.arg("--json");
    }
    c.args(["verify", "store"]).output().unwrap()
}

fn audit(env: &Env) -> std::process::Output {
    env.dyad()
        .args(["audit", "--data", "alpha", "--json"])
        .args(env.trust())
        .output()
        .unwrap()
}

fn status(env: &Env) -> std::process::Output {
    env.at("alpha").arg("status").output().unwrap()
}

fn assert_clean(env: &Env) {
    let out = verify_store(env, true);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let v = json(&out.stdout);
    assert_eq!(v["verdict"], "pass");
    assert_eq!(v["entries"], 301);
    let out = audit(env);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let out = status(env);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(!stdout(&out).contains("DAMAGED"));
}

#[test]
fn a_flipped_byte_in_a_hash_tile_is_found_by_verify_store_audit_and_status() {
    let env = channel_with_full_tiles();
    assert_clean(&env);
    let tiles = env.path("alpha/ledger/tiles-0");
    // Hash 17 of level-0 tile 0: the leaf hash of entry 17.
    flip(&tiles, 17 * 32 + 3);

    let out = verify_store(&env, false);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(
        text.contains("STORE DAMAGED")
            && text.contains("entry 17")
            && text.contains("stored tile 0/0: file tiles-0, bytes 544..576"),
        "{text}"
    );
    let out = verify_store(&env, true);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out.stdout)["verdict"], "damaged");

    let out = audit(&env);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let v = json(&out.stdout);
    assert_eq!(v["verdict"], "fail");
    let error = v["error"].as_str().unwrap();
    assert!(
        error.contains("hash 17 of tile 0/0") && error.contains("dyad verify store"),
        "{error}"
    );

    // `verify store` recorded it: status shows it and exits 1, in text and JSON.
    let out = status(&env);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("DAMAGED") && stdout(&out).contains("tiles-0"),
        "{}",
        stdout(&out)
    );
    let out = env.at("alpha").args(["--json", "status"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(json(&out.stdout)["damage"]
        .as_str()
        .unwrap()
        .contains("entry 17"));

    // Repaired (the byte flipped back, as a restore would): all three pass again, and the
    // record is gone.
    flip(&tiles, 17 * 32 + 3);
    assert_clean(&env);
}

#[test]
fn a_flipped_byte_in_an_entry_bundle_is_found_by_verify_store_and_audit() {
    let env = channel_with_full_tiles();
    let bundles = env.path("alpha/ledger/bundles");
    // The last byte of entry 40 (its signature).
    let bytes = std::fs::read(&bundles).unwrap();
    let mut at = 0usize;
    for _ in 0..40 {
        at += 2 + usize::from(u16::from_be_bytes([bytes[at], bytes[at + 1]]));
    }
    let end = at + 1 + usize::from(u16::from_be_bytes([bytes[at], bytes[at + 1]]));
    flip(&bundles, end);

    let out = verify_store(&env, false);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(
        text.contains("entry 40") && text.contains("full bundle 0 (file bundles)"),
        "{text}"
    );
    let out = audit(&env);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        json(&out.stdout)["error"]
            .as_str()
            .unwrap()
            .contains("entry 40"),
        "{}",
        stdout(&out)
    );
    let out = status(&env);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn verify_store_without_a_store_is_unusable_input() {
    let env = Env::new();
    let out = env
        .at("nothing-here")
        .args(["verify", "store"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no dyad store"), "{}", stderr(&out));
}
