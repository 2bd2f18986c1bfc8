//! The standalone witness's decisions (`dyad_ledger::wire::witness_request`) on any
//! add-checkpoint body, against any record. Never panics; the note is signed here with a
//! key named by its origin so the fuzzer reaches past the signature check; and a request
//! that passes never has the recorded size with another root, nor a size below it.
//!
//! Layout: byte 0 picks the record (0: none; n: size n − 1, with the checkpoint's own root
//! when n is even, another root when odd); the rest is the request body.
#![no_main]

use dyad_ledger::keys::SignerKey;
use dyad_ledger::wire::witness::AddCheckpoint;
use dyad_ledger::wire::witness_request::{authenticate, check_against, Recorded, TrustedLog};
use dyad_verifier::note;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    // Whatever the body is, the decision never panics.
    let _ = authenticate(body, &[]);
    let Ok(req) = AddCheckpoint::parse(body) else {
        return;
    };
    let Ok(cp) = dyad_verifier::checkpoint::parse_note(&req.note) else {
        return;
    };
    let Ok(key) = SignerKey::from_seed(&cp.origin, [5; 32]) else {
        return;
    };
    let text = cp.to_text();
    let line = note::signature_line(key.name(), key.key_id(), &key.sign(text.as_bytes()));
    let signed = AddCheckpoint {
        old: req.old,
        proof: req.proof.clone(),
        note: format!("{text}\n{line}").into_bytes(),
    };
    let logs = [TrustedLog {
        origin: cp.origin.clone(),
        keys: vec![key.verifier_key().clone()],
    }];
    let Ok(auth) = authenticate(&signed.encode(), &logs) else {
        return;
    };
    let recorded = (pick > 0).then(|| Recorded {
        size: u64::from(pick - 1),
        root: if pick % 2 == 0 { cp.root } else { [pick; 32] },
    });
    if check_against(&auth, recorded).is_ok() {
        if let Some(r) = recorded {
            assert!(cp.size >= r.size, "co-signed a smaller tree than recorded");
            if cp.size == r.size {
                assert_eq!(
                    cp.root, r.root,
                    "co-signed another root at the recorded size"
                );
            }
        }
    }
});
