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

/// The node's counters and gauges, shared by its tasks and rendered by `GET /metrics`.
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
    /// add-checkpoint requests the sequencer sent.
    pub cosign_requests: AtomicU64,
    /// add-checkpoint requests the sequencer sent that failed.
    pub cosign_failures: AtomicU64,
    /// Entries submitted to the sequencer by the co-signer and promised.
    pub promises: AtomicU64,
    /// Evidence files written (only those really kept).
    pub evidence_kept: AtomicU64,
    /// Conflicts not kept as evidence because the evidence directory is full.
    pub evidence_dropped: AtomicU64,
    /// Co-signer: checkpoints refused because they break one of the sequencer's promises.
    pub broken_promises: AtomicU64,
    /// Fetches of an attachment named by the peer's entry that failed.
    pub attachment_fetch_failures: AtomicU64,
    /// Entries in this replica.
    pub log_size: AtomicU64,
    /// The size of the latest co-signed checkpoint.
    pub committed_size: AtomicU64,
    /// The size of the checkpoint last published to object storage (`--publish`).
    pub publish_size: AtomicU64,
    /// Publishes to object storage that failed (retries exhausted).
    pub publish_errors: AtomicU64,
    /// add-checkpoint requests the sequencer sent to witnesses.
    pub witness_requests: AtomicU64,
    /// add-checkpoint requests to witnesses that did not bring a valid cosignature.
    pub witness_failures: AtomicU64,
    /// The listeners' connections and the request-body budget.
    pub listen: std::sync::Arc<ListenMetrics>,
    /// Per witness name: (largest size it co-signed, entries co-signed by both parties
    /// that it has not co-signed yet).
    witnesses: Mutex<BTreeMap<String, (u64, u64)>>,
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
    /// Adds `by` to a counter.
    pub fn inc(counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }

    /// Committed entries not yet published; 0 before anything was published (a node
    /// that does not publish has no lag).
    pub fn publish_lag(&self) -> u64 {
        let published = self.publish_size.load(Ordering::Relaxed);
        if published == 0 {
            return 0;
        }
        self.committed_size
            .load(Ordering::Relaxed)
            .saturating_sub(published)
    }

    /// Sets a gauge.
    pub fn set(gauge: &AtomicU64, value: u64) {
        gauge.store(value, Ordering::Relaxed);
    }

    /// What a witness last co-signed, and how far it lags.
    pub fn set_witness(&self, name: &str, cosigned_size: u64, lag: u64) {
        lock(&self.witnesses).insert(name.to_owned(), (cosigned_size, lag));
    }

    /// Keeps the witnesses of these names only: a witness a change removed (spec/dyad.md
    /// 3.8) is no longer shown.
    pub fn retain_witnesses(&self, names: &[&str]) {
        lock(&self.witnesses).retain(|n, _| names.contains(&n.as_str()));
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

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, kind, help, value) in self.scalars() {
            write_scalar(&mut out, name, kind, help, value);
        }
        self.render_latency(&mut out);
        self.listen.render(&mut out);
        self.render_rejected(&mut out);
        self.render_witnesses(&mut out);
        out
    }

    /// (name, type, help, value) of each counter and gauge of the node itself.
    fn scalars(&self) -> [(&'static str, &'static str, &'static str, u64); 18] {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        [
            (
                "dyad_entries_total",
                "counter",
                "Entries appended (sequencer) or accepted (co-signer).",
                get(&self.entries),
            ),
            (
                "dyad_batches_total",
                "counter",
                "Durable batches written by group commit.",
                get(&self.batches),
            ),
            (
                "dyad_checkpoints_signed_total",
                "counter",
                "Checkpoints signed as the log.",
                get(&self.checkpoints_signed),
            ),
            (
                "dyad_checkpoints_committed_total",
                "counter",
                "Co-signed checkpoints stored.",
                get(&self.checkpoints_committed),
            ),
            (
                "dyad_cosign_requests_total",
                "counter",
                "add-checkpoint requests sent to the co-signer.",
                get(&self.cosign_requests),
            ),
            (
                "dyad_cosign_failures_total",
                "counter",
                "add-checkpoint requests that failed.",
                get(&self.cosign_failures),
            ),
            (
                "dyad_witness_requests_total",
                "counter",
                "add-checkpoint requests sent to witnesses.",
                get(&self.witness_requests),
            ),
            (
                "dyad_witness_failures_total",
                "counter",
                "add-checkpoint requests to witnesses that brought no valid cosignature.",
                get(&self.witness_failures),
            ),
            (
                "dyad_promises_total",
                "counter",
                "Promises of inclusion received for own submissions.",
                get(&self.promises),
            ),
            (
                "dyad_evidence_kept_total",
                "counter",
                "Evidence files written to the evidence directory.",
                get(&self.evidence_kept),
            ),
            (
                "dyad_evidence_dropped_total",
                "counter",
                "Conflicts not kept as evidence because the evidence directory is full.",
                get(&self.evidence_dropped),
            ),
            (
                "dyad_broken_promises_total",
                "counter",
                "Checkpoints refused because the tree breaks a promise of inclusion.",
                get(&self.broken_promises),
            ),
            (
                "dyad_attachment_fetch_failures_total",
                "counter",
                "Fetches of an attachment named by the peer's entry that failed (nothing naming it is co-signed or appended).",
                get(&self.attachment_fetch_failures),
            ),
            (
                "dyad_log_size",
                "gauge",
                "Entries in this replica.",
                get(&self.log_size),
            ),
            (
                "dyad_committed_size",
                "gauge",
                "Size of the latest co-signed checkpoint.",
                get(&self.committed_size),
            ),
            (
                "dyad_publish_size",
                "gauge",
                "Size of the checkpoint last published to object storage (--publish).",
                get(&self.publish_size),
            ),
            (
                "dyad_publish_lag",
                "gauge",
                "Committed entries not yet published to object storage (0 without --publish).",
                self.publish_lag(),
            ),
            (
                "dyad_publish_errors_total",
                "counter",
                "Publishes to object storage that failed after their retries.",
                get(&self.publish_errors),
            ),
        ]
    }

    /// The co-signing latency histogram.
    fn render_latency(&self, out: &mut String) {
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

    /// Each witness's co-signed size and lag.
    fn render_witnesses(&self, out: &mut String) {
        let witnesses = lock(&self.witnesses);
        if witnesses.is_empty() {
            return;
        }
        let families = [
            (
                "dyad_witness_cosigned_size",
                "Largest checkpoint size the witness co-signed.",
            ),
            (
                "dyad_witness_lag",
                "Entries co-signed by both parties that the witness has not co-signed.",
            ),
        ];
        for (n, (name, help)) in families.iter().enumerate() {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for (witness, (size, lag)) in witnesses.iter() {
                let value = if n == 0 { size } else { lag };
                let label = witness.replace('\\', "\\\\").replace('"', "\\\"");
                let _ = writeln!(out, "{name}{{witness=\"{label}\"}} {value}");
            }
        }
    }

    /// Refused requests, by endpoint and reason.
    fn render_rejected(&self, out: &mut String) {
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
    }
}

/// One counter or gauge: its HELP and TYPE lines and its value.
fn write_scalar(out: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
    );
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
    /// TLS handshakes that failed or timed out (strangers, forged bindings, TLS 1.2
    /// clients, plain HTTP on the TLS port).
    pub tls_handshakes_failed: AtomicU64,
    /// Request-body bytes buffered now.
    pub body_bytes_buffered: AtomicU64,
    /// The most request-body bytes ever buffered at once.
    pub body_bytes_peak: AtomicU64,
}

impl ListenMetrics {
    pub(crate) fn render(&self, out: &mut String) {
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
                "dyad_tls_handshakes_failed_total",
                "counter",
                "TLS handshakes refused or timed out on the public listener.",
                get(&self.tls_handshakes_failed),
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
            write_scalar(out, name, kind, help, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_rendered_once_with_its_type_and_value() {
        let m = Metrics::default();
        Metrics::inc(&m.entries, 7);
        Metrics::set(&m.committed_size, 5);
        Metrics::set(&m.listen.connections_open, 3);
        m.observe_cosign_latency(Duration::from_millis(20));
        m.reject("submit", "busy");
        m.reject("submit", "busy");
        let text = m.render();
        for line in [
            "# TYPE dyad_entries_total counter\ndyad_entries_total 7\n",
            "# TYPE dyad_committed_size gauge\ndyad_committed_size 5\n",
            "# TYPE dyad_connections_open gauge\ndyad_connections_open 3\n",
            "dyad_cosign_latency_seconds_bucket{le=\"0.01\"} 0\n",
            "dyad_cosign_latency_seconds_bucket{le=\"0.025\"} 1\n",
            "dyad_cosign_latency_seconds_count 1\n",
            "dyad_rejected_requests_total{endpoint=\"submit\",reason=\"busy\"} 2\n",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        let types = text.lines().filter(|l| l.starts_with("# TYPE ")).count();
        let helps = text.lines().filter(|l| l.starts_with("# HELP ")).count();
        // 18 of the node's own, the histogram, 7 of the listeners, the refusals.
        assert_eq!((types, helps), (27, 27));
        // The publishing lag: none before anything is published.
        assert!(text.contains("dyad_publish_lag 0\n"));
        Metrics::set(&m.publish_size, 2);
        assert_eq!(m.publish_lag(), 3);
    }
}
