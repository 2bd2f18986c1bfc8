//! Key changes (spec/dyad.md 3.7) with the two nodes running: `dyad rotate-key` goes
//! through the party's node (`POST /admin/rotate-key`, spec/node.md 5.5), which signs with
//! the new key at once; the peer's node follows the change from its log; each node rebinds
//! its TLS certificate once its key change is co-signed (spec/node.md 9.3), so restarted
//! nodes still reach each other; receipts and the audit verify from the genesis keys
//! alone. A node started with a retired key refuses to run, and a rotation made offline
//! is committed by the nodes afterwards.

mod common;

use std::fs;
use std::time::{Duration, Instant};

use common::node::Node;
use common::witness::serve_channel;
use common::{json, log_json, port_of, restore_from_peer, stderr, Env};

const COMMAND_TIMEOUT: Duration = Duration::from_secs(200);

fn rotate(env: &Env, data: &str, key: &str) -> serde_json::Value {
    let out = env
        .at(data)
        .args(["--json", "rotate-key", "--new-key", key])
        .timeout(COMMAND_TIMEOUT)
        .output()
        .unwrap();
    assert!(out.status.success(), "rotate-key: {}", stderr(&out));
    json(&out.stdout)
}

fn config(env: &Env, data: &str) -> serde_json::Value {
    json(&fs::read(env.path(data).join("dyad.json")).unwrap())
}

/// Waits (bounded) until both replicas hold `size` entries or more, all committed.
fn committed_on_both(env: &Env, size: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let logs = [
            log_json(env, &env.path("alpha")),
            log_json(env, &env.path("bravo")),
        ];
        let done = logs.iter().all(|l| {
            l["committed_size"].as_u64() >= Some(size) && l["committed_size"] == l["size"]
        });
        if done {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not {size} committed on both within 60 s:\nalpha {}\nbravo {}",
            logs[0],
            logs[1]
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn size_of(env: &Env, data: &str) -> u64 {
    log_json(env, &env.path(data))["size"].as_u64().unwrap()
}

#[test]
fn both_parties_rotate_through_their_running_nodes() {
    let env = Env::new();
    env.channel();
    let (alpha_node, bravo_node) = serve_channel(&env);
    env.append("alpha", "notification", "before", "under the genesis keys");
    committed_on_both(&env, 2);

    // alpha (the sequencer) rotates through its node: the key change is appended once the
    // log is co-signed, and alpha signs with the new key from there.
    env.new_party_key("alpha-2", "alpha");
    let change = rotate(&env, "alpha", "keys/alpha-2.key");
    assert_eq!(change["status"], "pending", "{change}");
    let alpha_index = change["index"].as_u64().unwrap();
    let c = config(&env, "alpha");
    assert!(c["key_file"]
        .as_str()
        .unwrap()
        .ends_with("keys/alpha-2.key"));
    assert!(c["previous_key_file"]
        .as_str()
        .unwrap()
        .ends_with("keys/alpha.key"));
    env.append("alpha", "notification", "after", "under alpha's new key");
    env.append("bravo", "inquiry", "to the new key", "bravo's message");
    committed_on_both(&env, alpha_index + 3);

    // bravo (the co-signer) rotates: its node queues the key change and submits it.
    env.new_party_key("bravo-2", "bravo");
    let change = rotate(&env, "bravo", "keys/bravo-2.key");
    assert_eq!(change["status"], "queued", "{change}");
    env.append("bravo", "notification", "after", "under bravo's new key");
    env.append("alpha", "notification", "to bravo", "alpha answers");
    let size = size_of(&env, "alpha").max(alpha_index + 6);
    committed_on_both(&env, size);

    // Restarted, each node binds its certificate with its new key, and the peer accepts
    // only that one now: messages still flow both ways.
    assert!(alpha_node.stop());
    assert!(bravo_node.stop());
    let nodes = serve_channel(&env);
    env.append("bravo", "notification", "restarted", "after the restart");
    env.append("alpha", "notification", "restarted", "after the restart");
    committed_on_both(&env, size + 2);
    for (data, node) in [("alpha", &nodes.0), ("bravo", &nodes.1)] {
        let st = env.stdout_json(
            env.at(data)
                .args(["--json", "status"])
                .timeout(COMMAND_TIMEOUT),
        );
        assert_eq!(st["state"], "serving", "{data} {st}");
        assert_eq!(st["node"]["url"], node.url.as_str());
    }
    assert!(nodes.0.stop());
    assert!(nodes.1.stop());

    // Both key changes are in the log; the last receipt carries the key history and
    // verifies from the genesis keys; so does the whole audit.
    let log = log_json(&env, &env.path("alpha"));
    let entries = log["entries"].as_array().unwrap();
    let changes: Vec<u64> = entries
        .iter()
        .filter(|e| e["kind"] == "key-change")
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    assert_eq!(changes.len(), 2, "{log}");
    assert!(entries.iter().all(|e| e["status"] == "committed"), "{log}");
    let last = entries.len() - 1;
    let dir = env.path("receipt-last");
    let out = env
        .at("bravo")
        .args(["--json", "receipt", &last.to_string(), "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = env
        .dyad()
        .args(["--json", "verify", "receipt"])
        .arg(&dir)
        .args(env.trust())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let audit = env.stdout_json(env.at("bravo").args(["--json", "audit"]).args(env.trust()));
    assert_eq!(
        audit["key_changes"].as_array().map(Vec::len),
        Some(2),
        "{audit}"
    );

    // A node given alpha's retired key (dyad.json turned back) refuses to start, saying
    // how to finish the rotation; nothing is signed with it.
    let mut c = config(&env, "alpha");
    let current = c.clone();
    c["key_file"] = c["previous_key_file"].clone();
    c.as_object_mut().unwrap().remove("previous_key_file");
    fs::write(env.path("alpha/dyad.json"), c.to_string()).unwrap();
    let out = env
        .at("alpha")
        .args([
            "--json",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--no-peer-check",
        ])
        .args(["--peer", "https://127.0.0.1:9"])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(said.contains("rotate-key"), "{said}");
    fs::write(env.path("alpha/dyad.json"), current.to_string()).unwrap();
    assert_eq!(size_of(&env, "alpha"), last as u64 + 1, "nothing signed");
}

#[test]
fn a_rotation_made_offline_is_committed_by_the_nodes() {
    let env = Env::new();
    env.channel();
    env.append("alpha", "notification", "before", "under the genesis keys");
    env.sync_all();
    env.new_party_key("alpha-2", "alpha");
    let change = rotate(&env, "alpha", "keys/alpha-2.key");
    assert_eq!(change["status"], "pending", "{change}");
    let index = change["index"].as_u64().unwrap();
    env.new_party_key("bravo-2", "bravo");
    assert_eq!(
        rotate(&env, "bravo", "keys/bravo-2.key")["status"],
        "queued"
    );

    // alpha's node binds TLS with alpha's previous key until its key change is
    // co-signed (bravo accepts no other yet), then with the new one.
    let (alpha_node, bravo_node) = serve_channel(&env);
    env.append("alpha", "notification", "after", "under alpha's new key");
    committed_on_both(&env, index + 3);
    assert!(alpha_node.stop());
    assert!(bravo_node.stop());
    let log = log_json(&env, &env.path("bravo"));
    let kinds: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "key-change").count(),
        2,
        "{log}"
    );
    let audit = env.stdout_json(env.at("alpha").args(["--json", "audit"]).args(env.trust()));
    assert_eq!(audit["verdict"], "pass", "{audit}");
}

/// `POST /admin/rotate-key` refuses a relative path, a key file others can read, and the
/// key the party already signs with, and signs nothing (spec/node.md 5.5).
#[test]
fn the_node_refuses_bad_rotation_requests() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    env.channel();
    let node = Node::start_alone(&env.path("alpha"), "127.0.0.1:0", "https://127.0.0.1:9");
    let admin = dyad_node::AdminClient::for_data_dir(&env.path("alpha"))
        .unwrap()
        .expect("the node's admin socket");
    let status =
        |path: &std::path::Path| match admin.rotate_key_blocking(path, Duration::from_secs(30)) {
            Err(dyad_node::ClientError::Status { status, body, .. }) => (status, body),
            other => panic!("{path:?}: {other:?}"),
        };
    let (code, body) = status(std::path::Path::new("keys/alpha-2.key"));
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("absolute"), "{body}");
    env.new_party_key("alpha-2", "alpha");
    let readable = env.path("keys/alpha-2.key");
    fs::set_permissions(&readable, fs::Permissions::from_mode(0o644)).unwrap();
    let (code, body) = status(&readable);
    assert_eq!(code, 400, "{body}");
    assert!(!body.contains("PRIVATE"), "the key is never echoed: {body}");
    let (code, body) = status(&env.path("keys/alpha.key"));
    assert_eq!(code, 409, "{body}");
    assert!(node.stop());
    assert_eq!(size_of(&env, "alpha"), 1, "nothing signed");
    assert!(config(&env, "alpha")["previous_key_file"].is_null());
}

/// Loses `data`'s replica, and with `tls` its TLS key and certificate, as a lost disk would.
fn lose_replica(env: &Env, data: &str, tls: bool) {
    let dir = env.path(data);
    fs::remove_dir_all(dir.join("ledger")).unwrap();
    fs::remove_file(dir.join("replica.head")).ok();
    if tls {
        for file in ["tls.key", "tls.crt"] {
            fs::remove_file(dir.join(file)).unwrap();
        }
    }
}

/// `dyad restore --from-peer PEER` on `data`, which must succeed; its JSON.
fn restore_from(env: &Env, data: &str, peer: &str) -> serde_json::Value {
    let out = restore_from_peer(env, &env.path(data), peer);
    assert!(out.status.success(), "restore: {}", stderr(&out));
    json(&out.stdout)
}

/// `dyad restore --from-peer` after both parties rotated (spec/node.md 10): the log is
/// fetched and verified from the genesis keys, the peer's TLS binding is checked against
/// its key at the committed size, and the restored node commits messages both ways. A
/// `dyad.json` naming a retired key is refused, and nothing is left behind.
#[test]
fn a_lost_replica_is_rebuilt_from_the_peer_after_both_parties_rotated() {
    let env = Env::new();
    env.channel();
    let (alpha_node, bravo_node) = serve_channel(&env);
    env.append("alpha", "notification", "before", "under the genesis keys");
    committed_on_both(&env, 2);
    env.new_party_key("alpha-2", "alpha");
    let alpha_index = rotate(&env, "alpha", "keys/alpha-2.key")["index"]
        .as_u64()
        .unwrap();
    env.new_party_key("bravo-2", "bravo");
    assert_eq!(
        rotate(&env, "bravo", "keys/bravo-2.key")["status"],
        "queued"
    );
    env.append("bravo", "notification", "after", "under bravo's new key");
    env.append("alpha", "notification", "after", "under alpha's new key");
    // alpha's key change, bravo's, bravo's message and alpha's.
    let size = alpha_index + 4;
    committed_on_both(&env, size);
    // Restarted, each node's certificate is bound by its party's new key (9.4).
    assert!(alpha_node.stop());
    assert!(bravo_node.stop());
    let (alpha_node, bravo_node) = serve_channel(&env);
    let (alpha_url, bravo_url) = (alpha_node.url.clone(), bravo_node.url.clone());

    // bravo (the co-signer) loses its replica. With the dyad.json it had before rotating
    // (its retired key) the restore refuses, says what to do, and leaves nothing: at once
    // without its node's certificate (alpha refuses one bound by the retired key), after
    // checking the log with it (bound by bravo's current key).
    assert!(bravo_node.stop());
    let before = log_json(&env, &env.path("bravo"));
    lose_replica(&env, "bravo", false);
    let current = config(&env, "bravo");
    let mut old = current.clone();
    old["key_file"] = old["previous_key_file"].clone();
    old.as_object_mut().unwrap().remove("previous_key_file");
    fs::write(env.path("bravo/dyad.json"), old.to_string()).unwrap();
    let (cert, aside) = (env.path("bravo/tls.crt"), env.path("tls.crt.aside"));
    fs::rename(&cert, &aside).unwrap();
    let out = restore_from_peer(&env, &env.path("bravo"), &alpha_url);
    assert!(!out.status.success());
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(said.contains("refused every certificate"), "{said}");
    assert!(!env.path("bravo/ledger.restoring").exists(), "nothing left");
    assert!(!cert.exists(), "nothing written");
    fs::rename(&aside, &cert).unwrap();
    let out = restore_from_peer(&env, &env.path("bravo"), &alpha_url);
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(said.contains("retired"), "{said}");
    assert!(said.contains("key_file"), "{said}");
    assert!(!env.path("bravo/ledger").exists(), "nothing installed");
    assert!(!env.path("bravo/ledger.restoring").exists(), "nothing left");

    // With its current dyad.json, bravo's replica is rebuilt: the same entries, committed.
    fs::write(env.path("bravo/dyad.json"), current.to_string()).unwrap();
    let restored = restore_from(&env, "bravo", &alpha_url);
    assert_eq!(restored["size"], size, "{restored}");
    assert_eq!(restored["committed_size"], size, "{restored}");
    assert_eq!(log_json(&env, &env.path("bravo")), before);
    let bravo_node = Node::start(
        &env.path("bravo"),
        &format!("127.0.0.1:{}", port_of(&bravo_url)),
        &alpha_url,
    );
    env.append(
        "bravo",
        "notification",
        "restored",
        "from bravo's rebuilt replica",
    );
    env.append(
        "alpha",
        "notification",
        "to bravo",
        "to bravo's rebuilt replica",
    );
    committed_on_both(&env, size + 2);

    // alpha (the sequencer) loses its replica and its TLS identity: it presents a
    // certificate bound by dyad.json's key (its current one) and is rebuilt.
    assert!(alpha_node.stop());
    let before = log_json(&env, &env.path("alpha"));
    lose_replica(&env, "alpha", true);
    let restored = restore_from(&env, "alpha", &bravo_url);
    assert_eq!(restored["size"], size + 2, "{restored}");
    assert_eq!(log_json(&env, &env.path("alpha")), before);
    let alpha_node = Node::start(
        &env.path("alpha"),
        &format!("127.0.0.1:{}", port_of(&alpha_url)),
        &bravo_url,
    );
    env.append(
        "alpha",
        "notification",
        "restored",
        "from alpha's rebuilt replica",
    );
    env.append(
        "bravo",
        "notification",
        "to alpha",
        "to alpha's rebuilt replica",
    );
    committed_on_both(&env, size + 4);
    assert!(alpha_node.stop());
    assert!(bravo_node.stop());
    for data in ["alpha", "bravo"] {
        let audit = env.stdout_json(env.at(data).args(["--json", "audit"]).args(env.trust()));
        assert_eq!(audit["verdict"], "pass", "{data} {audit}");
    }
}

/// A co-signer whose key change was queued but never sent loses its replica: the peer's
/// committed log still gives it its previous key, not the key `dyad.json` names. The
/// restore refuses, saying the key change is not committed, and leaves nothing.
#[test]
fn a_restore_whose_own_key_change_is_not_committed_is_refused() {
    let env = Env::new();
    env.channel();
    env.append("alpha", "notification", "before", "under the genesis keys");
    env.sync_all();
    env.new_party_key("bravo-2", "bravo");
    assert_eq!(
        rotate(&env, "bravo", "keys/bravo-2.key")["status"],
        "queued"
    );
    lose_replica(&env, "bravo", false);
    let alpha_node = Node::start_alone(&env.path("alpha"), "127.0.0.1:0", "https://127.0.0.1:9");
    let out = restore_from_peer(&env, &env.path("bravo"), &alpha_node.url);
    assert!(alpha_node.stop());
    assert!(!out.status.success());
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(said.contains("previous key"), "{said}");
    assert!(said.contains("not committed"), "{said}");
    assert!(!env.path("bravo/ledger").exists(), "nothing installed");
    assert!(!env.path("bravo/ledger.restoring").exists(), "nothing left");
}

/// A key the replica in place shows retired never signs again, not even a TLS binding made
/// in memory for a restore (spec/dyad.md 3.7): against a stale copy of the peer (which
/// knows only the retired key) the restore presents no certificate bound by it and
/// refuses, where before it would have signed one with `previous_key_file`.
#[test]
fn a_restore_never_binds_with_a_key_the_replica_in_place_shows_retired() {
    let env = Env::new();
    env.channel();
    env.append("alpha", "notification", "before", "under the genesis keys");
    env.sync_all();
    dyad_testkit::files::copy_dir(&env.path("alpha"), &env.path("alpha-stale"));
    env.new_party_key("bravo-2", "bravo");
    assert_eq!(
        rotate(&env, "bravo", "keys/bravo-2.key")["status"],
        "queued"
    );
    env.sync_all();
    let bravo = log_json(&env, &env.path("bravo"));
    assert_eq!(bravo["committed_size"], bravo["size"], "{bravo}");
    assert!(config(&env, "bravo")["previous_key_file"].is_string());
    // bravo's TLS identity is gone: only certificates made in memory remain to present.
    for file in ["tls.key", "tls.crt"] {
        fs::remove_file(env.path("bravo").join(file)).ok();
    }
    let stale = Node::start_alone(
        &env.path("alpha-stale"),
        "127.0.0.1:0",
        "https://127.0.0.1:9",
    );
    let out = restore_from_peer(&env, &env.path("bravo"), &stale.url);
    assert!(stale.stop());
    assert!(!out.status.success());
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(said.contains("refused every certificate"), "{said}");
    assert!(!said.contains("previous_key_file ("), "{said}");
    assert_eq!(
        log_json(&env, &env.path("bravo")),
        bravo,
        "the replica is untouched"
    );
    assert!(!env.path("bravo/ledger.restoring").exists(), "nothing left");
}
