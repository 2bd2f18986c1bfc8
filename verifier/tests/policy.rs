//! tlog-policy: parsing, the builder, and checkpoint verification against
//! synthetic cosigned checkpoints, using the structure of the C2SP example
//! (2-of-3 X witnesses, any of the Y witnesses, both groups required).

mod common;

use common::*;
use dyad_verifier::key::{SignatureType, VerifierKey};
use dyad_verifier::note::NoteError;
use dyad_verifier::policy::{
    self, Policy, PolicyError, Threshold, MAX_GROUPS, MAX_LOGS, MAX_WITNESSES,
};
use proptest::prelude::*;

const ORIGIN: &str = "example.org/dyad/policy-test";
const WITNESSES: [&str; 6] = ["X1", "X2", "X3", "Y1", "Y2", "Y3"];

fn log_key() -> VerifierKey {
    VerifierKey::new(
        ORIGIN,
        SignatureType::Ed25519,
        seeded_key(1).verifying_key().to_bytes(),
    )
    .unwrap()
}

fn witness_seed(name: &str) -> u8 {
    10 + WITNESSES
        .iter()
        .position(|w| *w == name)
        .expect("known witness") as u8
}

fn witness_key_name(name: &str) -> String {
    format!("{}.witness.example", name.to_ascii_lowercase())
}

fn witness_key(name: &str) -> VerifierKey {
    let public_key = seeded_key(witness_seed(name)).verifying_key().to_bytes();
    VerifierKey::new(
        &witness_key_name(name),
        SignatureType::CosignatureV1,
        public_key,
    )
    .unwrap()
}

fn example_policy_text() -> String {
    let mut text = format!("# the C2SP example, with real keys\nlog {}\n\n", log_key());
    for name in &WITNESSES[..3] {
        text += &format!("witness {name} {}\n", witness_key(name));
    }
    text += "group X-witnesses 2 X1 X2 X3\n\n";
    for name in &WITNESSES[3..] {
        text += &format!("  witness\t{name}  {}  \n", witness_key(name));
    }
    text += "group Y-witnesses any Y1 Y2 Y3\n\ngroup X-and-Y all X-witnesses Y-witnesses\nquorum X-and-Y\n";
    text
}

fn example_policy() -> Policy {
    policy::parse(&example_policy_text()).expect("example policy parses")
}

const TIME: u64 = 1_700_000_000;

/// A checkpoint of size 10 signed by the log and cosigned by `cosigners`.
fn cosigned(cosigners: &[&str]) -> (String, Vec<u8>) {
    let text = checkpoint_text(ORIGIN, 10);
    let mut lines = vec![ed25519_line(ORIGIN, &seeded_key(1), &text)];
    for (i, name) in cosigners.iter().enumerate() {
        let key = seeded_key(witness_seed(name));
        lines.push(cosignature_line(
            &witness_key_name(name),
            &key,
            &text,
            TIME + i as u64,
        ));
    }
    let note = note_of(&text, &lines);
    (text, note)
}

#[test]
fn example_policy_parses_to_what_the_builder_builds() {
    let mut built = Policy::new();
    built.add_log(log_key()).unwrap();
    for name in &WITNESSES[..3] {
        built.add_witness(name, witness_key(name)).unwrap();
    }
    built
        .add_group("X-witnesses", Threshold::AtLeast(2), &["X1", "X2", "X3"])
        .unwrap();
    for name in &WITNESSES[3..] {
        built.add_witness(name, witness_key(name)).unwrap();
    }
    built
        .add_group("Y-witnesses", Threshold::Any, &["Y1", "Y2", "Y3"])
        .unwrap()
        .add_group("X-and-Y", Threshold::All, &["X-witnesses", "Y-witnesses"])
        .unwrap()
        .set_quorum("X-and-Y")
        .unwrap();
    let parsed = example_policy();
    assert_eq!(parsed, built);
    assert_eq!(parsed.logs().len(), 1);
    assert_eq!(parsed.witnesses().len(), 6);
    assert_eq!(parsed.quorum_name(), Some("X-and-Y"));
    assert_eq!(policy::parse(&parsed.to_string()), Ok(parsed.clone()));
    assert!(parsed
        .to_string()
        .contains("group X-witnesses 2 X1 X2 X3\n"));
}

#[test]
fn two_x_and_one_y_meet_the_quorum() {
    let policy = example_policy();
    for cosigners in [&["X1", "X2", "Y3"][..], &["Y1", "X3", "X2"], &WITNESSES] {
        let (text, note) = cosigned(cosigners);
        let verified = policy
            .verify_checkpoint(&note)
            .unwrap_or_else(|e| panic!("{cosigners:?}: {e}"));
        assert_eq!(verified.text, text);
        assert_eq!(verified.log, log_key());
        assert_eq!(verified.checkpoint.origin, ORIGIN);
        assert_eq!(verified.checkpoint.size, 10);
        let expected: Vec<(String, u64)> = cosigners
            .iter()
            .enumerate()
            .map(|(i, n)| (n.to_string(), TIME + i as u64))
            .collect();
        assert_eq!(verified.cosigners, expected);
    }
}

#[test]
fn too_few_cosigners_do_not_meet_the_quorum() {
    let policy = example_policy();
    let not_met = |e: &Result<_, PolicyError>| matches!(e, Err(PolicyError::QuorumNotMet { quorum, .. }) if quorum == "X-and-Y");
    for cosigners in [
        &[][..],
        &["X1", "Y1"],
        &["X1", "X2", "X3"],
        &["Y1", "Y2", "Y3", "X2"],
    ] {
        let (_, note) = cosigned(cosigners);
        let result = policy.verify_checkpoint(&note);
        assert!(not_met(&result), "{cosigners:?}: {result:?}");
    }
}

#[test]
fn quorum_of_a_single_witness_and_of_none() {
    let base = format!("log {}\nwitness X1 {}\n", log_key(), witness_key("X1"));
    let single = policy::parse(&format!("{base}quorum X1\n")).unwrap();
    assert!(single.verify_checkpoint(&cosigned(&["X1"]).1).is_ok());
    assert_eq!(
        single.verify_checkpoint(&cosigned(&[]).1),
        Err(PolicyError::QuorumNotMet {
            quorum: "X1".into(),
            missing: "no cosignature from X1".into(),
        })
    );
    let none = policy::parse(&format!("{base}quorum none\n")).unwrap();
    assert_eq!(
        none.verify_checkpoint(&cosigned(&[]).1).unwrap().cosigners,
        vec![]
    );
}

#[test]
fn checkpoint_without_a_log_signature_is_rejected() {
    let policy = example_policy();
    let text = checkpoint_text(ORIGIN, 10);
    let lines: Vec<String> = ["X1", "X2", "Y1"]
        .iter()
        .map(|n| {
            cosignature_line(
                &witness_key_name(n),
                &seeded_key(witness_seed(n)),
                &text,
                TIME,
            )
        })
        .collect();
    assert_eq!(
        policy.verify_checkpoint(&note_of(&text, &lines)),
        Err(PolicyError::NoLogSignature)
    );
    // Signed only by a key the policy does not know.
    let stranger = note_of(&text, &[ed25519_line(ORIGIN, &seeded_key(99), &text)]);
    assert_eq!(
        policy.verify_checkpoint(&stranger),
        Err(PolicyError::NoLogSignature)
    );
}

#[test]
fn log_key_must_be_named_after_the_origin() {
    let other_origin = "example.org/dyad/another-channel";
    let text = checkpoint_text(other_origin, 10);
    let mut lines = vec![ed25519_line(ORIGIN, &seeded_key(1), &text)];
    for n in ["X1", "X2", "Y1"] {
        lines.push(cosignature_line(
            &witness_key_name(n),
            &seeded_key(witness_seed(n)),
            &text,
            TIME,
        ));
    }
    assert_eq!(
        example_policy().verify_checkpoint(&note_of(&text, &lines)),
        Err(PolicyError::OriginMismatch {
            origin: other_origin.into()
        })
    );
}

#[test]
fn failing_cosignature_rejects_the_checkpoint() {
    let text = checkpoint_text(ORIGIN, 10);
    let other = checkpoint_text(ORIGIN, 11);
    let mut lines = vec![ed25519_line(ORIGIN, &seeded_key(1), &text)];
    for n in ["X1", "X2", "Y1"] {
        lines.push(cosignature_line(
            &witness_key_name(n),
            &seeded_key(witness_seed(n)),
            &text,
            TIME,
        ));
    }
    lines.push(cosignature_line(
        &witness_key_name("Y2"),
        &seeded_key(witness_seed("Y2")),
        &other,
        TIME,
    ));
    let result = example_policy().verify_checkpoint(&note_of(&text, &lines));
    assert!(
        matches!(&result, Err(PolicyError::Note(NoteError::InvalidSignature { name, .. })) if *name == witness_key_name("Y2")),
        "{result:?}"
    );
}

#[test]
fn unknown_cosigners_are_ignored() {
    let (text, _) = cosigned(&[]);
    let mut lines = vec![ed25519_line(ORIGIN, &seeded_key(1), &text)];
    for n in ["X1", "X2", "Y1"] {
        lines.push(cosignature_line(
            &witness_key_name(n),
            &seeded_key(witness_seed(n)),
            &text,
            TIME,
        ));
    }
    lines.push(cosignature_line(
        "stranger.example",
        &seeded_key(77),
        &text,
        TIME,
    ));
    let verified = example_policy()
        .verify_checkpoint(&note_of(&text, &lines))
        .unwrap();
    assert_eq!(verified.cosigners.len(), 3);
}

#[test]
fn malformed_checkpoint_body_is_rejected_after_the_signature() {
    let text = format!("{ORIGIN}\n10\nnot-a-root\n");
    let note = note_of(&text, &[ed25519_line(ORIGIN, &seeded_key(1), &text)]);
    let policy = policy::parse(&format!("log {}\nquorum none\n", log_key())).unwrap();
    assert!(matches!(
        policy.verify_checkpoint(&note),
        Err(PolicyError::Checkpoint(_))
    ));
}

#[test]
fn the_log_does_not_witness_itself() {
    let log_as_witness = log_key().with_signature_type(SignatureType::CosignatureV1);
    let policy = policy::parse(&format!(
        "log {}\nwitness self {log_as_witness}\nquorum self\n",
        log_key()
    ))
    .unwrap();
    let text = checkpoint_text(ORIGIN, 10);
    let lines = [
        ed25519_line(ORIGIN, &seeded_key(1), &text),
        cosignature_line(ORIGIN, &seeded_key(1), &text, TIME),
    ];
    assert_eq!(
        policy.verify_checkpoint(&note_of(&text, &lines)),
        Err(PolicyError::QuorumNotMet {
            quorum: "self".into(),
            missing: "no cosignature from self".into(),
        })
    );
}

#[test]
fn ed25519_typed_witness_counts_with_timestamp_zero() {
    let plain = witness_key("X1").with_signature_type(SignatureType::Ed25519);
    let policy = policy::parse(&format!(
        "log {}\nwitness X1 {plain}\nquorum X1\n",
        log_key()
    ))
    .unwrap();
    let text = checkpoint_text(ORIGIN, 10);
    let lines = [
        ed25519_line(ORIGIN, &seeded_key(1), &text),
        ed25519_line(
            &witness_key_name("X1"),
            &seeded_key(witness_seed("X1")),
            &text,
        ),
    ];
    let verified = policy.verify_checkpoint(&note_of(&text, &lines)).unwrap();
    assert_eq!(verified.cosigners, vec![("X1".to_string(), 0)]);
}

/// Policy texts with one line changed, and the error each must give.
#[test]
fn malformed_policies_are_rejected_with_named_errors() {
    let log = log_key();
    let x1 = witness_key("X1");
    let x2 = witness_key("X2");
    let head = format!("log {log}\nwitness X1 {x1}\nwitness X2 {x2}\n");
    let cases: Vec<(String, PolicyError)> = vec![
        (
            format!("{head}group g any X1 X3\nquorum g\n"),
            PolicyError::UndefinedName {
                line: 4,
                name: "X3".into(),
            },
        ),
        (
            format!("{head}quorum g\ngroup g any X1\n"),
            PolicyError::UndefinedName {
                line: 4,
                name: "g".into(),
            },
        ),
        (
            format!("{head}witness X1 {}\nquorum X1\n", witness_key("X3")),
            PolicyError::DuplicateName {
                line: 4,
                name: "X1".into(),
            },
        ),
        (
            format!("{head}group X2 any X1\nquorum X2\n"),
            PolicyError::DuplicateName {
                line: 4,
                name: "X2".into(),
            },
        ),
        (
            format!(
                "{head}witness X3 {}\nquorum X3\n",
                x1.with_name("other.example").unwrap()
            ),
            PolicyError::DuplicateWitness { line: 4 },
        ),
        (
            format!(
                "{head}log {}\nquorum X1\n",
                log.with_name("other.example").unwrap()
            ),
            PolicyError::DuplicateLog { line: 4 },
        ),
        (
            format!("{head}log {x1}\nquorum X1\n"),
            PolicyError::LogKeyNotEd25519 { line: 4 },
        ),
        (
            format!("{head}group g any X1 none\nquorum g\n"),
            PolicyError::NoneAsMember { line: 4 },
        ),
        (
            format!("{head}witness none {}\nquorum X1\n", witness_key("X3")),
            PolicyError::ReservedName { line: 4 },
        ),
        (
            format!("{head}group g any X1 X1\nquorum g\n"),
            PolicyError::MemberUsedTwice {
                line: 4,
                name: "X1".into(),
            },
        ),
        (
            format!("{head}group g any X1\ngroup h any X1 X2\nquorum h\n"),
            PolicyError::MemberUsedTwice {
                line: 5,
                name: "X1".into(),
            },
        ),
        (
            format!("{head}group g 0 X1 X2\nquorum g\n"),
            PolicyError::ThresholdOutOfRange {
                line: 4,
                threshold: 0,
                members: 2,
            },
        ),
        (
            format!("{head}group g 3 X1 X2\nquorum g\n"),
            PolicyError::ThresholdOutOfRange {
                line: 4,
                threshold: 3,
                members: 2,
            },
        ),
        (
            format!("{head}group g two X1 X2\nquorum g\n"),
            PolicyError::InvalidThreshold {
                line: 4,
                threshold: "two".into(),
            },
        ),
        (
            format!("{head}group g -1 X1 X2\nquorum g\n"),
            PolicyError::InvalidThreshold {
                line: 4,
                threshold: "-1".into(),
            },
        ),
        (
            format!("{head}group g any\nquorum X1\n"),
            PolicyError::EmptyGroup {
                line: 4,
                name: "g".into(),
            },
        ),
        (
            format!("{head}group g\nquorum X1\n"),
            PolicyError::WrongFieldCount {
                line: 4,
                keyword: "group",
            },
        ),
        (head.clone(), PolicyError::MissingQuorum),
        (
            format!("{head}quorum X1\nquorum X2\n"),
            PolicyError::DuplicateQuorum { line: 5 },
        ),
        (
            format!("{head}quorum X1 X2\n"),
            PolicyError::WrongFieldCount {
                line: 4,
                keyword: "quorum",
            },
        ),
        (
            format!("{head}log\nquorum X1\n"),
            PolicyError::WrongFieldCount {
                line: 4,
                keyword: "log",
            },
        ),
        (
            format!("{head}log {log} https://a https://b\nquorum X1\n"),
            PolicyError::WrongFieldCount {
                line: 4,
                keyword: "log",
            },
        ),
        (
            format!("{head}witness X3\nquorum X1\n"),
            PolicyError::WrongFieldCount {
                line: 4,
                keyword: "witness",
            },
        ),
        (
            format!("{head}cosigner X3 {x1}\nquorum X1\n"),
            PolicyError::UnknownKeyword {
                line: 4,
                keyword: "cosigner".into(),
            },
        ),
        (
            format!("{head}quorum X1\r\n"),
            PolicyError::ForbiddenCharacter {
                line: 4,
                byte: b'\r',
            },
        ),
        (
            format!("{head}quorum X1\n# bell \u{7}\n"),
            PolicyError::ForbiddenCharacter { line: 5, byte: 7 },
        ),
        (
            "log not-a-key\nquorum none\n".to_string(),
            PolicyError::InvalidKey {
                line: 1,
                reason: dyad_verifier::KeyError::MissingField,
            },
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(policy::parse(&text), Err(expected), "policy:\n{text}");
    }
}

#[test]
fn whitespace_comments_and_urls_are_handled() {
    let text = format!(
        "  # leading comment\n\t\nlog\t{}  https://log.example/\n   witness   X1 {} https://w.example/x1   \n#quorum none\nquorum X1",
        log_key(),
        witness_key("X1")
    );
    let parsed = policy::parse(&text).unwrap();
    assert_eq!(
        parsed.logs()[0].url.as_deref(),
        Some("https://log.example/")
    );
    assert_eq!(
        parsed.witnesses()[0].url.as_deref(),
        Some("https://w.example/x1")
    );
    assert_eq!(parsed.quorum_name(), Some("X1"));
    assert_eq!(policy::parse(&parsed.to_string()), Ok(parsed));
}

#[test]
fn limits_are_enforced() {
    let keys: Vec<VerifierKey> = (0..=40u8)
        .map(|i| {
            VerifierKey::new(
                &format!("k{i}.example"),
                SignatureType::Ed25519,
                seeded_key(100 + i).verifying_key().to_bytes(),
            )
            .unwrap()
        })
        .collect();

    let logs: String = keys[..=MAX_LOGS]
        .iter()
        .map(|k| format!("log {k}\n"))
        .collect();
    assert_eq!(
        policy::parse(&format!("{logs}quorum none\n")),
        Err(PolicyError::TooManyLogs { line: MAX_LOGS + 1 })
    );
    let fits: String = keys[..MAX_LOGS]
        .iter()
        .map(|k| format!("log {k}\n"))
        .collect();
    assert!(policy::parse(&format!("{fits}quorum none\n")).is_ok());

    let witnesses: String = keys[..=MAX_WITNESSES]
        .iter()
        .enumerate()
        .map(|(i, k)| format!("witness w{i} {k}\n"))
        .collect();
    assert_eq!(
        policy::parse(&format!("{witnesses}quorum none\n")),
        Err(PolicyError::TooManyWitnesses {
            line: MAX_WITNESSES + 1
        })
    );

    let mut groups = format!("witness w {}\ngroup g0 any w\n", keys[0]);
    for i in 1..=MAX_GROUPS {
        groups += &format!("group g{i} any g{}\n", i - 1);
    }
    assert_eq!(
        policy::parse(&format!("{groups}quorum none\n")),
        Err(PolicyError::TooManyGroups {
            line: MAX_GROUPS + 2
        })
    );
}

#[test]
fn builder_rejects_what_the_parser_rejects() {
    let mut policy = Policy::new();
    policy.add_witness("X1", witness_key("X1")).unwrap();
    assert_eq!(
        policy
            .add_witness("bad name", witness_key("X2"))
            .unwrap_err(),
        PolicyError::InvalidName {
            line: policy::BUILDER_LINE,
            name: "bad name".into()
        }
    );
    assert_eq!(
        policy.add_group("g", Threshold::Any, &["X9"]).unwrap_err(),
        PolicyError::UndefinedName {
            line: 0,
            name: "X9".into()
        }
    );
    assert_eq!(
        policy
            .add_group("g", Threshold::All, &[] as &[&str])
            .unwrap_err(),
        PolicyError::EmptyGroup {
            line: 0,
            name: "g".into()
        }
    );
    assert_eq!(
        policy.add_log(witness_key("X2")).unwrap_err(),
        PolicyError::LogKeyNotEd25519 { line: 0 }
    );
    assert_eq!(
        policy.verify_checkpoint(&cosigned(&["X1"]).1),
        Err(PolicyError::MissingQuorum)
    );
    policy.set_quorum("X1").unwrap();
    assert_eq!(
        policy.set_quorum("none").unwrap_err(),
        PolicyError::DuplicateQuorum { line: 0 }
    );
    // No log yet: the witness's cosignature verifies, but nothing signed as the log.
    assert_eq!(
        policy.verify_checkpoint(&cosigned(&["X1"]).1),
        Err(PolicyError::NoLogSignature)
    );
}

/// Witnesses (indexes into WITNESSES), groups (threshold seed, member indexes into
/// witnesses then earlier groups) and the quorum (same indexing).
type PolicyShape = (Vec<usize>, Vec<(u8, Vec<usize>)>, usize);

/// A random well-formed policy over the example's witnesses: which witnesses,
/// which groups over still-unused names, and which quorum.
fn random_policy() -> impl Strategy<Value = PolicyShape> {
    (
        proptest::sample::subsequence((0..6).collect::<Vec<_>>(), 1..=6),
        proptest::collection::vec(
            (
                any::<u8>(),
                proptest::collection::vec(any::<prop::sample::Index>(), 1..4),
            ),
            0..4,
        ),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(witnesses, raw_groups, quorum)| {
            let mut unused: Vec<usize> = (0..witnesses.len()).collect();
            let mut groups = Vec::new();
            let mut defined = witnesses.len();
            for (threshold, picks) in raw_groups {
                let mut members = Vec::new();
                for pick in picks {
                    if unused.is_empty() {
                        break;
                    }
                    members.push(unused.remove(pick.index(unused.len())));
                }
                if members.is_empty() {
                    break;
                }
                groups.push((threshold, members));
                unused.push(defined);
                defined += 1;
            }
            (witnesses, groups, quorum.index(defined))
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Building, printing and parsing agree, and verification meets the quorum
    /// exactly when a direct evaluation of the group tree says it should.
    #[test]
    fn random_policies_round_trip_and_evaluate_correctly(
        (witnesses, groups, quorum) in random_policy(),
        cosigner_mask in 0u8..64,
    ) {
        let names: Vec<String> = witnesses
            .iter()
            .map(|&i| WITNESSES[i].to_string())
            .chain((0..groups.len()).map(|g| format!("g{g}")))
            .collect();
        let mut built = Policy::new();
        built.add_log(log_key()).unwrap();
        for &i in &witnesses {
            built.add_witness(WITNESSES[i], witness_key(WITNESSES[i])).unwrap();
        }
        let mut thresholds = Vec::new();
        for (g, (raw, members)) in groups.iter().enumerate() {
            let threshold = match raw % 3 {
                0 => Threshold::All,
                1 => Threshold::Any,
                _ => Threshold::AtLeast(1 + usize::from(*raw) % members.len()),
            };
            let member_names: Vec<&str> = members.iter().map(|&m| names[m].as_str()).collect();
            built.add_group(&format!("g{g}"), threshold, &member_names).unwrap();
            thresholds.push(threshold);
        }
        built.set_quorum(&names[quorum]).unwrap();
        prop_assert_eq!(policy::parse(&built.to_string()), Ok(built.clone()));

        let cosigners: Vec<&str> =
            witnesses.iter().filter(|&&i| cosigner_mask & (1 << i) != 0).map(|&i| WITNESSES[i]).collect();
        // Direct evaluation: witnesses first, then groups in order.
        let mut met: Vec<bool> = witnesses.iter().map(|&i| cosigner_mask & (1 << i) != 0).collect();
        for ((_, members), threshold) in groups.iter().zip(&thresholds) {
            let count = members.iter().filter(|&&m| met[m]).count();
            let needed = match threshold {
                Threshold::All => members.len(),
                Threshold::Any => 1,
                Threshold::AtLeast(k) => *k,
            };
            met.push(count >= needed);
        }
        let result = built.verify_checkpoint(&cosigned(&cosigners).1);
        prop_assert_eq!(result.is_ok(), met[quorum], "{:?}", result);
    }
}
