//! `dyad prove inclusion|consistency`: RFC 9162 proofs from the replica, as the JSON that
//! `dyad verify inclusion|consistency` reads; through the node while one runs on the data
//! directory, the same output.

use std::process::ExitCode;

use clap::Subcommand;
use dyad_ledger::reads::{ConsistencyProof, InclusionProof};

use crate::commands::verify::proofs::{ConsistencyJson, InclusionJson};
use crate::error::{CliError, Result};
use crate::output::{b64, outln};
use crate::replica_reads::Replica;
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

fn inclusion_json(p: &InclusionProof) -> InclusionJson {
    InclusionJson {
        index: p.index,
        size: p.size,
        leaf_hash: b64(&p.leaf_hash),
        root: b64(&p.root),
        proof: b64_list(&p.proof),
    }
}

fn consistency_json(p: &ConsistencyProof) -> ConsistencyJson {
    ConsistencyJson {
        old_size: p.old_size,
        new_size: p.new_size,
        old_root: b64(&p.old_root),
        new_root: b64(&p.new_root),
        proof: b64_list(&p.proof),
    }
}

pub fn run(ctx: &Ctx, command: &ProveCommand) -> Result<ExitCode> {
    let replica = Replica::of(&ctx.data_dir())?;
    match command {
        ProveCommand::Inclusion { index, size } => {
            let proved = replica.inclusion_proof(*index, *size)?;
            let p = inclusion_json(&proved);
            if ctx.json {
                outln(&serde_json::to_string(&p).map_err(|e| CliError::check(e.to_string()))?)?;
            } else {
                outln(&format!(
                    "entry {} is in the tree of {} entries ({})",
                    p.index,
                    p.size,
                    if proved.committed {
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
            let p = consistency_json(&replica.consistency_proof(*old, *new)?);
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
