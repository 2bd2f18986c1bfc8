//! What a newcomer meets when something goes wrong: with `--json` every error (exit 1 and
//! exit 2, clap's usage errors included) is one JSON object on standard output,
//! `{"error": ..., "hint": ... or null, "exit": N}`; an append whose wait ran out exits 1
//! and says so; every key-file error names the file, and a `.pub` given as `--key` is told
//! so; an audit with the wrong `--trust` says whom the genesis names and what was given.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use common::node::Node;
use common::{json, stderr, stdout, Env};
use serde_json::Value;

/// Asserts that `out` exited with `exit` and printed exactly one JSON error object on
/// standard output (nothing else there), and returns it.
fn json_error(out: &std::process::Output, exit: i32) -> Value {
    assert_eq!(
        out.status.code(),
        Some(exit),
        "stdout: {}\nstderr: {}",
        stdout(out),
        stderr(out)
    );
    let text = stdout(out);
    assert_eq!(text.lines().count(), 1, "one line on stdout: {text:?}");
    let v = json(&out.stdout);
    let o = v.as_object().expect("a JSON object");
    assert!(o["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
    assert!(o["hint"].is_string() || o["hint"].is_null(), "{v}");
    assert_eq!(o["exit"], exit, "{v}");
    v
}

/// The exact keys of the JSON error object of a plain error.
fn assert_plain_shape(v: &Value) {
    let mut keys: Vec<&str> = v
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["error", "exit", "hint"], "{v}");
}

/// One error case: the arguments after `dyad --json`, the exit code, a piece of the
/// error and of the hint (`None`: the hint is null), and a piece of what stderr says
/// without `--json`.
struct Case {
    args: &'static [&'static str],
    exit: i32,
    error: &'static str,
    hint: Option<&'static str>,
    text: &'static str,
}

const CASES: &[Case] = &[
    // Exit 2, ours: no data directory there.
    Case {
        args: &["--data", "nowhere", "log"],
        exit: 2,
        error: "no dyad data directory at nowhere",
        hint: Some("dyad init"),
        text: "dyad: error: no dyad data directory at nowhere",
    },
    // Exit 2, ours, without a hint: an unreadable input file.
    Case {
        args: &[
            "verify",
            "receipt",
            "missing.tlog-proof",
            "--trust",
            "keys/alpha.pub",
            "--trust",
            "keys/bravo.pub",
        ],
        exit: 2,
        error: "cannot read missing.tlog-proof",
        hint: None,
        text: "dyad: error: cannot read missing.tlog-proof",
    },
    // Exit 1, ours: a check that did not hold.
    Case {
        args: &["--data", "alpha", "checkpoint", "--size", "5"],
        exit: 1,
        error: "no co-signed checkpoint of size 5",
        hint: Some("a checkpoint is committed when the co-signer co-signs it"),
        text: "dyad: error: no co-signed checkpoint of size 5",
    },
    // Exit 2, clap's: a value it does not accept.
    Case {
        args: &["--data", "alpha", "append", "--kind", "bogus"],
        exit: 2,
        error: "invalid value 'bogus' for '--kind <KIND>'",
        hint: Some("[possible values: inquiry, response, threat-indicators, notification, record, endorsement]"),
        text: "error: invalid value 'bogus' for '--kind <KIND>'",
    },
    // Exit 2, clap's: an unknown option.
    Case {
        args: &["log", "--no-such-option"],
        exit: 2,
        error: "unexpected argument '--no-such-option' found",
        hint: Some("For more information, try '--help'."),
        text: "error: unexpected argument '--no-such-option' found",
    },
    // Exit 2, clap's: no command at all.
    Case {
        args: &[],
        exit: 2,
        error: "requires a subcommand",
        hint: Some("Usage: dyad"),
        text: "Usage: dyad [OPTIONS] <COMMAND>",
    },
    // Exit 2, clap's: a command group without its subcommand.
    Case {
        args: &["prove"],
        exit: 2,
        error: "a subcommand is needed",
        hint: Some("--help after the command lists its subcommands"),
        text: "Usage: dyad prove [OPTIONS] <COMMAND>",
    },
];

#[test]
fn with_json_every_error_is_one_json_object_on_stdout() {
    let env = Env::new();
    env.channel();
    for case in CASES {
        let out = env
            .dyad()
            .arg("--json")
            .args(case.args)
            .output()
            .expect("run dyad");
        let v = json_error(&out, case.exit);
        assert_plain_shape(&v);
        let error = v["error"].as_str().unwrap_or_default();
        assert!(error.contains(case.error), "{:?}: {v}", case.args);
        match case.hint {
            Some(hint) => assert!(
                v["hint"].as_str().is_some_and(|h| h.contains(hint)),
                "{:?}: {v}",
                case.args
            ),
            None => assert!(v["hint"].is_null(), "{:?}: {v}", case.args),
        }
        // The message goes to stdout alone: stderr holds no second copy.
        assert!(
            !stderr(&out).contains("dyad: error"),
            "{:?}: {}",
            case.args,
            stderr(&out)
        );
    }
}

#[test]
fn without_json_errors_stay_text_on_stderr() {
    let env = Env::new();
    env.channel();
    for case in CASES {
        let out = env.dyad().args(case.args).output().expect("run dyad");
        assert_eq!(out.status.code(), Some(case.exit), "{:?}", case.args);
        assert!(stdout(&out).is_empty(), "{:?}: {}", case.args, stdout(&out));
        assert!(
            serde_json::from_slice::<Value>(&out.stderr).is_err(),
            "{:?}",
            case.args
        );
        assert!(
            stderr(&out).contains(case.text),
            "{:?}: {}",
            case.args,
            stderr(&out)
        );
    }
}

#[test]
fn json_after_the_separator_is_an_operand_and_help_stays_help() {
    let env = Env::new();
    // `--json` after `--` is a file name, not the flag: the error is text.
    let out = env
        .dyad()
        .args([
            "--data", "nowhere", "append", "--kind", "inquiry", "--", "--json",
        ])
        .output()
        .expect("run dyad");
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    assert!(stderr(&out).contains("dyad: error:"), "{}", stderr(&out));
    // Help is not an error: printed as usual, exit 0.
    let out = env
        .dyad()
        .args(["--json", "--help"])
        .output()
        .expect("run dyad");
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("Usage: dyad"), "{}", stdout(&out));
}

/// A `dyad serve` on `data` whose peer does not answer.
fn node_without_peer(data: &Path) -> Node {
    let nobody = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    Node::start_alone(data, "127.0.0.1:0", &format!("https://{nobody}"))
}

#[test]
fn append_whose_wait_for_committed_runs_out_exits_1_and_says_so() {
    let env = Env::new();
    env.channel();
    let _node = node_without_peer(&env.path("alpha"));
    let append = |json: bool| {
        let mut cmd = env.at("alpha");
        if json {
            cmd.arg("--json");
        }
        cmd.args([
            "append",
            "--kind",
            "inquiry",
            "--subject",
            "nobody co-signs",
            "--wait",
            "committed",
            "--timeout",
            "1",
            "-",
        ])
        .write_stdin("hello")
        .timeout(Duration::from_secs(30))
        .output()
        .expect("run dyad append")
    };

    let out = append(true);
    let v = json_error(&out, 1);
    assert_eq!(
        v["error"],
        "the wait for committed ran out after 1 s; the message is accepted and the node carries on",
        "{v}"
    );
    assert!(
        v["hint"].as_str().is_some_and(|h| h.contains("dyad log")),
        "{v}"
    );
    assert_eq!(v["wait_timed_out"], true, "{v}");
    assert_eq!(v["index"], 1, "{v}");
    assert_eq!(v["status"], "pending", "{v}");

    let out = append(false);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let line = stdout(&out);
    assert!(
        line.starts_with("2 ") && line.trim_end().ends_with(" pending"),
        "{line}"
    );
    assert!(
        stderr(&out).contains("dyad: error: the wait for committed ran out after 1 s"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("dyad log"), "{}", stderr(&out));
}

/// `dyad init` as the sequencer with `key` as its `--key`.
fn init_with_key(env: &Env, key: &str, json: bool) -> std::process::Output {
    let mut cmd = env.at("alpha");
    if json {
        cmd.arg("--json");
    }
    cmd.args([
        "init",
        "--origin",
        common::ORIGIN,
        "--role",
        "sequencer",
        "--peer",
        "keys/bravo.pub",
        "--key",
        key,
    ])
    .output()
    .expect("run dyad init")
}

#[cfg(unix)]
fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[test]
fn a_pub_file_given_as_key_is_named_and_told_apart() {
    let env = Env::new();
    env.keygen("alpha");
    env.keygen("bravo");
    // As keygen writes it (mode 0644), and with the private mode (0600): the same answer,
    // not "chmod 600" nor "must start with PRIVATE+KEY+".
    for mode in [0o644, 0o600] {
        #[cfg(unix)]
        chmod(&env.path("keys/alpha.pub"), mode);
        let out = init_with_key(&env, "keys/alpha.pub", false);
        assert_eq!(out.status.code(), Some(2));
        let err = stderr(&out);
        assert!(
            err.contains("dyad: error: keys/alpha.pub is a public key"),
            "{mode:o}: {err}"
        );
        assert!(err.contains("keys/alpha.key"), "{mode:o}: {err}");
        assert!(!err.contains("chmod"), "{mode:o}: {err}");

        let v = json_error(&init_with_key(&env, "keys/alpha.pub", true), 2);
        assert_plain_shape(&v);
        assert_eq!(
            v["error"],
            "keys/alpha.pub is a public key (a verifier key line); a private key file is needed here"
        );
        assert_eq!(
            v["hint"],
            "give the private key file `dyad keygen` wrote beside it (keys/alpha.key); the .pub file is for --peer and --trust"
        );
    }
}

#[test]
fn every_key_file_error_names_the_file() {
    let env = Env::new();
    env.keygen("alpha");
    env.keygen("bravo");
    let private = std::fs::read_to_string(env.path("keys/alpha.key")).expect("key");
    let body = private.trim_end();
    let cases: [(&str, String, &str); 4] = [
        ("nokey.key", "hello\n".into(), "must start with"),
        ("short.key", "PRIVATE+KEY+x+0000\n".into(), "has the form"),
        (
            "badb64.key",
            format!("{}+!!!\n", body.rsplit_once('+').expect("+").0),
            "base64",
        ),
        (
            "otherid.key",
            {
                let mut parts: Vec<&str> = body.split('+').collect();
                parts[3] = "00000000";
                format!("{}\n", parts.join("+"))
            },
            "key id",
        ),
    ];
    for (name, text, reason) in cases {
        let path = env.path(&format!("keys/{name}"));
        std::fs::write(&path, text).expect("write key");
        #[cfg(unix)]
        chmod(&path, 0o600);
        let out = init_with_key(&env, &format!("keys/{name}"), false);
        assert_eq!(out.status.code(), Some(2), "{name}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("dyad: error: private key file keys/{name}: ")),
            "{name}: {err}"
        );
        assert!(err.contains(reason), "{name}: {err}");
    }
    // Unreadable and too-open key files were named already; they still are.
    let out = init_with_key(&env, "keys/absent.key", false);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("keys/absent.key"), "{}", stderr(&out));
    #[cfg(unix)]
    {
        chmod(&env.path("keys/alpha.key"), 0o644);
        let out = init_with_key(&env, "keys/alpha.key", false);
        assert_eq!(out.status.code(), Some(2));
        assert!(
            stderr(&out).contains("private key file keys/alpha.key is readable by others"),
            "{}",
            stderr(&out)
        );
    }
}

/// `NAME (KEYID)` of a `.pub` file (`name+keyid+base64`).
fn named(env: &Env, pub_file: &str) -> String {
    let text = std::fs::read_to_string(env.path(pub_file)).expect("pub file");
    let mut parts = text.trim().split('+');
    let name = parts.next().expect("name");
    let id = parts.next().expect("key id");
    format!("{name} ({id})")
}

#[test]
fn audit_with_a_wrong_trust_key_says_whom_the_genesis_names() {
    let env = Env::new();
    env.channel();
    env.keygen("charlie");
    let expected = format!(
        "entry 0: the genesis names the sequencer {} and the co-signer {}, but --trust gave {} and {}",
        named(&env, "keys/alpha.pub"),
        named(&env, "keys/bravo.pub"),
        named(&env, "keys/alpha.pub"),
        named(&env, "keys/charlie.pub"),
    );
    let bundle = env.path("full.dyad-sync");
    env.at("alpha")
        .args(["sync", "export", "--from", "0", "--out"])
        .arg(&bundle)
        .assert()
        .success();
    let wrong = ["--trust", "keys/alpha.pub", "--trust", "keys/charlie.pub"];

    // A data directory: text.
    let out = env
        .at("alpha")
        .arg("audit")
        .args(wrong)
        .output()
        .expect("run dyad audit");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains(&expected), "{}", stdout(&out));

    // A bundle: JSON.
    let out = env
        .dyad()
        .args(["--json", "audit", "--bundle"])
        .arg(&bundle)
        .args(wrong)
        .output()
        .expect("run dyad audit");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = json(&out.stdout);
    assert_eq!(v["verdict"], "fail", "{v}");
    assert_eq!(v["entry"], 0, "{v}");
    assert_eq!(v["error"], expected.as_str(), "{v}");

    // A live node, over the tiles API (it serves up to a co-signed checkpoint).
    env.append("alpha", "inquiry", "one", "hello");
    env.sync_all();
    let node = node_without_peer(&env.path("alpha"));
    let credential = env.path("auditor.cred");
    env.dyad()
        .env("DYAD_DATA", env.path("alpha"))
        .args(["access", "grant", "--name", "auditor", "--out"])
        .arg(&credential)
        .assert()
        .success();
    let out = env
        .dyad()
        .args(["audit", "--access"])
        .arg(&credential)
        .args(["--url", &node.url])
        .args(wrong)
        .timeout(Duration::from_secs(30))
        .output()
        .expect("run dyad audit");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains(&expected), "{}", stdout(&out));
}
