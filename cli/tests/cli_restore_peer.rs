//! `dyad restore --from-peer URL`: a replica whose store is lost is rebuilt from the peer's
//! node alone, for either role, checked; the node then commits new messages as before.

mod common;

use std::path::Path;
use std::time::Duration;

use common::node::Node;
use common::{free_port, json, log_json as log, port_of, stderr, Env};
use serde_json::Value;

const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// Appends a message through `data`'s running node and waits until it is committed.
fn commit(env: &Env, data: &Path, subject: &str) -> Value {
    let out = env
        .dyad()
        .env("DYAD_DATA", data)
        .args([
            "--json",
            "append",
            "--kind",
            "notification",
            "--subject",
            subject,
        ])
        .args(["--wait", "committed", "--timeout", "20", "-"])
        .write_stdin("text")
        .timeout(COMMAND_TIMEOUT)
        .output()
        .unwrap();
    assert!(out.status.success(), "append: {}", stderr(&out));
    let v = json(&out.stdout);
    assert_eq!(v["status"], "committed", "{v}");
    v
}

/// `dyad --json restore --from-peer PEER` on `data`, which must succeed; its JSON.
fn restore_from_peer(env: &Env, data: &Path, peer: &str) -> Value {
    let out = common::restore_from_peer(env, data, peer);
    assert!(
        out.status.success(),
        "restore: {}{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
    json(&out.stdout)
}

/// Loses `data`'s store and everything that recorded it, then rebuilds it from `peer`.
fn lose_and_rebuild(env: &Env, data: &Path, peer: &str) -> Value {
    std::fs::remove_dir_all(data.join("ledger")).unwrap();
    std::fs::remove_file(data.join("replica.head")).ok();
    restore_from_peer(env, data, peer)
}

#[test]
fn a_lost_replica_of_either_role_is_rebuilt_from_the_peer_and_commits_again() {
    let env = Env::new();
    env.channel();
    let (alpha, bravo) = (env.path("alpha"), env.path("bravo"));
    let bravo_port = free_port();
    let bravo_url = format!("https://127.0.0.1:{bravo_port}");
    let alpha_node = Node::start(&alpha, "127.0.0.1:0", &bravo_url);
    let alpha_url = alpha_node.url.clone();
    let bravo_node = Node::start(&bravo, &format!("127.0.0.1:{bravo_port}"), &alpha_url);
    commit(&env, &alpha, "one");
    commit(&env, &bravo, "two");
    commit(&env, &alpha, "three");

    // The co-signer's store is replaced by one rebuilt from the peer; the old one is kept.
    assert!(bravo_node.stop());
    let before = log(&env, &bravo);
    // A peer showing fewer committed entries than this replica last recorded is not the
    // peer as it is now: refused, and nothing is installed.
    let record = bravo.join("replica.head");
    let kept = std::fs::read_to_string(&record).unwrap();
    assert!(kept.contains("\ncommitted 4\n"), "{kept}");
    std::fs::write(&record, kept.replace("\ncommitted 4\n", "\ncommitted 40\n")).unwrap();
    let out = common::restore_from_peer(&env, &bravo, &alpha_url);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let said = json(&out.stdout);
    let error = said["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("shows 4 committed entries") && error.contains("had 40"),
        "{said}"
    );
    assert_eq!(log(&env, &bravo), before, "nothing installed");
    assert!(!bravo.join("ledger.restoring").exists());
    std::fs::write(&record, kept).unwrap();
    let restored = restore_from_peer(&env, &bravo, &alpha_url);
    let aside = restored["kept_aside"]
        .as_str()
        .expect("the old replica kept aside");
    assert!(Path::new(aside).join("db").is_file(), "{restored}");
    assert_eq!(restored["size"], 4, "{restored}");
    assert_eq!(restored["committed_size"], 4, "{restored}");
    assert_eq!(log(&env, &bravo), before, "the same entries, committed");
    env.at("bravo").args(["verify", "store"]).assert().success();
    let bravo_node = Node::start(&bravo, &format!("127.0.0.1:{bravo_port}"), &alpha_url);
    let v = commit(&env, &bravo, "four");
    assert_eq!(v["index"], 4, "{v}");

    // The sequencer loses its store.
    assert!(alpha_node.stop());
    let before = log(&env, &alpha);
    let restored = lose_and_rebuild(&env, &alpha, &bravo_url);
    assert_eq!(restored["size"], 5, "{restored}");
    assert_eq!(log(&env, &alpha), before);
    let alpha_node = Node::start(
        &alpha,
        &format!("127.0.0.1:{}", port_of(&alpha_url)),
        &bravo_url,
    );
    let v = commit(&env, &alpha, "five");
    assert_eq!(v["index"], 5, "{v}");
    assert!(alpha_node.stop());
    assert!(bravo_node.stop());
    for data in ["alpha", "bravo"] {
        env.at(data)
            .arg("audit")
            .args(env.trust())
            .assert()
            .success();
    }
    let (a, b) = (log(&env, &alpha), log(&env, &bravo));
    assert_eq!(a["entries"], b["entries"]);
    assert_eq!(
        (&a["committed_size"], &b["committed_size"]),
        (&a["size"], &b["size"])
    );
}
