//! cosignature/v1 (C2SP tlog-cosignature): no external vectors exist (Go's x/mod
//! does not implement type 0x04), so notes are signed here with ed25519-dalek
//! following the spec's message layout.

mod common;

use common::*;
use dyad_verifier::cosignature::{signed_message, timestamped_signature, MAX_TIMESTAMP};
use dyad_verifier::key::{SignatureType, VerifierKey};
use dyad_verifier::note::{self, NoteError};
use ed25519_dalek::Signer;

const ORIGIN: &str = "example.org/dyad/cosign-test";
const WITNESS: &str = "example.org/dyad/witness";
const TIME: u64 = 1_700_000_000;

fn witness_key() -> VerifierKey {
    VerifierKey::new(
        WITNESS,
        SignatureType::CosignatureV1,
        seeded_key(2).verifying_key().to_bytes(),
    )
    .unwrap()
}

fn log_key() -> VerifierKey {
    VerifierKey::new(
        ORIGIN,
        SignatureType::Ed25519,
        seeded_key(1).verifying_key().to_bytes(),
    )
    .unwrap()
}

/// A line for the witness key with chosen timestamp bytes and signature.
fn raw_cosignature_line(timestamp: u64, signature: &[u8; 64]) -> String {
    note::signature_line(
        WITNESS,
        witness_key().key_id(),
        &timestamped_signature(timestamp, signature),
    )
}

#[test]
fn cosigned_checkpoint_verifies_with_its_timestamp() {
    let text = checkpoint_text(ORIGIN, 5);
    let note = note_of(
        &text,
        &[
            ed25519_line(ORIGIN, &seeded_key(1), &text),
            cosignature_line(WITNESS, &seeded_key(2), &text, TIME),
        ],
    );
    let verified = note::verify(&note, &[log_key(), witness_key()]).unwrap();
    assert_eq!(verified.text, text);
    assert_eq!(verified.verified.len(), 2);
    assert_eq!(verified.verified[0].key, log_key());
    assert_eq!(verified.verified[0].timestamp, None);
    assert_eq!(verified.verified[1].key, witness_key());
    assert_eq!(verified.verified[1].timestamp, Some(TIME));
}

#[test]
fn crate_message_matches_the_spec_layout() {
    let text = checkpoint_text(ORIGIN, 3);
    assert_eq!(
        signed_message(TIME, &text),
        format!("cosignature/v1\ntime {TIME}\n{text}").into_bytes()
    );
    assert_eq!(
        signed_message(0, &text),
        format!("cosignature/v1\ntime 0\n{text}").into_bytes()
    );
}

#[test]
fn changed_timestamp_is_rejected() {
    let text = checkpoint_text(ORIGIN, 5);
    let signature = seeded_key(2).sign(&signed_message(TIME, &text)).to_bytes();
    let good = note_of(&text, &[raw_cosignature_line(TIME, &signature)]);
    assert!(note::verify(&good, &[witness_key()]).is_ok());
    let moved = note_of(&text, &[raw_cosignature_line(TIME + 1, &signature)]);
    assert_eq!(
        note::verify(&moved, &[witness_key()]),
        Err(NoteError::InvalidSignature {
            name: WITNESS.into(),
            key_id: witness_key().key_id()
        })
    );
}

#[test]
fn changed_body_is_rejected() {
    let text = checkpoint_text(ORIGIN, 5);
    let other = checkpoint_text(ORIGIN, 6);
    let note = note_of(
        &other,
        &[cosignature_line(WITNESS, &seeded_key(2), &text, TIME)],
    );
    assert!(matches!(
        note::verify(&note, &[witness_key()]),
        Err(NoteError::InvalidSignature { .. })
    ));
}

#[test]
fn timestamp_above_2_63_minus_1_is_rejected_even_when_signed() {
    let text = checkpoint_text(ORIGIN, 5);
    for timestamp in [MAX_TIMESTAMP + 1, u64::MAX] {
        let note = note_of(
            &text,
            &[cosignature_line(WITNESS, &seeded_key(2), &text, timestamp)],
        );
        assert_eq!(
            note::verify(&note, &[witness_key()]),
            Err(NoteError::TimestampOutOfRange {
                name: WITNESS.into(),
                key_id: witness_key().key_id(),
                timestamp
            })
        );
    }
    let at_limit = note_of(
        &text,
        &[cosignature_line(
            WITNESS,
            &seeded_key(2),
            &text,
            MAX_TIMESTAMP,
        )],
    );
    assert_eq!(
        note::verify(&at_limit, &[witness_key()]).unwrap().verified[0].timestamp,
        Some(MAX_TIMESTAMP)
    );
}

#[test]
fn plain_ed25519_line_does_not_count_for_a_cosignature_key() {
    let text = checkpoint_text(ORIGIN, 5);
    // Labelled with the 0x01 key ID: another key as far as the 0x04 key knows, so ignored.
    let note = note_of(&text, &[ed25519_line(WITNESS, &seeded_key(2), &text)]);
    assert_eq!(
        note::verify(&note, &[witness_key()]),
        Err(NoteError::NoVerifiedSignature)
    );
    // Labelled with the 0x04 key ID: a known key's signature of the wrong form.
    let signature = seeded_key(2).sign(text.as_bytes()).to_bytes();
    let relabelled = note_of(
        &text,
        &[note::signature_line(
            WITNESS,
            witness_key().key_id(),
            &signature,
        )],
    );
    assert!(matches!(
        note::verify(&relabelled, &[witness_key()]),
        Err(NoteError::SignatureWrongLength { length: 64, .. })
    ));
}

#[test]
fn cosignature_line_does_not_count_for_an_ed25519_key() {
    let text = checkpoint_text(ORIGIN, 5);
    let plain = witness_key().with_signature_type(SignatureType::Ed25519);
    let note = note_of(
        &text,
        &[cosignature_line(WITNESS, &seeded_key(2), &text, TIME)],
    );
    assert_eq!(
        note::verify(&note, &[plain]),
        Err(NoteError::NoVerifiedSignature)
    );
}

#[test]
fn cosignature_by_another_key_under_the_same_id_is_rejected() {
    let text = checkpoint_text(ORIGIN, 5);
    let signature = seeded_key(3).sign(&signed_message(TIME, &text)).to_bytes();
    let note = note_of(&text, &[raw_cosignature_line(TIME, &signature)]);
    assert!(matches!(
        note::verify(&note, &[witness_key()]),
        Err(NoteError::InvalidSignature { .. })
    ));
}

#[test]
fn second_line_by_the_same_witness_is_rejected() {
    let text = checkpoint_text(ORIGIN, 5);
    let line = cosignature_line(WITNESS, &seeded_key(2), &text, TIME);
    let later = cosignature_line(WITNESS, &seeded_key(2), &text, TIME + 60);
    let note = note_of(&text, &[line, later]);
    assert_eq!(
        note::verify(&note, &[witness_key()]),
        Err(NoteError::DuplicateSignature {
            name: WITNESS.into(),
            key_id: witness_key().key_id()
        })
    );
}
