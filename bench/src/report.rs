//! The figures of one run: collected by key, turned into ratios, targets and the machine
//! description, then printed as a table or as one JSON object (the keys the targets
//! name, plus the rest, so that runs can be compared over time).

use std::time::Duration;

use serde_json::{json, Map, Value};

use super::Scale;

/// Every figure of the run, by key, in the order measured.
pub struct Figures {
    values: Map<String, Value>,
}

impl Figures {
    pub fn new() -> Figures {
        Figures { values: Map::new() }
    }

    /// The figures of a saved `dyad-bench --json` run.
    pub fn from_json(value: Value) -> Option<Figures> {
        match value {
            Value::Object(mut values) => {
                values.remove("targets");
                Some(Figures { values })
            }
            _ => None,
        }
    }

    pub fn set(&mut self, key: &str, value: f64) {
        self.values.insert(key.to_owned(), json!(round(value)));
    }

    pub fn set_text(&mut self, key: &str, value: &str) {
        self.values.insert(key.to_owned(), json!(value));
    }

    pub fn get(&self, key: &str) -> Option<f64> {
        self.values.get(key).and_then(Value::as_f64)
    }

    pub fn text(&self, key: &str) -> Option<&str> {
        self.values.get(key).and_then(Value::as_str)
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.values.keys()
    }

    /// Sets `key` to `num / den` when both were measured.
    fn ratio(&mut self, key: &str, num: Option<f64>, den: Option<f64>) {
        if let (Some(n), Some(d)) = (num, den) {
            if d > 0.0 {
                self.set(key, n / d);
            }
        }
    }

    pub fn to_json(&self) -> Value {
        let mut out = self.values.clone();
        out.insert("targets".into(), Value::Array(targets_json(self)));
        Value::Object(out)
    }
}

/// Four significant digits: enough for noisy timings, and never a positive figure
/// rounded down to 0.
fn round(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let digits = 4 - 1 - v.abs().log10().floor() as i32;
    let scale = 10f64.powi(digits);
    (v * scale).round() / scale
}

/// Operations per second.
pub fn per_s(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// The value at percentile `p` (0..=100) of `sorted` (nearest rank).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Records `{prefix}p50_{unit}` and `{prefix}p99_{unit}` of `samples`.
pub fn set_percentiles(figures: &mut Figures, prefix: &str, unit: &str, samples: &mut [f64]) {
    samples.sort_by(f64::total_cmp);
    figures.set(&format!("{prefix}p50_{unit}"), percentile(samples, 50.0));
    figures.set(&format!("{prefix}p99_{unit}"), percentile(samples, 99.0));
}

fn read_proc(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The 1-minute load average, from /proc/loadavg.
pub fn load_average() -> Option<f64> {
    read_proc("/proc/loadavg")
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
}

/// CPU time this process has used on all its threads, user and system, in seconds, from
/// /proc/self/stat (fields 14 and 15, in USER_HZ ticks: 100 per second on Linux's x86 and
/// ARM ABIs). Ticks are 10 ms, so measure spans of seconds.
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = read_proc("/proc/self/stat");
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((user + system) as f64 / 100.0)
}

/// The machine and the run: cores, CPU model, load, scale, version.
pub fn machine(figures: &mut Figures, scale: Scale) {
    figures.set_text("dyad_version", env!("CARGO_PKG_VERSION"));
    figures.set_text("scale", scale.name());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    figures.set("cores", cores as f64);
    let cpuinfo = read_proc("/proc/cpuinfo");
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown", |(_, m)| m.trim());
    figures.set_text("cpu_model", model);
    let mem_kib = read_proc("/proc/meminfo")
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok());
    if let Some(kib) = mem_kib {
        figures.set("memory_gib", kib / f64::from(1 << 20));
    }
    if let Some(load) = load_average() {
        figures.set("load_average_start", load);
    }
}

/// Ratios to the ceilings and peers, and the load at the end.
pub fn finish(f: &mut Figures) {
    if let Some(load) = load_average() {
        f.set("load_average_end", load);
    }
    let g = |f: &Figures, k: &str| f.get(k);
    for b in [1, 10, 100, 1000] {
        f.ratio(
            &format!("ratio_append_batch{b}_to_sled_batch{b}"),
            g(f, &format!("append_signed_batch{b}_per_s")),
            g(f, &format!("ceiling_sled_batch{b}_fsync_per_s")),
        );
    }
    f.ratio(
        "ratio_append_batch1000_to_sig_verify_batch",
        g(f, "append_signed_batch1000_per_s"),
        g(f, "ceiling_sig_verify_batch_per_s"),
    );
    f.ratio(
        "ratio_append_batch1000_to_sig_verify_single",
        g(f, "append_signed_batch1000_per_s"),
        g(f, "ceiling_sig_verify_single_per_s"),
    );
    f.ratio(
        "ratio_sig_verify_keyed_to_single",
        g(f, "ceiling_sig_verify_keyed_per_s"),
        g(f, "ceiling_sig_verify_single_per_s"),
    );
    f.ratio(
        "ratio_cosigned_to_append_batch1000",
        g(f, "cosigned_committed_per_s"),
        g(f, "append_signed_batch1000_per_s"),
    );
    f.ratio(
        "ratio_cosigned_tls_to_plain_http",
        g(f, "cosigned_committed_per_s"),
        g(f, "cosigned_committed_per_s_plain_http"),
    );
    f.ratio(
        "ratio_inclusion_proofs_to_ctmerkle",
        g(f, "inclusion_proofs_per_s"),
        g(f, "ctmerkle_inclusion_proofs_per_s"),
    );
    f.ratio(
        "ratio_inclusion_proofs_again_to_ctmerkle",
        g(f, "inclusion_proofs_again_per_s"),
        g(f, "ctmerkle_inclusion_proofs_per_s"),
    );
    f.ratio(
        "ratio_inclusion_proofs_to_rsmerkle",
        g(f, "inclusion_proofs_per_s"),
        g(f, "rsmerkle_inclusion_proofs_per_s"),
    );
    f.ratio(
        "ratio_inclusion_proofs_to_dyad_memory_tree",
        g(f, "inclusion_proofs_per_s"),
        g(f, "memtree_inclusion_proofs_per_s"),
    );
    f.ratio(
        "ratio_consistency_proofs_to_ctmerkle",
        g(f, "consistency_proofs_per_s"),
        g(f, "ctmerkle_consistency_proofs_per_s"),
    );
    // Verifying an inclusion proof is one node hash per proof hash: that is its ceiling.
    f.ratio(
        "ceiling_verify_inclusion_per_s",
        g(f, "ceiling_node_hash_per_s"),
        g(f, "inclusion_proof_hashes"),
    );
    f.ratio(
        "ratio_verify_inclusion_to_hash_ceiling",
        g(f, "verify_inclusion_per_s"),
        g(f, "ceiling_verify_inclusion_per_s"),
    );
    // A receipt carries three Ed25519 signatures to check (log, co-signer, sender).
    if let Some(single) = g(f, "ceiling_sig_verify_single_per_s") {
        f.set("ceiling_verify_receipt_per_s", single / 3.0);
    }
    f.ratio(
        "ratio_verify_receipt_to_sig_ceiling",
        g(f, "verify_receipt_per_s"),
        g(f, "ceiling_verify_receipt_per_s"),
    );
    // An audit checks at least one signature per entry; with batch verification on every
    // core that bounds it at the batch rate times the cores.
    if let (Some(batch), Some(cores)) = (g(f, "ceiling_sig_verify_batch_per_s"), g(f, "cores")) {
        f.set("ceiling_audit_entries_per_s", batch * cores);
    }
    f.ratio(
        "ratio_audit_to_sig_ceiling",
        g(f, "audit_entries_per_s"),
        g(f, "ceiling_audit_entries_per_s"),
    );
    f.ratio(
        "ratio_audit_url_to_local",
        g(f, "audit_url_entries_per_s"),
        g(f, "audit_entries_per_s"),
    );
}

/// A target for a 2-core machine (BENCHMARKS.md): `key` at least (or at most) `bound`.
struct Target {
    what: &'static str,
    key: &'static str,
    at_least: bool,
    bound: f64,
}

const TARGETS: &[Target] = &[
    Target {
        what: "signed appends, batch 1000 (entries/s)",
        key: "append_signed_batch1000_per_s",
        at_least: true,
        bound: 50_000.0,
    },
    Target {
        what: "signed appends, batch 1 (entries/s)",
        key: "append_signed_batch1_per_s",
        at_least: true,
        bound: 2_000.0,
    },
    Target {
        what: "two nodes: committed entries/s",
        key: "cosigned_committed_per_s",
        at_least: true,
        bound: 20_000.0,
    },
    Target {
        what: "two nodes: p99 submit-to-committed at 1000/s (ms)",
        key: "cosign_p99_ms",
        at_least: false,
        bound: 50.0,
    },
    Target {
        what: "inclusion proofs from the store (/s)",
        key: "inclusion_proofs_per_s",
        at_least: true,
        bound: 50_000.0,
    },
    Target {
        what: "consistency proofs from the store (/s)",
        key: "consistency_proofs_per_s",
        at_least: true,
        bound: 50_000.0,
    },
    Target {
        what: "inclusion proofs vs ct-merkle (ratio)",
        key: "ratio_inclusion_proofs_to_ctmerkle",
        at_least: true,
        bound: 0.5,
    },
    Target {
        what: "verify inclusion proofs, one core (/s)",
        key: "verify_inclusion_per_s",
        at_least: true,
        bound: 300_000.0,
    },
    Target {
        what: "verify receipts, one core (/s)",
        key: "verify_receipt_per_s",
        at_least: true,
        bound: 10_000.0,
    },
    Target {
        what: "audit (entries/s)",
        key: "audit_entries_per_s",
        at_least: true,
        bound: 100_000.0,
    },
    Target {
        what: "audit peak RSS (MB)",
        key: "audit_peak_rss_mb",
        at_least: false,
        bound: 100.0,
    },
    Target {
        what: "store open (ms)",
        key: "open_ms",
        at_least: false,
        bound: 100.0,
    },
    Target {
        what: "disk / encoded entry bytes (ratio)",
        key: "ratio_disk_to_entry_bytes",
        at_least: false,
        bound: 2.0,
    },
];

fn met(t: &Target, v: f64) -> bool {
    if t.at_least {
        v >= t.bound
    } else {
        v <= t.bound
    }
}

fn targets_json(f: &Figures) -> Vec<Value> {
    TARGETS
        .iter()
        .filter_map(|t| {
            let v = f.get(t.key)?;
            Some(json!({
                "key": t.key,
                "target": format!("{} {}", if t.at_least { ">=" } else { "<=" }, t.bound),
                "value": v,
                "met": met(t, v),
            }))
        })
        .collect()
}

/// A number for people: thousands separated, few decimals.
pub fn human(v: f64) -> String {
    if v.abs() >= 1000.0 {
        let s = format!("{:.0}", v);
        let (sign, digits) = s.split_at(usize::from(s.starts_with('-')));
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        format!("{sign}{out}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else if v.abs() >= 0.1 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

/// (label, value key, unit, ratio key, what the ratio is to)
type Row = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

const SECTIONS: &[(&str, &[Row])] = &[
    (
        "Ceilings (this machine, this run)",
        &[
            (
                "Ed25519 verify, batched (64)",
                "ceiling_sig_verify_batch_per_s",
                "sig/s",
                "",
                "",
            ),
            (
                "Ed25519 verify, one at a time",
                "ceiling_sig_verify_single_per_s",
                "sig/s",
                "",
                "",
            ),
            (
                "Ed25519 verify, one at a time, keyed (precomputed per key)",
                "ceiling_sig_verify_keyed_per_s",
                "sig/s",
                "",
                "",
            ),
            (
                "sled insert + fsync, batch 1",
                "ceiling_sled_batch1_fsync_per_s",
                "values/s",
                "",
                "",
            ),
            (
                "sled insert + fsync, batch 1000",
                "ceiling_sled_batch_fsync_per_s",
                "values/s",
                "",
                "",
            ),
            (
                "SHA-256 node hash",
                "ceiling_node_hash_per_s",
                "hashes/s",
                "",
                "",
            ),
        ],
    ),
    (
        "1. Durable signed appends (one node)",
        &[
            (
                "batch 1",
                "append_signed_batch1_per_s",
                "entries/s",
                "ratio_append_batch1_to_sled_batch1",
                "sled batch 1",
            ),
            (
                "batch 10",
                "append_signed_batch10_per_s",
                "entries/s",
                "ratio_append_batch10_to_sled_batch10",
                "sled batch 10",
            ),
            (
                "batch 100",
                "append_signed_batch100_per_s",
                "entries/s",
                "ratio_append_batch100_to_sled_batch100",
                "sled batch 100",
            ),
            (
                "batch 1000",
                "append_signed_batch1000_per_s",
                "entries/s",
                "ratio_append_batch1000_to_sled_batch1000",
                "sled batch 1000",
            ),
            (
                "batch 1000 vs Ed25519 batched",
                "append_signed_batch1000_per_s",
                "entries/s",
                "ratio_append_batch1000_to_sig_verify_batch",
                "sig verify batched",
            ),
            (
                "batch 1: p99 of one append",
                "append_batch1_p99_ms",
                "ms",
                "",
                "",
            ),
        ],
    ),
    (
        "2. Two nodes on loopback",
        &[
            (
                "committed at saturation",
                "cosigned_committed_per_s",
                "entries/s",
                "ratio_cosigned_to_append_batch1000",
                "appends batch 1000",
            ),
            (
                "committed at saturation, plain HTTP",
                "cosigned_committed_per_s_plain_http",
                "entries/s",
                "ratio_cosigned_tls_to_plain_http",
                "TLS / plain HTTP",
            ),
            (
                "submit-to-committed p50 at 1000/s",
                "cosign_p50_ms",
                "ms",
                "",
                "",
            ),
            (
                "submit-to-committed p99 at 1000/s",
                "cosign_p99_ms",
                "ms",
                "",
                "",
            ),
        ],
    ),
    (
        "3. Proofs from the store",
        &[
            (
                "inclusion proofs",
                "inclusion_proofs_per_s",
                "proofs/s",
                "ratio_inclusion_proofs_to_ctmerkle",
                "ct-merkle in memory",
            ),
            (
                "inclusion proofs, same indexes again",
                "inclusion_proofs_again_per_s",
                "proofs/s",
                "ratio_inclusion_proofs_again_to_ctmerkle",
                "ct-merkle in memory",
            ),
            (
                "inclusion proofs vs rs_merkle",
                "inclusion_proofs_per_s",
                "proofs/s",
                "ratio_inclusion_proofs_to_rsmerkle",
                "rs_merkle in memory",
            ),
            (
                "inclusion proof p99",
                "inclusion_proof_p99_us",
                "us",
                "",
                "",
            ),
            (
                "consistency proofs",
                "consistency_proofs_per_s",
                "proofs/s",
                "ratio_consistency_proofs_to_ctmerkle",
                "ct-merkle in memory",
            ),
            (
                "consistency proof p99",
                "consistency_proof_p99_us",
                "us",
                "",
                "",
            ),
            (
                "ct-merkle inclusion proofs (memory)",
                "ctmerkle_inclusion_proofs_per_s",
                "proofs/s",
                "",
                "",
            ),
            (
                "rs_merkle inclusion proofs (memory)",
                "rsmerkle_inclusion_proofs_per_s",
                "proofs/s",
                "",
                "",
            ),
            (
                "dyad MemoryTree inclusion proofs",
                "memtree_inclusion_proofs_per_s",
                "proofs/s",
                "",
                "",
            ),
        ],
    ),
    (
        "4. Verification, one core",
        &[
            (
                "inclusion proof",
                "verify_inclusion_per_s",
                "ops/s",
                "ratio_verify_inclusion_to_hash_ceiling",
                "SHA-256 bound",
            ),
            (
                "consistency proof",
                "verify_consistency_per_s",
                "ops/s",
                "",
                "",
            ),
            (
                "co-signed checkpoint",
                "verify_checkpoint_per_s",
                "ops/s",
                "",
                "",
            ),
            (
                "receipt",
                "verify_receipt_per_s",
                "ops/s",
                "ratio_verify_receipt_to_sig_ceiling",
                "3 Ed25519 verifies",
            ),
        ],
    ),
    (
        "5. Audit (dyad audit, child process)",
        &[
            (
                "entries",
                "audit_entries_per_s",
                "entries/s",
                "ratio_audit_to_sig_ceiling",
                "batched sigs x cores",
            ),
            ("peak RSS", "audit_peak_rss_mb", "MB", "", ""),
            (
                "over HTTP (--url, static tiles)",
                "audit_url_entries_per_s",
                "entries/s",
                "ratio_audit_url_to_local",
                "local audit",
            ),
            ("  peak RSS", "audit_url_peak_rss_mb", "MB", "", ""),
        ],
    ),
    (
        "6. Store",
        &[
            ("open", "open_ms", "ms", "", ""),
            (
                "disk per entry",
                "disk_bytes_per_entry",
                "bytes",
                "ratio_disk_to_entry_bytes",
                "encoded entry",
            ),
        ],
    ),
    (
        "7. Publishing to object storage",
        &[
            (
                "whole log to file://",
                "publish_file_entries_per_s",
                "entries/s",
                "",
                "",
            ),
            (
                "  objects",
                "publish_file_objects_per_s",
                "objects/s",
                "",
                "",
            ),
            (
                "whole log to S3 (DYAD_BENCH_S3)",
                "publish_s3_entries_per_s",
                "entries/s",
                "ratio_publish_s3_to_file",
                "file://",
            ),
            ("  objects", "publish_s3_objects_per_s", "objects/s", "", ""),
            (
                "again, nothing new, S3",
                "publish_s3_again_ms",
                "ms",
                "",
                "",
            ),
            (
                "again, nothing new, file://",
                "publish_file_again_ms",
                "ms",
                "",
                "",
            ),
            (
                "lag at 1000/s offered, p50",
                "publish_lag_p50_entries",
                "entries",
                "",
                "",
            ),
            (
                "lag at 1000/s offered, p99",
                "publish_lag_p99_entries",
                "entries",
                "",
                "",
            ),
            (
                "lag at 1000/s offered, max",
                "publish_lag_max_entries",
                "entries",
                "",
                "",
            ),
            (
                "published after the load stopped",
                "publish_catchup_ms",
                "ms",
                "",
                "",
            ),
        ],
    ),
];

/// One line per offered load: achieved rate and submit-to-committed percentiles.
fn offered_loads(f: &Figures) -> String {
    let mut out = String::new();
    for key in f.values.keys() {
        let Some(rate) = key
            .strip_prefix("load_")
            .and_then(|k| k.strip_suffix("_p99_ms"))
        else {
            continue;
        };
        let get = |what: &str| {
            f.get(&format!("load_{rate}_{what}"))
                .map_or("?".into(), human)
        };
        out.push_str(&format!(
            "  offered {:>5}/s: committed {:>7}/s, p50 {:>7} ms, p99 {:>7} ms, not committed {}\n",
            rate,
            get("committed_per_s"),
            get("p50_ms"),
            get("p99_ms"),
            f.get(&format!("load_{rate}_failed")).unwrap_or(0.0),
        ));
    }
    out
}

pub fn table(f: &Figures) -> String {
    let mut out = String::new();
    let text = |k: &str| f.text(k).unwrap_or("?").to_owned();
    let num = |k: &str| f.get(k).map_or("?".to_owned(), human);
    out.push_str(&format!(
        "dyad-bench {} (scale {}): {} entries; {} cores, {}; load average {} at start, {} at end; {} s\n",
        text("dyad_version"),
        text("scale"),
        num("entries"),
        f.get("cores").unwrap_or(0.0),
        text("cpu_model"),
        num("load_average_start"),
        num("load_average_end"),
        num("bench_seconds"),
    ));
    for (title, rows) in SECTIONS {
        out.push_str(&format!("\n{title}\n"));
        for (label, key, unit, ratio, to) in *rows {
            let Some(v) = f.get(key) else { continue };
            let ratio = match f.get(ratio) {
                Some(r) if !ratio.is_empty() => format!("  x{} of {to}", human(r)),
                _ => String::new(),
            };
            out.push_str(&format!(
                "  {label:<38} {:>14} {unit:<9}{ratio}\n",
                human(v)
            ));
        }
        if title.starts_with("2.") {
            out.push_str(&offered_loads(f));
        }
    }
    out.push_str("\nTargets\n");
    for t in TARGETS {
        let Some(v) = f.get(t.key) else { continue };
        out.push_str(&format!(
            "  {:<52} {:>12}  {} {:<10} {}\n",
            t.what,
            human(v),
            if t.at_least { ">=" } else { "<=" },
            human(t.bound),
            if met(t, v) { "met" } else { "MISSED" }
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_keeps_four_significant_digits_and_never_reaches_zero() {
        assert_eq!(round(123_456.7), 123_500.0);
        assert_eq!(round(0.000_123_45), 0.000_123_5);
        assert!(round(1e-9) > 0.0);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v[..1], 99.0), 1.0);
    }

    #[test]
    fn human_numbers() {
        assert_eq!(human(1_234_567.0), "1,234,567");
        assert_eq!(human(12.34), "12.3");
        assert_eq!(human(-1234.0), "-1,234");
    }
}
