//! `dyad_verifier::receipt::parse` (C2SP tlog-proof, spec section 8) on any bytes: never
//! panics, and `format` writes every accepted receipt back byte for byte.
#![no_main]

use dyad_verifier::receipt;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = receipt::parse(data) else {
        return;
    };
    assert!(parsed.proof.len() <= receipt::MAX_PROOF_HASHES);
    assert!(!parsed.checkpoint_note.is_empty());
    let again = receipt::format(
        &parsed.entry_bytes,
        parsed.index,
        &parsed.proof,
        &parsed.checkpoint_note,
    );
    assert_eq!(again, data, "format(parse(r)) != r");
});
