//! `dyad verify checkpoint`: a checkpoint note, signed or co-signed by every trusted key.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use dyad_verifier::key::VerifierKey;
use dyad_verifier::note;
use serde_json::{json as j, Value};

use super::{failed, malformed, signing_keys};
use crate::bounded::{read_bounded, MAX_CHECKPOINT};
use crate::checkpoint_note;
use crate::error::Result;
use crate::output::{b64, format_s, json, outln};
use crate::trust::read_trust;
use crate::Ctx;

pub(super) fn checkpoint(
    ctx: &Ctx,
    file: &Path,
    trust: &[PathBuf],
    origin: Option<&str>,
) -> Result<ExitCode> {
    let trusted = read_trust(trust)?;
    let bytes = read_bounded(file, MAX_CHECKPOINT)?;
    let cp = checkpoint_note::parse(&bytes).map_err(|e| malformed(file, e.to_string()))?;
    if let Some(expected) = origin {
        if cp.origin != expected {
            return Err(failed(format!(
                "the checkpoint is for origin {:?}, not {expected:?}",
                cp.origin
            )));
        }
    }
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
        outln(&format!(
            "OK: checkpoint of {} at size {} with root {}",
            cp.origin,
            cp.size,
            b64(&cp.root)
        ))?;
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
