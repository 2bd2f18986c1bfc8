//! Reading a replica: `dyad log`, `dyad show`, `dyad checkpoint`, `dyad status`.
//! Every entry shown is marked committed (covered by a co-signed checkpoint) or pending.

use std::process::ExitCode;

use clap::Args;
use dyad_ledger::channel::Role;
use dyad_ledger::entry::{Entry, SignedEntry};
use dyad_ledger::genesis::Genesis;
use dyad_verifier::checkpoint::Checkpoint;
use serde_json::{json as j, Value};

use crate::error::{CliError, Result};
use crate::output::{b64, format_ms, json, out, out_bytes, outln, printable};
use crate::Ctx;

pub const LOG_EXAMPLES: &str = "\
Examples:
  dyad log                       # every entry, oldest first
  dyad log --from 100 --limit 20
  dyad log --json | jq '.entries[] | select(.status == \"pending\")'

STATUS is committed (a checkpoint co-signed by both parties covers the entry), pending (in
the log, not yet co-signed), or queued (the co-signer's own message, not yet in the log).
While a node (`dyad serve`) runs on the data directory, the log is read through it: the
entries from its tiles API, the sizes from its admin API; queued messages are then only
counted (JSON: queued_count, and via_node is the node's URL).";

pub const SHOW_EXAMPLES: &str = "\
Examples:
  dyad show 3
  dyad show 3 --json
  dyad show 3 --raw > entry-3.bin      # the exact leaf data: SHA-256(0x00 || it) is the leaf hash";

pub const CHECKPOINT_EXAMPLES: &str = "\
Examples:
  dyad checkpoint > latest.checkpoint
  dyad checkpoint --size 12
  dyad verify checkpoint latest.checkpoint --trust alpha.pub --trust bravo.pub";

#[derive(Args, Debug)]
pub struct LogArgs {
    /// First index to list.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub from: u64,
    /// List at most this many entries.
    #[arg(long, value_name = "K")]
    pub limit: Option<u64>,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The entry's index.
    pub index: u64,
    /// Write the entry's exact bytes (the leaf data) to standard output.
    #[arg(long, conflicts_with = "json")]
    pub raw: bool,
}

#[derive(Args, Debug)]
pub struct CheckpointArgs {
    /// The size of the co-signed checkpoint to print (default: the latest).
    #[arg(long, value_name = "N")]
    pub size: Option<u64>,
}

pub fn sender_name(genesis: &Genesis, key_id: u32) -> String {
    genesis
        .party_by_key_id(key_id)
        .map_or_else(|| format!("{key_id:08x}"), |p| p.name.clone())
}

fn role_of(genesis: &Genesis, key_id: u32) -> &'static str {
    match genesis.party_by_key_id(key_id) {
        Some(p) if *p == genesis.sequencer => "sequencer",
        Some(_) => "cosigner",
        None => "unknown",
    }
}

fn entry_status(index: u64, committed: u64) -> &'static str {
    if index < committed {
        "committed"
    } else {
        "pending"
    }
}

fn summary_json(genesis: &Genesis, e: &SignedEntry, index: Option<u64>, status: &str) -> Value {
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

fn summary_line(genesis: &Genesis, e: &SignedEntry, index: &str, status: &str) -> String {
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

fn read_entry(index: u64, bytes: &[u8]) -> Result<SignedEntry> {
    SignedEntry::decode(bytes).map_err(|e| {
        CliError::check(format!(
            "entry {index} in the store does not decode: {e}; run `dyad audit`"
        ))
    })
}

pub fn log(ctx: &Ctx, args: &LogArgs) -> Result<ExitCode> {
    let data = ctx.data_dir();
    if let crate::commands::node::Probe::Running(node) = crate::commands::node::probe(&data)? {
        return log_via_node(ctx, args, &node);
    }
    let (_, channel) = data.open()?;
    let genesis = channel.genesis().clone();
    let size = channel.size();
    let committed = channel.committed_size()?;
    let start = args.from.min(size);
    let end = match args.limit {
        Some(k) => start.saturating_add(k).min(size),
        None => size,
    };
    let queued = if channel.role() == Role::Cosigner {
        channel.queued()?
    } else {
        Vec::new()
    };
    // Entries stream from the store one at a time: memory stays flat for any log size.
    if ctx.json {
        out(&format!(
            "{{\"origin\":{},\"role\":\"{}\",\"size\":{size},\"committed_size\":{committed},\"entries\":[",
            Value::from(genesis.origin.clone()),
            channel.role().as_str()
        ))?;
        for (n, item) in channel.store().leaves(start..end)?.enumerate() {
            let (index, bytes) = item?;
            let e = read_entry(index, &bytes)?;
            let sep = if n == 0 { "" } else { "," };
            out(&format!(
                "{sep}{}",
                summary_json(&genesis, &e, Some(index), entry_status(index, committed))
            ))?;
        }
        let queued: Vec<Value> = queued
            .iter()
            .map(|e| summary_json(&genesis, e, None, "queued"))
            .collect();
        outln(&format!("],\"queued\":{}}}", Value::from(queued)))?;
        return Ok(ExitCode::SUCCESS);
    }
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
    outln(&format!(
        "{:>6}  {:<24}  {:<20}  {:<17}  {:<9}  {:>8}  SUBJECT",
        "INDEX", "TIME", "SENDER", "KIND", "STATUS", "REPLY-TO"
    ))?;
    for item in channel.store().leaves(start..end)? {
        let (index, bytes) = item?;
        let e = read_entry(index, &bytes)?;
        outln(&summary_line(
            &genesis,
            &e,
            &index.to_string(),
            entry_status(index, committed),
        ))?;
    }
    for e in &queued {
        outln(&summary_line(&genesis, e, "-", "queued"))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `dyad log` while a node runs on the data directory (and holds its store): the sizes
/// from the node's admin status, the entries from its tiles API (up to the tree it
/// publishes). The co-signer's queued messages are counted, not listed.
fn log_via_node(
    ctx: &Ctx,
    args: &LogArgs,
    node: &crate::commands::node::Running,
) -> Result<ExitCode> {
    let Some(url) = node.public_url.as_deref() else {
        return Err(CliError::usage_hint(
            format!(
                "a node runs on this data directory (admin socket {}) and holds the store",
                node.admin_socket.display()
            ),
            "read the log from the node's tiles API (dyad audit --url URL), or stop the node",
        ));
    };
    let st = &node.status;
    let num = |k: &str| st.get(k).and_then(Value::as_u64).unwrap_or(0);
    let size = num("size");
    let published = num("published_size").min(size);
    let committed = num("committed_size").min(size);
    let queued = num("queued");
    let role = st
        .get("role")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_owned();
    let read = |from: u64, to: u64| -> Result<Vec<(u64, SignedEntry)>> {
        let mut entries = Vec::new();
        if from >= to {
            return Ok(entries);
        }
        for item in dyad_node::fetch_entries(url, from, to)? {
            let (index, bytes) = item?;
            entries.push((index, read_entry(index, &bytes)?));
        }
        Ok(entries)
    };
    let genesis_entry = read(0, 1.min(published))?;
    let Some((_, first)) = genesis_entry.first() else {
        return Err(CliError::check("the node publishes no entries yet"));
    };
    let genesis = dyad_ledger::genesis::check_genesis(&first.entry).map_err(|e| {
        CliError::check(format!("entry 0 from the node is not a valid genesis: {e}"))
    })?;
    let start = args.from.min(published);
    let end = match args.limit {
        Some(k) => start.saturating_add(k).min(published),
        None => published,
    };
    let unpublished = size - published;
    if ctx.json {
        out(&format!(
            "{{\"origin\":{},\"role\":{},\"size\":{size},\"committed_size\":{committed},\"via_node\":{},\"entries\":[",
            Value::from(genesis.origin.clone()),
            Value::from(role),
            Value::from(url)
        ))?;
        // One bundle of 256 at a time: memory stays flat.
        let mut n = 0u64;
        let mut from = start;
        while from < end {
            let to = (from + 256).min(end);
            for (index, e) in read(from, to)? {
                let sep = if n == 0 { "" } else { "," };
                out(&format!(
                    "{sep}{}",
                    summary_json(&genesis, &e, Some(index), entry_status(index, committed))
                ))?;
                n += 1;
            }
            from = to;
        }
        outln(&format!(
            "],\"queued\":[],\"queued_count\":{queued},\"unpublished\":{unpublished}}}"
        ))?;
        return Ok(ExitCode::SUCCESS);
    }
    outln(&format!(
        "channel {}: {size} entries, {committed} committed, {} pending{} (read through the running node at {url})",
        genesis.origin,
        size - committed,
        if queued == 0 {
            String::new()
        } else {
            format!(", {queued} queued")
        }
    ))?;
    outln(&format!(
        "{:>6}  {:<24}  {:<20}  {:<17}  {:<9}  {:>8}  SUBJECT",
        "INDEX", "TIME", "SENDER", "KIND", "STATUS", "REPLY-TO"
    ))?;
    let mut from = start;
    while from < end {
        let to = (from + 256).min(end);
        for (index, e) in read(from, to)? {
            outln(&summary_line(
                &genesis,
                &e,
                &index.to_string(),
                entry_status(index, committed),
            ))?;
        }
        from = to;
    }
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
    Ok(ExitCode::SUCCESS)
}

fn payload_text(entry: &Entry) -> Option<&str> {
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

pub fn show(ctx: &Ctx, args: &ShowArgs) -> Result<ExitCode> {
    let data = ctx.data_dir();
    let (_, channel) = data.open()?;
    let size = channel.size();
    if args.index >= size {
        return Err(CliError::usage(format!(
            "there is no entry {}: the log has {size} entries (0..{})",
            args.index,
            size.saturating_sub(1)
        )));
    }
    let bytes = channel.store().leaf(args.index)?;
    if args.raw {
        out_bytes(&bytes)?;
        return Ok(ExitCode::SUCCESS);
    }
    let genesis = channel.genesis().clone();
    let e = read_entry(args.index, &bytes)?;
    let b = &e.entry.body;
    let st = entry_status(args.index, channel.committed_size()?);
    let store = data.attachments(genesis.max_attachment_size)?;
    let attachments: Vec<(String, bool)> = b
        .attachments
        .iter()
        .map(|a| (hex::encode(a.sha256), store.get(&a.sha256).is_ok()))
        .collect();
    if ctx.json {
        let mut v = summary_json(&genesis, &e, Some(args.index), st);
        let o = v
            .as_object_mut()
            .ok_or_else(|| CliError::check("internal: not an object"))?;
        o.insert("sender_key_id".into(), format!("{:08x}", b.sender).into());
        o.insert("sender_role".into(), role_of(&genesis, b.sender).into());
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
                .zip(&attachments)
                .map(|(a, (h, stored))| j!({"name": a.name, "size": a.size, "sha256": h, "content_type": a.content_type, "stored": stored}))
                .collect(),
        );
        o.insert(
            "signatures".into(),
            e.entry
                .signatures
                .iter()
                .map(
                    |s| j!({"key_id": format!("{:08x}", s.key_id), "signature": b64(&s.signature)}),
                )
                .collect(),
        );
        json(&v)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut text = String::new();
    text.push_str(&format!("entry {} ({st})\n", args.index));
    text.push_str(&format!("  time          {}\n", format_ms(b.timestamp_ms)));
    text.push_str(&format!(
        "  sender        {} ({}, key id {:08x}), message {}\n",
        printable(&sender_name(&genesis, b.sender)),
        role_of(&genesis, b.sender),
        b.sender,
        b.sequence
    ));
    text.push_str(&format!("  kind          {}\n", b.kind));
    if let Some(r) = b.reply_to {
        text.push_str(&format!("  reply to      {r}\n"));
    }
    text.push_str(&format!("  subject       {}\n", printable(&b.subject)));
    text.push_str(&format!("  content type  {}\n", b.content_type));
    text.push_str(&format!("  leaf hash     {}\n", b64(&e.leaf_hash)));
    for (a, (h, stored)) in b.attachments.iter().zip(&attachments) {
        text.push_str(&format!(
            "  attachment    {} ({} bytes, {}, sha256 {h}){}\n",
            printable(&a.name),
            a.size,
            a.content_type,
            if *stored { "" } else { " NOT STORED HERE" }
        ));
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
    out(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn parse_checkpoint(note: &[u8]) -> Result<Checkpoint> {
    let parsed = dyad_verifier::note::parse(note)
        .map_err(|e| CliError::check(format!("stored checkpoint note: {e}")))?;
    dyad_verifier::checkpoint::parse(&parsed.text)
        .map_err(|e| CliError::check(format!("stored checkpoint: {e}")))
}

pub fn checkpoint(ctx: &Ctx, args: &CheckpointArgs) -> Result<ExitCode> {
    let (_, channel) = ctx.data_dir().open()?;
    let found = match args.size {
        Some(size) => channel.store().checkpoint(size)?.map(|n| (size, n)),
        None => channel.store().latest_checkpoint()?,
    };
    let Some((_, note)) = found else {
        let what = args.size.map_or_else(
            || "no co-signed checkpoint yet".to_owned(),
            |s| format!("no co-signed checkpoint of size {s}"),
        );
        let sizes: Vec<String> = channel
            .store()
            .checkpoints()
            .filter_map(|c| c.ok())
            .map(|(s, _)| s.to_string())
            .collect();
        let hint = if sizes.is_empty() {
            "a checkpoint is committed when the co-signer co-signs it: exchange bundles with `dyad sync export` / `dyad sync import`".to_owned()
        } else {
            format!("co-signed sizes held here: {}", sizes.join(", "))
        };
        return Err(CliError::check_hint(what, hint));
    };
    if ctx.json {
        let cp = parse_checkpoint(&note)?;
        json(&j!({
            "origin": cp.origin,
            "size": cp.size,
            "root": b64(&cp.root),
            "note": String::from_utf8_lossy(&note),
        }))?;
    } else {
        out_bytes(&note)?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn status(ctx: &Ctx) -> Result<ExitCode> {
    let data = ctx.data_dir();
    let config = data.read_config()?;
    if !data.ledger_exists()? {
        if ctx.json {
            json(
                &j!({"origin": config.origin, "role": config.role, "state": "awaiting-genesis", "peer": config.peer}),
            )?;
        } else {
            outln(&format!(
                "channel {} ({}): waiting for the co-signer's signature on the genesis",
                config.origin, config.role
            ))?;
            outln(&format!(
                "next: `dyad --data {} sync import genesis.signed`",
                data.dir.display()
            ))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    // Damage the node found while serving (or `dyad verify store` found): exit 1.
    let damage = crate::commands::verify_store::recorded_damage(&data.dir);
    let code = if damage.is_some() {
        ExitCode::from(crate::error::EXIT_CHECK)
    } else {
        ExitCode::SUCCESS
    };
    if let Some(d) = damage.as_deref().filter(|_| !ctx.json) {
        outln(&crate::commands::verify_store::damage_line(d))?;
    }
    if let crate::commands::node::Probe::Running(node) = crate::commands::node::probe(&data)? {
        return status_via_node(ctx, &config, &node, damage).map(|_| code);
    }
    let (config, channel) = data.open()?;
    let size = channel.size();
    let committed = channel.committed_size()?;
    let queued = if channel.role() == Role::Cosigner {
        channel.queued()?.len()
    } else {
        0
    };
    let genesis = channel.genesis();
    let signed = match channel.latest_signed_checkpoint()? {
        Some(note) => Some(parse_checkpoint(&note)?.size),
        None => None,
    };
    if ctx.json {
        json(&j!({
            "origin": genesis.origin,
            "role": channel.role().as_str(),
            "state": "open",
            "self": channel.own_party().name,
            "peer": config.peer,
            "size": size,
            "root": b64(&channel.store().root()),
            "committed_size": committed,
            "pending": size - committed,
            "queued": queued,
            "signed_checkpoint_size": signed,
            "key_file": config.key_file,
            "damage": damage,
            "broken_promises": broken_promises_json(&data.dir),
        }))?;
        return Ok(code);
    }
    outln(&format!("channel     {}", genesis.origin))?;
    outln(&format!(
        "role        {} ({})",
        channel.role().as_str(),
        channel.own_party().name
    ))?;
    outln(&format!("sequencer   {}", genesis.sequencer.name))?;
    outln(&format!("co-signer   {}", genesis.cosigner.name))?;
    outln(&format!(
        "entries     {size} ({committed} committed, {} pending)",
        size - committed
    ))?;
    outln(&format!("root        {}", b64(&channel.store().root())))?;
    if channel.role() == Role::Cosigner {
        outln(&format!(
            "queued      {queued} of this party's messages await the sequencer"
        ))?;
    }
    broken_promises_line(&data.dir)?;
    let next = match channel.role() {
        Role::Sequencer if size > committed => {
            "export the pending entries for co-signing: `dyad sync export --out FILE`"
        }
        Role::Cosigner if queued > 0 => "send the queued messages: `dyad sync export --out FILE`",
        _ => "nothing waits to be synced",
    };
    outln(&format!("next        {next}"))?;
    Ok(code)
}

/// `dyad status` while a node runs on the data directory: its admin status.
fn status_via_node(
    ctx: &Ctx,
    config: &crate::data::Config,
    node: &crate::commands::node::Running,
    damage: Option<String>,
) -> Result<ExitCode> {
    let st = &node.status;
    let num = |k: &str| st.get(k).and_then(Value::as_u64).unwrap_or(0);
    let (size, committed, queued) = (num("size"), num("committed_size"), num("queued"));
    let role = st
        .get("role")
        .and_then(Value::as_str)
        .unwrap_or(&config.role);
    let peer = st.get("peer").cloned().unwrap_or(Value::Null);
    if ctx.json {
        json(&j!({
            "origin": config.origin,
            "role": role,
            "state": "serving",
            "peer": config.peer,
            "size": size,
            "committed_size": committed,
            "pending": size.saturating_sub(committed),
            "queued": queued,
            "signed_checkpoint_size": st.get("published_size"),
            "key_file": config.key_file,
            "damage": damage,
            "broken_promises": broken_promises_json(&ctx.data_dir().dir),
            "node": {
                "url": node.public_url,
                "admin_socket": node.admin_socket,
                "peer_url": st.get("peer_url"),
                "peer": peer,
            },
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    outln(&format!("channel     {}", config.origin))?;
    outln(&format!("role        {role}"))?;
    outln(&format!(
        "node        running at {} (admin socket {})",
        node.public_url.as_deref().unwrap_or("(public URL unknown)"),
        node.admin_socket.display()
    ))?;
    outln(&format!(
        "entries     {size} ({committed} committed, {} pending)",
        size.saturating_sub(committed)
    ))?;
    if role == "cosigner" {
        outln(&format!(
            "queued      {queued} of this party's messages await the sequencer"
        ))?;
    }
    let peer_url = st
        .get("peer_url")
        .and_then(Value::as_str)
        .unwrap_or("not set");
    let failures = peer.get("failures").and_then(Value::as_u64).unwrap_or(0);
    let health = match peer.get("last_error").and_then(Value::as_str) {
        Some(e) if failures > 0 => format!("{failures} failed attempt(s), last: {e}"),
        _ => "ok".to_owned(),
    };
    outln(&format!("peer        {peer_url} ({health})"))?;
    broken_promises_line(&ctx.data_dir().dir)?;
    Ok(ExitCode::SUCCESS)
}

/// The broken-promise evidence the co-signer kept in `<data dir>/evidence`: how many
/// files, and the newest (by modification time).
fn broken_promises(data_dir: &std::path::Path) -> (usize, Option<std::path::PathBuf>) {
    let Ok(dir) = std::fs::read_dir(data_dir.join(dyad_node::EVIDENCE_DIR)) else {
        return (0, None);
    };
    let mut found: Vec<(std::time::SystemTime, std::path::PathBuf)> = dir
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with(dyad_node::BROKEN_PROMISE_PREFIX)
                && name.ends_with(dyad_node::BROKEN_PROMISE_EXT)
        })
        .map(|e| {
            let time = e
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            (time, e.path())
        })
        .collect();
    found.sort();
    (found.len(), found.pop().map(|(_, p)| p))
}

fn broken_promises_json(data_dir: &std::path::Path) -> Value {
    let (count, newest) = broken_promises(data_dir);
    j!({"count": count, "newest": newest})
}

/// A `broken` line in the human status, when the sequencer broke a promise.
fn broken_promises_line(data_dir: &std::path::Path) -> Result<()> {
    if let (count @ 1.., Some(newest)) = broken_promises(data_dir) {
        outln(&format!(
            "broken      {count} promise(s) of inclusion broken by the sequencer; newest: {}",
            newest.display()
        ))?;
        outln(&format!(
            "            check it: dyad verify evidence {} --trust SEQUENCER.pub",
            newest.display()
        ))?;
    }
    Ok(())
}
