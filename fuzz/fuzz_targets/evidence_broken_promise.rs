//! `dyad_verifier::promise_evidence` (spec/evidence.md section 6) on any bytes: `parse`
//! never panics and `build` writes every accepted file back byte for byte; `verify` under
//! the spec vectors' log keys never panics, and accepted evidence really is a broken
//! promise, rechecked independently: both notes carry a valid signature by the key, the
//! promise lists another leaf at the index, and the leaf found verifies there in the
//! checkpoint's tree under the RFC 9162 reference verifier.
#![no_main]

use std::sync::OnceLock;

use dyad_fuzz::reference;
use dyad_fuzz::vectors::{vectors, WITNESSED_ORIGIN};
use dyad_verifier::key::VerifierKey;
use dyad_verifier::{checkpoint, note, promise_evidence};
use libfuzzer_sys::fuzz_target;

fn keys() -> &'static [VerifierKey] {
    static KEYS: OnceLock<Vec<VerifierKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let v = vectors();
        vec![
            v.sequencer.log_key(&v.origin),
            v.sequencer.log_key(WITNESSED_ORIGIN),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = promise_evidence::parse(data) else {
        for key in keys() {
            assert!(promise_evidence::verify(data, key).is_err());
        }
        return;
    };
    let again = promise_evidence::build(
        parsed.index,
        &parsed.found_leaf,
        &parsed.proof,
        &parsed.promise_note,
        &parsed.checkpoint_note,
    );
    assert_eq!(again, data, "build(parse(e)) != e");
    for key in keys() {
        let Ok(v) = promise_evidence::verify(data, key) else {
            continue;
        };
        let promise = note::verify(&parsed.promise_note, std::slice::from_ref(key))
            .expect("the promise of verified evidence verifies");
        assert!(promise.verified.iter().any(|s| s.key == *key));
        let listed = promise_evidence::parse_promise_text(&promise.text).expect("a promise");
        assert!(listed.entries.contains(&(v.index, v.promised_leaf)));
        let signed = note::verify(&parsed.checkpoint_note, std::slice::from_ref(key))
            .expect("the checkpoint of verified evidence verifies");
        assert!(signed.verified.iter().any(|s| s.key == *key));
        let cp = checkpoint::parse(&signed.text).expect("a checkpoint");
        assert_eq!(cp, v.checkpoint);
        assert_eq!(cp.origin, listed.origin, "evidence across two logs");
        assert!(v.index < cp.size);
        assert_ne!(
            v.found_leaf, v.promised_leaf,
            "a kept promise taken as broken"
        );
        assert!(reference::verify_inclusion(
            &v.found_leaf,
            v.index,
            cp.size,
            &parsed.proof,
            &cp.root
        ));
    }
});
