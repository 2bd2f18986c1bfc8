//! The checked-in spec vectors must be exactly what the code produces today: a format
//! change without regenerating (and re-reviewing) spec/vectors fails here.

#[path = "vectors/generate.rs"]
mod generate;

#[test]
fn spec_vectors_match_the_code() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors/entries.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let on_disk: serde_json::Value = serde_json::from_str(&text).expect("entries.json is JSON");
    let fresh = generate::generate();
    for key in [
        "parties",
        "genesis",
        "entries",
        "invalid_entries",
        "invalid_endorsements",
        "checkpoints",
        "receipts",
        "key_changes",
        "witness_changes",
    ] {
        assert_eq!(on_disk[key], fresh[key], "spec/vectors/entries.json differs from the code in {key:?}; if the format change is intended, run `cargo run -p dyad-ledger --example gen_vectors` and update spec/dyad.md");
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// The ledger accepts every valid vector entry in order and rejects every invalid one for
/// the reason the vector names.
#[test]
fn ledger_accepts_valid_and_rejects_invalid_vector_entries() {
    use dyad_ledger::channel::{Channel, ChannelError, EntryRefusal, Role};
    use dyad_ledger::entry::{EntryError, SignedEntry};

    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors/entries.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
    let entries = v["entries"].as_array().expect("entries");
    let dir = tempfile::tempdir().unwrap();
    let genesis = SignedEntry::decode(&unhex(entries[0]["entry_hex"].as_str().unwrap()))
        .expect("genesis decodes");
    let mut ch = Channel::create(dir.path(), &genesis, Role::Sequencer).expect("create");
    let mut now = 0;
    for e in &entries[1..] {
        let signed = SignedEntry::decode(&unhex(e["entry_hex"].as_str().unwrap()))
            .expect("valid entry decodes");
        assert_eq!(signed.entry.body.kind.as_str(), e["decoded"]["kind"]);
        now = now.max(e["decoded"]["timestamp_ms"].as_u64().unwrap());
        let landed = ch
            .append_signed(&[signed], now)
            .expect("valid entry accepted");
        assert_eq!(landed[0].index, e["index"].as_u64().unwrap());
    }
    let invalid = v["invalid_entries"].as_array().expect("invalid_entries");
    assert!(invalid.len() >= 10);
    for case in invalid {
        let bytes = unhex(case["entry_hex"].as_str().unwrap());
        let reason = case["error"].as_str().unwrap();
        let outcome = SignedEntry::decode(&bytes)
            .map_err(|e| (Some(e), None))
            .and_then(|s| ch.append_signed(&[s], now).map_err(|e| (None, Some(e))));
        let matched = matches!(
            (&outcome, reason),
            (
                Err((Some(EntryError::TrailingBytes { .. }), _)),
                "trailing-bytes"
            ) | (
                Err((Some(EntryError::Malformed(_)), _)),
                "truncated" | "unknown-kind" | "bad-option-tag" | "invalid-utf8"
            ) | (
                Err((Some(EntryError::UnknownVersion(2)), _)),
                "unknown-version"
            ) | (
                Err((Some(EntryError::BadSubject), _)),
                "oversize-subject" | "control-character"
            ) | (
                Err((Some(EntryError::BadAttachmentName), _)),
                "unsafe-attachment-name"
            ) | (
                Err((Some(EntryError::AttachmentsUnsorted), _)),
                "attachments-unsorted"
            ) | (
                Err((Some(EntryError::WrongSignatureCount { .. }), _)),
                "wrong-signature-count"
            ) | (
                Err((
                    _,
                    Some(ChannelError::Refused(EntryRefusal::BadSignature { .. }))
                )),
                "bad-signature"
            ) | (
                Err((
                    _,
                    Some(ChannelError::Refused(EntryRefusal::WrongOrigin { .. }))
                )),
                "wrong-origin"
            ) | (
                Err((
                    _,
                    Some(ChannelError::Refused(EntryRefusal::UnknownSender { .. }))
                )),
                "sender-not-a-party"
            ) | (
                Err((
                    _,
                    Some(ChannelError::Refused(
                        EntryRefusal::ReplyToNotEarlier { .. }
                    ))
                )),
                "reply-to-not-earlier"
            ) | (
                Err((
                    _,
                    Some(ChannelError::Refused(EntryRefusal::GenesisNotFirst { .. }))
                )),
                "genesis-not-first"
            )
        );
        assert!(
            matched,
            "invalid entry {:?} ({reason}) gave {outcome:?}",
            case["name"]
        );
    }
    assert_eq!(
        ch.size(),
        entries.len() as u64,
        "no invalid entry was stored"
    );
}

/// The ledger refuses every invalid record and endorsement vector (spec 3.6), appended
/// after the valid vector log, with the rule the vector names; none is stored.
#[test]
fn ledger_refuses_the_invalid_endorsement_vectors() {
    use dyad_ledger::channel::{Channel, ChannelError, EntryRefusal, Role};
    use dyad_ledger::entry::SignedEntry;

    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors/entries.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
    let entries = v["entries"].as_array().expect("entries");
    let dir = tempfile::tempdir().unwrap();
    let decode = |e: &serde_json::Value| {
        SignedEntry::decode(&unhex(e["entry_hex"].as_str().unwrap())).expect("decodes")
    };
    let mut ch = Channel::create(dir.path(), &decode(&entries[0]), Role::Sequencer).unwrap();
    let mut now = 0;
    for e in &entries[1..] {
        now = now.max(e["decoded"]["timestamp_ms"].as_u64().unwrap());
        ch.append_signed(&[decode(e)], now)
            .expect("valid entry accepted");
    }
    let invalid = v["invalid_endorsements"]
        .as_array()
        .expect("invalid_endorsements");
    assert!(invalid.len() >= 10);
    for case in invalid {
        let expected = case["error"].as_str().unwrap();
        let signed = decode(case);
        match ch.append_signed(std::slice::from_ref(&signed), now) {
            Err(ChannelError::Refused(EntryRefusal::JointRecord { index, source })) => {
                assert_eq!(source.code(), expected, "{}", case["name"]);
                assert_eq!(index, case["index"].as_u64().unwrap());
            }
            other => panic!("{}: expected {expected}, got {other:?}", case["name"]),
        }
        // The same entry judged among others (group commit) is left out alone.
        let staged = ch.stage_each(&[signed], now).expect("staged");
        assert!(staged.any_refused(), "{}", case["name"]);
    }
    assert_eq!(
        ch.size(),
        entries.len() as u64,
        "no invalid entry was stored"
    );
}

/// The key-change section (spec 3.7): appended after the vector log, each party's key
/// change and its message under the new key are accepted, the checkpoints (signed with the
/// keys at their sizes) are committed, and every invalid key change is refused by the rule
/// it names; none is stored.
#[test]
fn ledger_takes_the_key_change_vectors_and_refuses_the_invalid_ones() {
    use dyad_ledger::channel::{Channel, ChannelError, EntryRefusal, Role};
    use dyad_ledger::entry::key_change::KeyChangeError as K;
    use dyad_ledger::entry::SignedEntry;

    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors/entries.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
    let decode = |e: &serde_json::Value| {
        SignedEntry::decode(&unhex(e["entry_hex"].as_str().unwrap())).expect("decodes")
    };
    let entries = v["entries"].as_array().expect("entries");
    let section = &v["key_changes"];
    let changes = section["entries"].as_array().expect("key change entries");
    let dir = tempfile::tempdir().unwrap();
    let mut ch = Channel::create(dir.path(), &decode(&entries[0]), Role::Sequencer).unwrap();
    let mut now = 0;
    for e in entries[1..].iter().chain(changes) {
        now = now.max(e["decoded"]["timestamp_ms"].as_u64().unwrap());
        let landed = ch
            .append_signed(&[decode(e)], now)
            .expect("valid entry accepted");
        assert_eq!(
            landed[0].index,
            e["index"].as_u64().unwrap(),
            "{}",
            e["name"]
        );
    }
    for cp in section["checkpoints"].as_array().expect("checkpoints") {
        let note = cp["note"].as_str().unwrap().as_bytes();
        let got = ch
            .add_committed_checkpoint(note)
            .expect("committed under the keys at its size");
        assert_eq!(got.size, cp["size"].as_u64().unwrap());
    }
    let held = ch.size();
    let invalid = section["invalid_entries"]
        .as_array()
        .expect("invalid_entries");
    assert!(invalid.len() >= 9);
    for case in invalid {
        let expected = case["error"].as_str().unwrap();
        let err = ch.append_signed(&[decode(case)], now).unwrap_err();
        let ChannelError::Refused(refusal) = &err else {
            panic!("{}: expected {expected}, got {err}", case["name"]);
        };
        let name = match refusal {
            EntryRefusal::RetiredKey { .. } => "RetiredKey",
            EntryRefusal::NewKeyReused { .. } => "NewKeyReused",
            EntryRefusal::UnknownSender { .. } => "sender-not-a-party",
            EntryRefusal::KeyChange { source, .. } => match source {
                K::WrongContentType => "WrongContentType",
                K::MalformedPayload { .. } => "MalformedPayload",
                K::KeyChangeWithReplyTo => "KeyChangeWithReplyTo",
                K::KeyChangeWithAttachments => "KeyChangeWithAttachments",
                K::InvalidNewKey => "InvalidNewKey",
                K::BadNewKeySignature => "BadNewKeySignature",
            },
            other => panic!("{}: expected {expected}, got {other}", case["name"]),
        };
        assert_eq!(name, expected, "{}", case["name"]);
    }
    assert_eq!(ch.size(), held, "no invalid entry was stored");
}

/// The witness-change section (spec 3.8): appended after the vector log and its key
/// changes, each party's witness change is accepted, each checkpoint is committed by the
/// witnesses at its size and not by the too few (or removed) ones of its uncommitted
/// twin, and every invalid witness change is refused by the rule it names; none is stored.
#[test]
fn ledger_takes_the_witness_change_vectors_and_refuses_the_invalid_ones() {
    use dyad_ledger::channel::{Channel, ChannelError, EntryRefusal, Role};
    use dyad_ledger::entry::SignedEntry;

    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors/entries.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
    let decode = |e: &serde_json::Value| {
        SignedEntry::decode(&unhex(e["entry_hex"].as_str().unwrap())).expect("decodes")
    };
    let array = |section: &str, key: &str| v[section][key].as_array().expect(key).clone();
    let entries = v["entries"].as_array().expect("entries");
    let section = &v["witness_changes"];
    let dir = tempfile::tempdir().unwrap();
    let mut ch = Channel::create(dir.path(), &decode(&entries[0]), Role::Sequencer).unwrap();
    let mut now = 0;
    let changes = array("witness_changes", "entries");
    let all = entries[1..]
        .iter()
        .chain(&array("key_changes", "entries"))
        .chain(&changes)
        .cloned()
        .collect::<Vec<_>>();
    for e in &all {
        now = now.max(e["decoded"]["timestamp_ms"].as_u64().unwrap());
        let landed = ch.append_signed(&[decode(e)], now).expect("valid entry");
        assert_eq!(
            landed[0].index,
            e["index"].as_u64().unwrap(),
            "{}",
            e["name"]
        );
    }
    let change_indices: Vec<u64> = changes
        .iter()
        .filter(|e| e["decoded"]["kind"] == "witness-change")
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    assert_eq!(ch.witness_changes(), change_indices);
    for cp in array("key_changes", "checkpoints")
        .iter()
        .chain(&array("witness_changes", "checkpoints"))
    {
        let got = ch
            .add_committed_checkpoint(cp["note"].as_str().unwrap().as_bytes())
            .expect("committed under the keys and witnesses at its size");
        assert_eq!(got.size, cp["size"].as_u64().unwrap());
    }
    for cp in array("witness_changes", "uncommitted_checkpoints") {
        let err = ch
            .verify_committed(cp["note"].as_str().unwrap().as_bytes())
            .unwrap_err();
        assert!(
            matches!(err, ChannelError::WitnessQuorum { .. }),
            "size {}: {err}",
            cp["size"]
        );
    }
    let held = ch.size();
    let invalid = section["invalid_entries"]
        .as_array()
        .expect("invalid_entries");
    assert!(invalid.len() >= 12);
    for case in invalid {
        let expected = case["error"].as_str().unwrap();
        match ch.append_signed(&[decode(case)], now) {
            Err(ChannelError::Refused(EntryRefusal::WitnessChange { index, source })) => {
                assert_eq!(source.code(), expected, "{}", case["name"]);
                assert_eq!(index, case["index"].as_u64().unwrap());
            }
            other => panic!("{}: expected {expected}, got {other:?}", case["name"]),
        }
    }
    assert_eq!(ch.size(), held, "no invalid entry was stored");
}
