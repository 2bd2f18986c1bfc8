//! The key changes of the spec vectors (spec/vectors/README.md, `key_changes`), which the
//! ledger wrote, checked by the independent verifier: the vector log continued with a key
//! change by each party audits under the genesis keys and reports both changes; each
//! invalid key-change vector fails the audit at its index by the rule it names; every
//! receipt under the last checkpoint verifies from the genesis keys with the key history,
//! and none without it.

mod entry_support;

use dyad_verifier::audit::{self, AuditError, AuditTrust};
use dyad_verifier::genesis::PartyRole;
use dyad_verifier::key::VerifierKey;
use dyad_verifier::receipt::{self, ReceiptError, ReceiptTrust};
use dyad_verifier::receipt_history::verify_with_key_history;
use dyad_verifier::EntryError;
use entry_support::*;

fn genesis_keys(v: &serde_json::Value) -> (VerifierKey, VerifierKey) {
    let key = |role| VerifierKey::parse(str_of(vector_party(v, role), "vkey")).unwrap();
    (key("sequencer"), key("cosigner"))
}

fn notes(list: &[serde_json::Value]) -> Vec<Vec<u8>> {
    list.iter()
        .map(|c| str_of(c, "note").as_bytes().to_vec())
        .collect()
}

/// The whole vector log with its key changes, and every checkpoint of it.
fn log_with_key_changes(v: &serde_json::Value) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let k = field(v, "key_changes");
    let mut leaves = vector_leaves(v);
    for e in array_of(k, "entries") {
        assert_eq!(
            u64_of(e, "index"),
            leaves.len() as u64,
            "entries in log order"
        );
        leaves.push(unhex(str_of(e, "entry_hex")));
    }
    let mut checkpoints = notes(array_of(v, "checkpoints"));
    checkpoints.extend(notes(array_of(k, "checkpoints")));
    (leaves, checkpoints)
}

#[test]
fn the_vector_log_with_key_changes_audits_and_names_both_changes() {
    let v = vectors();
    let (sequencer, cosigner) = genesis_keys(&v);
    let (leaves, checkpoints) = log_with_key_changes(&v);
    let report = audit::audit(
        leaves.clone(),
        &checkpoints,
        AuditTrust::Parties([sequencer, cosigner]),
    )
    .unwrap();
    assert_eq!(report.leaves, leaves.len() as u64);
    assert_eq!(report.committed_size, leaves.len() as u64);
    let new_keys = array_of(field(&v, "key_changes"), "new_keys");
    let changes: Vec<(PartyRole, String)> = report
        .key_changes
        .iter()
        .map(|c| (c.role, c.new_key.to_string()))
        .collect();
    let expected: Vec<(PartyRole, String)> = new_keys
        .iter()
        .map(|k| {
            let role = match str_of(k, "role") {
                "sequencer" => PartyRole::Sequencer,
                _ => PartyRole::Cosigner,
            };
            (role, str_of(k, "vkey").to_owned())
        })
        .collect();
    assert_eq!(changes, expected);
}

/// The rule an audit failure names, as the vectors name it.
fn rule(error: &AuditError) -> Option<(u64, String)> {
    let AuditError::Entry { index, error } = error else {
        return None;
    };
    let name = match error {
        EntryError::KeyChange(e) => e.code().to_owned(),
        EntryError::RetiredKey { .. } => "RetiredKey".to_owned(),
        EntryError::SenderNotAParty { .. } => "sender-not-a-party".to_owned(),
        _ => return None,
    };
    Some((*index, name))
}

#[test]
fn each_invalid_key_change_vector_fails_the_audit_by_its_rule() {
    let v = vectors();
    let (sequencer, cosigner) = genesis_keys(&v);
    let (leaves, checkpoints) = log_with_key_changes(&v);
    let cases = array_of(field(&v, "key_changes"), "invalid_entries");
    assert!(cases.len() >= 8, "too few invalid key-change vectors");
    for case in cases {
        let name = str_of(case, "name");
        let mut log = leaves.clone();
        log.push(unhex(str_of(case, "entry_hex")));
        let trust = AuditTrust::Parties([sequencer.clone(), cosigner.clone()]);
        let error = audit::audit(log, &checkpoints, trust).expect_err(name);
        let expected = (u64_of(case, "index"), str_of(case, "error").to_owned());
        assert_eq!(rule(&error), Some(expected), "{name}: {error}");
    }
}

#[test]
fn receipts_after_key_changes_verify_only_with_their_key_history() {
    let v = vectors();
    let (sequencer, cosigner) = genesis_keys(&v);
    let trust = ReceiptTrust::parties(sequencer, cosigner).unwrap();
    let k = field(&v, "key_changes");
    let history: Vec<Vec<u8>> = array_of(k, "key_history")
        .iter()
        .map(|r| str_of(r, "receipt").as_bytes().to_vec())
        .collect();
    assert_eq!(history.len(), 2);
    let receipts = array_of(k, "receipts");
    assert!(receipts.len() >= 10, "a receipt per entry of the log");
    for r in receipts {
        let index = u64_of(r, "index");
        let bytes = str_of(r, "receipt").as_bytes();
        let verified = verify_with_key_history(bytes, &history, &trust)
            .unwrap_or_else(|e| panic!("receipt {index}: {e}"));
        assert_eq!(verified.index, index);
        assert_eq!(verified.key_changes.len(), 2, "receipt {index}");
        let alone = receipt::verify(bytes, &trust).expect_err("signed by the new keys");
        assert!(
            matches!(alone, ReceiptError::MayNeedKeyHistory(_)),
            "receipt {index}: {alone}"
        );
    }
}
