//! `dyad checkpoint`: prints the latest (or a given size's) co-signed checkpoint as the
//! signed note it is; the latest also while a node runs on the data directory (through it).

use std::process::ExitCode;

use clap::Args;
use dyad_verifier::checkpoint::Checkpoint;
use serde_json::json as j;

use crate::checkpoint_note::{self, CheckpointNoteError};
use crate::data::DataDir;
use crate::error::{CliError, Result};
use crate::output::{b64, json, out_bytes};
use crate::running_node::{own_node_reach, probe, Probe, Running};
use crate::Ctx;

pub const CHECKPOINT_EXAMPLES: &str = "\
Examples:
  dyad checkpoint > latest.checkpoint
  dyad checkpoint --size 12
  dyad verify checkpoint latest.checkpoint --trust alpha.pub --trust bravo.pub";

#[derive(Args, Debug)]
pub struct CheckpointArgs {
    /// The size of the co-signed checkpoint to print (default: the latest).
    #[arg(long, value_name = "N")]
    pub size: Option<u64>,
}

/// A checkpoint note out of the replica's own store.
pub fn parse_stored(note: &[u8]) -> Result<Checkpoint> {
    checkpoint_note::parse(note).map_err(|e| match e {
        CheckpointNoteError::Note(e) => CliError::check(format!("stored checkpoint note: {e}")),
        CheckpointNoteError::Checkpoint(e) => CliError::check(format!("stored checkpoint: {e}")),
        e => CliError::check(format!("stored checkpoint note: {e}")),
    })
}

pub fn checkpoint(ctx: &Ctx, args: &CheckpointArgs) -> Result<ExitCode> {
    let data = ctx.data_dir();
    if let Probe::Running(node) = probe(&data)? {
        let note = through_node(&data, &node, args)?;
        return print(ctx, &note);
    }
    let (_, channel) = data.open()?;
    let found = match args.size {
        Some(size) => channel.store().checkpoint(size)?.map(|n| (size, n)),
        None => channel.store().latest_checkpoint()?,
    };
    let Some((_, note)) = found else {
        let what = args.size.map_or_else(
            || "no co-signed checkpoint yet".to_owned(),
            |s| format!("no co-signed checkpoint of size {s}"),
        );
        let sizes: Vec<String> = channel
            .store()
            .checkpoints()
            .filter_map(|c| c.ok())
            .map(|(s, _)| s.to_string())
            .collect();
        let hint = if sizes.is_empty() {
            "a checkpoint is committed when the co-signer co-signs it: exchange bundles with `dyad sync export` / `dyad sync import`".to_owned()
        } else {
            format!("co-signed sizes held here: {}", sizes.join(", "))
        };
        return Err(CliError::check_hint(what, hint));
    };
    print(ctx, &note)
}

/// The latest co-signed checkpoint from the node running on the data directory (it holds
/// the store): the note its read API serves, the same bytes as the store's.
fn through_node(data: &DataDir, node: &Running, args: &CheckpointArgs) -> Result<Vec<u8>> {
    if let Some(size) = args.size {
        return Err(CliError::usage_hint(
            format!("a node runs on {} and holds the store; it serves only its latest checkpoint, not the one of size {size}", data.dir.display()),
            "leave out --size for the latest, or stop the node for older ones",
        ));
    }
    let Some(url) = node.public_url.as_deref() else {
        return Err(CliError::usage_hint(
            "a node runs on this data directory and holds the store, and its URL is unknown",
            "stop the node, or read its /checkpoint",
        ));
    };
    match dyad_node::fetch_checkpoint(url, own_node_reach(data, url)?) {
        Ok(note) => Ok(note),
        Err(e) if e.status() == Some(404) => Err(CliError::check_hint(
            "no co-signed checkpoint yet",
            "a checkpoint is committed when the co-signer co-signs it",
        )),
        Err(e) => Err(e.into()),
    }
}

fn print(ctx: &Ctx, note: &[u8]) -> Result<ExitCode> {
    if ctx.json {
        let cp = parse_stored(note)?;
        json(&j!({
            "origin": cp.origin,
            "size": cp.size,
            "root": b64(&cp.root),
            "note": String::from_utf8_lossy(note),
        }))?;
    } else {
        out_bytes(note)?;
    }
    Ok(ExitCode::SUCCESS)
}
