//! `dyad show`: one entry in full (its payload as text when that is safe to print), or
//! with --raw its exact bytes, the Merkle leaf data. While a node runs on the data
//! directory the entry is read through it, with the same output.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use dyad_ledger::entry::{Attachment, Kind, SignedEntry};
use dyad_ledger::genesis::Genesis;
use serde_json::{json as j, Value};

use crate::attachment_files::{save_entry_attachments, NamedAttachment};
use crate::data::DataDir;
use crate::entry_view::{
    entry_status, payload_text, read_entry, role_of, sender_name, summary_json,
};
use crate::error::{CliError, Result};
use crate::joint::JointLog;
use crate::node_log::NodeLog;
use crate::output::{b64, format_ms, json, key_id_hex, out, out_bytes, printable};
use crate::running_node::{probe, Probe};
use crate::Ctx;

pub const SHOW_EXAMPLES: &str = "\
Examples:
  dyad show 3
  dyad show 3 --json
  dyad show 3 --raw > entry-3.bin      # the exact leaf data: SHA-256(0x00 || it) is the leaf hash
  dyad show 3 --save-attachments entry-3   # its attachments, checked, named as in a receipt directory";

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The entry's index.
    pub index: u64,
    /// Write the entry's exact bytes (the leaf data) to standard output.
    #[arg(long, conflicts_with = "json")]
    pub raw: bool,
    /// Also copy the entry's attachments into DIR (created; it must not exist or be
    /// empty), each checked against the entry while copied.
    #[arg(long, value_name = "DIR", conflicts_with = "raw")]
    pub save_attachments: Option<PathBuf>,
}

/// The entry to show, with what the replica knows of it.
struct Shown {
    index: u64,
    genesis: Genesis,
    entry: SignedEntry,
    /// `committed` or `pending`.
    status: &'static str,
    /// Each attachment's SHA-256 in hex, and whether its file is stored here.
    attachments: Vec<(String, bool)>,
}

/// The entry's bytes and what the replica knows of it, from the store, or through the
/// node when one runs on the data directory (it holds the store): the same answer.
struct Read {
    bytes: Vec<u8>,
    genesis: Genesis,
    committed: u64,
}

fn no_entry(index: u64, size: u64) -> CliError {
    CliError::usage(format!(
        "there is no entry {index}: the log has {size} entries (0..{})",
        size.saturating_sub(1)
    ))
}

fn read(data: &DataDir, index: u64) -> Result<Read> {
    if let Probe::Running(node) = probe(data)? {
        let log = NodeLog::read(&node, data)?;
        if index >= log.size {
            return Err(no_entry(index, log.size));
        }
        if index >= log.published {
            return Err(CliError::usage_hint(
                format!("entry {index} is not signed into the node's tree yet"),
                "try again in a moment",
            ));
        }
        return Ok(Read {
            bytes: log.leaf(index)?,
            committed: log.committed,
            genesis: log.genesis,
        });
    }
    let (_, channel) = data.open()?;
    let size = channel.size();
    if index >= size {
        return Err(no_entry(index, size));
    }
    Ok(Read {
        bytes: channel.store().leaf(index)?,
        committed: channel.committed_size()?,
        genesis: channel.genesis().clone(),
    })
}

pub fn show(ctx: &Ctx, args: &ShowArgs) -> Result<ExitCode> {
    let data = ctx.data_dir();
    let Read {
        bytes,
        genesis,
        committed,
    } = read(&data, args.index)?;
    if args.raw {
        out_bytes(&bytes)?;
        return Ok(ExitCode::SUCCESS);
    }
    let entry = read_entry(args.index, &bytes)?;
    let status = entry_status(args.index, committed);
    let store = data.attachments(genesis.max_attachment_size)?;
    let attachments = entry
        .entry
        .body
        .attachments
        .iter()
        .map(|a| {
            (
                hex::encode(a.sha256),
                store.holds(&a.sha256, a.size).unwrap_or(false),
            )
        })
        .collect();
    let saved = match &args.save_attachments {
        Some(dir) => {
            let named: Vec<NamedAttachment> = entry
                .entry
                .body
                .attachments
                .iter()
                .map(NamedAttachment::from)
                .collect();
            save_entry_attachments(&store, &named, dir)?
        }
        None => Vec::new(),
    };
    let shown = Shown {
        index: args.index,
        genesis,
        entry,
        status,
        attachments,
    };
    // What it says of endorsements, for a record or an endorsement (spec 3.6).
    let joint = match shown.entry.entry.body.kind {
        Kind::Record | Kind::Endorsement => JointLog::read(&data)?.describe(args.index),
        _ => None,
    };
    if ctx.json {
        let mut v = show_json(&shown)?;
        if args.save_attachments.is_some() {
            v["saved_attachments"] = j!(saved);
        }
        if let Some(joint) = &joint {
            v["endorsement"] = j!(joint);
        }
        json(&v)?;
    } else {
        out(&show_text(&shown))?;
        if let Some(joint) = joint {
            out(&format!("  endorsement   {}\n", printable(&joint)))?;
        }
        for path in &saved {
            eprintln!("saved {} (checked against the entry)", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn show_json(s: &Shown) -> Result<Value> {
    let (e, genesis) = (&s.entry, &s.genesis);
    let b = &e.entry.body;
    let mut v = summary_json(genesis, e, Some(s.index), s.status);
    let o = v
        .as_object_mut()
        .ok_or_else(|| CliError::check("internal: not an object"))?;
    o.insert("sender_key_id".into(), key_id_hex(b.sender).into());
    o.insert("sender_role".into(), role_of(genesis, b.sender).into());
    o.insert("origin".into(), b.origin.clone().into());
    o.insert("payload_base64".into(), b64(&b.payload).into());
    o.insert(
        "payload_text".into(),
        payload_text(&e.entry).map_or(Value::Null, Value::from),
    );
    o.insert(
        "attachments".into(),
        b.attachments
            .iter()
            .zip(&s.attachments)
            .map(|(a, (h, stored))| j!({"name": a.name, "size": a.size, "sha256": h, "content_type": a.content_type, "stored": stored}))
            .collect(),
    );
    o.insert(
        "signatures".into(),
        e.entry
            .signatures
            .iter()
            .map(|s| j!({"key_id": key_id_hex(s.key_id), "signature": b64(&s.signature)}))
            .collect(),
    );
    Ok(v)
}

fn show_text(s: &Shown) -> String {
    let (e, genesis) = (&s.entry, &s.genesis);
    let b = &e.entry.body;
    let mut text = String::new();
    text.push_str(&format!("entry {} ({})\n", s.index, s.status));
    text.push_str(&format!("  time          {}\n", format_ms(b.timestamp_ms)));
    text.push_str(&format!(
        "  sender        {} ({}, key id {}), message {}\n",
        printable(&sender_name(genesis, b.sender)),
        role_of(genesis, b.sender),
        key_id_hex(b.sender),
        b.sequence
    ));
    text.push_str(&format!("  kind          {}\n", b.kind));
    if let Some(r) = b.reply_to {
        text.push_str(&format!("  reply to      {r}\n"));
    }
    text.push_str(&format!("  subject       {}\n", printable(&b.subject)));
    text.push_str(&format!("  content type  {}\n", b.content_type));
    text.push_str(&format!("  leaf hash     {}\n", b64(&e.leaf_hash)));
    for (a, (h, stored)) in b.attachments.iter().zip(&s.attachments) {
        text.push_str(&attachment_line(a, h, *stored));
    }
    match payload_text(&e.entry) {
        Some(t) if !t.is_empty() => {
            text.push_str(&format!("  payload       {} bytes:\n\n", b.payload.len()));
            text.push_str(t);
            if !t.ends_with('\n') {
                text.push('\n');
            }
        }
        Some(_) => text.push_str("  payload       (empty)\n"),
        None => text.push_str(&format!(
            "  payload       {} bytes of binary data (see --json or --raw)\n",
            b.payload.len()
        )),
    }
    text
}

fn attachment_line(a: &Attachment, sha256_hex: &str, stored: bool) -> String {
    format!(
        "  attachment    {} ({} bytes, {}, sha256 {sha256_hex}){}\n",
        printable(&a.name),
        a.size,
        a.content_type,
        if stored { "" } else { " NOT STORED HERE" }
    )
}

/// The genesis entry's bytes (leaf 0), from the store or through the running node.
pub fn genesis_leaf(data: &DataDir) -> Result<Vec<u8>> {
    read(data, 0).map(|r| r.bytes)
}
