//! `dyad attachment get HASH --out FILE`: an attachment the replica holds, copied to a file,
//! streamed and hashed again while copied (`crate::attachment_files`), with or without a
//! node running on the data directory.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use dyad_ledger::attachments::parse_hex;
use dyad_ledger::durable::WriteOptions;
use serde_json::json as j;

use crate::attachment_files::{copy_stored, stored_size, NamedAttachment};
use crate::error::{CliError, Result};
use crate::output::{json, outln};
use crate::Ctx;

pub const EXAMPLES: &str = "\
Examples:
  dyad show 3                      # lists the entry's attachments with their sha256
  dyad attachment get 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 --out plan.pdf
  dyad show 3 --save-attachments entry-3/   # every attachment of entry 3, by name

The file is written only once every byte has been checked against the SHA-256 (a damaged
copy in the replica is reported, and nothing is written).";

#[derive(Subcommand, Debug)]
pub enum AttachmentCommand {
    /// Copy an attachment the replica holds to FILE, checked against its SHA-256.
    #[command(after_help = EXAMPLES)]
    Get(GetArgs),
}

#[derive(Args, Debug)]
pub struct GetArgs {
    /// The attachment's SHA-256: 64 lowercase hex digits (as `dyad show` lists it).
    pub hash: String,
    /// The file to write.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Replace FILE if it exists.
    #[arg(long)]
    pub force: bool,
}

pub fn run(ctx: &Ctx, command: &AttachmentCommand) -> Result<ExitCode> {
    match command {
        AttachmentCommand::Get(args) => get(ctx, args),
    }
}

fn get(ctx: &Ctx, args: &GetArgs) -> Result<ExitCode> {
    let sha256 = parse_hex(&args.hash).ok_or_else(|| {
        CliError::usage_hint(
            format!(
                "{:?} is not a SHA-256 in 64 lowercase hex digits",
                args.hash
            ),
            "copy it from `dyad show N` (the attachment lines) or `dyad show N --json`",
        )
    })?;
    let data = ctx.data_dir();
    data.read_config()?;
    let store = data.attachments(u64::MAX)?;
    let attachment = NamedAttachment {
        name: String::new(),
        sha256,
        size: stored_size(&store, &sha256)?,
    };
    let options = if args.force {
        WriteOptions::SHARED
    } else {
        WriteOptions::SHARED.keep_existing()
    };
    copy_stored(&store, &attachment, &args.out, options)?;
    if ctx.json {
        json(&j!({"sha256": args.hash, "size": attachment.size, "file": args.out}))?;
    } else {
        outln(&format!(
            "wrote {} ({} bytes, sha256 {}, checked)",
            args.out.display(),
            attachment.size,
            args.hash
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
