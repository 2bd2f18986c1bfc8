//! `dyad prove inclusion|consistency`: RFC 9162 proofs from the replica, as the JSON that
//! `dyad verify inclusion|consistency` reads.

use std::process::ExitCode;

use clap::Subcommand;
use dyad_ledger::channel::Channel;

use crate::commands::verify::proofs::{ConsistencyJson, InclusionJson};
use crate::error::{CliError, Result};
use crate::output::{b64, outln};
use crate::Ctx;

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
