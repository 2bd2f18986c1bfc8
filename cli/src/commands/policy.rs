//! `dyad policy show`: the channel's trust policy (spec/dyad.md section 9) as a C2SP
//! tlog-policy file, for auditors: the sequencer as the log, both parties as witnesses
//! `sequencer` and `cosigner`, the genesis witnesses as `w1`..., and the quorum the genesis
//! implies (the co-signer plus `witness_threshold` of the witnesses). It is read from the
//! replica's genesis entry, checked by the independent verifier first. After witness
//! changes (spec/dyad.md 3.8) it names the witnesses and threshold of the last one, and says
//! from which checkpoint size it holds: a policy does not follow witness changes (9).

use std::process::ExitCode;

use clap::Subcommand;
use dyad_ledger::entry::{Kind, SignedEntry};
use dyad_verifier::genesis::{check_genesis, Genesis};
use dyad_verifier::policy::{COSIGNER, SEQUENCER};
use dyad_verifier::witness_change::WitnessChangePayload;
use serde_json::{json as j, Value};

use crate::commands::show::genesis_leaf;
use crate::data::DataDir;
use crate::error::{CliError, Result};
use crate::node_log::NodeLog;
use crate::output::{json, out_bytes};
use crate::running_node::{probe, Probe};
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
An auditor may make it stricter (more witnesses, a higher threshold) before using it.
After a witness change it names the witnesses of the last change and holds for the
checkpoints after it only (a policy does not follow witness changes): audit the whole log
with --trust, which does.";

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
    let (changes, last) = witness_changes(&ctx.data_dir())?;
    let mut terms = genesis.clone();
    let holds_from = match &last {
        Some((index, change)) => {
            terms.witnesses = change.witnesses.clone();
            terms.witness_threshold = change.witness_threshold;
            index + 1
        }
        None => 0,
    };
    let policy = terms
        .policy()
        .map_err(|e| CliError::check(format!("the channel gives no valid policy: {e}")))?;
    let text = policy.to_string();
    if ctx.json {
        let mut v = policy_json(&terms, &text, policy.quorum_name().unwrap_or_default());
        v["witness_changes"] = j!(changes);
        v["holds_from_size"] = j!(holds_from);
        json(&v)?;
    } else {
        if let Some((index, _)) = &last {
            eprintln!(
                "note: the witnesses changed at entry {index} (spec/dyad.md 3.8): this policy names the witnesses since then and holds for checkpoints of size {holds_from} and more; audit the whole log with --trust, which follows witness changes"
            );
        }
        out_bytes(text.as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A witness change's index and its record.
type IndexedChange = (u64, WitnessChangePayload);

/// The indices of the channel's witness changes, and the last one with its record: from
/// the store, or, while a node runs, by reading the log through it.
fn witness_changes(data: &DataDir) -> Result<(Vec<u64>, Option<IndexedChange>)> {
    let mut found: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut take = |index: u64, e: &SignedEntry| {
        if e.entry.body.kind == Kind::WitnessChange {
            found.push((index, e.entry.body.payload.clone()));
        }
        Ok(())
    };
    if let Probe::Running(node) = probe(data)? {
        let log = NodeLog::read(&node, data)?;
        log.for_each((0, log.published), take)?;
    } else {
        let (_, channel) = data.open()?;
        for index in channel.witness_changes() {
            take(index, &channel.entry(index)?)?;
        }
    }
    let indices = found.iter().map(|(i, _)| *i).collect();
    let last = match found.pop() {
        Some((index, payload)) => Some((
            index,
            WitnessChangePayload::decode(&payload).map_err(|e| {
                CliError::check(format!("the witness change at entry {index}: {e}"))
            })?,
        )),
        None => None,
    };
    Ok((indices, last))
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
