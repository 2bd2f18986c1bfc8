//! A commit that fails once writing began (a full disk) poisons the store: the node stops
//! itself, its shutdown is bounded and reports the failure (so `dyad serve` exits
//! non-zero) even when closing the store hangs (sled's flush on the full disk).
//!
//! The sequencer's data directory is on a small tmpfs; mounting needs root
//! (CAP_SYS_ADMIN): where `mount` fails the test says so and passes without checking.

mod node_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use dyad_node::NodeError;
use node_support::*;

struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).ok()?;
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_failed_commit_stops_the_node_and_its_shutdown_is_bounded_and_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let Some(tmpfs) = Tmpfs::mount(&dir.path().join("alpha"), "2m") else {
        eprintln!("SKIPPED: cannot mount a tmpfs here (needs root)");
        return;
    };
    create_channel(dir.path());
    runtime().block_on(async {
        let seq = dyad_node::start(config(dir.path(), "alpha", alpha()))
            .await
            .unwrap();
        let admin = admin(&seq);
        let payload = STANDARD.encode(vec![b'x'; 32 * 1024]);
        let mut acknowledged = 0;
        let mut refused = false;
        for i in 0..200 {
            let mut req = request(&format!("fill-{i}"), "accepted");
            req.payload = payload.clone();
            match admin.append(&req).await {
                Ok((200, _)) => acknowledged += 1,
                _ => {
                    refused = true;
                    break;
                }
            }
        }
        assert!(refused, "the 2 MiB disk filled up");
        eprintln!("{acknowledged} appends acknowledged before the disk was full");
        // The node stops itself...
        let why = tokio::time::timeout(Duration::from_secs(10), seq.failed())
            .await
            .expect("the node stops itself once its store is poisoned");
        eprintln!("stopped itself: {why}");
        // ... and its shutdown is bounded and reports the failure.
        let started = tokio::time::Instant::now();
        let stopped = tokio::time::timeout(Duration::from_secs(30), seq.shutdown())
            .await
            .expect("the shutdown is bounded");
        eprintln!("shutdown took {:?}", started.elapsed());
        assert!(
            matches!(stopped, Err(NodeError::StoreFailed(_))),
            "the shutdown reports the failure: {stopped:?}"
        );
    });
    // (sled's close may still hang in this process, holding the store's lock: reopening
    // it is for the next process, as after `dyad serve` exits.)
    drop(tmpfs);
}
