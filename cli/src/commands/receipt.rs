//! `dyad receipt`: a receipt for one committed message (spec/dyad.md section 8), a C2SP
//! tlog-proof file anyone can verify offline with the two parties' `.pub` files.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use crate::data::DataDir;
use crate::error::{CliError, Result};
use crate::output::{json, out_bytes, outln, write_file};
use crate::Ctx;

pub const RECEIPT_EXAMPLES: &str = "\
Examples:
  dyad receipt 3 --out receipt-3.tlog-proof
  dyad verify receipt receipt-3.tlog-proof --trust alpha.pub --trust bravo.pub

A receipt is a C2SP tlog-proof file (spec/dyad.md section 8): the entry's bytes, its index,
its inclusion proof and the latest checkpoint co-signed by both parties. Anyone with the two
parties' .pub files can verify it offline. Only committed entries have receipts.";

#[derive(Args, Debug)]
pub struct ReceiptArgs {
    /// The entry's index.
    pub index: u64,
    /// Write the receipt to FILE (default: standard output).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// The receipt for entry `index` at the latest co-signed checkpoint.
pub fn make_receipt(data: &DataDir, index: u64) -> Result<(Vec<u8>, u64)> {
    let (_, channel) = data.open()?;
    let held = channel.size();
    if index >= held {
        return Err(CliError::usage(format!(
            "there is no entry {index}: the log has {held} entries"
        )));
    }
    let Some((size, note)) = channel.store().latest_checkpoint()? else {
        return Err(CliError::check_hint(
            format!("entry {index} is pending: no checkpoint is co-signed yet, so there is no receipt"),
            "a receipt needs the co-signer's co-signature: exchange bundles with `dyad sync export` / `dyad sync import`",
        ));
    };
    if index >= size {
        return Err(CliError::check_hint(
            format!("entry {index} is pending: the latest co-signed checkpoint covers entries 0..{}", size - 1),
            "the entry is committed once the co-signer co-signs a checkpoint covering it: `dyad sync export`, then import the co-signer's answer",
        ));
    }
    let entry = channel.store().leaf(index)?;
    let proof = channel.store().inclusion_proof(index, size)?;
    Ok((
        dyad_verifier::receipt::format(&entry, index, &proof, &note),
        size,
    ))
}

pub fn write_receipt(path: &Path, receipt: &[u8]) -> Result<()> {
    write_file(path, receipt, true)
}

pub fn receipt(ctx: &Ctx, args: &ReceiptArgs) -> Result<ExitCode> {
    let (receipt, size) = make_receipt(&ctx.data_dir(), args.index)?;
    match &args.out {
        Some(path) => {
            write_receipt(path, &receipt)?;
            if ctx.json {
                json(
                    &serde_json::json!({"index": args.index, "checkpoint_size": size, "receipt": path}),
                )?;
            } else {
                outln(&format!(
                    "wrote the receipt for entry {} (checkpoint of size {size}) to {}",
                    args.index,
                    path.display()
                ))?;
            }
        }
        None => out_bytes(&receipt)?,
    }
    Ok(ExitCode::SUCCESS)
}
