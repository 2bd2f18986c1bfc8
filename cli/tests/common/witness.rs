//! Witnessing fixtures: a `dyad witness serve` process killed on drop, a channel created
//! with `dyad init --witness FILE.pub=URL --witness-threshold 1`, and the log key a
//! witness is configured with.

use std::path::Path;
use std::process::{Child, Command as StdCommand, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::announce::read_announcement;
use super::node::Node;
use super::{Env, ORIGIN};

/// A `dyad witness serve` process, killed on drop.
pub struct WitnessProcess {
    child: Child,
    /// Its `--json` line: `url`, `verifier_key`, `logs`.
    pub announce: Value,
}

impl WitnessProcess {
    /// `dyad --json witness serve --key KEY --logs LOGS --data DATA --listen LISTEN` in the
    /// test directory; waits (bounded) for the line saying where it listens.
    pub fn start(env: &Env, key: &str, logs: &str, data: &str, listen: &str) -> WitnessProcess {
        let mut child = StdCommand::new(env!("CARGO_BIN_EXE_dyad"))
            .current_dir(env.dir.path())
            .args(["--json", "witness", "serve", "--key", key, "--logs", logs])
            .args(["--data", data, "--listen", listen])
            .env("RUST_LOG", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn dyad witness serve");
        let out = child.stdout.take().unwrap();
        WitnessProcess {
            child,
            announce: read_announcement(out, "dyad witness serve"),
        }
    }

    /// Its cosignature verifier key (type 0x04), as it announced it.
    pub fn verifier_key(&self) -> String {
        self.announce["verifier_key"]
            .as_str()
            .expect("verifier_key")
            .to_owned()
    }
}

impl Drop for WitnessProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The log key a witness of the test channel is configured with: alpha's (the
/// sequencer's) key under the origin's name, as a signed-note verifier key string.
pub fn log_key(env: &Env) -> String {
    let alpha_pub = std::fs::read_to_string(env.path("keys/alpha.pub")).unwrap();
    let alpha_key = dyad_verifier::key::VerifierKey::parse(alpha_pub.trim()).unwrap();
    alpha_key.with_name(ORIGIN).unwrap().to_string()
}

/// The test channel between alpha (sequencer, data dir `alpha`) and bravo (`bravo`), with
/// one witness `--witness WITNESS_PUB=URL --witness-threshold 1`; keys alpha and bravo
/// must exist.
pub fn witnessed_channel(env: &Env, witness_pub: &Path, url: &str) {
    env.at("alpha")
        .args(["init", "--origin", ORIGIN, "--key", "keys/alpha.key"])
        .args(["--peer", "keys/bravo.pub", "--role", "sequencer"])
        .arg("--witness")
        .arg(format!("{}={url}", witness_pub.display()))
        .args(["--witness-threshold", "1"])
        .assert()
        .success();
    env.at("bravo")
        .args(["init", "--origin", ORIGIN, "--key", "keys/bravo.key"])
        .args(["--peer", "keys/alpha.pub", "--role", "cosigner"])
        .arg("--proposal")
        .arg(env.path("alpha/genesis.proposal"))
        .assert()
        .success();
    env.at("alpha")
        .args(["sync", "import"])
        .arg(env.path("bravo/genesis.signed"))
        .assert()
        .success();
}

/// The test channel's two `dyad serve` processes: alpha's (the sequencer) and bravo's.
pub fn serve_channel(env: &Env) -> (Node, Node) {
    let bravo_port = super::free_port();
    let bravo_url = format!("https://127.0.0.1:{bravo_port}");
    let alpha = Node::start(&env.path("alpha"), "127.0.0.1:0", &bravo_url);
    let bravo = Node::start(
        &env.path("bravo"),
        &format!("127.0.0.1:{bravo_port}"),
        &alpha.url,
    );
    (alpha, bravo)
}

/// `dyad append --wait committed` on alpha's node: its JSON answer.
pub fn append_committed(env: &Env, subject: &str) -> Value {
    env.stdout_json(
        env.dyad()
            .env("DYAD_DATA", env.path("alpha"))
            .args(["--json", "append", "--kind", "notification"])
            .args(["--subject", subject, "--wait", "committed", "-"])
            .write_stdin(format!("{subject}\n"))
            .timeout(Duration::from_secs(30)),
    )
}
