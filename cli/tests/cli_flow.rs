//! The full offline flow between two data directories: messages on both sides, bundles
//! both ways, everything committed; and reading the replica (log, show, checkpoint, status).

mod common;

use common::*;
use predicates::str::contains;

#[test]
fn offline_exchange_commits_messages_from_both_sides() {
    let env = Env::new();
    env.channel();

    let a = env.append(
        "alpha",
        "inquiry",
        "Scanning from 198.51.100.0/24",
        "Please look into it.\n",
    );
    assert_eq!(a["index"], 1);
    assert_eq!(a["status"], "pending");
    assert_eq!(b64d(a["leaf_hash"].as_str().unwrap()).len(), 32);
    let log = env.stdout_json(env.at("alpha").args(["--json", "log"]));
    assert_eq!(log["entries"][1]["status"], "pending");
    assert_eq!(log["committed_size"], 0);

    // alpha → bravo: bravo checks entry 1 and co-signs; bravo → alpha: the co-signature.
    env.sync("alpha", "bravo");
    env.sync("bravo", "alpha");
    let log = env.stdout_json(env.at("alpha").args(["--json", "log"]));
    assert_eq!(log["committed_size"], 2);
    assert_eq!(log["entries"][1]["status"], "committed");

    // bravo answers: queued until the sequencer appends it.
    let out = env
        .at("bravo")
        .args([
            "--json",
            "append",
            "--kind",
            "response",
            "--reply-to",
            "1",
            "--subject",
            "Re: scanning",
            "-",
        ])
        .write_stdin("Isolated.\n")
        .assert()
        .success();
    let q = json(&out.get_output().stdout);
    assert_eq!(q["status"], "queued");
    assert_eq!(q["sequence"], 1);
    let log = env.stdout_json(env.at("bravo").args(["--json", "log"]));
    assert_eq!(log["queued"][0]["subject"], "Re: scanning");
    assert_eq!(log["queued"][0]["status"], "queued");
    // Text output: plain, script-friendly first line.
    env.at("alpha")
        .args(["append", "--kind", "notification", "--subject", "Exercise"])
        .assert()
        .success()
        .stdout(predicates::str::is_match("^2 [A-Za-z0-9+/]{43}= pending\n$").unwrap());

    let bundle = env.sync("bravo", "alpha");
    let text = std::fs::read_to_string(&bundle).unwrap();
    assert!(text.starts_with("dyad-sync/v2\norigin hotline.example/dyad/test\n"));
    assert!(text.contains("\nsubmission "));
    env.sync("alpha", "bravo");
    env.sync("bravo", "alpha");

    for side in ["alpha", "bravo"] {
        let log = env.stdout_json(env.at(side).args(["--json", "log"]));
        assert_eq!(log["size"], 4, "{side}");
        assert_eq!(log["committed_size"], 4, "{side}");
        let entries = log["entries"].as_array().unwrap();
        assert!(entries.iter().all(|e| e["status"] == "committed"));
        assert_eq!(entries[3]["kind"], "response");
        assert_eq!(entries[3]["sender"], "cert.bravo.example");
        assert_eq!(entries[3]["reply_to"], 1);
        assert_eq!(log["queued"].as_array().unwrap().len(), 0);
    }
    let roots: Vec<_> = ["alpha", "bravo"]
        .iter()
        .map(|s| env.stdout_json(env.at(s).args(["--json", "checkpoint"]))["root"].clone())
        .collect();
    assert_eq!(roots[0], roots[1]);

    // Text log marks each entry.
    let out = env
        .at("bravo")
        .args(["log", "--from", "1", "--limit", "2"])
        .assert()
        .success();
    let text = stdout(out.get_output());
    assert!(text.contains("4 entries, 4 committed, 0 pending"), "{text}");
    assert_eq!(
        text.lines().filter(|l| l.contains("committed")).count(),
        3,
        "{text}"
    );
    assert!(
        !text.contains("Re: scanning"),
        "--limit 2 from 1 shows entries 1 and 2 only"
    );

    // Importing the same bundle twice changes nothing.
    env.at("alpha")
        .args(["sync", "import"])
        .arg(&bundle)
        .assert()
        .success();
    let status = env.stdout_json(env.at("alpha").args(["--json", "status"]));
    assert_eq!(status["size"], 4);
    assert_eq!(status["pending"], 0);
}

#[test]
fn show_checkpoint_and_status() {
    let env = Env::new();
    env.channel();
    env.append("alpha", "inquiry", "Subject one", "Body one\n");
    std::fs::write(env.path("plan.txt"), b"exercise plan\n").unwrap();
    env.at("alpha")
        .args([
            "append",
            "--kind",
            "notification",
            "--subject",
            "With attachment",
            "--attach",
            "plan.txt",
        ])
        .assert()
        .success();

    let v = env.stdout_json(env.at("alpha").args(["--json", "show", "1"]));
    assert_eq!(v["index"], 1);
    assert_eq!(v["kind"], "inquiry");
    assert_eq!(v["subject"], "Subject one");
    assert_eq!(v["payload_text"], "Body one\n");
    assert_eq!(v["status"], "pending");
    assert_eq!(v["sender_role"], "sequencer");
    assert_eq!(v["content_type"], "text/plain; charset=utf-8");
    let v2 = env.stdout_json(env.at("alpha").args(["--json", "show", "2"]));
    assert_eq!(v2["attachments"][0]["name"], "plan.txt");
    assert_eq!(v2["attachments"][0]["size"], 14);
    assert_eq!(v2["attachments"][0]["stored"], true);

    // --raw: exactly the leaf bytes, whose leaf hash the log reports.
    let raw = env
        .at("alpha")
        .args(["show", "1", "--raw"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update([0u8]);
    h.update(&raw);
    assert_eq!(b64e(&h.finalize()), v["leaf_hash"].as_str().unwrap());

    env.at("alpha")
        .args(["show", "1"])
        .assert()
        .success()
        .stdout(contains("entry 1 (pending)"))
        .stdout(contains("Body one"));
    env.at("alpha")
        .args(["show", "9"])
        .assert()
        .code(2)
        .stderr(contains("there is no entry 9"));

    env.at("alpha")
        .arg("checkpoint")
        .assert()
        .code(1)
        .stderr(contains("no co-signed checkpoint yet"))
        .stderr(contains("sync"));
    env.sync("alpha", "bravo");
    env.sync("bravo", "alpha");
    let note = env
        .at("alpha")
        .arg("checkpoint")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let note = String::from_utf8(note).unwrap();
    assert!(note.starts_with("hotline.example/dyad/test\n3\n"), "{note}");
    assert_eq!(
        note.matches("\n\u{2014} ").count(),
        2,
        "log signature and cosignature: {note}"
    );
    let v = env.stdout_json(
        env.at("bravo")
            .args(["--json", "checkpoint", "--size", "3"]),
    );
    assert_eq!(v["size"], 3);
    env.at("bravo")
        .args(["checkpoint", "--size", "2"])
        .assert()
        .code(1)
        .stderr(contains("co-signed sizes held here: 3"));

    let s = env.stdout_json(env.at("bravo").args(["--json", "status"]));
    assert_eq!(s["role"], "cosigner");
    assert_eq!(s["size"], 3);
    assert_eq!(s["committed_size"], 3);
    env.at("alpha")
        .arg("status")
        .assert()
        .success()
        .stdout(contains("3 committed"));
}

#[test]
fn append_errors() {
    let env = Env::new();
    env.channel();
    std::fs::write(env.path("big"), vec![b'x'; 61441]).unwrap();
    let cases = [
        Refusal {
            name: "an unknown kind",
            args: &["--kind", "gossip"],
            code: 2,
            says: &["invalid value 'gossip'", "threat-indicators"],
        },
        Refusal {
            name: "a second genesis",
            args: &["--kind", "genesis"],
            code: 2,
            says: &[],
        },
        Refusal {
            name: "a payload over the channel's limit",
            args: &["--kind", "notification", "big"],
            code: 2,
            says: &[
                "the payload is 61441 bytes; this channel's limit is 61440",
                "--attach",
            ],
        },
        Refusal {
            name: "a missing payload file",
            args: &["--kind", "notification", "missing.txt"],
            code: 2,
            says: &["missing.txt"],
        },
        Refusal {
            name: "a response without --reply-to",
            args: &["--kind", "response", "--subject", "x"],
            code: 2,
            says: &["--reply-to"],
        },
        Refusal {
            name: "a reply to the genesis",
            args: &["--kind", "response", "--reply-to", "0"],
            code: 2,
            says: &["genesis"],
        },
        Refusal {
            name: "a reply to an entry that does not exist",
            args: &["--kind", "response", "--reply-to", "7"],
            code: 2,
            says: &["--reply-to 7"],
        },
        Refusal {
            name: "a control character in the subject",
            args: &["--kind", "inquiry", "--subject", "a\u{7}b"],
            code: 2,
            says: &["control"],
        },
        Refusal {
            name: "a content type that is not ASCII",
            args: &["--kind", "inquiry", "--content-type", "t\u{e9}xt"],
            code: 2,
            says: &[],
        },
    ];
    for case in &cases {
        let mut append = env.at("alpha");
        append.arg("append");
        case.check(append);
    }
    // The same content as an over-long payload goes through as an attachment.
    env.at("alpha")
        .args(["append", "--kind", "notification", "--attach", "big"])
        .assert()
        .success();
    // Only what passed got in: the genesis and the attachment message.
    let log = env.stdout_json(env.at("alpha").args(["--json", "log"]));
    assert_eq!(log["size"], 2);
}

/// Spec 3.1 forbids bidirectional-formatting characters in a subject (U+061C, U+200E,
/// U+200F, U+202A-U+202E, U+2066-U+2069) as it forbids control characters: `dyad append`
/// refuses both the same way (exit 2, the same message), on either party, before anything
/// is stored, not even an attached file.
#[test]
fn a_subject_with_bidi_characters_is_refused_like_one_with_control_characters() {
    let env = Env::new();
    env.channel();
    std::fs::write(env.path("plan.txt"), "the plan\n").unwrap();
    let too_long = "x".repeat(1025);
    for side in ["alpha", "bravo"] {
        let mut messages = Vec::new();
        for subject in ["a\u{7}b", "a\u{202e}b", "\u{2066}x", "x\u{61c}", &too_long] {
            let out = env
                .at(side)
                .args(["append", "--kind", "notification", "--subject", subject])
                .args(["--attach", "plan.txt"])
                .assert()
                .code(2);
            messages.push(String::from_utf8(out.get_output().stderr.clone()).unwrap());
        }
        assert!(
            messages[0].contains("the subject must be at most 1024 bytes"),
            "{side}: {}",
            messages[0]
        );
        assert!(
            messages.iter().all(|m| *m == messages[0]),
            "{side}: {messages:#?}"
        );
        let log = env.stdout_json(env.at(side).args(["--json", "log"]));
        assert_eq!(log["size"], 1, "{side}");
        assert_eq!(log["queued"].as_array().map_or(0, Vec::len), 0, "{side}");
        let stored = std::fs::read_dir(env.path(side).join("attachments")).map_or(0, |d| d.count());
        assert_eq!(
            stored, 0,
            "{side}: an attachment was stored for a refused message"
        );
    }
}

#[test]
fn completions_and_help() {
    let env = Env::new();
    for shell in ["bash", "zsh", "fish"] {
        env.dyad()
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(contains("dyad"));
    }
    env.dyad()
        .arg("--help")
        .assert()
        .success()
        .stdout(contains("Examples:"))
        .stdout(contains("Exit codes"));
    env.dyad()
        .args(["sync", "import", "--help"])
        .assert()
        .success()
        .stdout(contains("Examples:"));
    env.dyad().arg("frobnicate").assert().code(2);
    env.dyad().assert().code(2);
}
