//! `dyad checkpoint`: prints the latest (or a given size's) co-signed checkpoint as the
//! signed note it is; while a node runs on the data directory, through it (the same note).

use std::process::ExitCode;

use clap::Args;
use dyad_verifier::checkpoint::Checkpoint;
use serde_json::json as j;

use crate::checkpoint_note::{self, CheckpointNoteError};
use crate::error::{CliError, Result};
use crate::output::{b64, json, out_bytes};
use crate::replica_reads::Replica;
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
    let note = Replica::of(&ctx.data_dir())?.checkpoint_note(args.size)?;
    print(ctx, &note)
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
