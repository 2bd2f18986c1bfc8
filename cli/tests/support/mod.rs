//! Helpers for the crash and disk-full harnesses: locating the real `dyad`
//! binary, running it with bounded waits, `dyad serve` processes killed on drop, a minimal
//! HTTP/1.1 client for the admin API (std only), the testkit's seeded PRNG, and base64.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The `dyad` binary: `DYAD_BIN` if set, otherwise the one Cargo built for these tests
/// (`CARGO_BIN_EXE_dyad`: these harnesses live in the package that owns it, so it is
/// fresh and built once). It is copied at once to
/// `target/<profile>/dyad-tests-bin/<hash of this workspace's path>/dyad`: a target
/// directory shared with other checkouts gets its binaries replaced by their builds, and a
/// node restarted mid-test must run the same binary as at the start.
pub fn dyad_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("DYAD_BIN") {
            return PathBuf::from(bin);
        }
        let bin = PathBuf::from(env!("CARGO_BIN_EXE_dyad"));
        assert!(bin.is_file(), "no dyad binary at {}", bin.display());
        let profile_dir = bin
            .parent()
            .expect("the binary lives in target/<profile>")
            .to_owned();
        // A private copy (written under a temporary name, then renamed into place).
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in env!("CARGO_MANIFEST_DIR").bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        let private_dir = profile_dir.join("dyad-tests-bin").join(format!("{h:016x}"));
        std::fs::create_dir_all(&private_dir).expect("dyad-tests-bin");
        let tmp = private_dir.join(format!(".dyad.{}", std::process::id()));
        let private = private_dir.join(bin.file_name().expect("file name"));
        std::fs::copy(&bin, &tmp).expect("copy the dyad binary");
        std::fs::rename(&tmp, &private).expect("rename the dyad binary copy");
        private
    })
}

/// Runs `cmd` with inherited output, waiting at most `limit`; None if it was killed.
fn run_bounded(cmd: &mut Command, limit: Duration) -> Option<ExitStatus> {
    let mut child = cmd.stdin(Stdio::null()).spawn().ok()?;
    wait_bounded(&mut child, limit)
}

fn wait_bounded(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// What a `dyad` command printed, and how it exited (None: killed at the time limit).
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }
}

/// Runs `dyad ARGS` in `dir` (its output in files there, so no pipe can fill up), waiting at
/// most `limit`.
pub fn dyad(dir: &Path, args: &[&str], data: Option<&Path>, limit: Duration) -> Output {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let out_path = dir.join(format!(".cmd-{n}.out"));
    let err_path = dir.join(format!(".cmd-{n}.err"));
    let mut cmd = Command::new(dyad_bin());
    cmd.args(args)
        .current_dir(dir)
        .env_remove("DYAD_DATA")
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("stderr file"));
    if let Some(d) = data {
        cmd.env("DYAD_DATA", d);
    }
    let mut child = cmd.spawn().expect("spawn dyad");
    let status = wait_bounded(&mut child, limit);
    let out = Output {
        code: status.and_then(|s| s.code()),
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
    };
    let _ = std::fs::remove_file(out_path);
    let _ = std::fs::remove_file(err_path);
    out
}

/// A free loopback port (bound, then released).
/// How long one `dyad` command of a harness may take before it counts as hung.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `dyad demo --dir <dir>/demo --messages <messages>` (a genesis both parties signed,
/// their keys and data directories) and returns that directory; the harnesses start
/// their nodes from copies of it.
pub fn demo_channel(dir: &Path, messages: u32) -> PathBuf {
    let demo = dir.join("demo");
    let messages = messages.to_string();
    let out = dyad(
        dir,
        &[
            "--json",
            "demo",
            "--dir",
            demo.to_str().expect("a UTF-8 temp path"),
            "--messages",
            &messages,
        ],
        None,
        COMMAND_TIMEOUT,
    );
    assert_eq!(out.code, Some(0), "dyad demo: {}{}", out.stdout, out.stderr);
    demo
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A `dyad serve` process, SIGKILLed on drop.
pub struct Node {
    child: Option<Child>,
    pub url: String,
    /// The node's TCP admin listener (started with `--admin-listen 127.0.0.1:0`).
    pub admin_url: String,
    /// The bearer token the node wrote at this start (a new one at every start).
    pub admin_token: String,
}

impl Node {
    /// Starts `dyad --json serve` on `data`, its logs appended to `log`, and waits (bounded)
    /// for the line saying where it listens. Err if it exits or says nothing in time.
    pub fn start(data: &Path, listen: &str, peer: &str, log: &Path) -> Result<Node, String> {
        Node::start_with(data, &["--listen", listen, "--peer", peer], log)
    }

    /// [`Node::start`] for a node whose peer is not running: `--no-peer-check`, or it would
    /// sign nothing until the peer answers (spec/node.md section 10).
    pub fn start_alone(data: &Path, listen: &str, peer: &str, log: &Path) -> Result<Node, String> {
        let args = ["--listen", listen, "--peer", peer, "--no-peer-check"];
        Node::start_with(data, &args, log)
    }

    fn start_with(data: &Path, args: &[&str], log: &Path) -> Result<Node, String> {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| e.to_string())?;
        let mut child = Command::new(dyad_bin())
            .args(["--json", "serve"])
            .args(args)
            .args(["--admin-listen", "127.0.0.1:0"])
            .env("DYAD_DATA", data)
            .env(
                "RUST_LOG",
                std::env::var("DYAD_CRASH_LOG").unwrap_or("warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .map_err(|e| e.to_string())?;
        let out = child.stdout.take().expect("stdout");
        let mut node = Node {
            child: Some(child),
            url: String::new(),
            admin_url: String::new(),
            admin_token: String::new(),
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(out);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            // Keep draining so the node never blocks on a full pipe.
            let mut sink = Vec::new();
            let _ = reader.read_to_end(&mut sink);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .map_err(|_| "dyad serve did not say where it listens within 20 s".to_owned())?;
        let v: Value = serde_json::from_str(line.trim())
            .map_err(|e| format!("dyad serve printed {line:?}: {e}"))?;
        node.url = v["url"].as_str().ok_or("no url")?.to_owned();
        node.admin_url = v["admin_url"].as_str().ok_or("no admin_url")?.to_owned();
        node.admin_token = std::fs::read_to_string(data.join("admin.token"))
            .map_err(|e| format!("admin.token: {e}"))?
            .trim()
            .to_owned();
        Ok(node)
    }

    /// SIGKILL (std's `Child::kill`), reaped.
    pub fn kill9(mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM (if it still runs), then a bounded wait; its exit status, None if it had to
    /// be killed.
    pub fn stop_status(mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        wait_bounded(&mut child, Duration::from_secs(20))
    }

    /// SIGTERM, then a bounded wait for a graceful exit; whether it exited 0.
    pub fn stop(mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        matches!(wait_bounded(&mut child, Duration::from_secs(20)), Some(s) if s.success())
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

/// One HTTP/1.1 request (`Connection: close`), bounded by `limit` for connect, write and
/// each read. Returns the status and the body.
pub fn http(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: &[u8],
    limit: Duration,
) -> std::io::Result<(u16, Vec<u8>)> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| std::io::Error::other("not an http:// URL"))?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = host
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other("no address"))?;
    let mut stream = TcpStream::connect_timeout(&addr, limit)?;
    stream.set_read_timeout(Some(limit))?;
    stream.set_write_timeout(Some(limit))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if !body.is_empty() {
        req.push_str("Content-Type: application/json\r\n");
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes())?;
    stream.write_all(body)?;
    let mut resp = Vec::new();
    stream.read_to_end(&mut resp)?;
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of headers"))?;
    let head = String::from_utf8_lossy(&resp[..split]).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line: {head}")))?;
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return Err(std::io::Error::other("chunked response not supported"));
    }
    Ok((status, resp[split + 4..].to_vec()))
}

use dyad_testkit::rng::{Rng, RngExt};

/// The testkit's seeded PRNG (a run's seed replays its delays and victims).
pub fn rng(seed: u64) -> Rng {
    dyad_testkit::rng(seed)
}

/// Uniform in `[lo, hi)` (`lo` if the range is empty), to pick delays and victims
/// reproducibly from the run's seed.
pub fn range(rng: &mut Rng, lo: u64, hi: u64) -> u64 {
    if hi <= lo {
        lo
    } else {
        rng.random_range(lo..hi)
    }
}

/// Standard base64 (with padding) decoding; None if malformed.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

/// Lowercase hex, as dyad prints hashes.
pub fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// An environment variable as a number, or `default`.
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// Stores `bytes` in the attachment store of the data directory `data`, as `dyad append
/// --attach` does beside a running node (the store takes writers beside the node), and
/// returns how the admin API names it (`attachments` of `POST /admin/append`).
pub fn store_attachment(data: &Path, name: &str, bytes: &[u8]) -> Value {
    let store = dyad_ledger::attachments::Attachments::open(data, u64::MAX).expect("attachments");
    let sha256 = store.put(bytes).expect("attachment stored");
    serde_json::json!({
        "name": name,
        "content_type": "application/octet-stream",
        "sha256": hex(&sha256),
        "size": bytes.len(),
    })
}

/// Whether the data directory `data` holds an intact copy of the attachment `sha256_hex` of
/// `size` bytes.
pub fn holds_attachment(data: &Path, sha256_hex: &str, size: u64) -> bool {
    let Some(hash) = dyad_ledger::attachments::parse_hex(sha256_hex) else {
        return false;
    };
    let store = dyad_ledger::attachments::Attachments::open(data, u64::MAX).expect("attachments");
    store.holds(&hash, size).unwrap_or(false)
}
