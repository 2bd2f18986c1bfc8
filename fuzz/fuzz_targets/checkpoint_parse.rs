//! `dyad_verifier::checkpoint::parse` on any text: never panics, and every accepted
//! checkpoint is canonical: `parse(text)` ok implies `to_text() == text`.
#![no_main]

use dyad_verifier::checkpoint;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(parsed) = checkpoint::parse(text) else {
        return;
    };
    assert!(!parsed.origin.is_empty());
    assert_eq!(
        parsed.to_text(),
        text,
        "an accepted checkpoint is not canonical"
    );
    assert_eq!(checkpoint::parse(&parsed.to_text()), Ok(parsed));
});
