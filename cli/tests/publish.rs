//! Publishing to object storage against real servers on loopback, each its own process
//! started here: an S3-compatible server (moto_server, `DYAD_S3_SERVER`) and nginx
//! (`DYAD_NGINX`), both installed by .ci/install-publish-tools.sh. Without them a test
//! says so and skips, unless DYAD_REQUIRE_EXTERNAL_TOOLS is set (CI): then it fails.
//!
//! - `dyad export tiles --to s3://…` killed with SIGKILL mid-way, run again, and the bucket
//!   audited over the server's path-style HTTP address; a missing tile and an altered
//!   byte fail the audit, a stale checkpoint is caught up by the next publish.
//! - nginx serving a `--out` export, and as a caching proxy in front of the S3 server.
//! - a hash-only mirror holds no entry bundle and no attachment.
//! - `dyad serve --publish s3://…` publishes the committed log, and after a SIGKILL and a
//!   restart publishes again what the bucket lost.
//! - the issue's test: a 100,000-entry log (grown in-process, `dyad_testkit::channel::grow`)
//!   published by `serve --publish` while both parties append, the publisher SIGKILLed in
//!   the middle of its first publish, restarted, and the bucket audited over HTTP.
//! - `dyad verify receipt --mirror` against hash-only mirrors served by nginx: consistency
//!   and inclusion from hash tiles alone; a stale mirror and an altered tile fail.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::node::Node;
use common::{external_program_or, free_port, json, stderr, stdout, Env};

const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
const BUCKET: &str = "dyad-test";

/// A child process killed on drop.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 request with `Connection: close`: the status and the body.
fn http(port: u16, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let (status, _, body) = http_with_head(port, method, path, body);
    (status, body)
}

/// [`http`], with the response's head (lowercase).
fn http_with_head(port: u16, method: &str, path: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").expect("head");
    let head = String::from_utf8_lossy(&out[..split]).to_ascii_lowercase();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let mut body = out[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    (status, head, body)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let n = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
        b = &b[eol + 2 + n + 2..];
    }
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// moto_server on a free loopback port, with the bucket made and open to anonymous reads
/// (a bucket policy: anyone may read; the test tampers with objects as anyone too).
fn start_s3(program: &Path) -> (Guard, u16) {
    let port = free_port();
    let child = Command::new(program)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the S3 server");
    let guard = Guard(child);
    wait_for_port(port);
    let (status, body) = http(port, "PUT", &format!("/{BUCKET}"), b"");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::{BUCKET}/*"}}]}}"#
    );
    let (status, body) = http(port, "PUT", &format!("/{BUCKET}?policy"), policy.as_bytes());
    assert!(status < 300, "{status} {}", String::from_utf8_lossy(&body));
    (guard, port)
}

/// `dyad` with the AWS environment pointing at the loopback S3 server.
fn dyad_s3(env: &Env, port: u16) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dyad"));
    c.current_dir(env.dir.path())
        .env_remove("DYAD_DATA")
        .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"))
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test");
    c
}

/// A two-party log of the offline demo with `messages` messages: alpha's data directory
/// and the keys.
fn demo_log(env: &Env, messages: u32) -> (PathBuf, PathBuf) {
    let out = env
        .dyad()
        .args(["--json", "demo", "--offline", "--dir", "demo", "--messages"])
        .arg(messages.to_string())
        .timeout(Duration::from_secs(600))
        .output()
        .expect("dyad demo");
    assert!(out.status.success(), "{}", stdout(&out));
    (env.path("demo/alpha"), env.path("demo/keys"))
}

fn audit(env: &Env, url: &str, keys: &Path) -> std::process::Output {
    env.dyad()
        .args(["--json", "audit", "--url", url, "--trust"])
        .arg(keys.join("alpha.pub"))
        .arg("--trust")
        .arg(keys.join("bravo.pub"))
        .timeout(COMMAND_TIMEOUT)
        .output()
        .expect("dyad audit --url")
}

fn publish(env: &Env, port: u16, data: &Path, to: &str, extra: &[&str]) -> serde_json::Value {
    let out = dyad_s3(env, port)
        .args(["--json", "--data"])
        .arg(data)
        .args(["export", "tiles", "--to", to])
        .args(extra)
        .output()
        .expect("dyad export tiles --to");
    assert!(
        out.status.success(),
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    json(&out.stdout)
}

#[test]
fn a_publish_killed_midway_resumes_and_the_bucket_audits_over_http() {
    let Some(s3) = external_program_or("DYAD_S3_SERVER", "moto_server", "--help") else {
        return;
    };
    let env = Env::new();
    let (alpha, keys) = demo_log(&env, MESSAGES);
    let (_server, port) = start_s3(&s3);
    let to = format!("s3://{BUCKET}/log");

    // Killed with SIGKILL while it writes (at most a few tries to land mid-way).
    let mut child = dyad_s3(&env, port)
        .arg("--data")
        .arg(&alpha)
        .args(["export", "tiles", "--to", &to])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(KILL_AFTER_MS));
    child.kill().unwrap();
    child.wait().unwrap();

    let started = Instant::now();
    let v = publish(&env, port, &alpha, &to, &[]);
    let size = v["size"].as_u64().unwrap();
    eprintln!(
        "published {size} entries (resumed from {}) in {:?}: {} objects written, {} kept",
        v["from"],
        started.elapsed(),
        v["objects_written"],
        v["objects_kept"]
    );
    // Again: nothing new, only the partial tiles and the checkpoint.
    let again = publish(&env, port, &alpha, &to, &[]);
    assert_eq!(again["from"].as_u64(), Some(size), "{again}");
    assert!(again["objects_written"].as_u64().unwrap() <= 4, "{again}");

    let url = format!("http://127.0.0.1:{port}/{BUCKET}/log");
    let out = audit(&env, &url, &keys);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    // The headers: a short-lived checkpoint and partial tile.
    let (status, head, _) = http_with_head(port, "GET", &format!("/{BUCKET}/log/checkpoint"), b"");
    assert_eq!(status, 200);
    assert!(head.contains("cache-control: public, max-age=5"), "{head}");
    assert!(head.contains("content-type: text/plain"), "{head}");

    // A missing tile fails the audit, naming it.
    let bundle = format!("tile/entries/000.p/{size}");
    let tile = format!("/{BUCKET}/log/{bundle}");
    let (_, head, bytes) = http_with_head(port, "GET", &tile, b"");
    assert!(
        head.contains("content-type: application/octet-stream"),
        "{head}"
    );
    assert!(bytes.len() > 100, "a bundle: {} bytes", bytes.len());
    http(port, "DELETE", &tile, b"");
    let out = audit(&env, &url, &keys);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains(&bundle), "{}", stdout(&out));
    // An altered byte fails it too.
    let mut altered = bytes.clone();
    let last = altered.len() - 1;
    altered[last] ^= 1;
    http(port, "PUT", &tile, &altered);
    let out = audit(&env, &url, &keys);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    // Put it back; an altered (or stale) checkpoint fails the audit and the next publish
    // replaces it.
    http(port, "PUT", &tile, &bytes);
    let (_, note) = http(port, "GET", &format!("/{BUCKET}/log/checkpoint"), b"");
    let stale = String::from_utf8_lossy(&note).replacen(&format!("\n{size}\n"), "\n1\n", 1);
    http(
        port,
        "PUT",
        &format!("/{BUCKET}/log/checkpoint"),
        stale.as_bytes(),
    );
    let out = audit(&env, &url, &keys);
    assert_ne!(
        out.status.code(),
        Some(0),
        "an altered checkpoint: {}",
        stdout(&out)
    );
    let v = publish(&env, port, &alpha, &to, &[]);
    assert_eq!(v["from"].as_u64(), Some(1), "{v}");
    let out = audit(&env, &url, &keys);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    // Through nginx as a caching proxy in front of the S3 server.
    if let Some(nginx) = external_program_or("DYAD_NGINX", "nginx", "-v") {
        let proxy = Nginx::start(
            &nginx,
            &env.path("nginx-proxy"),
            &format!(
                "proxy_cache_path {{dir}}/cache keys_zone=tiles:1m;\n\
                 server {{ listen 127.0.0.1:{{port}}; location / {{\n\
                 proxy_pass http://127.0.0.1:{port}/{BUCKET}/log/; proxy_cache tiles;\n\
                 proxy_cache_valid 200 1m; }} }}"
            ),
        );
        let out = audit(&env, &proxy.url(), &keys);
        assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    }
}

#[test]
fn nginx_serves_an_export_with_its_attachments_and_a_hash_only_mirror_holds_no_content() {
    let Some(nginx) = external_program_or("DYAD_NGINX", "nginx", "-v") else {
        return;
    };
    let env = Env::new();
    let (alpha, keys) = demo_log(&env, 3);
    let export = env.path("export");
    env.dyad()
        .arg("--data")
        .arg(&alpha)
        .args(["export", "tiles", "--out"])
        .arg(&export)
        .timeout(COMMAND_TIMEOUT)
        .assert()
        .success();
    let web = Nginx::start(
        &nginx,
        &env.path("nginx-static"),
        &format!(
            "server {{ listen 127.0.0.1:{{port}}; root {}; }}",
            export.display()
        ),
    );
    // Without --skip-attachments: the export carries them.
    let out = audit(&env, &web.url(), &keys);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    // The hash-only mirror, through the same code path to a directory.
    let mirror = env.path("mirror");
    let v = env.stdout_json(
        env.dyad()
            .args(["--json", "--data"])
            .arg(&alpha)
            .args(["export", "tiles", "--hash-only", "--to"])
            .arg(format!("file://{}", mirror.display())),
    );
    assert_eq!(v["hash_only"], true);
    assert!(mirror.join("checkpoint").is_file());
    assert!(mirror.join("tile/0").is_dir());
    assert!(!mirror.join("tile/entries").exists(), "no entry bundle");
    assert!(!mirror.join("attachment").exists(), "no attachment");
    // Its checkpoint is the co-signed one: `dyad verify checkpoint` checks it offline.
    // (Proofs from a mirror's hash tiles: a_receipt_verifies_against_a_hash_only_mirror.)
    env.dyad()
        .args(["verify", "checkpoint"])
        .arg(mirror.join("checkpoint"))
        .arg("--trust")
        .arg(keys.join("alpha.pub"))
        .arg("--trust")
        .arg(keys.join("bravo.pub"))
        .timeout(COMMAND_TIMEOUT)
        .assert()
        .success();
}

#[test]
fn serve_publish_keeps_the_bucket_current_and_survives_a_kill() {
    let Some(s3) = external_program_or("DYAD_S3_SERVER", "moto_server", "--help") else {
        return;
    };
    let env = Env::new();
    let (alpha, keys) = demo_log(&env, 4);
    let (_server, port) = start_s3(&s3);
    let endpoint = format!("http://127.0.0.1:{port}");
    let aws = [
        ("RUST_LOG", "error"),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ALLOW_HTTP", "true"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    let to = format!("s3://{BUCKET}/served");
    let args = [
        "--listen",
        "127.0.0.1:0",
        "--peer",
        "https://127.0.0.1:9",
        "--no-peer-check",
        "--publish",
        to.as_str(),
    ];
    let checkpoint = format!("/{BUCKET}/served/checkpoint");
    let published = || http(port, "GET", &checkpoint, b"").0 == 200;
    let wait_published = || {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !published() {
            assert!(Instant::now() < deadline, "nothing published to {to}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    // Started, it publishes the committed log; killed (SIGKILL on drop) and started
    // again, it resumes from what the bucket holds.
    let node = Node::start_capturing(&alpha, &args, &aws);
    wait_published();
    drop(node);
    http(port, "DELETE", &checkpoint, b"");
    assert!(!published());
    let _node = Node::start_capturing(&alpha, &args, &aws);
    wait_published();
    let url = format!("http://127.0.0.1:{port}/{BUCKET}/served");
    let out = audit(&env, &url, &keys);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

/// The issue's test: a log of [`BIG_LOG`] entries published by `dyad serve --publish`
/// while the channel goes on appending (both parties: the co-signer's queued messages
/// and the sequencer's `dyad append`s), the publisher killed with SIGKILL in the middle
/// of its first publish and started again, then the bucket audited over the S3 server's
/// HTTP address. While it catches up, every checkpoint the bucket shows has its tiles
/// in place (the checkpoint is written last); at the end every tile of the final tree is
/// there, full tiles at every 256-entry boundary included.
#[test]
fn serve_publishes_a_big_log_while_appending_and_survives_a_kill_midway() {
    let Some(s3) = external_program_or("DYAD_S3_SERVER", "moto_server", "--help") else {
        return;
    };
    let started = Instant::now();
    let env = Env::new();
    big_channel(&env, BIG_LOG, QUEUED);
    eprintln!(
        "made a channel of {} committed entries in {:?}",
        BIG_LOG + 1,
        started.elapsed()
    );
    let (_server, port) = start_s3(&s3);
    let bucket = Bucket {
        port,
        prefix: format!("/{BUCKET}/big"),
    };
    let (alpha, bravo) = (env.path("alpha"), env.path("bravo"));
    let alpha_listen = format!("127.0.0.1:{}", free_port());
    let bravo_port = free_port();
    let bravo_url = format!("https://127.0.0.1:{bravo_port}");
    let to = format!("s3://{BUCKET}/big");
    let endpoint = format!("http://127.0.0.1:{port}");
    let aws = [
        ("RUST_LOG", "error"),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ALLOW_HTTP", "true"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    let args = [
        "--listen",
        alpha_listen.as_str(),
        "--peer",
        bravo_url.as_str(),
        "--publish",
        to.as_str(),
    ];
    let publisher = Node::start_capturing(&alpha, &args, &aws);
    let _cosigner = Node::start(&bravo, &format!("127.0.0.1:{bravo_port}"), &publisher.url);
    let appender = Appender::start(&env);

    // SIGKILL once the first publish is well under way: some of its full entry bundles
    // written, its checkpoint not yet.
    let first_publish = Instant::now();
    let kill_at = dyad_ledger::wire::tiles::Tile::entries(BIG_LOG / 256 / 3, 256).path();
    wait_until(
        Duration::from_secs(120),
        "the first publish to get under way",
        || bucket.has(&kill_at),
    );
    let paused = appender.pause();
    drop(publisher);
    let killed_after = first_publish.elapsed();
    assert!(
        !bucket.has("checkpoint"),
        "the publisher finished its first publish before it was killed: kill it earlier"
    );
    // A full bundle written before the kill is kept, not written again: its
    // Last-Modified (whole seconds) stays as it was a second before the restart.
    let first_bundle = dyad_ledger::wire::tiles::Tile::entries(0, 256).path();
    let written = bucket.last_modified(&first_bundle);
    std::thread::sleep(Duration::from_millis(1100));
    let publisher = Node::start_capturing(&alpha, &args, &aws);
    drop(paused);
    eprintln!("killed the publisher {killed_after:?} into its first publish; started again");

    // While appends go on, each checkpoint the bucket shows has its edge tiles.
    let mut sizes_seen = Vec::new();
    wait_until(
        Duration::from_secs(180),
        "a checkpoint after the big log",
        || {
            if let Some(size) = bucket.checkpoint_size() {
                if sizes_seen.last() != Some(&size) {
                    bucket.assert_edge_tiles(size);
                    sizes_seen.push(size);
                }
            }
            sizes_seen.len() >= 3 && appender.appended() >= MIN_APPENDS
        },
    );
    let appended = appender.stop();

    // Once the channel is quiet: all of it committed and published, nothing failed.
    let status = wait_for_status(&env, &alpha, |st| {
        let n = |k: &str| st[k].as_u64().unwrap_or(0);
        let p = &st["node"]["publish"];
        n("size") == n("committed_size")
            && n("size") == BIG_LOG + 1 + QUEUED + appended
            && p["published_size"].as_u64() == Some(n("size"))
    });
    let size = status["size"].as_u64().unwrap();
    let publish = &status["node"]["publish"];
    assert_eq!(publish["lag"], 0, "{status}");
    assert_eq!(publish["errors"], 0, "{status}");
    assert_eq!(bucket.checkpoint_size(), Some(size));
    eprintln!(
        "published {size} entries ({appended} appended by alpha, {QUEUED} queued by bravo) \
         in {:?} from the first start; checkpoints seen after the restart: {sizes_seen:?}",
        first_publish.elapsed()
    );

    for tile in dyad_ledger::wire::tiles::tiles_of_tree(size) {
        assert!(bucket.has(&tile.path()), "{} is missing", tile.path());
    }
    assert_eq!(
        bucket.last_modified(&first_bundle),
        written,
        "{first_bundle} was written again after the restart"
    );
    let audited = Instant::now();
    let url = format!("http://127.0.0.1:{port}/{BUCKET}/big");
    let out = audit(&env, &url, &env.path("keys"));
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let report = json(&out.stdout);
    assert_eq!(report["entries"].as_u64(), Some(size), "{report}");
    eprintln!(
        "audited the bucket in {:?}; the whole test took {:?}",
        audited.elapsed(),
        started.elapsed()
    );
    drop(publisher);
}

/// A channel made by the three offline init steps, grown in-process to `entries`
/// committed entries after its genesis (both replicas), with `queued` of bravo's messages
/// queued in its replica for its node to submit when it starts.
fn big_channel(env: &Env, entries: u64, queued: u64) {
    env.channel();
    grow_channel(env, entries, queued);
}

/// Grows the channel of [`Env::channel`] by `entries` committed entries (no node may run
/// on it), and queues `queued` of bravo's messages.
fn grow_channel(env: &Env, entries: u64, queued: u64) {
    use dyad_ledger::channel::Channel;
    use dyad_ledger::keys::SignerKey;
    let key = |name: &str| {
        SignerKey::read_private_file(&env.path(&format!("keys/{name}.key"))).expect("a key")
    };
    let (alpha_key, bravo_key) = (key("alpha"), key("bravo"));
    let mut seq = Channel::open(&env.path("alpha/ledger")).expect("alpha's replica");
    let mut cos = Channel::open(&env.path("bravo/ledger")).expect("bravo's replica");
    let now = dyad_ledger::clock::now_ms();
    dyad_testkit::channel::grow(
        &mut seq,
        &mut cos,
        [&alpha_key, &bravo_key],
        entries,
        10_000,
        now,
    );
    let first = seq.size();
    let drafts = (0..queued)
        .map(|i| dyad_testkit::channel::message(first + i))
        .collect();
    cos.queue_own_batch(&bravo_key, drafts, now)
        .expect("bravo queues");
    seq.keep_replica_record(&env.path("alpha"))
        .expect("alpha's replica.head");
    cos.keep_replica_record(&env.path("bravo"))
        .expect("bravo's replica.head");
}

/// A published copy in the bucket, read over the S3 server's HTTP address.
struct Bucket {
    port: u16,
    prefix: String,
}

impl Bucket {
    fn has(&self, path: &str) -> bool {
        http(self.port, "HEAD", &format!("{}/{path}", self.prefix), b"").0 == 200
    }

    /// The object's Last-Modified header.
    fn last_modified(&self, path: &str) -> String {
        let (status, head, _) =
            http_with_head(self.port, "HEAD", &format!("{}/{path}", self.prefix), b"");
        assert_eq!(status, 200, "{path}: {head}");
        let line = head.lines().find(|l| l.starts_with("last-modified:"));
        line.unwrap_or_else(|| panic!("{path}: no Last-Modified: {head}"))
            .to_owned()
    }

    fn checkpoint_size(&self) -> Option<u64> {
        let (status, note) = http(
            self.port,
            "GET",
            &format!("{}/checkpoint", self.prefix),
            b"",
        );
        let note = String::from_utf8(note).ok().filter(|_| status == 200)?;
        note.lines().nth(1)?.parse().ok()
    }

    /// The last tile of every level of the tree of `size` leaves, and its last full
    /// entry bundle: a checkpoint published before them would name missing objects.
    fn assert_edge_tiles(&self, size: u64) {
        let mut last = std::collections::BTreeMap::new();
        for tile in dyad_ledger::wire::tiles::tiles_of_tree(size) {
            let path = tile.path();
            let level = path.split('/').nth(1).unwrap_or_default().to_owned();
            if tile.is_full() && level == "entries" {
                last.insert("entries-full".to_owned(), path.clone());
            }
            last.insert(level, path);
        }
        for path in last.values() {
            assert!(
                self.has(path),
                "the bucket shows a checkpoint of {size} entries without {path}"
            );
        }
    }
}

/// `dyad append` on alpha's data directory (through its node) in a loop on its own
/// thread, until stopped; [`Appender::pause`] holds it between two appends.
struct Appender {
    gate: std::sync::Arc<std::sync::Mutex<()>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Appender {
    fn start(env: &Env) -> Appender {
        use std::sync::atomic::Ordering;
        let gate = std::sync::Arc::new(std::sync::Mutex::new(()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let count = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let dir = env.dir.path().to_owned();
        let (g, s, c) = (gate.clone(), stop.clone(), count.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let _held = g.lock().unwrap_or_else(|e| e.into_inner());
                let n = c.load(Ordering::Relaxed);
                let out = Command::new(env!("CARGO_BIN_EXE_dyad"))
                    .current_dir(&dir)
                    .env("DYAD_DATA", dir.join("alpha"))
                    .args(["append", "--kind", "notification", "--subject"])
                    .arg(format!("appended while publishing {n}"))
                    .args(["--wait", "accepted", "-"])
                    .stdin(Stdio::null())
                    .output()
                    .expect("dyad append");
                assert!(
                    out.status.success(),
                    "dyad append: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                c.fetch_add(1, Ordering::Relaxed);
            }
        });
        Appender {
            gate,
            stop,
            count,
            thread: Some(thread),
        }
    }

    fn pause(&self) -> std::sync::MutexGuard<'_, ()> {
        self.gate.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn appended(&self) -> u64 {
        self.count.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Stops after the append under way; how many there were.
    fn stop(mut self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().expect("the appender thread");
        }
        self.appended()
    }
}

/// Polls `done` every 50 ms until it holds; fails after `limit`, naming `what`.
fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `dyad status --json` of the node on `data`, polled until `done` holds (bounded).
fn wait_for_status(
    env: &Env,
    data: &Path,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let st = env.stdout_json(env.dyad().env("DYAD_DATA", data).args(["--json", "status"]));
        if done(&st) {
            return st;
        }
        assert!(
            Instant::now() < deadline,
            "the channel did not settle: {st}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A hash-only mirror, served by nginx, lets `dyad verify receipt --mirror` check that
/// the receipt's checkpoint is consistent with the mirror's later one and that the
/// receipt's entry is included in it, from hash tiles alone; a stale mirror and an
/// altered hash tile fail.
#[test]
fn a_receipt_verifies_against_a_hash_only_mirror() {
    let Some(nginx) = external_program_or("DYAD_NGINX", "nginx", "-v") else {
        return;
    };
    let env = Env::new();
    env.channel();
    let mirror = |name: &str| {
        let dir = env.path(&format!("mirrors/{name}"));
        env.at("alpha")
            .args(["export", "tiles", "--hash-only", "--to"])
            .arg(format!("file://{}", dir.display()))
            .timeout(COMMAND_TIMEOUT)
            .assert()
            .success();
        assert!(!dir.join("tile/entries").exists(), "no entry bundle");
        dir
    };
    let receipt = |index: u64, name: &str| {
        let file = env.path(name);
        env.at("alpha")
            .args(["receipt", &index.to_string(), "--out"])
            .arg(&file)
            .timeout(COMMAND_TIMEOUT)
            .assert()
            .success();
        file
    };
    // Over a tile boundary (256), then once more: full and partial tiles at each size.
    grow_channel(&env, 300, 0);
    let early = receipt(5, "early.tlog-proof");
    mirror("early");
    grow_channel(&env, 300, 0);
    let late = receipt(400, "late.tlog-proof");
    let current = mirror("current");
    let web = Nginx::start(
        &nginx,
        &env.path("nginx-mirrors"),
        &format!(
            "server {{ listen 127.0.0.1:{{port}}; root {}; }}",
            env.path("mirrors").display()
        ),
    );
    let verify = |receipt: &Path, name: &str| {
        env.dyad()
            .args(["--json", "verify", "receipt"])
            .arg(receipt)
            .args(env.trust())
            .args(["--mirror", &format!("{}/{name}", web.url())])
            .timeout(COMMAND_TIMEOUT)
            .output()
            .expect("dyad verify receipt --mirror")
    };
    let out = verify(&early, "current");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = json(&out.stdout);
    assert_eq!(v["checkpoint"]["size"], 301, "{v}");
    assert_eq!(v["mirror"]["checkpoint"]["size"], 601, "{v}");
    assert_eq!(v["mirror"]["included"], true, "{v}");
    // Stale: the mirror's checkpoint is older than the receipt's.
    let out = verify(&late, "early");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("the copy is stale"),
        "{}",
        stdout(&out)
    );
    // An altered hash (the sibling of entry 5's leaf) fails the proofs from the tiles.
    let tile = current.join("tile/0/000");
    let mut bytes = std::fs::read(&tile).unwrap();
    bytes[4 * 32] ^= 1;
    std::fs::write(&tile, &bytes).unwrap();
    let out = verify(&early, "current");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("by its hash tiles"),
        "{}",
        stdout(&out)
    );
    // The late receipt (entry 400: tile 0/001) still verifies against it.
    let out = verify(&late, "current");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// nginx as an unprivileged process with its own prefix, config and free port.
struct Nginx {
    _guard: Guard,
    port: u16,
}

impl Nginx {
    /// `server` is the `http` block's body, with `{port}` and `{dir}` filled in.
    fn start(program: &Path, dir: &Path, server: &str) -> Nginx {
        std::fs::create_dir_all(dir.join("logs")).unwrap();
        let port = free_port();
        let server = server
            .replace("{port}", &port.to_string())
            .replace("{dir}", &dir.display().to_string());
        // Run as root (a CI container), nginx's workers would switch to `nobody`, who cannot
        // read the test's private temporary directories: keep them root.
        let user = if is_root() { "user root;\n" } else { "" };
        let conf = format!(
            "{user}pid {d}/nginx.pid; error_log {d}/logs/error.log;\n\
             events {{}}\n\
             http {{ access_log off; client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
             {server} }}\n",
            d = dir.display()
        );
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        let child = Command::new(program)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        let guard = Guard(child);
        wait_for_port(port);
        Nginx {
            _guard: guard,
            port,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
    })
}

/// The kill test's log: the offline demo's messages. The demo makes about one message a
/// second in a debug build, so a larger log (full tiles, a publish long enough to be
/// killed in the middle of) is for a release-build run.
const MESSAGES: u32 = 20;
/// When the first publisher is killed: while it starts or writes.
const KILL_AFTER_MS: u64 = 150;
/// The big log's entries after the genesis, as the issue asks.
const BIG_LOG: u64 = 100_000;
/// Bravo's messages queued before its node starts: it submits them while alpha publishes.
const QUEUED: u64 = 2_000;
/// Alpha's `dyad append`s at the least, while it publishes.
const MIN_APPENDS: u64 = 10;
