//! Witnessing against C2SP tlog-witness software nobody here wrote (spec/node.md 3.2):
//!
//! - `aics-witness` (PyPI, 0.1.0: a standalone C2SP tlog-witness v1.1.0 server) co-signs a
//!   dyad channel driven by dyad's own nodes: two `dyad serve` processes, the channel
//!   created with `dyad init --witness aics.pub=URL --witness-threshold 1`, entries commit
//!   only with its cosignature, and the published checkpoint verifies with `aics-tlog`
//!   (PyPI, 0.2.1: a C2SP signed-note / tlog-cosignature verifier) under the witness's key.
//! - `dyad witness serve` co-signs dyad checkpoints that aics-witness's own log-side client
//!   (`aics_witness.feeder.WitnessClient`, which POSTs `add-checkpoint` with a consistency
//!   proof, follows 409s and verifies the returned cosignature) sends it; the cosignatures
//!   verify with `aics-tlog`, and a tampered proof (422) and a stale checkpoint (409 naming
//!   a larger size) get the answers that client expects.
//!
//! The search for a witness *client* nobody here wrote: aics-witness ships one
//! (`aics_witness.feeder`), so it is used. (aics-tlog has none: it verifies and builds
//! logs but never talks to a witness.)
//!
//! No incompatibility was found. One difference between the two witnesses is a version
//! difference of C2SP tlog-witness, not a fault of either: a checkpoint of the recorded size
//! with another root gets 409 from `dyad witness serve` (spec/node.md 3.2, as the
//! tlog-witness text it follows says) and 422 from aics-witness (which implements v1.1.0
//! and says v1.0.0 answered 409). dyad's node handles both without co-signing (a 409
//! naming the size just sent from is recorded as a conflict, a 422 as a refusal).
//!
//! The tools are installed by `.ci/install-witness-tools.sh` (pinned, in a venv under
//! target/) and found through `DYAD_AICS_WITNESS`, `DYAD_AICS_TLOG` and
//! `DYAD_WITNESS_PYTHON`; without them these tests skip with a message, unless
//! `DYAD_REQUIRE_EXTERNAL_TOOLS` is set (as CI sets it).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use common::witness::{
    append_committed, log_key, serve_channel, witnessed_channel, WitnessProcess,
};
use common::*;
use serde_json::{json as j, Value};

/// The aics-witness name: schema-less, as its README asks (it is part of its vkey).
const AICS_NAME: &str = "witness.example.org/aics";

/// An `aics-witness serve` process on loopback, configured for the test channel's log
/// with `init` and `add-log` (its own CLI); stopped on drop.
struct AicsWitness {
    child: Child,
    program: PathBuf,
    config: PathBuf,
    /// Its cosignature verifier key, as `init` printed it.
    vkey: String,
    url: String,
}

impl AicsWitness {
    fn start(program: &Path, dir: &Path, log_key: &str) -> AicsWitness {
        let config = dir.join("witness.json");
        let port = free_port();
        let run = |args: &[&str]| {
            let out = StdCommand::new(program)
                .arg(args[0])
                .arg("--config")
                .arg(&config)
                .args(&args[1..])
                .output()
                .expect("run aics-witness");
            assert!(
                out.status.success(),
                "aics-witness {args:?}: {}",
                stderr(&out)
            );
            stdout(&out)
        };
        let listen = format!("127.0.0.1:{port}");
        let vkey = run(&["init", "--name", AICS_NAME, "--listen", &listen])
            .trim()
            .to_owned();
        run(&["add-log", "--origin", ORIGIN, "--vkey", log_key]);
        let log = std::fs::File::create(dir.join("serve.log")).unwrap();
        let child = StdCommand::new(program)
            .args(["serve", "--config"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn aics-witness serve");
        let w = AicsWitness {
            child,
            program: program.to_owned(),
            config,
            vkey,
            url: format!("http://{listen}"),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while http_get(port, "/healthz").map(|(s, _)| s) != Some(200) {
            assert!(
                Instant::now() < deadline,
                "aics-witness did not answer /healthz within 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        w
    }

    /// What `aics-witness serve` logged so far (its decisions, at level info).
    fn log(&self) -> String {
        let path = self.config.with_file_name("serve.log");
        std::fs::read_to_string(path).unwrap_or_default()
    }

    /// `aics-witness status --json`: what it holds for the test channel's origin.
    fn log_state(&self) -> Value {
        let out = StdCommand::new(&self.program)
            .args(["status", "--json", "--config"])
            .arg(&self.config)
            .output()
            .expect("aics-witness status");
        assert!(out.status.success(), "{}", stderr(&out));
        let doc = json(&out.stdout);
        doc["logs"]
            .as_array()
            .and_then(|l| l.iter().find(|l| l["origin"] == ORIGIN))
            .cloned()
            .unwrap_or_else(|| panic!("aics-witness holds no state for {ORIGIN}: {doc}"))
    }
}

impl Drop for AicsWitness {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A GET on loopback with `Connection: close`: the status and body, or None if nothing
/// answers yet.
fn http_get(port: u16, path: &str) -> Option<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let head = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    s.write_all(head.as_bytes()).ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    let split = out.windows(4).position(|w| w == b"\r\n\r\n")?;
    let status = std::str::from_utf8(&out[..split])
        .ok()?
        .split(' ')
        .nth(1)?
        .parse()
        .ok()?;
    Some((status, out[split + 4..].to_vec()))
}

/// `aics-tlog verify-checkpoint` on `note` with the test channel's log key and one
/// witness key, quorum 1, cosignature at most 10 minutes old: its JSON report (it
/// exits 0 exactly when `ok` is true).
fn aics_tlog_verify(tlog: &Path, env: &Env, note: &[u8], witness_vkey: &str) -> Value {
    let file = env.path("aics-tlog-input.note");
    std::fs::write(&file, note).unwrap();
    let out = StdCommand::new(tlog)
        .args(["verify-checkpoint", "--note"])
        .arg(&file)
        .args(["--origin", ORIGIN, "--log-key", &log_key(env)])
        .args([
            "--witness-key",
            witness_vkey,
            "--quorum",
            "1",
            "--max-age",
            "600",
        ])
        .output()
        .expect("run aics-tlog");
    let report = json(&out.stdout);
    assert_eq!(
        out.status.success(),
        report["ok"] == true,
        "aics-tlog's exit code and report disagree: {report}"
    );
    report
}

/// The note's size line.
fn note_size(note: &[u8]) -> u64 {
    let text = String::from_utf8_lossy(note);
    text.lines().nth(1).unwrap().parse().unwrap()
}

#[test]
fn aics_witness_cosigns_a_dyad_channel_and_aics_tlog_verifies_the_published_checkpoint() {
    let Some(aics) = external_program("DYAD_AICS_WITNESS") else {
        return;
    };
    let Some(tlog) = external_program("DYAD_AICS_TLOG") else {
        return;
    };
    let env = Env::new();
    env.keygen("alpha");
    env.keygen("bravo");
    let witness_dir = env.path("aics-witness");
    std::fs::create_dir(&witness_dir).unwrap();
    let witness = AicsWitness::start(&aics, &witness_dir, &log_key(&env));
    // Its vkey, as the file `dyad init --witness` reads.
    std::fs::write(env.path("keys/aics.pub"), format!("{}\n", witness.vkey)).unwrap();
    witnessed_channel(&env, Path::new("keys/aics.pub"), &witness.url);

    let (alpha, bravo) = serve_channel(&env);
    // The genesis checkpoint goes from old 0; each later one with a consistency proof.
    for subject in ["first", "second"] {
        let appended = append_committed(&env, subject);
        assert_eq!(appended["status"], "committed", "{appended}");
    }

    let status = env.stdout_json(env.at("alpha").args(["--json", "status"]));
    let w = &status["node"]["witnesses"]["witnesses"][0];
    assert_eq!(w["name"], AICS_NAME, "{status}");
    assert_eq!(
        (&w["cosigned_size"], &w["lag"], &w["last_error"]),
        (&j!(3), &j!(0), &Value::Null),
        "{status}"
    );

    let out = env.at("alpha").arg("checkpoint").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let note = out.stdout;
    assert_eq!(note_size(&note), 3);
    assert!(
        stdout_of(&note).contains(&format!("\u{2014} {AICS_NAME} ")),
        "{}",
        stdout_of(&note)
    );
    let report = aics_tlog_verify(&tlog, &env, &note, &witness.vkey);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["size"], 3, "{report}");
    assert_eq!(report["witnesses"], j!([AICS_NAME]), "{report}");
    // Without the witness's line the quorum fails (aics-tlog does count it).
    let bare: Vec<u8> = stdout_of(&note)
        .split_inclusive('\n')
        .filter(|l| !l.starts_with(&format!("\u{2014} {AICS_NAME} ")))
        .collect::<String>()
        .into_bytes();
    let report = aics_tlog_verify(&tlog, &env, &bare, &witness.vkey);
    assert_eq!(report["ok"], false, "{report}");

    // The witness's own record: the size and root dyad committed.
    let held = witness.log_state();
    let root = stdout_of(&note).lines().nth(2).unwrap().to_owned();
    assert_eq!(
        (&held["size"], &held["root"]),
        (&j!(3), &j!(root)),
        "{held}"
    );
    assert_eq!(held["evidence"], 0, "{held}");

    // A restarted sequencer knows nothing of the witness's size and sends from 0; the
    // witness answers 409 naming size 3, and the node sends again from there with a proof.
    let alpha_listen = alpha.url.trim_start_matches("https://").to_owned();
    assert!(alpha.stop(), "alpha's node did not stop gracefully");
    let _alpha = common::node::Node::start(&env.path("alpha"), &alpha_listen, &bravo.url);
    let appended = append_committed(&env, "after a restart");
    assert_eq!(appended["status"], "committed", "{appended}");
    let log = witness.log();
    for said in [
        "size 0 -> 1", // the genesis checkpoint
        "size 1 -> 2",
        "size 2 -> 3",
        "add-checkpoint refused (409)",
        "size 3 -> 4",
    ] {
        assert!(
            log.contains(said),
            "aics-witness did not log {said:?}:\n{log}"
        );
    }
    assert_eq!(witness.log_state()["size"], 4);
    let out = env.at("alpha").arg("checkpoint").output().unwrap();
    let report = aics_tlog_verify(&tlog, &env, &out.stdout, &witness.vkey);
    assert_eq!(
        (&report["ok"], &report["size"]),
        (&j!(true), &j!(4)),
        "{report}"
    );
}

fn stdout_of(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The committed checkpoint of `size` on alpha's replica.
fn checkpoint_at(env: &Env, size: u64) -> String {
    let out = env
        .at("alpha")
        .args(["checkpoint", "--size", &size.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

/// Runs cli/tests/witness-interop/feed.py (aics-witness's WitnessClient) on `plan`: one
/// JSON answer per step.
fn feed(python: &Path, env: &Env, plan: &Value) -> Vec<Value> {
    let plan_file = env.path("feed-plan.json");
    std::fs::write(&plan_file, plan.to_string()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/witness-interop/feed.py");
    let out = StdCommand::new(python)
        .arg(script)
        .arg(&plan_file)
        .output()
        .expect("run feed.py");
    assert!(out.status.success(), "feed.py: {}", stderr(&out));
    stdout(&out).lines().map(|l| json(l.as_bytes())).collect()
}

/// The cosignature lines verify under the witness's key on the note, with dyad's own
/// verifier too.
fn dyad_verifies(note: &str, lines: &str, witness_vkey: &str) -> bool {
    let key = dyad_verifier::key::VerifierKey::parse(witness_vkey).unwrap();
    let merged = format!("{note}{lines}");
    dyad_verifier::note::verify(merged.as_bytes(), std::slice::from_ref(&key))
        .is_ok_and(|v| v.verified.iter().any(|s| s.key == key))
}

#[test]
fn dyad_witness_serve_cosigns_for_the_aics_witness_client_and_aics_tlog_verifies() {
    let Some(python) = external_program("DYAD_WITNESS_PYTHON") else {
        return;
    };
    let Some(tlog) = external_program("DYAD_AICS_TLOG") else {
        return;
    };
    let env = Env::new();
    env.channel();
    env.append("alpha", "notification", "one", "1");
    env.sync_all();
    let note2 = checkpoint_at(&env, 2);
    env.append("alpha", "notification", "two", "2");
    env.append("alpha", "notification", "three", "3");
    env.sync_all();
    let note4 = checkpoint_at(&env, 4);
    let consistency =
        env.stdout_json(
            env.at("alpha")
                .args(["--json", "prove", "consistency", "2", "4"]),
        );
    let proof = consistency["proof"].clone();
    let mut tampered = proof.as_array().unwrap().clone();
    tampered[0] = j!(b64e(&[7; 32]));

    env.keygen("wit");
    std::fs::write(env.path("logs.txt"), format!("log {}\n", log_key(&env))).unwrap();
    let port = free_port();
    let witness = WitnessProcess::start(
        &env,
        "keys/wit.key",
        "logs.txt",
        "witness-data",
        &format!("127.0.0.1:{port}"),
    );
    let vkey = witness.verifier_key();
    let plan = j!({
        "url": format!("http://127.0.0.1:{port}"),
        "vkey": vkey,
        "steps": [
            {"note": note2, "proofs": {}},
            {"note": note4, "proofs": {}, "fixed": [2, tampered]},
            {"note": note4, "proofs": {"2": proof}},
            {"note": note2, "proofs": {}, "fresh_client": true},
        ],
    });
    let answers = feed(&python, &env, &plan);
    assert_eq!(answers.len(), 4, "{answers:?}");

    // From the empty tree, then along a consistency proof: both co-signed, and both
    // cosignatures verify with aics-tlog (the client has already checked them too).
    for (answer, note, size) in [(&answers[0], &note2, 2), (&answers[2], &note4, 4)] {
        let lines = answer["lines"]
            .as_str()
            .unwrap_or_else(|| panic!("size {size} not co-signed: {answer}"));
        assert!(dyad_verifies(note, lines, &vkey), "{lines}");
        let report = aics_tlog_verify(&tlog, &env, format!("{note}{lines}").as_bytes(), &vkey);
        assert_eq!(
            (&report["ok"], &report["size"], &report["witnesses"]),
            (&j!(true), &j!(size), &j!(["cert.wit.example"])),
            "{report}"
        );
    }
    // A proof that does not verify: 422, which the client reports as a rejection.
    assert_eq!(
        (&answers[1]["error"], &answers[1]["status"]),
        (&j!("WitnessRejected"), &j!(422)),
        "{}",
        answers[1]
    );
    // An older checkpoint from a client that knows nothing: the 409 names size 4, which
    // the client reads as a witness ahead of this checkpoint.
    assert_eq!(answers[3]["error"], "WitnessAhead", "{}", answers[3]);
    assert!(
        answers[3]["message"].as_str().unwrap().contains("size 4"),
        "{}",
        answers[3]
    );
}
