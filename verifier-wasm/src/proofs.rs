//! The lower checks an auditor may want alone, and which the vectors of spec/vectors and
//! ../shared/vectors exercise: RFC 9162 inclusion and consistency proofs, C2SP signed
//! notes, and the audit of a list of leaves and checkpoints (a log held whole).

use dyad_verifier::audit::{self, AuditTrust};
use dyad_verifier::key::VerifierKey;
use dyad_verifier::{note, proof, Hash};
use serde_json::json;

use crate::log_audit::report_json;
use crate::{keys, refused};

fn hash(bytes: &[u8]) -> Result<Hash, String> {
    proof::hash_from_slice(bytes).map_err(|e| e.to_string())
}

fn hashes(bytes: &[u8]) -> Result<Vec<Hash>, String> {
    if bytes.len() % 32 != 0 {
        return Err(format!(
            "a proof of {} bytes is not a list of hashes",
            bytes.len()
        ));
    }
    bytes.chunks_exact(32).map(hash).collect()
}

fn answer(result: Result<(), String>) -> String {
    match result {
        Ok(()) => json!({"valid": true}),
        Err(e) => refused(e),
    }
    .to_string()
}

/// An inclusion proof (`proof`: its hashes, concatenated) of the leaf hash at `index` in
/// the tree of `size` leaves with `root`.
pub fn verify_inclusion(leaf: &[u8], index: u64, size: u64, proof: &[u8], root: &[u8]) -> String {
    answer((|| {
        proof::verify_inclusion(&hash(leaf)?, index, size, &hashes(proof)?, &hash(root)?)
            .map_err(|e| e.to_string())
    })())
}

/// A consistency proof between the trees of `old_size` and `new_size` leaves.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &[u8],
    new_root: &[u8],
    proof: &[u8],
) -> String {
    answer((|| {
        proof::verify_consistency(
            old_size,
            new_size,
            &hash(old_root)?,
            &hash(new_root)?,
            &hashes(proof)?,
        )
        .map_err(|e| e.to_string())
    })())
}

/// A signed note verified with the verifier keys in `key_lines` (one per line): which
/// known keys signed it.
pub fn verify_note(note_bytes: &[u8], key_lines: &str) -> String {
    let parsed: Result<Vec<VerifierKey>, String> = key_lines
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| VerifierKey::parse(l.trim()).map_err(|e| e.to_string()))
        .collect();
    let keys = match parsed {
        Ok(k) => k,
        Err(e) => return refused(e).to_string(),
    };
    match note::verify(note_bytes, &keys) {
        Ok(v) => json!({
            "valid": true,
            "text": v.text,
            "verified": v.verified.iter().map(|s| s.key.name()).collect::<Vec<_>>(),
        })
        .to_string(),
        Err(e) => refused(e).to_string(),
    }
}

/// A whole log held in memory: its leaves and checkpoints, audited as `dyad audit
/// --bundle` audits them.
#[derive(Default)]
pub struct LeafAudit {
    leaves: Vec<Vec<u8>>,
    checkpoints: Vec<Vec<u8>>,
}

impl LeafAudit {
    pub fn new() -> LeafAudit {
        LeafAudit::default()
    }

    pub fn add_leaf(&mut self, bytes: Vec<u8>) {
        self.leaves.push(bytes);
    }

    pub fn add_checkpoint(&mut self, note: Vec<u8>) {
        self.checkpoints.push(note);
    }

    /// The audit, trusting the two parties of the given `.pub` files.
    pub fn run(&self, key_files: &[(String, String)]) -> String {
        let trust = match keys::read(key_files).and_then(|f| f.two_parties()) {
            Ok((a, b)) => AuditTrust::Parties([a, b]),
            Err(e) => return refused(e).to_string(),
        };
        match audit::audit(self.leaves.iter().cloned(), &self.checkpoints, trust) {
            Ok(report) => report_json(&report).to_string(),
            Err(e) => {
                let mut v = refused(format!("the log does not verify: {e}"));
                if let Some(index) = entry_index(&e) {
                    v["entry"] = json!(index);
                }
                if let Some(rule) = key_rule(&e) {
                    v["rule"] = json!(rule);
                }
                v.to_string()
            }
        }
    }
}

/// The rule a refused entry broke, for the rules around key changes (spec/dyad.md 3.4,
/// 3.7), by the name spec/vectors gives it, so that a refusal can be matched to its rule.
fn key_rule(e: &audit::AuditError) -> Option<&'static str> {
    use dyad_verifier::EntryError as E;
    let audit::AuditError::Entry { error, .. } = e else {
        return None;
    };
    match error {
        E::KeyChange(k) => Some(k.code()),
        E::RetiredKey { .. } => Some("RetiredKey"),
        // A key change signed only by its new key: its sender is no party's current key.
        E::SenderNotAParty { .. } => Some("sender-not-a-party"),
        _ => None,
    }
}

/// The entry an audit error names, as `dyad audit --json` gives it.
fn entry_index(e: &audit::AuditError) -> Option<u64> {
    use audit::AuditError as E;
    match e {
        E::Entry { index, .. }
        | E::Endorsement { index, .. }
        | E::SequenceGap { index, .. }
        | E::TimestampBeforeGenesis { index, .. }
        | E::TimestampBeforePrevious { index, .. }
        | E::TimestampAfterCosignature { index, .. } => Some(*index),
        E::UntrustedGenesis => Some(0),
        _ => None,
    }
}
