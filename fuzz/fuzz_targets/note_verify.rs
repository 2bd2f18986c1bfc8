//! `dyad_verifier::note::verify` against a fixed set of known keys: notes.json's A and B
//! (plain Ed25519), the spec vectors' log key (the sequencer's key under the origin), and
//! cosignature/v1 keys (the co-signer's, the sequencer's, and A's). C and the extra keys
//! stay unknown.
//!
//! Beyond "never panics": an accepted note accounts for every signature line (verified by
//! a known key, or matching no known key by name and key ID), verifies each known key at
//! most once, and stops verifying as soon as its text changes by one byte (a signature
//! covers exactly the text).
#![no_main]

use std::sync::OnceLock;

use dyad_fuzz::vectors::vectors;
use dyad_verifier::key::VerifierKey;
use dyad_verifier::note::{self, NoteError};
use libfuzzer_sys::fuzz_target;

fn keys() -> &'static [VerifierKey] {
    static KEYS: OnceLock<Vec<VerifierKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let v = vectors();
        vec![
            v.note_keys[0].entry_key(),
            v.note_keys[1].entry_key(),
            v.sequencer.log_key(&v.origin),
            v.cosigner.cosignature_key(),
            v.sequencer.cosignature_key(),
            v.note_keys[0].cosignature_key(),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    let keys = keys();
    let result = note::verify(data, keys);
    let Ok(verified) = result else {
        return;
    };
    let parsed = note::parse(data).expect("a verified note parses");
    assert_eq!(verified.text, parsed.text);
    assert!(!verified.verified.is_empty());
    assert_eq!(
        verified.verified.len() + verified.unverified.len(),
        parsed.signatures.len(),
        "every signature line is either verified or unknown"
    );
    for (i, v) in verified.verified.iter().enumerate() {
        assert!(keys.contains(&v.key), "verified by a key that is not known");
        assert!(
            !verified.verified[..i].iter().any(|w| w.key == v.key),
            "one key counted twice"
        );
        assert_eq!(
            v.timestamp.is_some(),
            v.key.signature_type() == dyad_verifier::key::SignatureType::CosignatureV1
        );
    }
    for u in &verified.unverified {
        assert!(
            !keys
                .iter()
                .any(|k| k.name() == u.name && k.key_id() == u.key_id),
            "a known key's line was left unverified"
        );
    }
    // The same signature lines under a text one byte longer must fail.
    if data.len() >= note::MAX_NOTE_BYTES {
        return;
    }
    let mut changed = b"x".to_vec();
    changed.extend_from_slice(data);
    match note::verify(&changed, keys) {
        Err(NoteError::InvalidSignature { .. }) => {}
        other => panic!("a known key's signature verified over a changed text: {other:?}"),
    }
});
