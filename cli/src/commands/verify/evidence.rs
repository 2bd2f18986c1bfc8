//! `dyad verify evidence`: evidence of equivocation (two contradicting checkpoints) or of
//! a broken promise of inclusion (spec/evidence.md), checked against the accused's key.

use std::path::Path;
use std::process::ExitCode;

use dyad_verifier::equivocation::{self, Contradiction};
use dyad_verifier::key::{SignatureType, VerifierKey};
use dyad_verifier::{note, promise_evidence};
use serde_json::json as j;

use super::{cp_json, failed, malformed, signing_keys};
use crate::bounded::{read_bounded, MAX_EVIDENCE};
use crate::checkpoint_note;
use crate::error::Result;
use crate::output::{b64, json, outln};
use crate::Ctx;

pub(super) fn evidence(ctx: &Ctx, file: &Path, trusted: &[VerifierKey]) -> Result<ExitCode> {
    let bytes = read_bounded(file, MAX_EVIDENCE)?;
    if bytes.starts_with(format!("{}\n", promise_evidence::HEADER).as_bytes()) {
        return broken_promise(ctx, file, &bytes, trusted);
    }
    let parsed = equivocation::parse(&bytes)
        .map_err(|e| malformed(file, format!("not valid evidence: {e}")))?;
    let origin = checkpoint_note::parse(&parsed.first_note)
        .ok()
        .map(|c| c.origin)
        .ok_or_else(|| {
            malformed(
                file,
                "the evidence's first checkpoint is not readable".to_owned(),
            )
        })?;
    let mut last_error = None;
    for party in trusted {
        for (key, role) in signing_keys(party, &origin) {
            match equivocation::verify(&bytes, &key) {
                Ok(v) => {
                    let kind = match &v.contradiction {
                        Contradiction::SameSize => "same-size".to_owned(),
                        Contradiction::DifferentLeaf { index, .. } => {
                            format!("different-leaf at index {index}")
                        }
                    };
                    if ctx.json {
                        json(&j!({
                            "valid": true,
                            "evidence": "equivocation",
                            "accused": party.name(),
                            "as": role,
                            "key": key.to_string(),
                            "contradiction": kind,
                            "first": cp_json(&v.first),
                            "second": cp_json(&v.second),
                            "timestamps": v.timestamps.map(|(a, b)| vec![a, b]),
                        }))?;
                    } else {
                        outln(&format!("EQUIVOCATION PROVEN: {} (as {role}) signed two contradicting checkpoints of {origin}:", party.name()))?;
                        outln(&format!(
                            "  size {} root {}",
                            v.first.size,
                            b64(&v.first.root)
                        ))?;
                        outln(&format!(
                            "  size {} root {}",
                            v.second.size,
                            b64(&v.second.root)
                        ))?;
                        outln(&format!("  contradiction: {kind}"))?;
                    }
                    return Ok(ExitCode::SUCCESS);
                }
                Err(e) => last_error = Some(e.to_string()),
            }
        }
    }
    Err(failed(format!(
        "the evidence does not prove equivocation by any trusted key: {}",
        last_error.unwrap_or_else(|| "no trusted key".into())
    )))
}

/// `dyad verify evidence` of a `dyad-broken-promise/v1` file: the log key of some trusted
/// party signed both the promise and the tree that breaks it.
fn broken_promise(
    ctx: &Ctx,
    file: &Path,
    bytes: &[u8],
    trusted: &[VerifierKey],
) -> Result<ExitCode> {
    let parsed = promise_evidence::parse(bytes)
        .map_err(|e| malformed(file, format!("not valid evidence: {e}")))?;
    let origin = note::parse(&parsed.promise_note)
        .ok()
        .and_then(|n| promise_evidence::parse_promise_text(&n.text).ok())
        .map(|p| p.origin)
        .ok_or_else(|| {
            malformed(
                file,
                "the evidence's promise is not a readable dyad-promise/v1 note".to_owned(),
            )
        })?;
    let mut last_error = None;
    for party in trusted {
        if party.signature_type() != SignatureType::Ed25519 {
            continue;
        }
        let Ok(log_key) = party.with_name(&origin) else {
            continue;
        };
        match promise_evidence::verify(bytes, &log_key) {
            Ok(v) => {
                if ctx.json {
                    json(&j!({
                        "valid": true,
                        "evidence": "broken-promise",
                        "accused": party.name(),
                        "as": "log",
                        "key": log_key.to_string(),
                        "index": v.index,
                        "promised_leaf_hash": b64(&v.promised_leaf),
                        "found_leaf_hash": b64(&v.found_leaf),
                        "promised_entries": v.promised_entries,
                        "checkpoint": cp_json(&v.checkpoint),
                    }))?;
                } else {
                    outln(&format!(
                        "BROKEN PROMISE PROVEN: {} (as the log of {origin}) promised a message at index {} and signed a tree holding another entry there:",
                        party.name(),
                        v.index
                    ))?;
                    outln(&format!("  promised leaf hash {}", b64(&v.promised_leaf)))?;
                    outln(&format!("  found leaf hash    {}", b64(&v.found_leaf)))?;
                    outln(&format!(
                        "  in the checkpoint of size {} with root {}",
                        v.checkpoint.size,
                        b64(&v.checkpoint.root)
                    ))?;
                }
                return Ok(ExitCode::SUCCESS);
            }
            Err(e) => last_error = Some(e.to_string()),
        }
    }
    Err(failed(format!(
        "the evidence does not prove a broken promise by any trusted key: {}",
        last_error.unwrap_or_else(|| "no trusted party key (type 0x01)".into())
    )))
}
