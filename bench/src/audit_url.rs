//! Measurement 5b: the same audit over HTTP, `dyad audit --url URL --trust alpha.pub
//! --trust bravo.pub --json`, in a child process as in [`super::audit`], of the bench log
//! exported as static tiles (`dyad export tiles`, in-process, not timed) and served by a
//! plain static file server in this process on loopback.
//!
//! The time is the child's whole run, as a reader would run it: the checkpoint and every
//! entry bundle fetched and audited, then the hash tiles checked against the entries and
//! the attachments looked for (the bench log names none), each of which reads the bundles
//! again. Its ratio to the local audit (`--data`) says what reading over HTTP costs.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, Uri};

use super::appends::Log;
use super::audit::audit_child;
use super::fixture::Parties;
use super::report::{per_s, Figures};
use super::{BenchError, BenchResult, Progress};

pub fn run(
    dyad: &Path,
    log: &Log,
    parties: &Parties,
    work: &Path,
    progress: &Progress,
    figures: &mut Figures,
) -> BenchResult<()> {
    let tiles = work.join("audit-url-tiles");
    let bar = progress.step("export the log as static tiles");
    let store = dyad_ledger::store::Store::open(&log.store_dir)?;
    let exported = dyad_node::export::export_tiles(&store, &tiles)
        .map_err(|e| BenchError::AuditChild(format!("exporting the tiles: {e}")))?;
    drop(store);
    bar.finish_and_clear();
    if exported.size != log.entries {
        return Err(BenchError::AuditChild(format!(
            "the export holds {} entries, expected {}",
            exported.size, log.entries
        )));
    }
    let rt = dyad_node::runtime::workers("dyad-bench-static", Some(1))?;
    let (url, server) = rt.block_on(static_server(tiles))?;
    let bar = progress.step(&format!(
        "audit of {} entries over HTTP (dyad audit --url)",
        log.entries
    ));
    let source = [OsStr::new("--url"), OsStr::new(&url)];
    let measured = audit_child(dyad, &source, log, parties, work, "audit-url");
    bar.finish_and_clear();
    server.abort();
    rt.shutdown_timeout(Duration::from_secs(2));
    let (elapsed, peak_mb) = measured?;
    figures.set("audit_url_entries_per_s", per_s(log.entries, elapsed));
    figures.set("audit_url_seconds", elapsed.as_secs_f64());
    figures.set("audit_url_peak_rss_mb", peak_mb);
    Ok(())
}

/// A static file server over `root` on a loopback port: any web server is enough for a
/// tile export, so this is the least one (no caching headers, no compression).
async fn static_server(root: PathBuf) -> BenchResult<(String, tokio::task::JoinHandle<()>)> {
    async fn serve_file(State(root): State<PathBuf>, uri: Uri) -> (StatusCode, Vec<u8>) {
        let rel = uri.path().trim_start_matches('/').to_owned();
        if rel.split('/').any(|c| c == ".." || c.is_empty()) {
            return (StatusCode::NOT_FOUND, Vec::new());
        }
        match tokio::task::spawn_blocking(move || std::fs::read(root.join(rel))).await {
            Ok(Ok(bytes)) => (StatusCode::OK, bytes),
            _ => (StatusCode::NOT_FOUND, Vec::new()),
        }
    }
    let app = axum::Router::new().fallback(serve_file).with_state(root);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(BenchError::io("bind the static file server"))?;
    let addr = listener
        .local_addr()
        .map_err(BenchError::io("the static file server's address"))?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("dyad-bench: the static file server stopped: {e}");
        }
    });
    Ok((format!("http://{addr}/"), task))
}
