//! The verifier against the ledger's spec vectors (spec/vectors/entries.json): two
//! independent implementations of spec/dyad.md sections 3 and 4 must agree on every byte.

mod entry_support;

use dyad_verifier::entry::{self, EntryError};
use dyad_verifier::genesis::{self, ChannelParams};
use dyad_verifier::key::VerifierKey;
use entry_support::*;
use serde_json::Value;

/// The kebab-case reason the vectors use for an error.
fn reason(e: &EntryError) -> String {
    match e {
        EntryError::TooLarge { .. } => "too-large".into(),
        EntryError::Truncated { .. } => "truncated".into(),
        EntryError::TrailingBytes { .. } => "trailing-bytes".into(),
        EntryError::UnknownVersion(_) => "unknown-version".into(),
        EntryError::UnknownKind(_) => "unknown-kind".into(),
        EntryError::BadOptionTag { .. } => "bad-option-tag".into(),
        EntryError::InvalidUtf8 { .. } => "invalid-utf8".into(),
        EntryError::Length {
            field, len, max, ..
        } if len > max => {
            format!("oversize-{}", field.replace([' ', '_'], "-"))
        }
        EntryError::Length { field, .. } => format!("empty-{}", field.replace([' ', '_'], "-")),
        EntryError::ControlCharacter { .. } => "control-character".into(),
        EntryError::NotPrintableAscii { .. } => "not-printable-ascii".into(),
        EntryError::UnsafeAttachmentName { .. } => "unsafe-attachment-name".into(),
        EntryError::TooManyAttachments { .. } => "too-many-attachments".into(),
        EntryError::AttachmentsUnsorted { .. } => "attachments-unsorted".into(),
        EntryError::WrongSignatureCount { .. } => "wrong-signature-count".into(),
        EntryError::WrongOrigin { .. } => "wrong-origin".into(),
        EntryError::SenderNotAParty { .. } => "sender-not-a-party".into(),
        EntryError::SignatureKeyMismatch { .. } => "signature-key-mismatch".into(),
        EntryError::MissingSignature { .. } => "missing-signature".into(),
        EntryError::WrongKeyType { .. } => "wrong-key-type".into(),
        EntryError::BadSignature { .. } => "bad-signature".into(),
        EntryError::EntryBytesMismatch => "entry-bytes-mismatch".into(),
        EntryError::GenesisNotFirst { .. } => "genesis-not-first".into(),
        EntryError::FirstNotGenesis { .. } => "first-not-genesis".into(),
        EntryError::Genesis(_) => "bad-genesis".into(),
        EntryError::GenesisMismatch => "genesis-mismatch".into(),
        EntryError::ResponseWithoutReplyTo => "response-without-reply-to".into(),
        EntryError::ReplyToGenesis { .. } => "reply-to-genesis".into(),
        EntryError::ReplyToNotEarlier { .. } => "reply-to-not-earlier".into(),
        EntryError::PayloadTooLarge { .. } => "oversize-payload".into(),
        EntryError::AttachmentTooLarge { .. } => "oversize-attachment".into(),
        // The rules of section 3.7 go by the names the spec gives them.
        EntryError::KeyChange(e) => e.code().into(),
        EntryError::RetiredKey { .. } => "RetiredKey".into(),
        // EntryError is non_exhaustive: a variant added later has no reason in the vectors
        // yet, so a vector expecting it fails with this text until it is named above.
        other => format!("unnamed-error: {other:?}"),
    }
}

fn channel(v: &Value) -> ChannelParams {
    let (_, g) = genesis::check_genesis(&vector_leaves(v)[0]).expect("the vector genesis is valid");
    ChannelParams::new(g).unwrap()
}

fn hex_u32(s: &str) -> u32 {
    u32::from_str_radix(s, 16).expect("hex key ID")
}

fn assert_decoded(name: &str, e: &dyad_verifier::Entry, d: &Value) {
    let ctx = |f: &str| format!("entry {name:?}: field {f}");
    assert_eq!(
        u64::from(e.version),
        u64_of(d, "version"),
        "{}",
        ctx("version")
    );
    assert_eq!(e.origin, str_of(d, "origin"), "{}", ctx("origin"));
    assert_eq!(e.kind.as_str(), str_of(d, "kind"), "{}", ctx("kind"));
    assert_eq!(
        e.sender,
        hex_u32(str_of(d, "sender_key_id_hex")),
        "{}",
        ctx("sender")
    );
    assert_eq!(e.sequence, u64_of(d, "sequence"), "{}", ctx("sequence"));
    assert_eq!(
        e.timestamp_ms,
        u64_of(d, "timestamp_ms"),
        "{}",
        ctx("timestamp_ms")
    );
    assert_eq!(
        e.reply_to,
        field(d, "reply_to").as_u64(),
        "{}",
        ctx("reply_to")
    );
    assert!(
        e.reply_to.is_some() || field(d, "reply_to").is_null(),
        "{}",
        ctx("reply_to")
    );
    assert_eq!(e.subject, str_of(d, "subject"), "{}", ctx("subject"));
    assert_eq!(
        e.content_type,
        str_of(d, "content_type"),
        "{}",
        ctx("content_type")
    );
    assert_eq!(
        hex(&e.payload),
        str_of(d, "payload_hex"),
        "{}",
        ctx("payload")
    );
    let attachments = array_of(d, "attachments");
    assert_eq!(
        e.attachments.len(),
        attachments.len(),
        "{}",
        ctx("attachments")
    );
    for (a, v) in e.attachments.iter().zip(attachments) {
        assert_eq!(
            hex(&a.sha256),
            str_of(v, "sha256_hex"),
            "{}",
            ctx("attachment sha256")
        );
        assert_eq!(a.size, u64_of(v, "size"), "{}", ctx("attachment size"));
        assert_eq!(a.name, str_of(v, "name"), "{}", ctx("attachment name"));
        assert_eq!(
            a.content_type,
            str_of(v, "content_type"),
            "{}",
            ctx("attachment content_type")
        );
    }
    let signatures = array_of(d, "signatures");
    assert_eq!(
        e.signatures.len(),
        signatures.len(),
        "{}",
        ctx("signatures")
    );
    for (s, v) in e.signatures.iter().zip(signatures) {
        assert_eq!(
            s.key_id,
            hex_u32(str_of(v, "key_id_hex")),
            "{}",
            ctx("signature key_id")
        );
        assert_eq!(
            hex(&s.signature),
            str_of(v, "signature_hex"),
            "{}",
            ctx("signature")
        );
    }
}

#[test]
fn valid_entries_decode_hash_and_verify_as_the_vectors_say() {
    let v = vectors();
    let params = channel(&v);
    let entries = array_of(&v, "entries");
    assert!(!entries.is_empty(), "no entries in the vectors");
    for e in entries {
        let name = str_of(e, "name");
        let index = u64_of(e, "index");
        let bytes = unhex(str_of(e, "entry_hex"));
        let decoded = entry::decode(&bytes)
            .unwrap_or_else(|err| panic!("entry {name:?} does not decode: {err}"));
        assert_decoded(name, &decoded, field(e, "decoded"));
        assert_eq!(
            encode(&decoded),
            bytes,
            "entry {name:?}: the test encoder disagrees"
        );
        assert_eq!(
            hex(&dyad_verifier::hash::leaf_hash(&bytes)),
            str_of(e, "leaf_hash_hex"),
            "entry {name:?}: leaf hash"
        );
        assert_eq!(
            hex(&entry::signed_message(&bytes).unwrap()),
            str_of(e, "signed_message_hex"),
            "entry {name:?}: signed message"
        );
        let checked = entry::check_entry(&bytes, index, &params)
            .unwrap_or_else(|err| panic!("entry {name:?} at {index} is rejected: {err}"));
        assert_eq!(checked, decoded);
        let sender = params
            .party_by_key_id(decoded.sender)
            .expect("the sender is a party")
            .1;
        entry::verify_signature(&bytes, &decoded, sender).unwrap();
    }
}

#[test]
fn the_genesis_and_keys_match_the_vectors() {
    let v = vectors();
    let leaves = vector_leaves(&v);
    let (_, g) = genesis::check_genesis(&leaves[0]).unwrap();
    assert_eq!(g, vector_genesis(&v));
    assert_eq!(g.origin, str_of(&v, "origin"));
    let gv = field(&v, "genesis");
    if let Some(record) = gv.get("record_hex").and_then(Value::as_str) {
        assert_eq!(genesis::decode_record(&unhex(record)).unwrap(), g);
        assert_eq!(
            hex(&encode_genesis_record(&g)),
            record,
            "the test encoder disagrees on the record"
        );
    }

    for (role, party) in [("sequencer", &g.sequencer), ("cosigner", &g.cosigner)] {
        let p = vector_party(&v, role);
        assert_eq!(str_of(p, "name"), party.name);
        assert_eq!(str_of(p, "public_key_hex"), hex(&party.public_key));
        let seed: [u8; 32] = unhex(str_of(p, "seed_hex")).try_into().unwrap();
        let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
        assert_eq!(
            signing.verifying_key().to_bytes(),
            party.public_key,
            "{role}: seed and public key disagree"
        );
        assert_eq!(
            party.entry_key().unwrap(),
            VerifierKey::parse(str_of(p, "vkey")).unwrap()
        );
        assert_eq!(party.entry_key().unwrap().to_string(), str_of(p, "vkey"));
        assert_eq!(
            party.cosignature_key().unwrap().to_string(),
            str_of(p, "cosignature_vkey")
        );
        if role == "sequencer" {
            assert_eq!(g.log_key().unwrap().to_string(), str_of(p, "log_vkey"));
        }
    }
}

#[test]
fn invalid_entries_are_rejected_for_the_reason_the_vectors_give() {
    let v = vectors();
    let params = channel(&v);
    let next_index = array_of(&v, "entries").len() as u64;
    let invalid = array_of(&v, "invalid_entries");
    assert!(!invalid.is_empty(), "no invalid entries in the vectors");
    let mut failures = Vec::new();
    for e in invalid {
        let name = str_of(e, "name");
        let index = e.get("index").and_then(Value::as_u64).unwrap_or(next_index);
        let bytes = unhex(str_of(e, "entry_hex"));
        let expected = str_of(e, "error");
        match entry::check_entry(&bytes, index, &params) {
            Ok(_) => failures.push(format!("{name}: accepted, expected {expected}")),
            Err(err) if reason(&err) != expected => failures.push(format!(
                "{name}: rejected as {} ({err}), expected {expected}",
                reason(&err)
            )),
            Err(_) => {}
        }
    }
    assert!(
        failures.is_empty(),
        "invalid entry vectors:\n{}",
        failures.join("\n")
    );
}
