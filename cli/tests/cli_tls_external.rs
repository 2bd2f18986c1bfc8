//! A running node as clients nobody here wrote see it: `openssl s_client` (TLS 1.3 only,
//! the certificate `dyad tls show` describes) and `curl` (the pin of a read credential,
//! 401 without its token, 200 with it, refused with a wrong pin or TLS 1.2).

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command as StdCommand, Output, Stdio};

use common::node::Node;
use common::{external_tool, Env, ORIGIN};

fn node(data: &Path) -> Node {
    let nobody = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    Node::start(data, "127.0.0.1:0", &format!("https://{nobody}"))
}

fn host_port(url: &str) -> String {
    url.trim_start_matches("https://").to_owned()
}

fn run(program: &str, args: &[&str]) -> Output {
    StdCommand::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"))
}

fn hex_digits(text: &str) -> String {
    text.chars()
        .filter(char::is_ascii_hexdigit)
        .collect::<String>()
        .to_uppercase()
}

#[test]
fn openssl_sees_tls13_and_the_certificate_dyad_shows_and_no_tls12() {
    if !external_tool("openssl") {
        return;
    }
    let env = Env::new();
    env.channel();
    let node = node(&env.path("alpha"));
    let shown = env.stdout_json(env.at("alpha").args(["--json", "tls", "show"]));
    let target = host_port(&node.url);

    let out = run(
        "openssl",
        &["s_client", "-connect", &target, "-tls1_3", "-showcerts"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("TLSv1.3"), "{text}");
    let pem_start = text
        .find("-----BEGIN CERTIFICATE-----")
        .expect("a certificate");
    let pem_end = text.find("-----END CERTIFICATE-----").expect("its end") + 25;
    let pem = &text[pem_start..pem_end];
    let mut x509 = StdCommand::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut x509.stdin.take().unwrap(), pem.as_bytes()).unwrap();
    let fingerprint = String::from_utf8(x509.wait_with_output().unwrap().stdout).unwrap();
    let fingerprint = fingerprint.split('=').nth(1).expect("a fingerprint line");
    assert_eq!(
        hex_digits(fingerprint),
        hex_digits(shown["fingerprint_sha256"].as_str().unwrap()),
        "the node presents the certificate `dyad tls show` describes"
    );

    let out = run(
        "openssl",
        &["s_client", "-connect", &target, "-tls1_2", "-no_tls1_3"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "TLS 1.2 was accepted: {text}");
    assert!(!text.contains("BEGIN CERTIFICATE"), "{text}");
    node.stop();
}

#[test]
fn curl_with_the_credentials_pin_gets_401_without_its_token_and_200_with_it() {
    if !external_tool("curl") {
        return;
    }
    let env = Env::new();
    env.channel();
    // A co-signed checkpoint to read.
    env.append("alpha", "inquiry", "one", "hello");
    env.sync_all();
    let node = node(&env.path("alpha"));
    let credential = env.path("reader.cred");
    env.at("alpha")
        .args(["access", "grant", "--name", "reader", "--out"])
        .arg(&credential)
        .assert()
        .success();
    let token = env
        .dyad()
        .args(["access", "token"])
        .arg(&credential)
        .output()
        .unwrap();
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    let pin_line = std::fs::read_to_string(&credential).unwrap();
    let pin = pin_line
        .lines()
        .find_map(|l| l.strip_prefix("server-pin "))
        .expect("a pin")
        .to_owned();
    let url = format!("{}/checkpoint", node.url);
    // --insecure: no public CA signed the node's certificate; the pin authenticates it.
    let curl = |extra: &[&str]| {
        let mut args = vec![
            "-sS",
            "--insecure",
            "--pinnedpubkey",
            &pin,
            "-w",
            "\n%{http_code}",
        ];
        args.extend_from_slice(extra);
        args.push(&url);
        run("curl", &args)
    };
    let status = |out: &Output| {
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let code = text.lines().last().unwrap_or_default().to_owned();
        (code, text)
    };

    let (code, body) = status(&curl(&[]));
    assert_eq!(code, "401", "{body}");
    assert!(!body.contains(ORIGIN), "nothing of the log: {body}");
    let bearer = format!("Authorization: Bearer {token}");
    let (code, body) = status(&curl(&["-H", &bearer]));
    assert_eq!(code, "200", "{body}");
    assert!(body.starts_with(ORIGIN), "{body}");

    // A wrong pin: curl refuses the server (exit 90, SSL_PINNEDPUBKEYNOTMATCH).
    let wrong = run(
        "curl",
        &[
            "-sS",
            "--insecure",
            "--pinnedpubkey",
            "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            "-H",
            &bearer,
            &url,
        ],
    );
    assert_eq!(wrong.status.code(), Some(90), "{:?}", wrong);
    // TLS 1.2 at most: refused at the handshake.
    let old = run(
        "curl",
        &["-sS", "--insecure", "--tlsv1.2", "--tls-max", "1.2", &url],
    );
    assert_eq!(old.status.code(), Some(35), "{:?}", old);
    // Revoked: 401 at the next request.
    env.at("alpha")
        .args(["access", "revoke", "reader"])
        .assert()
        .success();
    let (code, _) = status(&curl(&["-H", &bearer]));
    assert_eq!(code, "401");
    node.stop();
}
