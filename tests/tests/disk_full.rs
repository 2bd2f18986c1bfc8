//! A real full disk (ENOSPC) under a running sequencer, with the real `dyad` binary.
//!
//! alpha's data directory (from `dyad demo --messages 0`) is moved onto a small tmpfs
//! (`mount -t tmpfs -o size=2m`), served by `dyad serve` with no co-signer running, and
//! filled with ~32 KiB messages through the admin API until appends fail. Then:
//!
//! - a failing append is answered (bounded), never acknowledged as durable;
//! - every append acknowledged before (200 with an index) is in the store afterwards, at
//!   its index with its leaf hash, both in a copy taken off the full disk and in place;
//! - the store opens (`dyad status`) and its root recomputes (`dyad audit --data`);
//! - once space is freed (the tmpfs remounted larger) the node starts again and appends.
//!
//! Mounting needs root (CAP_SYS_ADMIN): where `mount` fails the test says so and passes
//! without checking anything.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{base64_decode, dyad, hex, http, Node};

const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// A tmpfs mounted for the test, unmounted on drop (lazily, so a straggler cannot block it).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        ok.then(|| Tmpfs(dir.to_owned()))
    }

    fn resize(&self, size: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "remount {} with size {size}", self.0.display());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
            std::fs::set_permissions(&target, entry.metadata().unwrap().permissions()).unwrap();
        }
    }
}

/// Appends one ~32 KiB message; the status and the answer (None: no answer in time).
fn append(node: &Node, token: &str, subject: &str) -> Option<(u16, Value)> {
    // 32769 zero bytes: 43692 base64 characters, no padding.
    let body = json!({
        "kind": "notification",
        "subject": subject,
        "content_type": "application/octet-stream",
        "payload": "A".repeat(43692),
        "wait": "accepted",
        "timeout_ms": 3000,
    });
    let (status, b) = http(
        "POST",
        &format!("{}/admin/append", node.admin_url),
        Some(token),
        body.to_string().as_bytes(),
        Duration::from_secs(15),
    )
    .ok()?;
    Some((
        status,
        serde_json::from_slice(&b)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&b).into())),
    ))
}

/// The store's (size, root) and its entries' leaf hashes (hex), read with the node stopped;
/// checks that it opens and that `dyad audit --data` passes.
fn check_store(dir: &Path, data: &Path, keys: &Path, what: &str) -> (u64, Vec<String>) {
    let st = dyad(dir, &["--json", "status"], Some(data), COMMAND_TIMEOUT);
    assert_eq!(
        st.code,
        Some(0),
        "{what}: the store does not open: {}",
        st.stderr
    );
    let audit = dyad(
        dir,
        &[
            "--json",
            "audit",
            "--trust",
            keys.join("alpha.pub").to_str().unwrap(),
            "--trust",
            keys.join("bravo.pub").to_str().unwrap(),
        ],
        Some(data),
        COMMAND_TIMEOUT,
    );
    assert_eq!(
        audit.code,
        Some(0),
        "{what}: dyad audit --data: {}{}",
        audit.stdout,
        audit.stderr
    );
    let log = dyad(dir, &["--json", "log"], Some(data), COMMAND_TIMEOUT);
    assert_eq!(log.code, Some(0), "{what}: dyad log: {}", log.stderr);
    let log = log.json();
    let hashes = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| hex(&base64_decode(e["leaf_hash"].as_str().unwrap()).unwrap()))
        .collect();
    (st.json()["size"].as_u64().unwrap(), hashes)
}

#[test]
fn a_full_disk_refuses_appends_loses_nothing_acknowledged_and_recovers() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let Some(disk) = Tmpfs::mount(&dir.join("disk"), "2m") else {
        println!("disk_full: SKIPPED: cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN)");
        return;
    };
    let demo = dir.join("demo");
    let out = dyad(
        dir,
        &[
            "--json",
            "demo",
            "--dir",
            demo.to_str().unwrap(),
            "--messages",
            "0",
        ],
        None,
        COMMAND_TIMEOUT,
    );
    assert_eq!(out.code, Some(0), "dyad demo: {}{}", out.stdout, out.stderr);
    let keys = demo.join("keys");
    let data = disk.0.join("alpha");
    copy_dir(&demo.join("alpha"), &data);
    let token = std::fs::read_to_string(data.join("admin.token"))
        .unwrap()
        .trim()
        .to_owned();
    let log = dir.join("alpha.log");
    // No co-signer: appends are acknowledged once durable in the log (pending).
    let peer = format!("http://127.0.0.1:{}", support::free_port());
    let node = Node::start(&data, "127.0.0.1:0", &peer, &log).expect("dyad serve");

    let mut acked: Vec<(u64, String)> = Vec::new();
    let mut refused: Vec<String> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    for n in 0..400 {
        if refused.len() >= 5 || Instant::now() > deadline {
            break;
        }
        match append(&node, &token, &format!("fill #{n}")) {
            Some((200, v)) => {
                let index = v["index"].as_u64().expect("index");
                let hash = v["leaf_hash"].as_str().expect("leaf_hash").to_owned();
                acked.push((index, hash));
            }
            Some((status, v)) => refused.push(format!("{status} {v}")),
            None => refused.push("no answer (connection refused, reset or timed out)".into()),
        }
    }
    println!(
        "disk_full: {} appends acknowledged, then refused: {refused:?}",
        acked.len()
    );
    assert!(
        !refused.is_empty(),
        "the disk never filled up: {} appends acknowledged",
        acked.len()
    );
    assert!(
        !acked.is_empty(),
        "nothing was acknowledged before the disk filled up"
    );
    // What the node said about it (the co-signer is absent on purpose: those lines are left
    // out).
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    let said: Vec<&str> = log_text
        .lines()
        .filter(|l| !l.contains("co-signing failed") && !l.contains("node started"))
        .take(6)
        .collect();
    println!("disk_full: the node logged:\n{}", said.join("\n"));
    // SIGKILL: a full disk must not depend on a graceful stop.
    node.kill9();

    let must_hold = |hashes: &[String], what: &str| {
        for (index, hash) in &acked {
            assert_eq!(
                hashes.get(*index as usize),
                Some(hash),
                "{what}: acknowledged entry {index} lost or changed"
            );
        }
    };
    // A copy taken off the full disk.
    let copy = dir.join("alpha-copy");
    copy_dir(&data, &copy);
    let (size, hashes) = check_store(dir, &copy, &keys, "the copy");
    must_hold(&hashes, "the copy");

    // In place, once space is freed: opens, audits, and the node appends again.
    disk.resize("16m");
    let (size_in_place, hashes) = check_store(dir, &data, &keys, "in place");
    assert_eq!(size_in_place, size);
    must_hold(&hashes, "in place");
    let node =
        Node::start(&data, "127.0.0.1:0", &peer, &log).expect("dyad serve after freeing space");
    // A few tries (bounded): any refusal on the way is printed, one 200 is required.
    let mut landed = None;
    for attempt in 0..3 {
        match append(
            &node,
            &token,
            &format!("after the disk was freed #{attempt}"),
        ) {
            Some((200, v)) => {
                landed = Some(v);
                break;
            }
            other => {
                println!("disk_full: append {attempt} after freeing space: {other:?}");
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    }
    let v = landed.expect("the node appends again once space is freed");
    assert_eq!(v["index"].as_u64(), Some(size), "{v}");
    assert!(node.stop(), "graceful stop");
    let (size_after, hashes) = check_store(dir, &data, &keys, "after recovery");
    assert_eq!(size_after, size + 1);
    must_hold(&hashes, "after recovery");
    println!(
        "disk_full: acknowledged {} entries, all present after ENOSPC; losses 0; recovered at size {size_after}",
        acked.len()
    );
}
