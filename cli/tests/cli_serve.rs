//! `dyad serve` as a service runs it: logs as JSON lines (`--log-format json`), settings
//! from a TOML file (`--config FILE`) under the command line's flags, `--listen HOST:PORT`.

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

/// Writes `text` as a serve configuration file in `env`, and returns its path.
fn config_file(env: &Env, text: &str) -> String {
    let path = env.path("serve.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn serve_takes_its_settings_from_a_config_file() {
    let env = Env::new();
    env.channel();
    let file = config_file(
        &env,
        &format!("listen = \"127.0.0.1:0\"\npeer = \"{NOBODY}\"\nlog_format = \"json\"\n"),
    );
    let node = Node::start_capturing(&env.path("alpha"), &["--config", &file], &[]);
    assert_eq!(node.announce["peer_url"], NOBODY, "peer from the file");
    assert!(node.url.starts_with("https://127.0.0.1:"), "{}", node.url);
    let lines = stderr_until(&node, |l| l.contains("node started"));
    let started = parse_json_log(lines.last().unwrap());
    assert_eq!(
        started["message"], "node started",
        "log_format from the file"
    );
    assert!(node.stop());
}

#[test]
fn serve_flags_override_the_config_file() {
    let env = Env::new();
    env.channel();
    // The file's listen address could not be bound, and its log format is json: the
    // command line's win.
    let file = config_file(
        &env,
        &format!("listen = \"192.0.2.1:1\"\npeer = \"{NOBODY}\"\nlog_format = \"json\"\n"),
    );
    let args = [
        "--config",
        &file,
        "--listen",
        "127.0.0.1:0",
        "--log-format",
        "text",
    ];
    let node = Node::start_capturing(&env.path("alpha"), &args, &[("RUST_LOG", "info")]);
    assert!(node.url.starts_with("https://127.0.0.1:"), "{}", node.url);
    let lines = stderr_until(&node, |l| l.contains("node started"));
    let started = lines.last().unwrap();
    assert!(
        serde_json::from_str::<Value>(started).is_err(),
        "text: {started}"
    );
    assert!(node.stop());
}

#[test]
fn a_config_file_with_an_unknown_key_or_a_bad_value_is_refused_naming_it() {
    let env = Env::new();
    env.channel();
    let cases = [
        (
            "listen = \"127.0.0.1:0\"\nlisten_port = 7380\n",
            "listen_port",
        ),
        (
            "listen = \"127.0.0.1:0\"\nmax_batch = \"many\"\n",
            "max_batch",
        ),
        ("listen = \"127.0.0.1:0\"\nmax_batch = 0\n", "max_batch"),
        ("listen = \"nowhere\"\n", "listen"),
        (
            "listen = \"127.0.0.1:0\"\nadmin_listen = \"loopback\"\n",
            "admin_listen",
        ),
        (
            "listen = \"127.0.0.1:0\"\nlog_format = \"xml\"\n",
            "log_format",
        ),
    ];
    for (text, key) in cases {
        let file = config_file(&env, text);
        let out = env
            .at("alpha")
            .args(["serve", "--config", &file])
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text:?}: {stderr}");
        assert!(stderr.contains(key), "{text:?} names {key}: {stderr}");
        assert!(
            stderr.contains("serve.toml"),
            "{text:?} names the file: {stderr}"
        );
    }
}

#[test]
fn serve_needs_an_address_to_listen_on_from_a_flag_or_the_file() {
    let env = Env::new();
    env.channel();
    let file = config_file(&env, &format!("peer = \"{NOBODY}\"\n"));
    for args in [vec!["serve"], vec!["serve", "--config", &file]] {
        let out = env
            .at("alpha")
            .args(&args)
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("no address to listen on"), "{stderr}");
        assert!(
            stderr.contains("--listen"),
            "the hint names the flag: {stderr}"
        );
    }
}

#[test]
fn a_config_file_larger_than_64_kib_is_refused() {
    let env = Env::new();
    env.channel();
    let mut text = String::from("listen = \"127.0.0.1:0\"\n");
    text.push_str(&"# padding\n".repeat(7000));
    let file = config_file(&env, &text);
    let out = env
        .at("alpha")
        .args(["serve", "--config", &file])
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("larger than 64 KiB"));
}

#[test]
fn serve_listens_on_a_host_name_and_says_what_it_resolved_to() {
    let env = Env::new();
    env.channel();
    let args = ["--listen", "localhost:0", "--peer", NOBODY];
    let node = Node::start_capturing(&env.path("alpha"), &args, &[]);
    let a = &node.announce;
    assert_eq!(a["listen_name"], "localhost:0", "{a}");
    let resolved: Vec<std::net::SocketAddr> = a["listen_resolved"]
        .as_array()
        .expect("the addresses it resolved to")
        .iter()
        .map(|v| v.as_str().unwrap().parse().unwrap())
        .collect();
    assert!(resolved.iter().all(|r| r.ip().is_loopback()), "{a}");
    let bound: std::net::SocketAddr = a["listen"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        bound.ip(),
        resolved[0].ip(),
        "the first address is bound: {a}"
    );
    assert_ne!(bound.port(), 0);
    assert!(node.stop());
}

#[test]
fn a_listen_name_that_does_not_resolve_is_refused() {
    let env = Env::new();
    env.channel();
    for (listen, says) in [
        ("no-such-host.invalid:7380", "cannot resolve"),
        ("localhost", "cannot resolve"),
    ] {
        let out = env
            .at("alpha")
            .args(["serve", "--listen", listen])
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{listen}: {stderr}");
        assert!(
            stderr.contains(says) && stderr.contains("--listen"),
            "{stderr}"
        );
        assert!(stderr.contains(listen), "names what was given: {stderr}");
    }
}
