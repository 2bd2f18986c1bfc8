//! `dyad_ledger::keys::SignerKey::parse`, the reader of `NAME.key` files: never panics on
//! any text; and for a key name and seed taken from the input, the private key string of
//! spec section 2.1 (`PRIVATE+KEY+<name>+<key ID>+base64(0x01 || seed)`, written here from
//! the spec) parses to exactly that key. An accepted string's key matches its name, seed
//! and key ID.
#![no_main]

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use dyad_ledger::keys::SignerKey;
use dyad_verifier::key::{self, SignatureType, VerifierKey};
use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

fn private_key_string(name: &str, seed: &[u8; 32]) -> (String, [u8; 32]) {
    let public = SigningKey::from_bytes(seed).verifying_key().to_bytes();
    let mut raw = vec![0x01];
    raw.extend_from_slice(seed);
    let id = key::key_id(name, SignatureType::Ed25519, &public);
    (
        format!("PRIVATE+KEY+{name}+{id:08x}+{}", BASE64.encode(raw)),
        public,
    )
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(parsed) = SignerKey::parse(text) {
        let expected = VerifierKey::new(parsed.name(), SignatureType::Ed25519, parsed.public_key())
            .expect("an accepted signer key has a valid name and key");
        assert_eq!(parsed.verifier_key(), &expected);
    }

    // A well-formed key string from the input's first line (as name) and its hash (as seed).
    let name = text.split('\n').next().unwrap_or_default();
    if key::validate_name(name).is_err() {
        return;
    }
    let seed: [u8; 32] = Sha256::digest(data).into();
    let (line, public) = private_key_string(name, &seed);
    for form in [line.clone(), format!("{line}\n")] {
        match SignerKey::parse(&form) {
            Ok(k) => {
                assert_eq!(k.name(), name);
                assert_eq!(k.public_key(), public);
            }
            Err(e) => panic!("a well-formed private key does not parse: {e}\n{form:?}"),
        }
    }
});
