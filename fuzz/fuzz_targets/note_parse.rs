//! `dyad_verifier::note::parse` on any bytes: never panics, and every note it accepts is
//! given back byte for byte by writing its text, the blank line and its signature lines
//! with `note::signature_line` (the parse is exact: one form per note).
#![no_main]

use dyad_verifier::key;
use dyad_verifier::note::{self, MAX_SIGNATURES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = note::parse(data) else {
        return;
    };
    assert!(
        parsed.text.ends_with('\n'),
        "note text must end in a newline"
    );
    assert!(!parsed.signatures.is_empty() && parsed.signatures.len() <= MAX_SIGNATURES);
    let mut again = parsed.text.clone();
    again.push('\n');
    for s in &parsed.signatures {
        assert!(
            key::validate_name(&s.name).is_ok(),
            "accepted an invalid key name {:?}",
            s.name
        );
        assert!(!s.signature.is_empty());
        again.push_str(&note::signature_line(&s.name, s.key_id, &s.signature));
    }
    assert_eq!(
        again.as_bytes(),
        data,
        "parse then format does not give the note back"
    );
});
