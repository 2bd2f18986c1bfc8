//! `dyad audit` and `dyad verify evidence` (verifier only), on replicas and bundles,
//! intact and tampered; and `dyad demo`.

mod common;

use common::*;
use predicates::str::contains;

/// A channel with messages from both parties, all committed, plus one pending entry.
fn exchanged() -> Env {
    let env = Env::new();
    env.channel();
    env.append("alpha", "inquiry", "one", "1");
    env.append("bravo", "notification", "two", "2");
    env.sync_all();
    env.append("alpha", "notification", "three", "3");
    env.append("alpha", "notification", "four", "4");
    env.sync("alpha", "bravo");
    env.sync("bravo", "alpha");
    env.append("alpha", "notification", "pending", "5");
    env
}

#[test]
fn audits_of_intact_replicas_and_bundles_pass() {
    let env = exchanged();
    let t = env.trust();
    for side in ["alpha", "bravo"] {
        let v = env.stdout_json(
            env.dyad()
                .args(["--json", "audit", "--data", side])
                .args(&t),
        );
        assert_eq!(v["verdict"], "pass", "{side}: {v}");
        assert_eq!(v["committed_size"], 5);
        assert_eq!(v["entries_by_cosigner"], 1);
    }
    let v = env.stdout_json(
        env.dyad()
            .args(["--json", "audit", "--data", "alpha"])
            .args(&t),
    );
    assert_eq!(v["entries"], 6);
    assert_eq!(v["pending"], 1);
    assert_eq!(v["kinds"]["notification"], 4);
    env.dyad()
        .args(["audit", "--data", "bravo"])
        .args(&t)
        .assert()
        .success()
        .stdout(contains("AUDIT PASSED"))
        .stdout(contains("5 (5 committed, 0 pending)"));
    // DYAD_DATA works as --data.
    env.dyad()
        .env("DYAD_DATA", env.path("bravo"))
        .arg("audit")
        .args(&t)
        .assert()
        .success();

    env.at("alpha")
        .args(["sync", "export", "--from", "0", "--out", "full.dyad-sync"])
        .assert()
        .success();
    let v = env.stdout_json(
        env.dyad()
            .args(["--json", "audit", "--bundle", "full.dyad-sync"])
            .args(&t),
    );
    assert_eq!(v["verdict"], "pass");
    assert_eq!(v["entries"], 6);

    // The wrong parties.
    env.keygen("charlie");
    env.dyad()
        .args([
            "audit",
            "--data",
            "alpha",
            "--trust",
            "keys/alpha.pub",
            "--trust",
            "keys/charlie.pub",
        ])
        .assert()
        .code(1)
        .stdout(contains("AUDIT FAILED"))
        .stdout(contains("entry 0"));
    // A partial bundle cannot be audited; a missing one cannot be read.
    env.at("alpha")
        .args(["sync", "export", "--from", "2", "--out", "part.dyad-sync"])
        .assert()
        .success();
    let part = std::fs::read_to_string(env.path("part.dyad-sync")).unwrap();
    assert!(part.contains("\nentry 2 "));
    let refusals = [
        Refusal {
            name: "a partial bundle",
            args: &["--bundle", "part.dyad-sync"],
            code: 2,
            says: &["--from 0"],
        },
        Refusal {
            name: "a missing bundle",
            args: &["--bundle", "nope"],
            code: 2,
            says: &[],
        },
        Refusal {
            name: "a missing data directory",
            args: &["--data", "nope"],
            code: 2,
            says: &[],
        },
        Refusal {
            name: "both a replica and a bundle",
            args: &["--data", "alpha", "--bundle", "full.dyad-sync"],
            code: 2,
            says: &["not both"],
        },
    ];
    for case in &refusals {
        let mut audit = env.dyad();
        audit.arg("audit").args(&t);
        case.check(audit);
    }
}

#[test]
fn a_tampered_bundle_fails_the_audit_naming_the_entry() {
    let env = exchanged();
    let t = env.trust();
    env.at("bravo")
        .args(["sync", "export", "--from", "0", "--out", "full.dyad-sync"])
        .assert()
        .success();
    let full = env.path("full.dyad-sync");
    let tamper = |name: &str, fix_checksum: bool| {
        let path = env.path(name);
        std::fs::copy(&full, &path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let line = text
            .lines()
            .find(|l| l.starts_with("entry 3 "))
            .unwrap()
            .to_owned();
        let mut bytes = b64d(&line[8..]);
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let changed = text.replacen(&line, &format!("entry 3 {}", b64e(&bytes)), 1);
        std::fs::write(&path, changed).unwrap();
        if fix_checksum {
            rewrite_bundle(&path, |_| {});
        }
        path
    };
    for (name, fix) in [("forged.dyad-sync", true), ("altered.dyad-sync", false)] {
        let path = tamper(name, fix);
        let out = env
            .dyad()
            .args(["audit", "--bundle"])
            .arg(&path)
            .args(&t)
            .assert()
            .code(1);
        let text = stdout(out.get_output());
        assert!(text.contains("AUDIT FAILED"), "{text}");
        assert!(text.contains("entry 3"), "{name}: {text}");
        let out = env
            .dyad()
            .args(["--json", "audit", "--bundle"])
            .arg(&path)
            .args(&t)
            .assert()
            .code(1);
        let v = json(&out.get_output().stdout);
        assert_eq!(v["verdict"], "fail");
        assert_eq!(v["entry"], 3);
    }
    // Records that still verify but a checksum that does not: altered after export.
    let path = env.path("reordered.dyad-sync");
    let text = std::fs::read_to_string(&full).unwrap();
    let end = text.lines().last().unwrap().to_owned();
    let digest = end.rsplit(' ').next().unwrap();
    let other = b64e(&[7u8; 32]);
    std::fs::write(&path, text.replacen(digest, &other, 1)).unwrap();
    env.dyad()
        .args(["audit", "--bundle"])
        .arg(&path)
        .args(&t)
        .assert()
        .code(1)
        .stdout(contains("checksum"));
    // Truncated: unreadable.
    std::fs::write(&path, &text[..text.len() / 2]).unwrap();
    env.dyad()
        .args(["audit", "--bundle"])
        .arg(&path)
        .args(&t)
        .assert()
        .code(2)
        .stderr(contains("truncated"));
}

#[test]
fn a_tampered_store_fails_the_audit() {
    let env = exchanged();
    let t = env.trust();
    let tamper = |side: &str, index: u64| {
        let db = sled::open(env.path(side).join("ledger")).unwrap();
        let mut key = vec![b'e'];
        key.extend_from_slice(&index.to_be_bytes());
        let mut value = db.get(&key).unwrap().unwrap().to_vec();
        let last = value.len() - 1;
        value[last] ^= 1;
        db.insert(key, value).unwrap();
        db.flush().unwrap();
    };
    // Entries of the bundle still filling (all of them, in this short log): the store
    // computes the right edge of the tree from them on open and refuses the root it gets.
    for (side, index) in [("bravo", 2), ("alpha", 5)] {
        tamper(side, index);
        let out = env
            .dyad()
            .args(["audit", "--data", side])
            .args(&t)
            .assert()
            .code(1);
        let text = stdout(out.get_output());
        assert!(
            text.contains("AUDIT FAILED")
                && text.contains("the head's root for size")
                && text.contains("changed behind the store's back"),
            "{side}, entry {index}: {text}"
        );
    }
}

#[test]
fn conflicting_checkpoints_become_evidence_of_equivocation() {
    let env = Env::new();
    let t = env.trust();
    env.channel();
    env.append("alpha", "inquiry", "what bravo saw", "A");
    env.sync("alpha", "bravo");
    env.sync("bravo", "alpha");
    // The same parties and origin, a second history of the same size.
    env.channel_in("alpha2", "bravo2", ORIGIN);
    env.append("alpha2", "inquiry", "what someone else saw", "B");
    env.sync("alpha2", "bravo2");
    env.sync("bravo2", "alpha2");
    env.at("alpha")
        .args(["sync", "export", "--from", "0", "--out", "full.dyad-sync"])
        .assert()
        .success();
    let other = env
        .at("alpha2")
        .args(["checkpoint"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    rewrite_bundle(&env.path("full.dyad-sync"), |records| {
        records.push(format!("cosigned {}", b64e(&other)))
    });

    env.dyad()
        .args([
            "audit",
            "--bundle",
            "full.dyad-sync",
            "--evidence-out",
            "conflict.dyad-equivocation",
        ])
        .args(&t)
        .assert()
        .code(1)
        .stdout(contains("AUDIT FAILED"))
        .stdout(contains("equivocation"))
        .stdout(contains("conflict.dyad-equivocation"));
    let evidence = std::fs::read_to_string(env.path("conflict.dyad-equivocation")).unwrap();
    assert!(
        evidence.starts_with("dyad-equivocation/v1\nkind same-size\n"),
        "{evidence}"
    );
    let v = env.stdout_json(
        env.dyad()
            .args(["--json", "verify", "evidence", "conflict.dyad-equivocation"])
            .args(&t),
    );
    assert_eq!(v["valid"], true);
    assert_eq!(v["accused"], "cert.alpha.example");
    assert_eq!(v["first"]["size"], 2);
    env.dyad()
        .args([
            "verify",
            "evidence",
            "conflict.dyad-equivocation",
            "--trust",
            "keys/bravo.pub",
        ])
        .assert()
        .success()
        .stdout(contains(
            "EQUIVOCATION PROVEN: cert.bravo.example (as cosigner)",
        ));
    // Under the channel's policy (`dyad policy show`): the same audit verdict on the
    // bundle, and the evidence proves the log key named in it.
    common::policy::policy_show(&env, "alpha", "channel.policy");
    env.dyad()
        .args(["audit", "--bundle", "full.dyad-sync", "--policy"])
        .arg("channel.policy")
        .assert()
        .code(1)
        .stdout(contains("AUDIT FAILED"))
        .stdout(contains("equivocation"));
    let v = env.stdout_json(env.dyad().args([
        "--json",
        "verify",
        "evidence",
        "conflict.dyad-equivocation",
        "--policy",
        "channel.policy",
    ]));
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["first"]["size"], 2, "{v}");
    env.keygen("charlie");
    env.dyad()
        .args([
            "verify",
            "evidence",
            "conflict.dyad-equivocation",
            "--trust",
            "keys/charlie.pub",
        ])
        .assert()
        .code(1)
        .stderr(contains("does not prove equivocation"));
    // Not evidence at all: unreadable input, exit 2.
    env.dyad()
        .args(["verify", "evidence", "full.dyad-sync"])
        .args(&t)
        .assert()
        .code(2)
        .stderr(contains("not valid evidence"));
    // Without --evidence-out the evidence is printed.
    env.dyad()
        .args(["audit", "--bundle", "full.dyad-sync"])
        .args(&t)
        .assert()
        .code(1)
        .stdout(contains("dyad-equivocation/v1"));
}

#[test]
fn demo_plays_the_exchange_and_leaves_usable_data_directories() {
    let env = Env::new();
    let out = env
        .dyad()
        .args(["demo", "--offline", "--dir", "demo", "--messages", "5"])
        .assert()
        .success();
    let text = stdout(out.get_output());
    assert!(text.contains("VERDICT: OK"), "{text}");
    // The command the demo suggests runs as printed, whether or not dyad is on PATH.
    let look = text
        .lines()
        .find_map(|l| l.strip_prefix("Look around: "))
        .and_then(|l| l.split("   (or").next())
        .expect("the demo's last line");
    let ran = std::process::Command::new("sh")
        .args(["-c", look])
        .current_dir(env.path(""))
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    assert!(
        ran.status.success(),
        "{look}: {}",
        String::from_utf8_lossy(&ran.stderr)
    );
    assert!(
        text.contains("inquiry")
            && text.contains("threat-indicators")
            && text.contains("notification")
    );
    assert!(env.path("demo/receipt-1.tlog-proof").is_file());
    assert!(env.path("demo/transfer").read_dir().unwrap().count() >= 4);
    // The directories are ordinary data directories.
    let log = env.stdout_json(
        env.dyad()
            .env("DYAD_DATA", env.path("demo/alpha"))
            .args(["--json", "log"]),
    );
    assert_eq!(log["size"], 10, "genesis, 4 scripted, 5 more");
    assert_eq!(log["committed_size"], 10);
    let stix = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "threat-indicators")
        .unwrap()["index"]
        .clone();
    let shown = env.stdout_json(env.dyad().env("DYAD_DATA", env.path("demo/bravo")).args([
        "--json",
        "show",
        &stix.to_string(),
    ]));
    let bundle = json(shown["payload_text"].as_str().unwrap().as_bytes());
    assert_eq!(bundle["type"], "bundle");
    assert!(bundle["objects"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["type"] == "indicator" && o["spec_version"] == "2.1"));
    env.dyad()
        .args([
            "verify",
            "receipt",
            "demo/receipt-1.tlog-proof",
            "--trust",
            "demo/keys/alpha.pub",
            "--trust",
            "demo/keys/bravo.pub",
        ])
        .assert()
        .success();
    env.dyad()
        .args(["demo", "--dir", "demo"])
        .assert()
        .code(2)
        .stderr(contains("not empty"));

    let v =
        env.stdout_json(
            env.dyad()
                .args(["--json", "demo", "--dir", "demo2", "--messages", "0"]),
        );
    assert_eq!(v["verdict"], "ok");
    assert_eq!(v["entries"], 5);
    assert_eq!(v["receipt_verified"], true);
    assert_eq!(v["audits"]["alpha"], "pass");
}
