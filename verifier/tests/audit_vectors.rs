//! The spec vectors' log (spec/vectors/entries.json) passes the audit, and its receipts'
//! entries are its leaves.

mod entry_support;

use dyad_verifier::audit::{self, AuditTrust};
use dyad_verifier::key::VerifierKey;
use entry_support::*;

#[test]
fn the_vector_log_passes_the_audit() {
    let v = vectors();
    let leaves = vector_leaves(&v);
    let checkpoints: Vec<Vec<u8>> = array_of(&v, "checkpoints")
        .iter()
        .map(|c| str_of(c, "note").as_bytes().to_vec())
        .collect();
    let key = |role| VerifierKey::parse(str_of(vector_party(&v, role), "vkey")).unwrap();
    let trust = AuditTrust::Parties([key("cosigner"), key("sequencer")]);
    let report = audit::audit(leaves.clone(), &checkpoints, trust).unwrap();
    assert_eq!(report.leaves, leaves.len() as u64);
    assert_eq!(report.genesis, vector_genesis(&v));
    let largest = array_of(&v, "checkpoints")
        .iter()
        .map(|c| u64_of(c, "size"))
        .max()
        .unwrap();
    assert_eq!(report.committed_size, largest);
    assert_eq!(report.pending, leaves.len() as u64 - largest);

    let pinned = AuditTrust::Genesis(vector_genesis(&v));
    audit::audit(leaves, &checkpoints, pinned).unwrap();
}
