//! `dyad verify receipt`: a receipt (a C2SP tlog-proof file, spec/dyad.md section 8)
//! checked with the two parties' keys.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use dyad_verifier::key::VerifierKey;
use dyad_verifier::receipt::{self, ReceiptTrust};
use serde_json::json as j;

use super::{cp_json, failed, malformed};
use crate::bounded::{read_bounded, MAX_RECEIPT};
use crate::checkpoint_note;
use crate::error::Result;
use crate::output::{b64, format_ms, format_s, json, outln, printable};
use crate::trust::read_two_parties;
use crate::Ctx;

/// Verifies a receipt's bytes against the two parties' keys.
pub fn check_receipt(
    bytes: &[u8],
    a: VerifierKey,
    b: VerifierKey,
    origin: Option<&str>,
) -> std::result::Result<receipt::VerifiedReceipt, String> {
    let mut trust = ReceiptTrust::parties(a, b).map_err(|e| e.to_string())?;
    if let Some(o) = origin {
        trust = trust.with_origin(o);
    }
    receipt::verify(bytes, &trust).map_err(|e| format!("the receipt does not verify: {e}"))
}

pub(super) fn verify_receipt(
    ctx: &Ctx,
    file: &Path,
    trust: &[PathBuf],
    origin: Option<&str>,
) -> Result<ExitCode> {
    let (a, b) = read_two_parties(trust)?;
    let bytes = read_bounded(file, MAX_RECEIPT)?;
    // Its form first (exit 2 if it is not a receipt at all): the receipt's lines, and the
    // checkpoint note it ends with. What the signatures cover is then verified (exit 1).
    let parsed =
        receipt::parse(&bytes).map_err(|e| malformed(file, format!("not a receipt: {e}")))?;
    checkpoint_note::parse(&parsed.checkpoint_note)
        .map_err(|e| malformed(file, format!("the receipt's checkpoint is {e}")))?;
    let r = check_receipt(&bytes, a, b, origin).map_err(failed)?;
    let e = &r.entry;
    let payload_text = std::str::from_utf8(&e.payload)
        .ok()
        .filter(|t| !t.chars().any(|c| c.is_control() && c != '\n' && c != '\t'));
    if ctx.json {
        json(&j!({
            "valid": true,
            "index": r.index,
            "leaf_hash": b64(&r.leaf_hash),
            "origin": e.origin,
            "kind": e.kind.as_str(),
            "sender": r.sender.name(),
            "sender_role": r.sender_role.to_string(),
            "sequence": e.sequence,
            "time": format_ms(e.timestamp_ms),
            "timestamp_ms": e.timestamp_ms,
            "subject": e.subject,
            "reply_to": e.reply_to,
            "content_type": e.content_type,
            "payload_size": e.payload.len(),
            "payload_text": payload_text,
            "attachments": e.attachments.iter().map(|a| j!({"name": a.name, "size": a.size, "sha256": b64(&a.sha256), "content_type": a.content_type})).collect::<Vec<_>>(),
            "checkpoint": cp_json(&r.committed.checkpoint),
            "cosigner": r.committed.cosigner.name(),
            "cosigned_at": r.committed.cosigned_at,
        }))?;
    } else {
        outln(&format!(
            "OK: receipt for entry {} of {}",
            r.index, e.origin
        ))?;
        outln(&format!(
            "  {} from {} ({}), message {}, sent {}",
            e.kind,
            r.sender.name(),
            r.sender_role,
            e.sequence,
            format_ms(e.timestamp_ms)
        ))?;
        outln(&format!("  subject: {}", printable(&e.subject)))?;
        outln(&format!(
            "  committed: in the checkpoint of size {} (root {}), co-signed by {} at {}",
            r.committed.checkpoint.size,
            b64(&r.committed.checkpoint.root),
            r.committed.cosigner.name(),
            format_s(r.committed.cosigned_at)
        ))?;
        outln("  The sender signed this message, and the other party acknowledged holding it; neither can rewrite it.")?;
    }
    Ok(ExitCode::SUCCESS)
}
