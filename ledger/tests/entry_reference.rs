//! The ledger's entry encoder against the encoding of spec/dyad.md section 3.1 written out by
//! hand (dyad_testkit::entry): on every entry of the spec vectors, loaded from
//! spec/vectors/entries.json, and on entries generated from a seeded PRNG.

use dyad_ledger::entry::{Attachment, Entry, EntryBody, EntrySignature, Kind, SignedEntry};
use dyad_testkit::entry as reference;
use dyad_testkit::merkle;
use dyad_testkit::rng::{Rng, RngExt};
use serde_json::Value;

fn spec_vectors() -> Value {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors/entries.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("entries.json is JSON")
}

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("a hex string")).expect("hex")
}

/// The same entry in the reference's plain fields.
fn to_reference(e: &Entry) -> reference::Entry {
    let b = &e.body;
    reference::Entry {
        version: b.version,
        origin: b.origin.clone(),
        kind: b.kind as u8,
        sender: b.sender,
        sequence: b.sequence,
        timestamp_ms: b.timestamp_ms,
        reply_to: b.reply_to,
        subject: b.subject.clone(),
        content_type: b.content_type.clone(),
        payload: b.payload.clone(),
        attachments: b
            .attachments
            .iter()
            .map(|a| reference::Attachment {
                sha256: a.sha256,
                size: a.size,
                name: a.name.clone(),
                content_type: a.content_type.clone(),
            })
            .collect(),
        signatures: e
            .signatures
            .iter()
            .map(|s| reference::Signature {
                key_id: s.key_id,
                signature: s.signature,
            })
            .collect(),
    }
}

/// Every valid vector entry: the reference encoding of its `decoded` fields is its
/// `entry_hex`, its signed message and leaf hash follow from it, and the ledger decodes the
/// bytes to the same fields and encodes them back to the same bytes.
#[test]
fn the_spec_vectors_are_the_reference_encoding() {
    let vectors = spec_vectors();
    let entries = vectors["entries"].as_array().expect("entries");
    assert!(entries.len() >= 5, "the vectors hold every kind");
    let key_changes = vectors["key_changes"]["entries"]
        .as_array()
        .expect("key change entries");
    for v in entries.iter().chain(key_changes) {
        let name = &v["name"];
        let want = unhex(&v["entry_hex"]);
        let fields = reference::Entry::from_decoded(&v["decoded"])
            .unwrap_or_else(|| panic!("vector {name}: `decoded` does not describe an entry"));
        assert_eq!(fields.encode(), want, "vector {name}: reference encoding");
        assert_eq!(
            fields.signed_message(),
            unhex(&v["signed_message_hex"]),
            "vector {name}: signed message"
        );
        assert_eq!(
            merkle::leaf_hash(&want).to_vec(),
            unhex(&v["leaf_hash_hex"]),
            "vector {name}: leaf hash"
        );
        let ledger = SignedEntry::decode(&want)
            .unwrap_or_else(|e| panic!("vector {name}: the ledger refuses it: {e}"));
        assert_eq!(
            to_reference(&ledger.entry),
            fields,
            "vector {name}: decoded"
        );
        assert_eq!(
            ledger.entry.encode().unwrap(),
            want,
            "vector {name}: ledger encoding"
        );
        assert_eq!(
            ledger.entry.body.signed_message(),
            fields.signed_message(),
            "vector {name}: ledger's signed message"
        );
    }
}

fn text(rng: &mut Rng, max: usize) -> String {
    const CHARS: [char; 8] = ['a', 'Z', '0', ' ', '.', 'é', '→', '😀'];
    let len = rng.random_range(0..=max);
    (0..len)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())])
        .collect()
}

fn printable(rng: &mut Rng) -> String {
    let len = rng.random_range(1..=40);
    (0..len)
        .map(|_| char::from(rng.random_range(0x20u8..=0x7e)))
        .collect()
}

/// An entry with every field drawn at random: lengths from empty to a few hundred bytes,
/// options absent and present, any number of attachments and signatures. Its rules are not
/// kept (attachments unsorted, any kind): this compares the byte layout only.
fn random_entry(rng: &mut Rng) -> Entry {
    let attachments = (0..rng.random_range(0..4))
        .map(|_| Attachment {
            sha256: rng.random(),
            size: rng.random(),
            name: text(rng, 20),
            content_type: printable(rng),
        })
        .collect();
    let signatures = (0..rng.random_range(0..3))
        .map(|_| {
            let mut signature = [0; 64];
            rng.fill(&mut signature[..]);
            EntrySignature {
                key_id: rng.random(),
                signature,
            }
        })
        .collect();
    let mut payload = vec![0; rng.random_range(0..300)];
    rng.fill(&mut payload[..]);
    Entry {
        body: EntryBody {
            version: rng.random(),
            origin: text(rng, 40),
            kind: Kind::ALL[rng.random_range(0..Kind::ALL.len())],
            sender: rng.random(),
            sequence: rng.random(),
            timestamp_ms: rng.random(),
            reply_to: rng.random_bool(0.5).then(|| rng.random()),
            subject: text(rng, 60),
            content_type: printable(rng),
            payload,
            attachments,
        },
        signatures,
    }
}

#[test]
fn generated_entries_encode_as_the_reference_does() {
    let mut rng = dyad_testkit::rng(0x0e17_4e7c);
    for case in 0..500 {
        let entry = random_entry(&mut rng);
        let fields = to_reference(&entry);
        assert_eq!(
            entry.encode_unchecked(),
            fields.encode(),
            "generated entry {case}: {entry:?}"
        );
        assert_eq!(
            entry.body.signed_message(),
            fields.signed_message(),
            "generated entry {case}: signed message"
        );
    }
}
