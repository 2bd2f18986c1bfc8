//! The node's counters, rendered in the Prometheus text exposition format (`GET /metrics`).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the co-signing latency histogram's buckets.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default)]
pub struct Metrics {
    /// Entries this node appended (sequencer) or accepted from the log (co-signer).
    pub entries: AtomicU64,
    /// Durable batches written by the sequencer's group commit.
    pub batches: AtomicU64,
    /// Checkpoints the sequencer signed.
    pub checkpoints_signed: AtomicU64,
    /// Co-signed checkpoints stored (sequencer: returned by the co-signer; co-signer: made).
    pub checkpoints_committed: AtomicU64,
    /// add-checkpoint requests the sequencer sent, and those that failed.
    pub cosign_requests: AtomicU64,
    pub cosign_failures: AtomicU64,
    /// Entries submitted to the sequencer by the co-signer and promised.
    pub promises: AtomicU64,
    /// Evidence files written (only those really kept), and conflicts not kept because
    /// the evidence directory is full.
    pub evidence_kept: AtomicU64,
    pub evidence_dropped: AtomicU64,
    /// Co-signer: checkpoints refused because they break one of the sequencer's promises.
    pub broken_promises: AtomicU64,
    pub log_size: AtomicU64,
    pub committed_size: AtomicU64,
    /// The listeners' connections and the request-body budget.
    pub listen: std::sync::Arc<ListenMetrics>,
    latency: Mutex<Histogram>,
    rejected: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
}

#[derive(Default)]
struct Histogram {
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Metrics {
    pub fn inc(counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }

    pub fn set(gauge: &AtomicU64, value: u64) {
        gauge.store(value, Ordering::Relaxed);
    }

    /// One request refused at `endpoint` for `reason` (a short, fixed label).
    pub fn reject(&self, endpoint: &'static str, reason: &'static str) {
        *lock(&self.rejected).entry((endpoint, reason)).or_default() += 1;
    }

    /// How many requests were refused at `endpoint` for `reason`.
    pub fn rejected(&self, endpoint: &'static str, reason: &'static str) -> u64 {
        lock(&self.rejected)
            .get(&(endpoint, reason))
            .copied()
            .unwrap_or(0)
    }

    /// A co-signing round trip: from sending add-checkpoint to storing the co-signed note.
    pub fn observe_cosign_latency(&self, d: Duration) {
        let s = d.as_secs_f64();
        let mut h = lock(&self.latency);
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            if s <= *bound {
                h.buckets[i] += 1;
            }
        }
        h.count += 1;
        h.sum += s;
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut counter = |name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        counter(
            "dyad_entries_total",
            "Entries appended (sequencer) or accepted (co-signer).",
            get(&self.entries),
        );
        counter(
            "dyad_batches_total",
            "Durable batches written by group commit.",
            get(&self.batches),
        );
        counter(
            "dyad_checkpoints_signed_total",
            "Checkpoints signed as the log.",
            get(&self.checkpoints_signed),
        );
        counter(
            "dyad_checkpoints_committed_total",
            "Co-signed checkpoints stored.",
            get(&self.checkpoints_committed),
        );
        counter(
            "dyad_cosign_requests_total",
            "add-checkpoint requests sent to the co-signer.",
            get(&self.cosign_requests),
        );
        counter(
            "dyad_cosign_failures_total",
            "add-checkpoint requests that failed.",
            get(&self.cosign_failures),
        );
        counter(
            "dyad_promises_total",
            "Promises of inclusion received for own submissions.",
            get(&self.promises),
        );
        counter(
            "dyad_evidence_kept_total",
            "Evidence files written to the evidence directory.",
            get(&self.evidence_kept),
        );
        counter(
            "dyad_evidence_dropped_total",
            "Conflicts not kept as evidence because the evidence directory is full.",
            get(&self.evidence_dropped),
        );
        counter(
            "dyad_broken_promises_total",
            "Checkpoints refused because the tree breaks a promise of inclusion.",
            get(&self.broken_promises),
        );
        let mut gauge = |name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        };
        gauge(
            "dyad_log_size",
            "Entries in this replica.",
            get(&self.log_size),
        );
        gauge(
            "dyad_committed_size",
            "Size of the latest co-signed checkpoint.",
            get(&self.committed_size),
        );
        {
            let h = lock(&self.latency);
            let name = "dyad_cosign_latency_seconds";
            let _ = writeln!(out, "# HELP {name} add-checkpoint round trip until the co-signed checkpoint is stored.\n# TYPE {name} histogram");
            for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
                let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {}", h.buckets[i]);
            }
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"+Inf\"}} {}\n{name}_sum {}\n{name}_count {}",
                h.count, h.sum, h.count
            );
        }
        self.listen.render(&mut out);
        let name = "dyad_rejected_requests_total";
        let _ = writeln!(
            out,
            "# HELP {name} Requests refused, by endpoint and reason.\n# TYPE {name} counter"
        );
        for ((endpoint, reason), n) in lock(&self.rejected).iter() {
            let _ = writeln!(
                out,
                "{name}{{endpoint=\"{endpoint}\",reason=\"{reason}\"}} {n}"
            );
        }
        out
    }
}

/// Gauges and counters of the listeners and of the body budget.
#[derive(Default)]
pub struct ListenMetrics {
    /// Connections open now (all listeners).
    pub connections_open: AtomicU64,
    /// Connections closed to make room for a new one (the table was full).
    pub connections_shed: AtomicU64,
    /// Connections refused because the table was full of connections being worked for.
    pub connections_refused: AtomicU64,
    /// Connections closed because nothing moved on them for the idle timeout.
    pub connections_idle_closed: AtomicU64,
    /// Request-body bytes buffered now, and the most ever buffered at once.
    pub body_bytes_buffered: AtomicU64,
    pub body_bytes_peak: AtomicU64,
}

impl ListenMetrics {
    pub(crate) fn render(&self, out: &mut String) {
        use std::fmt::Write;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        for (name, kind, help, value) in [
            (
                "dyad_connections_open",
                "gauge",
                "Connections open on the node's listeners.",
                get(&self.connections_open),
            ),
            (
                "dyad_connections_shed_total",
                "counter",
                "Connections closed to make room for new ones.",
                get(&self.connections_shed),
            ),
            (
                "dyad_connections_refused_total",
                "counter",
                "Connections refused: every open one was being worked for.",
                get(&self.connections_refused),
            ),
            (
                "dyad_connections_idle_closed_total",
                "counter",
                "Connections closed after the idle timeout.",
                get(&self.connections_idle_closed),
            ),
            (
                "dyad_body_bytes_buffered",
                "gauge",
                "Request-body bytes held in memory now.",
                get(&self.body_bytes_buffered),
            ),
            (
                "dyad_body_bytes_buffered_peak",
                "gauge",
                "The most request-body bytes ever held in memory at once.",
                get(&self.body_bytes_peak),
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
    }
}
