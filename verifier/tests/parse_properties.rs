//! Property tests for the parsers: no input makes them panic, and what they
//! accept is canonical (writing it back out gives the input again).

mod common;

use common::*;
use dyad_verifier::key::{SignatureType, VerifierKey};
use dyad_verifier::{checkpoint, note, policy};
use proptest::prelude::*;
use proptest::sample::Index;

const ORIGIN: &str = "example.org/dyad/fuzz";

fn keys() -> Vec<VerifierKey> {
    vec![
        VerifierKey::new(
            ORIGIN,
            SignatureType::Ed25519,
            seeded_key(1).verifying_key().to_bytes(),
        )
        .unwrap(),
        VerifierKey::new(
            "w.example/1",
            SignatureType::CosignatureV1,
            seeded_key(2).verifying_key().to_bytes(),
        )
        .unwrap(),
    ]
}

fn signed_note() -> (String, Vec<u8>) {
    let text = checkpoint_text(ORIGIN, 9);
    let lines = [
        ed25519_line(ORIGIN, &seeded_key(1), &text),
        cosignature_line("w.example/1", &seeded_key(2), &text, 77),
    ];
    let note = note_of(&text, &lines);
    (text, note)
}

#[derive(Debug, Clone)]
enum Edit {
    Replace(Index, u8),
    Insert(Index, u8),
    Delete(Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Edit::Replace(i, b)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<Index>().prop_map(Edit::Delete),
    ]
}

fn apply(bytes: &mut Vec<u8>, edit: &Edit) {
    match edit {
        Edit::Replace(i, b) if !bytes.is_empty() => {
            let at = i.index(bytes.len());
            bytes[at] = *b;
        }
        Edit::Insert(i, b) => {
            let at = i.index(bytes.len() + 1);
            bytes.insert(at, *b);
        }
        Edit::Delete(i) if !bytes.is_empty() => {
            let at = i.index(bytes.len());
            bytes.remove(at);
        }
        _ => {}
    }
}

/// Characters that matter to the formats, so random strings reach deep paths.
fn format_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("\n".to_string()),
            Just("\u{2014} ".to_string()),
            Just(" ".to_string()),
            Just("+".to_string()),
            Just("=".to_string()),
            Just("0".to_string()),
            "[a-zA-Z0-9/+=.\t -]{1,12}",
            any::<char>().prop_map(String::from),
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn note_parse_and_verify_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = note::parse(&bytes);
        let _ = note::verify(&bytes, &keys());
    }

    #[test]
    fn note_parse_never_panics_on_format_text(text in format_text()) {
        if let Ok(parsed) = note::parse(text.as_bytes()) {
            prop_assert!(parsed.text.ends_with('\n'));
            prop_assert!(!parsed.signatures.is_empty());
        }
        let _ = note::verify(text.as_bytes(), &keys());
    }

    /// Edited signed notes: whatever still verifies carries the original text.
    #[test]
    fn edited_notes_verify_only_with_the_signed_text(edits in proptest::collection::vec(edit(), 1..4)) {
        let (text, mut bytes) = signed_note();
        for e in &edits {
            apply(&mut bytes, e);
        }
        if let Ok(verified) = note::verify(&bytes, &keys()) {
            prop_assert_eq!(verified.text, text);
        }
    }

    #[test]
    fn checkpoint_parse_accepts_only_canonical_text(text in format_text()) {
        if let Ok(cp) = checkpoint::parse(&text) {
            prop_assert_eq!(cp.to_text(), text);
        }
    }

    #[test]
    fn checkpoint_parse_never_panics(text in any::<String>()) {
        if let Ok(cp) = checkpoint::parse(&text) {
            prop_assert_eq!(cp.to_text(), text);
        }
    }

    #[test]
    fn edited_checkpoints_are_rejected_or_canonical(edits in proptest::collection::vec(edit(), 1..4)) {
        let mut bytes = checkpoint_text(ORIGIN, 9).into_bytes();
        for e in &edits {
            apply(&mut bytes, e);
        }
        if let Ok(text) = String::from_utf8(bytes) {
            if let Ok(cp) = checkpoint::parse(&text) {
                prop_assert_eq!(cp.to_text(), text);
            }
        }
    }

    #[test]
    fn verifier_key_parse_accepts_only_what_it_writes(text in format_text()) {
        if let Ok(key) = VerifierKey::parse(&text) {
            prop_assert_eq!(key.to_string(), canonical_key_form(&text));
        }
    }

    #[test]
    fn edited_verifier_keys_are_rejected_or_round_trip(edits in proptest::collection::vec(edit(), 1..3)) {
        let mut bytes = keys()[1].to_string().into_bytes();
        for e in &edits {
            apply(&mut bytes, e);
        }
        if let Ok(text) = String::from_utf8(bytes) {
            if let Ok(key) = VerifierKey::parse(&text) {
                prop_assert_eq!(key.to_string(), canonical_key_form(&text));
            }
        }
    }

    #[test]
    fn policy_parse_round_trips_what_it_accepts(text in format_text()) {
        if let Ok(parsed) = policy::parse(&text) {
            prop_assert_eq!(policy::parse(&parsed.to_string()), Ok(parsed));
        }
    }

    #[test]
    fn policy_parse_never_panics_on_policy_like_lines(
        lines in proptest::collection::vec(policy_line(), 0..12),
    ) {
        let text = lines.join("\n");
        if let Ok(parsed) = policy::parse(&text) {
            prop_assert_eq!(policy::parse(&parsed.to_string()), Ok(parsed.clone()));
            let (_, note) = signed_note();
            let _ = parsed.verify_checkpoint(&note);
        }
    }
}

/// A parsed key string with its key ID in lowercase: only an uppercase key ID
/// may differ from the canonical form.
fn canonical_key_form(text: &str) -> String {
    let (name, rest) = text.split_once('+').expect("accepted key has a name");
    let (id, b64) = rest.split_once('+').expect("accepted key has a key ID");
    format!("{name}+{}+{b64}", id.to_ascii_lowercase())
}

/// Lines built from the policy grammar with a few names and keys.
fn policy_line() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        Just("A"),
        Just("B"),
        Just("C"),
        Just("none"),
        Just("g1"),
        Just("g2")
    ];
    let key = prop_oneof![
        Just(keys()[0].to_string()),
        Just(keys()[1].to_string()),
        Just("bad+key".to_string())
    ];
    let threshold = prop_oneof![
        Just("all".to_string()),
        Just("any".to_string()),
        (0usize..4).prop_map(|k| k.to_string())
    ];
    prop_oneof![
        key.clone().prop_map(|k| format!("log {k}")),
        (name.clone(), key).prop_map(|(n, k)| format!("witness {n} {k}")),
        (
            name.clone(),
            threshold,
            proptest::collection::vec(name.clone(), 0..4)
        )
            .prop_map(|(n, t, m)| format!("group {n} {t} {}", m.join(" "))),
        name.prop_map(|n| format!("quorum {n}")),
        Just("# comment".to_string()),
        Just(" \t ".to_string()),
    ]
}
