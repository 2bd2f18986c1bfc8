//! `dyad_verifier::entry::decode` on any bytes: never panics; every accepted entry is
//! canonical: the spec 3.1 encoding of its fields (written independently in
//! `dyad_fuzz::reference`) is the input, byte for byte; `encoded_len` is the input's
//! length; `signed_message` is the label and the body.
#![no_main]

use dyad_fuzz::reference::RawEntry;
use dyad_verifier::entry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(decoded) = entry::decode(data) else {
        return;
    };
    assert!(data.len() <= entry::MAX_ENTRY_SIZE);
    assert_eq!(decoded.encoded_len(), data.len());
    assert_eq!(decoded.signatures.len(), decoded.kind.signature_count());
    let raw = RawEntry::from_verifier(&decoded);
    assert_eq!(raw.encode(), data, "encode(decode(b)) != b");
    assert_eq!(
        entry::signed_message(data).expect("an accepted entry has a signed message"),
        raw.signed_message()
    );
});
