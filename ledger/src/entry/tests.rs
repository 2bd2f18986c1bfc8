//! The entry format's unit tests: encodings, canonical form, the rules of spec section 3.

use super::*;

fn key() -> SignerKey {
    SignerKey::from_seed("example.org/alpha", [1; 32]).unwrap()
}

fn sample() -> SignedEntry {
    Draft::new(
        Kind::Inquiry,
        "scan from AS64500",
        "text/plain; charset=utf-8",
        b"hello".to_vec(),
    )
    .sign(&key(), "example.org/dyad/test", 1, 1_700_000_000_000)
    .unwrap()
}

#[test]
fn round_trips_and_verifies() {
    let s = sample();
    let decoded = Entry::decode(&s.bytes).unwrap();
    assert_eq!(decoded, s.entry);
    assert!(decoded.signature_verifies(
        0,
        &ed25519_dalek::VerifyingKey::from_bytes(&key().public_key()).unwrap()
    ));
    // The layout of spec 3.1: version, then the u64 length of the origin.
    assert_eq!(s.bytes[0], VERSION);
    assert_eq!(&s.bytes[1..9], &(21u64).to_be_bytes());
}

#[test]
fn rejects_trailing_truncated_and_bad_fields() {
    let s = sample();
    let mut long = s.bytes.clone();
    long.push(0);
    assert_eq!(
        Entry::decode(&long),
        Err(EntryError::TrailingBytes { extra: 1 })
    );
    assert!(matches!(
        Entry::decode(&s.bytes[..s.bytes.len() - 1]),
        Err(EntryError::Malformed(_))
    ));
    let mut bad_version = s.bytes.clone();
    bad_version[0] = 2;
    assert_eq!(
        Entry::decode(&bad_version),
        Err(EntryError::UnknownVersion(2))
    );
    let kind_at = 1 + 8 + 21;
    let mut bad_kind = s.bytes.clone();
    bad_kind[kind_at] = 9;
    assert!(matches!(
        Entry::decode(&bad_kind),
        Err(EntryError::Malformed(_))
    ));
    assert!(matches!(
        Entry::decode(&vec![0u8; MAX_ENTRY_LEN + 1]),
        Err(EntryError::TooLarge { .. })
    ));
}

/// Found by the entry_differential fuzz target: a maximal entry whose many small
/// attachments cost bincode's limit more than their encoded size.
#[test]
fn a_65535_byte_entry_with_16_small_attachments_decodes() {
    let mut draft = Draft::new(Kind::Notification, "", "t", Vec::new());
    draft.attachments = (0..16u8)
        .map(|i| Attachment {
            sha256: [i; 32],
            size: 1,
            name: "a".into(),
            content_type: "t".into(),
        })
        .collect();
    let base = draft.clone().sign(&key(), "o", 1, 0).unwrap().bytes.len();
    draft.payload = vec![0; MAX_ENTRY_LEN - base];
    let full = draft.sign(&key(), "o", 1, 0).unwrap();
    assert_eq!(full.bytes.len(), MAX_ENTRY_LEN);
    assert_eq!(Entry::decode(&full.bytes).unwrap(), full.entry);
}

#[test]
fn signed_message_from_the_encoding_is_the_body_encoding() {
    let s = sample();
    assert_eq!(s.signed_message(), s.entry.body.signed_message());
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&key().public_key()).unwrap();
    assert!(s.signature_verifies(0, &vk));
    assert!(!s.signature_verifies(1, &vk));
    let mut other = s.clone();
    other.entry.signatures[0].signature[0] ^= 1;
    assert!(!other.signature_verifies(0, &vk));
    // Two signatures (a genesis entry's count): the body still ends where they start.
    let mut two = s.entry.clone();
    two.signatures.push(two.signatures[0].clone());
    let two = SignedEntry {
        bytes: two.encode_unchecked(),
        leaf_hash: [0; 32],
        entry: two,
    };
    assert_eq!(two.signed_message(), s.entry.body.signed_message());
}

#[test]
fn tampered_body_fails_signature() {
    let s = sample();
    let mut entry = s.entry.clone();
    entry.body.payload = b"hellO".to_vec();
    assert!(!entry.signature_verifies(
        0,
        &ed25519_dalek::VerifyingKey::from_bytes(&key().public_key()).unwrap()
    ));
}
