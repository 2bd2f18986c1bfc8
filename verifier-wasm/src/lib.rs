//! The dyad verifier's checks for the auditor's page, and nothing else.
//!
//! Every function here takes bytes and text and returns one JSON object (a `String`), so
//! the same code runs natively (the tests that compare the browser's verdicts with the
//! native ones call it directly) and in the browser, where [`bindings`] (wasm32 only)
//! hands it to JavaScript through wasm-bindgen. The checks are `dyad_verifier`'s; this
//! crate only reads the inputs a person drops on the page and says what was proven.
//!
//! Every answer has `"valid": true` or `"valid": false` with a `"reason"` (the verifier's
//! error, worded as `dyad verify` words it).

#[cfg(target_arch = "wasm32")]
pub mod bindings;
pub mod evidence;
pub mod keys;
pub mod log_audit;
pub mod proofs;
pub mod receipt;

use serde_json::{json, Value};

/// A refusal: `{"valid": false, "reason": ...}`.
pub(crate) fn refused(reason: impl core::fmt::Display) -> Value {
    json!({"valid": false, "reason": reason.to_string()})
}

/// Standard base64, as `dyad` prints hashes and roots.
pub(crate) fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The key changes followed (spec/dyad.md 3.7), as `dyad verify receipt --json` and
/// `dyad audit --json` list them: index, party role, retired and new key IDs (8 hex
/// digits), new key.
pub(crate) fn key_changes_json(changes: &[dyad_verifier::KeyChange]) -> Value {
    changes
        .iter()
        .map(|c| {
            json!({
                "index": c.index,
                "role": c.role.to_string(),
                "old_key_id": format!("{:08x}", c.old_key_id),
                "new_key_id": format!("{:08x}", c.new_key.key_id()),
                "new_key": c.new_key.to_string(),
            })
        })
        .collect()
}

/// The witness changes followed (spec/dyad.md 3.8), as `dyad verify receipt --json` and
/// `dyad audit --json` list them: index, number, sender's role, the new witnesses (name,
/// type-0x04 key ID, key) and threshold.
pub(crate) fn witness_changes_json(changes: &[dyad_verifier::WitnessChange]) -> Value {
    changes
        .iter()
        .map(|c| {
            let witnesses: Vec<Value> = c
                .witnesses
                .iter()
                .map(|w| match w.cosignature_key() {
                    Ok(key) => json!({
                        "name": w.name,
                        "key_id": format!("{:08x}", key.key_id()),
                        "key": key.to_string(),
                    }),
                    Err(_) => json!({"name": w.name}),
                })
                .collect();
            json!({
                "index": c.index,
                "number": c.number,
                "sender": c.sender.to_string(),
                "witnesses": witnesses,
                "witness_threshold": c.witness_threshold,
            })
        })
        .collect()
}

/// A checkpoint as `dyad verify --json` shows it.
pub(crate) fn checkpoint_json(cp: &dyad_verifier::checkpoint::Checkpoint) -> Value {
    json!({"origin": cp.origin, "size": cp.size, "root": b64(&cp.root)})
}
