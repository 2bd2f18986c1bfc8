//! `dyad indicators export`: one STIX 2.1 bundle of the threat indicators the peer sent,
//! from the committed `threat-indicators` entries of the replica (a STIX payload, and STIX
//! attachments from the attachment store), deduplicated by object id and version. It reads
//! the store directly: the node must be stopped (its running node holds the store).

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use dyad_ledger::entry::Kind;
use dyad_ledger::stix::{is_stix_content_type, validate_document};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{CliError, Result};
use crate::output::{json, write_file};
use crate::Ctx;

pub const EXAMPLES: &str = "\
Examples:
  dyad indicators export --out received.json             # everything the peer sent
  dyad indicators export --since 120 --out new.json      # from entry 120 on

The bundle holds the STIX objects of the peer's committed threat-indicators entries at or
after --since, in log order: each payload labelled application/stix+json and each
attachment so labelled (a feed sent with `dyad append --stix`). An object sent again with
the same id and version (modified, else created) is written once. Stop the node first.";

#[derive(Subcommand, Debug)]
pub enum IndicatorsCommand {
    /// Write the peer's indicators as one STIX 2.1 bundle.
    Export(ExportArgs),
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The first entry index to read.
    #[arg(long, value_name = "INDEX", default_value_t = 0)]
    pub since: u64,
    /// The bundle file to write (it must not exist).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

pub fn run(ctx: &Ctx, command: &IndicatorsCommand) -> Result<ExitCode> {
    match command {
        IndicatorsCommand::Export(args) => export(ctx, args),
    }
}

/// What the export found.
#[derive(Default)]
struct Collected {
    objects: Vec<Value>,
    entries: u64,
    duplicates: u64,
    seen: HashSet<(String, String)>,
}

impl Collected {
    fn add_document(&mut self, bytes: &[u8]) {
        let Ok(doc) = serde_json::from_slice::<Value>(bytes) else {
            return;
        };
        let objects = match doc {
            Value::Object(ref top) if top.get("type") == Some(&Value::from("bundle")) => top
                .get("objects")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            other => vec![other],
        };
        for object in objects {
            let text = |name: &str| object.get(name).and_then(Value::as_str).map(str::to_owned);
            let key = (
                text("id").unwrap_or_default(),
                text("modified")
                    .or_else(|| text("created"))
                    .unwrap_or_default(),
            );
            if self.seen.insert(key) {
                self.objects.push(object);
            } else {
                self.duplicates += 1;
            }
        }
    }
}

fn export(ctx: &Ctx, args: &ExportArgs) -> Result<ExitCode> {
    let data = ctx.data_dir();
    let (_, channel) = data.open().map_err(|e| {
        CliError::usage_hint(
            format!("cannot open the store: {e}"),
            "`dyad indicators export` reads the store itself: stop the node first",
        )
    })?;
    let own = channel
        .own_party()
        .entry_key()
        .map_err(dyad_ledger::channel::ChannelError::from)?
        .key_id();
    let store = data.attachments(channel.genesis().max_attachment_size)?;
    let committed = channel.committed_size()?;
    let mut found = Collected::default();
    for index in args.since..committed {
        let body = channel.entry(index)?.entry.body;
        if body.kind != Kind::ThreatIndicators || body.sender == own {
            continue;
        }
        found.entries += 1;
        if is_stix_content_type(&body.content_type) {
            found.add_document(&body.payload);
        }
        for a in body
            .attachments
            .iter()
            .filter(|a| is_stix_content_type(&a.content_type))
        {
            let bytes = store.get(&a.sha256)?;
            validate_document(&bytes).map_err(|e| {
                CliError::check(format!(
                    "entry {index}: attachment {}: not valid STIX 2.1: {e}",
                    a.name
                ))
            })?;
            found.add_document(&bytes);
        }
    }
    let bundle = serde_json::json!({
        "type": "bundle",
        "id": format!("bundle--{}", content_uuid(&found.objects)),
        "objects": found.objects,
    });
    let bytes = serde_json::to_vec_pretty(&bundle).map_err(|e| CliError::check(e.to_string()))?;
    write_file(&args.out, &bytes, false)?;
    let count = found.objects.len();
    if ctx.json {
        json(&serde_json::json!({
            "out": args.out,
            "objects": count,
            "entries": found.entries,
            "duplicates": found.duplicates,
            "since": args.since,
            "committed_size": committed,
        }))?;
    } else {
        eprintln!(
            "wrote {count} STIX objects from {} entries of the peer ({} duplicates left out) to {}",
            found.entries,
            found.duplicates,
            args.out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A UUID (RFC 4122 version 4 layout) derived from the objects, so that the same export
/// gives the same bundle id.
fn content_uuid(objects: &[Value]) -> String {
    let mut hasher = Sha256::new();
    for o in objects {
        hasher.update(o.to_string());
        hasher.update([0]);
    }
    let mut b = [0u8; 16];
    b.copy_from_slice(&hasher.finalize()[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}
