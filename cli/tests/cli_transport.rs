//! What `dyad serve` accepts as its link to the peer: TLS only, unless told it stands
//! behind a TLS-terminating proxy.

mod common;

use common::{json, Env};

#[test]
fn a_plain_http_peer_is_refused_without_insecure_http_and_is_not_saved() {
    let env = Env::new();
    env.channel();
    let before = std::fs::read_to_string(env.path("alpha/dyad.json")).unwrap();
    let out = env
        .at("alpha")
        .args([
            "--json",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--peer",
            "http://127.0.0.1:9",
        ])
        .timeout(std::time::Duration::from_secs(30))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let v = json(&out.stdout);
    assert!(v["error"].as_str().unwrap().contains("plain HTTP"), "{v}");
    assert!(
        v["hint"].as_str().unwrap().contains("--insecure-http"),
        "{v}"
    );
    assert_eq!(
        std::fs::read_to_string(env.path("alpha/dyad.json")).unwrap(),
        before,
        "the refused peer URL is not saved"
    );
}

#[test]
fn append_says_at_once_that_the_peer_does_not_answer() {
    let env = Env::new();
    env.channel();
    let nobody = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap();
    let node = common::node::Node::start_alone(
        &env.path("alpha"),
        "127.0.0.1:0",
        &format!("https://{nobody}"),
    );
    let append = |subject: &str| {
        env.at("alpha")
            .args(["append", "--kind", "notification", "--subject", subject])
            .args(["--wait", "committed", "--timeout", "1", "-"])
            .write_stdin("x")
            .timeout(std::time::Duration::from_secs(30))
            .output()
            .unwrap()
    };
    // The first message makes the node try its peer, and fail.
    assert_eq!(append("one").status.code(), Some(1));
    let out = append("two");
    assert_eq!(out.status.code(), Some(1), "the wait runs out");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("peer does not answer") && stderr.contains("Connection refused"),
        "{stderr}"
    );
    node.stop();
}
