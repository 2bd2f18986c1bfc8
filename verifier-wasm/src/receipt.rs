//! A receipt (spec/dyad.md section 8) checked with the parties' keys or a tlog-policy, as
//! `dyad verify receipt` checks it: optionally with its key history (the key-change
//! receipts of a receipt directory's `key-changes/`, sections 3.7, 8 and 8.1), its
//! endorsement's receipt (sections 3.6, 8) and the attachments' bytes (section 3.5).

use dyad_verifier::endorsement;
use dyad_verifier::entry::Attachment;
use dyad_verifier::receipt::{
    self, ReceiptTrust, VerifiedReceipt, MAX_KEY_HISTORY, MAX_RECEIPT_BYTES,
};
use dyad_verifier::receipt_directory::attachment_file_names;
use dyad_verifier::receipt_history::verify_with_key_history;
use dyad_verifier::{check_attachment, ReceiptError};
use serde_json::{json, Value};

use crate::keys::{self, TrustedFiles};
use crate::{b64, checkpoint_json, key_changes_json, refused, witness_changes_json};

/// What the page gathered: key files, the key history, attachment files, an
/// endorsement's receipt.
#[derive(Debug, Default)]
pub struct ReceiptCheck {
    key_files: Vec<(String, String)>,
    /// The key-change receipts given, at most [`MAX_KEY_HISTORY`] kept.
    key_history: Vec<(String, Vec<u8>)>,
    /// How many key-change files were given, kept or not.
    key_history_given: usize,
    /// The first key-change file refused before it was kept (too large).
    key_history_problem: Option<String>,
    attachments: Vec<(String, Vec<u8>)>,
    endorsement: Option<Vec<u8>>,
    origin: Option<String>,
}

impl ReceiptCheck {
    /// A check with nothing given yet.
    pub fn new() -> ReceiptCheck {
        ReceiptCheck::default()
    }

    /// A `.pub` file's or a tlog-policy file's text.
    pub fn add_key_file(&mut self, name: &str, text: &str) {
        self.key_files.push((name.to_owned(), text.to_owned()));
    }

    /// A key-change receipt of the receipt's key history (spec 8.1: a receipt directory's
    /// `key-changes/<index>.tlog-proof`), in any order. Bounded as `dyad verify receipt`
    /// bounds them: each like a receipt, at most [`MAX_KEY_HISTORY`]; beyond that the
    /// files are counted, not kept, and the check refuses.
    pub fn add_key_change(&mut self, name: &str, bytes: Vec<u8>) {
        self.key_history_given += 1;
        if self.key_history_problem.is_some() || self.key_history.len() == MAX_KEY_HISTORY {
            return;
        }
        if bytes.len() > MAX_RECEIPT_BYTES {
            self.key_history_problem = Some(format!(
                "{name}: a key-change receipt of {} bytes, more than the {MAX_RECEIPT_BYTES} accepted",
                bytes.len()
            ));
            return;
        }
        self.key_history.push((name.to_owned(), bytes));
    }

    /// An attachment file: named as in a receipt directory's `attachments/` (spec section
    /// 8) or by the attachment's own name.
    pub fn add_attachment(&mut self, name: &str, bytes: Vec<u8>) {
        self.attachments.push((name.to_owned(), bytes));
    }

    /// The endorsement's receipt, for a record: "signed by A, endorsed by B".
    pub fn set_endorsement(&mut self, bytes: Vec<u8>) {
        self.endorsement = Some(bytes);
    }

    /// Requires this origin.
    pub fn set_origin(&mut self, origin: &str) {
        self.origin = Some(origin.to_owned());
    }

    fn trust(&self) -> Result<ReceiptTrust, String> {
        let files: TrustedFiles = keys::read(&self.key_files).map_err(|e| e.to_string())?;
        let (a, b) = files.two_parties().map_err(|e| e.to_string())?;
        let trust = match files.policy {
            Some(policy) => ReceiptTrust::policy(policy, a, b),
            None => ReceiptTrust::parties(a, b),
        }
        .map_err(|e| e.to_string())?;
        Ok(match &self.origin {
            Some(o) => trust.with_origin(o),
            None => trust,
        })
    }

    /// Verifies `bytes`; the answer as JSON text.
    pub fn verify(&self, bytes: &[u8]) -> String {
        self.verify_value(bytes).to_string()
    }

    fn verify_value(&self, bytes: &[u8]) -> Value {
        let trust = match self.trust() {
            Ok(t) => t,
            Err(reason) => return json!({"valid": false, "reason": reason, "keys": false}),
        };
        if let Err(e) = receipt::parse(bytes) {
            return json!({"valid": false, "malformed": true, "reason": format!("not a receipt: {e}")});
        }
        let history = match self.history() {
            Ok(h) => h,
            Err(reason) => return json!({"valid": false, "malformed": true, "reason": reason}),
        };
        let record = match verify_with_key_history(bytes, &history, &trust) {
            Ok(r) => r,
            Err(e) => return refusal("", &e),
        };
        let mut out = details(&record);
        out["key_history_files"] = json!(self.key_history.len());
        if let Some(endorsement_bytes) = &self.endorsement {
            match endorsed_by(&record, endorsement_bytes, &history, &trust) {
                Ok(e) => out["endorsement"] = e,
                Err(refusal) => return refusal,
            }
        }
        let (attachments, bad) = self.attachment_checks(&record.entry.attachments);
        out["attachments"] = Value::Array(attachments);
        out["attachments_checked"] =
            json!(!self.attachments.is_empty() || record.entry.attachments.is_empty());
        out["not_attachments"] = json!(self.unnamed_files(&record.entry.attachments));
        if !bad.is_empty() {
            out["valid"] = json!(false);
            out["reason"] = json!(format!(
                "the receipt verifies, but {} of its entry's {} attachment(s) do not: {}",
                bad.len(),
                record.entry.attachments.len(),
                bad.join("; ")
            ));
        }
        out
    }

    /// The key-change receipts' bytes, once each is known to be a receipt (as `dyad
    /// verify receipt` reads `key-changes/`): a refusal names the file.
    fn history(&self) -> Result<Vec<Vec<u8>>, String> {
        if self.key_history_given > MAX_KEY_HISTORY {
            return Err(format!(
                "{} key-change receipts given, more than the {MAX_KEY_HISTORY} a key history may hold (spec 8)",
                self.key_history_given
            ));
        }
        if let Some(problem) = &self.key_history_problem {
            return Err(problem.clone());
        }
        self.key_history
            .iter()
            .map(|(name, bytes)| {
                receipt::parse(bytes)
                    .map(|_| bytes.clone())
                    .map_err(|e| format!("{name}: not a key-change receipt: {e}"))
            })
            .collect()
    }

    /// Each attachment the entry names, and (when files were given) its file's check;
    /// the problems, one line each.
    fn attachment_checks(&self, named: &[Attachment]) -> (Vec<Value>, Vec<String>) {
        let dir_names = dir_names(named);
        let mut bad = Vec::new();
        let rows = named
            .iter()
            .zip(&dir_names)
            .map(|(a, dir_name)| {
                let mut row = json!({"name": a.name, "size": a.size, "sha256_hex": hex::encode(a.sha256),
                    "content_type": a.content_type, "file_name": dir_name, "checked": false});
                if self.attachments.is_empty() {
                    return row;
                }
                let given = self
                    .attachments
                    .iter()
                    .find(|(n, _)| n == dir_name || *n == a.name);
                let problem = match given {
                    None => Some("missing".to_owned()),
                    Some((_, bytes)) => check_attachment(a, bytes).err().map(|e| e.to_string()),
                };
                row["checked"] = json!(problem.is_none());
                if let Some(p) = problem {
                    bad.push(format!("{dir_name}: {p}"));
                    row["problem"] = json!(p);
                }
                row
            })
            .collect();
        (rows, bad)
    }

    /// Given files that are none of the entry's attachments: not part of what is proven.
    fn unnamed_files(&self, named: &[Attachment]) -> Vec<String> {
        let dir_names = dir_names(named);
        self.attachments
            .iter()
            .filter(|(n, _)| !dir_names.contains(n) && !named.iter().any(|a| a.name == *n))
            .map(|(n, _)| n.clone())
            .collect()
    }
}

fn dir_names(named: &[Attachment]) -> Vec<String> {
    let pairs: Vec<(&str, [u8; 32])> = named.iter().map(|a| (a.name.as_str(), a.sha256)).collect();
    attachment_file_names(&pairs)
}

/// The verifier's reason, as `dyad verify receipt` words it.
fn does_not_verify(which: &str, e: &ReceiptError) -> String {
    format!("{which}the receipt does not verify: {e}")
}

/// A receipt that does not verify; `may_need_key_history` when the checkpoint is signed
/// by keys the verifier does not know and no key history was given, so the page can say
/// which files to add.
fn refusal(which: &str, e: &ReceiptError) -> Value {
    let mut out = refused(does_not_verify(which, e));
    if matches!(e, ReceiptError::MayNeedKeyHistory(_)) {
        out["may_need_key_history"] = json!(true);
    }
    out
}

/// What a verified receipt proves, as `dyad verify receipt --json` says it.
fn details(r: &VerifiedReceipt) -> Value {
    let e = &r.entry;
    let payload_text = core::str::from_utf8(&e.payload)
        .ok()
        .filter(|t| !t.chars().any(|c| c.is_control() && c != '\n' && c != '\t'));
    let witnesses: Vec<Value> = r
        .committed
        .witnesses
        .iter()
        .map(|(k, at)| json!({"name": k.name(), "cosigned_at": at}))
        .collect();
    json!({
        "valid": true,
        "index": r.index,
        "leaf_hash": b64(&r.leaf_hash),
        "origin": e.origin,
        "kind": e.kind.as_str(),
        "sender": r.sender.name(),
        "sender_role": r.sender_role.to_string(),
        "sequence": e.sequence,
        "timestamp_ms": e.timestamp_ms,
        "subject": e.subject,
        "reply_to": e.reply_to,
        "content_type": e.content_type,
        "payload_size": e.payload.len(),
        "payload_text": payload_text,
        "checkpoint": checkpoint_json(&r.committed.checkpoint),
        "log": r.committed.log.name(),
        "cosigner": r.committed.cosigner.name(),
        "cosigned_at": r.committed.cosigned_at,
        "witnesses": witnesses,
        "key_changes": key_changes_json(&r.key_changes),
        "witness_changes": witness_changes_json(&r.witness_changes),
    })
}

/// The endorsement's receipt verified and tied to the record.
/// Both receipts are proved against the same checkpoint, so one key history serves both
/// (as in `dyad verify receipt --endorsement`).
fn endorsed_by(
    record: &VerifiedReceipt,
    bytes: &[u8],
    history: &[Vec<u8>],
    trust: &ReceiptTrust,
) -> Result<Value, Value> {
    if let Err(e) = receipt::parse(bytes) {
        return Err(refused(format!("endorsement: not a receipt: {e}")));
    }
    let endorsement =
        verify_with_key_history(bytes, history, trust).map_err(|e| refusal("endorsement: ", &e))?;
    let checked = endorsement::check_receipts(record, &endorsement).map_err(|e| {
        refused(format!(
            "the endorsement does not endorse this record: {e} ({})",
            e.code()
        ))
    })?;
    Ok(json!({
        "signed_by": checked.signed_by.name(),
        "endorsed_by": checked.endorsed_by.name(),
        "endorsement_index": checked.endorsement,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spec vectors' genesis keys and the last receipt after their key changes.
    fn check_and_receipt() -> (ReceiptCheck, Vec<u8>) {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../spec/vectors/entries.json");
        let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let mut check = ReceiptCheck::new();
        for p in v["parties"].as_array().unwrap() {
            check.add_key_file("party.pub", p["vkey"].as_str().unwrap());
        }
        let last = v["key_changes"]["receipts"]
            .as_array()
            .unwrap()
            .last()
            .unwrap();
        (check, last["receipt"].as_str().unwrap().as_bytes().to_vec())
    }

    #[test]
    fn a_key_change_file_larger_than_a_receipt_is_refused_by_name_and_not_kept() {
        let (mut check, receipt) = check_and_receipt();
        check.add_key_change("8.tlog-proof", vec![b'x'; MAX_RECEIPT_BYTES + 1]);
        check.add_key_change("10.tlog-proof", b"x".to_vec());
        assert!(
            check.key_history.is_empty(),
            "nothing kept after a refused file"
        );
        let answer: Value = serde_json::from_str(&check.verify(&receipt)).unwrap();
        assert_eq!(answer["valid"], false);
        let reason = answer["reason"].as_str().unwrap();
        assert!(
            reason.starts_with("8.tlog-proof: a key-change receipt of"),
            "{reason}"
        );
    }

    #[test]
    fn past_the_bound_key_change_files_are_counted_not_kept() {
        let (mut check, receipt) = check_and_receipt();
        for i in 0..MAX_KEY_HISTORY + 5 {
            check.add_key_change(&format!("{i}.tlog-proof"), b"x".to_vec());
        }
        assert_eq!(check.key_history.len(), MAX_KEY_HISTORY);
        let answer: Value = serde_json::from_str(&check.verify(&receipt)).unwrap();
        let reason = answer["reason"].as_str().unwrap();
        assert!(
            reason.contains(&format!(
                "{} key-change receipts given",
                MAX_KEY_HISTORY + 5
            )),
            "{reason}"
        );
    }
}
