//! The bundle format's unit tests: round trips, and every way a bundle is refused.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::*;

fn sample() -> Vec<u8> {
    Bundle {
        origin: "example.org/dyad/test".into(),
        records: vec![
            Record::Genesis(vec![1, 2, 3]),
            Record::Entry {
                index: 1,
                bytes: vec![4],
            },
            Record::Entry {
                index: 2,
                bytes: vec![5],
            },
            Record::Checkpoint(b"note".to_vec()),
        ],
    }
    .encode()
}

fn malformed(bytes: &[u8]) -> Malformed {
    match Bundle::parse(bytes) {
        Err(SyncError::Malformed { reason, .. }) => reason,
        other => panic!("expected Malformed, got {other:?}"),
    }
}

/// A bundle of `body` (the lines after the magic) with a correct end line.
fn with_end(body: &str, count: u64) -> Vec<u8> {
    let head = format!("{MAGIC}\n{body}");
    let digest = STANDARD.encode(Sha256::digest(head.as_bytes()));
    format!("{head}end {count} {digest}\n").into_bytes()
}

#[test]
fn round_trips() {
    let bytes = sample();
    let b = Bundle::parse(&bytes).unwrap();
    assert_eq!(b.records.len(), 4);
    assert_eq!(b.origin, "example.org/dyad/test");
    assert_eq!(b.encode(), bytes);
    let empty = with_end("origin o\n", 0);
    assert_eq!(Bundle::parse(&empty).unwrap().encode(), empty);
}

#[test]
fn detects_truncation_alteration_and_trailing_data() {
    let b = sample();
    for cut in [b.len() - 1, b.len() - 10, 20] {
        assert!(
            matches!(Bundle::parse(&b[..cut]), Err(SyncError::Truncated { .. })),
            "cut at {cut}"
        );
    }
    let altered = String::from_utf8(b.clone())
        .unwrap()
        .replace("entry 2 BQ==", "entry 2 Bg==");
    assert!(matches!(
        Bundle::parse(altered.as_bytes()),
        Err(SyncError::ChecksumMismatch)
    ));
    let mut trailing = b.clone();
    trailing.push(b'x');
    assert!(matches!(
        Bundle::parse(&trailing),
        Err(SyncError::TrailingData)
    ));
    let miscounted = with_end("origin o\ngenesis AQ==\n", 2);
    assert!(matches!(
        Bundle::parse(&miscounted),
        Err(SyncError::CountMismatch {
            stated: 2,
            found: 1
        })
    ));
    assert!(matches!(
        Bundle::parse(b"hello\n"),
        Err(SyncError::NotABundle)
    ));
    assert!(matches!(Bundle::parse(b""), Err(SyncError::NotABundle)));
    assert!(matches!(
        Bundle::parse(b"dyad-sync/v1"),
        Err(SyncError::NotABundle)
    ));
}

#[test]
fn refuses_disorder_gaps_and_repeats() {
    let gap = String::from_utf8(sample())
        .unwrap()
        .replace("entry 2 ", "entry 3 ");
    assert_eq!(
        malformed(gap.as_bytes()),
        Malformed::NotConsecutive {
            index: 3,
            previous: 1
        }
    );
    assert_eq!(
        malformed(&with_end("origin o\ncheckpoint AQ==\nentry 1 BA==\n", 2)),
        Malformed::OutOfOrder("entry")
    );
    assert_eq!(
        malformed(&with_end("origin o\ngenesis AQ==\nproposal AQ==\n", 2)),
        Malformed::Repeated("proposal")
    );
    assert_eq!(
        malformed(&with_end("origin o\ncheckpoint AQ==\ncheckpoint AQ==\n", 2)),
        Malformed::Repeated("checkpoint")
    );
    // Submissions and co-signed checkpoints may repeat.
    let many = with_end(
        "origin o\nsubmission AQ==\nsubmission Ag==\ncosigned AQ==\ncosigned Ag==\n",
        4,
    );
    assert_eq!(Bundle::parse(&many).unwrap().records.len(), 4);
}

/// The entry after index 2^64 - 1 cannot exist; the reader used to compute it with
/// `index + 1` and overflowed (fuzz/regressions/sync_bundle/entry-at-u64-max).
#[test]
fn the_last_possible_index_is_followed_by_nothing() {
    let last = with_end("origin o\nentry 18446744073709551615 AQ==\n", 1);
    assert_eq!(Bundle::parse(&last).unwrap().encode(), last);
    let two = with_end(
        "origin o\nentry 18446744073709551615 AQ==\nentry 0 AQ==\n",
        2,
    );
    assert_eq!(
        malformed(&two),
        Malformed::NotConsecutive {
            index: 0,
            previous: u64::MAX
        }
    );
}

#[test]
fn refuses_non_canonical_lines() {
    for (body, want) in [
        ("origin \n", Malformed::BadOrigin),
        ("origin a b\n", Malformed::BadOrigin),
        ("origin a+b\n", Malformed::BadOrigin),
        ("orig o\n", Malformed::BadOrigin),
    ] {
        assert_eq!(malformed(&with_end(body, 0)), want, "{body:?}");
    }
    let long_origin = format!("origin {}\n", "o".repeat(MAX_ORIGIN_LEN + 1));
    assert_eq!(malformed(&with_end(&long_origin, 0)), Malformed::BadOrigin);
    for (record, want) in [
        ("entry 01 AQ==", Malformed::BadIndex),
        ("entry +1 AQ==", Malformed::BadIndex),
        ("entry 18446744073709551616 AQ==", Malformed::BadIndex),
        ("entry 1", Malformed::MissingIndex),
        ("entry 1 AQ", Malformed::BadData("entry")),
        ("entry 1 AR==", Malformed::BadData("entry")),
        ("genesis ", Malformed::BadData("genesis")),
        ("genesis", Malformed::MissingData),
        ("genesis  AQ==", Malformed::BadData("genesis")),
        ("tree AQ==", Malformed::UnknownRecord("tree".into())),
    ] {
        let bytes = with_end(&format!("origin o\n{record}\n"), 1);
        assert_eq!(malformed(&bytes), want, "{record:?}");
    }
    let bad_utf8 = [MAGIC.as_bytes(), b"\norigin o\ngenesis \xff\n"].concat();
    assert_eq!(malformed(&bad_utf8), Malformed::NotUtf8);
    for end in ["end 0", "end 00 x", "end 0 AQ=="] {
        let bytes = format!("{MAGIC}\norigin o\n{end}\n");
        assert!(
            matches!(
                malformed(bytes.as_bytes()),
                Malformed::BadEndLine | Malformed::BadEndCount | Malformed::BadEndChecksum
            ),
            "{end:?}"
        );
    }
}

#[test]
fn a_line_longer_than_the_limit_is_refused_without_reading_all_of_it() {
    let mut bytes = format!("{MAGIC}\norigin o\ngenesis ").into_bytes();
    bytes.resize(bytes.len() + MAX_LINE, b'A');
    bytes.extend_from_slice(b"\nend 1 x\n");
    assert_eq!(malformed(&bytes), Malformed::LineTooLong);
    // Exactly at the limit, the line is read: the bundle is then refused only for
    // ending without its end line.
    let mut at_limit = format!("{MAGIC}\norigin o\n").into_bytes();
    let start = at_limit.len();
    at_limit.extend_from_slice(b"genesis ");
    at_limit.resize(start + MAX_LINE, b'A');
    at_limit.extend_from_slice(b"\n");
    assert!(matches!(
        Bundle::parse(&at_limit),
        Err(SyncError::Truncated { line: 3 })
    ));
}

#[test]
fn the_streaming_decoder_reports_the_checksum() {
    let altered = String::from_utf8(sample())
        .unwrap()
        .replace("entry 2 BQ==", "entry 2 Bg==");
    let mut d = Decoder::new(altered.as_bytes()).unwrap();
    let mut n = 0;
    while d.next_record().unwrap().is_some() {
        n += 1;
    }
    assert_eq!((n, d.count(), d.checksum_ok()), (4, 4, Some(false)));
    assert!(d.next_record().unwrap().is_none());
}
