//! `dyad-bench` at the smoke scale: a structure check, not a timing assertion. Every key
//! the targets name is in the JSON object and is a positive number, the machine is
//! described, `--plots` writes two SVG documents with their data drawn, `--from` prints the
//! table of a saved run, and `--dir` refuses a directory that already holds something.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;

const REQUIRED: &[&str] = &[
    "append_signed_batch1000_per_s",
    "append_signed_batch1_per_s",
    "cosigned_committed_per_s",
    "cosign_p99_ms",
    "inclusion_proofs_per_s",
    "inclusion_proofs_again_per_s",
    "consistency_proofs_per_s",
    "verify_inclusion_per_s",
    "verify_receipt_per_s",
    "audit_entries_per_s",
    "audit_peak_rss_mb",
    "open_ms",
    "disk_bytes_per_entry",
    "entries",
    "ceiling_sig_verify_batch_per_s",
    "ceiling_sled_batch_fsync_per_s",
    "ceiling_node_hash_per_s",
    "ctmerkle_inclusion_proofs_per_s",
    "rsmerkle_inclusion_proofs_per_s",
];

/// Figures beyond the required ones that the bench promises: the other batch sizes,
/// percentiles, the other verifications, and the ratios to ceilings and peers.
const ALSO: &[&str] = &[
    "publish_file_entries_per_s",
    "publish_file_objects_per_s",
    "publish_file_again_ms",
    "publish_catchup_ms",
    "append_signed_batch10_per_s",
    "append_signed_batch100_per_s",
    "append_batch1_p99_ms",
    "cosign_p50_ms",
    "inclusion_proof_p50_us",
    "inclusion_proof_p99_us",
    "consistency_proof_p99_us",
    "verify_consistency_per_s",
    "verify_checkpoint_per_s",
    "ceiling_sig_verify_single_per_s",
    "ceiling_sig_verify_keyed_per_s",
    "ratio_sig_verify_keyed_to_single",
    "ceiling_sled_batch1_fsync_per_s",
    "ctmerkle_consistency_proofs_per_s",
    "ratio_append_batch1000_to_sled_batch1000",
    "ratio_inclusion_proofs_to_ctmerkle",
    "ratio_inclusion_proofs_again_to_ctmerkle",
    "ratio_inclusion_proofs_to_rsmerkle",
    "ratio_verify_inclusion_to_hash_ceiling",
    "ratio_verify_receipt_to_sig_ceiling",
    "ratio_audit_to_sig_ceiling",
    "audit_url_entries_per_s",
    "audit_url_peak_rss_mb",
    "ratio_audit_url_to_local",
    "ratio_disk_to_entry_bytes",
    "node_saturation_cpu_us_per_entry",
    "node_saturation_cores_busy",
    "cores",
    "load_average_start",
    "load_average_end",
];

/// The `dyad` binary whose `dyad audit` the bench runs: `DYAD_BIN` if set; otherwise
/// `cargo build -p dyad-cli --bin dyad` is run once, with the Cargo and the profile that
/// run these tests and into their target directory (a no-op when it is fresh; Cargo tells
/// only the tests of the package that owns a binary where it is), and the `dyad` beside
/// `dyad-bench` is used.
fn dyad_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("DYAD_BIN") {
            return PathBuf::from(bin);
        }
        let profile_dir = Path::new(env!("CARGO_BIN_EXE_dyad-bench"))
            .parent()
            .expect("dyad-bench lives in target/<profile>");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = std::process::Command::new(cargo);
        build
            .args(["build", "--quiet", "-p", "dyad-cli", "--bin", "dyad"])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        // The profile of these tests: `test` (in target/debug) or, with --release, `release`.
        if profile_dir.ends_with("release") {
            build.arg("--release");
        } else {
            build.args(["--profile", "test"]);
        }
        if let Some(target) = profile_dir.parent() {
            build.env("CARGO_TARGET_DIR", target);
        }
        let status = build.status().expect("run cargo build -p dyad-cli");
        assert!(status.success(), "cargo build -p dyad-cli: {status}");
        profile_dir.join(format!("dyad{}", std::env::consts::EXE_SUFFIX))
    })
}

/// The `dyad-bench` binary, with a time limit.
fn dyad_bench() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dyad-bench"));
    c.timeout(Duration::from_secs(240));
    c
}

#[test]
fn smoke_json_has_every_figure_and_the_plots_are_svg() {
    let plots = tempfile::tempdir().unwrap();
    let out = dyad_bench()
        .arg("--dyad")
        .arg(dyad_bin())
        .args(["--scale", "smoke", "--json", "--plots"])
        .arg(plots.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dyad-bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("one JSON object on stdout");
    for key in REQUIRED.iter().chain(ALSO) {
        let n = v.get(key).and_then(Value::as_f64);
        assert!(
            n.is_some_and(|n| n > 0.0 && n.is_finite()),
            "{key} should be a positive number, got {:?}",
            v.get(key)
        );
    }
    // The smoke log: 4000 entries, and every stage measured the store it built.
    assert_eq!(v["entries"], 4000.0);
    assert_eq!(v["scale"], "smoke");
    assert_eq!(v["dyad_version"], env!("CARGO_PKG_VERSION"));
    assert!(v["cpu_model"].as_str().is_some_and(|m| !m.is_empty()));
    let targets = v["targets"]
        .as_array()
        .expect("the targets, with met or missed");
    assert!(targets.len() >= 12, "{targets:?}");
    assert!(targets.iter().all(|t| t["met"].is_boolean()));

    for (name, caption) in [
        ("throughput-vs-batch.svg", "Durable appends vs batch size"),
        ("latency-vs-load.svg", "submit-to-committed latency"),
    ] {
        let svg = std::fs::read_to_string(plots.path().join(name)).unwrap();
        assert!(svg.starts_with("<svg"), "{name} is not an SVG document");
        assert!(svg.trim_end().ends_with("</svg>"), "{name} is cut short");
        assert!(svg.contains(caption), "{name} lacks its caption");
        assert!(svg.contains("<polyline"), "{name} has no data line");
        assert_eq!(
            svg.matches("<svg").count(),
            svg.matches("</svg>").count(),
            "{name}"
        );
    }

    // The saved JSON gives the table back without measuring anything.
    let saved = plots.path().join("run.json");
    std::fs::write(&saved, &out.stdout).unwrap();
    // With DYAD_BIN set, as CI sets it: a binary to audit with is no reason to refuse.
    let table = dyad_bench()
        .arg("--from")
        .arg(&saved)
        .env("DYAD_BIN", dyad_bin())
        .output()
        .unwrap();
    assert!(
        table.status.success(),
        "dyad-bench --from failed: {}",
        String::from_utf8_lossy(&table.stderr)
    );
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.contains("(scale smoke): 4,000 entries"), "{table}");
    assert!(table.contains("\nTargets\n"), "{table}");
    let bad = dyad_bench()
        .arg("--from")
        .arg(plots.path().join("throughput-vs-batch.svg"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn dir_must_be_new_or_empty() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("precious"), b"keep me").unwrap();
    let out = dyad_bench()
        .arg("--dyad")
        .arg(dyad_bin())
        .args(["--scale", "smoke", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    assert_eq!(
        std::fs::read(dir.path().join("precious")).unwrap(),
        b"keep me"
    );
}
