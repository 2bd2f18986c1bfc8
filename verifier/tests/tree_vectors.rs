//! RFC 6962 / RFC 9162 tree vectors made with Go's x/mod sumdb/tlog.

mod common;

use common::*;
use dyad_verifier::hash::{leaf_hash, EMPTY_ROOT};
use dyad_verifier::proof::{
    root_from_inclusion_proof, verify_consistency, verify_inclusion, ProofError,
};
use dyad_verifier::Hash;
use serde_json::Value;

fn cases<'a>(tree: &'a Value, field: &str) -> &'a Vec<Value> {
    let cases = tree[field]
        .as_array()
        .unwrap_or_else(|| panic!("tree.json has no {field:?} array"));
    assert!(!cases.is_empty(), "tree.json {field:?} is empty");
    cases
}

fn leaf_hashes(tree: &Value) -> Vec<Hash> {
    let leaves = cases(tree, "leaves_hex");
    let hashes: Vec<Hash> = leaves
        .iter()
        .map(|l| leaf_hash(&hex(l.as_str().unwrap())))
        .collect();
    let expected: Vec<Hash> = cases(tree, "leaf_hashes_hex")
        .iter()
        .map(|h| hex_hash(h.as_str().unwrap()))
        .collect();
    assert_eq!(hashes, expected, "leaf hashes differ from leaf_hashes_hex");
    hashes
}

/// The case's leaf hash, from its leaf bytes; checked against leaf_hash_hex.
fn case_leaf_hash(case: &Value) -> Hash {
    let hash = leaf_hash(&hex(str_field(case, "leaf_hex")));
    assert_eq!(
        hash,
        hex_hash(str_field(case, "leaf_hash_hex")),
        "leaf hash of {case}"
    );
    hash
}

fn inclusion_result(case: &Value) -> Result<(), ProofError> {
    verify_inclusion(
        &case_leaf_hash(case),
        u64_field(case, "index"),
        u64_field(case, "size"),
        &hashes_field(case, "proof_hex"),
        &hex_hash(str_field(case, "root_hex")),
    )
}

fn consistency_result(case: &Value) -> Result<(), ProofError> {
    verify_consistency(
        u64_field(case, "old_size"),
        u64_field(case, "new_size"),
        &hex_hash(str_field(case, "old_root_hex")),
        &hex_hash(str_field(case, "new_root_hex")),
        &hashes_field(case, "proof_hex"),
    )
}

#[test]
fn roots_match_a_reference_tree_built_from_the_leaves() {
    let tree = load_vectors("tree.json");
    let leaves = leaf_hashes(&tree);
    let roots = cases(&tree, "roots");
    assert_eq!(roots.len(), leaves.len());
    for root in roots {
        let size = u64_field(root, "size") as usize;
        let expected = hex_hash(str_field(root, "root_hex"));
        assert_eq!(
            reference_root(&leaves[..size]),
            expected,
            "root of size {size}"
        );
        let checkpoint_form =
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, expected);
        assert_eq!(
            checkpoint_form,
            str_field(root, "root_base64"),
            "base64 root of size {size}"
        );
    }
}

#[test]
fn empty_tree_root_is_rfc_6962_not_go() {
    let tree = load_vectors("tree.json");
    let empty = &tree["empty_tree"];
    assert_eq!(EMPTY_ROOT, hex_hash(str_field(empty, "rfc6962_root_hex")));
    assert_ne!(
        EMPTY_ROOT,
        hex_hash(str_field(empty, "go_tlog_tree_hash_hex"))
    );
    assert_eq!(reference_root(&[]), EMPTY_ROOT);
}

#[test]
fn every_inclusion_proof_verifies() {
    let tree = load_vectors("tree.json");
    let leaves = leaf_hashes(&tree);
    for case in cases(&tree, "inclusion") {
        assert!(bool_field(case, "expect_valid"));
        assert_eq!(inclusion_result(case), Ok(()), "{case}");
        let index = u64_field(case, "index") as usize;
        let size = u64_field(case, "size") as usize;
        let proof = hashes_field(case, "proof_hex");
        assert_eq!(
            proof,
            reference_inclusion_proof(index, &leaves[..size]),
            "reference proof differs: {case}"
        );
        let root =
            root_from_inclusion_proof(&case_leaf_hash(case), index as u64, size as u64, &proof);
        assert_eq!(root, Ok(hex_hash(str_field(case, "root_hex"))));
    }
}

#[test]
fn every_consistency_proof_verifies() {
    let tree = load_vectors("tree.json");
    let leaves = leaf_hashes(&tree);
    for case in cases(&tree, "consistency") {
        assert!(bool_field(case, "expect_valid"));
        assert_eq!(consistency_result(case), Ok(()), "{case}");
        let old_size = u64_field(case, "old_size") as usize;
        let new_size = u64_field(case, "new_size") as usize;
        let proof = hashes_field(case, "proof_hex");
        assert_eq!(
            proof,
            reference_consistency_proof(old_size, &leaves[..new_size]),
            "reference differs: {case}"
        );
    }
}

/// Every mutated inclusion proof is rejected, with the error its mutation calls for.
#[test]
fn every_invalid_inclusion_is_rejected() {
    let tree = load_vectors("tree.json");
    for case in cases(&tree, "inclusion_invalid") {
        assert!(!bool_field(case, "expect_valid"));
        let name = str_field(case, "name");
        let result = inclusion_result(case);
        match result {
            Err(ProofError::IndexOutOfRange { .. }) => {
                assert!(name.contains("index-equals-size"), "{name}")
            }
            Err(ProofError::InclusionProofTooLong { .. }) => {
                assert!(
                    name.contains("extended") || name.contains("wrong-index"),
                    "{name}"
                )
            }
            // Another index can need a path of another length.
            Err(ProofError::InclusionProofTooShort { .. }) => {
                assert!(name.contains("wrong-index"), "{name}")
            }
            Err(ProofError::RootMismatch) => {}
            other => panic!("{name}: unexpected {other:?}"),
        }
    }
}

#[test]
fn every_invalid_consistency_is_rejected() {
    let tree = load_vectors("tree.json");
    for case in cases(&tree, "consistency_invalid") {
        assert!(!bool_field(case, "expect_valid"));
        let name = str_field(case, "name");
        let result = consistency_result(case);
        let fitting = match &result {
            Ok(()) => false,
            Err(ProofError::OldSizeAfterNewSize { .. }) => name.contains("sizes-reversed"),
            Err(ProofError::OldRootNotEmptyTreeRoot) => name.contains("old-size-zero"),
            Err(ProofError::ConsistencyProofTooShort { .. }) => {
                name.contains("truncated") || name.contains("empty-proof")
            }
            Err(ProofError::ConsistencyProofTooLong { .. }) => {
                name.contains("extended") || name.contains("same-size")
            }
            Err(ProofError::OldRootMismatch | ProofError::NewRootMismatch) => {
                name.contains("flip") || name.contains("wrong") || name.contains("swapped")
            }
            Err(_) => false,
        };
        assert!(fitting, "{name}: unexpected {result:?}");
    }
}

#[test]
fn other_size_inclusion_cases_agree_with_go() {
    let tree = load_vectors("tree.json");
    let cases = cases(&tree, "inclusion_other_size");
    assert!(
        cases.iter().any(|c| bool_field(c, "expect_valid")),
        "no accepted case: the test would be one-sided"
    );
    for case in cases {
        assert_eq!(
            inclusion_result(case).is_ok(),
            bool_field(case, "expect_valid"),
            "{case}"
        );
    }
}

#[test]
fn other_size_consistency_cases_agree_with_go() {
    let tree = load_vectors("tree.json");
    for case in cases(&tree, "consistency_other_size") {
        assert_eq!(
            consistency_result(case).is_ok(),
            bool_field(case, "expect_valid"),
            "{case}"
        );
    }
}
