//! Measurement 7: publishing the log to object storage (`dyad export tiles --to`,
//! `dyad serve --publish`; node/src/publish).
//!
//! - throughput: the whole bench log published from its store, from nothing, as
//!   `dyad export tiles --to` does it (`publish_store_blocking`): to a `file://` directory
//!   always, and to an S3-compatible server when `DYAD_BENCH_S3=s3://BUCKET/PREFIX` names
//!   one (its endpoint and credentials from the standard AWS variables, the bucket made
//!   beforehand); then the same size once more, which writes only the partial tiles and
//!   the checkpoint (the no-op of a publisher that restarts with nothing new);
//! - lag under load: two live nodes, the sequencer publishing after each commit
//!   (`--publish`) to the same target, messages posted at a fixed offered rate; the
//!   committed entries not yet published are sampled every 5 ms from the sequencer's
//!   metrics (`dyad_publish_lag`), and after the load stops, the time until the last
//!   committed entry is published.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use dyad_node::publish::{publish_store_blocking, PublishConfig, PublishOptions, Published};
use dyad_node::AdminClient;

use super::appends::Log;
use super::fixture::{self, Parties};
use super::nodes::{config, request, settle, Link};
use super::report::{per_s, set_percentiles, Figures};
use super::{BenchError, BenchResult, Progress, Sizes};

/// The variable naming the S3 target (`s3://BUCKET/PREFIX`).
pub const S3_VAR: &str = "DYAD_BENCH_S3";

/// The offered load of the lag stage (entries/s) and for how long.
const LAG_RATE: u32 = 1000;

pub fn run(
    log: &Log,
    sizes: &Sizes,
    work: &Path,
    parties: &Parties,
    progress: &Progress,
    figures: &mut Figures,
) -> BenchResult<()> {
    let file = format!("file://{}", work.join("published").display());
    throughput(log, &file, "publish_file_", progress, figures)?;
    let s3 = std::env::var(S3_VAR).ok().filter(|v| !v.is_empty());
    match &s3 {
        Some(url) => {
            throughput(log, url, "publish_s3_", progress, figures)?;
            if let (Some(s), Some(f)) = (
                figures.get("publish_s3_entries_per_s"),
                figures.get("publish_file_entries_per_s"),
            ) {
                figures.set("ratio_publish_s3_to_file", s / f);
            }
        }
        None => eprintln!(
            "dyad-bench: publishing to S3 skipped: set {S3_VAR}=s3://BUCKET/PREFIX (and \
             AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...) to measure it"
        ),
    }
    // The lag is measured against the slower target there is.
    let (target, name) = match &s3 {
        Some(url) => (format!("{url}-lag"), "s3"),
        None => (
            format!("file://{}", work.join("published-lag").display()),
            "file",
        ),
    };
    figures.set_text("publish_lag_target", name);
    lag(
        sizes,
        &work.join("publish-nodes"),
        &target,
        parties,
        progress,
        figures,
    )
}

fn throughput(
    log: &Log,
    url: &str,
    prefix: &str,
    progress: &Progress,
    figures: &mut Figures,
) -> BenchResult<()> {
    let store = dyad_ledger::store::Store::open(&log.store_dir)?;
    let options = PublishOptions::default();
    let bar = progress.bar(0, &format!("publish {} entries to {url}", log.entries));
    let start = Instant::now();
    let done = publish_store_blocking(&store, None, url, &options, |d, total| {
        bar.set_length(total);
        bar.set_position(d);
    })
    .map_err(|e| BenchError::Publish(e.to_string()))?;
    let took = start.elapsed();
    bar.finish_and_clear();
    check(&done, 0, log.entries, url)?;
    figures.set(&format!("{prefix}entries_per_s"), per_s(log.entries, took));
    figures.set(
        &format!("{prefix}objects_per_s"),
        per_s(done.objects_written, took),
    );
    figures.set(
        &format!("{prefix}mb_per_s"),
        done.bytes_written as f64 / 1e6 / took.as_secs_f64(),
    );
    let start = Instant::now();
    let again = publish_store_blocking(&store, None, url, &options, |_, _| {})
        .map_err(|e| BenchError::Publish(e.to_string()))?;
    figures.set(
        &format!("{prefix}again_ms"),
        start.elapsed().as_secs_f64() * 1000.0,
    );
    check(&again, log.entries, log.entries, url)
}

/// A publish that did not go from `from` to `to` measured something else.
fn check(done: &Published, from: u64, to: u64, url: &str) -> BenchResult<()> {
    if done.from != from || done.size != to {
        return Err(BenchError::Publish(format!(
            "{url}: published {}..{}, expected {from}..{to} (a target left from an earlier run? give it a new prefix)",
            done.from, done.size
        )));
    }
    Ok(())
}

fn lag(
    sizes: &Sizes,
    dir: &Path,
    target: &str,
    parties: &Parties,
    progress: &Progress,
    figures: &mut Figures,
) -> BenchResult<()> {
    drop(fixture::create_channel(dir, parties, true)?);
    let rt = dyad_node::runtime::workers("dyad-bench", Some(2))?;
    rt.block_on(async {
        let mut seq_config = config(dir, "alpha", parties.alpha.clone(), Link::Tls);
        seq_config.publish = Some(PublishConfig {
            url: target.to_owned(),
            hash_only: false,
        });
        let seq = dyad_node::start(seq_config).await?;
        let mut cos_config = config(dir, "bravo", parties.bravo.clone(), Link::Tls);
        cos_config.peer_url = Some(seq.url());
        let cos = dyad_node::start(cos_config).await?;
        seq.set_peer_url(Some(cos.url()));
        let client = AdminClient::new(&seq.admin_url(), seq.admin_token())?;
        let count = (f64::from(LAG_RATE) * sizes.node_load_time.as_secs_f64()).ceil() as u64;
        let bar = progress.bar(
            count,
            &format!("publishing under load: {LAG_RATE}/s offered"),
        );
        let interval = Duration::from_secs_f64(1.0 / f64::from(LAG_RATE));
        let start = tokio::time::Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        let mut samples = Vec::new();
        let mut next_sample = start;
        for i in 0..count {
            let at = start + interval * i as u32;
            while next_sample < at {
                tokio::time::sleep_until(next_sample).await;
                samples.push(seq.metrics().publish_lag() as f64);
                next_sample += Duration::from_millis(5);
            }
            tokio::time::sleep_until(at).await;
            let client = client.clone();
            let bar = bar.clone();
            tasks.spawn(async move {
                let ok = matches!(client.append(&request(i, "accepted")).await, Ok((200, _)));
                bar.inc(1);
                ok
            });
        }
        let mut failed = 0u64;
        while let Some(r) = tasks.join_next().await {
            if !r.map_err(|e| BenchError::Nodes(format!("a client task: {e}")))? {
                failed += 1;
            }
        }
        bar.finish_and_clear();
        let committed = settle(&seq, &cos).await?;
        let settled = Instant::now();
        let deadline = settled + Duration::from_secs(120);
        while seq.metrics().publish_size.load(Ordering::Relaxed) < committed {
            if Instant::now() >= deadline {
                return Err(BenchError::Publish(format!(
                    "{target}: the log was not published within 120 s after the load"
                )));
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        figures.set(
            "publish_catchup_ms",
            settled.elapsed().as_secs_f64() * 1000.0,
        );
        figures.set("publish_lag_rate", f64::from(LAG_RATE));
        figures.set("publish_lag_failed", failed as f64);
        figures.set(
            "publish_errors",
            seq.metrics().publish_errors.load(Ordering::Relaxed) as f64,
        );
        let max = samples.iter().copied().fold(0.0, f64::max);
        set_percentiles(figures, "publish_lag_", "entries", &mut samples);
        figures.set("publish_lag_max_entries", max);
        for node in [cos, seq] {
            node.shutdown().await?;
        }
        Ok(())
    })
}
