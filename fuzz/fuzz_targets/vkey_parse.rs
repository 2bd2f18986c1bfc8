//! `dyad_verifier::key::VerifierKey::parse` on any text: never panics; an accepted key
//! is written back by `Display` exactly as given, except that the key ID's hex digits
//! come out in lowercase; it parses again to the same key; its key ID is the one
//! computed from name, type and public key.
#![no_main]

use dyad_verifier::key::{self, VerifierKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(parsed) = VerifierKey::parse(text) else {
        return;
    };
    let mut fields = text.splitn(3, '+');
    let (name, id, rest) = (
        fields.next().unwrap_or_default(),
        fields.next().unwrap_or_default(),
        fields.next().unwrap_or_default(),
    );
    let expected = format!("{name}+{}+{rest}", id.to_ascii_lowercase());
    let shown = parsed.to_string();
    assert_eq!(
        shown, expected,
        "Display does not round-trip the key string"
    );
    assert_eq!(VerifierKey::parse(&shown).as_ref(), Ok(&parsed));
    assert_eq!(
        parsed.key_id(),
        key::key_id(
            parsed.name(),
            parsed.signature_type(),
            &parsed.public_key_bytes()
        )
    );
    assert!(!parsed.verifying_key().is_weak());
});
