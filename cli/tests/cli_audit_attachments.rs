//! `dyad audit` checks every attachment every entry names (present, of its size and
//! SHA-256) in a replica's attachment store, a bundle's attachment records and a live
//! node's `GET /attachment/<hash>`; `--skip-attachments` passes without and says so.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::node::Node;
use common::*;
use predicates::str::contains;
use sha2::{Digest, Sha256};

const REPORT_SIZE: usize = 3 * (1 << 20) + 5;

/// A channel where alpha sent a 3 MiB report (entry 1) and bravo a note (entry 2), all
/// committed on both sides; returns the two attachments' hashes.
fn with_attachments(env: &Env) -> (String, String) {
    env.channel();
    let report: Vec<u8> = (0..REPORT_SIZE).map(|i| (i % 251) as u8).collect();
    std::fs::write(env.path("report.bin"), &report).unwrap();
    std::fs::write(env.path("note.txt"), b"indicator note\n").unwrap();
    for (side, file) in [("alpha", "report.bin"), ("bravo", "note.txt")] {
        env.at(side)
            .args(["append", "--kind", "notification", "--subject", file])
            .args(["--attach", file])
            .assert()
            .success();
    }
    env.sync_all();
    (
        hex::encode(Sha256::digest(&report)),
        hex::encode(Sha256::digest(b"indicator note\n")),
    )
}

fn audit(env: &Env, args: &[&str]) -> (i32, serde_json::Value) {
    let out = env
        .dyad()
        .args(["--json", "audit"])
        .args(args)
        .args(env.trust())
        .output()
        .unwrap();
    (out.status.code().unwrap(), json(&out.stdout))
}

fn stored(env: &Env, side: &str, hash: &str) -> PathBuf {
    env.path(side).join("attachments").join(hash)
}

#[test]
fn audits_check_the_attachments_of_replicas_and_bundles() {
    let env = Env::new();
    let (report, note) = with_attachments(&env);
    for side in ["alpha", "bravo"] {
        let (code, v) = audit(&env, &["--data", side]);
        assert_eq!((code, &v["verdict"]), (0, &"pass".into()), "{v}");
        assert_eq!(v["attachments"]["checked"], true);
        assert_eq!(v["attachments"]["count"], 2);
        assert_eq!(v["attachments"]["bytes"], REPORT_SIZE as u64 + 15);
    }
    env.dyad()
        .args(["audit", "--data", "alpha"])
        .args(env.trust())
        .assert()
        .success()
        .stdout(contains("attachments  2 checked"));
    let full = env.path("full.dyad-sync");
    env.at("bravo")
        .args(["sync", "export", "--from", "0", "--out"])
        .arg(&full)
        .assert()
        .success();
    let (code, v) = audit(&env, &["--bundle", "full.dyad-sync"]);
    assert_eq!(
        (code, v["attachments"]["count"].as_u64()),
        (0, Some(2)),
        "{v}"
    );

    // One byte of bravo's copy of the report changed.
    let path = stored(&env, "bravo", &report);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[REPORT_SIZE / 2] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let (code, v) = audit(&env, &["--data", "bravo"]);
    assert_eq!((code, &v["verdict"]), (1, &"fail".into()), "{v}");
    assert_eq!(v["entry"], 1);
    assert_eq!(v["attachment"]["sha256"], report.as_str());
    assert_eq!(v["attachment"]["problem"], "changed");
    let error = v["error"].as_str().unwrap();
    assert!(
        error.starts_with(&format!(
            "entry 1: attachment \"report.bin\" (SHA-256 {report}, {REPORT_SIZE} bytes) is changed"
        )),
        "{error}"
    );
    // --skip-attachments passes, and says so.
    env.dyad()
        .args(["audit", "--skip-attachments", "--data", "bravo"])
        .args(env.trust())
        .assert()
        .success()
        .stdout(contains("AUDIT PASSED"))
        .stdout(contains("attachments  NOT checked (--skip-attachments)"));
    let (code, v) = audit(&env, &["--skip-attachments", "--data", "bravo"]);
    assert_eq!(
        (code, &v["attachments"]),
        (0, &serde_json::json!({"checked": false}))
    );

    // Bravo's copy of the note cut short; alpha's missing.
    let path = stored(&env, "bravo", &note);
    std::fs::write(&path, b"indicator").unwrap();
    std::fs::write(stored(&env, "bravo", &report), {
        bytes[REPORT_SIZE / 2] ^= 1;
        &bytes
    })
    .unwrap();
    let (code, v) = audit(&env, &["--data", "bravo"]);
    assert_eq!((code, v["entry"].as_u64()), (1, Some(2)), "{v}");
    assert_eq!(v["attachment"]["problem"], "too-short");
    assert!(v["error"].as_str().unwrap().contains("\"note.txt\""), "{v}");
    std::fs::remove_file(stored(&env, "alpha", &note)).unwrap();
    env.dyad()
        .args(["audit", "--data", "alpha"])
        .args(env.trust())
        .assert()
        .code(1)
        .stdout(contains("AUDIT FAILED"))
        .stdout(contains(format!(
            "entry 2: attachment \"note.txt\" (SHA-256 {note}, 15 bytes) is missing"
        )));
}

#[test]
fn a_bundle_with_an_altered_or_missing_attachment_fails_the_audit() {
    let env = Env::new();
    let (report, note) = with_attachments(&env);
    let full = env.path("full.dyad-sync");
    env.at("alpha")
        .args(["sync", "export", "--from", "0", "--out"])
        .arg(&full)
        .assert()
        .success();
    let good = std::fs::read(&full).unwrap();
    // One byte of the report's last chunk changed, the end line recomputed (a forger).
    rewrite_bundle(&full, |r| {
        let i = r.iter().rposition(|l| l.starts_with("chunk ")).unwrap();
        let last_report_chunk = r[..i]
            .iter()
            .rposition(|l| l.starts_with("attachment "))
            .map(|a| r[a].contains(&report))
            .unwrap();
        let i = if last_report_chunk { i } else { i - 2 };
        let mut bytes = b64d(&r[i][6..]);
        bytes[0] ^= 1;
        r[i] = format!("chunk {}", b64e(&bytes));
    });
    let (code, v) = audit(&env, &["--bundle", "full.dyad-sync"]);
    assert_eq!((code, v["entry"].as_u64()), (1, Some(1)), "{v}");
    assert_eq!(v["attachment"]["problem"], "changed");
    assert!(v["error"].as_str().unwrap().contains(&report), "{v}");
    let (code, _) = audit(&env, &["--skip-attachments", "--bundle", "full.dyad-sync"]);
    assert_eq!(code, 0);

    // The note's records left out.
    std::fs::write(&full, &good).unwrap();
    rewrite_bundle(&full, |r| {
        let a = r
            .iter()
            .position(|l| l.starts_with(&format!("attachment {note}")))
            .unwrap();
        r.drain(a..a + 2);
    });
    let (code, v) = audit(&env, &["--bundle", "full.dyad-sync"]);
    assert_eq!((code, v["entry"].as_u64()), (1, Some(2)), "{v}");
    assert_eq!(v["attachment"]["problem"], "missing");
}

#[test]
fn an_audit_over_a_live_node_fetches_and_checks_its_attachments() {
    let env = Env::new();
    let (_, note) = with_attachments(&env);
    let alpha = env.path("alpha");
    let node = Node::start_alone(&alpha, "127.0.0.1:0", "https://127.0.0.1:9");
    let credential = env.path("auditor.cred");
    env.dyad()
        .env("DYAD_DATA", &alpha)
        .args(["access", "grant", "--name", "auditor", "--out"])
        .arg(&credential)
        .timeout(Duration::from_secs(30))
        .assert()
        .success();
    let url = node.url.clone();
    let audit_url = |env: &Env| {
        let out = env
            .dyad()
            .args(["--json", "audit", "--url", &url, "--access"])
            .arg(&credential)
            .args(env.trust())
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap();
        assert!(!out.stdout.is_empty(), "{}", stderr(&out));
        (out.status.code().unwrap(), json(&out.stdout))
    };
    let (code, v) = audit_url(&env);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["attachments"]["count"], 2, "{v}");
    // The node lost the note: the audit names it.
    std::fs::remove_file(stored(&env, "alpha", &note)).unwrap();
    let (code, v) = audit_url(&env);
    assert_eq!((code, v["entry"].as_u64()), (1, Some(2)), "{v}");
    assert_eq!(v["attachment"]["problem"], "missing");
    assert!(node.stop());
}
