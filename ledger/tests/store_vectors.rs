//! The store against Go's golang.org/x/mod/sumdb/tlog, through the reference vectors in
//! shared/vectors/tree.json (read at run time; nothing is copied from them).

use dyad_ledger::store::Store;
use dyad_ledger::tree::{Hash, EMPTY_ROOT};
use serde_json::Value;

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/vectors/tree.json"
);

fn vectors() -> Value {
    let text = std::fs::read_to_string(VECTORS)
        .unwrap_or_else(|e| panic!("cannot read the tree vectors at {VECTORS}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{VECTORS} is not JSON: {e}"))
}

fn bytes(v: &Value) -> Vec<u8> {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("expected a hex string, got {v}"));
    assert!(s.len() % 2 == 0, "odd-length hex {s:?}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn hash(v: &Value) -> Hash {
    bytes(v)
        .try_into()
        .unwrap_or_else(|b: Vec<u8>| panic!("a hash of {} bytes", b.len()))
}

fn hashes(v: &Value) -> Vec<Hash> {
    v.as_array().unwrap().iter().map(hash).collect()
}

fn u(v: &Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("expected an integer, got {v}"))
}

fn built(v: &Value) -> (tempfile::TempDir, Store) {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::create(&tmp.path().join("log")).unwrap();
    // Batches of 1, 2, 3, ... so batch edges land at many sizes.
    let leaves = v["leaves_hex"].as_array().unwrap();
    let mut rest = &leaves[..];
    let mut n = 1;
    while !rest.is_empty() {
        let (now, later) = rest.split_at(n.min(rest.len()));
        let mut b = store.batch();
        for l in now {
            b.append_leaf(bytes(l));
        }
        store.commit(b).unwrap();
        rest = later;
        n += 1;
    }
    (tmp, store)
}

#[test]
fn leaves_and_roots_match_go_tlog() {
    let v = vectors();
    let (_tmp, store) = built(&v);
    assert_eq!(store.size(), u(&v["leaf_count"]));
    for (i, h) in v["leaf_hashes_hex"].as_array().unwrap().iter().enumerate() {
        assert_eq!(store.leaf_hash(i as u64).unwrap(), hash(h), "leaf hash {i}");
    }
    let roots = v["roots"].as_array().unwrap();
    assert_eq!(roots.len() as u64, store.size());
    for r in roots {
        assert_eq!(
            store.root_at(u(&r["size"])).unwrap(),
            hash(&r["root_hex"]),
            "root at {}",
            r["size"]
        );
    }
    // RFC 9162's empty root, where Go's TreeHash(0) gives zeros (see the vector's note).
    assert_eq!(
        store.root_at(0).unwrap(),
        hash(&v["empty_tree"]["rfc6962_root_hex"])
    );
    assert_eq!(EMPTY_ROOT, hash(&v["empty_tree"]["rfc6962_root_hex"]));
}

#[test]
fn inclusion_proofs_match_go_tlog() {
    let v = vectors();
    let (_tmp, store) = built(&v);
    let cases = v["inclusion"].as_array().unwrap();
    assert!(!cases.is_empty());
    for c in cases {
        assert_eq!(c["expect_valid"], Value::Bool(true));
        let (index, size) = (u(&c["index"]), u(&c["size"]));
        assert_eq!(store.leaf(index).unwrap(), bytes(&c["leaf_hex"]));
        assert_eq!(store.root_at(size).unwrap(), hash(&c["root_hex"]));
        assert_eq!(
            store.inclusion_proof(index, size).unwrap(),
            hashes(&c["proof_hex"]),
            "inclusion {index} in {size}"
        );
    }
}

#[test]
fn consistency_proofs_match_go_tlog() {
    let v = vectors();
    let (_tmp, store) = built(&v);
    let cases = v["consistency"].as_array().unwrap();
    assert!(!cases.is_empty());
    for c in cases {
        assert_eq!(c["expect_valid"], Value::Bool(true));
        let (old, new) = (u(&c["old_size"]), u(&c["new_size"]));
        assert_eq!(store.root_at(old).unwrap(), hash(&c["old_root_hex"]));
        assert_eq!(store.root_at(new).unwrap(), hash(&c["new_root_hex"]));
        assert_eq!(
            store.consistency_proof(old, new).unwrap(),
            hashes(&c["proof_hex"]),
            "consistency {old} to {new}"
        );
    }
}
