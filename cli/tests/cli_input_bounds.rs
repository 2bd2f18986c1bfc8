//! Outside input read with a bound: a file larger than its kind can be (a sparse file of
//! limit + 1 bytes), or an endless one (`/dev/zero`), is refused with exit 2 after reading
//! at most limit + 1 bytes, naming the file and the limit. And the exit codes of
//! `dyad verify`: garbage (not of the expected form) is 2, well-formed but tampered is 1.

mod common;

use std::path::Path;

use common::*;

const MAX_RECEIPT: u64 = (1 << 20) + 128 * 1024;
const MAX_CHECKPOINT: u64 = 1 << 20;
const MAX_EVIDENCE: u64 = 4 << 20;
const MAX_PROOF_JSON: u64 = 1 << 20;
const MAX_KEY_FILE: u64 = 16 << 10;
const MAX_PAYLOAD_FILE: u64 = 64 << 10;

/// A channel with 2 committed entries; `r1.tlog-proof` its receipt for entry 1, `cp` its checkpoint.
fn setup() -> Env {
    let env = Env::new();
    env.channel();
    env.append("alpha", "notification", "one", "body\n");
    env.sync("alpha", "bravo");
    env.sync("bravo", "alpha");
    env.at("alpha")
        .args(["receipt", "1", "--out", "r1.tlog-proof"])
        .assert()
        .success();
    let note = env
        .at("bravo")
        .arg("checkpoint")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    std::fs::write(env.path("cp"), note).unwrap();
    env
}

/// A sparse file of `len` zero bytes (no real bytes written).
fn sparse(path: &Path, len: u64) {
    std::fs::File::create(path).unwrap().set_len(len).unwrap();
}

#[test]
fn oversized_and_endless_inputs_are_refused_naming_the_file_and_the_limit() {
    let env = setup();
    let t = env.trust();
    let trust: Vec<&str> = t.iter().map(String::as_str).collect();
    // (what, limit, the command line with F for the file)
    let mut cases: Vec<(&str, u64, Vec<&str>)> = vec![
        ("receipt", MAX_RECEIPT, vec!["verify", "receipt", "F"]),
        (
            "checkpoint",
            MAX_CHECKPOINT,
            vec!["verify", "checkpoint", "F"],
        ),
        ("evidence", MAX_EVIDENCE, vec!["verify", "evidence", "F"]),
        (
            "inclusion proof",
            MAX_PROOF_JSON,
            vec!["verify", "inclusion", "F"],
        ),
        (
            "consistency proof",
            MAX_PROOF_JSON,
            vec!["verify", "consistency", "F"],
        ),
        (
            "trusted key",
            MAX_KEY_FILE,
            vec![
                "verify",
                "checkpoint",
                "cp",
                "--trust",
                "F",
                "--trust",
                "keys/alpha.pub",
            ],
        ),
        (
            "payload",
            MAX_PAYLOAD_FILE,
            vec!["--data", "alpha", "append", "--kind", "notification", "F"],
        ),
    ];
    for (_, _, args) in cases.iter_mut().take(3) {
        args.extend(&trust);
    }
    for (what, limit, args) in &cases {
        for (source, len) in [("sparse", Some(*limit + 1)), ("/dev/zero", None)] {
            let file = match len {
                Some(len) => {
                    let p = env.path(&format!("big-{}", what.replace(' ', "-")));
                    sparse(&p, len);
                    p
                }
                None => "/dev/zero".into(),
            };
            let args: Vec<String> = args
                .iter()
                .map(|a| {
                    if *a == "F" {
                        file.display().to_string()
                    } else {
                        (*a).to_owned()
                    }
                })
                .collect();
            let out = env.dyad().args(&args).output().unwrap();
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{what} ({source}): {err}");
            assert!(
                err.contains(&format!("larger than the {limit} bytes accepted")),
                "{what} ({source}): {err}"
            );
            assert!(
                err.contains(&file.display().to_string()),
                "{what} ({source}): {err}"
            );
        }
    }
    // At the limit it is read, and judged on its form instead.
    sparse(&env.path("at-limit"), MAX_RECEIPT);
    let out = env
        .dyad()
        .args(["verify", "receipt", "at-limit"])
        .args(&t)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not a receipt"), "{}", stderr(&out));
    // A proposal that never ends is refused too (its first line is already too long).
    let out = env
        .at("charlie")
        .args([
            "init",
            "--origin",
            ORIGIN,
            "--key",
            "keys/bravo.key",
            "--peer",
            "keys/alpha.pub",
            "--role",
            "cosigner",
            "--proposal",
            "/dev/zero",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn garbage_exits_2_and_tampered_exits_1() {
    let env = setup();
    let t = env.trust();
    let receipt = std::fs::read_to_string(env.path("r1.tlog-proof")).unwrap();
    let note = std::fs::read_to_string(env.path("cp")).unwrap();
    // A flipped bit in the last signature line (still canonical base64).
    let flip_last_sig = |text: &str| {
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let last = lines.last_mut().unwrap();
        let (head, sig) = last.rsplit_once(' ').unwrap();
        let mut b = b64d(sig);
        let n = b.len();
        b[n - 1] ^= 1;
        *last = format!("{head} {}", b64e(&b));
        lines.join("\n") + "\n"
    };
    // A flipped bit in the first proof hash of a receipt (line 4).
    let flip_proof = |text: &str| {
        let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
        let mut b = b64d(&lines[3]);
        b[0] ^= 1;
        lines[3] = b64e(&b);
        lines.join("\n")
    };
    let cases: Vec<(&str, &str, String, i32, &str)> = vec![
        ("receipt", "garbage", "hello\n".into(), 2, "not a receipt"),
        ("receipt", "empty", String::new(), 2, "not a receipt"),
        (
            "receipt",
            "truncated",
            receipt[..receipt.len() / 3].to_owned(),
            2,
            "not a receipt",
        ),
        (
            "receipt",
            "checkpoint not a note",
            format!("{}\n\nnot a note\n", receipt.split("\n\n").next().unwrap()),
            2,
            "checkpoint",
        ),
        (
            "receipt",
            "tampered proof",
            flip_proof(&receipt),
            1,
            "does not verify",
        ),
        (
            "receipt",
            "tampered signature",
            flip_last_sig(&receipt),
            1,
            "does not verify",
        ),
        (
            "checkpoint",
            "garbage",
            "hello\n".into(),
            2,
            "not a signed note",
        ),
        (
            "checkpoint",
            "a note that is no checkpoint",
            {
                let mut lines: Vec<&str> = note.split('\n').collect();
                lines[1] = "not-a-size";
                lines.join("\n")
            },
            2,
            "not a checkpoint",
        ),
        (
            "checkpoint",
            "tampered signature",
            flip_last_sig(&note),
            1,
            "does not verify",
        ),
        (
            "evidence",
            "garbage",
            "hello\n".into(),
            2,
            "not valid evidence",
        ),
        (
            "evidence",
            "a checkpoint",
            note.clone(),
            2,
            "not valid evidence",
        ),
    ];
    for (kind, what, body, code, says) in cases {
        std::fs::write(env.path("input"), &body).unwrap();
        for json in [false, true] {
            let mut cmd = env.dyad();
            if json {
                cmd.arg("--json");
            }
            let out = cmd
                .args(["verify", kind, "input"])
                .args(&t)
                .output()
                .unwrap();
            assert_eq!(
                out.status.code(),
                Some(code),
                "{kind} {what}: {}",
                stderr(&out)
            );
            if json {
                // With --json the error is the JSON object on stdout alone.
                let v = common::json(&out.stdout);
                assert_eq!(v["valid"], false, "{kind} {what}");
                assert_eq!(v["exit"], code, "{kind} {what}");
                assert!(
                    v["error"].as_str().is_some_and(|e| e.contains(says)),
                    "{kind} {what}: {v}"
                );
            } else {
                assert!(
                    stderr(&out).contains(says),
                    "{kind} {what}: {}",
                    stderr(&out)
                );
            }
        }
    }
}
