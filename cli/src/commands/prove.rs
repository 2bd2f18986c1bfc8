//! `dyad prove inclusion|consistency` (RFC 9162 proofs from the replica, as the JSON that
//! `dyad verify inclusion|consistency` reads) and `dyad receipt` (spec section 8).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use dyad_ledger::channel::Channel;

use crate::commands::verify::{ConsistencyJson, InclusionJson};
use crate::data::DataDir;
use crate::error::{CliError, Result};
use crate::output::{b64, json, out_bytes, outln, write_file};
use crate::Ctx;

pub const RECEIPT_EXAMPLES: &str = "\
Examples:
  dyad receipt 3 --out receipt-3.tlog-proof
  dyad verify receipt receipt-3.tlog-proof --trust alpha.pub --trust bravo.pub

A receipt is a C2SP tlog-proof file (spec/dyad.md section 8): the entry's bytes, its index,
its inclusion proof and the latest checkpoint co-signed by both parties. Anyone with the two
parties' .pub files can verify it offline. Only committed entries have receipts.";

const PROVE_EXAMPLES: &str = "\
Examples:
  dyad prove inclusion 3 --json > incl.json && dyad verify inclusion incl.json
  dyad prove inclusion 3 --size 10 --json
  dyad prove consistency 5 10 --json > cons.json && dyad verify consistency cons.json

JSON (standard base64 with padding, 32-byte hashes):
  {\"index\":…,\"size\":…,\"leaf_hash\":\"<b64>\",\"root\":\"<b64>\",\"proof\":[\"<b64>\",…]}
  {\"old_size\":…,\"new_size\":…,\"old_root\":\"<b64>\",\"new_root\":\"<b64>\",\"proof\":[\"<b64>\",…]}";

#[derive(Subcommand, Debug)]
pub enum ProveCommand {
    /// Prove that entry INDEX is in the tree of SIZE entries.
    #[command(after_help = PROVE_EXAMPLES)]
    Inclusion {
        /// The entry's index.
        index: u64,
        /// The tree size (default: the latest co-signed size if it covers INDEX, else the log's size).
        #[arg(long, value_name = "N")]
        size: Option<u64>,
    },
    /// Prove that the tree of OLD entries is a prefix of the tree of NEW entries.
    #[command(after_help = PROVE_EXAMPLES)]
    Consistency {
        /// The older tree size.
        old: u64,
        /// The newer tree size.
        new: u64,
    },
}

#[derive(Args, Debug)]
pub struct ReceiptArgs {
    /// The entry's index.
    pub index: u64,
    /// Write the receipt to FILE (default: standard output).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

fn b64_list(hashes: &[[u8; 32]]) -> Vec<String> {
    hashes.iter().map(|h| b64(h)).collect()
}

pub fn inclusion(channel: &Channel, index: u64, size: Option<u64>) -> Result<InclusionJson> {
    let held = channel.size();
    let committed = channel.committed_size()?;
    let size = size.unwrap_or(if index < committed { committed } else { held });
    if size > held {
        return Err(CliError::usage(format!(
            "--size {size}: the log has only {held} entries"
        )));
    }
    if index >= size {
        return Err(CliError::usage(format!(
            "entry {index} is not in a tree of {size} entries (the log has {held})"
        )));
    }
    let store = channel.store();
    Ok(InclusionJson {
        index,
        size,
        leaf_hash: b64(&store.leaf_hash(index)?),
        root: b64(&store.root_at(size)?),
        proof: b64_list(&store.inclusion_proof(index, size)?),
    })
}

pub fn consistency(channel: &Channel, old: u64, new: u64) -> Result<ConsistencyJson> {
    let held = channel.size();
    if new > held {
        return Err(CliError::usage(format!(
            "NEW {new}: the log has only {held} entries"
        )));
    }
    if old > new {
        return Err(CliError::usage(format!(
            "OLD {old} is larger than NEW {new}"
        )));
    }
    let store = channel.store();
    Ok(ConsistencyJson {
        old_size: old,
        new_size: new,
        old_root: b64(&store.root_at(old)?),
        new_root: b64(&store.root_at(new)?),
        proof: b64_list(&store.consistency_proof(old, new)?),
    })
}

pub fn run(ctx: &Ctx, command: &ProveCommand) -> Result<ExitCode> {
    let (_, channel) = ctx.data_dir().open()?;
    match command {
        ProveCommand::Inclusion { index, size } => {
            let p = inclusion(&channel, *index, *size)?;
            if ctx.json {
                outln(&serde_json::to_string(&p).map_err(|e| CliError::check(e.to_string()))?)?;
            } else {
                let committed = p.size <= channel.committed_size()?;
                outln(&format!(
                    "entry {} is in the tree of {} entries ({})",
                    p.index,
                    p.size,
                    if committed {
                        "a co-signed size"
                    } else {
                        "not a co-signed size: pending"
                    }
                ))?;
                outln(&format!("leaf hash  {}", p.leaf_hash))?;
                outln(&format!("root       {}", p.root))?;
                outln(&format!(
                    "proof      {} hashes, leaf upwards:",
                    p.proof.len()
                ))?;
                for h in &p.proof {
                    outln(&format!("  {h}"))?;
                }
            }
        }
        ProveCommand::Consistency { old, new } => {
            let p = consistency(&channel, *old, *new)?;
            if ctx.json {
                outln(&serde_json::to_string(&p).map_err(|e| CliError::check(e.to_string()))?)?;
            } else {
                outln(&format!(
                    "the tree of {} entries is a prefix of the tree of {} entries",
                    p.old_size, p.new_size
                ))?;
                outln(&format!("old root   {}", p.old_root))?;
                outln(&format!("new root   {}", p.new_root))?;
                outln(&format!("proof      {} hashes:", p.proof.len()))?;
                for h in &p.proof {
                    outln(&format!("  {h}"))?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
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
