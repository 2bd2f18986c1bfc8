//! A channel created with `dyad init --witness FILE.pub=URL --witness-threshold 1`, served
//! by two `dyad serve` processes, witnessed by a `dyad witness serve` process: an entry
//! commits once the witness co-signed, `dyad status` shows the witness, and the committed
//! checkpoint carries its cosignature.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command as StdCommand, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::node::Node;
use common::*;
use serde_json::Value;

/// A `dyad witness serve` process, killed on drop.
struct WitnessProcess {
    child: Child,
    announce: Value,
}

impl WitnessProcess {
    fn start(env: &Env, listen: &str) -> WitnessProcess {
        let mut child = StdCommand::new(env!("CARGO_BIN_EXE_dyad"))
            .current_dir(env.dir.path())
            .args(["--json", "witness", "serve", "--key", "keys/wit.key"])
            .args([
                "--logs",
                "logs.txt",
                "--data",
                "witness-data",
                "--listen",
                listen,
            ])
            .env("RUST_LOG", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn dyad witness serve");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(out).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("dyad witness serve did not say where it listens");
        WitnessProcess {
            child,
            announce: serde_json::from_str(line.trim()).expect("a JSON line"),
        }
    }
}

impl Drop for WitnessProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_entry_commits_once_the_witness_cosigned_and_status_shows_the_witness() {
    let env = Env::new();
    env.keygen("alpha");
    env.keygen("bravo");
    env.keygen("wit");
    let witness_port = free_port();
    let witness_url = format!("http://127.0.0.1:{witness_port}");
    // The log key is the sequencer's key under the origin's name.
    let alpha_pub = std::fs::read_to_string(env.path("keys/alpha.pub")).unwrap();
    let alpha_key = dyad_verifier::key::VerifierKey::parse(alpha_pub.trim()).unwrap();
    std::fs::write(
        env.path("logs.txt"),
        format!("log {}\n", alpha_key.with_name(ORIGIN).unwrap()),
    )
    .unwrap();
    let witness = WitnessProcess::start(&env, &format!("127.0.0.1:{witness_port}"));
    assert_eq!(witness.announce["url"], witness_url.as_str());

    env.at("alpha")
        .args(["init", "--origin", ORIGIN, "--key", "keys/alpha.key"])
        .args(["--peer", "keys/bravo.pub", "--role", "sequencer"])
        .args(["--witness", &format!("keys/wit.pub={witness_url}")])
        .args(["--witness-threshold", "1"])
        .assert()
        .success();
    let config = json(&std::fs::read(env.path("alpha/dyad.json")).unwrap());
    assert_eq!(
        config["witness_urls"]["cert.wit.example"],
        witness_url.as_str()
    );
    env.at("bravo")
        .args(["init", "--origin", ORIGIN, "--key", "keys/bravo.key"])
        .args([
            "--peer",
            "keys/alpha.pub",
            "--role",
            "cosigner",
            "--proposal",
        ])
        .arg(env.path("alpha/genesis.proposal"))
        .assert()
        .success();
    env.at("alpha")
        .args(["sync", "import"])
        .arg(env.path("bravo/genesis.signed"))
        .assert()
        .success();

    let bravo_port = free_port();
    let bravo_url = format!("https://127.0.0.1:{bravo_port}");
    let alpha_node = Node::start(&env.path("alpha"), "127.0.0.1:0", &bravo_url);
    let _bravo_node = Node::start(
        &env.path("bravo"),
        &format!("127.0.0.1:{bravo_port}"),
        &alpha_node.url,
    );
    let appended = env.stdout_json(
        env.dyad()
            .env("DYAD_DATA", env.path("alpha"))
            .args([
                "--json",
                "append",
                "--kind",
                "notification",
                "--subject",
                "witnessed",
            ])
            .args(["--wait", "committed", "-"])
            .write_stdin("hello\n")
            .timeout(Duration::from_secs(30)),
    );
    assert_eq!(appended["status"], "committed", "{appended}");

    let status = env.stdout_json(env.at("alpha").args(["--json", "status"]));
    let w = &status["node"]["witnesses"];
    assert_eq!(w["threshold"], 1, "{status}");
    assert_eq!(w["witnesses"][0]["name"], "cert.wit.example");
    assert_eq!(w["witnesses"][0]["cosigned_size"], 2, "{status}");
    let text = env.at("alpha").arg("status").output().unwrap();
    assert!(
        stdout(&text).contains("witness   cert.wit.example: co-signed size 2, 0 behind"),
        "{}",
        stdout(&text)
    );
    // The committed checkpoint carries the witness's cosignature line.
    let note = env.at("alpha").arg("checkpoint").output().unwrap();
    assert!(
        stdout(&note).contains("\u{2014} cert.wit.example "),
        "{}",
        stdout(&note)
    );
}
