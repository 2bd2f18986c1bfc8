//! The credential store's file (`access.json`, node::access::parse_grants, spec/node.md
//! 9.5) on any bytes: never panics; an accepted store holds at most MAX_GRANTS grants with
//! valid, distinct names; a refusal says why.
#![no_main]

use dyad_node::access::{parse_grants, valid_name, MAX_GRANTS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_grants(text) {
        Ok(grants) => {
            assert!(grants.len() <= MAX_GRANTS);
            for (i, g) in grants.iter().enumerate() {
                assert!(valid_name(&g.name), "{:?}", g.name);
                assert!(grants[..i].iter().all(|h| h.name != g.name), "repeated");
            }
        }
        Err(reason) => assert!(!reason.is_empty()),
    }
});
