//! `dyad status`: the channel, this party's role, the log's sizes, what waits to be
//! synced, recorded store damage and broken promises; through the node while one runs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use dyad_ledger::channel::Role;
use serde_json::{json as j, Value};

use crate::commands::checkpoint::parse_stored;
use crate::commands::verify_store::{damage_line, recorded_damage};
use crate::data::Config;
use crate::error::{Result, EXIT_CHECK};
use crate::output::{b64, json, outln};
use crate::running_node::{probe, Probe, Running};
use crate::Ctx;

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
    let damage = recorded_damage(&data.dir);
    let code = if damage.is_some() {
        ExitCode::from(EXIT_CHECK)
    } else {
        ExitCode::SUCCESS
    };
    if let Some(d) = damage.as_deref().filter(|_| !ctx.json) {
        outln(&damage_line(d))?;
    }
    if let Probe::Running(node) = probe(&data)? {
        return status_via_node(ctx, &config, &node, damage).map(|_| code);
    }
    let (config, channel) = data.open()?;
    let size = channel.size();
    let committed = channel.committed_size()?;
    let queued = if channel.role() == Role::Cosigner {
        channel.queued_len()?
    } else {
        0
    };
    let genesis = channel.genesis();
    let signed = match channel.latest_signed_checkpoint()? {
        Some(note) => Some(parse_stored(&note)?.size),
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
    config: &Config,
    node: &Running,
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
                "transport": st.get("transport"),
                "public_read": st.get("public_read"),
                "tls_pin": st.get("tls_pin"),
                "warnings": st.get("warnings"),
                "witnesses": st.get("witnesses"),
                "publish": st.get("publish"),
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
    witness_lines(st.get("witnesses"))?;
    publish_line(st.get("publish"))?;
    let transport = st.get("transport").and_then(Value::as_str).unwrap_or("?");
    let reads = if st.get("public_read").and_then(Value::as_bool) == Some(true) {
        "open to anyone (--public-read)"
    } else {
        "the peer and read-credential holders"
    };
    outln(&format!("transport   {transport}; reads: {reads}"))?;
    for warning in st
        .get("warnings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        outln(&format!("warning     {warning}"))?;
    }
    broken_promises_line(&ctx.data_dir().dir)?;
    Ok(ExitCode::SUCCESS)
}

/// `dyad serve --publish`: where, how far, and the last failure if the last try failed.
fn publish_line(publish: Option<&Value>) -> Result<()> {
    let Some(p) = publish.filter(|p| !p.is_null()) else {
        return Ok(());
    };
    let num = |k: &str| p.get(k).and_then(Value::as_u64).unwrap_or(0);
    let url = p.get("url").and_then(Value::as_str).unwrap_or("?");
    let what = if p.get("hash_only").and_then(Value::as_bool) == Some(true) {
        " (hash tiles and checkpoints only)"
    } else {
        ""
    };
    let mut line = format!(
        "publish     {url}{what}: {} published, {} committed entries behind, {} failed publish(es)",
        num("published_size"),
        num("lag"),
        num("errors")
    );
    if let Some(e) = p.get("last_error").and_then(Value::as_str) {
        line.push_str(&format!("; failing now: {e}"));
    }
    outln(&line)
}

/// The broken-promise evidence the co-signer kept in `<data dir>/evidence`: how many
/// files, and the newest (by modification time).
fn broken_promises(data_dir: &Path) -> (usize, Option<PathBuf>) {
    let Ok(dir) = std::fs::read_dir(data_dir.join(dyad_node::EVIDENCE_DIR)) else {
        return (0, None);
    };
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = dir
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

fn broken_promises_json(data_dir: &Path) -> Value {
    let (count, newest) = broken_promises(data_dir);
    j!({"count": count, "newest": newest})
}

/// A `broken` line in the human status, when the sequencer broke a promise.
fn broken_promises_line(data_dir: &Path) -> Result<()> {
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

/// One line per genesis witness: the size it co-signed, its lag, its last error.
fn witness_lines(witnesses: Option<&Value>) -> Result<()> {
    let Some(w) = witnesses else { return Ok(()) };
    let threshold = w.get("threshold").and_then(Value::as_u64).unwrap_or(0);
    let list = w
        .get("witnesses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if list.is_empty() {
        return Ok(());
    }
    outln(&format!(
        "witnesses   {threshold} of {} must co-sign for an entry to be committed",
        list.len()
    ))?;
    for x in &list {
        let name = x.get("name").and_then(Value::as_str).unwrap_or("?");
        let cosigned = x.get("cosigned_size").and_then(Value::as_u64);
        let lag = x.get("lag").and_then(Value::as_u64).unwrap_or(0);
        let state = match (
            x.get("url").and_then(Value::as_str),
            x.get("last_error").and_then(Value::as_str),
        ) {
            (None, _) => "no URL configured (dyad init --witness FILE.pub=URL)".to_owned(),
            (Some(_), Some(e)) => format!("last error: {e}"),
            (Some(url), None) => format!("ok at {url}"),
        };
        let cosigned = cosigned.map_or("nothing yet".to_owned(), |s| format!("size {s}"));
        outln(&format!(
            "  witness   {name}: co-signed {cosigned}, {lag} behind; {state}"
        ))?;
    }
    Ok(())
}
