//! `dyad_verifier::equivocation::parse` (spec/evidence.md) on any bytes: never panics,
//! and `build` writes every accepted evidence file back byte for byte.
#![no_main]

use dyad_verifier::equivocation;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = equivocation::parse(data) else {
        return;
    };
    let again = equivocation::build(
        &parsed.first_note,
        &parsed.second_note,
        &parsed.contradiction,
    );
    assert_eq!(again, data, "build(parse(e)) != e");
});
