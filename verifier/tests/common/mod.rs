//! Shared test helpers: the Go x/mod reference vectors, hex, signer keys, and a
//! reference Merkle tree written straight from the RFC 6962 definitions.
#![allow(dead_code)]

use std::path::PathBuf;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use dyad_verifier::hash::{leaf_hash, node_hash};
use dyad_verifier::key::{key_id, SignatureType};
use dyad_verifier::Hash;
use ed25519_dalek::SigningKey;
use serde_json::Value;

/// `../shared/vectors` beside the checkout (the checkout is the workspace root).
pub fn vectors_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/vectors"))
}

pub fn load_vectors(file: &str) -> Value {
    let path = vectors_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "\n\n*** reference vectors missing: could not read {} ({e}).\n\
             *** The Go x/mod vectors must be in ../shared/vectors beside the checkout.\n\n",
            path.display()
        )
    });
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()))
}

pub fn hex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd-length hex {s:?}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or_else(|_| panic!("bad hex {s:?}")))
        .collect()
}

pub fn hex_hash(s: &str) -> Hash {
    hex(s)
        .try_into()
        .unwrap_or_else(|_| panic!("{s:?} is not a 32-byte hash"))
}

pub fn str_field<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("field {field:?} missing or not a string in {v}"))
}

pub fn u64_field(v: &Value, field: &str) -> u64 {
    v[field]
        .as_u64()
        .unwrap_or_else(|| panic!("field {field:?} missing or not a u64 in {v}"))
}

pub fn bool_field(v: &Value, field: &str) -> bool {
    v[field]
        .as_bool()
        .unwrap_or_else(|| panic!("field {field:?} missing or not a bool in {v}"))
}

pub fn hashes_field(v: &Value, field: &str) -> Vec<Hash> {
    v[field]
        .as_array()
        .unwrap_or_else(|| panic!("field {field:?} missing or not an array in {v}"))
        .iter()
        .map(|h| hex_hash(h.as_str().expect("hash is a string")))
        .collect()
}

/// A signer key `PRIVATE+KEY+<name>+<key id hex>+base64(0x01 || seed)`, as Go's
/// x/mod writes them. Test-only: the verifier never handles private keys.
#[derive(Debug)]
pub struct SignerKey {
    pub name: String,
    pub key_id: u32,
    pub signing_key: SigningKey,
}

pub fn parse_signer_key(s: &str) -> Result<SignerKey, String> {
    let rest = s
        .strip_prefix("PRIVATE+KEY+")
        .ok_or("missing PRIVATE+KEY+ prefix")?;
    let mut fields = rest.splitn(3, '+');
    let (Some(name), Some(id_hex), Some(key_b64)) = (fields.next(), fields.next(), fields.next())
    else {
        return Err("missing field".into());
    };
    if name.is_empty() || name.chars().any(char::is_whitespace) {
        return Err("bad name".into());
    }
    if id_hex.len() != 8 || !id_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("bad key id".into());
    }
    let found = u32::from_str_radix(id_hex, 16).map_err(|e| e.to_string())?;
    let key = BASE64.decode(key_b64).map_err(|e| e.to_string())?;
    let [0x01, seed @ ..] = key.as_slice() else {
        return Err("not an Ed25519 signer key".into());
    };
    let seed: [u8; 32] = seed.try_into().map_err(|_| "seed is not 32 bytes")?;
    let signing_key = SigningKey::from_bytes(&seed);
    let computed = key_id(
        name,
        SignatureType::Ed25519,
        signing_key.verifying_key().as_bytes(),
    );
    if computed != found {
        return Err(format!(
            "key id {found:08x} does not match computed {computed:08x}"
        ));
    }
    Ok(SignerKey {
        name: name.to_string(),
        key_id: found,
        signing_key,
    })
}

// The RFC 9162 definitions, from the one copy of the test oracles.
// (Not every test binary that includes this module uses each of them.)
#[allow(unused_imports)]
pub use dyad_testkit::merkle::{
    consistency_proof as reference_consistency_proof, inclusion_proof as reference_inclusion_proof,
    root as reference_root,
};

/// Leaf hashes of a synthetic log: leaf i is the decimal string of i.
pub fn synthetic_leaves(n: usize) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(i.to_string().as_bytes()))
        .collect()
}

/// RFC 9162 section 2.1.3.2, step by step as the RFC writes it: an independent
/// oracle for the verifier's decomposition-based algorithm. `None` where the
/// RFC's loop fails; otherwise the root it computes.
pub fn rfc_inclusion_root(leaf: &Hash, index: u64, size: u64, proof: &[Hash]) -> Option<Hash> {
    if index >= size {
        return None;
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return None;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    (sn == 0).then_some(r)
}

pub fn rfc_inclusion_ok(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> bool {
    rfc_inclusion_root(leaf, index, size, proof) == Some(*root)
}

/// RFC 9162 section 2.1.4.2, step by step, for 0 < first < second: `None` where
/// the RFC's loop fails, otherwise the (old, new) roots it computes.
pub fn rfc_consistency_roots(
    first: u64,
    second: u64,
    first_hash: &Hash,
    proof: &[Hash],
) -> Option<(Hash, Hash)> {
    assert!(0 < first && first < second);
    if proof.is_empty() {
        return None;
    }
    let mut path = proof.to_vec();
    if first.is_power_of_two() {
        path.insert(0, *first_hash);
    }
    let (mut fn_, mut sn) = (first - 1, second - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if sn == 0 {
            return None;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    (sn == 0).then_some((fr, sr))
}

pub fn rfc_consistency_ok(
    first: u64,
    second: u64,
    first_hash: &Hash,
    second_hash: &Hash,
    proof: &[Hash],
) -> bool {
    rfc_consistency_roots(first, second, first_hash, proof) == Some((*first_hash, *second_hash))
}

/// A fixed Ed25519 key for tests.
pub fn seeded_key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// An Ed25519 (0x01) signature line by `key` under `name` over `text`.
pub fn ed25519_line(name: &str, key: &SigningKey, text: &str) -> String {
    use ed25519_dalek::Signer;
    let id = key_id(name, SignatureType::Ed25519, key.verifying_key().as_bytes());
    dyad_verifier::note::signature_line(name, id, &key.sign(text.as_bytes()).to_bytes())
}

/// A cosignature/v1 (0x04) line, signed over the message as tlog-cosignature
/// spells it (built here, not with the crate's `signed_message`).
pub fn cosignature_line(name: &str, key: &SigningKey, text: &str, timestamp: u64) -> String {
    use ed25519_dalek::Signer;
    let id = key_id(
        name,
        SignatureType::CosignatureV1,
        key.verifying_key().as_bytes(),
    );
    let message = format!("cosignature/v1\ntime {timestamp}\n{text}");
    let mut bytes = timestamp.to_be_bytes().to_vec();
    bytes.extend_from_slice(&key.sign(message.as_bytes()).to_bytes());
    dyad_verifier::note::signature_line(name, id, &bytes)
}

/// A checkpoint text for a synthetic log of `size` leaves.
pub fn checkpoint_text(origin: &str, size: usize) -> String {
    let root = reference_root(&synthetic_leaves(size));
    format!("{origin}\n{size}\n{}\n", BASE64.encode(root))
}

/// Joins a text and signature lines into a note.
pub fn note_of(text: &str, lines: &[String]) -> Vec<u8> {
    format!("{text}\n{}", lines.concat()).into_bytes()
}
