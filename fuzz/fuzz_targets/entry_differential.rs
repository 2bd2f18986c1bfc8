//! The two entry decoders, `dyad_verifier::entry::decode` (by hand from spec 3.1) and
//! `dyad_ledger::entry::Entry::decode` (bincode 2.0.1), must agree on every input: both
//! reject it, or both accept it with the same fields.
//!
//! One difference is by design and allowed: the ledger's decoder also checks that the
//! first signature's key ID is the sender (spec 3.4), which the verifier checks later, in
//! `check_entry`, `check_genesis` and receipt verification.
//!
//! Input: any bytes are decoded as they are. If the first byte is 0xA5, the rest also
//! describes an entry field by field (see `structured`), which is encoded by the spec 3.1
//! encoder of `dyad_fuzz::reference`; this reaches sizes up to and past the 65535-byte
//! limit that mutating raw bytes rarely does. For such an entry the ledger's encoder must
//! write the same bytes, and an entry the ledger validates and encodes must decode to
//! itself (decode(encode(x)) == x).
#![no_main]

use dyad_fuzz::oracle::entry_mismatch;
use dyad_fuzz::reference::{RawAttachment, RawEntry};
use dyad_fuzz::Cursor;
use dyad_ledger::entry::{Attachment, Entry, EntryBody, EntryError, EntrySignature, Kind};
use dyad_verifier::entry;
use libfuzzer_sys::fuzz_target;

fn compare(bytes: &[u8]) {
    let by_verifier = entry::decode(bytes);
    let by_ledger = Entry::decode(bytes);
    match (&by_verifier, &by_ledger) {
        (Ok(v), Ok(l)) => {
            if let Some(diff) = entry_mismatch(v, l) {
                panic!("the decoders read different fields: {diff}");
            }
        }
        (Err(_), Err(_)) => {}
        (Ok(v), Err(EntryError::SignatureNotBySender { .. }))
            if v.signatures[0].key_id != v.sender => {}
        (Ok(_), Err(e)) => panic!("the verifier accepts an entry the ledger rejects: {e:?}"),
        (Err(e), Ok(_)) => panic!("the ledger accepts an entry the verifier rejects: {e:?}"),
    }
}

/// A string of `len % max` bytes: `fill` repeated, starting with a chunk of the input.
fn text(c: &mut Cursor<'_>, max: usize) -> Vec<u8> {
    let len = usize::from(c.u16()) % max;
    let fill = c.u8();
    let head = c.chunk();
    let mut out = vec![fill; len];
    for (o, b) in out.iter_mut().zip(head) {
        *o = *b;
    }
    out
}

/// flags u8 (bit 0: version 1, bit 1: the kind's signature count, bit 2: signatures by
/// the sender, bit 3: attachments sorted by hash, bits 4 and 5: size the payload against
/// the entry size limit, below), version u8, origin, kind u8 (% 9: every kind and one unknown),
/// sender u32, sequence u64, timestamp u64, reply tag u8 (odd: a u64 follows), subject,
/// content type, payload length u16 and fill u8, attachment count u8 (% 18) and per
/// attachment (hash byte u8, size u64, name, content type), signature count u8 (% 3) and
/// per signature (key ID u32, fill u8). Strings are `text` above.
fn structured(c: &mut Cursor<'_>) -> RawEntry {
    let flags = c.u8();
    let version = c.u8();
    let origin = text(c, 300);
    let kind = c.u8() % 9;
    let sender = c.u32();
    let sequence = c.u64();
    let timestamp_ms = c.u64();
    let reply_to = if c.u8() % 2 == 1 { Some(c.u64()) } else { None };
    let subject = text(c, 1100);
    let content_type = text(c, 300);
    let payload_len = usize::from(c.u16());
    let payload_fill = c.u8();
    let mut attachments: Vec<RawAttachment> = (0..c.u8() % 18)
        .map(|i| {
            let mut sha256 = [c.u8(); 32];
            sha256[31] = i;
            RawAttachment {
                sha256,
                size: c.u64(),
                name: text(c, 300),
                content_type: text(c, 300),
            }
        })
        .collect();
    if flags & 8 != 0 {
        attachments.sort_by_key(|a| a.sha256);
    }
    let count = c.u8() % 3;
    let count = if flags & 2 != 0 {
        if kind == 0 {
            2
        } else {
            1
        }
    } else {
        count
    };
    let signatures = (0..count)
        .map(|_| {
            let key_id = c.u32();
            (if flags & 4 != 0 { sender } else { key_id }, [c.u8(); 64])
        })
        .collect();
    let mut raw = RawEntry {
        version: if flags & 1 != 0 { 1 } else { version },
        origin,
        kind,
        sender,
        sequence,
        timestamp_ms,
        reply_to,
        subject,
        content_type,
        payload: Vec::new(),
        attachments,
        signatures,
    };
    // Bit 4: a payload that brings the entry to `payload_len % 512` bytes below the
    // 65535-byte limit (or above it, with bit 5), where size accounting goes wrong.
    let payload_len = if flags & 16 != 0 {
        let rest = raw.encode().len();
        let delta = payload_len % 512;
        if flags & 32 != 0 {
            (entry::MAX_ENTRY_SIZE + delta).saturating_sub(rest)
        } else {
            entry::MAX_ENTRY_SIZE.saturating_sub(rest + delta)
        }
    } else {
        payload_len
    };
    raw.payload = vec![payload_fill; payload_len];
    raw
}

/// The ledger's value for a raw entry, when its types can hold it.
fn ledger_entry(raw: &RawEntry) -> Option<Entry> {
    let s = |b: &[u8]| String::from_utf8(b.to_vec()).ok();
    Some(Entry {
        body: EntryBody {
            version: raw.version,
            origin: s(&raw.origin)?,
            kind: Kind::from_u8(raw.kind)?,
            sender: raw.sender,
            sequence: raw.sequence,
            timestamp_ms: raw.timestamp_ms,
            reply_to: raw.reply_to,
            subject: s(&raw.subject)?,
            content_type: s(&raw.content_type)?,
            payload: raw.payload.clone(),
            attachments: raw
                .attachments
                .iter()
                .map(|a| {
                    Some(Attachment {
                        sha256: a.sha256,
                        size: a.size,
                        name: s(&a.name)?,
                        content_type: s(&a.content_type)?,
                    })
                })
                .collect::<Option<Vec<_>>>()?,
        },
        signatures: raw
            .signatures
            .iter()
            .map(|(key_id, signature)| EntrySignature {
                key_id: *key_id,
                signature: *signature,
            })
            .collect(),
    })
}

fuzz_target!(|data: &[u8]| {
    compare(data);
    if data.first() != Some(&0xA5) {
        return;
    }
    let raw = structured(&mut Cursor::new(&data[1..]));
    let bytes = raw.encode();
    compare(&bytes);
    let Some(entry) = ledger_entry(&raw) else {
        return;
    };
    assert_eq!(
        entry.encode_unchecked(),
        bytes,
        "the ledger encodes differently from spec 3.1"
    );
    if entry.validate().is_err() {
        return;
    }
    if let Ok(encoded) = entry.encode() {
        assert_eq!(encoded, bytes);
        match Entry::decode(&encoded) {
            Ok(decoded) => assert_eq!(decoded, entry, "decode(encode(x)) != x"),
            Err(e) => panic!(
                "the ledger encodes a valid entry ({} bytes) that it cannot decode: {e:?}",
                encoded.len()
            ),
        }
    }
});
