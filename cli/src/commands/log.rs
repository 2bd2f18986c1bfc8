//! `dyad log`: lists the entries of the replica, each marked committed (covered by a
//! co-signed checkpoint) or pending, and the co-signer's queued messages. While a node
//! runs on the data directory, the log is read through it.

use std::process::ExitCode;

use clap::Args;
use dyad_ledger::channel::{Channel, Role};
use dyad_ledger::entry::SignedEntry;
use serde_json::Value;

use crate::data::DataDir;
use crate::entry_view::{entry_status, header_line, read_entry, summary_json, summary_line};
use crate::error::Result;
use crate::node_log::NodeLog;
use crate::output::{out, outln};
use crate::running_node::{probe, Probe, Running};
use crate::Ctx;

pub const LOG_EXAMPLES: &str = "\
Examples:
  dyad log                       # every entry, oldest first
  dyad log --from 100 --limit 20
  dyad log --json | jq '.entries[] | select(.status == \"pending\")'
  dyad log --awaiting-endorsement  # records not endorsed yet, and by whom they await it

STATUS is committed (a checkpoint co-signed by both parties covers the entry), pending (in
the log, not yet co-signed), or queued (the co-signer's own message, not yet in the log).
While a node (`dyad serve`) runs on the data directory, the log is read through it: the
entries from its tiles API, the sizes from its admin API; queued messages are then only
counted (JSON: queued_count, and via_node is the node's URL).";

#[derive(Args, Debug)]
pub struct LogArgs {
    /// First index to list.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub from: u64,
    /// List at most this many entries.
    #[arg(long, value_name = "K")]
    pub limit: Option<u64>,
    /// List instead the records not endorsed yet: the other party's (awaiting this
    /// party's endorsement, `dyad endorse N`; marked when it is queued) and this party's
    /// own (awaiting theirs).
    #[arg(long, conflicts_with_all = ["from", "limit"])]
    pub awaiting_endorsement: bool,
}

/// Entries `[start, end)` of the `available` ones, as --from and --limit ask.
fn listed(args: &LogArgs, available: u64) -> (u64, u64) {
    let start = args.from.min(available);
    let end = match args.limit {
        Some(k) => start.saturating_add(k).min(available),
        None => available,
    };
    (start, end)
}

pub fn log(ctx: &Ctx, args: &LogArgs) -> Result<ExitCode> {
    if args.awaiting_endorsement {
        return super::awaiting::awaiting_endorsement(ctx);
    }
    let data = ctx.data_dir();
    if let Probe::Running(node) = probe(&data)? {
        return log_via_node(ctx, args, &node, &data);
    }
    let (_, channel) = data.open()?;
    let size = channel.size();
    let committed = channel.committed_size()?;
    let queued = if channel.role() == Role::Cosigner {
        channel.queued()?
    } else {
        Vec::new()
    };
    let range = listed(args, size);
    if ctx.json {
        log_json(&channel, range, committed, &queued)
    } else {
        log_text(&channel, range, committed, &queued)
    }?;
    Ok(ExitCode::SUCCESS)
}

/// Entries stream from the store one at a time: memory stays flat for any log size.
fn log_json(
    channel: &Channel,
    (start, end): (u64, u64),
    committed: u64,
    queued: &[SignedEntry],
) -> Result<()> {
    let genesis = channel.genesis();
    out(&format!(
        "{{\"origin\":{},\"role\":\"{}\",\"size\":{},\"committed_size\":{committed},\"entries\":[",
        Value::from(genesis.origin.clone()),
        channel.role().as_str(),
        channel.size()
    ))?;
    for (n, item) in channel.store().leaves(start..end)?.enumerate() {
        let (index, bytes) = item?;
        let e = read_entry(index, &bytes)?;
        let sep = if n == 0 { "" } else { "," };
        out(&format!(
            "{sep}{}",
            summary_json(genesis, &e, Some(index), entry_status(index, committed))
        ))?;
    }
    let queued: Vec<Value> = queued
        .iter()
        .map(|e| summary_json(genesis, e, None, "queued"))
        .collect();
    outln(&format!("],\"queued\":{}}}", Value::from(queued)))
}

fn log_text(
    channel: &Channel,
    (start, end): (u64, u64),
    committed: u64,
    queued: &[SignedEntry],
) -> Result<()> {
    let genesis = channel.genesis();
    let size = channel.size();
    outln(&format!(
        "channel {}: {size} entries, {committed} committed, {} pending{}",
        genesis.origin,
        size - committed,
        if queued.is_empty() {
            String::new()
        } else {
            format!(", {} queued", queued.len())
        }
    ))?;
    outln(&header_line())?;
    for item in channel.store().leaves(start..end)? {
        let (index, bytes) = item?;
        let e = read_entry(index, &bytes)?;
        outln(&summary_line(
            genesis,
            &e,
            &index.to_string(),
            entry_status(index, committed),
        ))?;
    }
    for e in queued {
        outln(&summary_line(genesis, e, "-", "queued"))?;
    }
    Ok(())
}

/// `dyad log` while a node runs on the data directory (and holds its store): the sizes
/// from the node's admin status, the entries from its tiles API (up to the tree it
/// publishes). The co-signer's queued messages are counted, not listed.
fn log_via_node(ctx: &Ctx, args: &LogArgs, node: &Running, data: &DataDir) -> Result<ExitCode> {
    let log = NodeLog::read(node, data)?;
    let range = listed(args, log.published);
    if ctx.json {
        log_json_via_node(&log, range)
    } else {
        log_text_via_node(&log, range)
    }?;
    Ok(ExitCode::SUCCESS)
}

fn log_json_via_node(log: &NodeLog, range: (u64, u64)) -> Result<()> {
    let committed = log.committed;
    out(&format!(
        "{{\"origin\":{},\"role\":{},\"size\":{},\"committed_size\":{committed},\"via_node\":{},\"entries\":[",
        Value::from(log.genesis.origin.clone()),
        Value::from(log.role.clone()),
        log.size,
        Value::from(log.url)
    ))?;
    let mut n = 0u64;
    log.for_each(range, |index, e| {
        let sep = if n == 0 { "" } else { "," };
        n += 1;
        out(&format!(
            "{sep}{}",
            summary_json(&log.genesis, e, Some(index), entry_status(index, committed))
        ))
    })?;
    outln(&format!(
        "],\"queued\":[],\"queued_count\":{},\"unpublished\":{}}}",
        log.queued,
        log.size - log.published
    ))
}

fn log_text_via_node(log: &NodeLog, range: (u64, u64)) -> Result<()> {
    let (size, committed, queued) = (log.size, log.committed, log.queued);
    outln(&format!(
        "channel {}: {size} entries, {committed} committed, {} pending{} (read through the running node at {})",
        log.genesis.origin,
        size - committed,
        if queued == 0 {
            String::new()
        } else {
            format!(", {queued} queued")
        },
        log.url
    ))?;
    outln(&header_line())?;
    log.for_each(range, |index, e| {
        outln(&summary_line(
            &log.genesis,
            e,
            &index.to_string(),
            entry_status(index, committed),
        ))
    })?;
    let unpublished = size - log.published;
    if unpublished > 0 {
        outln(&format!(
            "({unpublished} newer entr(ies) are being signed; run `dyad log` again to see them)"
        ))?;
    }
    if queued > 0 {
        outln(&format!(
            "({queued} of this party's messages are queued in the node for the sequencer)"
        ))?;
    }
    Ok(())
}
