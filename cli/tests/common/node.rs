//! A `dyad serve` process owned by a test: started with a bounded wait for the line that
//! says where it listens, stopped gracefully on request and killed on drop.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command as StdCommand, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// A `dyad serve` process, killed on drop.
pub struct Node {
    child: Option<Child>,
    /// Where it serves the read API.
    pub url: String,
    /// The line saying where it listens (`--json`).
    pub announce: Value,
    /// Its standard error, line by line, when started with [`Node::start_capturing`].
    pub stderr: Option<mpsc::Receiver<String>>,
}

impl Node {
    /// Starts `dyad serve` on `data` and waits (bounded) for the line saying where it listens.
    pub fn start(data: &Path, listen: &str, peer: &str) -> Node {
        let args = ["--listen", listen, "--peer", peer];
        Node::spawn(data, &args, &[("RUST_LOG", "error")], false)
    }

    /// [`Node::start`] for a node whose peer is not running: `--no-peer-check`, or it would
    /// sign nothing until the peer answers (spec/node.md section 10).
    pub fn start_alone(data: &Path, listen: &str, peer: &str) -> Node {
        let args = ["--listen", listen, "--peer", peer, "--no-peer-check"];
        Node::spawn(data, &args, &[("RUST_LOG", "error")], false)
    }

    /// Starts `dyad --json serve ARGS...` on `data` with its standard error captured
    /// (see [`Node::stderr`]) and `env` set, and waits for the line saying where it listens.
    pub fn start_capturing(data: &Path, args: &[&str], env: &[(&str, &str)]) -> Node {
        Node::spawn(data, args, env, true)
    }

    fn spawn(data: &Path, args: &[&str], env: &[(&str, &str)], capture: bool) -> Node {
        let mut command = StdCommand::new(env!("CARGO_BIN_EXE_dyad"));
        command
            .args(["--json", "serve"])
            .args(args)
            .env("DYAD_DATA", data)
            .env_remove("RUST_LOG");
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(if capture {
                Stdio::piped()
            } else {
                Stdio::inherit()
            })
            .spawn()
            .expect("spawn dyad serve");
        let out = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().map(|err| {
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(|l| l.ok()) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            rx
        });
        let mut node = Node {
            child: Some(child),
            url: String::new(),
            announce: Value::Null,
            stderr,
        };
        let v = super::announce::read_announcement(out, "dyad serve");
        node.url = v["url"].as_str().expect("url").to_owned();
        node.announce = v;
        node
    }

    /// SIGTERM, then waits (bounded) for a graceful exit; returns whether it exited 0.
    pub fn stop(mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        let _ = StdCommand::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return status.success(),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return false;
                }
            }
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
