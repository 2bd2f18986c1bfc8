//! `dyad_verifier::witness_change` (spec/dyad.md section 3.8): the witness-change record,
//! the witness-change statement, the form rules and the approval check.
//!
//! Never panics. A payload that decodes re-encodes to itself, names at most 32 witnesses,
//! pairwise distinct, with a threshold at most their count. The statement is the spec's
//! layout, rebuilt here from the text: the label, the origin, the record without its last
//! 64 bytes. A witness change that passes the form rules has the witness change's content
//! type, no `reply_to` and no attachments. An approval signed by the key whose seed the
//! input gives passes exactly when `ed25519-dalek`'s `verify_strict` accepts it over the
//! statement, and fails once the number is another.
#![no_main]

use dyad_verifier::entry::{self, Kind};
use dyad_verifier::key::{SignatureType, VerifierKey};
use dyad_verifier::witness_change::{self, WitnessChangePayload, WITNESS_CHANGE_CONTENT_TYPE};
use ed25519_dalek::{Signer, SigningKey};
use libfuzzer_sys::fuzz_target;

/// The statement as spec 3.8 lays it out, from the payload's own bytes.
fn statement(origin: &str, payload_bytes: &[u8]) -> Vec<u8> {
    let mut out = b"dyad-witness-change/v1\0".to_vec();
    out.extend_from_slice(&(origin.len() as u64).to_be_bytes());
    out.extend_from_slice(origin.as_bytes());
    out.extend_from_slice(&payload_bytes[..payload_bytes.len() - 64]);
    out
}

/// The input as a payload: canonical, bounded, and its statement as the spec lays it out.
fn as_payload(data: &[u8]) {
    let Ok(payload) = WitnessChangePayload::decode(data) else {
        return;
    };
    assert_eq!(payload.encode(), data);
    assert!(payload.witnesses.len() <= 32);
    assert!(usize::from(payload.witness_threshold) <= payload.witnesses.len());
    for (i, w) in payload.witnesses.iter().enumerate() {
        for v in &payload.witnesses[..i] {
            assert!(w.name != v.name && w.public_key != v.public_key);
        }
    }
    assert_eq!(
        witness_change::statement("fuzz.example/log", &payload),
        statement("fuzz.example/log", data)
    );
}

/// The input as a whole entry: the form rules.
fn as_entry(data: &[u8]) {
    let Ok(e) = entry::decode(data) else { return };
    let Ok(Some(payload)) = witness_change::check_form(&e) else {
        return;
    };
    assert_eq!(e.kind, Kind::WitnessChange);
    assert_eq!(e.content_type, WITNESS_CHANGE_CONTENT_TYPE);
    assert!(e.reply_to.is_none() && e.attachments.is_empty());
    assert_eq!(payload.encode(), e.payload);
}

/// The input as a seed and a payload: an approval by the seed's key passes, and fails for
/// another number or origin.
fn as_approval(data: &[u8]) {
    let Some((seed, rest)) = data.split_first_chunk::<32>() else {
        return;
    };
    let Ok(mut payload) = WitnessChangePayload::decode(rest) else {
        return;
    };
    let signing = SigningKey::from_bytes(seed);
    let Ok(approver) = VerifierKey::new(
        "fuzz.example/party",
        SignatureType::Ed25519,
        signing.verifying_key().to_bytes(),
    ) else {
        return;
    };
    payload.approval = signing
        .sign(&witness_change::statement("fuzz.example/log", &payload))
        .to_bytes();
    assert!(witness_change::approval_verifies(
        "fuzz.example/log",
        &payload,
        &approver
    ));
    assert!(!witness_change::approval_verifies(
        "fuzz.example/other",
        &payload,
        &approver
    ));
    payload.number = payload.number.wrapping_add(1);
    assert!(!witness_change::approval_verifies(
        "fuzz.example/log",
        &payload,
        &approver
    ));
}

fuzz_target!(|data: &[u8]| {
    as_payload(data);
    as_entry(data);
    as_approval(data);
});
