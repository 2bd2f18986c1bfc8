//! `dyad restore --from-peer URL`: rebuilds this party's replica from the peer's node alone,
//! for either role (spec/node.md section 10), after key changes too (spec/dyad.md 3.7). The
//! genesis, every entry and the newest committed checkpoint come from the peer and are
//! checked before anything is kept: the genesis against this party's configuration, every
//! entry by the channel rules from the genesis keys on (key changes included) as it is
//! stored, the checkpoint against the tree they make and the parties' keys at its size.
//! Only the verified log says which keys are current, so two checks come last: the peer's
//! node presented a TLS binding by the peer's key at the committed size (the handshake took
//! any valid binding and recorded its key, `dyad_node::tls::DeferredPartyVerifier`), and
//! `dyad.json` names this party's current key. The new replica is built beside the data
//! directory's `ledger/` and only then put in its place; a replica that was there is kept
//! aside, never deleted; on any failure the new one is removed.

use std::path::{Path, PathBuf};

use dyad_ledger::channel::{Channel, ChannelError, Role};
use dyad_ledger::entry::SignedEntry;
use dyad_ledger::genesis::{check_genesis, Party};
use dyad_ledger::keys::SignerKey;
use dyad_ledger::replica_record::{ReplicaRecord, REPLICA_RECORD_FILE};
use dyad_node::catch_up::UncheckedChunks;
use dyad_node::tls::{DeferredPartyVerifier, TlsIdentity};
use dyad_node::{ClientError, TileClient};
use serde_json::json as j;

use crate::data::{Config, DataDir};
use crate::error::{CliError, Result};
use crate::output::{json, key_id_hex, now_ms, outln, progress};
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
    let rebuilt = rebuild(data, &config, &url, &building).and_then(|(size, committed)| {
        check_not_older(data, &config.origin, committed).map(|()| (size, committed))
    });
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

/// This party's keys as `dyad.json` names them: the current one and the one before.
struct OwnKeys {
    current: SignerKey,
    previous: Option<SignerKey>,
}

/// A certificate this party can present to the peer's node, and what it is (for errors).
struct ClientIdentity {
    identity: TlsIdentity,
    what: String,
}

/// The certificates this party can present, best first; nothing is written. The peer
/// accepts a binding by this party's key at its committed size (spec/node.md 9.4), which
/// only the log says: first the data directory's own certificate as the node left it
/// (bound by that key when the node last ran), then ones made in memory bound by
/// `dyad.json`'s key and by its previous key (a key change not committed yet), unless the
/// replica in place shows that key retired.
fn client_identities(data: &DataDir, origin: &str, keys: &OwnKeys) -> Result<Vec<ClientIdentity>> {
    let now = now_ms() / 1000;
    let tls_error = |e: dyad_node::tls::IdentityError| {
        CliError::check(format!("this party's TLS identity: {e}"))
    };
    let mut out = Vec::new();
    let mut bound_by = Vec::new();
    if let Some((identity, key)) =
        TlsIdentity::load_as_is(&data.dir, origin, now).map_err(tls_error)?
    {
        bound_by.push(key);
        out.push(ClientIdentity {
            identity,
            what: format!(
                "the data directory's certificate (bound by {})",
                hex::encode(key)
            ),
        });
    }
    let previous = keys
        .previous
        .as_ref()
        .filter(|k| !retired_in_place(data, k));
    let named = std::iter::once((&keys.current, "key_file"))
        .chain(previous.map(|k| (k, "previous_key_file")));
    for (key, field) in named {
        if bound_by.contains(&key.public_key()) {
            continue;
        }
        bound_by.push(key.public_key());
        out.push(ClientIdentity {
            identity: TlsIdentity::ephemeral(key, origin, now).map_err(tls_error)?,
            what: format!(
                "a certificate bound by dyad.json's {field} ({})",
                key.verifier_key()
            ),
        });
    }
    Ok(out)
}

/// Whether the replica in place, if there is one and it opens, shows `key` retired: this
/// party's key at its newest committed checkpoint is another one. A retired key signs
/// nothing after its key change (spec/dyad.md 3.7), not even a TLS binding made in memory;
/// a peer that accepts only such a binding is behind this party's own committed log, which
/// `check_not_older` would refuse anyway. A lost or unreadable replica says nothing, and
/// the previous key may then bind (its key change may not be committed).
fn retired_in_place(data: &DataDir, key: &SignerKey) -> bool {
    let path = data.ledger_path();
    // Opening a missing store would create one: look only at a replica that is there.
    if !path.is_dir() {
        return false;
    }
    let Ok(channel) = Channel::open(&path) else {
        return false;
    };
    let Ok(committed) = channel.committed_size() else {
        return false;
    };
    committed > 0 && channel.party_at(channel.role(), committed).public_key != key.public_key()
}

/// Builds the replica in `building` from the peer at `url`, presenting each of this
/// party's certificates until the peer's node accepts one. Returns (size, committed size).
fn rebuild(data: &DataDir, config: &Config, url: &str, building: &Path) -> Result<(u64, u64)> {
    let keys = OwnKeys {
        current: config.signer_key()?,
        previous: config.previous_signer_key(),
    };
    let identities = client_identities(data, &config.origin, &keys)?;
    let rt = dyad_node::runtime::client()?;
    rt.block_on(async {
        let mut refused = Vec::new();
        for candidate in identities {
            let (reach, verifier) =
                dyad_node::Reach::party_deferred(&candidate.identity, &config.origin)?;
            let client =
                TileClient::with_reach(url, reach.allow_plain_http(url.starts_with("http://")))?;
            match client.fetch_entries(0, 1).await {
                Ok(first) => {
                    let peer = Peer {
                        url,
                        client: &client,
                        verifier: &verifier,
                    };
                    return rebuild_from(data, config, &keys, &peer, first, building).await;
                }
                // The peer's certificate passed and the exchange failed: the peer refused
                // this one (bound by a key it does not accept now); the next may do.
                Err(e) if !verifier.presented().is_empty() && e.status().is_none() => {
                    refused.push(format!("{}: {e}", candidate.what))
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(CliError::check_hint(
            format!(
                "the peer's node at {url} refused every certificate this party can present: {}",
                refused.join("; ")
            ),
            "the peer accepts a certificate bound by this party's key at its committed size: dyad.json's key_file must be this party's current key file (keep the one before as previous_key_file until its key change is committed)",
        ))
    })
}

/// The peer's node, as this restore reaches it.
struct Peer<'a> {
    url: &'a str,
    client: &'a TileClient,
    verifier: &'a DeferredPartyVerifier,
}

/// The replica from the peer's entry 0 (`first`), checked: its genesis, its entries up to
/// its newest committed checkpoint, that checkpoint; then the keys the log makes current.
async fn rebuild_from(
    data: &DataDir,
    config: &Config,
    keys: &OwnKeys,
    peer: &Peer<'_>,
    first: Vec<Vec<u8>>,
    building: &Path,
) -> Result<(u64, u64)> {
    let genesis_bytes = first
        .into_iter()
        .next()
        .ok_or_else(|| CliError::check(format!("{} serves no entries", peer.url)))?;
    let genesis_entry = check_peer_genesis(data, config, &keys.current, &genesis_bytes)?;
    let mut channel = Channel::create(building, &genesis_entry, config.role()?)?;
    match peer.client.checkpoint().await {
        Ok(note) => store_committed(&mut channel, peer.client, &note).await?,
        // Nothing co-signed yet: the genesis is the whole committed log.
        Err(ClientError::Status { status: 404, .. }) => {}
        Err(e) => return Err(e.into()),
    }
    check_peer_binding(&channel, peer.verifier)?;
    check_own_key(&channel, keys)?;
    Ok((channel.size(), channel.committed_size()?))
}

/// Stores the peer's entries up to its committed checkpoint `note`, each chunk checked by
/// the channel rules as it is stored, then `note` itself, verified against the tree they
/// make and under the parties' keys at its size (which only the entries say, spec 3.7).
async fn store_committed(channel: &mut Channel, client: &TileClient, note: &[u8]) -> Result<()> {
    let size = claimed_size(channel, note)?;
    let bar = progress(size, "checking and storing the peer's entries");
    let mut chunks = UncheckedChunks::new(client, channel.size(), size);
    while let Some((_, entries)) = chunks
        .next()
        .await
        .map_err(|e| CliError::check(format!("the peer's log: {e}")))?
    {
        let stored = channel
            .append_recovered(&entries, now_ms())
            .map_err(|e| CliError::check(format!("the peer's log: {e}")))?;
        bar.set_position(stored);
    }
    bar.finish_and_clear();
    channel
        .add_committed_checkpoint(note)
        .map_err(|e| CliError::check(format!("the peer's checkpoint does not verify: {e}")))?;
    Ok(())
}

/// The size the peer's checkpoint claims, for this channel; its signatures are checked
/// once the entries below it (and so the keys at its size) are in.
fn claimed_size(channel: &Channel, note: &[u8]) -> Result<u64> {
    let checkpoint = crate::checkpoint_note::parse(note).map_err(|e| {
        CliError::check(format!(
            "the peer's checkpoint is not a checkpoint note: {e}"
        ))
    })?;
    if checkpoint.origin != channel.origin() {
        return Err(CliError::check(format!(
            "the peer's checkpoint is of {:?}, not this channel's {:?}",
            checkpoint.origin,
            channel.origin()
        )));
    }
    Ok(checkpoint.size)
}

/// Check 3 of spec/node.md 9.3, deferred until the log is verified: every binding the
/// peer's node presented was by the peer's key at the committed size reached.
fn check_peer_binding(channel: &Channel, verifier: &DeferredPartyVerifier) -> Result<()> {
    let committed = channel.committed_size()?;
    let peer_role = match channel.role() {
        Role::Sequencer => Role::Cosigner,
        Role::Cosigner => Role::Sequencer,
    };
    let peer = channel.party_at(peer_role, committed);
    verifier.check_presented(&[peer.public_key]).map_err(|e| {
        CliError::check_hint(
            format!(
                "{e}: the log it served, verified from the genesis, gives the peer the key {} at the committed size {committed}",
                key_text(&peer)
            ),
            "this is not the peer's node, or the peer's key change was committed while the restore ran: run it again",
        )
    })
}

/// A party's key as its `.pub` file writes it (hex if it cannot be).
fn key_text(party: &Party) -> String {
    party
        .entry_key()
        .map_or_else(|_| hex::encode(party.public_key), |k| k.to_string())
}

/// `dyad.json`'s key must be this party's current key in the restored log: a key the log
/// retired must never sign again (spec 3.7), and the node would refuse it.
fn check_own_key(channel: &Channel, keys: &OwnKeys) -> Result<()> {
    let current = channel.own_party();
    let named = &keys.current;
    match channel.check_own_key(named) {
        Ok(()) => Ok(()),
        Err(ChannelError::RetiredOwnKey { name, key_id }) => Err(CliError::check_hint(
            format!(
                "dyad.json names the key {name} ({}), which a key change in the peer's committed log retired; this party's current key is {}",
                key_id_hex(key_id),
                key_text(current)
            ),
            "set key_file in dyad.json to this party's current key file (the one its key change named), keep the retired key offline, and run the restore again",
        )),
        // The key change to key_file's key is not in the committed log: it awaits
        // co-signing in the peer's log, or was lost with the replica.
        Err(_) if keys
            .previous
            .as_ref()
            .is_some_and(|p| p.public_key() == current.public_key) =>
        {
            Err(CliError::check_hint(
                format!(
                    "the peer's committed log still gives this party its previous key (dyad.json's previous_key_file), not key_file's {}: the key change to it is not committed (it awaits co-signing, or was lost with the replica)",
                    named.verifier_key()
                ),
                "set key_file in dyad.json back to the previous key file and run the restore again; then finish or redo the rotation with `dyad rotate-key --new-key NEW.key` (docs/operations.md, \"Replacing a party's key\")",
            ))
        }
        Err(e) => Err(CliError::check(format!(
            "dyad.json's key_file is not this party's key in the peer's committed log (its current key is {}): {e}",
            key_text(current)
        ))),
    }
}

/// The peer's entry 0, if it is this party's channel: its origin, this party in its role,
/// the peer the configuration names, and the signed genesis this party kept (if any).
/// This party's genesis key may have been replaced since (spec 3.7): the genesis must
/// name it under its key's name, and [`check_own_key`] checks the key once the log is in.
fn check_peer_genesis(
    data: &DataDir,
    config: &Config,
    own_key: &SignerKey,
    bytes: &[u8],
) -> Result<SignedEntry> {
    let signed = SignedEntry::decode(bytes)
        .map_err(|e| CliError::check(format!("the peer's entry 0 is not a valid entry: {e}")))?;
    let genesis = check_genesis(&signed.entry)?;
    if genesis.origin != config.origin {
        return Err(CliError::check(format!(
            "the peer's channel is {:?}, not this party's {:?}",
            genesis.origin, config.origin
        )));
    }
    let peer = Party::from_verifier_key(&config.peer_key()?);
    let (expected_own, expected_peer) = match config.role()? {
        Role::Sequencer => (&genesis.sequencer, &genesis.cosigner),
        Role::Cosigner => (&genesis.cosigner, &genesis.sequencer),
    };
    if expected_own.name != own_key.name() || *expected_peer != peer {
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

/// The peer's node must show at least the committed size this party last recorded
/// (`replica.head`): both parties signed it, so the peer cannot have lost it. Less is an old
/// copy of the peer, or someone holding a key the peer has since retired showing an older,
/// genuine prefix (docs/operations.md, "Replacing a party's key").
fn check_not_older(data: &DataDir, origin: &str, committed: u64) -> Result<()> {
    let path = data.dir.join(REPLICA_RECORD_FILE);
    let record = ReplicaRecord::read(&data.dir).map_err(|e| io_error(&path, e))?;
    match record {
        Some(r) if r.origin == origin && r.committed > committed => Err(CliError::check_hint(
            format!(
                "the peer's node shows {committed} committed entries, but this replica had {} committed ({}); nothing was installed",
                r.committed,
                path.display()
            ),
            "the node at that URL is not the peer as it is now (an old copy, or someone holding a key the peer has retired): ask the peer's operator for its committed size; if this party's record is the one that is wrong, move replica.head aside and run the restore again",
        )),
        _ => Ok(()),
    }
}

fn io_error(path: &Path, e: std::io::Error) -> CliError {
    CliError::check(format!("{}: {e}", path.display()))
}
