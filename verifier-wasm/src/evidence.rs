//! Evidence of equivocation or of a broken promise of inclusion (spec/evidence.md),
//! checked against the trusted parties' keys as `dyad verify evidence` checks it.

use dyad_verifier::equivocation::{self, Contradiction};
use dyad_verifier::key::{SignatureType, VerifierKey};
use dyad_verifier::{checkpoint, note, promise_evidence};
use serde_json::{json, Value};

use crate::{b64, checkpoint_json, keys, refused};

/// Verifies evidence `bytes` against the keys in `key_files` (`(name, text)` of `.pub`
/// files); the answer as JSON text.
pub fn verify(bytes: &[u8], key_files: &[(String, String)]) -> String {
    let trusted = match keys::read(key_files) {
        Ok(t) if t.keys.is_empty() => return refused("give the parties' .pub files").to_string(),
        Ok(t) => t.keys,
        Err(e) => return refused(e).to_string(),
    };
    let header = format!("{}\n", promise_evidence::HEADER);
    let answer = if bytes.starts_with(header.as_bytes()) {
        broken_promise(bytes, &trusted)
    } else {
        equivocation_proof(bytes, &trusted)
    };
    answer.to_string()
}

/// The keys a party's key signs a checkpoint of `origin` with (spec/dyad.md 2.2): as the
/// log (the same key under the origin's name), as co-signer (type 0x04), and plainly.
fn signing_keys(key: &VerifierKey, origin: &str) -> Vec<(VerifierKey, &'static str)> {
    let mut out = Vec::new();
    if key.signature_type() == SignatureType::Ed25519 {
        if let Ok(log) = key.with_name(origin) {
            out.push((log, "log"));
        }
        out.push((
            key.with_signature_type(SignatureType::CosignatureV1),
            "cosigner",
        ));
    }
    let plain = if key.signature_type() == SignatureType::CosignatureV1 {
        "cosigner"
    } else {
        "signer"
    };
    out.push((key.clone(), plain));
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

fn equivocation_proof(bytes: &[u8], trusted: &[VerifierKey]) -> Value {
    let parsed = match equivocation::parse(bytes) {
        Ok(p) => p,
        Err(e) => return malformed(format!("not valid evidence: {e}")),
    };
    let Ok(first) = checkpoint::parse_note(&parsed.first_note) else {
        return malformed("the evidence's first checkpoint is not readable".to_owned());
    };
    let mut last_error = None;
    for party in trusted {
        for (key, role) in signing_keys(party, &first.origin) {
            match equivocation::verify(bytes, &key) {
                Ok(v) => {
                    let contradiction = match &v.contradiction {
                        Contradiction::SameSize => "same-size".to_owned(),
                        Contradiction::DifferentLeaf { index, .. } => {
                            format!("different-leaf at index {index}")
                        }
                    };
                    return json!({
                        "valid": true,
                        "evidence": "equivocation",
                        "accused": party.name(),
                        "as": role,
                        "key": key.to_string(),
                        "contradiction": contradiction,
                        "first": checkpoint_json(&v.first),
                        "second": checkpoint_json(&v.second),
                        "timestamps": v.timestamps.map(|(a, b)| vec![a, b]),
                    });
                }
                Err(e) => last_error = Some(e.to_string()),
            }
        }
    }
    refused(format!(
        "the evidence does not prove equivocation by any trusted key: {}",
        last_error.unwrap_or_else(|| "no trusted key".into())
    ))
}

fn broken_promise(bytes: &[u8], trusted: &[VerifierKey]) -> Value {
    let parsed = match promise_evidence::parse(bytes) {
        Ok(p) => p,
        Err(e) => return malformed(format!("not valid evidence: {e}")),
    };
    let Some(origin) = note::parse(&parsed.promise_note)
        .ok()
        .and_then(|n| promise_evidence::parse_promise_text(&n.text).ok())
        .map(|p| p.origin)
    else {
        return malformed(
            "the evidence's promise is not a readable dyad-promise/v1 note".to_owned(),
        );
    };
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
                return json!({
                    "valid": true,
                    "evidence": "broken-promise",
                    "accused": party.name(),
                    "as": "log",
                    "key": log_key.to_string(),
                    "index": v.index,
                    "promised_leaf_hash": b64(&v.promised_leaf),
                    "found_leaf_hash": b64(&v.found_leaf),
                    "promised_entries": v.promised_entries,
                    "checkpoint": checkpoint_json(&v.checkpoint),
                })
            }
            Err(e) => last_error = Some(e.to_string()),
        }
    }
    refused(format!(
        "the evidence does not prove a broken promise by any trusted key: {}",
        last_error.unwrap_or_else(|| "no trusted party key (type 0x01)".into())
    ))
}

fn malformed(reason: String) -> Value {
    json!({"valid": false, "malformed": true, "reason": reason})
}
