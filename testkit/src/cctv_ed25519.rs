//! The C2SP CCTV Ed25519 edge-case vectors (vectors/cctv-ed25519, copied unchanged; see its
//! SOURCE): public key, signature and message of 914 cases of small-order, mixed-order and
//! non-canonical A and R, with the flags naming each case.

use std::path::Path;

/// One vector.
#[derive(Debug, Clone)]
pub struct Vector {
    pub number: u64,
    pub key: [u8; 32],
    pub signature: [u8; 64],
    pub message: Vec<u8>,
    pub flags: Vec<String>,
}

/// Every vector, in the file's order.
pub fn vectors() -> Vec<Vector> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors/cctv-ed25519/ed25519vectors.json");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let all: Vec<serde_json::Value> = serde_json::from_str(&text).expect("the vectors are JSON");
    all.iter().map(vector).collect()
}

fn vector(v: &serde_json::Value) -> Vector {
    let hex_field = |name: &str| hex::decode(v[name].as_str().expect("a hex string")).expect("hex");
    Vector {
        number: v["number"].as_u64().expect("a number"),
        key: hex_field("key").try_into().expect("32 bytes"),
        signature: hex_field("sig").try_into().expect("64 bytes"),
        message: v["msg"].as_str().expect("a string").as_bytes().to_vec(),
        flags: v["flags"]
            .as_array()
            .map(|f| {
                f.iter()
                    .map(|x| x.as_str().expect("a flag").to_owned())
                    .collect()
            })
            .unwrap_or_default(),
    }
}
