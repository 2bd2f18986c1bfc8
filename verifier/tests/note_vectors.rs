//! Signed-note, key and checkpoint vectors made with Go's x/mod sumdb/note.

mod common;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use common::*;
use dyad_verifier::checkpoint;
use dyad_verifier::hash::leaf_hash;
use dyad_verifier::key::{key_id, SignatureType, VerifierKey};
use dyad_verifier::note::{self, NoteError};
use dyad_verifier::Hash;
use ed25519_dalek::Signer;
use serde_json::Value;

fn array<'a>(v: &'a Value, field: &str) -> &'a Vec<Value> {
    let items = v[field]
        .as_array()
        .unwrap_or_else(|| panic!("notes.json has no {field:?} array"));
    assert!(!items.is_empty(), "notes.json {field:?} is empty");
    items
}

fn key_by_role<'a>(notes: &'a Value, role: &str) -> &'a Value {
    array(notes, "keys")
        .iter()
        .find(|k| str_field(k, "role") == role)
        .unwrap_or_else(|| panic!("no key with role {role}"))
}

/// Keys A and B, the ones the expectations trust.
fn trusted_keys(notes: &Value) -> Vec<VerifierKey> {
    let keys: Vec<VerifierKey> = array(notes, "keys")
        .iter()
        .filter(|k| bool_field(k, "trusted"))
        .map(|k| VerifierKey::parse(str_field(k, "verifier_key")).expect("trusted key parses"))
        .collect();
    assert_eq!(keys.len(), 2, "expected exactly keys A and B to be trusted");
    keys
}

/// The four outcome classes of the vectors.
fn class(result: &Result<note::VerifiedNote, NoteError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(NoteError::NoVerifiedSignature) => "unverified",
        Err(
            NoteError::InvalidSignature { .. }
            | NoteError::SignatureWrongLength { .. }
            | NoteError::TimestampOutOfRange { .. }
            | NoteError::DuplicateSignature { .. },
        ) => "invalid_signature",
        Err(_) => "malformed",
    }
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("signer list")
        .iter()
        .map(|n| n.as_str().expect("signer name").to_string())
        .collect()
}

/// Leaf `i` by the vectors' `leaf_rule`: "leaf-<i>" repeated (i % 7) + 1 times.
/// Checked against `leaves_hex` so that larger trees can be rebuilt from it.
fn rule_leaf_hashes(n: usize) -> Vec<Hash> {
    let tree = load_vectors("tree.json");
    let leaf = |i: usize| format!("leaf-{i}").repeat(i % 7 + 1).into_bytes();
    for (i, given) in tree["leaves_hex"]
        .as_array()
        .expect("leaves_hex")
        .iter()
        .enumerate()
    {
        assert_eq!(
            leaf(i),
            hex(given.as_str().unwrap()),
            "leaf rule disagrees with leaves_hex at {i}"
        );
    }
    (0..n).map(|i| leaf_hash(&leaf(i))).collect()
}

#[test]
fn keys_parse_and_match_their_seeds() {
    let notes = load_vectors("notes.json");
    let all = array(&notes, "keys")
        .iter()
        .chain(array(&notes, "extra_keys"));
    for k in all {
        let name = str_field(k, "name");
        let vkey = VerifierKey::parse(str_field(k, "verifier_key")).expect("verifier key parses");
        assert_eq!(vkey.name(), name);
        assert_eq!(format!("{:08x}", vkey.key_id()), str_field(k, "key_id_hex"));
        assert_eq!(
            vkey.public_key_bytes().to_vec(),
            hex(str_field(k, "public_key_hex"))
        );
        assert_eq!(vkey.signature_type(), SignatureType::Ed25519);
        assert_eq!(
            vkey.to_string(),
            str_field(k, "verifier_key"),
            "Display is the canonical form"
        );

        let signer = parse_signer_key(str_field(k, "signer_key")).expect("signer key parses");
        assert_eq!(
            signer.signing_key.to_bytes().to_vec(),
            hex(str_field(k, "seed_hex"))
        );
        assert_eq!(
            signer.signing_key.verifying_key().to_bytes(),
            vkey.public_key_bytes()
        );
        assert_eq!(
            key_id(name, SignatureType::Ed25519, &vkey.public_key_bytes()),
            vkey.key_id()
        );
        let rebuilt =
            VerifierKey::new(name, SignatureType::Ed25519, vkey.public_key_bytes()).unwrap();
        assert_eq!(rebuilt, vkey);
    }
}

#[test]
fn verifier_key_parse_cases_agree() {
    let notes = load_vectors("notes.json");
    for case in array(&notes, "verifier_key_parse") {
        let text = str_field(case, "key");
        let parsed = VerifierKey::parse(text);
        assert_eq!(
            parsed.is_ok(),
            bool_field(case, "valid"),
            "{case}: {parsed:?}"
        );
        if let Ok(key) = parsed {
            assert_eq!(key.name(), str_field(case, "key_name"));
            assert_eq!(
                format!("{:08x}", key.key_id()),
                str_field(case, "key_id_hex")
            );
            // Uppercase key IDs are read (as Go does) but always written lowercase.
            let canonical = VerifierKey::parse(&key.to_string()).unwrap();
            assert_eq!(canonical, key);
            let (name, rest) = text.split_once('+').unwrap();
            let (id, b64) = rest.split_once('+').unwrap();
            assert_eq!(
                key.to_string(),
                format!("{name}+{}+{b64}", id.to_ascii_lowercase())
            );
        }
    }
}

#[test]
fn signer_key_parse_cases_agree() {
    let notes = load_vectors("notes.json");
    for case in array(&notes, "signer_key_parse") {
        let parsed = parse_signer_key(str_field(case, "key"));
        assert_eq!(
            parsed.is_ok(),
            bool_field(case, "valid"),
            "{case}: {parsed:?}"
        );
        if let Ok(key) = parsed {
            assert_eq!(key.name, str_field(case, "key_name"));
            assert_eq!(format!("{:08x}", key.key_id), str_field(case, "key_id_hex"));
        }
    }
}

#[test]
fn checkpoint_bodies_agree() {
    let notes = load_vectors("notes.json");
    for case in array(&notes, "checkpoint_bodies") {
        let body =
            String::from_utf8(BASE64.decode(str_field(case, "body_base64")).unwrap()).unwrap();
        assert_eq!(body, str_field(case, "body"));
        let expect = &case["expect"];
        let parsed = checkpoint::parse(&body);
        assert_eq!(
            parsed.is_ok(),
            bool_field(expect, "valid"),
            "{case}: {parsed:?}"
        );
        if let Ok(cp) = parsed {
            assert_eq!(cp.origin, str_field(expect, "origin"));
            assert_eq!(cp.size, u64_field(expect, "size"));
            assert_eq!(cp.root, hex_hash(str_field(expect, "root_hex")));
            assert_eq!(cp.to_text(), body, "to_text round-trips");
        }
    }
}

#[test]
fn note_cases_agree() {
    let notes = load_vectors("notes.json");
    let keys = trusted_keys(&notes);
    let name_a = str_field(key_by_role(&notes, "A"), "name");
    let name_b = str_field(key_by_role(&notes, "B"), "name");
    let cases = array(&notes, "cases");
    for expected_class in ["ok", "unverified", "invalid_signature", "malformed"] {
        assert!(
            cases
                .iter()
                .any(|c| str_field(&c["expect"], "result") == expected_class),
            "no {expected_class} case"
        );
    }
    for case in cases {
        let name = str_field(case, "name");
        // Every case is "spec" today; a "go-specific" one would need a documented decision here.
        assert_eq!(
            str_field(case, "spec_status"),
            "spec",
            "{name}: decide and document this case"
        );
        let bytes = BASE64.decode(str_field(case, "note_base64")).unwrap();
        if let Some(text) = case["note"].as_str() {
            assert_eq!(
                text.as_bytes(),
                bytes.as_slice(),
                "{name}: note and note_base64 differ"
            );
        }
        let expect = &case["expect"];
        let result = note::verify(&bytes, &keys);
        assert_eq!(
            class(&result),
            str_field(expect, "result"),
            "{name}: {result:?}"
        );

        let verified: Vec<String> = match &result {
            Ok(v) => v
                .verified
                .iter()
                .map(|s| s.key.name().to_string())
                .collect(),
            Err(_) => Vec::new(),
        };
        assert_eq!(
            verified,
            names(&expect["verified_signers"]),
            "{name}: verified signers"
        );
        if let Ok(v) = &result {
            let unverified: Vec<String> = v.unverified.iter().map(|s| s.name.clone()).collect();
            assert_eq!(
                unverified,
                names(&expect["unverified_signers"]),
                "{name}: unverified signers"
            );
            assert!(
                v.verified.iter().all(|s| s.timestamp.is_none()),
                "{name}: Ed25519 has no timestamp"
            );
        }
        if str_field(expect, "result") == "unverified" {
            // The ignored lines are still visible through parse.
            let parsed: Vec<String> = note::parse(&bytes)
                .unwrap()
                .signatures
                .into_iter()
                .map(|s| s.name)
                .collect();
            assert_eq!(
                parsed,
                names(&expect["unverified_signers"]),
                "{name}: ignored signers"
            );
        }
        let has = |n: &str| verified.iter().any(|v| v == n);
        assert_eq!(
            has(name_a),
            bool_field(expect, "accept_require_a"),
            "{name}"
        );
        assert_eq!(
            has(name_b),
            bool_field(expect, "accept_require_b"),
            "{name}"
        );
        assert_eq!(
            has(name_a) && has(name_b),
            bool_field(expect, "accept_require_a_and_b"),
            "{name}"
        );
        assert_eq!(
            has(name_a) || has(name_b),
            bool_field(expect, "accept_require_a_or_b"),
            "{name}"
        );

        let expected_checkpoint = &case["checkpoint"];
        match (&result, expected_checkpoint.is_null()) {
            (Ok(v), false) => check_checkpoint(name, &v.text, expected_checkpoint),
            (Err(_), true) => {}
            (Ok(_), true) => panic!("{name}: verified, but the vectors expect no checkpoint text"),
            (Err(e), false) => panic!("{name}: rejected ({e}), but the vectors parse a checkpoint"),
        }
    }
}

fn check_checkpoint(name: &str, text: &str, expect: &Value) {
    let parsed = checkpoint::parse(text);
    assert_eq!(
        parsed.is_ok(),
        bool_field(expect, "valid"),
        "{name}: {parsed:?}"
    );
    let Ok(cp) = parsed else { return };
    assert_eq!(cp.origin, str_field(expect, "origin"), "{name}");
    assert_eq!(cp.size, u64_field(expect, "size"), "{name}");
    assert_eq!(cp.root, hex_hash(str_field(expect, "root_hex")), "{name}");
    let extensions: Vec<String> = match expect.get("extensions") {
        Some(list) => names(list),
        None => Vec::new(),
    };
    assert_eq!(cp.extensions, extensions, "{name}");
    assert_eq!(cp.to_text(), text, "{name}: to_text round-trips");
    if expect.get("matches_tree_json").and_then(Value::as_bool) == Some(true) {
        let leaves = rule_leaf_hashes(cp.size as usize);
        assert_eq!(
            reference_root(&leaves),
            cp.root,
            "{name}: root differs from the reference tree"
        );
    }
}

/// Notes signed here with the vectors' key A are formatted by `signature_line`
/// exactly as Go formats them: re-signing a vector note reproduces its bytes.
#[test]
fn signature_line_reproduces_go_notes() {
    let notes = load_vectors("notes.json");
    let signer = parse_signer_key(str_field(key_by_role(&notes, "A"), "signer_key")).unwrap();
    let case = array(&notes, "cases")
        .iter()
        .find(|c| str_field(c, "name") == "cp-1-sig-a")
        .expect("case cp-1-sig-a");
    let bytes = BASE64.decode(str_field(case, "note_base64")).unwrap();
    let parsed = note::parse(&bytes).unwrap();
    // Ed25519 signatures are deterministic (RFC 8032), so the bytes must match.
    let signature = signer.signing_key.sign(parsed.text.as_bytes());
    let rebuilt = format!(
        "{}\n{}",
        parsed.text,
        note::signature_line(&signer.name, signer.key_id, &signature.to_bytes())
    );
    assert_eq!(rebuilt.as_bytes(), bytes.as_slice());
}
