//! The witness changes of the spec vectors (spec/vectors/README.md, `witness_changes`),
//! which the ledger wrote, checked by the independent verifier: the vector log continued
//! with its key changes and two witness changes audits under the genesis keys, reports
//! both witness changes and judges each checkpoint by the witnesses at its size; the
//! uncommitted checkpoints fail by too few witnesses; each invalid witness-change vector
//! fails the audit at its index by the rule it names; every receipt under the last
//! checkpoint verifies with the key history, and is judged by the genesis witnesses without
//! it.

mod entry_support;

use dyad_verifier::audit::{self, AuditError, AuditTrust};
use dyad_verifier::genesis::{CommitError, PartyRole};
use dyad_verifier::key::VerifierKey;
use dyad_verifier::receipt::{ReceiptError, ReceiptTrust};
use dyad_verifier::receipt_history::verify_with_key_history;
use dyad_verifier::EntryError;
use entry_support::*;

fn trust(v: &serde_json::Value) -> AuditTrust {
    let key = |role| VerifierKey::parse(str_of(vector_party(v, role), "vkey")).unwrap();
    AuditTrust::Parties([key("sequencer"), key("cosigner")])
}

fn notes(list: &[serde_json::Value]) -> Vec<Vec<u8>> {
    list.iter()
        .map(|c| str_of(c, "note").as_bytes().to_vec())
        .collect()
}

/// The whole vector log with its key changes and witness changes, and its committed
/// checkpoints.
fn log(v: &serde_json::Value) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let mut leaves = vector_leaves(v);
    let mut checkpoints = notes(array_of(v, "checkpoints"));
    for section in ["key_changes", "witness_changes"] {
        let s = field(v, section);
        for e in array_of(s, "entries") {
            assert_eq!(
                u64_of(e, "index"),
                leaves.len() as u64,
                "entries in log order"
            );
            leaves.push(unhex(str_of(e, "entry_hex")));
        }
        checkpoints.extend(notes(array_of(s, "checkpoints")));
    }
    (leaves, checkpoints)
}

#[test]
fn the_vector_log_with_witness_changes_audits_and_names_both_changes() {
    let v = vectors();
    let (leaves, checkpoints) = log(&v);
    let report = audit::audit(leaves.clone(), &checkpoints, trust(&v)).unwrap();
    assert_eq!(report.committed_size, leaves.len() as u64);
    let w = field(&v, "witness_changes");
    let expected: Vec<(u64, u64, Vec<String>, u64)> = array_of(w, "entries")
        .iter()
        .filter(|e| str_of(field(e, "decoded"), "kind") == "witness-change")
        .map(|e| {
            let c = field(e, "witness_change");
            let names = array_of(c, "witnesses")
                .iter()
                .map(|p| str_of(p, "name").to_owned())
                .collect();
            (
                u64_of(e, "index"),
                u64_of(c, "number"),
                names,
                u64_of(c, "witness_threshold"),
            )
        })
        .collect();
    assert_eq!(expected.len(), 2);
    let found: Vec<(u64, u64, Vec<String>, u64)> = report
        .witness_changes
        .iter()
        .map(|c| {
            (
                c.index,
                u64::from(c.number),
                c.witnesses.iter().map(|p| p.name.clone()).collect(),
                u64::from(c.witness_threshold),
            )
        })
        .collect();
    assert_eq!(found, expected);
    assert_eq!(report.witness_changes[0].sender, PartyRole::Sequencer);
    assert_eq!(report.witness_changes[1].sender, PartyRole::Cosigner);
}

#[test]
fn the_uncommitted_vector_checkpoints_have_too_few_witnesses_at_their_size() {
    let v = vectors();
    let (leaves, _) = log(&v);
    let uncommitted = array_of(field(&v, "witness_changes"), "uncommitted_checkpoints");
    assert_eq!(uncommitted.len(), 2);
    for c in uncommitted {
        assert_eq!(str_of(c, "error"), "WitnessQuorum");
        let size = u64_of(c, "size");
        let note = str_of(c, "note").as_bytes().to_vec();
        let result = audit::audit(leaves[..size as usize].to_vec(), &[note], trust(&v));
        assert!(
            matches!(
                result,
                Err(AuditError::NotCommitted {
                    size: Some(s),
                    error: CommitError::NotEnoughWitnesses { .. }
                }) if s == size
            ),
            "checkpoint {size}: {result:?}"
        );
    }
}

#[test]
fn each_invalid_witness_change_vector_fails_the_audit_by_its_rule() {
    let v = vectors();
    let (leaves, checkpoints) = log(&v);
    let cases = array_of(field(&v, "witness_changes"), "invalid_entries");
    assert!(cases.len() >= 8, "too few invalid witness-change vectors");
    for case in cases {
        let name = str_of(case, "name");
        let mut log = leaves.clone();
        log.push(unhex(str_of(case, "entry_hex")));
        let error = audit::audit(log, &checkpoints, trust(&v)).expect_err(name);
        let found = match &error {
            AuditError::Entry {
                index,
                error: EntryError::WitnessChange(e),
            } => Some((*index, e.code())),
            _ => None,
        };
        let expected = (u64_of(case, "index"), str_of(case, "error"));
        assert_eq!(found, Some(expected), "{name}: {error}");
    }
}

#[test]
fn receipts_after_witness_changes_verify_with_their_key_history() {
    let v = vectors();
    let AuditTrust::Parties([a, b]) = trust(&v) else {
        unreachable!()
    };
    let w = field(&v, "witness_changes");
    let witnesses: Vec<VerifierKey> = array_of(w, "witnesses")
        .iter()
        .map(|k| VerifierKey::parse(str_of(k, "cosignature_vkey")).unwrap())
        .collect();
    let history: Vec<Vec<u8>> = array_of(w, "key_history")
        .iter()
        .map(|r| str_of(r, "receipt").as_bytes().to_vec())
        .collect();
    assert_eq!(history.len(), 4, "two key changes, two witness changes");
    // The parties' keys, and the genesis (which names no witness).
    let trusts = [
        ReceiptTrust::parties(a.clone(), b.clone()).unwrap(),
        ReceiptTrust::genesis(&vector_genesis(&v)).unwrap(),
    ];
    for trust in &trusts {
        for r in array_of(w, "receipts") {
            let index = u64_of(r, "index");
            let bytes = str_of(r, "receipt").as_bytes();
            let verified = verify_with_key_history(bytes, &history, trust)
                .unwrap_or_else(|e| panic!("receipt {index}: {e}"));
            assert_eq!(verified.key_changes.len(), 2, "receipt {index}");
            assert_eq!(verified.witness_changes.len(), 2, "receipt {index}");
            // Judged by the last change's witnesses: witness-2 and witness-3, both required.
            let names: Vec<&str> = verified
                .committed
                .witnesses
                .iter()
                .map(|(k, _)| k.name())
                .collect();
            assert_eq!(names.len(), 2, "receipt {index}");
            assert!(names.contains(&witnesses[1].name()) && names.contains(&witnesses[2].name()));
            // Without the witness changes, the genesis's (no witness) judge it: the key
            // changes alone make it pass, with no witness counted.
            let keys_only = [history[0].clone(), history[1].clone()];
            let judged = verify_with_key_history(bytes, &keys_only, trust).unwrap();
            assert!(judged.witness_changes.is_empty());
            // Without the first witness change, the second's number is wrong.
            let skipped = [history[0].clone(), history[1].clone(), history[3].clone()];
            let error = verify_with_key_history(bytes, &skipped, trust).unwrap_err();
            assert!(
                matches!(&error, ReceiptError::KeyHistory { index, .. } if *index == u64_of(&array_of(w, "key_history")[3], "index")),
                "receipt {index}: {error}"
            );
            assert!(
                error.to_string().contains("WrongWitnessChangeNumber"),
                "{error}"
            );
        }
    }
}
