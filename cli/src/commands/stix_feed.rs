//! `dyad append --kind threat-indicators --stix FEED.json`: a STIX 2.1 feed, validated
//! with the ledger's STIX module, sent as the entry's payload when it fits the channel's
//! `max_payload`, else attached (labelled `application/stix+json;version=2.1`, which the
//! TAXII feed serves, spec/node.md 11.3) with a summary payload: a small JSON object,
//! `application/json`, of the feed's object counts by type. The summary is not STIX, so
//! the ledger's STIX rule (which applies to payloads labelled STIX) does not apply to it;
//! the attachment was validated here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dyad_ledger::entry::Kind;
use dyad_ledger::stix::validate_document;
use serde_json::Value;

use super::append::{AppendArgs, Message};
use crate::bounded::read_bounded;
use crate::error::{CliError, Result};
use crate::running_node::{probe, Probe};
use crate::Ctx;

/// The largest feed read (it is validated in memory); the node's TAXII feed serves STIX
/// attachments up to the same size.
pub const MAX_FEED_FILE: u64 = 64 << 20;

/// The content type of the summary payload of an attached feed.
pub const SUMMARY_CONTENT_TYPE: &str = "application/json";

/// The content type a feed attachment is labelled with.
pub const STIX_CONTENT_TYPE: &str = "application/stix+json;version=2.1";

/// The message `dyad append --stix FEED` sends.
pub fn message(ctx: &Ctx, args: &AppendArgs, feed: &Path) -> Result<Message> {
    if args.kind != "threat-indicators" {
        return Err(CliError::usage(
            "--stix FEED is for --kind threat-indicators",
        ));
    }
    let bytes = read_bounded(feed, MAX_FEED_FILE)?;
    validate_document(&bytes).map_err(|e| {
        CliError::usage(format!(
            "{}: not a valid STIX 2.1 document: {e}",
            feed.display()
        ))
    })?;
    let max_payload = payload_limit(ctx)?;
    let mut message = Message {
        kind: Kind::ThreatIndicators,
        subject: args.subject.clone(),
        content_type: Some(STIX_CONTENT_TYPE.to_owned()),
        payload: Vec::new(),
        reply_to: args.reply_to,
        attachments: args.attach.clone(),
        stix_feed: None,
    };
    if bytes.len() as u64 <= u64::from(max_payload) {
        message.payload = bytes;
    } else {
        message.content_type = Some(SUMMARY_CONTENT_TYPE.to_owned());
        message.payload = summary(feed, &bytes);
        message.stix_feed = Some(PathBuf::from(feed));
    }
    Ok(message)
}

/// The channel's `max_payload`: from the running node, or from the replica.
fn payload_limit(ctx: &Ctx) -> Result<u32> {
    let data = ctx.data_dir();
    if let Probe::Running(node) = probe(&data)? {
        if let Some(max) = node.status["max_payload"].as_u64() {
            return Ok(u32::try_from(max).unwrap_or(u32::MAX));
        }
    }
    let (_, channel) = data.open()?;
    Ok(channel.genesis().max_payload)
}

/// `{"stix_feed": NAME, "objects": N, "by_type": {TYPE: COUNT, ...}}` of a valid document.
pub fn summary(feed: &Path, bytes: &[u8]) -> Vec<u8> {
    let doc: Value = serde_json::from_slice(bytes).unwrap_or_default();
    let objects: Vec<&Value> = match doc.get("type").and_then(Value::as_str) {
        Some("bundle") => doc
            .get("objects")
            .and_then(Value::as_array)
            .map(|o| o.iter().collect())
            .unwrap_or_default(),
        _ => vec![&doc],
    };
    let mut by_type: BTreeMap<&str, u64> = BTreeMap::new();
    for o in &objects {
        *by_type
            .entry(o.get("type").and_then(Value::as_str).unwrap_or("?"))
            .or_default() += 1;
    }
    let name = feed
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    serde_json::to_vec(&serde_json::json!({
        "stix_feed": name,
        "objects": objects.len(),
        "by_type": by_type,
    }))
    .unwrap_or_default()
}
