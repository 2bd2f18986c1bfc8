//! `dyad restore --from-peer URL`: rebuilds this party's replica from the peer's node alone,
//! for either role (spec/node.md section 10). The genesis, every entry and the newest
//! committed checkpoint come from the peer and are checked before anything is kept: the
//! genesis against this party's configuration, the entries against the checkpoint's root
//! and the channel rules, the checkpoint against both parties' keys. The new replica is
//! built beside the data directory's `ledger/` and only then put in its place; a replica
//! that was there is kept aside, never deleted.

use std::path::{Path, PathBuf};

use dyad_ledger::channel::Channel;
use dyad_ledger::entry::SignedEntry;
use dyad_ledger::genesis::{check_genesis, Party};
use dyad_node::catch_up::{prove_gap, ProvenChunks};
use dyad_node::{ClientError, TileClient};
use serde_json::json as j;

use crate::data::{Config, DataDir};
use crate::error::{CliError, Result};
use crate::output::{json, now_ms, outln, progress};
use crate::running_node::{check_url, probe, Probe};
use crate::Ctx;

/// Where the new replica is built before it replaces `ledger/`.
const BUILDING: &str = "ledger.restoring";

/// Rebuilds `data`'s replica from the peer's node at `url` and puts it in place.
pub fn restore_from_peer(ctx: &Ctx, data: &DataDir, url: &str) -> Result<()> {
    let url = check_url(url, "--from-peer")?;
    if let Probe::Running(node) = probe(data)? {
        return Err(CliError::usage_hint(
            format!(
                "a node runs on {} (admin socket {})",
                data.dir.display(),
                node.admin_socket.display()
            ),
            "stop the node first: a running node catches up from its peer by itself at start",
        ));
    }
    let config = data.read_config()?;
    let building = data.dir.join(BUILDING);
    if building.exists() {
        std::fs::remove_dir_all(&building).map_err(|e| io_error(&building, e))?;
    }
    let rebuilt = rebuild(data, &config, &url, &building);
    if rebuilt.is_err() {
        let _ = std::fs::remove_dir_all(&building);
    }
    let (size, committed) = rebuilt?;
    let kept_aside = install(data, &building)?;
    Channel::open(&data.ledger_path())?.keep_replica_record(&data.dir)?;
    if ctx.json {
        json(&j!({
            "restored_from_peer": url,
            "size": size,
            "committed_size": committed,
            "kept_aside": kept_aside,
        }))?;
    } else {
        outln(&format!(
            "rebuilt the replica from {url}: {size} entries, {committed} committed, every one checked"
        ))?;
        if let Some(old) = &kept_aside {
            outln(&format!(
                "the replica that was in place is kept in {}",
                old.display()
            ))?;
        }
    }
    Ok(())
}

/// Builds the replica in `building`: the peer's genesis, checked; its entries up to its
/// newest committed checkpoint, checked; that checkpoint. Returns (size, committed size).
fn rebuild(data: &DataDir, config: &Config, url: &str, building: &Path) -> Result<(u64, u64)> {
    let role = config.role()?;
    let key = config.signer_key()?;
    let peer_key = config.peer_key()?;
    let now = now_ms() / 1000;
    let (identity, _) =
        dyad_node::tls::TlsIdentity::load_or_create(&data.dir, &key, &config.origin, now)
            .map_err(|e| CliError::check(format!("this party's TLS identity: {e}")))?;
    let reach = dyad_node::Reach::party(&identity, &config.origin, &[peer_key.public_key_bytes()])?
        .allow_plain_http(url.starts_with("http://"));
    let client = TileClient::with_reach(url, reach)?;
    let rt = dyad_node::runtime::client()?;
    rt.block_on(async {
        let first = client.fetch_entries(0, 1).await?;
        let genesis_bytes = first
            .into_iter()
            .next()
            .ok_or_else(|| CliError::check(format!("{url} serves no entries")))?;
        let genesis_entry = check_peer_genesis(data, config, &genesis_bytes)?;
        let mut channel = Channel::create(building, &genesis_entry, role)?;
        let note = match client.checkpoint().await {
            Ok(note) => note,
            Err(ClientError::Status { status: 404, .. }) => {
                return Ok((channel.size(), channel.committed_size()?))
            }
            Err(e) => return Err(e.into()),
        };
        let checkpoint = channel
            .verify_committed(&note)
            .map_err(|e| CliError::check(format!("the peer's checkpoint does not verify: {e}")))?;
        let bar = progress(checkpoint.size, "checking the peer's entries");
        let frontier = channel.store().frontier().clone();
        let gap = prove_gap(&client, frontier, &checkpoint, |done, _| {
            bar.set_position(done)
        })
        .await
        .map_err(|e| CliError::check(format!("the peer's log: {e}")))?;
        bar.finish_and_clear();
        let bar = progress(checkpoint.size, "storing the peer's entries");
        let mut chunks = ProvenChunks::new(&client, gap);
        while let Some((_, entries)) = chunks
            .next()
            .await
            .map_err(|e| CliError::check(format!("the peer's log: {e}")))?
        {
            let size = channel.append_recovered(&entries, now_ms())?;
            bar.set_position(size);
        }
        bar.finish_and_clear();
        channel.add_committed_checkpoint(&note)?;
        Ok((channel.size(), channel.committed_size()?))
    })
}

/// The peer's entry 0, if it is this party's channel: its origin, this party in its role,
/// the peer the configuration names, and the signed genesis this party kept (if any).
fn check_peer_genesis(data: &DataDir, config: &Config, bytes: &[u8]) -> Result<SignedEntry> {
    let signed = SignedEntry::decode(bytes)
        .map_err(|e| CliError::check(format!("the peer's entry 0 is not a valid entry: {e}")))?;
    let genesis = check_genesis(&signed.entry)?;
    if genesis.origin != config.origin {
        return Err(CliError::check(format!(
            "the peer's channel is {:?}, not this party's {:?}",
            genesis.origin, config.origin
        )));
    }
    let own = Party::of(&config.signer_key()?);
    let peer = Party::from_verifier_key(&config.peer_key()?);
    let (expected_own, expected_peer) = match config.role()? {
        dyad_ledger::channel::Role::Sequencer => (&genesis.sequencer, &genesis.cosigner),
        dyad_ledger::channel::Role::Cosigner => (&genesis.cosigner, &genesis.sequencer),
    };
    if *expected_own != own || *expected_peer != peer {
        return Err(CliError::check(
            "the peer's genesis does not name this party and its peer in their roles: it is another channel",
        ));
    }
    // The co-signer keeps the genesis it signed as a one-record sync bundle.
    let kept = data.signed_genesis_path();
    if kept.is_file() {
        let bundle = crate::bundle::Bundle::read(&kept)?;
        let ours = bundle.records.iter().find_map(|r| match r {
            crate::bundle::Record::Genesis(bytes) => Some(bytes),
            _ => None,
        });
        if ours.is_some_and(|ours| ours != bytes) {
            return Err(CliError::check(format!(
                "the peer's entry 0 differs from the signed genesis kept in {}",
                kept.display()
            )));
        }
    }
    Ok(signed)
}

/// Puts the replica built in `building` in place of `ledger/`, keeping what was there.
fn install(data: &DataDir, building: &Path) -> Result<Option<PathBuf>> {
    let ledger = data.ledger_path();
    let kept_aside = if ledger.exists() {
        let aside = data
            .dir
            .join(format!("ledger.before-restore-{}", now_ms() / 1000));
        std::fs::rename(&ledger, &aside).map_err(|e| io_error(&ledger, e))?;
        Some(aside)
    } else {
        None
    };
    std::fs::rename(building, &ledger).map_err(|e| io_error(building, e))?;
    dyad_ledger::durable::sync_dir(&data.dir).map_err(|e| io_error(&data.dir, e))?;
    Ok(kept_aside)
}

fn io_error(path: &Path, e: std::io::Error) -> CliError {
    CliError::check(format!("{}: {e}", path.display()))
}
