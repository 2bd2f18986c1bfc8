//! `dyad_ledger::entry::Entry::decode` (bincode 2.0.1 plus the spec's rules) on any
//! bytes: never panics; every accepted entry is canonical: `encode(decode(b)) == b`
//! (and so is the unchecked encoding); it validates; its signed message is the label and
//! the body; `SignedEntry::decode` gives the same entry and the RFC 9162 leaf hash; a
//! key-change entry's form and new-key signature check (spec 3.7) never panics, and a
//! payload it accepts re-encodes to itself.
#![no_main]

use dyad_fuzz::reference::leaf_hash;
use dyad_ledger::entry::key_change::KeyChange;
use dyad_ledger::entry::{Entry, Kind, SignedEntry, MAX_ENTRY_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(decoded) = Entry::decode(data) else {
        return;
    };
    assert!(data.len() <= MAX_ENTRY_LEN);
    assert_eq!(
        decoded.encode().expect("re-encode an accepted entry"),
        data,
        "encode(decode(b)) != b"
    );
    assert_eq!(decoded.encode_unchecked(), data);
    decoded.validate().expect("an accepted entry validates");
    let body_len = data.len() - 8 - 68 * decoded.signatures.len();
    let mut message = b"dyad-entry/v1\x00".to_vec();
    message.extend_from_slice(&data[..body_len]);
    assert_eq!(decoded.body.signed_message(), message);
    let signed = SignedEntry::decode(data).expect("SignedEntry::decode");
    assert_eq!(signed.entry, decoded);
    assert_eq!(signed.leaf_hash, leaf_hash(data));
    assert_eq!(signed.bytes, data);
    if decoded.body.kind == Kind::KeyChange {
        if let Ok(change) = KeyChange::check(&decoded.body) {
            assert_eq!(change.encode(), decoded.body.payload);
        }
    }
    // The payload parser alone, on whatever bytes the payload holds.
    if let Ok(change) = KeyChange::decode(&decoded.body.payload) {
        assert_eq!(change.encode(), decoded.body.payload);
    }
});
