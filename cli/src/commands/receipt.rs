//! `dyad receipt`: a receipt for one committed message (spec/dyad.md section 8), a C2SP
//! tlog-proof file anyone can verify offline with the two parties' `.pub` files. While a
//! node runs on the data directory the receipt is made through it, the same bytes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use crate::data::DataDir;
use crate::error::Result;
use crate::output::{json, out_bytes, outln, write_file};
use crate::replica_reads::Replica;
use crate::Ctx;

pub const RECEIPT_EXAMPLES: &str = "\
Examples:
  dyad receipt 3 --out receipt-3.tlog-proof
  dyad verify receipt receipt-3.tlog-proof --trust alpha.pub --trust bravo.pub

A receipt is a C2SP tlog-proof file (spec/dyad.md section 8): the entry's bytes, its index,
its inclusion proof and the latest checkpoint co-signed by both parties. Anyone with the two
parties' .pub files can verify it offline. Only committed entries have receipts.
For an endorsed record, --endorsement-out FILE writes the endorsement's receipt against the
same checkpoint: `dyad verify receipt R --endorsement FILE` says \"signed by A, endorsed by B\".";

#[derive(Args, Debug)]
pub struct ReceiptArgs {
    /// The entry's index.
    pub index: u64,
    /// Write the receipt to FILE (default: standard output).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// For a record: write its endorsement's receipt, proved against the same checkpoint,
    /// to FILE (`dyad verify receipt R --endorsement FILE`).
    #[arg(long, value_name = "FILE")]
    pub endorsement_out: Option<PathBuf>,
}

/// The receipt for entry `index` at the latest co-signed checkpoint, with that
/// checkpoint's size: through the running node, or from the store.
pub fn make_receipt(data: &DataDir, index: u64) -> Result<(Vec<u8>, u64)> {
    let receipt = Replica::of(data)?.receipt(index)?;
    Ok((receipt.receipt, receipt.checkpoint_size))
}

pub fn write_receipt(path: &Path, receipt: &[u8]) -> Result<()> {
    write_file(path, receipt, true)
}

pub fn receipt(ctx: &Ctx, args: &ReceiptArgs) -> Result<ExitCode> {
    let (receipt, size) = make_receipt(&ctx.data_dir(), args.index)?;
    if let Some(path) = &args.endorsement_out {
        super::receipt_endorsement::write_endorsement_receipt(
            &ctx.data_dir(),
            args.index,
            size,
            path,
        )?;
    }
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
