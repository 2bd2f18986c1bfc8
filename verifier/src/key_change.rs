//! Key changes (spec/dyad.md section 3.7): a `key-change` entry, signed by the party's
//! old key, carries the new public key and the new key's signature over the key-change
//! statement. This module holds the payload, the statement and the rules that need only
//! the entry ([`check_form`], [`new_key`], [`verify_new_key_signature`]); the rules that need the channel's key
//! history (which key is current, which keys were ever used) are `key_history`'s.

use alloc::vec::Vec;

use crate::entry_codec::Entry;
use crate::key::{SignatureType, VerifierKey};
use crate::rules::Kind;

pub use crate::rules::{
    KeyChangeError, KeyOwner, KEY_CHANGE_CONTENT_TYPE, KEY_CHANGE_PAYLOAD_LEN,
    KEY_CHANGE_STATEMENT_PREFIX,
};

/// A key change's payload: `new_public_key: 32 bytes || new_key_signature: 64 bytes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyChangePayload {
    /// The party's new Ed25519 public key.
    pub new_public_key: [u8; 32],
    /// The new key's signature over the key-change statement.
    pub new_key_signature: [u8; 64],
}

impl KeyChangePayload {
    /// The payload bytes (section 3.7).
    pub fn encode(&self) -> [u8; KEY_CHANGE_PAYLOAD_LEN] {
        let mut out = [0; KEY_CHANGE_PAYLOAD_LEN];
        out[..32].copy_from_slice(&self.new_public_key);
        out[32..].copy_from_slice(&self.new_key_signature);
        out
    }

    /// Reads a payload; it is exactly 96 bytes, so every payload has one encoding.
    pub fn decode(payload: &[u8]) -> Result<KeyChangePayload, KeyChangeError> {
        let bytes: &[u8; KEY_CHANGE_PAYLOAD_LEN] = payload
            .try_into()
            .map_err(|_| KeyChangeError::MalformedPayload { len: payload.len() })?;
        let mut new_public_key = [0; 32];
        new_public_key.copy_from_slice(&bytes[..32]);
        let mut new_key_signature = [0; 64];
        new_key_signature.copy_from_slice(&bytes[32..]);
        Ok(KeyChangePayload {
            new_public_key,
            new_key_signature,
        })
    }
}

/// The key-change statement the new key signs (section 3.7):
/// `"dyad-key-change/v1" || 0x00 || string(origin) || u32(sender) || u64(sequence) ||
/// new_public_key`, with `string` = u64 length || bytes (section 3.1).
pub fn statement(origin: &str, sender: u32, sequence: u64, new_public_key: &[u8; 32]) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(KEY_CHANGE_STATEMENT_PREFIX.len() + 8 + origin.len() + 4 + 8 + 32);
    out.extend_from_slice(KEY_CHANGE_STATEMENT_PREFIX);
    out.extend_from_slice(&(origin.len() as u64).to_be_bytes());
    out.extend_from_slice(origin.as_bytes());
    out.extend_from_slice(&sender.to_be_bytes());
    out.extend_from_slice(&sequence.to_be_bytes());
    out.extend_from_slice(new_public_key);
    out
}

/// The form rules of section 3.7 (content type, a 96-byte payload, no `reply_to`, no
/// attachments), checked before the reply rules of 3.3 so that a refusal names the rule
/// of 3.7. Returns the payload of a key change; `None` for every other kind.
pub fn check_form(entry: &Entry) -> Result<Option<KeyChangePayload>, KeyChangeError> {
    if entry.kind != Kind::KeyChange {
        return Ok(None);
    }
    if entry.content_type != KEY_CHANGE_CONTENT_TYPE {
        return Err(KeyChangeError::WrongContentType(entry.content_type.clone()));
    }
    let payload = KeyChangePayload::decode(&entry.payload)?;
    if entry.reply_to.is_some() {
        return Err(KeyChangeError::KeyChangeWithReplyTo);
    }
    if !entry.attachments.is_empty() {
        return Err(KeyChangeError::KeyChangeWithAttachments);
    }
    Ok(Some(payload))
}

/// The new key as the party's entry key (type 0x01 under `party_name`): a valid Ed25519
/// key, not of small order (sections 2.1, 3.7).
pub fn new_key(
    payload: &KeyChangePayload,
    party_name: &str,
) -> Result<VerifierKey, KeyChangeError> {
    VerifierKey::new(party_name, SignatureType::Ed25519, payload.new_public_key)
        .map_err(KeyChangeError::InvalidNewKey)
}

/// The new key's signature over the statement of `entry` (the key change's own origin,
/// sender and sequence) verifies strictly: the party holds the new key, and binds it to
/// this entry (section 3.7).
pub fn verify_new_key_signature(
    entry: &Entry,
    payload: &KeyChangePayload,
    new_key: &VerifierKey,
) -> Result<(), KeyChangeError> {
    let message = statement(
        &entry.origin,
        entry.sender,
        entry.sequence,
        &payload.new_public_key,
    );
    if new_key.verify_strict(&message, &payload.new_key_signature) {
        Ok(())
    } else {
        Err(KeyChangeError::BadNewKeySignature)
    }
}
