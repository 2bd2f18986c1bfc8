//! The live node from the command line, with the real binary: `dyad demo` (two nodes in
//! process), then the two data directories served as they are by two `dyad serve`
//! processes on loopback, `dyad append` through bravo's node ending up committed on both,
//! `dyad log`, `dyad show`, `dyad receipt`, `dyad prove` and `dyad checkpoint` while the
//! nodes hold their stores (the same output as offline), `dyad audit --url` on both nodes,
//! `dyad export tiles` served by a minimal static web server (intact: exit 0; tampered:
//! exit 1), and a graceful stop.
//!
//! Every child process is owned by a guard that kills it on drop (also when an assertion
//! fails), and every wait is bounded.

mod common;

use dyad_testkit::files::copy_dir;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::node::Node;
use common::{free_port, json, log_json, stdout, Env};
use serde_json::Value;

/// Upper bound for any one command.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// A minimal static web server for a directory (GET only, one request per connection),
/// stopped on drop.
struct StaticServer {
    url: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    addr: std::net::SocketAddr,
}

impl StaticServer {
    fn start(root: &Path) -> StaticServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let root = root.to_owned();
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = conn {
                    let _ = serve_one(&root, stream);
                }
            }
        });
        StaticServer {
            url: format!("http://{addr}"),
            stop,
            thread: Some(thread),
            addr,
        }
    }
}

fn serve_one(root: &Path, mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let file = (!path.contains(".."))
        .then(|| root.join(path.trim_start_matches('/')))
        .filter(|p| p.is_file());
    let response = match file.and_then(|p| std::fs::read(p).ok()) {
        Some(body) => {
            let mut r = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .into_bytes();
            r.extend_from_slice(&body);
            r
        }
        None => {
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
        }
    };
    stream.write_all(&response)?;
    stream.flush()
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn status_of(log: &Value, leaf_hash: &str) -> Option<String> {
    log["entries"]
        .as_array()?
        .iter()
        .find(|e| e["leaf_hash"] == leaf_hash)
        .and_then(|e| e["status"].as_str().map(str::to_owned))
}

/// `dyad audit --url URL`, with the read credential `access` if given.
fn audit_url(env: &Env, url: &str, keys: &Path, access: Option<&Path>) -> std::process::Output {
    let mut command = env.dyad();
    if let Some(access) = access {
        command
            .arg("--json")
            .arg("audit")
            .arg("--access")
            .arg(access);
    } else {
        command.args(["--json", "audit"]);
    }
    command
        .args(["--url", url, "--trust"])
        .arg(keys.join("alpha.pub"))
        .arg("--trust")
        .arg(keys.join("bravo.pub"))
        .timeout(COMMAND_TIMEOUT)
        .output()
        .expect("dyad audit --url")
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_owned());
            }
        }
    }
    out.sort();
    out
}

/// What one command printed, its exit code and the files it wrote (`--out`,
/// `--save-attachments`): each relative path and its bytes.
#[derive(Debug, PartialEq)]
struct ReadOutput {
    args: Vec<&'static str>,
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
    written: Option<Vec<(String, Vec<u8>)>>,
}

/// Every file under `path` (or `path` itself, a file), with its bytes, in path order.
fn written_files(path: &Path) -> Vec<(String, Vec<u8>)> {
    if path.is_file() {
        return vec![(String::new(), std::fs::read(path).unwrap())];
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(path).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        for (sub, bytes) in written_files(&entry.path()) {
            let path = if sub.is_empty() {
                name.clone()
            } else {
                format!("{name}/{sub}")
            };
            out.push((path, bytes));
        }
    }
    out.sort();
    out
}

/// `dyad receipt` (a receipt file and a receipt directory), `dyad prove`, `dyad checkpoint
/// --size`, `dyad show --save-attachments` and `dyad attachment get` on `data`, once each
/// of a few cases with 8 entries in the log, all committed, entry 7 with the attachment
/// `attachment` (with one refusal of each command), and what each printed and wrote. What
/// was written is taken away, for the next round.
fn read_cases(env: &Env, data: &Path, attachment: &str) -> Vec<ReadOutput> {
    let cases: [&[&'static str]; 14] = [
        &["receipt", "7"],
        &["--json", "receipt", "3", "--out", "FILE.tlog-proof"],
        &["receipt", "7", "--out", "DIR"],
        &["receipt", "99"],
        &["prove", "inclusion", "5"],
        &["--json", "prove", "inclusion", "2", "--size", "6"],
        &["--json", "prove", "inclusion", "99", "--size", "8"],
        &["prove", "consistency", "3", "8"],
        &["--json", "prove", "consistency", "99", "8"],
        &["checkpoint", "--size", "8"],
        &["--json", "checkpoint", "--size", "8"],
        &["checkpoint", "--size", "99"],
        &["--json", "show", "7", "--save-attachments", "DIR"],
        &["attachment", "get", "HASH", "--out", "FILE"],
    ];
    let out_path = |placeholder: &str| match placeholder {
        "FILE.tlog-proof" => Some(data.with_extension("tlog-proof")),
        "DIR" => Some(data.with_extension("written")),
        "FILE" => Some(data.with_extension("bin")),
        _ => None,
    };
    cases
        .iter()
        .map(|args| {
            let mut command = env.dyad();
            command.env("DYAD_DATA", data);
            let mut written = None;
            for arg in *args {
                match (out_path(arg), *arg) {
                    (Some(path), _) => {
                        command.arg(&path);
                        written = Some(path);
                    }
                    (None, "HASH") => {
                        command.arg(attachment);
                    }
                    (None, arg) => {
                        command.arg(arg);
                    }
                }
            }
            let out = command.timeout(COMMAND_TIMEOUT).output().unwrap();
            let written = written.map(|path| {
                let files = written_files(&path);
                if path.is_dir() {
                    std::fs::remove_dir_all(&path).unwrap();
                } else {
                    std::fs::remove_file(&path).unwrap();
                }
                files
            });
            ReadOutput {
                args: args.to_vec(),
                code: out.status.code(),
                stdout: out.stdout,
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                written,
            }
        })
        .collect()
}

#[test]
fn demo_dirs_served_live_append_commits_on_both_audit_and_export() {
    let env = Env::new();
    let demo = env.path("demo");
    let out = env
        .dyad()
        .args(["--json", "demo", "--dir"])
        .arg(&demo)
        .args(["--messages", "2"])
        .timeout(Duration::from_secs(60))
        .output()
        .expect("dyad demo");
    assert!(
        out.status.success(),
        "demo failed: {}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out.stdout);
    assert_eq!(v["verdict"], "ok");
    assert_eq!(v["live"], true);
    assert_eq!(v["entries"], 7, "genesis, 4 scripted, 2 more");
    let (alpha, bravo, keys) = (demo.join("alpha"), demo.join("bravo"), demo.join("keys"));

    // The two data directories served as they are: bravo first, on a free port picked by
    // binding and releasing; alpha on an ephemeral port, with bravo's URL.
    let bravo_port = free_port();
    let bravo_url = format!("https://127.0.0.1:{bravo_port}");
    let alpha_node = Node::start(&alpha, "127.0.0.1:0", &bravo_url);
    let bravo_node = Node::start(&bravo, &format!("127.0.0.1:{bravo_port}"), &alpha_node.url);
    assert_eq!(bravo_node.url, bravo_url);
    // --peer is saved in dyad.json.
    let config = json(&std::fs::read(bravo.join("dyad.json")).unwrap());
    assert_eq!(config["peer_url"], alpha_node.url.as_str());

    // bravo's message goes through bravo's node to the sequencer, with an attachment of
    // several chunks, which alpha's node fetches before it takes the message.
    let beacons: Vec<u8> = (0..20_000u32)
        .flat_map(|i| format!("{i:05} beacon 203.0.113.9\n").into_bytes())
        .collect();
    let beacons_hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&beacons));
    std::fs::write(env.path("beacons.log"), &beacons).unwrap();
    let appended = env.stdout_json(
        env.dyad()
            .env("DYAD_DATA", &bravo)
            .args([
                "--json",
                "append",
                "--kind",
                "inquiry",
                "--subject",
                "Live: beacons from 203.0.113.9?",
                "--attach",
                "beacons.log",
                "-",
            ])
            .write_stdin("Is 203.0.113.9 part of your exercise?\n")
            .timeout(COMMAND_TIMEOUT),
    );
    assert!(
        appended["via_node"].is_string(),
        "not through the node: {appended}"
    );
    let leaf_hash = appended["leaf_hash"].as_str().unwrap().to_owned();
    assert!(
        ["queued", "pending", "committed"].contains(&appended["status"].as_str().unwrap()),
        "{appended}"
    );

    // Until committed on both (bounded): `dyad log` reads through each node.
    let deadline = Instant::now() + Duration::from_secs(20);
    let (la, lb) = loop {
        let (la, lb) = (log_json(&env, &alpha), log_json(&env, &bravo));
        let done = status_of(&la, &leaf_hash).as_deref() == Some("committed")
            && status_of(&lb, &leaf_hash).as_deref() == Some("committed");
        if done {
            break (la, lb);
        }
        assert!(
            Instant::now() < deadline,
            "not committed on both within 20 s:\nalpha {la}\nbravo {lb}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(la["size"], 8);
    assert_eq!(lb["size"], 8);
    assert_eq!(la["committed_size"], 8);
    assert_eq!(lb["committed_size"], 8);
    assert_eq!(la["entries"][7]["index"], 7);
    assert_eq!(la["entries"][7]["sender"], "cert.bravo.example");

    // `dyad status` reads through the node too; commands that need the store say why not.
    let st = env.stdout_json(
        env.dyad()
            .env("DYAD_DATA", &bravo)
            .args(["--json", "status"])
            .timeout(COMMAND_TIMEOUT),
    );
    assert_eq!(st["state"], "serving");
    assert_eq!(st["committed_size"], 8);
    assert_eq!(st["node"]["url"], bravo_node.url.as_str());
    // `show` and `checkpoint` read through the node while it holds the store: kept to compare with the
    // same commands offline, once the nodes are stopped.
    let show = |data: &Path, args: &[&str]| {
        let out = env
            .dyad()
            .env("DYAD_DATA", data)
            .args(args)
            .timeout(COMMAND_TIMEOUT)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "show {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let show_cases: [&[&str]; 6] = [
        &["show", "1"],
        &["show", "2", "--raw"],
        &["--json", "show", "7"],
        &["show", "0"],
        &["checkpoint"],
        &["--json", "checkpoint"],
    ];
    let shown_live: Vec<Vec<u8>> = [&alpha, &bravo]
        .into_iter()
        .flat_map(|d| show_cases.iter().map(move |a| (d, *a)))
        .map(|(d, a)| show(d, a))
        .collect();

    // Receipts, proofs and older checkpoints through the node's admin API: kept to compare
    // with the same commands offline, refusals included.
    let read_live: Vec<ReadOutput> = [&alpha, &bravo]
        .into_iter()
        .flat_map(|d| read_cases(&env, d, &beacons_hash))
        .collect();
    let receipt_99 = read_live
        .iter()
        .find(|r| r.args == ["receipt", "99"])
        .unwrap();
    assert_eq!(receipt_99.code, Some(2), "{receipt_99:?}");
    assert!(
        receipt_99
            .stderr
            .contains("there is no entry 99: the log has 8 entries"),
        "{receipt_99:?}"
    );
    for r in read_live.iter().filter(|r| !r.args.contains(&"99")) {
        assert_eq!(r.code, Some(0), "through the node: {r:?}");
    }
    // Both replicas hold the attachment; the receipt directory, the saved attachments and
    // `attachment get` give its bytes.
    let copies: Vec<&Vec<u8>> = read_live
        .iter()
        .filter(|r| r.args.contains(&"DIR") || r.args.contains(&"HASH"))
        .flat_map(|r| r.written.iter().flatten())
        .filter(|(name, _)| ["", "beacons.log", "attachments/beacons.log"].contains(&name.as_str()))
        .map(|(_, bytes)| bytes)
        .collect();
    assert_eq!(copies.len(), 2 * 3, "receipt dir, saved, got; on both");
    assert!(copies.iter().all(|c| **c == beacons));

    // Both nodes audit over the tiles API, for the holder of a read credential only.
    for (data, url) in [(&alpha, &alpha_node.url), (&bravo, &bravo_node.url)] {
        let out = audit_url(&env, url, &keys, None);
        assert_eq!(
            out.status.code(),
            Some(2),
            "no credential: {}",
            stdout(&out)
        );
        // The node's certificate is its own: without the credential's pin, no connection.
        let refused = json(&out.stdout);
        assert!(
            refused["error"].as_str().unwrap().contains("certificate")
                && refused["hint"].as_str().unwrap().contains("--access"),
            "{refused}"
        );
        let credential = data.with_extension("cred");
        env.dyad()
            .env("DYAD_DATA", data)
            .args(["access", "grant", "--name", "auditor", "--out"])
            .arg(&credential)
            .timeout(COMMAND_TIMEOUT)
            .assert()
            .success();
        let out = audit_url(&env, url, &keys, Some(&credential));
        assert_eq!(
            out.status.code(),
            Some(0),
            "audit of {url}: {}{}",
            stdout(&out),
            String::from_utf8_lossy(&out.stderr)
        );
        let v = json(&out.stdout);
        assert_eq!(v["verdict"], "pass");
        assert_eq!(v["entries"], 8);
        assert_eq!(v["committed_size"], 8);
    }

    // Export while the node holds the store: mirrored from its tiles API.
    let mirrored = env.path("tiles-mirrored");
    let exported = env.stdout_json(
        env.dyad()
            .env("DYAD_DATA", &alpha)
            .args(["--json", "export", "tiles", "--out"])
            .arg(&mirrored)
            .timeout(COMMAND_TIMEOUT),
    );
    assert_eq!(exported["size"], 8);

    // Graceful stops (SIGTERM): exit 0, the stores closed.
    assert!(bravo_node.stop(), "bravo's node did not stop gracefully");
    assert!(alpha_node.stop(), "alpha's node did not stop gracefully");
    assert!(!alpha.join("admin.sock").exists());
    assert!(!alpha.join("node.url").exists());
    let shown_offline: Vec<Vec<u8>> = [&alpha, &bravo]
        .into_iter()
        .flat_map(|d| show_cases.iter().map(move |a| (d, *a)))
        .map(|(d, a)| show(d, a))
        .collect();
    assert_eq!(
        shown_live, shown_offline,
        "show through the node and offline differ"
    );
    let read_offline: Vec<ReadOutput> = [&alpha, &bravo]
        .into_iter()
        .flat_map(|d| read_cases(&env, d, &beacons_hash))
        .collect();
    for (live, offline) in read_live.iter().zip(&read_offline) {
        assert_eq!(
            live,
            offline,
            "through the node and offline differ; standard output:\n{}\n---\n{}",
            String::from_utf8_lossy(&live.stdout),
            String::from_utf8_lossy(&offline.stdout)
        );
    }
    assert_eq!(read_live.len(), read_offline.len());

    // Export from the store: the exact tlog-tiles layout, the same bytes as the mirror,
    // and entry 7's attachment under attachment/<sha256 hex> (the mirror copies tiles only).
    let tiles = env.path("tiles");
    env.dyad()
        .env("DYAD_DATA", &alpha)
        .args(["export", "tiles", "--out"])
        .arg(&tiles)
        .timeout(COMMAND_TIMEOUT)
        .assert()
        .success();
    let files = files_under(&tiles);
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let attachment = format!("attachment/{beacons_hash}");
    assert_eq!(
        names,
        [
            &attachment,
            "checkpoint",
            "tile/0/000.p/8",
            "tile/entries/000.p/8"
        ],
        "{names:?}"
    );
    assert_eq!(std::fs::read(tiles.join(&attachment)).unwrap(), beacons);
    let files: Vec<PathBuf> = files
        .into_iter()
        .filter(|f| !f.starts_with("attachment"))
        .collect();
    assert_eq!(files, files_under(&mirrored));
    for f in &files {
        assert_eq!(
            std::fs::read(tiles.join(f)).unwrap(),
            std::fs::read(mirrored.join(f)).unwrap(),
            "{}",
            f.display()
        );
    }

    // Served by a plain static web server: the export carries its attachment, so the full
    // audit passes; without it, the audit names entry 7's attachment as missing; with
    // --skip-attachments it passes, and says the attachments were not checked.
    let server = StaticServer::start(&tiles);
    let out = audit_url(&env, &server.url, &keys, None);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let held = std::fs::read(tiles.join(&attachment)).unwrap();
    std::fs::remove_file(tiles.join(&attachment)).unwrap();
    let out = audit_url(&env, &server.url, &keys, None);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let v = json(&out.stdout);
    assert_eq!(
        (v["entry"].as_u64(), v["attachment"]["problem"].as_str()),
        (Some(7), Some("missing")),
        "{v}"
    );
    let out = env
        .dyad()
        .args([
            "--json",
            "audit",
            "--skip-attachments",
            "--url",
            &server.url,
        ])
        .arg("--trust")
        .arg(keys.join("alpha.pub"))
        .arg("--trust")
        .arg(keys.join("bravo.pub"))
        .timeout(COMMAND_TIMEOUT)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&out.stdout)["attachments"]["checked"], false);
    std::fs::write(tiles.join(&attachment), &held).unwrap();

    // Tampered: one byte of the last entry changed.
    let tampered = env.path("tiles-tampered");
    copy_dir(&tiles, &tampered);
    let bundle = tampered.join("tile/entries/000.p/8");
    let mut bytes = std::fs::read(&bundle).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&bundle, &bytes).unwrap();
    let server_t = StaticServer::start(&tampered);
    let out = audit_url(&env, &server_t.url, &keys, None);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert_eq!(json(&out.stdout)["verdict"], "fail");
    // Named as the sequential audit names it: entry 7, its signature.
    assert_eq!(json(&out.stdout)["entry"], 7, "{}", stdout(&out));

    // Truncated: the entry bundle cut short (it no longer holds 8 entries).
    let truncated = env.path("tiles-truncated");
    copy_dir(&tiles, &truncated);
    let tile = truncated.join("tile/entries/000.p/8");
    let bytes = std::fs::read(&tile).unwrap();
    std::fs::write(&tile, &bytes[..bytes.len() - 5]).unwrap();
    let server_c = StaticServer::start(&truncated);
    let out = audit_url(&env, &server_c.url, &keys, None);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));

    // A hash tile that does not match the entries (readers would get bad proofs).
    let bad_tile = env.path("tiles-bad-hash-tile");
    copy_dir(&tiles, &bad_tile);
    let tile = bad_tile.join("tile/0/000.p/8");
    let mut bytes = std::fs::read(&tile).unwrap();
    bytes[40] ^= 0x80;
    std::fs::write(&tile, &bytes).unwrap();
    let server_h = StaticServer::start(&bad_tile);
    let out = audit_url(&env, &server_h.url, &keys, None);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        json(&out.stdout)["error"]
            .as_str()
            .unwrap()
            .contains("hash 1 of tile 0/0"),
        "{}",
        stdout(&out)
    );

    // Nothing served there: unreadable input, exit 2.
    let out = audit_url(
        &env,
        &format!("http://127.0.0.1:{}", free_port()),
        &keys,
        None,
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn append_falls_back_when_the_registered_node_is_gone() {
    let env = Env::new();
    let demo = env.path("demo");
    env.dyad()
        .args(["--json", "demo", "--messages", "0", "--dir"])
        .arg(&demo)
        .timeout(Duration::from_secs(60))
        .assert()
        .success();
    let alpha = demo.join("alpha");
    // The node ran during the demo (its token is there); pretend it crashed, leaving its
    // admin socket behind, and an admin.url (as older versions wrote) naming a loopback
    // port another local user has since taken: a squatter that records what it is sent.
    assert!(alpha.join("admin.token").is_file());
    let token = std::fs::read_to_string(alpha.join("admin.token")).unwrap();
    drop(std::os::unix::net::UnixListener::bind(alpha.join("admin.sock")).unwrap());
    let squatter = TcpListener::bind("127.0.0.1:0").unwrap();
    let squatter_addr = squatter.local_addr().unwrap();
    let (seen_tx, seen_rx) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        for conn in squatter.incoming() {
            let Ok(mut conn) = conn else { break };
            let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = vec![0u8; 65536];
            let n = std::io::Read::read(&mut conn, &mut buf).unwrap_or(0);
            buf.truncate(n);
            let _ = conn.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 71\r\n\r\n{\"state\":\"committed\",\"index\":7,\"leaf_hash\":\"00\",\"promise\":null,\"x\":\"\"}",
            );
            let _ = seen_tx.send(buf);
        }
    });
    std::fs::write(alpha.join("admin.url"), format!("http://{squatter_addr}\n")).unwrap();
    // Private, as every file of the data directory must be (else the CLI refuses it).
    std::fs::set_permissions(
        alpha.join("admin.url"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let out = env
        .dyad()
        .env("DYAD_DATA", &alpha)
        .args(["append", "--kind", "notification", "--subject", "offline"])
        .timeout(COMMAND_TIMEOUT)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not answer"), "{err}");
    assert!(stdout(&out).contains("pending"), "{}", stdout(&out));
    // The squatter got nothing: no connection, so neither the token nor the message.
    if let Ok(seen) = seen_rx.recv_timeout(Duration::from_millis(300)) {
        panic!(
            "the CLI connected to the squatter (token sent: {}): {}",
            String::from_utf8_lossy(&seen).contains(token.trim()),
            String::from_utf8_lossy(&seen)
        );
    }

    // `dyad serve` refuses a second node on a data directory that has one running.
    let node = Node::start_alone(&alpha, "127.0.0.1:0", "https://127.0.0.1:9");
    let out = env
        .dyad()
        .env("DYAD_DATA", &alpha)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .timeout(COMMAND_TIMEOUT)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already serves"));
    // Attachments go through the node: the CLI stores the file beside it, the node
    // appends the entry naming it.
    std::fs::write(env.path("plan.txt"), "plan").unwrap();
    let out = env
        .dyad()
        .env("DYAD_DATA", &alpha)
        .args(["append", "--kind", "notification", "--attach"])
        .arg(env.path("plan.txt"))
        .timeout(COMMAND_TIMEOUT)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).contains("pending"), "{}", stdout(&out));
    let stored = alpha
        .join("attachments")
        .join(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"plan")));
    assert_eq!(std::fs::read(&stored).unwrap(), b"plan");
    // A message refused for its form (a subject with a bidirectional-formatting
    // character) is refused before its attachment is stored, as without a node.
    std::fs::write(env.path("refused.txt"), "refused").unwrap();
    let out = env
        .dyad()
        .env("DYAD_DATA", &alpha)
        .args([
            "append",
            "--kind",
            "notification",
            "--subject",
            "a\u{202e}b",
        ])
        .arg("--attach")
        .arg(env.path("refused.txt"))
        .timeout(COMMAND_TIMEOUT)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the subject must be at most 1024 bytes"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let refused =
        alpha
            .join("attachments")
            .join(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
                b"refused",
            )));
    assert!(!refused.exists(), "stored for a refused message");
    assert!(node.stop());
}

#[test]
fn a_data_directory_others_can_reach_is_refused_with_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let set = |p: &Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    };
    let env = Env::new();
    let demo = env.path("demo");
    env.dyad()
        .args(["--json", "demo", "--messages", "0", "--dir"])
        .arg(&demo)
        .timeout(Duration::from_secs(60))
        .assert()
        .success();
    // `dyad init` (which the demo runs) makes the directories 0700 and their files 0600;
    // the demo's nodes stopped gracefully, which removes their admin sockets.
    for party in ["alpha", "bravo"] {
        let data = demo.join(party);
        assert!(!data.join("admin.sock").exists(), "{party}");
        assert_eq!(mode(&data), 0o700, "{party}");
        for entry in std::fs::read_dir(&data).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                assert_eq!(mode(&entry.path()), 0o600, "{}", entry.path().display());
            }
        }
    }
    let alpha = demo.join("alpha");
    let status = || {
        env.dyad()
            .env("DYAD_DATA", &alpha)
            .args(["status"])
            .timeout(COMMAND_TIMEOUT)
            .output()
            .unwrap()
    };
    assert!(status().status.success());
    set(&alpha, 0o755);
    let out = status();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("chmod 700 {}", alpha.display())),
        "{err}"
    );
    // `dyad serve` refuses it too, before it starts anything.
    let out = env
        .dyad()
        .env("DYAD_DATA", &alpha)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .timeout(COMMAND_TIMEOUT)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("chmod 700"));
    assert!(!alpha.join("admin.sock").exists());
    set(&alpha, 0o700);
    let config = alpha.join("dyad.json");
    set(&config, 0o644);
    let out = status();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("chmod 600 {}", config.display())),
        "{err}"
    );
    set(&config, 0o600);
    assert!(status().status.success());

    // `dyad init` does not take over an existing directory others can reach.
    let charlie = env.path("charlie");
    std::fs::create_dir(&charlie).unwrap();
    set(&charlie, 0o755);
    let keys = demo.join("keys");
    let out = env
        .dyad()
        .arg("--data")
        .arg(&charlie)
        .args([
            "init",
            "--origin",
            "example.org/x",
            "--role",
            "sequencer",
            "--key",
        ])
        .arg(keys.join("alpha.key"))
        .arg("--peer")
        .arg(keys.join("bravo.pub"))
        .timeout(COMMAND_TIMEOUT)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("chmod 700 {}", charlie.display())),
        "{err}"
    );
    assert!(!charlie.join("dyad.json").exists());
}
