//! `dyad_ledger::sync` (the `dyad-sync/v2` and `v1` bundles, spec/sync.md) on any bytes:
//! never panics; every accepted bundle is canonical (`encode(parse(b)) == b`); the
//! streaming decoder over a tiny read buffer agrees with the whole-buffer parse, record by
//! record; in an accepted bundle every attachment is followed by exactly the chunks that
//! carry its size (1 MiB each but the last), attachments ascend by hash, and a v1 bundle
//! has none.
//!
//! Layout: byte 0 holds flags, the rest is the bundle.
//! - bit 0: the target replaces everything from the last line starting with `end ` with
//!   a correct end line (record count and SHA-256), so that mutations reach the record
//!   parser and the round trip instead of dying at the checksum;
//! - bit 1: with bit 0, the count is one too many (the count check);
//! - bits 2..5: the streaming decoder's read buffer, 1 to 16 bytes.
#![no_main]

use std::io::BufReader;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use dyad_ledger::sync::{valid_origin, Bundle, Decoder, Record, SyncError, Version, CHUNK_SIZE};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

fn with_end_line(body: &[u8], extra: u64) -> Vec<u8> {
    let head_len = body
        .windows(5)
        .rposition(|w| w == b"\nend ")
        .map_or(body.len(), |p| p + 1);
    let head = &body[..head_len];
    let lines = head.iter().filter(|&&b| b == b'\n').count() as u64;
    let count = lines.saturating_sub(2) + extra;
    let digest = STANDARD.encode(Sha256::digest(head));
    let mut out = head.to_vec();
    out.extend_from_slice(format!("end {count} {digest}\n").as_bytes());
    out
}

/// Each attachment's chunks carry exactly its size, 1 MiB each but the last; attachments
/// ascend by hash; a v1 bundle has no attachment records.
fn check_attachment_records(bundle: &Bundle) {
    let mut due = 0u64;
    let mut last: Option<[u8; 32]> = None;
    for r in &bundle.records {
        match r {
            Record::Attachment { sha256, size } => {
                assert_eq!(bundle.version, Version::V2);
                assert_eq!(due, 0, "an attachment before the previous one's bytes");
                assert!(last.is_none_or(|l| l < *sha256), "attachments out of order");
                last = Some(*sha256);
                due = *size;
            }
            Record::Chunk(bytes) => {
                assert_eq!(
                    bytes.len() as u64,
                    due.min(CHUNK_SIZE),
                    "a chunk of the wrong size"
                );
                due -= bytes.len() as u64;
            }
            _ => assert_eq!(due, 0, "a record before the attachment's bytes"),
        }
    }
    assert_eq!(due, 0, "the bundle ends before the attachment's bytes");
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let input = if flags & 1 == 1 {
        with_end_line(rest, u64::from(flags >> 1 & 1))
    } else {
        rest.to_vec()
    };
    let whole = Bundle::parse(&input);

    // The same bytes through the streaming decoder, a few bytes per read.
    let capacity = 1 + usize::from(flags >> 2 & 15);
    let streamed = (|| -> Result<(Bundle, Option<bool>), SyncError> {
        let mut d = Decoder::new(BufReader::with_capacity(capacity, input.as_slice()))?;
        let mut records = Vec::new();
        while let Some(r) = d.next_record()? {
            assert_eq!(d.count(), records.len() as u64 + 1);
            records.push(r);
        }
        assert!(d.next_record().expect("after the end line").is_none());
        let ok = d.checksum_ok();
        Ok((
            Bundle {
                version: d.version(),
                origin: d.into_origin(),
                records,
            },
            ok,
        ))
    })();

    match (&whole, &streamed) {
        (Ok(b), Ok((s, ok))) => {
            assert_eq!(b, s);
            assert_eq!(*ok, Some(true));
        }
        (Err(SyncError::ChecksumMismatch), Ok((_, ok))) => assert_eq!(*ok, Some(false)),
        (Err(e), Err(f)) => assert_eq!(format!("{e:?}"), format!("{f:?}")),
        (w, s) => panic!("whole-buffer {w:?} but streamed {s:?}"),
    }

    let Ok(bundle) = whole else {
        return;
    };
    assert!(valid_origin(&bundle.origin));
    assert!(bundle.records.iter().all(|r| !r.data().is_empty()));
    check_attachment_records(&bundle);
    assert_eq!(
        bundle.encode(),
        input,
        "an accepted bundle is not canonical"
    );
});
