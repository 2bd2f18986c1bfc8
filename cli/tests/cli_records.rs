//! Joint records (spec/dyad.md section 3.6), end to end with the real binary: a record by
//! one party, the other's endorsement (`dyad endorse`), what `dyad log
//! --awaiting-endorsement` and `dyad show` say, the receipt pair, and each refusal with its
//! named rule and exit 2, offline and over two live nodes.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::node::Node;
use common::{free_port, json, log_json, stderr, stdout, Env, Refusal};

const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// `dyad --json log --awaiting-endorsement` on `data`.
fn awaiting(env: &Env, data: &Path) -> serde_json::Value {
    env.stdout_json(
        env.dyad()
            .env("DYAD_DATA", data)
            .args(["--json", "log", "--awaiting-endorsement"])
            .timeout(COMMAND_TIMEOUT),
    )
}

fn indexes(list: &serde_json::Value) -> Vec<u64> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|r| r["index"].as_u64().expect("an index"))
        .collect()
}

/// The record and the other kinds: alpha (sequencer) appends, bravo (co-signer) syncs.
fn record_then_sync(env: &Env) {
    env.channel();
    let r = env.append(
        "alpha",
        "record",
        "Minutes, working group, 3 March",
        "1. Agreed.\n",
    );
    assert_eq!(r["index"], 1);
    env.append("alpha", "inquiry", "Scanning?", "Seen scanning.\n");
    env.append("alpha", "record", "Agenda, 10 March", "1. Exercise.\n");
    env.sync_all();
}

#[test]
fn offline_endorsement_and_each_refusal_with_its_named_rule() {
    let env = Env::new();
    record_then_sync(&env);

    let before = awaiting(&env, &env.path("bravo"));
    assert_eq!(indexes(&before["awaiting_my_endorsement"]), [1, 3]);
    assert_eq!(
        indexes(&before["awaiting_their_endorsement"]),
        Vec::<u64>::new()
    );
    let alpha_view = awaiting(&env, &env.path("alpha"));
    assert_eq!(indexes(&alpha_view["awaiting_their_endorsement"]), [1, 3]);
    assert_eq!(
        indexes(&alpha_view["awaiting_my_endorsement"]),
        Vec::<u64>::new()
    );

    // Refused before anything is signed: exit 2, the rule named.
    let refusals = [
        Refusal {
            name: "own record",
            args: &["endorse", "1"],
            code: 2,
            says: &["EndorsementOfOwnRecord"],
        },
        Refusal {
            name: "the genesis",
            args: &["endorse", "0"],
            code: 2,
            says: &["EndorsementOfNonRecord"],
        },
    ];
    for r in &refusals {
        r.check(env.at("alpha"));
    }
    let refusals = [
        Refusal {
            name: "a non-record",
            args: &["endorse", "2"],
            code: 2,
            says: &["EndorsementOfNonRecord"],
        },
        Refusal {
            name: "a missing index",
            args: &["endorse", "99"],
            code: 2,
            says: &["EndorsedIndexMissing"],
        },
    ];
    for r in &refusals {
        r.check(env.at("bravo"));
    }
    // A hand-made endorsement naming another leaf hash than record 3's.
    let mut payload = 3u64.to_be_bytes().to_vec();
    payload.extend_from_slice(&[7; 32]);
    std::fs::write(env.path("wrong-hash.bin"), &payload).unwrap();
    let wrong = Refusal {
        name: "a wrong leaf hash",
        args: &[
            "append",
            "--kind",
            "endorsement",
            "--reply-to",
            "3",
            "--content-type",
            "application/vnd.dyad.endorsement.v1",
            "wrong-hash.bin",
        ],
        code: 2,
        says: &["EndorsedLeafHashMismatch"],
    };
    wrong.check(env.at("bravo"));
    let nothing_queued = env.stdout_json(env.at("bravo").args(["--json", "log"]));
    assert_eq!(nothing_queued["queued"].as_array().unwrap().len(), 0);

    // bravo endorses record 1; a second endorsement is refused while the first is queued,
    // and once it is in the log.
    env.at("bravo").args(["endorse", "1"]).assert().success();
    let second = Refusal {
        name: "a second endorsement",
        args: &["endorse", "1"],
        code: 2,
        says: &["SecondEndorsement"],
    };
    second.check(env.at("bravo"));
    let queued = awaiting(&env, &env.path("bravo"));
    assert_eq!(
        queued["awaiting_my_endorsement"][0]["endorsement_queued"],
        true
    );
    assert_eq!(
        queued["awaiting_my_endorsement"][1]["endorsement_queued"],
        false
    );
    env.sync_all();
    second.check(env.at("bravo"));

    let after = awaiting(&env, &env.path("bravo"));
    assert_eq!(indexes(&after["awaiting_my_endorsement"]), [3]);
    let shown = env.stdout_json(env.at("alpha").args(["--json", "show", "1"]));
    assert_eq!(
        shown["endorsement"],
        "endorsed by cert.bravo.example in entry 4"
    );
    let shown = env.stdout_json(env.at("alpha").args(["--json", "show", "3"]));
    assert_eq!(shown["endorsement"], "not endorsed yet");
    let text = env.at("alpha").args(["show", "4"]).output().unwrap();
    assert!(
        stdout(&text).contains("endorses record 1"),
        "{}",
        stdout(&text)
    );

    // The receipt pair: "signed by A, endorsed by B"; a changed endorsement fails.
    env.at("alpha")
        .args([
            "receipt",
            "1",
            "--out",
            "r1.tlog-proof",
            "--endorsement-out",
            "e1.tlog-proof",
        ])
        .assert()
        .success();
    let ok = env
        .dyad()
        .args([
            "verify",
            "receipt",
            "r1.tlog-proof",
            "--endorsement",
            "e1.tlog-proof",
        ])
        .args(env.trust())
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    assert!(
        stdout(&ok).contains("signed by cert.alpha.example, endorsed by cert.bravo.example"),
        "{}",
        stdout(&ok)
    );
    let mut tampered = std::fs::read_to_string(env.path("e1.tlog-proof")).unwrap();
    let at = tampered
        .find("\n\n")
        .expect("the checkpoint after a blank line")
        - 3;
    let flipped = if &tampered[at..=at] == "A" { "B" } else { "A" };
    tampered.replace_range(at..=at, flipped);
    std::fs::write(env.path("e1-changed.tlog-proof"), tampered).unwrap();
    let bad = env
        .dyad()
        .args([
            "verify",
            "receipt",
            "r1.tlog-proof",
            "--endorsement",
            "e1-changed.tlog-proof",
        ])
        .args(env.trust())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1), "{}", stderr(&bad));
    // As a receipt directory the pair travels together: `verify receipt DIR` checks both,
    // and a changed endorsement.tlog-proof in it fails the directory.
    env.at("alpha")
        .args(["receipt", "1", "--out", "r1-dir"])
        .assert()
        .success();
    assert!(env.path("r1-dir/endorsement.tlog-proof").is_file());
    let dir_ok = env
        .dyad()
        .args(["--json", "verify", "receipt", "r1-dir"])
        .args(env.trust())
        .output()
        .unwrap();
    assert_eq!(dir_ok.status.code(), Some(0), "{}", stderr(&dir_ok));
    let v: serde_json::Value = serde_json::from_slice(&dir_ok.stdout).unwrap();
    assert_eq!(v["endorsed_by"], "cert.bravo.example");
    assert_eq!(v["attachments_checked"], true);
    std::fs::copy(
        env.path("e1-changed.tlog-proof"),
        env.path("r1-dir/endorsement.tlog-proof"),
    )
    .unwrap();
    let dir_bad = env
        .dyad()
        .args(["verify", "receipt", "r1-dir"])
        .args(env.trust())
        .output()
        .unwrap();
    assert_eq!(dir_bad.status.code(), Some(1), "{}", stderr(&dir_bad));
    // Record 3's receipt with record 1's endorsement: the endorsement names another entry.
    env.at("alpha")
        .args(["receipt", "3", "--out", "r3.tlog-proof"])
        .assert()
        .success();
    let other = env
        .dyad()
        .args([
            "verify",
            "receipt",
            "r3.tlog-proof",
            "--endorsement",
            "e1.tlog-proof",
        ])
        .args(env.trust())
        .output()
        .unwrap();
    assert_eq!(other.status.code(), Some(1), "{}", stderr(&other));
    assert!(
        stderr(&other).contains("EndorsesAnotherEntry"),
        "{}",
        stderr(&other)
    );
}

#[test]
fn live_record_endorsed_through_two_nodes_and_its_receipt_pair_verifies() {
    let env = Env::new();
    env.channel();
    let (alpha, bravo) = (env.path("alpha"), env.path("bravo"));
    let bravo_port = free_port();
    let bravo_url = format!("https://127.0.0.1:{bravo_port}");
    let alpha_node = Node::start(&alpha, "127.0.0.1:0", &bravo_url);
    let _bravo_node = Node::start(&bravo, &format!("127.0.0.1:{bravo_port}"), &alpha_node.url);

    let record = env.stdout_json(
        env.dyad()
            .env("DYAD_DATA", &alpha)
            .args([
                "--json",
                "append",
                "--kind",
                "record",
                "--subject",
                "Joint statement",
                "-",
            ])
            .args(["--wait", "committed"])
            .write_stdin("We agree.\n")
            .timeout(COMMAND_TIMEOUT),
    );
    assert!(record["via_node"].is_string(), "{record}");
    let index = record["index"].as_u64().expect("the record's index");

    // bravo sees it awaiting its endorsement once its replica holds it.
    let deadline = Instant::now() + Duration::from_secs(20);
    while indexes(&awaiting(&env, &bravo)["awaiting_my_endorsement"]) != [index] {
        assert!(
            Instant::now() < deadline,
            "record {index} never reached bravo"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // alpha cannot endorse its own record, through its node either: refused, exit 2.
    let own = env
        .dyad()
        .env("DYAD_DATA", &alpha)
        .args(["endorse", &index.to_string()])
        .timeout(COMMAND_TIMEOUT)
        .output()
        .unwrap();
    assert_eq!(own.status.code(), Some(2), "{}", stderr(&own));
    assert!(
        stderr(&own).contains("EndorsementOfOwnRecord"),
        "{}",
        stderr(&own)
    );

    let endorsed = env.stdout_json(
        env.dyad()
            .env("DYAD_DATA", &bravo)
            .args([
                "--json",
                "endorse",
                &index.to_string(),
                "--wait",
                "committed",
            ])
            .timeout(COMMAND_TIMEOUT),
    );
    assert!(endorsed["via_node"].is_string(), "{endorsed}");
    assert_eq!(endorsed["status"], "committed", "{endorsed}");
    let endorsement = endorsed["index"].as_u64().expect("the endorsement's index");

    // Both awaiting lists empty, on both sides, once alpha's tree covers it.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (a, b) = (awaiting(&env, &alpha), awaiting(&env, &bravo));
        let empty = |v: &serde_json::Value| {
            indexes(&v["awaiting_my_endorsement"]).is_empty()
                && indexes(&v["awaiting_their_endorsement"]).is_empty()
        };
        if empty(&a) && empty(&b) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still awaiting:\nalpha {a}\nbravo {b}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let shown = env.stdout_json(
        env.dyad()
            .env("DYAD_DATA", &alpha)
            .args(["--json", "show", &index.to_string()])
            .timeout(COMMAND_TIMEOUT),
    );
    assert_eq!(
        shown["endorsement"],
        format!("endorsed by cert.bravo.example in entry {endorsement}")
    );
    let log = log_json(&env, &alpha);
    assert_eq!(log["entries"][endorsement as usize]["kind"], "endorsement");

    // The receipt pair through alpha's node.
    env.dyad()
        .env("DYAD_DATA", &alpha)
        .args(["receipt", &index.to_string(), "--out", "r.tlog-proof"])
        .args(["--endorsement-out", "e.tlog-proof"])
        .timeout(COMMAND_TIMEOUT)
        .assert()
        .success();
    let ok = env
        .dyad()
        .args([
            "--json",
            "verify",
            "receipt",
            "r.tlog-proof",
            "--endorsement",
            "e.tlog-proof",
        ])
        .args(env.trust())
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    let v = json(&ok.stdout);
    assert_eq!(v["signed_by"], "cert.alpha.example");
    assert_eq!(v["endorsed_by"], "cert.bravo.example");
    assert_eq!(v["endorsement_index"], endorsement);
}
