//! The bundle format's unit tests: round trips, and every way a bundle is refused.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::*;

fn sample() -> Vec<u8> {
    Bundle {
        version: Version::V2,
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
    assert_eq!(d.position(), altered.len() as u64, "every byte was read");
    assert!(d.next_record().unwrap().is_none());
}

/// A bundle with an attachment of `size` bytes written by the encoder from a reader.
fn with_attachment(content: &[u8]) -> (Vec<u8>, [u8; 32]) {
    let sha256: [u8; 32] = Sha256::digest(content).into();
    let mut w = Encoder::new(Vec::new(), "o").unwrap();
    w.record(&Record::Submission(vec![1])).unwrap();
    w.attachment(sha256, content.len() as u64, content).unwrap();
    w.record(&Record::Cosigned(vec![2])).unwrap();
    (w.finish().unwrap().0, sha256)
}

#[test]
fn attachments_stream_in_chunks_of_at_most_a_mebibyte() {
    let content: Vec<u8> = (0..CHUNK_SIZE as usize * 2 + 5).map(|i| i as u8).collect();
    let (bytes, sha256) = with_attachment(&content);
    let b = Bundle::parse(&bytes).unwrap();
    assert_eq!(b.version, Version::V2);
    let sizes: Vec<usize> = b
        .records
        .iter()
        .filter_map(|r| match r {
            Record::Chunk(c) => Some(c.len()),
            _ => None,
        })
        .collect();
    assert_eq!(sizes, [CHUNK_SIZE as usize, CHUNK_SIZE as usize, 5]);
    assert_eq!(
        b.records[1],
        Record::Attachment {
            sha256,
            size: content.len() as u64
        }
    );
    let joined: Vec<u8> = b.records[2..5]
        .iter()
        .flat_map(|r| r.data().to_vec())
        .collect();
    assert_eq!(joined, content);
    assert_eq!(b.encode(), bytes);
    // Every line stays under the line limit.
    assert!(bytes.split(|&c| c == b'\n').all(|l| l.len() <= MAX_LINE));
    // An empty attachment has no chunk lines.
    let (empty, _) = with_attachment(b"");
    assert_eq!(Bundle::parse(&empty).unwrap().records.len(), 3);
}

#[test]
fn the_encoder_refuses_bytes_that_are_not_the_named_ones() {
    let mut w = Encoder::new(Vec::new(), "o").unwrap();
    let named: [u8; 32] = Sha256::digest(b"abc").into();
    for (content, size) in [(&b"abd"[..], 3), (b"ab", 3), (b"abcd", 3)] {
        assert!(matches!(
            w.attachment(named, size, content),
            Err(WriteAttachmentError::Content(_))
        ));
    }
}

#[test]
fn refuses_attachment_records_out_of_shape() {
    let h = |b: u8| hex::encode([b; 32]);
    let cases = [
        (
            format!("attachment {} 2\nchunk AQ==\n", h(1)),
            2,
            Malformed::BadChunkSize {
                expected: 2,
                got: 1,
            },
        ),
        (
            format!("attachment {} 1\nchunk AQ==\nchunk AQ==\n", h(1)),
            3,
            Malformed::UnexpectedChunk,
        ),
        (
            format!("attachment {} 0\nchunk AQ==\n", h(1)),
            2,
            Malformed::UnexpectedChunk,
        ),
        ("chunk AQ==\n".to_owned(), 1, Malformed::UnexpectedChunk),
        (
            format!("attachment {} 1\ncosigned AQ==\n", h(1)),
            2,
            Malformed::MissingChunks {
                hash: h(1),
                missing: 1,
            },
        ),
        (
            format!("attachment {} 1\nattachment {} 0\n", h(1), h(2)),
            2,
            Malformed::MissingChunks {
                hash: h(1),
                missing: 1,
            },
        ),
        (
            format!("attachment {} 0\nattachment {} 0\n", h(2), h(1)),
            2,
            Malformed::AttachmentOrder,
        ),
        (
            format!("attachment {} 0\nattachment {} 0\n", h(2), h(2)),
            2,
            Malformed::AttachmentOrder,
        ),
        (
            format!("attachment {} 0\n", h(0xab).to_uppercase()),
            1,
            Malformed::BadAttachment,
        ),
        (
            format!("attachment {} 01\n", h(1)),
            1,
            Malformed::BadAttachment,
        ),
        (
            format!("attachment {}\n", h(1)),
            1,
            Malformed::BadAttachment,
        ),
        (
            format!("checkpoint AQ==\nattachment {} 0\n", h(1)),
            2,
            Malformed::OutOfOrder("attachment"),
        ),
        (
            format!("attachment {} 0\nentry 1 AQ==\n", h(1)),
            2,
            Malformed::OutOfOrder("entry"),
        ),
    ];
    for (body, count, want) in cases {
        let bytes = with_end(&format!("origin o\n{body}"), count);
        assert_eq!(malformed(&bytes), want, "{body:?}");
    }
    // The bytes still due when the end line comes.
    let cut = with_end(&format!("origin o\nattachment {} 3\n", h(1)), 1);
    assert_eq!(
        malformed(&cut),
        Malformed::MissingChunks {
            hash: h(1),
            missing: 3
        }
    );
    let fine = with_end(&format!("origin o\nattachment {} 1\nchunk AQ==\n", h(1)), 2);
    assert_eq!(Bundle::parse(&fine).unwrap().encode(), fine);
}

#[test]
fn version_1_bundles_are_read_and_written_back_as_they_were() {
    let v1 = |body: &str, count: u64| {
        let head = format!("{MAGIC_V1}\n{body}");
        let digest = STANDARD.encode(Sha256::digest(head.as_bytes()));
        format!("{head}end {count} {digest}\n").into_bytes()
    };
    let bytes = v1("origin o\ngenesis AQ==\nentry 1 AQ==\n", 2);
    let b = Bundle::parse(&bytes).unwrap();
    assert_eq!(b.version, Version::V1);
    assert_eq!(b.encode(), bytes);
    // Version 1 has no attachment records.
    let with = v1(
        &format!("origin o\nattachment {} 0\n", hex::encode([1; 32])),
        1,
    );
    assert_eq!(
        malformed(&with),
        Malformed::UnknownRecord("attachment".into())
    );
}
