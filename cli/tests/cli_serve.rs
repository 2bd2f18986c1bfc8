//! `dyad serve` as a service runs it: logs as JSON lines (`--log-format json`).

mod common;

use std::time::{Duration, Instant};

use common::node::Node;
use common::Env;
use serde_json::Value;

/// A port nothing listens on: the peer is unreachable, which the node logs about.
const NOBODY: &str = "https://127.0.0.1:9";

/// Lines of `node`'s standard error until one satisfies `until` (bounded wait).
fn stderr_until(node: &Node, until: impl Fn(&str) -> bool) -> Vec<String> {
    let rx = node.stderr.as_ref().expect("stderr captured");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut lines = Vec::new();
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                let done = until(&line);
                lines.push(line);
                if done {
                    return lines;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(_) => break,
        }
    }
    panic!("the expected line did not come within 20 s; stderr so far: {lines:#?}");
}

fn parse_json_log(line: &str) -> Value {
    let v: Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line:?}"));
    assert!(v["level"].is_string(), "no level: {line}");
    assert!(v["message"].is_string(), "no message: {line}");
    assert!(v["timestamp"].is_string(), "no timestamp: {line}");
    v
}

#[test]
fn serve_logs_one_json_object_per_line_with_log_format_json() {
    let env = Env::new();
    env.channel();
    let args = [
        "--listen",
        "127.0.0.1:0",
        "--peer",
        NOBODY,
        "--log-format",
        "json",
    ];
    let node = Node::start_capturing(&env.path("alpha"), &args, &[("RUST_LOG", "info")]);
    let lines = stderr_until(&node, |l| l.contains("node started"));
    let started = parse_json_log(lines.last().unwrap());
    assert_eq!(started["level"], "INFO");
    assert_eq!(started["message"], "node started");
    // The event's fields sit beside the message.
    assert_eq!(started["role"], "sequencer");
    for line in &lines {
        parse_json_log(line);
    }
    assert!(node.stop(), "a graceful stop exits 0");
}

#[test]
fn serve_logs_text_by_default() {
    let env = Env::new();
    env.channel();
    let args = ["--listen", "127.0.0.1:0", "--peer", NOBODY];
    let node = Node::start_capturing(&env.path("alpha"), &args, &[("RUST_LOG", "info")]);
    let lines = stderr_until(&node, |l| l.contains("node started"));
    let started = lines.last().unwrap();
    assert!(started.contains("INFO"), "{started}");
    assert!(
        serde_json::from_str::<Value>(started).is_err(),
        "text, not JSON: {started}"
    );
    assert!(node.stop());
}
