//! How `dyad log` and `dyad show` present an entry: its one-line summary (text and
//! JSON), its sender's name and role, committed or pending, and its payload as text
//! when that is safe to print.

use dyad_ledger::entry::{Entry, SignedEntry};
use dyad_ledger::genesis::Genesis;
use serde_json::{json as j, Value};

use crate::error::{CliError, Result};
use crate::output::{b64, format_ms, key_id_hex, printable};

/// The column headings above [`summary_line`]s.
pub fn header_line() -> String {
    format!(
        "{:>6}  {:<24}  {:<20}  {:<17}  {:<9}  {:>8}  SUBJECT",
        "INDEX", "TIME", "SENDER", "KIND", "STATUS", "REPLY-TO"
    )
}

pub fn sender_name(genesis: &Genesis, key_id: u32) -> String {
    genesis
        .party_by_key_id(key_id)
        .map_or_else(|| key_id_hex(key_id), |p| p.name.clone())
}

pub fn role_of(genesis: &Genesis, key_id: u32) -> &'static str {
    match genesis.party_by_key_id(key_id) {
        Some(p) if *p == genesis.sequencer => "sequencer",
        Some(_) => "cosigner",
        None => "unknown",
    }
}

pub fn entry_status(index: u64, committed: u64) -> &'static str {
    if index < committed {
        "committed"
    } else {
        "pending"
    }
}

pub fn summary_json(genesis: &Genesis, e: &SignedEntry, index: Option<u64>, status: &str) -> Value {
    let b = &e.entry.body;
    let mut v = j!({
        "index": index,
        "time": format_ms(b.timestamp_ms),
        "timestamp_ms": b.timestamp_ms,
        "sender": sender_name(genesis, b.sender),
        "sequence": b.sequence,
        "kind": b.kind.as_str(),
        "subject": b.subject,
        "reply_to": b.reply_to,
        "status": status,
        "leaf_hash": b64(&e.leaf_hash),
        "content_type": b.content_type,
        "payload_size": b.payload.len(),
        "attachments": b.attachments.len(),
    });
    if index.is_none() {
        if let Some(o) = v.as_object_mut() {
            o.remove("index");
        }
    }
    v
}

pub fn summary_line(genesis: &Genesis, e: &SignedEntry, index: &str, status: &str) -> String {
    let b = &e.entry.body;
    let reply = b.reply_to.map_or_else(|| "-".to_owned(), |r| r.to_string());
    let attach = if b.attachments.is_empty() {
        String::new()
    } else {
        format!(" [+{} attachment(s)]", b.attachments.len())
    };
    format!(
        "{index:>6}  {}  {:<20}  {:<17}  {:<9}  {:>8}  {}{attach}",
        format_ms(b.timestamp_ms),
        printable(&sender_name(genesis, b.sender)),
        b.kind.as_str(),
        status,
        reply,
        printable(&b.subject)
    )
}

pub fn read_entry(index: u64, bytes: &[u8]) -> Result<SignedEntry> {
    SignedEntry::decode(bytes).map_err(|e| {
        CliError::check(format!(
            "entry {index} in the store does not decode: {e}; run `dyad audit`"
        ))
    })
}

pub fn payload_text(entry: &Entry) -> Option<&str> {
    let text = std::str::from_utf8(&entry.body.payload).ok()?;
    // Text with escape sequences could rewrite the operator's screen: show it as binary.
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return None;
    }
    Some(text)
}
