//! `dyad append`: sign a message. With a node running on the data directory (`dyad
//! serve`: `admin.sock` and `admin.token` there, and the node answers), the message goes
//! through the node's admin API: the sequencer's node appends it with its next batch, the
//! co-signer's node queues it and submits it to the sequencer. Without a node, the
//! sequencer appends it to the log at once (one durable batch); the co-signer queues it,
//! signed and durable, until `dyad sync export` carries it to the sequencer.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::builder::PossibleValuesParser;
use clap::Args;
use dyad_ledger::channel::{ChannelError, EntryRefusal, Role};
use dyad_ledger::entry::{is_safe_attachment_name, Attachment, Draft, EntryError, Kind};

use crate::bounded::{read_bounded, MAX_PAYLOAD_FILE};
use crate::data::DataDir;
use crate::error::{CliError, Result};
use crate::output::{b64, json, now_ms, outln};
use crate::running_node::{probe, Probe, Running};
use crate::Ctx;

pub const EXAMPLES: &str = "\
Examples:
  dyad append --kind inquiry --subject 'Scanning from 203.0.113.0/24' report.txt
  echo 'Looking into it.' | dyad append --kind response --reply-to 1 --subject 'Re: scanning' -
  dyad append --kind threat-indicators --subject 'Campaign IOCs' bundle.json
  dyad append --kind threat-indicators --subject 'Weekly feed' --stix feed.json
  dyad append --kind notification --subject 'Exercise on 3 March' --attach plan.pdf
  dyad append --kind record --subject 'Minutes, working group, 3 March' minutes.txt
  dyad append --kind record --subject 'Joint statement' --attach statement.pdf

Kinds: inquiry, response (needs --reply-to), threat-indicators, notification, record (a
working-group record: agenda, minutes, joint statement; it needs a subject and a payload
or --attach; the other party endorses it with `dyad endorse INDEX`), endorsement (made by
`dyad endorse`).
The payload is FILE, or standard input with '-', or empty. It is at most the channel's
max_payload (61440 bytes by default); send larger content with --attach FILE (repeatable):
the file is stored content-addressed beside the log and the entry names it by SHA-256.
Default content type: application/stix+json;version=2.1 for threat-indicators,
text/plain; charset=utf-8 otherwise.
--stix FEED.json (threat-indicators) validates the feed as STIX 2.1 and sends it as the
payload if it fits max_payload; a larger feed is attached (labelled
application/stix+json;version=2.1) with a summary payload (application/json: the object
counts by type).

On the sequencer this prints the entry's index, leaf hash and \"pending\" (it becomes
committed when the co-signer co-signs a checkpoint covering it). On the co-signer it
prints the message's sequence number, leaf hash and \"queued\".

With a node running on the data directory (`dyad serve`), the message goes through it and
this prints the entry's index (\"-\" while queued), leaf hash and state: pending, committed
or queued. --wait says how long to wait: queued (co-signer: once durably queued), accepted
(the default: in the sequencer's log, promised to the co-signer) or committed (co-signed).
If that state is not reached within --timeout, dyad says so and exits 1: the message is
accepted all the same, and the node carries on (`dyad log` shows its state).
With --attach, dyad stores the files in the data directory's attachment store beside the
running node, which checks it holds them before it signs; the peer's node fetches them
before it co-signs (or, on the sequencer, appends) the entry.";

pub const KINDS: [&str; 6] = [
    "inquiry",
    "response",
    "threat-indicators",
    "notification",
    "record",
    "endorsement",
];

#[derive(Args, Debug)]
pub struct AppendArgs {
    /// What the message is.
    #[arg(long, value_parser = PossibleValuesParser::new(KINDS))]
    pub kind: String,
    /// A one-line subject (at most 1024 bytes, no control or bidirectional-formatting
    /// characters).
    #[arg(long, default_value = "")]
    pub subject: String,
    /// The index of the entry this message answers (required for a response).
    #[arg(long, value_name = "INDEX")]
    pub reply_to: Option<u64>,
    /// The payload's media type.
    #[arg(long, value_name = "TYPE")]
    pub content_type: Option<String>,
    /// A file to attach (repeatable, at most 16).
    #[arg(long, value_name = "FILE")]
    pub attach: Vec<PathBuf>,
    /// The payload: a file, or '-' for standard input; empty if omitted.
    #[arg(value_name = "FILE|-")]
    pub payload: Option<PathBuf>,
    /// A STIX 2.1 feed (bundle or object) for threat-indicators: validated, then the
    /// payload if it fits the channel's max_payload, else attached with a summary payload.
    #[arg(long, value_name = "FEED.json", conflicts_with_all = ["payload", "content_type"])]
    pub stix: Option<PathBuf>,
    /// With a running node: answer once the message is queued, accepted or committed.
    #[arg(long, value_name = "STATE", default_value = "accepted",
          value_parser = PossibleValuesParser::new(["queued", "accepted", "committed"]))]
    pub wait: String,
    /// With a running node: the longest wait for that state, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub timeout: u64,
}

/// A message to sign, as the demo and the command line build it.
#[derive(Clone, Debug)]
pub struct Message {
    pub kind: Kind,
    pub subject: String,
    pub content_type: Option<String>,
    pub payload: Vec<u8>,
    pub reply_to: Option<u64>,
    pub attachments: Vec<PathBuf>,
    /// A STIX feed attached after `attachments`, labelled STIX (`dyad append --stix`).
    pub stix_feed: Option<PathBuf>,
}

impl Message {
    /// The files the entry attaches: `attachments`, then the STIX feed.
    fn attachment_paths(&self) -> Vec<PathBuf> {
        self.attachments
            .iter()
            .chain(&self.stix_feed)
            .cloned()
            .collect()
    }

    /// The attachments as planned, the STIX feed labelled as such.
    fn planned(&self) -> Result<Vec<Attachment>> {
        let mut planned = planned_attachments(&self.attachment_paths())?;
        if self.stix_feed.is_some() {
            if let Some(last) = planned.last_mut() {
                last.content_type = super::stix_feed::STIX_CONTENT_TYPE.to_owned();
            }
        }
        Ok(planned)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Appended {
    /// Sequencer: in the log at this index, pending.
    Logged { index: u64, leaf_hash: [u8; 32] },
    /// Co-signer: signed and queued with this sequence number.
    Queued { sequence: u64, leaf_hash: [u8; 32] },
}

pub fn default_content_type(kind: Kind) -> &'static str {
    match kind {
        Kind::ThreatIndicators => "application/stix+json;version=2.1",
        _ => "text/plain; charset=utf-8",
    }
}

fn guess_content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("json") => "application/json",
        Some("txt" | "log") => "text/plain; charset=utf-8",
        Some("csv") => "text/csv",
        Some("pdf") => "application/pdf",
        Some("xml") => "application/xml",
        Some("zip") => "application/zip",
        Some("gz") => "application/gzip",
        Some("pcap") => "application/vnd.tcpdump.pcap",
        _ => "application/octet-stream",
    }
}

/// Signs `message` and appends or queues it in the replica of `data`.
pub fn append(data: &DataDir, message: Message) -> Result<Appended> {
    let (config, mut channel) = data.open()?;
    let genesis = channel.genesis().clone();
    let content_type = message
        .content_type
        .clone()
        .unwrap_or_else(|| default_content_type(message.kind).to_owned());
    // The rules are checked before anything is stored: the attachments with placeholder
    // hashes, since their real ones are known only once they are stored.
    let planned = message.planned()?;
    let paths = message.attachment_paths();
    let mut draft = Draft::new(
        message.kind,
        &message.subject,
        &content_type,
        message.payload,
    );
    draft.reply_to = message.reply_to;
    draft.attachments = planned;
    let size = channel.size();
    channel.check_own_draft(&draft).map_err(|e| match e {
        ChannelError::Refused(refusal) => refused_draft(refusal, size),
        other => CliError::Channel(other),
    })?;
    let key = config.signer_key()?;
    store_attachments(
        data,
        genesis.max_attachment_size,
        &mut draft.attachments,
        &paths,
    )?;
    let own = |e: ChannelError| match e {
        // The operator's own message breaking a rule is bad input, not a failed check.
        ChannelError::Refused(refusal @ EntryRefusal::Invalid { .. }) => {
            refused_draft(refusal, size)
        }
        ChannelError::NotOurKey { name, role } => CliError::usage(format!(
            "the key file {} ({name}) is not the {role} of this channel",
            config.key_file.display()
        )),
        other => CliError::Channel(other),
    };
    let now = now_ms();
    match channel.role() {
        Role::Sequencer => {
            let appended = channel.append_own(&key, vec![draft], now).map_err(own)?;
            let a = appended
                .first()
                .ok_or_else(|| CliError::check("nothing was appended"))?;
            Ok(Appended::Logged {
                index: a.index,
                leaf_hash: a.leaf_hash,
            })
        }
        Role::Cosigner => {
            let signed = channel.queue_own(&key, draft, now).map_err(own)?;
            Ok(Appended::Queued {
                sequence: signed.entry.body.sequence,
                leaf_hash: signed.leaf_hash,
            })
        }
    }
}

/// Stores the files `paths` in the data directory's attachment store and gives `planned`
/// (from [`planned_attachments`]) their real hashes and sizes. Safe beside a running node:
/// the store takes concurrent writers (`dyad_ledger::attachments`, module documentation).
fn store_attachments(
    data: &DataDir,
    max_size: u64,
    planned: &mut [Attachment],
    paths: &[PathBuf],
) -> Result<()> {
    if paths.is_empty() {
        return Ok(());
    }
    let store = data.attachments(max_size)?;
    let mut stored = Vec::with_capacity(paths.len());
    for (attachment, path) in planned.iter_mut().zip(paths) {
        let file = std::fs::File::open(path).map_err(CliError::read(path))?;
        let (sha256, size) = store.put_reader(std::io::BufReader::new(file))?;
        if stored.contains(&sha256) {
            return Err(CliError::usage(format!(
                "{} is attached twice (same content)",
                path.display()
            )));
        }
        stored.push(sha256);
        attachment.sha256 = sha256;
        attachment.size = size;
    }
    Ok(())
}

/// The attachments `paths` make, as far as they are known before the files are stored:
/// each file's name and size, and a placeholder hash (distinct and ascending, as spec 3.1
/// wants) until storing gives the real one. A file name the entry rules refuse is
/// reported with its path.
fn planned_attachments(paths: &[PathBuf]) -> Result<Vec<Attachment>> {
    let mut planned = Vec::with_capacity(paths.len());
    for (i, path) in (0u64..).zip(paths) {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| is_safe_attachment_name(n))
            .ok_or_else(|| {
                CliError::usage(format!(
                    "{}: an attachment needs a UTF-8 file name of at most 255 bytes, without control or bidirectional-formatting characters",
                    path.display()
                ))
            })?;
        let size = std::fs::metadata(path).map_err(CliError::read(path))?.len();
        let mut sha256 = [0; 32];
        sha256[..8].copy_from_slice(&i.to_be_bytes());
        planned.push(Attachment {
            sha256,
            size,
            name: name.to_owned(),
            content_type: guess_content_type(path).to_owned(),
        });
    }
    Ok(planned)
}

/// The operator's message breaks a rule of [`Draft::check`]: bad input (exit 2), said in
/// terms of the command line. `size` is the replica's size, the index checked against.
fn refused_draft(refusal: EntryRefusal, size: u64) -> CliError {
    use EntryRefusal as R;
    const ATTACH_HINT: &str = "send large content as an attachment: --attach FILE";
    match refusal {
        R::Invalid { source, .. } => match source {
            EntryError::BadSubject => CliError::usage(
                "the subject must be at most 1024 bytes on one line, without control or bidirectional-formatting characters",
            ),
            EntryError::BadContentType => CliError::usage(
                "--content-type must be 1 to 255 printable ASCII characters, e.g. text/plain",
            ),
            EntryError::TooManyAttachments => {
                CliError::usage("an entry names at most 16 attachments")
            }
            EntryError::TooLarge { len } => CliError::usage_hint(
                format!("the encoded entry would be {len} bytes; an entry is at most 65535"),
                ATTACH_HINT,
            ),
            other => CliError::usage(format!("the message is not valid: {other}")),
        },
        R::GenesisNotFirst { .. } => {
            CliError::usage("a genesis entry is made by `dyad init`, not appended")
        }
        R::PayloadTooLarge { len, max, .. } => CliError::usage_hint(
            format!("the payload is {len} bytes; this channel's limit is {max} bytes"),
            ATTACH_HINT,
        ),
        R::ReplyToNotEarlier { reply_to: 0, .. } => CliError::usage(
            "--reply-to 0 is the genesis entry; a message answers an earlier message",
        ),
        R::ReplyToNotEarlier { reply_to, .. } => CliError::usage(format!(
            "--reply-to {reply_to}: this replica holds entries 0..{} only",
            size.saturating_sub(1)
        )),
        R::ResponseWithoutReplyTo { .. } => {
            CliError::usage("a response must say which entry it answers: --reply-to INDEX")
        }
        R::JointRecord { source, .. } => crate::commands::endorse::refused(&source),
        R::NotStix { source, .. } => CliError::usage(format!(
            "the payload is not a valid STIX 2.1 document (content type application/stix+json): {source}"
        )),
        R::AttachmentTooLarge { size, max, .. } => CliError::usage(format!(
            "an attachment of {size} bytes is over this channel's limit of {max} bytes"
        )),
        R::WitnessChange { .. } => CliError::usage_hint(
            format!("the witness change is refused: {refusal}"),
            "a witness change is made with the other party's approval: `dyad witness-change submit --approval FILE`",
        ),
        // Rules on who signed an entry and when: a draft is not signed yet.
        R::WrongOrigin { .. }
        | R::UnknownSender { .. }
        | R::BadSignature { .. }
        | R::RetiredKey { .. }
        | R::KeyChange { .. }
        | R::NewKeyReused { .. }
        | R::KeyChangeAsMessage { .. }
        | R::SequenceGap { .. }
        | R::TimestampBackwards { .. }
        | R::TimestampInFuture { .. } => {
            CliError::usage(format!("the message is not valid: {refusal}"))
        }
    }
}

pub fn run(ctx: &Ctx, args: &AppendArgs) -> Result<ExitCode> {
    let kind = Kind::parse(&args.kind)
        .ok_or_else(|| CliError::usage(format!("unknown kind {:?}", args.kind)))?;
    if let Some(feed) = &args.stix {
        let message = super::stix_feed::message(ctx, args, feed)?;
        return send(ctx, message, &args.wait, args.timeout);
    }
    let payload = match &args.payload {
        Some(path) => read_bounded(path, MAX_PAYLOAD_FILE)?,
        None => Vec::new(),
    };
    let message = Message {
        kind,
        subject: args.subject.clone(),
        content_type: args.content_type.clone(),
        payload,
        reply_to: args.reply_to,
        attachments: args.attach.clone(),
        stix_feed: None,
    };
    send(ctx, message, &args.wait, args.timeout)
}

/// Signs and sends `message`: through the node running on the data directory (waiting
/// for `wait`, at most `timeout` seconds), or else into the replica at once; prints where
/// it went.
pub fn send(ctx: &Ctx, message: Message, wait: &str, timeout: u64) -> Result<ExitCode> {
    let data = ctx.data_dir();
    match probe(&data)? {
        Probe::Running(node) => {
            return append_through_node(ctx, &node, message, wait, timeout);
        }
        Probe::Silent {
            admin_socket,
            error,
        } => {
            eprintln!(
                "dyad: warning: a node's admin socket {} is there but does not answer: {error}",
                admin_socket.display()
            );
            if let Err(e) = dyad_ledger::channel::Channel::open(&data.ledger_path()) {
                return Err(CliError::usage_hint(
                    format!("the node does not answer, and the store cannot be opened: {e}"),
                    "if the node is still starting or busy, try again; if it hangs, stop it (SIGTERM) and append again",
                ));
            }
            eprintln!("dyad: the store is not in use: appending without the node");
        }
        Probe::Absent => {}
    }
    match append(&data, message)? {
        Appended::Logged { index, leaf_hash } => {
            if ctx.json {
                json(
                    &serde_json::json!({"index": index, "leaf_hash": b64(&leaf_hash), "status": "pending"}),
                )?;
            } else {
                outln(&format!("{index} {} pending", b64(&leaf_hash)))?;
                eprintln!("appended entry {index}; it is pending until the co-signer co-signs a checkpoint covering it (dyad sync export)");
            }
        }
        Appended::Queued {
            sequence,
            leaf_hash,
        } => {
            if ctx.json {
                json(
                    &serde_json::json!({"sequence": sequence, "leaf_hash": b64(&leaf_hash), "status": "queued"}),
                )?;
            } else {
                outln(&format!("{sequence} {} queued", b64(&leaf_hash)))?;
                eprintln!("queued message {sequence} for the sequencer; send it with `dyad sync export --out FILE`");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Says at once, before a wait that could last until it runs out, that the node's peer
/// does not answer: the message is taken (and kept) but cannot reach the state asked for
/// until the peer is back.
fn warn_if_peer_is_down(node: &Running, wait: &str) {
    let peer = &node.status["peer"];
    let failures = peer["failures"].as_u64().unwrap_or(0);
    if failures == 0 || wait == "queued" || wait == "accepted" && node.status["role"] == "sequencer"
    {
        return;
    }
    let last = peer["last_error"].as_str().unwrap_or("no answer");
    eprintln!(
        "dyad: warning: the node's peer does not answer ({failures} failed attempt(s), last: {last}); the message is kept and goes out when the peer is back, but waiting for `{wait}` may run out first"
    );
}

/// Stores the files `paths` in the attachment store beside the running `node` and names
/// them for its admin API, which checks it holds them.
fn stored_beside_node(
    ctx: &Ctx,
    node: &Running,
    message: &Message,
) -> Result<Vec<dyad_node::AttachmentRef>> {
    let paths = &message.attachment_paths();
    let mut attachments = message.planned()?;
    // The node checks the limit again (its genesis); this keeps an oversized file out of
    // the store.
    let max_size = node.status["max_attachment_size"]
        .as_u64()
        .unwrap_or(dyad_ledger::genesis::DEFAULT_MAX_ATTACHMENT_SIZE);
    if let Some(a) = attachments.iter().find(|a| a.size > max_size) {
        return Err(CliError::usage(format!(
            "an attachment of {} bytes is over this channel's limit of {max_size} bytes",
            a.size
        )));
    }
    store_attachments(&ctx.data_dir(), max_size, &mut attachments, paths)?;
    Ok(attachments
        .into_iter()
        .map(|a| dyad_node::AttachmentRef {
            name: a.name,
            content_type: a.content_type,
            sha256: hex::encode(a.sha256),
            size: a.size,
        })
        .collect())
}

/// The rules of spec 3.1 the message must meet whatever the genesis and the log (its
/// fields, names and encoded size), checked before its attachments are stored beside the
/// running node: a message refused for its form leaves nothing in the store. What only the
/// node can check (the genesis limits, a reply beyond the log) it checks after.
fn check_form_before_storing(ctx: &Ctx, message: &Message, content_type: &str) -> Result<()> {
    let origin = ctx.data_dir().read_config()?.origin;
    let mut draft = Draft::new(
        message.kind,
        &message.subject,
        content_type,
        message.payload.clone(),
    );
    draft.reply_to = message.reply_to;
    draft.attachments = message.planned()?;
    draft
        .check_form(&origin)
        .map_err(|source| refused_draft(EntryRefusal::Invalid { index: 0, source }, 0))
}

/// `dyad append` through the node running on the data directory (its admin API).
fn append_through_node(
    ctx: &Ctx,
    node: &Running,
    message: Message,
    wait: &str,
    timeout: u64,
) -> Result<ExitCode> {
    use dyad_node::{AppendRequest, ClientError};
    let content_type = message
        .content_type
        .clone()
        .unwrap_or_else(|| default_content_type(message.kind).to_owned());
    check_form_before_storing(ctx, &message, &content_type)?;
    let attachments = stored_beside_node(ctx, node, &message)?;
    let req = AppendRequest {
        kind: message.kind.as_str().to_owned(),
        subject: message.subject,
        content_type,
        payload: b64(&message.payload),
        reply_to: message.reply_to,
        wait: Some(wait.to_owned()),
        timeout_ms: Some(timeout.saturating_mul(1000)),
        attachments,
    };
    warn_if_peer_is_down(node, wait);
    let (status, answer) = node.admin.append_blocking(&req).map_err(|e| match e {
        ClientError::Status { status, body, .. } if (400..500).contains(&status) => {
            CliError::usage(format!(
                "the node refused the message (HTTP {status}): {body}"
            ))
        }
        ClientError::Status {
            status: 503, body, ..
        } => CliError::usage_hint(
            format!("the node is not accepting messages now: {body}"),
            "it is stopping, overloaded, or not yet confirmed by its peer (see `dyad status`); try again in a moment",
        ),
        other => CliError::Client(other),
    })?;
    let leaf_hash = hex::decode(&answer.leaf_hash)
        .ok()
        .map_or_else(|| answer.leaf_hash.clone(), |h| b64(&h));
    // HTTP 202: the node took the message but did not reach the state asked for in time.
    let wait_ran_out = status == 202;
    let fields = serde_json::json!({
        "index": answer.index,
        "leaf_hash": leaf_hash,
        "status": answer.state,
        "via_node": node.admin_socket,
        "promise": answer.promise,
        "wait_timed_out": wait_ran_out,
    });
    if ctx.json {
        // A wait that ran out is an error: its JSON object carries these fields too.
        if !wait_ran_out {
            json(&fields)?;
        }
    } else {
        let index = answer
            .index
            .map_or_else(|| "-".to_owned(), |i| i.to_string());
        outln(&format!("{index} {leaf_hash} {}", answer.state))?;
        let what = match answer.state.as_str() {
            "committed" => "committed: a checkpoint co-signed by both parties covers it".to_owned(),
            "pending" => {
                "pending until the co-signer co-signs a checkpoint covering it (the node sends it)"
                    .to_owned()
            }
            _ => "queued: the node submits it to the sequencer".to_owned(),
        };
        let at = answer
            .index
            .map_or_else(String::new, |i| format!(" as entry {i}"));
        eprintln!(
            "sent through the node at {}{at}; {what}",
            node.admin_socket.display()
        );
    }
    if wait_ran_out {
        let error = CliError::WaitRanOut {
            wait: wait.to_owned(),
            seconds: timeout,
        };
        return Err(error.with_fields(fields));
    }
    Ok(ExitCode::SUCCESS)
}
