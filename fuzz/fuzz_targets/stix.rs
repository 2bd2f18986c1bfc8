//! The ledger's STIX 2.1 validation on any bytes (spec/dyad.md 3.2): the document
//! validator (`dyad_ledger::stix::validate_document`) on the bytes, and the pattern parser
//! (`check_pattern`) on them as text. Neither panics nor overflows the stack, however
//! deep the nesting; a document accepted once is accepted again after a JSON round trip
//! (the verdict depends on the document, not on its spelling); a pattern accepted nests
//! no deeper than `MAX_PATTERN_DEPTH`.
#![no_main]

use dyad_ledger::stix::{check_pattern, validate_document, MAX_PATTERN_DEPTH};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if validate_document(data).is_ok() {
        let value: serde_json::Value = serde_json::from_slice(data).expect("accepted JSON");
        assert!(
            value.is_object(),
            "accepted a document that is not an object"
        );
        let again = serde_json::to_vec(&value).expect("serialises");
        assert_eq!(
            validate_document(&again),
            Ok(()),
            "verdict changed on a round trip"
        );
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if check_pattern(text).is_ok() {
            let opens = text.bytes().filter(|&b| b == b'(' || b == b'[').count();
            // Accepted patterns parse, so without brackets in strings or comments the
            // count of openings bounds the depth from above; only check that case.
            if !text.contains('\'') && !text.contains("/*") && !text.contains("//") {
                let mut depth = 0usize;
                let mut deepest = 0usize;
                for b in text.bytes() {
                    match b {
                        b'(' | b'[' => {
                            depth += 1;
                            deepest = deepest.max(depth);
                        }
                        b')' | b']' => depth = depth.saturating_sub(1),
                        _ => {}
                    }
                }
                assert!(deepest <= MAX_PATTERN_DEPTH && deepest <= opens);
            }
        }
    }
});
