//! The attachment name parser (`dyad_ledger::attachments::parse_hex`): the file names of
//! the attachment store and the node's `GET /attachment/<hash>` path. Never panics;
//! accepts exactly 64 lowercase hex digits, and an accepted name is the hash written back.
#![no_main]

use dyad_ledger::attachments::parse_hex;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(name) = std::str::from_utf8(data) else {
        return;
    };
    let canonical =
        name.len() == 64 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    match parse_hex(name) {
        Some(hash) => {
            assert!(canonical, "accepted a non-canonical name {name:?}");
            let again: String = hash.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(again, name);
        }
        None => assert!(!canonical, "refused the canonical name {name:?}"),
    }
});
