//! `dyad verify checkpoint`: a checkpoint note, signed or co-signed by every trusted key.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use dyad_verifier::checkpoint::Checkpoint;
use dyad_verifier::key::VerifierKey;
use dyad_verifier::note;
use dyad_verifier::receipt_history;
use serde_json::{json as j, Value};

use super::receipt::key_history;
use super::{failed, malformed, signing_keys};
use crate::bounded::{read_bounded, MAX_CHECKPOINT};
use crate::checkpoint_note;
use crate::error::Result;
use crate::output::{b64, format_s, json, outln};
use crate::policy_arg::{read_policy, Trust};
use crate::trust::read_trust;
use crate::Ctx;

/// The checkpoint note in `file`, bounded, parsed, and for `origin` if one is given.
fn read_checkpoint(file: &Path, origin: Option<&str>) -> Result<(Vec<u8>, Checkpoint)> {
    let bytes = read_bounded(file, MAX_CHECKPOINT)?;
    let cp = checkpoint_note::parse(&bytes).map_err(|e| malformed(file, e.to_string()))?;
    if let Some(expected) = origin.filter(|o| *o != cp.origin) {
        return Err(failed(format!(
            "the checkpoint is for origin {:?}, not {expected:?}",
            cp.origin
        )));
    }
    Ok((bytes, cp))
}

fn ok_line(cp: &Checkpoint) -> String {
    format!(
        "OK: checkpoint of {} at size {} with root {}",
        cp.origin,
        cp.size,
        b64(&cp.root)
    )
}

pub(super) fn checkpoint(
    ctx: &Ctx,
    file: &Path,
    trust: &[PathBuf],
    origin: Option<&str>,
) -> Result<ExitCode> {
    let trusted = read_trust(trust)?;
    let (bytes, cp) = read_checkpoint(file, origin)?;
    let per_party: Vec<Vec<(VerifierKey, &str)>> = trusted
        .iter()
        .map(|k| signing_keys(k, &cp.origin))
        .collect();
    let mut all: Vec<VerifierKey> = Vec::new();
    for (k, _) in per_party.iter().flatten() {
        if !all.contains(k) {
            all.push(k.clone());
        }
    }
    let verified = note::verify(&bytes, &all)
        .map_err(|e| failed(format!("the checkpoint does not verify: {e}")))?;
    let mut signers = Vec::new();
    for (party, keys) in trusted.iter().zip(&per_party) {
        let found: Vec<Value> = keys
            .iter()
            .filter_map(|(k, role)| {
                verified
                    .verified
                    .iter()
                    .find(|v| v.key == *k)
                    .map(|v| j!({"role": role, "key": k.to_string(), "timestamp": v.timestamp}))
            })
            .collect();
        if found.is_empty() {
            return Err(failed(format!(
                "the checkpoint of size {} is not signed or co-signed by trusted key {}",
                cp.size,
                party.name()
            )));
        }
        signers.push(j!({"party": party.name(), "signatures": found}));
    }
    if ctx.json {
        json(
            &j!({"valid": true, "origin": cp.origin, "size": cp.size, "root": b64(&cp.root), "signers": signers}),
        )?;
    } else {
        outln(&ok_line(&cp))?;
        for s in &signers {
            let roles: Vec<String> = s["signatures"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| match x["timestamp"].as_u64() {
                            Some(t) => {
                                format!("{} at {}", x["role"].as_str().unwrap_or(""), format_s(t))
                            }
                            None => x["role"].as_str().unwrap_or("").to_owned(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            outln(&format!(
                "  signed by {} as {}",
                s["party"].as_str().unwrap_or(""),
                roles.join(", ")
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `dyad verify checkpoint --policy FILE`: signed by one of the policy's logs (its key
/// named by the origin) and cosigned to its quorum, as C2SP tlog-policy defines it.
pub(super) fn under_policy(
    ctx: &Ctx,
    file: &Path,
    policy_file: &Path,
    origin: Option<&str>,
) -> Result<ExitCode> {
    let policy = read_policy(policy_file)?;
    let (bytes, cp) = read_checkpoint(file, origin)?;
    let verified = policy.verify_checkpoint(&bytes).map_err(|e| {
        failed(format!(
            "the checkpoint of size {} does not satisfy the policy: {e}",
            cp.size
        ))
    })?;
    let quorum = policy.quorum_name().unwrap_or_default();
    if ctx.json {
        let cosigners: Vec<Value> = verified
            .cosigners
            .iter()
            .map(|(name, t)| j!({"witness": name, "timestamp": t}))
            .collect();
        json(&j!({
            "valid": true, "origin": cp.origin, "size": cp.size, "root": b64(&cp.root),
            "log": verified.log.to_string(), "cosigners": cosigners, "quorum": quorum,
        }))?;
    } else {
        outln(&ok_line(&cp))?;
        outln(&format!("  signed by the log {}", verified.log))?;
        for (name, t) in &verified.cosigners {
            outln(&format!("  cosigned by witness {name} at {}", format_s(*t)))?;
        }
        outln(&format!(
            "  the cosignatures meet the policy's quorum {quorum:?}"
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `dyad verify checkpoint --key-history DIR`: committed (spec 7) under the parties' keys
/// and the witnesses at its size, which the key history (`DIR/key-changes/`, spec 8) gives
/// from the genesis keys (or the policy's parties).
pub(super) fn with_key_history(
    ctx: &Ctx,
    file: &Path,
    trust: &Trust,
    dir: &Path,
    origin: Option<&str>,
) -> Result<ExitCode> {
    if !dir.is_dir() {
        return Err(crate::error::CliError::usage(format!(
            "--key-history {}: not a directory (give a receipt directory from `dyad receipt N --out DIR`)",
            dir.display()
        )));
    }
    let (bytes, cp) = read_checkpoint(file, origin)?;
    let history = key_history(dir)?;
    let receipt_trust = trust
        .receipt_trust(origin)
        .map_err(|e| malformed(file, e))?;
    let v = receipt_history::verify_checkpoint_with_key_history(&bytes, &history, &receipt_trust)
        .map_err(|e| {
        failed(format!(
            "the checkpoint of size {} is not committed under the keys at its size: {e}",
            cp.size
        ))
    })?;
    if ctx.json {
        json(&j!({
            "valid": true, "committed": true, "origin": cp.origin, "size": cp.size,
            "root": b64(&cp.root),
            "log": v.committed.log.to_string(),
            "cosigner": v.committed.cosigner.name(),
            "cosigned_at": v.committed.cosigned_at,
            "witnesses": super::witnesses_json(&v.committed),
            "key_changes": crate::commands::audit::key_changes_json(&v.key_changes),
            "witness_changes": crate::commands::audit::witness_changes_json(&v.witness_changes),
            "trusted_by": trust.option(),
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    outln(&ok_line(&cp))?;
    outln(&format!(
        "  committed: signed by the log {}, co-signed by {} at {}",
        v.committed.log,
        v.committed.cosigner.name(),
        format_s(v.committed.cosigned_at)
    ))?;
    if let Some(line) = super::witnessed_line(&v.committed) {
        outln(&line)?;
    }
    for line in crate::commands::audit::key_change_lines(&v.key_changes) {
        outln(&line)?;
    }
    for line in crate::commands::audit::witness_change_lines(&v.witness_changes) {
        outln(&line)?;
    }
    outln(&format!(
        "  Key history: {} key and {} witness change(s) followed from the genesis keys.",
        v.key_changes.len(),
        v.witness_changes.len()
    ))?;
    Ok(ExitCode::SUCCESS)
}
