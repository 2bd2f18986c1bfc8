//! What `dyad receipt`, `dyad prove` and `dyad checkpoint` read out of the replica: from
//! the store, or, while a node runs on the data directory (it holds the store locked),
//! through its admin API. Both compute it with `dyad_ledger::reads`, and a refusal is the
//! same [`ReadError`] either way, worded here once: the output is the same byte for byte.

use std::future::Future;

use dyad_ledger::channel::Channel;
use dyad_ledger::reads::{self, ConsistencyProof, InclusionProof, ReadError, Receipt};
use dyad_node::client::ReadAnswer;

use crate::data::DataDir;
use crate::error::{CliError, Result};
use crate::running_node::{probe, Probe, Running};

/// Where the replica is read.
pub enum Replica {
    /// Through the node running on the data directory.
    Node(Box<Running>),
    /// From the store, opened here.
    Store(Box<Channel>),
}

impl Replica {
    /// The running node of `data` if one answers, else its store (which fails as opening
    /// it does when it cannot be opened).
    pub fn of(data: &DataDir) -> Result<Replica> {
        if let Probe::Running(node) = probe(data)? {
            return Ok(Replica::Node(node));
        }
        let (_, channel) = data.open()?;
        Ok(Replica::Store(Box::new(channel)))
    }

    /// [`reads::receipt`].
    pub fn receipt(&self, index: u64) -> Result<Receipt> {
        match self {
            Replica::Node(node) => ask(node.admin.receipt(index)),
            Replica::Store(channel) => Ok(reads::receipt(channel, index)?),
        }
    }

    /// [`reads::inclusion_proof`].
    pub fn inclusion_proof(&self, index: u64, size: Option<u64>) -> Result<InclusionProof> {
        match self {
            Replica::Node(node) => ask(node.admin.inclusion_proof(index, size)),
            Replica::Store(channel) => Ok(reads::inclusion_proof(channel, index, size)?),
        }
    }

    /// [`reads::consistency_proof`].
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<ConsistencyProof> {
        match self {
            Replica::Node(node) => ask(node.admin.consistency_proof(old, new)),
            Replica::Store(channel) => Ok(reads::consistency_proof(channel, old, new)?),
        }
    }

    /// [`reads::checkpoint_note`].
    pub fn checkpoint_note(&self, size: Option<u64>) -> Result<Vec<u8>> {
        match self {
            Replica::Node(node) => ask(node.admin.checkpoint_note(size)),
            Replica::Store(channel) => Ok(reads::checkpoint_note(channel, size)?),
        }
    }
}

/// A request to the node, on a runtime of its own.
fn ask<T>(request: impl Future<Output = ReadAnswer<T>>) -> Result<T> {
    Ok(dyad_node::runtime::client()?.block_on(request)??)
}

const EXCHANGE_BUNDLES: &str = "exchange bundles with `dyad sync export` / `dyad sync import`";

/// How each refusal is said, with its hint and exit code: a request for what cannot exist
/// is a usage error (2), one for what is not co-signed (yet) a check that did not hold (1).
impl From<ReadError> for CliError {
    fn from(e: ReadError) -> CliError {
        match e {
            ReadError::NoSuchEntry { index, held } => CliError::usage(format!(
                "there is no entry {index}: the log has {held} entries"
            )),
            ReadError::EntryPending {
                index,
                committed_size: 0,
            } => CliError::check_hint(
                format!("entry {index} is pending: no checkpoint is co-signed yet, so there is no receipt"),
                format!("a receipt needs the co-signer's co-signature: {EXCHANGE_BUNDLES}"),
            ),
            ReadError::EntryPending {
                index,
                committed_size,
            } => CliError::check_hint(
                format!(
                    "entry {index} is pending: the latest co-signed checkpoint covers entries 0..{}",
                    committed_size - 1
                ),
                "the entry is committed once the co-signer co-signs a checkpoint covering it: `dyad sync export`, then import the co-signer's answer",
            ),
            ReadError::TreeBeyondLog { size, held } => {
                CliError::usage(format!("--size {size}: the log has only {held} entries"))
            }
            ReadError::EntryNotInTree { index, size, held } => CliError::usage(format!(
                "entry {index} is not in a tree of {size} entries (the log has {held})"
            )),
            ReadError::NewTreeBeyondLog { new, held } => {
                CliError::usage(format!("NEW {new}: the log has only {held} entries"))
            }
            ReadError::OldAfterNew { old, new } => {
                CliError::usage(format!("OLD {old} is larger than NEW {new}"))
            }
            ReadError::NoCheckpointYet => {
                CliError::check_hint("no co-signed checkpoint yet", no_checkpoint_hint())
            }
            ReadError::NoCheckpointOfSize { size, sizes, older } => {
                let list: Vec<String> = sizes.iter().map(u64::to_string).collect();
                let hint = match (list.is_empty(), older) {
                    (true, _) => no_checkpoint_hint(),
                    (false, false) => format!("co-signed sizes held here: {}", list.join(", ")),
                    (false, true) => format!(
                        "co-signed sizes held here, the newest {}: {}",
                        list.len(),
                        list.join(", ")
                    ),
                };
                CliError::check_hint(format!("no co-signed checkpoint of size {size}"), hint)
            }
            ReadError::Store(e) => CliError::Store(e),
            ReadError::Channel(e) => CliError::Channel(e),
            // A refusal a newer ledger adds: said as it says it.
            e => CliError::check(e.to_string()),
        }
    }
}

fn no_checkpoint_hint() -> String {
    format!("a checkpoint is committed when the co-signer co-signs it: {EXCHANGE_BUNDLES}")
}
