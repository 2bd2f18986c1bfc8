//! Measurement 5: an audit of the whole log through the verifier,
//! `dyad audit --data LOG --trust alpha.pub --trust bravo.pub --json`, run as a child
//! process (the dyad binary given to the bench), so that its peak memory is its own and
//! not what the bench built before it.
//!
//! The time is the child's whole run (start, store open, every entry decoded and its
//! signature and channel rules checked, the tree recomputed, every co-signed checkpoint
//! checked). Peak memory is the child's VmHWM (the kernel's resident high-water mark),
//! read from /proc/PID/status while it runs; the last reading before it exits holds the
//! peak of its whole life, since VmHWM never decreases.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Stdio};

use std::time::{Duration, Instant};

use super::appends::Log;
use super::fixture::Parties;
use super::report::{per_s, Figures};
use super::{BenchError, BenchResult, Progress};

/// VmHWM of process `pid`, in kB, while it is alive.
fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

pub fn run(
    dyad: &Path,
    log: &Log,
    parties: &Parties,
    work: &Path,
    progress: &Progress,
    figures: &mut Figures,
) -> BenchResult<()> {
    let bar = progress.step(&format!("audit of {} entries (dyad audit)", log.entries));
    let source = [OsStr::new("--data"), log.store_dir.as_os_str()];
    let measured = audit_child(dyad, &source, log, parties, work, "audit");
    bar.finish_and_clear();
    let (elapsed, peak_mb) = measured?;
    figures.set("audit_entries_per_s", per_s(log.entries, elapsed));
    figures.set("audit_seconds", elapsed.as_secs_f64());
    figures.set("audit_peak_rss_mb", peak_mb);
    Ok(())
}

/// Runs `dyad audit SOURCE --trust alpha.pub --trust bravo.pub --json` to its end, checks
/// that it passed over the whole log, and returns how long it took and its peak resident
/// memory (MB). Its output goes to `WORK/NAME.json` and `WORK/NAME.stderr`.
pub(super) fn audit_child(
    dyad: &Path,
    source: &[&OsStr],
    log: &Log,
    parties: &Parties,
    work: &Path,
    name: &str,
) -> BenchResult<(Duration, f64)> {
    let [alpha, bravo] = parties.write_pub_files(work)?;
    // Files, not pipes: a pipe nobody reads while the child runs could fill and stall it.
    let out_path = work.join(format!("{name}.json"));
    let err_path = work.join(format!("{name}.stderr"));
    let create = |p: &Path| {
        std::fs::File::create(p).map_err(BenchError::io(format!("create {}", p.display())))
    };
    let (out_file, err_file) = (create(&out_path)?, create(&err_path)?);
    let start = Instant::now();
    let mut child = Command::new(dyad)
        .arg("audit")
        .args(source)
        .arg("--trust")
        .arg(&alpha)
        .arg("--trust")
        .arg(&bravo)
        .arg("--json")
        .stdin(Stdio::null())
        .stdout(out_file)
        .stderr(err_file)
        .spawn()
        .map_err(BenchError::io(format!("start {} audit", dyad.display())))?;
    let mut peak_kb = 0;
    let status = loop {
        if let Some(kb) = vm_hwm_kb(child.id()) {
            peak_kb = peak_kb.max(kb);
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(BenchError::io("wait for the audit")(e)),
        }
    };
    let elapsed = start.elapsed();
    let read = |p: &Path| std::fs::read(p).map_err(BenchError::io(format!("read {}", p.display())));
    if !status.success() {
        return Err(BenchError::AuditChild(format!(
            "it exited with {status}: {}",
            String::from_utf8_lossy(&read(&err_path)?).trim()
        )));
    }
    let report: serde_json::Value = serde_json::from_slice(&read(&out_path)?)
        .map_err(|e| BenchError::AuditChild(format!("unreadable report: {e}")))?;
    let entries = report.get("entries").and_then(serde_json::Value::as_u64);
    if report.get("verdict").and_then(serde_json::Value::as_str) != Some("pass")
        || entries != Some(log.entries)
    {
        return Err(BenchError::AuditChild(format!(
            "expected a pass over {} entries, got {report}",
            log.entries
        )));
    }
    if peak_kb == 0 {
        return Err(BenchError::AuditChild(
            "its peak memory could not be read from /proc".into(),
        ));
    }
    Ok((elapsed, peak_kb as f64 / 1024.0))
}
