//! `dyad witness-change approve | submit`: the parties replace the channel's witnesses and
//! threshold (spec/dyad.md 3.8). One party approves the new set through its running node
//! (`POST /admin/witness-change/approve`, spec/node.md 5.6), which signs the
//! witness-change statement with its current key; the approval file goes to the other
//! party, whose node makes the witness-change entry (`POST /admin/witness-change`): the
//! sequencer appends it, the co-signer queues it for the sequencer. Each witness's
//! add-checkpoint URL, given to either command, is stored by the sequencer's node (in its
//! `dyad.json`), which asks the witnesses.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use dyad_node::{
    ClientError, WitnessChangeApproval, WitnessChangeApproveRequest, WitnessChangeResponse,
    WitnessSpec,
};

use crate::bounded::{read_bounded, MAX_APPROVAL_FILE};
use crate::commands::init_witnesses::parse_witness_arg;
use crate::data::DataDir;
use crate::error::{CliError, Result};
use crate::output::{b64, json, key_id_hex, outln, write_file};
use crate::running_node::{probe, Probe, Running};
use crate::Ctx;

pub const EXAMPLES: &str = "\
Examples:
  # bravo (the co-signer) approves alpha's change to one witness, threshold 1
  dyad --data bravo witness-change approve --witness keys/w1.pub=https://w1.example \\
       --threshold 1 --out change.approval
  # alpha (the sequencer) makes the change with bravo's approval
  dyad --data alpha witness-change submit --approval change.approval
  # later: bravo removes every witness (alpha approves, bravo submits)
  dyad --data alpha witness-change approve --threshold 0 --out none.approval
  dyad --data bravo witness-change submit --approval none.approval

Both parties' nodes must run. The approval binds the channel, the new set and the
witness-change number (the next one when it is made): it is spent once a witness change
with that number is in the log. Give each witness's add-checkpoint URL to either command
(FILE.pub=URL, or --witness-url NAME=URL on submit): the sequencer's node stores it in its
dyad.json. From the first checkpoint that holds the change, the new witnesses must co-sign.";

#[derive(Subcommand, Debug)]
pub enum WitnessChangeCommand {
    /// Approve the other party's change to these witnesses and threshold; write the approval.
    #[command(after_help = EXAMPLES)]
    Approve(ApproveArgs),
    /// Make the witness change the other party approved (sequencer: append; co-signer: queue).
    #[command(after_help = EXAMPLES)]
    Submit(SubmitArgs),
}

#[derive(Args, Debug)]
pub struct ApproveArgs {
    /// A witness of the new set: its verifier key file, and optionally its add-checkpoint
    /// base URL (FILE.pub=URL). Repeatable, in the order the record lists them (0 to 32).
    #[arg(long, value_name = "FILE.pub[=URL]")]
    pub witness: Vec<String>,
    /// How many of the new witnesses must co-sign each checkpoint (0 to their number).
    #[arg(long, value_name = "K")]
    pub threshold: u8,
    /// Where to write the approval (JSON; refused if the file exists).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct SubmitArgs {
    /// The other party's approval file (`dyad witness-change approve --out`).
    #[arg(long, value_name = "FILE")]
    pub approval: PathBuf,
    /// A witness's add-checkpoint base URL, by its key name (NAME=URL). Repeatable.
    #[arg(long, value_name = "NAME=URL")]
    pub witness_url: Vec<String>,
}

/// How long the node may take: it signs (approve) or appends without waiting for the peer.
const NODE_TIMEOUT: Duration = Duration::from_secs(60);
/// At most this many witnesses (spec/dyad.md 3.8).
const MAX_WITNESSES: usize = 32;

pub fn run(ctx: &Ctx, command: &WitnessChangeCommand) -> Result<ExitCode> {
    match command {
        WitnessChangeCommand::Approve(args) => approve(ctx, args),
        WitnessChangeCommand::Submit(args) => submit(ctx, args),
    }
}

fn approve(ctx: &Ctx, args: &ApproveArgs) -> Result<ExitCode> {
    if args.witness.len() > MAX_WITNESSES {
        return Err(CliError::usage(format!(
            "{} --witness given; a witness set has at most {MAX_WITNESSES}",
            args.witness.len()
        )));
    }
    if usize::from(args.threshold) > args.witness.len() {
        return Err(CliError::usage(format!(
            "--threshold {} is more than the {} witness(es) given",
            args.threshold,
            args.witness.len()
        )));
    }
    let witnesses = args
        .witness
        .iter()
        .map(|arg| {
            let w = parse_witness_arg(arg)?;
            Ok(WitnessSpec {
                name: w.party.name.clone(),
                public_key: b64(&w.party.public_key),
                url: w.url,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    if args.out.exists() {
        return Err(CliError::Exists {
            path: args.out.clone(),
        });
    }
    let node = running_node(&ctx.data_dir(), "approve")?;
    let req = WitnessChangeApproveRequest {
        witnesses,
        witness_threshold: args.threshold,
    };
    let approval = node
        .admin
        .approve_witness_change_blocking(&req, NODE_TIMEOUT)
        .map_err(|e| refused("approve the witness change", e))?;
    let mut text = serde_json::to_string_pretty(&approval)
        .map_err(|e| CliError::usage(format!("cannot encode the approval: {e}")))?;
    text.push('\n');
    // Not secret: the statement and a signature anyone may verify (spec/dyad.md 3.8).
    write_file(&args.out, text.as_bytes(), false)?;
    if ctx.json {
        let mut out = serde_json::to_value(&approval)
            .map_err(|e| CliError::usage(format!("cannot encode the approval: {e}")))?;
        if let Some(o) = out.as_object_mut() {
            o.insert("out".into(), serde_json::json!(args.out));
        }
        json(&out)?;
        return Ok(ExitCode::SUCCESS);
    }
    outln(&format!(
        "approved witness change {} of {}: threshold {} of {} witness(es)",
        approval.number,
        approval.origin,
        approval.witness_threshold,
        approval.witnesses.len()
    ))?;
    show_witnesses(&approval.witnesses)?;
    outln(&format!(
        "signed by {} ({}); approval written to {}",
        approval.approver.name,
        approval.approver.key_id,
        args.out.display()
    ))?;
    eprintln!(
        "give {} to the other party: `dyad witness-change submit --approval FILE` makes the change",
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn submit(ctx: &Ctx, args: &SubmitArgs) -> Result<ExitCode> {
    let bytes = read_bounded(&args.approval, MAX_APPROVAL_FILE)?;
    let mut approval: WitnessChangeApproval = serde_json::from_slice(&bytes).map_err(|e| {
        CliError::malformed(
            &args.approval,
            format!("not a witness-change approval (`dyad witness-change approve --out`): {e}"),
        )
    })?;
    approval.witness_urls = witness_urls(&args.witness_url)?;
    let node = running_node(&ctx.data_dir(), "submit")?;
    let made = node
        .admin
        .witness_change_blocking(&approval, NODE_TIMEOUT)
        .map_err(|e| refused("make the witness change", e))?;
    report(ctx, &approval, &made)
}

/// `NAME=URL` arguments by name.
fn witness_urls(args: &[String]) -> Result<BTreeMap<String, String>> {
    let mut urls = BTreeMap::new();
    for arg in args {
        let Some((name, url)) = arg.split_once('=') else {
            return Err(CliError::usage(format!(
                "--witness-url {arg}: give NAME=URL (the witness's key name, its add-checkpoint base URL)"
            )));
        };
        let url = dyad_node::client::base_url(url).map_err(|_| {
            CliError::usage(format!(
                "--witness-url {arg}: {url:?} is not an http:// or https:// URL"
            ))
        })?;
        urls.insert(name.to_owned(), url);
    }
    Ok(urls)
}

fn report(
    ctx: &Ctx,
    approval: &WitnessChangeApproval,
    made: &WitnessChangeResponse,
) -> Result<ExitCode> {
    if ctx.json {
        let mut out = serde_json::to_value(made)
            .map_err(|e| CliError::usage(format!("cannot encode the answer: {e}")))?;
        if let Some(o) = out.as_object_mut() {
            o.insert(
                "witness_threshold".into(),
                serde_json::json!(approval.witness_threshold),
            );
            o.insert(
                "witnesses".into(),
                serde_json::json!(approval
                    .witnesses
                    .iter()
                    .map(|w| w.name.clone())
                    .collect::<Vec<_>>()),
            );
        }
        json(&out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let place = match (made.index, made.sequence) {
        (Some(index), _) => format!("appended as entry {index} (pending until co-signed)"),
        (None, Some(sequence)) => {
            format!("queued as message {sequence} for the sequencer")
        }
        (None, None) => made.state.clone(),
    };
    outln(&format!(
        "witness change {} {place}: threshold {} of {} witness(es)",
        made.number,
        approval.witness_threshold,
        approval.witnesses.len()
    ))?;
    show_witnesses(&approval.witnesses)?;
    for (name, url) in &made.stored_urls {
        outln(&format!("stored the URL of {name}: {url}"))?;
    }
    // spec/node.md 5.6: only the sequencer's node asks the witnesses. (The URLs inside an
    // approval the sequencer made were stored when it approved.)
    if made.index.is_none() && !approval.witness_urls.is_empty() {
        eprintln!(
            "note: a co-signer's node keeps no witness URLs; the sequencer's operator gives them in its approval (`--witness FILE.pub=URL`), or in its dyad.json's witness_urls and restarts its node"
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn show_witnesses(witnesses: &[WitnessSpec]) -> Result<()> {
    for w in witnesses {
        let id = crate::output::unb64(&w.public_key)
            .and_then(|k| <[u8; 32]>::try_from(k).ok())
            .and_then(|public_key| {
                dyad_ledger::genesis::Party {
                    name: w.name.clone(),
                    public_key,
                }
                .entry_key()
                .ok()
            })
            .map(|k| key_id_hex(k.key_id()))
            .unwrap_or_else(|| "?".into());
        let url = w.url.as_deref().unwrap_or("(no URL given)");
        outln(&format!("  witness {} ({id}) {url}", w.name))?;
    }
    Ok(())
}

/// The node running on the data directory: both commands go through it.
fn running_node(data: &DataDir, what: &str) -> Result<Box<Running>> {
    match probe(data)? {
        Probe::Running(node) => Ok(node),
        Probe::Absent => Err(CliError::usage_hint(
            format!("no node runs on {}", data.dir.display()),
            format!(
                "start it (`dyad serve`), then run `dyad witness-change {what}` again: the node signs with this party's current key"
            ),
        )),
        Probe::Silent {
            admin_socket,
            error,
        } => Err(CliError::usage_hint(
            format!(
                "a node's admin socket {} is there but does not answer ({error})",
                admin_socket.display()
            ),
            format!(
                "check the node (or remove a stale admin.sock and start it), then run `dyad witness-change {what}` again"
            ),
        )),
    }
}

/// The node's refusal (its body names the rule, e.g. `BadApproval: ...`), or why it could
/// not be asked.
fn refused(what: &str, e: ClientError) -> CliError {
    match e {
        ClientError::Status { status, body, .. } if (400..500).contains(&status) => {
            CliError::usage(format!(
                "the node refused to {what} ({status}): {}",
                body.trim_end()
            ))
        }
        e => CliError::usage_hint(
            format!("the node could not {what}: {e}"),
            "check the node (`dyad status`) and its log",
        ),
    }
}
