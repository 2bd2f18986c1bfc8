//! `dyad_verifier::policy::parse` on any text: never panics, and every accepted policy
//! is written by `Display` as a text that parses to the same policy (and writes the same
//! text again). Reading the channel's parties from it (spec section 9) never panics,
//! and parties it names are the log's public key and another key, both type 0x01.
#![no_main]

use dyad_verifier::policy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(parsed) = policy::parse(text) else {
        return;
    };
    let shown = parsed.to_string();
    let again = match policy::parse(&shown) {
        Ok(again) => again,
        Err(e) => panic!("Display of an accepted policy does not parse: {e}\n{shown}"),
    };
    assert_eq!(again, parsed, "Display does not round-trip the policy");
    assert_eq!(again.to_string(), shown);
    if let Ok(parties) = parsed.parties() {
        let log = &parsed.logs()[0].key;
        assert_eq!(parties.origin, log.name());
        assert_eq!(parties.sequencer.public_key_bytes(), log.public_key_bytes());
        assert_ne!(parties.cosigner.public_key_bytes(), log.public_key_bytes());
        assert_ne!(parties.sequencer.name(), parties.cosigner.name());
    }
});
