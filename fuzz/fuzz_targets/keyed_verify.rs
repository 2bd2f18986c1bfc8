//! The keyed verifier (verifier/src/keyed.rs) against ed25519-dalek's `verify_strict`: the
//! same verdict on every input. The first byte chooses the case: even, the next 32 bytes
//! are any public key and the next 64 any signature; odd, they are a signing key's seed
//! and a mask XORed into that key's real signature of the message (so that near-valid
//! signatures, where the two could differ, are reached). The rest is the message.
//!
//! A key's table takes about 2 ms to build (src/comb.rs), so the verifiers of the last few
//! keys are kept: most inputs the fuzzer derives keep their key and change the rest.
#![no_main]

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use dyad_verifier::keyed::KeyedVerifier;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 97 {
        return;
    }
    let key_bytes: [u8; 32] = data[1..33].try_into().unwrap();
    let mut signature: [u8; 64] = data[33..97].try_into().unwrap();
    let message = &data[97..];
    let key = if data[0] % 2 == 0 {
        match VerifyingKey::from_bytes(&key_bytes) {
            Ok(key) => key,
            Err(_) => return,
        }
    } else {
        let signing = SigningKey::from_bytes(&key_bytes);
        let real = signing.sign(message).to_bytes();
        for (s, r) in signature.iter_mut().zip(real) {
            *s ^= r;
        }
        signing.verifying_key()
    };
    let strict = key
        .verify_strict(message, &Signature::from_bytes(&signature))
        .is_ok();
    assert_eq!(verifier(&key).verify(message, &signature), strict);
});

/// The keys whose verifiers are kept; all are dropped when it is full.
const KEPT: usize = 16;

thread_local! {
    static VERIFIERS: RefCell<HashMap<[u8; 32], Rc<KeyedVerifier>>> = RefCell::new(HashMap::new());
}

fn verifier(key: &VerifyingKey) -> Rc<KeyedVerifier> {
    VERIFIERS.with(|kept| {
        let mut kept = kept.borrow_mut();
        if kept.len() >= KEPT && !kept.contains_key(key.as_bytes()) {
            kept.clear();
        }
        kept.entry(key.to_bytes())
            .or_insert_with(|| Rc::new(KeyedVerifier::new(key)))
            .clone()
    })
}
