//! Entries and the genesis, built by hand with the test encoder (spec sections 3 and 4).

mod entry_support;

use dyad_verifier::entry::{self, Entry, EntryError, Kind};
use dyad_verifier::genesis::{self, ChannelParams, GenesisError, Identifier, PartyRole};
use dyad_verifier::key::SignatureType;
use entry_support::*;
use proptest::prelude::*;

fn channel() -> (Channel, ChannelParams) {
    let c = Channel::new(0, 0);
    let params = ChannelParams::new(c.genesis.clone()).unwrap();
    (c, params)
}

/// A valid response from bravo at index 2 (replying to 1), as an Entry and its bytes.
fn response(c: &Channel) -> (Entry, Vec<u8>) {
    let mut e = c.make(1, Kind::Response, 1, T0_MS + 2000, Some(1));
    let bytes = sign_and_encode(&mut e, &[&c.bravo]);
    (e, bytes)
}

/// Re-signs `e` (by bravo) and checks it at index 2.
fn check_resigned(c: &Channel, params: &ChannelParams, mut e: Entry) -> Result<Entry, EntryError> {
    let bytes = sign_and_encode(&mut e, &[&c.bravo]);
    entry::check_entry(&bytes, 2, params)
}

#[test]
fn hand_built_entries_decode_to_what_was_encoded() {
    let (c, params) = channel();
    let (e, bytes) = response(&c);
    assert_eq!(entry::decode(&bytes).unwrap(), e);
    assert_eq!(entry::check_entry(&bytes, 2, &params).unwrap(), e);
    assert_eq!(entry::signed_message(&bytes).unwrap(), signed_message(&e));
    assert_eq!(e.encoded_len(), bytes.len());
    assert_eq!(e.body_len(), encode_body(&e).len());
    entry::verify_signature(&bytes, &e, &c.bravo.entry_vkey()).unwrap();

    // Every kind, with attachments and an empty payload and subject.
    for kind in [Kind::Inquiry, Kind::ThreatIndicators, Kind::Notification] {
        let mut e = c.make(0, kind, 2, T0_MS, None);
        e.payload.clear();
        e.subject.clear();
        e.attachments = vec![attachment(b"x", "x.txt"), attachment(b"y", "y.txt")];
        e.attachments.sort_by_key(|a| a.sha256);
        let bytes = sign_and_encode(&mut e, &[&c.alpha]);
        assert_eq!(entry::check_entry(&bytes, 7, &params).unwrap(), e);
    }
}

#[test]
fn kinds_have_their_spec_values_and_names() {
    let names = [
        "genesis",
        "inquiry",
        "response",
        "threat-indicators",
        "notification",
        "record",
        "endorsement",
        "key-change",
        "witness-change",
    ];
    for (value, name) in names.iter().enumerate() {
        let kind = Kind::from_u8(value as u8).unwrap();
        assert_eq!(kind.as_u8(), value as u8);
        assert_eq!(kind.as_str(), *name);
        assert_eq!(Kind::from_name(name), Some(kind));
    }
    assert_eq!(Kind::from_u8(9), None);
    assert_eq!(Kind::COUNT, names.len());
}

#[test]
fn decoding_rejects_malformed_bytes() {
    let (c, _) = channel();
    let (e, bytes) = response(&c);
    let origin_len = c.origin.len();
    let kind_at = 1 + 8 + origin_len;
    let reply_tag_at = kind_at + 1 + 4 + 8 + 8;
    let subject_len_at = reply_tag_at + 1 + 8;
    let subject_at = subject_len_at + 8;

    let with = |at: usize, byte: u8| {
        let mut v = bytes.clone();
        v[at] = byte;
        entry::decode(&v)
    };
    assert!(matches!(
        entry::decode(&[bytes.as_slice(), &[0]].concat()),
        Err(EntryError::TrailingBytes { count: 1, .. })
    ));
    for cut in 0..bytes.len() {
        assert!(
            matches!(
                entry::decode(&bytes[..cut]),
                Err(EntryError::Truncated { .. })
            ),
            "cut at {cut}"
        );
    }
    assert_eq!(with(0, 2), Err(EntryError::UnknownVersion(2)));
    assert_eq!(with(kind_at, 9), Err(EntryError::UnknownKind(9)));
    assert_eq!(with(kind_at, 0xff), Err(EntryError::UnknownKind(0xff)));
    assert!(matches!(
        with(reply_tag_at, 2),
        Err(EntryError::BadOptionTag {
            field: "reply_to",
            tag: 2
        })
    ));
    assert!(matches!(
        with(subject_at, 0xff),
        Err(EntryError::InvalidUtf8 {
            field: "subject",
            ..
        })
    ));
    assert!(matches!(
        with(subject_at, b'\n'),
        Err(EntryError::ControlCharacter {
            field: "subject",
            ..
        })
    ));
    assert!(matches!(
        with(subject_at, 0x7f),
        Err(EntryError::ControlCharacter {
            field: "subject",
            ..
        })
    ));
    // A length that claims more than the rest of the entry.
    let mut v = bytes.clone();
    v[subject_len_at..subject_len_at + 8].copy_from_slice(&u64::MAX.to_be_bytes());
    assert!(matches!(
        entry::decode(&v),
        Err(EntryError::Truncated {
            field: "subject",
            ..
        })
    ));

    let field_error = |mut e: Entry| {
        let bytes = sign_and_encode(&mut e, &[&c.bravo]);
        entry::decode(&bytes)
    };
    let mut x = e.clone();
    x.subject = "x".repeat(1025);
    assert!(matches!(
        field_error(x),
        Err(EntryError::Length {
            field: "subject",
            len: 1025,
            ..
        })
    ));
    let mut x = e.clone();
    x.subject = "é".repeat(512); // 1024 bytes: allowed
    assert!(field_error(x).is_ok());
    let mut x = e.clone();
    x.origin = String::new();
    assert!(matches!(
        field_error(x),
        Err(EntryError::Length {
            field: "origin",
            ..
        })
    ));
    let mut x = e.clone();
    x.origin = "o".repeat(256);
    assert!(matches!(
        field_error(x),
        Err(EntryError::Length {
            field: "origin",
            ..
        })
    ));
    let mut x = e.clone();
    x.content_type = String::new();
    assert!(matches!(
        field_error(x),
        Err(EntryError::Length {
            field: "content_type",
            ..
        })
    ));
    let mut x = e.clone();
    x.content_type = "text/plain; name=\"é\"".into();
    assert!(matches!(
        field_error(x),
        Err(EntryError::NotPrintableAscii {
            field: "content_type",
            ..
        })
    ));
    let mut x = e.clone();
    x.content_type = "text/plain\t".into();
    assert!(matches!(
        field_error(x),
        Err(EntryError::NotPrintableAscii { .. })
    ));

    let mut sorted = [attachment(b"1", "one"), attachment(b"2", "two")];
    sorted.sort_by_key(|a| a.sha256);
    let mut x = e.clone();
    x.attachments = vec![sorted[1].clone(), sorted[0].clone()];
    assert_eq!(
        field_error(x),
        Err(EntryError::AttachmentsUnsorted { index: 1 })
    );
    let mut x = e.clone();
    x.attachments = vec![sorted[0].clone(), sorted[0].clone()];
    assert_eq!(
        field_error(x),
        Err(EntryError::AttachmentsUnsorted { index: 1 })
    );
    let mut x = e.clone();
    x.attachments = vec![attachment(b"1", "dir/one")];
    assert_eq!(
        field_error(x),
        Err(EntryError::UnsafeAttachmentName { index: 0 })
    );
    let mut x = e.clone();
    x.attachments = vec![attachment(b"1", "")];
    assert!(matches!(
        field_error(x),
        Err(EntryError::Length {
            field: "attachment name",
            ..
        })
    ));
    let mut x = e.clone();
    x.attachments = vec![attachment(b"1", "a\u{1}b")];
    assert!(matches!(
        field_error(x),
        Err(EntryError::ControlCharacter {
            field: "attachment name",
            ..
        })
    ));
    let mut x = e.clone();
    let mut many: Vec<_> = (0..17u8).map(|i| attachment(&[i], "f")).collect();
    many.sort_by_key(|a| a.sha256);
    x.attachments = many[..16].to_vec();
    assert!(field_error(x.clone()).is_ok());
    x.attachments = many;
    assert_eq!(
        field_error(x),
        Err(EntryError::TooManyAttachments { count: 17 })
    );

    // The signature count follows the kind: 1, or 2 for the genesis.
    let mut x = e.clone();
    let bytes = sign_and_encode(&mut x, &[&c.bravo, &c.alpha]);
    assert_eq!(
        entry::decode(&bytes),
        Err(EntryError::WrongSignatureCount {
            kind: Kind::Response,
            expected: 1,
            found: 2
        })
    );
    let mut x = e.clone();
    let bytes = sign_and_encode(&mut x, &[]);
    assert!(matches!(
        entry::decode(&bytes),
        Err(EntryError::WrongSignatureCount { found: 0, .. })
    ));

    // Over 65535 bytes in all.
    let mut x = e.clone();
    x.payload = vec![0; 65535];
    let bytes = sign_and_encode(&mut x, &[&c.bravo]);
    assert_eq!(
        entry::decode(&bytes),
        Err(EntryError::TooLarge { len: bytes.len() })
    );
}

#[test]
fn channel_rules_are_checked() {
    let (c, params) = channel();
    let (e, bytes) = response(&c);
    let stranger = TestKey::new("test.example/stranger");

    let mut x = e.clone();
    x.origin = "test.example/dyad/another".into();
    assert!(matches!(
        check_resigned(&c, &params, x),
        Err(EntryError::WrongOrigin { .. })
    ));

    let mut x = e.clone();
    x.sender = stranger.key_id();
    let bytes_x = sign_and_encode(&mut x, &[&stranger]);
    assert_eq!(
        entry::check_entry(&bytes_x, 2, &params),
        Err(EntryError::SenderNotAParty {
            key_id: stranger.key_id()
        })
    );
    // A party's name with a stranger's key is not the party.
    let impostor = TestKey {
        name: c.bravo.name.clone(),
        signing: stranger.signing.clone(),
    };
    let mut x = e.clone();
    x.sender = impostor.key_id();
    let bytes_x = sign_and_encode(&mut x, &[&impostor]);
    assert!(matches!(
        entry::check_entry(&bytes_x, 2, &params),
        Err(EntryError::SenderNotAParty { .. })
    ));

    // Signed by alpha but claiming bravo as sender.
    let mut x = e.clone();
    let bytes_x = sign_and_encode(&mut x, &[&c.alpha]);
    assert!(matches!(
        entry::check_entry(&bytes_x, 2, &params),
        Err(EntryError::SignatureKeyMismatch { .. })
    ));

    // A flipped signature bit.
    let mut bad = bytes.clone();
    *bad.last_mut().unwrap() ^= 1;
    assert_eq!(
        entry::check_entry(&bad, 2, &params),
        Err(EntryError::BadSignature {
            key_id: c.bravo.key_id()
        })
    );
    // A flipped body bit (the timestamp), signature untouched.
    let mut bad = bytes.clone();
    bad[1 + 8 + c.origin.len() + 1 + 4 + 8 + 7] ^= 1;
    assert_eq!(
        entry::check_entry(&bad, 2, &params),
        Err(EntryError::BadSignature {
            key_id: c.bravo.key_id()
        })
    );

    assert_eq!(
        entry::check_entry(&bytes, 1, &params),
        Err(EntryError::ReplyToNotEarlier {
            index: 1,
            reply_to: 1
        })
    );
    let mut x = e.clone();
    x.reply_to = Some(0);
    assert_eq!(
        check_resigned(&c, &params, x),
        Err(EntryError::ReplyToGenesis { index: 2 })
    );
    let mut x = e.clone();
    x.reply_to = Some(3);
    assert_eq!(
        check_resigned(&c, &params, x),
        Err(EntryError::ReplyToNotEarlier {
            index: 2,
            reply_to: 3
        })
    );
    let mut x = e.clone();
    x.reply_to = None;
    assert_eq!(
        check_resigned(&c, &params, x),
        Err(EntryError::ResponseWithoutReplyTo)
    );
    // Other kinds may reply too.
    let mut x = e.clone();
    x.kind = Kind::Notification;
    assert!(check_resigned(&c, &params, x).is_ok());

    let mut x = e.clone();
    x.kind = Kind::Genesis;
    let bytes_x = sign_and_encode(&mut x, &[&c.bravo, &c.alpha]);
    assert_eq!(
        entry::check_entry(&bytes_x, 2, &params),
        Err(EntryError::GenesisNotFirst { index: 2 })
    );
    assert_eq!(
        entry::check_entry(&bytes, 0, &params),
        Err(EntryError::FirstNotGenesis {
            kind: Kind::Response
        })
    );

    let mut x = e.clone();
    x.payload = vec![b'x'; 61441];
    assert_eq!(
        check_resigned(&c, &params, x),
        Err(EntryError::PayloadTooLarge {
            len: 61441,
            max: 61440
        })
    );
    let mut x = e.clone();
    x.attachments = vec![attachment(b"big", "big.bin")];
    x.attachments[0].size = (1 << 30) + 1;
    assert_eq!(
        check_resigned(&c, &params, x),
        Err(EntryError::AttachmentTooLarge {
            index: 0,
            size: (1 << 30) + 1,
            max: 1 << 30
        })
    );
}

#[test]
fn verify_signature_checks_key_type_and_id() {
    let (c, _) = channel();
    let (e, bytes) = response(&c);
    assert_eq!(
        entry::verify_signature(&bytes, &e, &c.bravo.cosignature_vkey()),
        Err(EntryError::WrongKeyType {
            key_id: c.bravo.key_id_as(&c.bravo.name, 4)
        })
    );
    assert_eq!(
        entry::verify_signature(&bytes, &e, &c.alpha.entry_vkey()),
        Err(EntryError::MissingSignature {
            key_id: c.alpha.key_id()
        })
    );
    // The same key material under another name has another key ID.
    let renamed = c
        .bravo
        .entry_vkey()
        .with_name("test.example/other")
        .unwrap();
    assert!(matches!(
        entry::verify_signature(&bytes, &e, &renamed),
        Err(EntryError::MissingSignature { .. })
    ));
    // Bytes that are not the entry's.
    assert_eq!(
        entry::verify_signature(&bytes[1..], &e, &c.bravo.entry_vkey()),
        Err(EntryError::EntryBytesMismatch)
    );
}

#[test]
fn the_genesis_is_checked() {
    let (c, params) = channel();
    let g = &c.genesis;
    let (entry0, decoded) = genesis::check_genesis(&c.leaves[0]).unwrap();
    assert_eq!(&decoded, g);
    assert_eq!(entry0.kind, Kind::Genesis);
    assert_eq!(
        entry::check_entry(&c.leaves[0], 0, &params).unwrap(),
        entry0
    );
    assert_eq!(
        genesis::decode_record(&encode_genesis_record(g)).unwrap(),
        *g
    );

    let genesis_error = |bytes: &[u8]| match genesis::check_genesis(bytes) {
        Err(EntryError::Genesis(e)) => e,
        other => panic!("expected a genesis error, got {other:?}"),
    };
    let resign = |mut e: Entry| sign_and_encode(&mut e, &[&c.alpha, &c.bravo]);
    let base = genesis_draft(g, &c.alpha, T0_MS);

    // Signatures: order, validity, count.
    let mut x = base.clone();
    let swapped = sign_and_encode(&mut x, &[&c.bravo, &c.alpha]);
    assert!(matches!(
        genesis::check_genesis(&swapped),
        Err(EntryError::SignatureKeyMismatch { position: 0, .. })
    ));
    let mut bad = c.leaves[0].clone();
    *bad.last_mut().unwrap() ^= 1;
    assert_eq!(
        genesis::check_genesis(&bad),
        Err(EntryError::BadSignature {
            key_id: c.bravo.key_id()
        })
    );
    let mut x = base.clone();
    let one = sign_and_encode(&mut x, &[&c.alpha]);
    assert!(matches!(
        genesis::check_genesis(&one),
        Err(EntryError::WrongSignatureCount {
            expected: 2,
            found: 1,
            ..
        })
    ));

    // Entry fields of section 4.
    let mut x = base.clone();
    x.content_type = "text/plain".into();
    assert!(matches!(
        genesis_error(&resign(x)),
        GenesisError::WrongContentType(_)
    ));
    let mut x = base.clone();
    x.sequence = 1;
    assert_eq!(genesis_error(&resign(x)), GenesisError::NonZeroSequence(1));
    let mut x = base.clone();
    x.reply_to = Some(1);
    assert_eq!(genesis_error(&resign(x)), GenesisError::HasReplyTo(1));
    let mut x = base.clone();
    x.attachments = vec![attachment(b"a", "a")];
    assert_eq!(genesis_error(&resign(x)), GenesisError::HasAttachments(1));
    let mut x = base.clone();
    x.sender = c.bravo.key_id();
    assert!(matches!(
        genesis_error(&resign(x)),
        GenesisError::SenderNotSequencer { .. }
    ));
    let mut x = base.clone();
    x.origin = "test.example/dyad/elsewhere".into();
    assert!(matches!(
        genesis_error(&resign(x)),
        GenesisError::OriginMismatch { .. }
    ));

    // Record rules.
    let with_record = |record: Vec<u8>| {
        let mut x = base.clone();
        x.payload = record;
        genesis_error(&resign(x))
    };
    let with_genesis = |f: &dyn Fn(&mut dyad_verifier::genesis::Genesis)| {
        let mut g = g.clone();
        f(&mut g);
        with_record(encode_genesis_record(&g))
    };
    let record = encode_genesis_record(g);
    assert!(
        matches!(with_record([record.as_slice(), &[0]].concat()), GenesisError::Record(e) if matches!(*e, EntryError::TrailingBytes { .. }))
    );
    assert!(
        matches!(with_record(record[..record.len() - 1].to_vec()), GenesisError::Record(e) if matches!(*e, EntryError::Truncated { .. }))
    );
    let mut v = record.clone();
    v[0] = 2;
    assert_eq!(with_record(v), GenesisError::UnknownVersion(2));
    let w = TestKey::new("w.example");
    assert_eq!(
        with_genesis(&|g| g.witness_threshold = 1),
        GenesisError::ThresholdTooHigh {
            threshold: 1,
            witnesses: 0
        }
    );
    assert_eq!(
        with_genesis(&|g| g.max_payload = 61441),
        GenesisError::MaxPayloadTooLarge(61441)
    );
    // The origin names the log key, and must not look like another signed text.
    let with_origin = |origin: &str| {
        let mut g = g.clone();
        g.origin = origin.into();
        let mut x = genesis_draft(&g, &c.alpha, T0_MS);
        x.origin = origin.into();
        genesis_error(&resign(x))
    };
    assert!(matches!(
        with_origin("dyad-entry/v1"),
        GenesisError::ReservedOrigin(_)
    ));
    assert!(matches!(
        with_origin("cosignature/v1"),
        GenesisError::ReservedOrigin(_)
    ));
    assert!(matches!(
        with_origin("has space"),
        GenesisError::InvalidOrigin(_)
    ));
    assert!(matches!(with_origin("a+b"), GenesisError::InvalidOrigin(_)));
    assert_eq!(
        with_genesis(&|g| g.max_clock_skew_s = 0),
        GenesisError::ClockSkewOutOfRange(0)
    );
    assert_eq!(
        with_genesis(&|g| g.max_clock_skew_s = 86401),
        GenesisError::ClockSkewOutOfRange(86401)
    );
    assert_eq!(
        with_genesis(&|g| g.cosigner.name = g.sequencer.name.clone()),
        GenesisError::Duplicate {
            role: PartyRole::Cosigner,
            other: PartyRole::Sequencer,
            identifier: Identifier::Name
        }
    );
    assert_eq!(
        with_genesis(&|g| g.cosigner.public_key = g.sequencer.public_key),
        GenesisError::Duplicate {
            role: PartyRole::Cosigner,
            other: PartyRole::Sequencer,
            identifier: Identifier::PublicKey
        }
    );
    assert_eq!(
        with_genesis(&|g| g.witnesses = vec![w.party(), w.party()]),
        GenesisError::Duplicate {
            role: PartyRole::Witness(1),
            other: PartyRole::Witness(0),
            identifier: Identifier::Name
        }
    );
    assert!(matches!(
        with_genesis(&|g| g.witnesses = vec![TestKey::new("x").party(); 33]),
        GenesisError::TooManyWitnesses { count: 33 }
    ));
    assert!(matches!(
        with_genesis(&|g| g.cosigner.name = "bad name".into()),
        GenesisError::InvalidParty {
            role: PartyRole::Cosigner,
            ..
        }
    ));
    assert!(matches!(
        with_genesis(&|g| g.witnesses = vec![dyad_verifier::genesis::Party {
            name: "w".into(),
            public_key: [0; 32]
        }]),
        GenesisError::InvalidParty {
            role: PartyRole::Witness(0),
            ..
        }
    ));
}

#[test]
fn the_channel_policy_follows_section_9() {
    let c = Channel::new(3, 2);
    let policy = c.genesis.policy().unwrap();
    let text = policy.to_string();
    let expected = format!(
        "log {}\nwitness sequencer {}\nwitness cosigner {}\nwitness w1 {}\nwitness w2 {}\nwitness w3 {}\ngroup witnesses 2 w1 w2 w3\ngroup committed all cosigner witnesses\nquorum committed\n",
        c.alpha.log_vkey(ORIGIN),
        c.alpha.cosignature_vkey(),
        c.bravo.cosignature_vkey(),
        c.witnesses[0].cosignature_vkey(),
        c.witnesses[1].cosignature_vkey(),
        c.witnesses[2].cosignature_vkey(),
    );
    assert_eq!(text, expected);
    assert_eq!(dyad_verifier::policy::parse(&text).unwrap(), policy);

    let c0 = Channel::new(0, 0);
    let text = c0.genesis.policy().unwrap().to_string();
    let tail = format!(
        "witness cosigner {}\nquorum cosigner\n",
        c0.bravo.cosignature_vkey()
    );
    assert!(text.ends_with(&tail), "{text}");

    // The policy and the section-7 check agree on a few notes.
    let params = ChannelParams::new(c.genesis.clone()).unwrap();
    let root = c.root(1);
    let text_of = |cos: &[(&TestKey, u64)]| note(ORIGIN, 1, &root, Some(&c.alpha), cos);
    let w = &c.witnesses;
    for (cosigners, ok) in [
        (vec![(&c.bravo, 5), (&w[0], 5), (&w[2], 6)], true),
        (vec![(&c.bravo, 5), (&w[0], 5)], false),
        (vec![(&w[0], 5), (&w[1], 5), (&w[2], 6)], false),
    ] {
        let n = text_of(&cosigners);
        assert_eq!(policy.verify_checkpoint(&n).is_ok(), ok);
        assert_eq!(params.verify_checkpoint(&n).is_ok(), ok);
    }
}

#[test]
fn party_keys_have_the_right_names_and_types() {
    let c = Channel::new(0, 0);
    let g = &c.genesis;
    assert_eq!(g.sequencer.entry_key().unwrap(), c.alpha.entry_vkey());
    assert_eq!(
        g.cosigner.cosignature_key().unwrap(),
        c.bravo.cosignature_vkey()
    );
    assert_eq!(
        g.cosigner.cosignature_key().unwrap().signature_type(),
        SignatureType::CosignatureV1
    );
    assert_eq!(g.log_key().unwrap(), c.alpha.log_vkey(ORIGIN));
    assert_eq!(g.sequencer.key_id(), c.alpha.key_id());
    assert!(g.names_parties(&c.bravo.entry_vkey(), &c.alpha.entry_vkey()));
    assert!(!g.names_parties(&c.bravo.entry_vkey(), &c.bravo.entry_vkey()));
}

fn arb_entry() -> impl Strategy<Value = Entry> {
    let attachment = (
        any::<[u8; 32]>(),
        any::<u64>(),
        "[a-z][a-z.]{0,19}",
        "[ -~]{1,40}",
    )
        .prop_map(
            |(sha256, size, name, content_type)| dyad_verifier::entry::Attachment {
                sha256,
                size,
                name,
                content_type,
            },
        );
    (
        (
            0u8..5,
            "[a-z./]{1,60}",
            any::<u32>(),
            any::<u64>(),
            any::<u64>(),
            any::<Option<u64>>(),
        ),
        (
            "[^\\x00-\\x1f\\x7f-\\x9f\\u{61c}\\u{200e}\\u{200f}\\u{202a}-\\u{202e}\\u{2066}-\\u{2069}]{0,40}",
            "[ -~]{1,60}",
            proptest::collection::vec(any::<u8>(), 0..300),
        ),
        proptest::collection::vec(attachment, 0..5),
        proptest::collection::vec((any::<u32>(), any::<[u8; 32]>()), 2),
    )
        .prop_map(
            |(
                (kind, origin, sender, sequence, timestamp_ms, reply_to),
                (subject, content_type, payload),
                mut attachments,
                sigs,
            )| {
                attachments.sort_by_key(|a| a.sha256);
                attachments.dedup_by(|a, b| a.sha256 == b.sha256);
                let kind = Kind::from_u8(kind).unwrap();
                let signatures = sigs
                    .into_iter()
                    .take(kind.signature_count())
                    .map(|(key_id, half)| {
                        let mut signature = [0u8; 64];
                        signature[..32].copy_from_slice(&half);
                        signature[32..].copy_from_slice(&half);
                        dyad_verifier::entry::EntrySignature { key_id, signature }
                    })
                    .collect();
                Entry {
                    version: 1,
                    origin,
                    kind,
                    sender,
                    sequence,
                    timestamp_ms,
                    reply_to,
                    subject,
                    content_type,
                    payload,
                    attachments,
                    signatures,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn decode_never_panics_and_accepts_only_canonical_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(e) = entry::decode(&bytes) {
            prop_assert_eq!(encode(&e), bytes);
        }
    }

    #[test]
    fn encode_then_decode_is_the_identity(e in arb_entry()) {
        let bytes = encode(&e);
        prop_assert_eq!(entry::decode(&bytes).unwrap(), e.clone());
        prop_assert_eq!(e.encoded_len(), bytes.len());
    }

    #[test]
    fn mutated_entries_never_panic_and_round_trip_when_accepted(
        e in arb_entry(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
        junk in any::<u16>(),
    ) {
        let mut bytes = encode(&e);
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        if let Ok(d) = entry::decode(&bytes) {
            prop_assert_eq!(encode(&d), bytes.clone());
        }
        let cut = cut.index(bytes.len() + 1);
        if let Ok(d) = entry::decode(&bytes[..cut]) {
            prop_assert_eq!(encode(&d), bytes[..cut].to_vec());
        }
        // A length field set to something large must fail cleanly, never allocate it.
        let mut big = encode(&e);
        let at = 1 + 8 + e.origin.len() + 1 + 4 + 8 + 8 + if e.reply_to.is_some() { 9 } else { 1 };
        big[at..at + 8].copy_from_slice(&(u64::from(junk) << 40).to_be_bytes());
        prop_assert!(entry::decode(&big).is_err() || junk == 0);
    }

    #[test]
    fn genesis_record_decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = genesis::decode_record(&bytes);
    }
}
