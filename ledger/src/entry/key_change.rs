//! Key-change entries (spec/dyad.md 3.7): a party replaces its key. The entry is signed by
//! the old key like any entry (3.4); its payload carries the new public key and the new
//! key's signature over the key-change statement, which binds it to the channel, the old
//! key and the place in the party's sequence.

use ed25519_dalek::{Signature, VerifyingKey};

use super::{Draft, EntryBody, Kind};
use crate::keys::SignerKey;

/// The content type of a key-change entry.
pub const CONTENT_TYPE: &str = dyad_verifier::key_change::KEY_CHANGE_CONTENT_TYPE;
/// The subject dyad writes on a key change (the spec leaves it free).
pub const SUBJECT: &str = "Key change";
/// The label of the key-change statement; the NUL after it cannot occur in a note, and the
/// label differs from the entry label, so neither signature passes for another.
pub const STATEMENT_LABEL: &[u8] = dyad_verifier::key_change::KEY_CHANGE_STATEMENT_PREFIX;
/// The payload's length: a 32-byte public key and a 64-byte signature.
pub const PAYLOAD_LEN: usize = dyad_verifier::key_change::KEY_CHANGE_PAYLOAD_LEN;

/// Why an entry is not a well-formed key change (spec 3.7), judged without the channel's
/// key history (which `NewKeyReused` and `RetiredKey` need).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyChangeError {
    /// The content type is not [`CONTENT_TYPE`].
    #[error("a key change must have content type {CONTENT_TYPE}")]
    WrongContentType,
    /// The payload is not 96 bytes.
    #[error("a key change's payload must be {PAYLOAD_LEN} bytes (new key || its signature), found {len}")]
    MalformedPayload {
        /// The payload's length.
        len: usize,
    },
    /// The entry names an entry it answers.
    #[error("a key change must not have reply_to")]
    KeyChangeWithReplyTo,
    /// The entry names attachments.
    #[error("a key change must not have attachments")]
    KeyChangeWithAttachments,
    /// The new key is not a valid Ed25519 point, or is of small order.
    #[error("the new key is not a valid Ed25519 public key (or is of small order)")]
    InvalidNewKey,
    /// The new key's signature over the key-change statement does not verify.
    #[error("the new key's signature over the key-change statement does not verify")]
    BadNewKeySignature,
}

/// The payload of a key-change entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyChange {
    /// The party's new Ed25519 public key.
    pub new_public_key: [u8; 32],
    /// The new key's signature over the key-change statement.
    pub new_key_signature: [u8; 64],
}

/// The bytes the new key signs (spec 3.7), as the verifier builds them: one definition
/// for the party that signs and the auditor that checks.
pub use dyad_verifier::key_change::statement;

impl KeyChange {
    /// The payload's encoding: the new key, then its signature.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(PAYLOAD_LEN);
        out.extend_from_slice(&self.new_public_key);
        out.extend_from_slice(&self.new_key_signature);
        out
    }

    /// Decodes a payload of exactly [`PAYLOAD_LEN`] bytes.
    pub fn decode(payload: &[u8]) -> Result<KeyChange, KeyChangeError> {
        let malformed = KeyChangeError::MalformedPayload { len: payload.len() };
        let bytes: &[u8; PAYLOAD_LEN] = payload.try_into().map_err(|_| malformed)?;
        let (key, sig) = bytes.split_at(32);
        Ok(KeyChange {
            new_public_key: key.try_into().map_err(|_| malformed)?,
            new_key_signature: sig.try_into().map_err(|_| malformed)?,
        })
    }

    /// The form rules of spec 3.7 on an entry body of kind key-change, and the new key's
    /// signature (strict, 3.4). Returns the payload.
    pub fn check(body: &EntryBody) -> Result<KeyChange, KeyChangeError> {
        if body.content_type != CONTENT_TYPE {
            return Err(KeyChangeError::WrongContentType);
        }
        if body.reply_to.is_some() {
            return Err(KeyChangeError::KeyChangeWithReplyTo);
        }
        if !body.attachments.is_empty() {
            return Err(KeyChangeError::KeyChangeWithAttachments);
        }
        let change = KeyChange::decode(&body.payload)?;
        let key = VerifyingKey::from_bytes(&change.new_public_key)
            .map_err(|_| KeyChangeError::InvalidNewKey)?;
        if key.is_weak() {
            return Err(KeyChangeError::InvalidNewKey);
        }
        let message = statement(
            &body.origin,
            body.sender,
            body.sequence,
            &change.new_public_key,
        );
        key.verify_strict(&message, &Signature::from_bytes(&change.new_key_signature))
            .map_err(|_| KeyChangeError::BadNewKeySignature)?;
        Ok(change)
    }

    /// The draft of a key change to `new_key`, to be signed by the party's current key
    /// (`sender`, its type-0x01 key ID) as its message number `sequence` in channel
    /// `origin`: the new-key signature binds exactly these, so the draft must be signed
    /// with them.
    pub fn draft(origin: &str, sender: u32, sequence: u64, new_key: &SignerKey) -> Draft {
        let new_public_key = new_key.public_key();
        let change = KeyChange {
            new_public_key,
            new_key_signature: new_key.sign(&statement(origin, sender, sequence, &new_public_key)),
        };
        Draft::new(Kind::KeyChange, SUBJECT, CONTENT_TYPE, change.encode())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, seed: u8) -> SignerKey {
        SignerKey::from_seed(name, [seed; 32]).unwrap()
    }

    fn signed(old: &SignerKey, new: &SignerKey, sequence: u64) -> EntryBody {
        KeyChange::draft("o.example/c", old.key_id(), sequence, new)
            .sign(old, "o.example/c", sequence, 1000)
            .unwrap()
            .entry
            .body
    }

    #[test]
    fn a_drafted_key_change_checks() {
        let (old, new) = (key("a.example", 1), key("a.example", 2));
        let change = KeyChange::check(&signed(&old, &new, 3)).unwrap();
        assert_eq!(change.new_public_key, new.public_key());
    }

    /// An edit of a good key change's body.
    type Edit = Box<dyn Fn(&mut EntryBody)>;

    #[test]
    fn form_and_signature_refusals_are_named() {
        let (old, new) = (key("a.example", 1), key("a.example", 2));
        let good = signed(&old, &new, 3);
        let cases: Vec<(&str, Edit, KeyChangeError)> = vec![
            (
                "content type",
                Box::new(|b| b.content_type = "text/plain".into()),
                KeyChangeError::WrongContentType,
            ),
            (
                "short payload",
                Box::new(|b| b.payload.truncate(95)),
                KeyChangeError::MalformedPayload { len: 95 },
            ),
            (
                "reply_to",
                Box::new(|b| b.reply_to = Some(1)),
                KeyChangeError::KeyChangeWithReplyTo,
            ),
            (
                "attachment",
                Box::new(|b| {
                    b.attachments.push(crate::entry::Attachment {
                        sha256: [1; 32],
                        size: 1,
                        name: "a".into(),
                        content_type: "text/plain".into(),
                    })
                }),
                KeyChangeError::KeyChangeWithAttachments,
            ),
            (
                "small-order key",
                Box::new(|b| {
                    b.payload[..32].copy_from_slice(&[0; 32]);
                    b.payload[0] = 1;
                }),
                KeyChangeError::InvalidNewKey,
            ),
            (
                "other sequence",
                Box::new(|b| b.sequence += 1),
                KeyChangeError::BadNewKeySignature,
            ),
            (
                "other sender",
                Box::new(|b| b.sender ^= 1),
                KeyChangeError::BadNewKeySignature,
            ),
            (
                "other origin",
                Box::new(|b| b.origin = "o.example/d".into()),
                KeyChangeError::BadNewKeySignature,
            ),
            (
                "signature flipped",
                Box::new(|b| b.payload[40] ^= 1),
                KeyChangeError::BadNewKeySignature,
            ),
        ];
        for (name, edit, expected) in cases {
            let mut body = good.clone();
            edit(&mut body);
            assert_eq!(KeyChange::check(&body), Err(expected), "{name}");
        }
    }

    #[test]
    fn a_signature_by_another_key_than_the_new_one_fails() {
        let (old, new, stranger) = (
            key("a.example", 1),
            key("a.example", 2),
            key("a.example", 3),
        );
        let mut body = signed(&old, &new, 3);
        let forged = stranger.sign(&statement(&body.origin, body.sender, 3, &new.public_key()));
        body.payload[32..].copy_from_slice(&forged);
        assert_eq!(
            KeyChange::check(&body),
            Err(KeyChangeError::BadNewKeySignature)
        );
    }
}
