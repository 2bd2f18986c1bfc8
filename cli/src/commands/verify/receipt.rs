//! `dyad verify receipt`: a receipt (a C2SP tlog-proof file, spec/dyad.md section 8)
//! checked with the two parties' keys, and, given a receipt directory or `--attachments
//! DIR`, the bytes of the attachments its entry names. A receipt directory's
//! `key-changes/` holds its key history (spec 8, 8.1): the receipts of the key changes and
//! witness changes below its checkpoint, which the verifier follows from the genesis keys
//! (and the trusted witnesses).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use dyad_verifier::entry::Attachment;
use dyad_verifier::key::VerifierKey;
use dyad_verifier::receipt;
use dyad_verifier::receipt::MAX_KEY_HISTORY;
use dyad_verifier::receipt_directory::{
    key_change_file_index, ATTACHMENTS_DIR, KEY_CHANGES_DIR, RECEIPT_FILE,
};
use dyad_verifier::receipt_history;
use serde_json::json as j;

use super::attachments::{check_files, unnamed_files, AttachmentFile};
use super::{cp_json, failed, malformed};
use crate::bounded::{read_bounded, MAX_RECEIPT};
use crate::checkpoint_note;
use crate::error::{CliError, Result};
use crate::output::{b64, format_ms, format_s, json, outln, printable};
use crate::policy_arg::Trust;
use crate::Ctx;

/// Verifies a receipt's bytes against the two parties' keys.
pub fn check_receipt(
    bytes: &[u8],
    a: VerifierKey,
    b: VerifierKey,
    origin: Option<&str>,
) -> std::result::Result<receipt::VerifiedReceipt, String> {
    check(bytes, &[], &Trust::Parties(a, b), origin)
}

/// Verifies a receipt's bytes, with its key history (the key-change receipts, possibly
/// none), against the parties' keys or a policy.
pub(super) fn check(
    bytes: &[u8],
    key_history: &[Vec<u8>],
    trust: &Trust,
    origin: Option<&str>,
) -> std::result::Result<receipt::VerifiedReceipt, String> {
    let trust = trust.receipt_trust(origin)?;
    receipt_history::verify_with_key_history(bytes, key_history, &trust)
        .map_err(|e| format!("the receipt does not verify: {e}"))
}

/// The key history of a receipt directory: the files `key-changes/<index>.tlog-proof`
/// (spec 8.1), each bounded like a receipt, at most `MAX_KEY_HISTORY` of them. None when
/// `given` is a receipt file, or the directory has no `key-changes/`.
pub(super) fn key_history(given: &Path) -> Result<Vec<Vec<u8>>> {
    let dir = given.join(KEY_CHANGES_DIR);
    if !given.is_dir() || !dir.is_dir() {
        return Ok(Vec::new());
    }
    let listing = std::fs::read_dir(&dir).map_err(CliError::read(&dir))?;
    let mut files = Vec::new();
    for item in listing {
        let item = item.map_err(CliError::read(&dir))?;
        let name = item.file_name();
        match name.to_str().and_then(key_change_file_index) {
            Some(_) if files.len() == MAX_KEY_HISTORY => {
                return Err(malformed(
                    &dir,
                    format!("more than {MAX_KEY_HISTORY} key-change receipts"),
                ))
            }
            Some(_) => files.push(item.path()),
            None => eprintln!(
                "note: {} is not a key-change receipt (<index>.tlog-proof): not read",
                item.path().display()
            ),
        }
    }
    files.sort();
    let mut history = Vec::with_capacity(files.len());
    for file in files {
        let bytes = read_bounded(&file, MAX_RECEIPT)?;
        receipt::parse(&bytes)
            .map_err(|e| malformed(&file, format!("not a key-change receipt: {e}")))?;
        history.push(bytes);
    }
    Ok(history)
}

/// The receipt file and the attachment directory to check: a receipt directory gives both
/// (its `receipt.tlog-proof` and `attachments/`); `--attachments DIR` names the second.
pub(super) fn inputs(
    given: &Path,
    attachments: Option<&Path>,
) -> Result<(PathBuf, Option<PathBuf>)> {
    if let Some(dir) = attachments.filter(|d| !d.is_dir()) {
        return Err(CliError::usage(format!(
            "--attachments {}: not a directory",
            dir.display()
        )));
    }
    if given.is_dir() {
        let dir = attachments.map_or_else(|| given.join(ATTACHMENTS_DIR), Path::to_owned);
        return Ok((given.join(RECEIPT_FILE), Some(dir)));
    }
    Ok((given.to_owned(), attachments.map(Path::to_owned)))
}

pub(super) fn verify_receipt(
    ctx: &Ctx,
    given: &Path,
    attachments_dir: Option<&Path>,
    trust: &Trust,
    origin: Option<&str>,
    mirror: Option<&str>,
) -> Result<ExitCode> {
    let (file, attachments_dir) = inputs(given, attachments_dir)?;
    let file = file.as_path();
    let bytes = read_bounded(file, MAX_RECEIPT)?;
    // Its form first (exit 2 if it is not a receipt at all): the receipt's lines, and the
    // checkpoint note it ends with. What the signatures cover is then verified (exit 1).
    let parsed =
        receipt::parse(&bytes).map_err(|e| malformed(file, format!("not a receipt: {e}")))?;
    checkpoint_note::parse(&parsed.checkpoint_note)
        .map_err(|e| malformed(file, format!("the receipt's checkpoint is {e}")))?;
    let history = key_history(given)?;
    if mirror.is_some() && !history.is_empty() {
        return Err(CliError::usage(
            "--mirror checks a mirror's checkpoint with the genesis keys, and this receipt has a key history (key-changes/): verify it without --mirror",
        ));
    }
    let r = check(&bytes, &history, trust, origin).map_err(failed)?;
    let e = &r.entry;
    let files = match attachments_dir.as_deref() {
        Some(dir) => Some(checked_files(dir, &e.attachments)?),
        None => None,
    };
    let receipt_trust = trust.receipt_trust(origin).map_err(failed)?;
    let mirrored = match mirror {
        Some(url) => Some(super::mirror::check(
            url,
            &receipt_trust,
            &r.committed.checkpoint,
            r.index,
            &r.leaf_hash,
        )?),
        None => None,
    };
    let checked_file = |i: usize| files.as_ref().map(|f| &f[i].file);
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
            "attachments": e.attachments.iter().enumerate().map(|(i, a)| j!({"name": a.name, "size": a.size, "sha256": b64(&a.sha256), "sha256_hex": hex::encode(a.sha256), "content_type": a.content_type, "checked": files.is_some(), "file": checked_file(i)})).collect::<Vec<_>>(),
            "attachments_checked": files.is_some() || e.attachments.is_empty(),
            "checkpoint": cp_json(&r.committed.checkpoint),
            "cosigner": r.committed.cosigner.name(),
            "cosigned_at": r.committed.cosigned_at,
            "mirror": mirrored.as_ref().map(|m| j!({
                "url": m.url,
                "checkpoint": cp_json(&m.checkpoint),
                "consistent": true,
                "included": true,
            })),
            "witnesses": super::witnesses_json(&r.committed),
            "key_changes": crate::commands::audit::key_changes_json(&r.key_changes),
            "witness_changes": crate::commands::audit::witness_changes_json(&r.witness_changes),
            "trusted_by": trust.option(),
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
        if let Some(line) = super::witnessed_line(&r.committed) {
            outln(&line)?;
        }
        if let Trust::Policy(..) = trust {
            outln("  The checkpoint meets the policy's quorum.")?;
        }
        for line in crate::commands::audit::key_change_lines(&r.key_changes) {
            outln(&line)?;
        }
        if !r.key_changes.is_empty() {
            outln("  Key history: followed from the genesis keys through every key change given; each was signed by the party's key before it and proved by the new one.")?;
        }
        for line in crate::commands::audit::witness_change_lines(&r.witness_changes) {
            outln(&line)?;
        }
        if !r.witness_changes.is_empty() {
            let policy = matches!(trust, Trust::Policy(..));
            outln(if policy {
                "  Witness changes: each was signed by one party and approved by the other; the policy's own witnesses and quorum were applied as written (spec 9)."
            } else {
                "  Witness changes: each was signed by one party and approved by the other; the checkpoint was judged by the witnesses and threshold of the last one."
            })?;
        }
        outln("  The sender signed this message, and both parties signed a checkpoint that includes it; neither can rewrite it.")?;
        if let Some(m) = &mirrored {
            outln(&format!(
                "  mirror: {} holds a checkpoint of size {} co-signed by both, consistent with the receipt's, and including entry {}",
                m.url, m.checkpoint.size, r.index
            ))?;
        }
        for (i, a) in e.attachments.iter().enumerate() {
            outln(&attachment_line(a, checked_file(i).map(PathBuf::as_path)))?;
        }
        if !e.attachments.is_empty() {
            outln(&attachments_summary(
                r.index,
                e.attachments.len(),
                files.is_some(),
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One attachment of the entry, and the file its bytes were checked in (if any).
pub(super) fn attachment_line(a: &Attachment, checked_in: Option<&Path>) -> String {
    let state = match checked_in {
        Some(f) => format!("checked: {}", f.display()),
        None => "NOT CHECKED".to_owned(),
    };
    format!(
        "  attachment  {} ({} bytes, sha256 {}): {state}",
        printable(&a.name),
        a.size,
        hex::encode(a.sha256)
    )
}

/// What the receipt proves of the attachments, said no stronger than it is.
fn attachments_summary(index: u64, count: usize, checked: bool) -> String {
    let proven = if checked {
        format!("  The {count} attachment file(s) are byte for byte the ones the signed entry names (by SHA-256 and size).")
    } else {
        format!("  The attachments' bytes were NOT checked: the entry names {count} by SHA-256 and size, but none were given (verify the directory of `dyad receipt {index} --out DIR`, or give --attachments DIR).")
    };
    // Holding the bytes is what a node does before it signs (spec/node.md 2.2), not
    // something a signature shows.
    format!("{proven}\n  A dyad node co-signs or takes an entry only once it holds its attachments (spec/node.md 2.2), but the signatures cover the attachments' SHA-256 and size, not their bytes.")
}

/// The entry's `attachments` checked against the files in `dir`; files there that the entry
/// does not name are noted as not checked.
pub(super) fn checked_files<'a>(
    dir: &Path,
    attachments: &'a [Attachment],
) -> Result<Vec<AttachmentFile<'a>>> {
    let files = check_files(dir, attachments);
    refuse_bad_files(&files)?;
    for name in unnamed_files(dir, &files) {
        eprintln!("note: {name} is not an attachment of the entry: not checked");
    }
    Ok(files)
}

/// Exit 1 naming every attachment file that is missing or is not the attachment.
fn refuse_bad_files(files: &[AttachmentFile]) -> Result<()> {
    let bad: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let problem = f.outcome.as_ref().err()?;
            Some(format!("{}: {problem}", f.file.display()))
        })
        .collect();
    if bad.is_empty() {
        return Ok(());
    }
    let listed = files
        .iter()
        .map(|f| j!({"name": f.attachment.name, "file": f.file, "problem": f.outcome.as_ref().err().map(ToString::to_string)}))
        .collect::<Vec<_>>();
    Err(CliError::check(format!(
        "the receipt verifies, but {} of its entry's {} attachment(s) do not: {}",
        bad.len(),
        files.len(),
        bad.join("; ")
    ))
    .with_fields(j!({"valid": false, "attachments": listed})))
}
