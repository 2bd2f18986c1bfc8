//! `dyad rotate-key --new-key FILE`: this party replaces its key (spec/dyad.md 3.7). The key
//! change is signed by the current key and carries the new key's signature; the sequencer
//! appends it to its log, the co-signer queues it for the sequencer like `dyad append`.
//! Then the data directory's configuration names the new key file, so the old key never
//! signs again from here (the replica refuses it too).
//!
//! With a node running on the data directory, the node makes the key change
//! (`POST /admin/rotate-key`, spec/node.md 5.5) and signs with the new key from then on;
//! without one, the replica is changed directly. Either way `dyad.json` then names the new
//! key file, and the old one as `previous_key_file`: the node binds its TLS certificate
//! with it until the key change is co-signed (spec/node.md 9.3).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use dyad_ledger::channel::{Channel, ChannelError, Role};
use dyad_ledger::genesis::Party;
use dyad_ledger::keys::SignerKey;

use crate::data::{read_signer_key, Config, DataDir};
use crate::error::{CliError, Result};
use crate::output::{absolute, b64, json, key_id_hex, now_ms, outln};
use crate::running_node::{probe, Probe, Running};
use crate::Ctx;
use dyad_node::ClientError;
use std::time::Duration;

pub const EXAMPLES: &str = "\
Examples:
  dyad keygen alpha-2 --key-name cert.alpha.example --out keys/   # the new key, same key name
  dyad rotate-key --new-key keys/alpha-2.key

The new key must be a private key file (mode 0600) under this party's key name, never used
in the channel before. The sequencer appends the key change (a running node first waits
until its log is co-signed); the co-signer queues it for the sequencer (its node sends it,
or dyad sync export). From then on the data directory signs with the new key only (its
dyad.json names the new file); checkpoints that hold the key change are signed with it.
Keep the old key file until the key change is committed: the node binds TLS with it until
then. Give auditors the new .pub file; receipts carry the key history (key-changes/).";

#[derive(Args, Debug)]
pub struct RotateKeyArgs {
    /// The new private key file (mode 0600), under this party's key name.
    #[arg(long, value_name = "FILE")]
    pub new_key: PathBuf,
}

/// What rotating did: the key change's place, and the keys before and after.
struct Rotated {
    role: Role,
    /// The index it took (sequencer) or its sequence number in the queue (co-signer).
    at: u64,
    leaf_hash: [u8; 32],
    old: Party,
    new: SignerKey,
}

pub fn run(ctx: &Ctx, args: &RotateKeyArgs) -> Result<ExitCode> {
    let data = ctx.data_dir();
    refuse_unreconciled_restore(&data)?;
    let new_file = absolute(&args.new_key)?;
    let new = read_signer_key(&new_file)?;
    if let Some(node) = running_node(&data)? {
        return through_node(ctx, &data, &node, new_file, new);
    }
    let (config, mut channel) = data.open()?;
    if Party::of(&new) == channel.own_signing_party()? {
        return finish_earlier_rotation(ctx, &data, config, new_file);
    }
    let rotated = rotate(&config, &mut channel, new)?;
    // The replica refuses the old key from now on; the configuration follows, durably
    // (written aside, synced, renamed), so nothing here signs with it again.
    let config = switch_key_file(&data, config, new_file)?;
    report(ctx, &rotated, &config)
}

/// Names `new_file` as the key and the current one as the previous key, durably.
fn switch_key_file(data: &DataDir, mut config: Config, new_file: PathBuf) -> Result<Config> {
    let old = std::mem::replace(&mut config.key_file, new_file);
    config.previous_key_file = Some(old);
    data.update_config(&config)?;
    Ok(config)
}

/// How long the node may take: a sequencer waits until its log is co-signed (its
/// `max_wait`, 60 s by default) before it appends the key change.
const NODE_ROTATION_TIMEOUT: Duration = Duration::from_secs(180);

/// The running node makes the key change, then the configuration follows.
fn through_node(
    ctx: &Ctx,
    data: &DataDir,
    node: &Running,
    new_file: PathBuf,
    new: SignerKey,
) -> Result<ExitCode> {
    let config = data.read_config()?;
    let old = config.signer_key()?;
    let answer = match node.admin.rotate_key_blocking(&new_file, NODE_ROTATION_TIMEOUT) {
        Ok(a) => a,
        Err(ClientError::Status { status: 409, .. }) => {
            // The node signs with this key already (an earlier run stopped before the
            // configuration was switched).
            return finish_earlier_rotation(ctx, data, config, new_file);
        }
        Err(ClientError::Status { status, body, .. }) if status < 500 => {
            return Err(CliError::usage(format!(
                "the node refused the key change ({status}): {body}"
            )))
        }
        Err(e) => return Err(CliError::usage_hint(
            format!("the node could not make the key change: {e}"),
            "check the node (`dyad status`) and its log, then run `dyad rotate-key` again: it finishes a change already made",
        )),
    };
    let role = config.role()?;
    let at = answer.index.or(answer.sequence).unwrap_or_default();
    let leaf_hash = hex::decode(&answer.leaf_hash)
        .ok()
        .and_then(|h| <[u8; 32]>::try_from(h).ok())
        .unwrap_or_default();
    let config = switch_key_file(data, config, new_file)?;
    let rotated = Rotated {
        role,
        at,
        leaf_hash,
        old: Party::of(&old),
        new,
    };
    report(ctx, &rotated, &config)
}

/// The new key is already the party's current key: an earlier run put the key change in
/// the replica; if it stopped before switching the configuration, switch it now.
fn finish_earlier_rotation(
    ctx: &Ctx,
    data: &DataDir,
    config: Config,
    new_file: PathBuf,
) -> Result<ExitCode> {
    if config.key_file == new_file {
        return Err(CliError::usage(format!(
            "{} is already this party's current key; nothing to rotate",
            new_file.display()
        )));
    }
    let config = switch_key_file(data, config, new_file)?;
    if ctx.json {
        json(&serde_json::json!({"key_file": config.key_file, "status": "configured"}))?;
    } else {
        outln(&format!(
            "the key change to this key is already in the replica; the data directory now signs with {}",
            config.key_file.display()
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The node running on the data directory, if one is (it then makes the key change).
fn running_node(data: &DataDir) -> Result<Option<Box<Running>>> {
    match probe(data)? {
        Probe::Absent => Ok(None),
        Probe::Running(node) => Ok(Some(node)),
        Probe::Silent { admin_socket, error } => Err(CliError::usage_hint(
            format!(
                "a node's admin socket {} is there but does not answer ({error})",
                admin_socket.display()
            ),
            "stop the node if it still runs (or remove the stale admin.sock), then run `dyad rotate-key` again",
        )),
    }
}

/// A data directory restored from a backup may be behind what this party already signed
/// (node.md, restore): a key change signed now could conflict with one the peer holds. The
/// node's reconciliation with the peer removes the marker.
fn refuse_unreconciled_restore(data: &DataDir) -> Result<()> {
    let marker = data.dir.join(dyad_node::RESTORED_MARKER);
    if !marker.exists() {
        return Ok(());
    }
    Err(CliError::usage_hint(
        format!(
            "{} was restored from a backup and has not caught up with the peer ({} is there): a key change signed now could conflict with what this party signed after the backup",
            data.dir.display(),
            marker.display()
        ),
        "start the node once (`dyad serve`) so that it reconciles with the peer and removes the marker, stop it, then run `dyad rotate-key` again",
    ))
}

/// Appends (sequencer) or queues (co-signer) the key change from the configured key to
/// `new`.
fn rotate(config: &Config, channel: &mut Channel, new: SignerKey) -> Result<Rotated> {
    let role = channel.role();
    let old = config.signer_key()?;
    let refused = |e: ChannelError| match e {
        ChannelError::NotOurKey { name, role } => CliError::usage(format!(
            "the configured key file {} ({name}) is not the {role}'s current key",
            config.key_file.display()
        )),
        e @ ChannelError::NewKeyName { .. } => CliError::usage(e.to_string()),
        ChannelError::Refused(r) => CliError::usage(format!("the key change is refused: {r}")),
        other => CliError::Channel(other),
    };
    let now = now_ms();
    let (at, leaf_hash) = match role {
        Role::Sequencer => {
            let a = channel
                .append_key_change(&old, &new, now)
                .map_err(refused)?;
            (a.index, a.leaf_hash)
        }
        Role::Cosigner => {
            let e = channel.queue_key_change(&old, &new, now).map_err(refused)?;
            (e.entry.body.sequence, e.leaf_hash)
        }
    };
    Ok(Rotated {
        role,
        at,
        leaf_hash,
        old: Party::of(&old),
        new,
    })
}

fn report(ctx: &Ctx, r: &Rotated, config: &Config) -> Result<ExitCode> {
    let old_id = r.old.entry_key()?.key_id();
    let public = r.new.verifier_key().to_string();
    if ctx.json {
        let place = match r.role {
            Role::Sequencer => serde_json::json!({"index": r.at, "status": "pending"}),
            Role::Cosigner => serde_json::json!({"sequence": r.at, "status": "queued"}),
        };
        let mut out = serde_json::json!({
            "role": r.role.as_str(),
            "name": r.new.name(),
            "old_key_id": key_id_hex(old_id),
            "new_key_id": key_id_hex(r.new.key_id()),
            "new_public_key": public,
            "leaf_hash": b64(&r.leaf_hash),
            "key_file": config.key_file,
        });
        if let (Some(o), Some(p)) = (out.as_object_mut(), place.as_object()) {
            o.extend(p.clone());
        }
        json(&out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let place = match r.role {
        Role::Sequencer => format!("appended as entry {} (pending until co-signed)", r.at),
        Role::Cosigner => format!(
            "queued as message {} for the sequencer (dyad sync export)",
            r.at
        ),
    };
    outln(&format!(
        "key change {place}: {} {} -> {}",
        r.new.name(),
        key_id_hex(old_id),
        key_id_hex(r.new.key_id())
    ))?;
    outln(&format!("new verifier key: {public}"))?;
    eprintln!(
        "this data directory now signs with {} only; give the peer and auditors the new .pub file",
        config.key_file.display()
    );
    Ok(ExitCode::SUCCESS)
}
