//! `dyad_verifier::key_change` (spec/dyad.md section 3.7): the key-change payload, the
//! key-change statement, the form rules and the new key's signature check.
//!
//! Never panics. The payload decodes exactly when it is 96 bytes, and re-encodes to
//! itself. The statement is the spec's layout, rebuilt here from the text. A key change
//! that passes the form rules has the key change's content type, no `reply_to` and no
//! attachments, and its new key's signature passes exactly when `ed25519-dalek`'s
//! `verify_strict` accepts it over the statement. A statement signed by the key whose seed
//! the input gives always passes, and fails once the sequence is another.
#![no_main]

use dyad_verifier::entry::{self, Entry, Kind};
use dyad_verifier::key_change::{self, KeyChangePayload, KEY_CHANGE_CONTENT_TYPE};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use libfuzzer_sys::fuzz_target;

const NAME: &str = "fuzz.example/party";

/// The statement as spec 3.7 lays it out.
fn statement(origin: &str, sender: u32, sequence: u64, key: &[u8; 32]) -> Vec<u8> {
    let mut out = b"dyad-key-change/v1\0".to_vec();
    out.extend_from_slice(&(origin.len() as u64).to_be_bytes());
    out.extend_from_slice(origin.as_bytes());
    out.extend_from_slice(&sender.to_be_bytes());
    out.extend_from_slice(&sequence.to_be_bytes());
    out.extend_from_slice(key);
    out
}

fn strict(key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    VerifyingKey::from_bytes(key).is_ok_and(|k| {
        k.verify_strict(message, &Signature::from_bytes(signature))
            .is_ok()
    })
}

/// The input as a whole entry: the form rules and, for a key change, the new key.
fn as_entry(data: &[u8]) {
    let Ok(e) = entry::decode(data) else { return };
    let Ok(Some(payload)) = key_change::check_form(&e) else {
        return;
    };
    assert_eq!(e.kind, Kind::KeyChange);
    assert_eq!(e.content_type, KEY_CHANGE_CONTENT_TYPE);
    assert!(e.reply_to.is_none() && e.attachments.is_empty());
    let Ok(new_key) = key_change::new_key(&payload, NAME) else {
        return;
    };
    let message = statement(&e.origin, e.sender, e.sequence, &payload.new_public_key);
    assert_eq!(
        key_change::verify_new_key_signature(&e, &payload, &new_key).is_ok(),
        strict(
            &payload.new_public_key,
            &message,
            &payload.new_key_signature
        )
    );
}

/// The input as the fields of a statement, signed by the key of the seed it gives.
fn as_fields(data: &[u8]) {
    let Some((head, origin)) = data.split_first_chunk::<44>() else {
        return;
    };
    let sender = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    let mut sequence = [0; 8];
    sequence.copy_from_slice(&head[4..12]);
    let sequence = u64::from_be_bytes(sequence);
    let mut seed = [0; 32];
    seed.copy_from_slice(&head[12..44]);
    let origin = String::from_utf8_lossy(origin);
    let signing = SigningKey::from_bytes(&seed);
    let public = signing.verifying_key().to_bytes();
    let message = statement(&origin, sender, sequence, &public);
    assert_eq!(
        key_change::statement(&origin, sender, sequence, &public),
        message
    );
    let payload = KeyChangePayload {
        new_public_key: public,
        new_key_signature: signing.sign(&message).to_bytes(),
    };
    let Ok(new_key) = key_change::new_key(&payload, NAME) else {
        return;
    };
    let mut e = Entry {
        version: 1,
        origin: origin.into_owned(),
        kind: Kind::KeyChange,
        sender,
        sequence,
        timestamp_ms: 0,
        reply_to: None,
        subject: String::new(),
        content_type: KEY_CHANGE_CONTENT_TYPE.into(),
        payload: payload.encode().to_vec(),
        attachments: Vec::new(),
        signatures: Vec::new(),
    };
    assert_eq!(key_change::check_form(&e), Ok(Some(payload)));
    assert!(key_change::verify_new_key_signature(&e, &payload, &new_key).is_ok());
    e.sequence = e.sequence.wrapping_add(1);
    assert!(key_change::verify_new_key_signature(&e, &payload, &new_key).is_err());
}

fuzz_target!(|data: &[u8]| {
    match KeyChangePayload::decode(data) {
        Ok(payload) => assert_eq!(payload.encode().as_slice(), data),
        Err(_) => assert_ne!(data.len(), 96),
    }
    as_entry(data);
    as_fields(data);
});
