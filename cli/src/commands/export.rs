//! `dyad export tiles`: writes the log as static C2SP tlog-tiles files, from the store,
//! or from the read API of a node running on the data directory.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use dyad_ledger::store::{Store, StoreError};
use dyad_node::ExportOptions;
use serde_json::json as j;

use crate::error::{CliError, Result};
use crate::output::{json, outln, progress};
use crate::running_node::{own_node_reach, probe, Probe, NODE_URL_FILE};
use crate::Ctx;

pub const EXPORT_EXAMPLES: &str = "\
Examples:
  dyad export tiles --out /var/www/dyad-log
  dyad export tiles --out /var/www/dyad-log --reuse-full-tiles    # only what is new
  dyad audit --url https://log.example/dyad-log --trust alpha.pub --trust bravo.pub
  AWS_ENDPOINT_URL=https://s3.example AWS_REGION=us-east-1 \\
    dyad export tiles --to s3://bucket/dyad-log    # credentials: AWS_ACCESS_KEY_ID, ...
  dyad export tiles --to s3://public-bucket/mirror --hash-only

Writes DIR/checkpoint, DIR/tile/<L>/<N>[.p/<W>] and DIR/tile/entries/<N>[.p/<W>] exactly as
C2SP tlog-tiles lays them out, for the latest co-signed checkpoint: any web server or object
store can then serve the log to readers. Each file is written aside and renamed, the
checkpoint last. While a node runs on the data directory, the files are copied from its
read API instead (audit the copy before trusting it). From the store, every attachment the
entries name is written too, as DIR/attachment/<sha256 hex>.

--to publishes to object storage (s3://BUCKET/PREFIX, credentials and endpoint from the
standard AWS_* environment variables) or a directory (file:///DIR): resumed from the
checkpoint already there, immutable objects not written again, the checkpoint last.
Publishing the read API to a bucket makes the log as public as the bucket: --hash-only
publishes the hash tiles and checkpoints alone (no entry, no attachment), a
proof-of-existence mirror that reveals no content.";

#[derive(Subcommand, Debug)]
pub enum ExportCommand {
    /// Write the log as static C2SP tlog-tiles files (checkpoint, hash tiles, entry bundles).
    #[command(after_help = EXPORT_EXAMPLES)]
    Tiles(ExportTilesArgs),
    /// Write the auditor's page: one HTML file (index.html) that verifies receipts,
    /// evidence and whole logs in a browser, offline, from file:// or any web server.
    #[command(after_help = WEB_EXAMPLES)]
    Web(ExportWebArgs),
}

pub const WEB_EXAMPLES: &str = "\
Examples:
  dyad export web --out auditor-page      # then open auditor-page/index.html
  dyad serve                              # serves the same page at /audit/

The page holds the dyad verifier compiled to WebAssembly and nothing of any log. Give it the
two parties' .pub files, then a receipt, evidence, or a log's URL. It is embedded in dyad when
dyad is built with DYAD_WEB_PAGE (verifier-wasm/www/build.sh makes it).";

#[derive(Args, Debug)]
pub struct ExportWebArgs {
    /// The directory to write index.html in (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct ExportTilesArgs {
    /// The directory to write (created if missing).
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "to",
        conflicts_with = "to"
    )]
    pub out: Option<PathBuf>,
    /// Publish to object storage: s3://BUCKET[/PREFIX] or file:///DIR.
    #[arg(long, value_name = "URL")]
    pub to: Option<String>,
    /// With --to: hash tiles and checkpoints only (no entry bundle, no attachment).
    #[arg(long, requires = "to")]
    pub hash_only: bool,
    /// Keep full tiles already in DIR (written by an earlier export of this log).
    #[arg(long)]
    pub reuse_full_tiles: bool,
}

pub fn run_export(ctx: &Ctx, command: &ExportCommand) -> Result<ExitCode> {
    match command {
        ExportCommand::Tiles(args) => export_tiles(ctx, args),
        ExportCommand::Web(args) => export_web(ctx, args),
    }
}

fn export_web(ctx: &Ctx, args: &ExportWebArgs) -> Result<ExitCode> {
    let page = crate::auditor_page::page()?;
    std::fs::create_dir_all(&args.out).map_err(CliError::write(&args.out))?;
    let file = args.out.join("index.html");
    crate::output::write_file(&file, page, true)?;
    if ctx.json {
        json(&j!({"written": file, "bytes": page.len()}))?;
    } else {
        outln(&format!("wrote {} ({} bytes)", file.display(), page.len()))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn export_tiles(ctx: &Ctx, args: &ExportTilesArgs) -> Result<ExitCode> {
    let data = ctx.data_dir();
    data.read_created_config()?;
    let out = match (&args.out, &args.to) {
        (Some(out), _) => out,
        (None, Some(url)) => return publish_to(ctx, &data, url, args.hash_only),
        (None, None) => return Err(CliError::usage("give --out DIR or --to URL")),
    };
    let options = ExportOptions {
        reuse_full_tiles: args.reuse_full_tiles,
    };
    let bar = progress(0, "exporting tiles");
    let on_progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let (exported, from) = match probe(&data)? {
        Probe::Running(r) => {
            let Some(url) = r.public_url.clone() else {
                return Err(CliError::usage_hint(
                    format!(
                        "a node runs on {} but its public URL is unknown (no {NODE_URL_FILE})",
                        data.dir.display()
                    ),
                    "mirror it from its public URL with a tile client, or stop the node and export again",
                ));
            };
            let reach = own_node_reach(&data, &url)?;
            let e =
                dyad_node::export::mirror_tiles_blocking(&url, reach, out, &options, on_progress)?;
            (e, format!("the running node at {url}"))
        }
        Probe::Absent | Probe::Silent { .. } => {
            let store = open_store(&data)?;
            let attachments = data.attachments(READ_ANY_SIZE)?;
            let e = dyad_node::export::export_tiles_and_attachments(
                &store,
                Some(&attachments),
                out,
                &options,
                on_progress,
            )?;
            (e, format!("the store {}", data.ledger_path().display()))
        }
    };
    bar.finish_and_clear();
    if ctx.json {
        json(&j!({
            "out": out,
            "size": exported.size,
            "files_written": exported.files_written,
            "files_kept": exported.files_kept,
            "bytes_written": exported.bytes_written,
            "source": from,
        }))?;
    } else {
        outln(&format!(
            "exported the log of size {} from {from} to {}: {} file(s) written ({} bytes), {} kept",
            exported.size,
            out.display(),
            exported.files_written,
            exported.bytes_written,
            exported.files_kept
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The attachment store is only read here, and each file read is checked against its
/// hash: no size bound applies (one less than the largest, since a read takes one byte past
/// the bound).
const READ_ANY_SIZE: u64 = u64::MAX - 1;

fn open_store(data: &crate::data::DataDir) -> Result<Store> {
    match Store::open(&data.ledger_path()) {
        Ok(s) => Ok(s),
        Err(StoreError::Locked { path }) => Err(CliError::usage_hint(
            format!("the store {} is in use by another process", path.display()),
            "if a node (`dyad serve`) runs here it has DIR/admin.sock and DIR/node.url; stop it (or publish from it with `dyad serve --publish URL`) or wait for the other command",
        )),
        Err(e) => Err(e.into()),
    }
}

/// `--to URL`: publishes the store's latest co-signed checkpoint, and what it covers, to
/// object storage or a directory (dyad_node::publish).
fn publish_to(
    ctx: &Ctx,
    data: &crate::data::DataDir,
    url: &str,
    hash_only: bool,
) -> Result<ExitCode> {
    use dyad_node::publish::{publish_store_blocking, PlanOptions, PublishOptions};
    if let Probe::Running(_) = probe(data)? {
        return Err(CliError::usage_hint(
            format!("a node runs on {}", data.dir.display()),
            "publish from it with `dyad serve --publish URL`, or stop it and publish again",
        ));
    }
    let store = open_store(data)?;
    let attachments = if hash_only {
        None
    } else {
        Some(data.attachments(READ_ANY_SIZE)?)
    };
    let options = PublishOptions {
        plan: PlanOptions { hash_only },
        ..PublishOptions::default()
    };
    let bar = progress(0, "publishing");
    let published = publish_store_blocking(
        &store,
        attachments.as_ref(),
        url,
        &options,
        |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        },
    )?;
    bar.finish_and_clear();
    if ctx.json {
        json(&j!({
            "to": url,
            "hash_only": hash_only,
            "from": published.from,
            "size": published.size,
            "objects_written": published.objects_written,
            "objects_kept": published.objects_kept,
            "bytes_written": published.bytes_written,
        }))?;
    } else {
        outln(&format!(
            "published the log of size {} to {url} (it held size {}): {} object(s) written ({} bytes), {} kept",
            published.size,
            published.from,
            published.objects_written,
            published.bytes_written,
            published.objects_kept
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
