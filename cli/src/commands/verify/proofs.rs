//! `dyad verify inclusion|consistency`: RFC 9162 proofs, as `dyad prove --json` writes
//! them, checked against their roots.

use std::path::Path;
use std::process::ExitCode;

use dyad_verifier::proof;
use serde::{Deserialize, Serialize};
use serde_json::json as j;

use super::failed;
use crate::bounded::{read_bounded, MAX_PROOF_JSON};
use crate::error::{CliError, Result};
use crate::output::{hash_from_b64, json, outln};
use crate::Ctx;

/// `dyad prove inclusion --json`, field for field.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct InclusionJson {
    pub index: u64,
    pub size: u64,
    pub leaf_hash: String,
    pub root: String,
    pub proof: Vec<String>,
}

/// `dyad prove consistency --json`, field for field.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyJson {
    pub old_size: u64,
    pub new_size: u64,
    pub old_root: String,
    pub new_root: String,
    pub proof: Vec<String>,
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path, what: &str) -> Result<T> {
    let bytes = read_bounded(path, MAX_PROOF_JSON)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| CliError::malformed(path, format!("not {what} JSON: {e}")))
}

fn hash(path: &Path, field: &str, text: &str) -> Result<[u8; 32]> {
    hash_from_b64(text).ok_or_else(|| {
        CliError::malformed(
            path,
            format!("{field} is not a base64 SHA-256 hash (32 bytes)"),
        )
    })
}

fn hashes(path: &Path, list: &[String]) -> Result<Vec<[u8; 32]>> {
    if list.len() > proof::MAX_PROOF_HASHES {
        return Err(CliError::malformed(
            path,
            format!(
                "the proof has {} hashes, more than any tree needs",
                list.len()
            ),
        ));
    }
    list.iter()
        .enumerate()
        .map(|(i, h)| hash(path, &format!("proof[{i}]"), h))
        .collect()
}

pub(super) fn inclusion(ctx: &Ctx, file: &Path) -> Result<ExitCode> {
    let p: InclusionJson = read_json(file, "inclusion proof")?;
    let leaf = hash(file, "leaf_hash", &p.leaf_hash)?;
    let root = hash(file, "root", &p.root)?;
    let path = hashes(file, &p.proof)?;
    proof::verify_inclusion(&leaf, p.index, p.size, &path, &root)
        .map_err(|e| failed(format!("the inclusion proof does not verify: {e}")))?;
    if ctx.json {
        json(
            &j!({"valid": true, "index": p.index, "size": p.size, "leaf_hash": p.leaf_hash, "root": p.root}),
        )?;
    } else {
        outln(&format!(
            "OK: leaf {} is entry {} of the tree of {} entries with root {}",
            p.leaf_hash, p.index, p.size, p.root
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn consistency(ctx: &Ctx, file: &Path) -> Result<ExitCode> {
    let p: ConsistencyJson = read_json(file, "consistency proof")?;
    let old = hash(file, "old_root", &p.old_root)?;
    let new = hash(file, "new_root", &p.new_root)?;
    let path = hashes(file, &p.proof)?;
    proof::verify_consistency(p.old_size, p.new_size, &old, &new, &path)
        .map_err(|e| failed(format!("the consistency proof does not verify: {e}")))?;
    if ctx.json {
        json(
            &j!({"valid": true, "old_size": p.old_size, "new_size": p.new_size, "old_root": p.old_root, "new_root": p.new_root}),
        )?;
    } else {
        outln(&format!(
            "OK: the tree of {} entries (root {}) is a prefix of the tree of {} entries (root {})",
            p.old_size, p.old_root, p.new_size, p.new_root
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
