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

Writes DIR/checkpoint, DIR/tile/<L>/<N>[.p/<W>] and DIR/tile/entries/<N>[.p/<W>] exactly as
C2SP tlog-tiles lays them out, for the latest co-signed checkpoint: any web server or object
store can then serve the log to readers. Each file is written aside and renamed, the
checkpoint last. While a node runs on the data directory, the files are copied from its
read API instead (audit the copy before trusting it).";

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
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
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
            let e = dyad_node::export::mirror_tiles_blocking(
                &url,
                reach,
                &args.out,
                &options,
                on_progress,
            )?;
            (e, format!("the running node at {url}"))
        }
        Probe::Absent | Probe::Silent { .. } => {
            let store = match Store::open(&data.ledger_path()) {
                Ok(s) => s,
                Err(StoreError::Locked { path }) => {
                    return Err(CliError::usage_hint(
                        format!("the store {} is in use by another process", path.display()),
                        "if a node (`dyad serve`) runs here it has DIR/admin.sock and DIR/node.url; stop it or wait for the other command",
                    ))
                }
                Err(e) => return Err(e.into()),
            };
            let e = dyad_node::export::export_tiles_with(&store, &args.out, &options, on_progress)?;
            (e, format!("the store {}", data.ledger_path().display()))
        }
    };
    bar.finish_and_clear();
    if ctx.json {
        json(&j!({
            "out": args.out,
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
            args.out.display(),
            exported.files_written,
            exported.bytes_written,
            exported.files_kept
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
