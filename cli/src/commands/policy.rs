//! `dyad policy show`: the channel's trust policy (spec/dyad.md section 9) as a C2SP
//! tlog-policy file, for auditors: the sequencer as the log, both parties as witnesses
//! `sequencer` and `cosigner`, the genesis witnesses as `w1`..., and the quorum the genesis
//! implies (the co-signer plus `witness_threshold` of the witnesses). It is read from the
//! replica's genesis entry, checked by the independent verifier first.

use std::process::ExitCode;

use clap::Subcommand;
use dyad_verifier::genesis::{check_genesis, Genesis};
use dyad_verifier::policy::{COSIGNER, SEQUENCER};
use serde_json::{json as j, Value};

use crate::commands::show::genesis_leaf;
use crate::error::{CliError, Result};
use crate::output::{json, out_bytes};
use crate::Ctx;

pub const EXAMPLES: &str = "\
Examples:
  dyad --data /srv/dyad/alpha policy show > channel.policy
  dyad policy show --json
  dyad verify receipt receipt-3.tlog-proof --policy channel.policy
  dyad audit --bundle full-log.dyad-sync --policy channel.policy

The policy names the sequencer's key under the channel's origin as its `log`, the two
parties as witnesses `sequencer` (never counted: a log does not witness itself; the line
gives the sequencer's name for its entry signatures) and `cosigner`, each genesis witness
as `w1`, `w2`, ..., and the quorum: the co-signer, plus witness_threshold of the witnesses.
An auditor may make it stricter (more witnesses, a higher threshold) before using it.";

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Write the channel's policy (C2SP tlog-policy text; --json for its parts).
    #[command(after_help = EXAMPLES)]
    Show,
}

pub fn run(ctx: &Ctx, command: &PolicyCommand) -> Result<ExitCode> {
    match command {
        PolicyCommand::Show => show(ctx),
    }
}

fn show(ctx: &Ctx) -> Result<ExitCode> {
    let leaf = genesis_leaf(&ctx.data_dir())?;
    let (_, genesis) = check_genesis(&leaf).map_err(|e| {
        CliError::check(format!("the replica's genesis entry does not verify: {e}"))
    })?;
    let policy = genesis
        .policy()
        .map_err(|e| CliError::check(format!("the genesis gives no valid policy: {e}")))?;
    let text = policy.to_string();
    if ctx.json {
        json(&policy_json(
            &genesis,
            &text,
            policy.quorum_name().unwrap_or_default(),
        ))?;
    } else {
        out_bytes(text.as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn policy_json(genesis: &Genesis, text: &str, quorum: &str) -> Value {
    let key = |p: &dyad_verifier::genesis::Party| {
        p.cosignature_key()
            .map(|k| k.to_string())
            .unwrap_or_default()
    };
    let witnesses: Vec<Value> = genesis
        .witnesses
        .iter()
        .enumerate()
        .map(|(i, w)| j!({"policy_name": format!("w{}", i + 1), "name": w.name, "key": key(w)}))
        .collect();
    j!({
        "origin": genesis.origin,
        "log": genesis.log_key().map(|k| k.to_string()).unwrap_or_default(),
        "sequencer": {"policy_name": SEQUENCER, "name": genesis.sequencer.name, "key": key(&genesis.sequencer)},
        "cosigner": {"policy_name": COSIGNER, "name": genesis.cosigner.name, "key": key(&genesis.cosigner)},
        "witnesses": witnesses,
        "witness_threshold": genesis.witness_threshold,
        "quorum": quorum,
        "policy": text,
    })
}
