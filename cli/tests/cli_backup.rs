//! `dyad backup` and `dyad restore`, and the commands that read the whole store through a
//! running node (`dyad audit --data`, `dyad sync export`): a backup taken under append
//! load restores to a replica that audits and holds the source's first entries byte for
//! byte; the reads through the node print what they print offline; and SIGKILL during a
//! backup or a restore never damages the source nor leaves a half-installed result.

mod common;

use dyad_testkit::files::copy_dir;
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::node::Node;
use common::{json, stderr, stdout, Env};
use dyad_ledger::store::Store;

const TIMEOUT: Duration = Duration::from_secs(120);

/// A channel with `n` committed messages on both sides and a few pending at alpha.
fn channel_with_messages(env: &Env, n: usize) {
    env.channel();
    for i in 0..n {
        env.append(
            "alpha",
            "notification",
            &format!("m{i}"),
            &"x".repeat(i * 13),
        );
    }
    env.sync_all();
    for i in 0..3 {
        env.append("alpha", "notification", &format!("pending {i}"), "p");
    }
}

fn dyad_at(data: &Path) -> StdCommand {
    let mut c = StdCommand::new(env!("CARGO_BIN_EXE_dyad"));
    c.env("DYAD_DATA", data).env_remove("RUST_LOG");
    c
}

fn run_ok(mut c: assert_cmd::Command) -> std::process::Output {
    let out = c.timeout(TIMEOUT).output().unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    out
}

fn leaves(store_dir: &Path, n: u64) -> Vec<Vec<u8>> {
    let store = Store::open(store_dir).unwrap();
    store.leaves(0..n).unwrap().map(|l| l.unwrap().1).collect()
}

fn verify_store(env: &Env, data: &Path) -> bool {
    env.dyad()
        .env("DYAD_DATA", data)
        .args(["verify", "store"])
        .timeout(TIMEOUT)
        .output()
        .unwrap()
        .status
        .success()
}

fn no_snapshot_leftovers(data: &Path) {
    let left: Vec<_> = std::fs::read_dir(data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "left in the data directory: {left:?}");
}

#[test]
fn a_backup_under_append_load_restores_to_a_replica_that_audits_and_holds_the_same_entries() {
    let env = Env::new();
    channel_with_messages(&env, 6);
    let alpha = env.path("alpha");
    let node = Node::start_alone(&alpha, "127.0.0.1:0", "https://127.0.0.1:9");
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (stop, alpha) = (stop.clone(), alpha.clone());
        std::thread::spawn(move || {
            let mut appended = 0;
            while !stop.load(Ordering::SeqCst) {
                let ok = dyad_at(&alpha)
                    .args(["append", "--kind", "notification", "--subject", "load", "-"])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .unwrap()
                    .success();
                appended += u64::from(ok);
            }
            appended
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let backup = env.path("backup");
    let out = run_ok({
        let mut c = env.at("alpha");
        c.args(["--json", "backup", "--out"]).arg(&backup);
        c
    });
    stop.store(true, Ordering::SeqCst);
    let appended = load.join().unwrap();
    let report = json(&out.stdout);
    assert_eq!(report["through_node"], true, "{report}");
    eprintln!("backup under load: {report}");
    let size = report["size"].as_u64().unwrap();
    assert!(node.stop());
    assert!(appended > 0, "the load appended nothing");
    no_snapshot_leftovers(&alpha);
    // Private: the directory 0700, every file 0600.
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&backup), 0o700);
    assert_eq!(mode(&backup.join("MANIFEST.json")), 0o600);
    assert_eq!(mode(&backup.join("dyad.json")), 0o600);
    assert!(!backup.join("admin.token").exists());
    assert!(!backup.join("admin.sock").exists());

    let fresh = env.path("fresh");
    let out = run_ok({
        let mut c = env.at("fresh");
        c.args(["restore", "--from"]).arg(&backup);
        c
    });
    assert!(
        stdout(&out).contains("reconciles with the peer"),
        "{}",
        stdout(&out)
    );
    let marker = std::fs::read_to_string(fresh.join("restored-from-backup")).unwrap();
    assert!(marker.trim_end().ends_with(&format!(" {size}")), "{marker}");
    let mut audit = env.at("fresh");
    audit.arg("audit").args(env.trust());
    run_ok(audit);
    let source = leaves(&alpha.join("ledger"), size);
    assert_eq!(leaves(&fresh.join("ledger"), size), source);
    // The source kept growing past the backup.
    let whole = Store::open(&alpha.join("ledger")).unwrap().size();
    assert!(whole > size, "the backup holds {size} of {whole}");
}

#[test]
fn audit_and_sync_export_through_a_running_node_print_what_they_print_offline() {
    let env = Env::new();
    channel_with_messages(&env, 4);
    let alpha = env.path("alpha");
    let export = env.path("export.dyad-sync");
    let audit_and_export = || {
        let mut audit = env.at("alpha");
        audit.arg("audit").args(env.trust());
        let mut audit_json = env.at("alpha");
        audit_json.args(["--json", "audit"]).args(env.trust());
        let mut sync = env.at("alpha");
        sync.args(["sync", "export", "--from", "0", "--out"])
            .arg(&export);
        let outs = [run_ok(audit), run_ok(audit_json), run_ok(sync)];
        let bundle = std::fs::read(&export).unwrap();
        std::fs::remove_file(&export).unwrap();
        (outs.map(|o| stdout(&o)), bundle)
    };
    let node = Node::start_alone(&alpha, "127.0.0.1:0", "https://127.0.0.1:9");
    let through_node = audit_and_export();
    no_snapshot_leftovers(&alpha);
    assert!(node.stop());
    let offline = audit_and_export();
    assert_eq!(through_node.0, offline.0);
    assert!(through_node.1 == offline.1, "the bundles differ");
    assert!(
        through_node.0[0].contains("alpha/ledger"),
        "{}",
        through_node.0[0]
    );
}

/// Runs `command` and SIGKILLs it after `after`; whether it had finished first.
fn kill_after(mut command: StdCommand, after: Duration) -> bool {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + after;
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    false
}

fn store_size(data: &Path) -> u64 {
    Store::open(&data.join("ledger")).unwrap().size()
}

#[test]
fn sigkill_during_a_backup_or_a_restore_never_damages_the_source_nor_half_installs() {
    let env = Env::new();
    channel_with_messages(&env, 40);
    let alpha = env.path("alpha");
    let source_size = store_size(&alpha);
    let good = env.path("good-backup");
    run_ok({
        let mut c = env.at("alpha");
        c.args(["backup", "--out"]).arg(&good);
        c
    });
    // Backups killed at growing moments: the source still verifies, and the backup
    // either restores whole or is refused.
    for (n, ms) in [5u64, 30, 60, 120].into_iter().enumerate() {
        let out = env.path(&format!("killed-backup-{n}"));
        let mut c = dyad_at(&alpha);
        c.args(["backup", "--out"]).arg(&out);
        let finished = kill_after(c, Duration::from_millis(ms));
        assert!(
            verify_store(&env, &alpha),
            "the source was damaged (kill at {ms} ms)"
        );
        let target = format!("from-killed-{n}");
        let restored = env
            .at(&target)
            .args(["restore", "--from"])
            .arg(&out)
            .timeout(TIMEOUT)
            .output()
            .unwrap();
        if finished {
            assert!(restored.status.success(), "{}", stderr(&restored));
        }
        if restored.status.success() {
            assert!(verify_store(&env, &env.path(&target)));
            assert_eq!(store_size(&env.path(&target)), source_size);
        } else {
            assert!(
                !env.path(&target).exists(),
                "a refused restore left {target}"
            );
        }
    }
    // Restores killed at growing moments over an older data directory: it is the old one
    // whole, the new one whole, or absent with the old one kept aside; the backup itself
    // is untouched and restores again.
    let mut killed = 0;
    for (n, ms) in [5u64, 30, 60, 120, 250].into_iter().enumerate() {
        let target = env.path(&format!("target-{n}"));
        copy_dir(&env.path("bravo"), &target);
        let bravo_size = store_size(&target);
        let mut c = dyad_at(&target);
        c.args(["restore", "--from"]).arg(&good);
        killed += u32::from(!kill_after(c, Duration::from_millis(ms)));
        let aside = aside_dirs(&target);
        if !target.exists() {
            assert_eq!(aside.len(), 1, "no data directory and nothing aside");
        } else if target.join("restored-from-backup").exists() {
            assert!(verify_store(&env, &target));
            assert_eq!(store_size(&target), source_size);
            assert!(target.join("dyad.json").is_file() && target.join("tls.key").is_file());
        } else {
            assert!(aside.is_empty());
            assert!(verify_store(&env, &target));
            assert_eq!(store_size(&target), bravo_size);
        }
        let again = format!("again-{n}");
        run_ok({
            let mut c = env.at(&again);
            c.args(["restore", "--from"]).arg(&good);
            c
        });
    }
    assert!(killed > 0, "every restore finished before its SIGKILL");
}

/// The directories a restore moved `data` aside to.
fn aside_dirs(data: &Path) -> Vec<PathBuf> {
    let name = data.file_name().unwrap().to_string_lossy().into_owned();
    std::fs::read_dir(data.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("{name}.before-restore-"))
        })
        .map(|e| e.path())
        .collect()
}

#[test]
fn a_backup_with_one_changed_byte_is_refused_and_nothing_is_touched() {
    let env = Env::new();
    channel_with_messages(&env, 2);
    let backup = env.path("backup");
    let mut take = env.at("alpha");
    take.args(["backup", "--out"]).arg(&backup);
    run_ok(take);
    let config = backup.join("dyad.json");
    let mut bytes = std::fs::read(&config).unwrap();
    bytes[0] ^= 0x20;
    std::fs::write(&config, bytes).unwrap();
    let alpha = env.path("alpha");
    let before = std::fs::read(alpha.join("dyad.json")).unwrap();
    let mut restore = env.at("alpha");
    restore.args(["restore", "--from"]).arg(&backup);
    let out = restore.timeout(TIMEOUT).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("dyad.json"), "{}", stderr(&out));
    assert_eq!(std::fs::read(alpha.join("dyad.json")).unwrap(), before);
    assert!(aside_dirs(&alpha).is_empty(), "nothing was moved aside");
    assert!(verify_store(&env, &alpha));
}
