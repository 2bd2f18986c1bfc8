//! The read credential file (node::access::ReadCredential::parse, spec/node.md 9.5) on
//! any bytes: never panics; an accepted file is written back byte for byte by `encode`
//! (one canonical form) and is within the size bound; no error message repeats a token
//! that the input holds.
#![no_main]

use dyad_node::access::{ReadCredential, MAX_CREDENTIAL_LEN, TOKEN_PREFIX};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match ReadCredential::parse(data) {
        Ok(credential) => {
            assert!(data.len() <= MAX_CREDENTIAL_LEN);
            assert_eq!(credential.encode().as_bytes(), data, "not canonical");
            let _ = credential.check_expiry(u64::MAX);
        }
        Err(e) => {
            // The one `dyadr_` an error may show is the format's description.
            let text = e.to_string().replace("(dyadr_ and 43", "");
            assert!(
                !text.contains(TOKEN_PREFIX),
                "an error repeats a token: {text}"
            );
        }
    }
});
