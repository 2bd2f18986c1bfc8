//! `dyad verify receipt R --endorsement E`: a record's receipt with its endorsement's,
//! both verified with the two parties' keys, then tied together (spec/dyad.md sections
//! 3.6 and 8, `dyad_verifier::endorsement`): "signed by A, endorsed by B".

use std::path::Path;
use std::process::ExitCode;

use dyad_verifier::endorsement;
use dyad_verifier::receipt;
use serde_json::json as j;

use super::{cp_json, failed, malformed};
use crate::bounded::{read_bounded, MAX_RECEIPT};
use crate::commands::receipt_endorsement::receipt_pair;
use crate::error::Result;
use crate::output::{json, outln, printable};
use crate::policy_arg::Trust;
use crate::Ctx;

fn read_receipt(file: &Path) -> Result<Vec<u8>> {
    let bytes = read_bounded(file, MAX_RECEIPT)?;
    receipt::parse(&bytes).map_err(|e| malformed(file, format!("not a receipt: {e}")))?;
    Ok(bytes)
}

/// `dyad verify receipt`: the record and endorsement pair when there is an endorsement
/// (given, or beside the receipt in a receipt directory), else the receipt alone.
pub(super) fn verify_receipt_or_pair(
    ctx: &Ctx,
    given: &Path,
    attachments: Option<&Path>,
    endorsement: Option<&Path>,
    trust: &Trust,
    origin: Option<&str>,
    mirror: Option<&str>,
) -> Result<ExitCode> {
    match receipt_pair(given, endorsement).1 {
        Some(_) if mirror.is_some() => Err(crate::error::CliError::usage_hint(
            "--mirror checks one receipt, and this is a record with its endorsement",
            "give the record's receipt file (receipt.tlog-proof) rather than its directory",
        )),
        Some(e) => verify_endorsed(ctx, (given, attachments), &e, trust, origin),
        None => super::receipt::verify_receipt(ctx, given, attachments, trust, origin, mirror),
    }
}

fn verify_endorsed(
    ctx: &Ctx,
    (given, attachments): (&Path, Option<&Path>),
    endorsement_file: &Path,
    trust: &Trust,
    origin: Option<&str>,
) -> Result<ExitCode> {
    let (file, attachments_dir) = super::receipt::inputs(given, attachments)?;
    let file = file.as_path();
    let record_bytes = read_receipt(file)?;
    let endorsement_bytes = read_receipt(endorsement_file)?;
    // Both are proved against the same checkpoint, so one key history serves both.
    let history = super::receipt::key_history(given)?;
    let record = super::receipt::check(&record_bytes, &history, trust, origin)
        .map_err(|e| failed(format!("record: {e}")))?;
    let endorsed = super::receipt::check(&endorsement_bytes, &history, trust, origin)
        .map_err(|e| failed(format!("endorsement: {e}")))?;
    let checked = endorsement::check_receipts(&record, &endorsed).map_err(|e| {
        failed(format!(
            "the endorsement does not endorse this record: {e} ({})",
            e.code()
        ))
    })?;
    let attachments = &record.entry.attachments;
    let files = match attachments_dir.as_deref() {
        Some(dir) => Some(super::receipt::checked_files(dir, attachments)?),
        None => None,
    };
    let (signed_by, endorsed_by) = (checked.signed_by.name(), checked.endorsed_by.name());
    if ctx.json {
        json(&j!({
            "valid": true,
            "index": checked.record,
            "subject": record.entry.subject,
            "signed_by": signed_by,
            "endorsed_by": endorsed_by,
            "endorsement_index": checked.endorsement,
            "attachments": files.as_ref().map_or_else(Vec::new, |f| f.iter().map(|f| j!({"name": f.attachment.name, "size": f.attachment.size, "sha256_hex": hex::encode(f.attachment.sha256), "file": f.file})).collect()),
            "attachments_checked": files.is_some() || attachments.is_empty(),
            "checkpoint": cp_json(&record.committed.checkpoint),
        }))?;
    } else {
        outln(&format!(
            "OK: record {} of {}: signed by {}, endorsed by {} (entry {})",
            checked.record,
            record.entry.origin,
            printable(signed_by),
            printable(endorsed_by),
            checked.endorsement
        ))?;
        outln(&format!("  subject {}", printable(&record.entry.subject)))?;
        outln(&format!(
            "  both in the checkpoint of size {} co-signed by both parties",
            record.committed.checkpoint.size
        ))?;
        for (i, a) in attachments.iter().enumerate() {
            let checked_in = files.as_ref().map(|f| f[i].file.as_path());
            outln(&super::receipt::attachment_line(a, checked_in))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
