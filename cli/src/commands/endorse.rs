//! `dyad endorse N`: this party signs that it agrees with record N, sent by the other
//! party (spec/dyad.md section 3.6). The endorsement names the record's index and leaf
//! hash, so it cannot endorse a changed record. The rules (the other party's record, not
//! endorsed yet) are checked before anything is signed: by this command against the
//! replica, or by the running node (`dyad serve`) it goes through, like `dyad append`.

use std::process::ExitCode;

use clap::builder::PossibleValuesParser;
use clap::Args;
use dyad_ledger::entry::Kind;
use dyad_ledger::tree::leaf_hash;
use dyad_verifier::joint_record::{EndorsementError, EndorsementPayload, ENDORSEMENT_CONTENT_TYPE};

use crate::commands::append::{send, Message};
use crate::error::{CliError, Result};
use crate::node_log::NodeLog;
use crate::running_node::{probe, Probe};
use crate::Ctx;

pub const ENDORSE_EXAMPLES: &str = "\
Examples:
  dyad log --awaiting-endorsement      # the other party's records I have not endorsed
  dyad show 7                          # read record 7 first
  dyad endorse 7

Only the other party's records can be endorsed, each once. The endorsement names the
record's index and leaf hash (spec 3.6). It is sent like `dyad append`: through the running
node, or on the sequencer appended at once, on the co-signer queued for `dyad sync export`.
A refused endorsement (exit 2) says which rule it breaks, e.g. EndorsementOfOwnRecord,
EndorsementOfNonRecord, EndorsedIndexMissing or SecondEndorsement; nothing is signed.";

#[derive(Args, Debug)]
pub struct EndorseArgs {
    /// The index of the record to endorse.
    #[arg(value_name = "INDEX")]
    pub index: u64,
    /// With a running node: answer once the endorsement is queued, accepted or committed.
    #[arg(long, value_name = "STATE", default_value = "accepted",
          value_parser = PossibleValuesParser::new(["queued", "accepted", "committed"]))]
    pub wait: String,
    /// With a running node: the longest wait for that state, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub timeout: u64,
}

/// A joint-record rule refused the message: bad input (exit 2), naming the rule.
pub fn refused(source: &EndorsementError) -> CliError {
    CliError::usage(format!("refused: {source} ({})", source.code()))
}

/// The leaf hash of entry `index` as this party's replica holds it; zero when it does not
/// hold it (the rules then refuse the endorsement: EndorsedIndexMissing).
fn record_leaf_hash(ctx: &Ctx, index: u64) -> Result<[u8; 32]> {
    let data = ctx.data_dir();
    if let Probe::Running(node) = probe(&data)? {
        let log = NodeLog::read(&node, &data)?;
        if index < log.size && index >= log.published {
            return Err(CliError::usage_hint(
                format!("entry {index} is not signed into the node's tree yet"),
                "try again in a moment",
            ));
        }
        if index >= log.published {
            return Ok([0; 32]);
        }
        return Ok(leaf_hash(&log.leaf(index)?));
    }
    let (_, channel) = data.open()?;
    if index >= channel.size() {
        return Ok([0; 32]);
    }
    Ok(channel.store().leaf_hash(index)?)
}

pub fn run(ctx: &Ctx, args: &EndorseArgs) -> Result<ExitCode> {
    let payload = EndorsementPayload {
        record: args.index,
        record_leaf_hash: record_leaf_hash(ctx, args.index)?,
    };
    let message = Message {
        kind: Kind::Endorsement,
        subject: format!("Endorses entry {}", args.index),
        content_type: Some(ENDORSEMENT_CONTENT_TYPE.to_owned()),
        payload: payload.encode().to_vec(),
        reply_to: Some(args.index),
        attachments: Vec::new(),
        stix_feed: None,
    };
    // append() (or the node) checks every rule of spec 3.6 before it signs.
    send(ctx, message, &args.wait, args.timeout)
}
