//! Records and endorsements (spec/dyad.md section 3.6) in the verifier: the audit of the
//! vector log followed by each invalid record or endorsement of the vectors fails naming
//! the entry and the rule, by either feeding path; and the receipt pair of an endorsed
//! record gives "signed by A, endorsed by B" only for the right pair.

mod entry_support;

use dyad_verifier::audit::{self, AuditError, AuditTrust, Auditor};
use dyad_verifier::endorsement::check_receipts;
use dyad_verifier::joint_record::EndorsementError;
use dyad_verifier::key::VerifierKey;
use dyad_verifier::receipt::{self, ReceiptTrust, VerifiedReceipt};
use dyad_verifier::EntryError;
use entry_support::*;

fn keys(v: &serde_json::Value) -> (VerifierKey, VerifierKey) {
    let key = |role| VerifierKey::parse(str_of(vector_party(v, role), "vkey")).unwrap();
    (key("sequencer"), key("cosigner"))
}

/// The rule an audit failure names, with the entry it names.
fn joint_rule(error: &AuditError) -> Option<(u64, &EndorsementError)> {
    match error {
        AuditError::Entry {
            index,
            error: EntryError::JointRecord(e),
        }
        | AuditError::Endorsement { index, error: e } => Some((*index, e)),
        _ => None,
    }
}

#[test]
fn the_audit_rejects_each_invalid_endorsement() {
    let v = vectors();
    let (sequencer, cosigner) = keys(&v);
    let leaves = vector_leaves(&v);
    let checkpoints: Vec<Vec<u8>> = array_of(&v, "checkpoints")
        .iter()
        .map(|c| str_of(c, "note").as_bytes().to_vec())
        .collect();
    let cases = array_of(&v, "invalid_endorsements");
    assert!(cases.len() >= 10, "too few invalid endorsement vectors");
    for case in cases {
        let name = str_of(case, "name");
        let expected = str_of(case, "error");
        let at = u64_of(case, "index");
        let bad = unhex(str_of(case, "entry_hex"));

        // The whole log with the bad entry at its end.
        let mut log = leaves.clone();
        log.push(bad.clone());
        let trust = AuditTrust::Parties([sequencer.clone(), cosigner.clone()]);
        let error = audit::audit(log, &checkpoints, trust).expect_err(name);
        let (index, rule) = joint_rule(&error).unwrap_or_else(|| panic!("{name}: {error}"));
        assert_eq!((index, rule.code()), (at, expected), "{name}: {error}");

        // Pushed leaf by leaf, and checked on the side then pushed in order: the same.
        let mut auditor = Auditor::from_parties(sequencer.clone(), cosigner.clone()).unwrap();
        for leaf in &leaves {
            auditor.push_leaf(leaf).unwrap();
        }
        let mut checked = auditor.clone();
        let by_leaf = auditor.push_leaf(&bad).expect_err(name);
        assert_eq!(by_leaf, error, "{name}: push_leaf");
        let checker = checked.leaf_checker().unwrap();
        let by_checker = checker
            .check(at, &bad)
            .and_then(|leaf| checked.push_checked(leaf))
            .expect_err(name);
        assert_eq!(by_checker, error, "{name}: leaf checker");
    }
}

#[test]
fn the_vector_log_counts_its_records_and_endorsements() {
    let v = vectors();
    let (sequencer, cosigner) = keys(&v);
    let trust = AuditTrust::Parties([sequencer, cosigner]);
    let report = audit::audit(vector_leaves(&v), &[], trust).unwrap();
    assert_eq!(
        report.kinds[dyad_verifier::Kind::Record.as_u8() as usize],
        2
    );
    assert_eq!(
        report.kinds[dyad_verifier::Kind::Endorsement.as_u8() as usize],
        1
    );
}

fn receipt_of(v: &serde_json::Value, index: u64, trust: &ReceiptTrust) -> VerifiedReceipt {
    let r = array_of(v, "receipts")
        .iter()
        .find(|r| u64_of(r, "index") == index)
        .expect("a receipt");
    receipt::verify(str_of(r, "receipt").as_bytes(), trust).unwrap()
}

fn index_of(v: &serde_json::Value, name: &str) -> u64 {
    let e = array_of(v, "entries")
        .iter()
        .find(|e| str_of(e, "name") == name)
        .expect("a vector entry");
    u64_of(e, "index")
}

#[test]
fn receipt_pairs_are_checked() {
    let v = vectors();
    let (sequencer, cosigner) = keys(&v);
    let trust = ReceiptTrust::parties(sequencer.clone(), cosigner.clone()).unwrap();
    let record = receipt_of(&v, index_of(&v, "record"), &trust);
    let endorsement = receipt_of(&v, index_of(&v, "endorsement"), &trust);
    let other = receipt_of(&v, index_of(&v, "record-with-attachment"), &trust);
    let inquiry = receipt_of(&v, index_of(&v, "inquiry"), &trust);

    let endorsed = check_receipts(&record, &endorsement).unwrap();
    assert_eq!(endorsed.signed_by, sequencer);
    assert_eq!(endorsed.endorsed_by, cosigner);
    assert_eq!(endorsed.record, record.index);
    assert_eq!(endorsed.endorsement, endorsement.index);

    assert!(matches!(
        check_receipts(&other, &endorsement),
        Err(EndorsementError::EndorsesAnotherEntry { .. })
    ));
    assert!(matches!(
        check_receipts(&endorsement, &record),
        Err(EndorsementError::ReceiptNotOfRecord(_))
    ));
    assert!(matches!(
        check_receipts(&record, &inquiry),
        Err(EndorsementError::ReceiptNotOfEndorsement(_))
    ));
    // Another checkpoint under the endorsement: refused, even with the same entries.
    let mut moved = endorsement.clone();
    moved.committed.checkpoint.size += 1;
    assert_eq!(
        check_receipts(&record, &moved),
        Err(EndorsementError::DifferentCheckpoints)
    );
    // A changed endorsement no longer verifies as a receipt at all.
    let r = array_of(&v, "receipts")
        .iter()
        .find(|r| u64_of(r, "index") == endorsement.index)
        .unwrap();
    let text = str_of(r, "receipt").replacen("extra A", "extra B", 1);
    assert!(receipt::verify(text.as_bytes(), &trust).is_err());
}
