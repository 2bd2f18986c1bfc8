//! Writes spec/vectors/tls-binding.json: a node certificate with the binding extension
//! (spec/node.md 9.3) for the spec vectors' sequencer key, and what a verifier derives from
//! it. The certificate's P-256 key and ECDSA self-signature are random, so running this
//! again writes another (equally valid) certificate; node/tests/tls_vectors.rs checks
//! every field of the file against the code. Run after a change to the binding, and commit
//! the result with the spec change: `cargo run -p dyad-node --example gen_tls_vectors`

use dyad_ledger::keys::SignerKey;
use dyad_node::tls::binding::{certificate_spki, statement, Binding};
use dyad_node::tls::TlsIdentity;
use serde_json::json;
use sha2::{Digest, Sha256};

/// As spec/vectors/entries.json: the channel and its sequencer (alpha).
const ORIGIN: &str = "example.org/dyad/vectors";
const SEQUENCER: &str = "example.org/dyad/alpha";
/// 2026-01-01T00:00:00Z, the vectors' genesis time.
const ISSUED: u64 = 1_767_225_600;

fn main() {
    let seed: [u8; 32] = Sha256::digest("dyad spec vector key alpha").into();
    let key = SignerKey::from_seed(SEQUENCER, seed).expect("the vector key");
    let identity = TlsIdentity::ephemeral(&key, ORIGIN, ISSUED).expect("a certificate");
    let der = identity.certificate().to_vec();
    let spki = certificate_spki(&der).expect("its SPKI");
    let not_after = identity.not_after();
    let binding = Binding::sign(&key, ORIGIN, not_after, &spki).expect("the binding");
    let vector = json!({
        "origin": ORIGIN,
        "party": {
            "name": SEQUENCER,
            "seed_hex": hex::encode(seed),
            "public_key_hex": hex::encode(key.public_key()),
        },
        "oid": "1.3.6.1.4.1.4294967290.1",
        "issued": ISSUED,
        "not_after": not_after,
        "certificate_der_hex": hex::encode(&der),
        "spki_hex": hex::encode(&spki),
        "statement_hex": hex::encode(statement(ORIGIN, not_after, &spki).expect("statement")),
        "signature_hex": hex::encode(binding.signature),
        "extension_value_hex": hex::encode(binding.encode()),
        "pin": identity.pin(),
        "fingerprint": identity.fingerprint_text(),
    });
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors/tls-binding.json");
    let mut text = serde_json::to_string_pretty(&vector).expect("serialise");
    text.push('\n');
    if let Err(e) = std::fs::write(&path, text) {
        eprintln!("error: cannot write {}: {e}", path.display());
        std::process::exit(1);
    }
    println!("wrote {}", path.display());
}
