//! Builds dyad's spec vectors (spec/vectors/entries.json) from fixed seeds.
//!
//! Shared by `examples/gen_vectors.rs`, which writes the file, and `tests/spec_vectors.rs`,
//! which fails when the code and the checked-in file disagree. Everything here is
//! deterministic: keys come from fixed seeds, Ed25519 signatures are deterministic, and all
//! times are fixed.

use dyad_ledger::channel::{Channel, Role};
use dyad_ledger::entry::{Attachment, Draft, Entry, EntrySignature, Kind, SignedEntry};
use dyad_ledger::genesis::{cosign_proposal, Genesis, Party};
use dyad_ledger::keys::SignerKey;
use dyad_verifier::joint_record::{EndorsementPayload, ENDORSEMENT_CONTENT_TYPE};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

#[path = "key_changes.rs"]
mod key_changes;
#[path = "witness_changes.rs"]
mod witness_changes;

pub const ORIGIN: &str = "example.org/dyad/vectors";
const GENESIS_MS: u64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const STEP_MS: u64 = 60_000;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn key(role: &str, name: &str) -> (SignerKey, [u8; 32]) {
    let seed: [u8; 32] = Sha256::digest(format!("dyad spec vector key {role}")).into();
    (SignerKey::from_seed(name, seed).expect("valid name"), seed)
}

fn decoded(e: &Entry) -> Value {
    let b = &e.body;
    json!({
        "version": b.version,
        "origin": b.origin,
        "kind": b.kind.as_str(),
        "sender_key_id_hex": format!("{:08x}", b.sender),
        "sequence": b.sequence,
        "timestamp_ms": b.timestamp_ms,
        "reply_to": b.reply_to,
        "subject": b.subject,
        "content_type": b.content_type,
        "payload_hex": hex(&b.payload),
        "attachments": b.attachments.iter().map(|a| json!({
            "sha256_hex": hex(&a.sha256), "size": a.size, "name": a.name, "content_type": a.content_type,
        })).collect::<Vec<_>>(),
        "signatures": e.signatures.iter().map(|s| json!({
            "key_id_hex": format!("{:08x}", s.key_id), "signature_hex": hex(&s.signature),
        })).collect::<Vec<_>>(),
    })
}

fn entry_vector(name: &str, index: u64, e: &SignedEntry) -> Value {
    json!({
        "name": name,
        "index": index,
        "entry_hex": hex(&e.bytes),
        "leaf_hash_hex": hex(&e.leaf_hash),
        "signed_message_hex": hex(&e.entry.body.signed_message()),
        "decoded": decoded(&e.entry),
    })
}

fn party_json(p: &Party) -> Value {
    json!({"name": p.name, "public_key_hex": hex(&p.public_key)})
}

/// Re-signs a modified body so that only the intended rule is broken.
fn resign(mut entry: Entry, key: &SignerKey) -> Vec<u8> {
    entry.signatures = vec![EntrySignature {
        key_id: key.key_id(),
        signature: key.sign(&entry.body.signed_message()),
    }];
    entry.encode_unchecked()
}

fn alpha_key() -> (SignerKey, [u8; 32]) {
    key("alpha", "example.org/dyad/alpha")
}

fn bravo_key() -> (SignerKey, [u8; 32]) {
    key("bravo", "example.org/dyad/bravo")
}

/// The joint-record entries of the vector log (spec 3.6), and what the invalid ones are
/// built from.
pub struct JointVectors {
    /// alpha's record with a text payload, endorsed by bravo.
    record: SignedEntry,
    record_index: u64,
    /// bravo's endorsement of it.
    endorsement: SignedEntry,
    /// alpha's record of a document attachment alone, not endorsed.
    unendorsed_index: u64,
    /// The inquiry's index: not a record.
    inquiry_index: u64,
    alpha_next: u64,
    cosigner_next: u64,
}

/// alpha's record, bravo's endorsement of it, and alpha's second record (a document as an
/// attachment, empty payload), appended as the log's next entries.
fn joint_records(
    seq: &mut Channel,
    cos: &mut Channel,
    t: &mut u64,
    entries: &mut Vec<Value>,
) -> JointVectors {
    let (alpha, _) = alpha_key();
    let (bravo, _) = bravo_key();
    *t += STEP_MS;
    let minutes = Draft::new(
        Kind::Record,
        "Minutes of the working group, 2026-01-01",
        "text/plain; charset=utf-8",
        b"1. Both teams keep the hotline staffed during CYBER-SHIELD.\n2. Next meeting 2026-02-01.\n".to_vec(),
    );
    let a3 = seq.append_own(&alpha, vec![minutes], *t).expect("record")[0];
    let record = seq.entry(a3.index).expect("entry");
    entries.push(entry_vector("record", a3.index, &record));

    *t += STEP_MS;
    let payload = EndorsementPayload {
        record: a3.index,
        record_leaf_hash: record.leaf_hash,
    };
    let endorse = Draft::new(
        Kind::Endorsement,
        &format!("Endorses entry {}", a3.index),
        ENDORSEMENT_CONTENT_TYPE,
        payload.encode().to_vec(),
    )
    .reply_to(a3.index);
    let b3 = cos.queue_own(&bravo, endorse, *t).expect("queue");
    let b3 = seq.append_signed(&[b3], *t).expect("submit")[0];
    let endorsement = seq.entry(b3.index).expect("entry");
    entries.push(entry_vector("endorsement", b3.index, &endorsement));

    *t += STEP_MS;
    let statement = b"Joint statement on the AS64500 campaign (signed PDF).".to_vec();
    let mut document = Draft::new(
        Kind::Record,
        "Joint statement on the AS64500 campaign",
        "text/plain; charset=utf-8",
        Vec::new(),
    );
    document.attachments.push(Attachment {
        sha256: Sha256::digest(&statement).into(),
        size: statement.len() as u64,
        name: "joint-statement.pdf".into(),
        content_type: "application/pdf".into(),
    });
    let a4 = seq.append_own(&alpha, vec![document], *t).expect("record")[0];
    let unendorsed = seq.entry(a4.index).expect("entry");
    entries.push(entry_vector(
        "record-with-attachment",
        a4.index,
        &unendorsed,
    ));
    JointVectors {
        record_index: a3.index,
        alpha_next: unendorsed.entry.body.sequence + 1,
        cosigner_next: endorsement.entry.body.sequence + 1,
        record,
        endorsement,
        unendorsed_index: a4.index,
        inquiry_index: 1,
    }
}

/// Records and endorsements that each break exactly one rule of spec 3.6 when appended
/// after the vector log at `index` (at time `t`); `error` is the rule's name
/// (`EndorsementError::code`).
fn invalid_endorsements(joint: &JointVectors, index: u64, t: u64) -> Vec<Value> {
    let (alpha, _) = alpha_key();
    let (bravo, _) = bravo_key();
    let mut out = Vec::new();
    // bravo's next endorsement, naming `record` by `hash`.
    let endorsement = |record: u64, hash: [u8; 32]| {
        let mut e = joint.endorsement.entry.clone();
        e.body.sequence = joint.cosigner_next;
        e.body.timestamp_ms = t;
        e.body.reply_to = Some(record);
        e.body.subject = format!("Endorses entry {record}");
        e.body.payload = EndorsementPayload {
            record,
            record_leaf_hash: hash,
        }
        .encode()
        .to_vec();
        e
    };
    let mut add = |name: &str, e: Entry, key: &SignerKey, error: &str| {
        let bytes = resign(e, key);
        out.push(json!({"name": name, "index": index, "entry_hex": hex(&bytes), "error": error}));
    };
    let record_hash = joint.record.leaf_hash;
    let mut own = endorsement(joint.record_index, record_hash);
    own.body.sender = alpha.key_id();
    own.body.sequence = joint.alpha_next;
    add(
        "endorsement-of-own-record",
        own,
        &alpha,
        "EndorsementOfOwnRecord",
    );
    add(
        "endorsement-of-an-inquiry",
        endorsement(joint.inquiry_index, [0; 32]),
        &bravo,
        "EndorsementOfNonRecord",
    );
    add(
        "endorsement-of-the-genesis",
        endorsement(0, [0; 32]),
        &bravo,
        "EndorsementOfNonRecord",
    );
    add(
        "endorsement-of-a-later-index",
        endorsement(index + 1, [0; 32]),
        &bravo,
        "EndorsedIndexMissing",
    );
    add(
        "second-endorsement",
        endorsement(joint.record_index, record_hash),
        &bravo,
        "SecondEndorsement",
    );
    add(
        "endorsement-naming-another-leaf-hash",
        endorsement(joint.unendorsed_index, record_hash),
        &bravo,
        "EndorsedLeafHashMismatch",
    );
    let mut e = endorsement(joint.unendorsed_index, [0; 32]);
    e.body.reply_to = Some(joint.inquiry_index);
    add(
        "endorsement-replying-to-another-entry",
        e,
        &bravo,
        "ReplyToNotRecord",
    );
    let mut e = endorsement(joint.unendorsed_index, [0; 32]);
    e.body.content_type = "text/plain".into();
    add("endorsement-as-text-plain", e, &bravo, "WrongContentType");
    let mut e = endorsement(joint.unendorsed_index, [0; 32]);
    e.body.payload.pop();
    add(
        "endorsement-payload-39-bytes",
        e,
        &bravo,
        "MalformedPayload",
    );
    let mut e = joint.record.entry.clone();
    e.body.sender = bravo.key_id();
    e.body.sequence = joint.cosigner_next;
    e.body.timestamp_ms = t;
    e.body.subject = String::new();
    add("record-without-subject", e, &bravo, "RecordWithoutSubject");
    let mut e = joint.record.entry.clone();
    e.body.sender = bravo.key_id();
    e.body.sequence = joint.cosigner_next;
    e.body.timestamp_ms = t;
    e.body.payload = Vec::new();
    add("record-without-content", e, &bravo, "RecordWithoutContent");
    out
}

pub fn generate() -> Value {
    let (alpha, alpha_seed) = alpha_key();
    let (bravo, bravo_seed) = bravo_key();
    let (stranger, _) = key("stranger", "example.org/dyad/stranger");
    let genesis = Genesis::new(ORIGIN, Party::of(&alpha), Party::of(&bravo));
    let proposal = genesis.propose(&alpha, GENESIS_MS).expect("proposal");
    let (genesis_entry, _) = cosign_proposal(&proposal.bytes, &bravo).expect("cosign");

    let dir = tempfile::tempdir().expect("tempdir");
    let mut seq = Channel::create(&dir.path().join("alpha"), &genesis_entry, Role::Sequencer)
        .expect("alpha store");
    let mut cos = Channel::create(&dir.path().join("bravo"), &genesis_entry, Role::Cosigner)
        .expect("bravo store");

    let mut entries = vec![entry_vector("genesis", 0, &genesis_entry)];
    let mut checkpoints = Vec::new();
    let mut t = GENESIS_MS;
    let publish = |seq: &mut Channel, cos: &mut Channel, t: u64, checkpoints: &mut Vec<Value>| {
        let from = cos.size();
        let note = seq.sign_checkpoint(&alpha).expect("sign");
        let new: Vec<Vec<u8>> = (from..seq.size())
            .map(|i| seq.store().leaf(i).expect("leaf"))
            .collect();
        let cosigned = cos
            .accept_and_cosign(&bravo, &new, &note, t)
            .expect("cosign");
        let cp = seq.add_committed_checkpoint(&cosigned).expect("committed");
        checkpoints.push(json!({
            "size": cp.size,
            "root_hex": hex(&cp.root),
            "note": String::from_utf8(cosigned).expect("utf-8"),
            "cosignature_timestamp": t / 1000,
        }));
    };
    publish(&mut seq, &mut cos, t, &mut checkpoints);

    t += STEP_MS;
    let inquiry = Draft::new(Kind::Inquiry, "Scanning from AS64500 against our energy sector", "text/plain; charset=utf-8", b"Between 02:00 and 04:00 UTC we saw SSH brute force from 192.0.2.0/24 (AS64500). Can you look into it?".to_vec());
    let a1 = seq.append_own(&alpha, vec![inquiry], t).expect("inquiry")[0];
    entries.push(entry_vector(
        "inquiry",
        a1.index,
        &seq.entry(a1.index).expect("entry"),
    ));

    t += STEP_MS;
    let response = Draft::new(
        Kind::Response,
        "Re: Scanning from AS64500",
        "text/plain; charset=utf-8",
        b"Confirmed: a compromised hosting customer. The servers were taken offline at 09:12 UTC."
            .to_vec(),
    )
    .reply_to(a1.index);
    let submitted = cos.queue_own(&bravo, response, t).expect("queue");
    let b1 = seq.append_signed(&[submitted], t).expect("submit")[0];
    entries.push(entry_vector(
        "response-with-reply-to",
        b1.index,
        &seq.entry(b1.index).expect("entry"),
    ));

    t += STEP_MS;
    let stix = br#"{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2026-01-01T00:03:00Z","modified":"2026-01-01T00:03:00Z","pattern":"[ipv4-addr:value = '192.0.2.10']","pattern_type":"stix","valid_from":"2026-01-01T00:03:00Z"}]}"#;
    let feed = b"192.0.2.10\n192.0.2.11\n198.51.100.7\n".repeat(4);
    let mut indicators = Draft::new(
        Kind::ThreatIndicators,
        "Indicators for the AS64500 campaign",
        "application/stix+json;version=2.1",
        stix.to_vec(),
    );
    indicators.attachments.push(Attachment {
        sha256: Sha256::digest(&feed).into(),
        size: feed.len() as u64,
        name: "ips.txt".into(),
        content_type: "text/plain".into(),
    });
    let a2 = seq
        .append_own(&alpha, vec![indicators], t)
        .expect("indicators")[0];
    entries.push(entry_vector(
        "threat-indicators-with-attachment",
        a2.index,
        &seq.entry(a2.index).expect("entry"),
    ));

    t += STEP_MS;
    let notice = Draft::new(
        Kind::Notification,
        "Exercise CYBER-SHIELD starts 2026-01-05",
        "text/plain; charset=utf-8",
        Vec::new(),
    );
    let b2 = cos.queue_own(&bravo, notice, t).expect("queue");
    let b2 = seq.append_signed(&[b2], t).expect("submit")[0];
    entries.push(entry_vector(
        "notification-empty-payload",
        b2.index,
        &seq.entry(b2.index).expect("entry"),
    ));
    let joint = joint_records(&mut seq, &mut cos, &mut t, &mut entries);
    publish(&mut seq, &mut cos, t, &mut checkpoints);

    let mut receipts = Vec::new();
    let (size, note) = seq
        .store()
        .latest_checkpoint()
        .expect("read")
        .expect("a checkpoint");
    for index in 0..size {
        let proof = seq.store().inclusion_proof(index, size).expect("proof");
        let leaf = seq.store().leaf(index).expect("leaf");
        let receipt = dyad_verifier::receipt::format(&leaf, index, &proof, &note);
        receipts
            .push(json!({"index": index, "receipt": String::from_utf8(receipt).expect("utf-8")}));
    }

    // Invalid entries: each breaks exactly one rule of spec section 3.
    let valid = seq.entry(b1.index).expect("entry");
    let base = valid.bytes.clone();
    // Re-signed variants carry the co-signer's next sequence number and its latest time, so
    // that the one rule each breaks is the only one.
    let mut fresh = valid.entry.clone();
    fresh.body.sequence = joint.cosigner_next;
    fresh.body.timestamp_ms = t;
    let next_index = seq.size();
    let mut invalid = Vec::new();
    let mut add = |name: &str, bytes: Vec<u8>, error: &str| {
        invalid.push(
            json!({"name": name, "index": next_index, "entry_hex": hex(&bytes), "error": error}),
        )
    };
    add(
        "trailing-byte",
        [base.as_slice(), &[0]].concat(),
        "trailing-bytes",
    );
    add("truncated", base[..base.len() - 1].to_vec(), "truncated");
    let mut v = base.clone();
    v[0] = 2;
    add("version-2", v, "unknown-version");
    let kind_at = 1 + 8 + ORIGIN.len();
    let mut v = base.clone();
    // 7 is key-change (spec 3.7), 8 witness-change (3.8): 9 is the first unknown kind.
    v[kind_at] = 9;
    add("kind-9", v, "unknown-kind");
    let reply_tag_at = kind_at + 1 + 4 + 8 + 8;
    let mut v = base.clone();
    v[reply_tag_at] = 2;
    add("reply-to-tag-2", v, "bad-option-tag");
    let subject_at = reply_tag_at + 1 + 8 + 8;
    let mut v = base.clone();
    v[subject_at] = 0xff;
    add("subject-not-utf8", v, "invalid-utf8");
    let mut v = base.clone();
    let last = v.len() - 1;
    v[last] ^= 0x01;
    add("signature-bit-flipped", v, "bad-signature");
    let mut e = fresh.clone();
    e.body.subject = "x".repeat(1025);
    add("subject-1025-bytes", resign(e, &bravo), "oversize-subject");
    let mut e = fresh.clone();
    e.body.subject = "Invoice \u{202e}fdp.exe".into();
    add(
        "subject-with-bidi-override",
        resign(e, &bravo),
        "control-character",
    );
    let mut e = fresh.clone();
    e.body.attachments = vec![Attachment {
        sha256: [1; 32],
        size: 1,
        name: "..".into(),
        content_type: "text/plain".into(),
    }];
    add(
        "attachment-named-dot-dot",
        resign(e, &bravo),
        "unsafe-attachment-name",
    );
    let mut e = fresh.clone();
    e.body.origin = "example.org/dyad/another-channel".into();
    add(
        "replayed-into-another-channel",
        resign(e, &bravo),
        "wrong-origin",
    );
    let mut e = fresh.clone();
    e.body.sender = stranger.key_id();
    add(
        "signed-by-a-stranger",
        resign(e, &stranger),
        "sender-not-a-party",
    );
    let mut e = fresh.clone();
    e.body.reply_to = Some(next_index);
    add("reply-to-itself", resign(e, &bravo), "reply-to-not-earlier");
    let mut e = fresh.clone();
    e.body.attachments = vec![
        Attachment {
            sha256: [2; 32],
            size: 1,
            name: "b".into(),
            content_type: "text/plain".into(),
        },
        Attachment {
            sha256: [1; 32],
            size: 1,
            name: "a".into(),
            content_type: "text/plain".into(),
        },
    ];
    add(
        "attachments-unsorted",
        resign(e, &bravo),
        "attachments-unsorted",
    );
    let mut e = fresh.clone();
    e.signatures.push(e.signatures[0].clone());
    add(
        "two-signatures-on-a-response",
        e.encode_unchecked(),
        "wrong-signature-count",
    );
    // A well-formed genesis entry (sequencer's, signed by both) in the wrong place.
    let mut e = fresh.clone();
    e.body.kind = Kind::Genesis;
    e.body.sender = alpha.key_id();
    e.body.reply_to = None;
    let message = e.body.signed_message();
    e.signatures = vec![
        EntrySignature {
            key_id: alpha.key_id(),
            signature: alpha.sign(&message),
        },
        EntrySignature {
            key_id: bravo.key_id(),
            signature: bravo.sign(&message),
        },
    ];
    add(
        "genesis-kind-after-index-0",
        e.encode_unchecked(),
        "genesis-not-first",
    );

    // The log continued with key changes (spec 3.7), after everything above, which
    // they leave unchanged.
    let key_changes = key_changes::key_changes(&mut seq, &mut cos, (&alpha, &bravo), t);
    // Then with witness changes (spec 3.8), after the key changes' two steps.
    let witness_changes =
        witness_changes::witness_changes(&mut seq, &mut cos, (&alpha, &bravo), t + 2 * STEP_MS);

    json!({
        "description": "dyad v1 spec vectors (spec/dyad.md): a channel between two parties with every entry kind, its co-signed checkpoints and receipts, invalid entries that each break one rule, and invalid records and endorsements that each break one rule of section 3.6. Hex is lowercase; notes and receipts are exact file texts.",
        "generated_by": "cargo run -p dyad-ledger --example gen_vectors (ledger/tests/vectors/generate.rs)",
        "origin": ORIGIN,
        "parties": [
            key_changes::party_key_json("sequencer", &alpha, &alpha_seed),
            key_changes::party_key_json("cosigner", &bravo, &bravo_seed),
        ],
        "genesis": {
            "origin": genesis.origin,
            "sequencer": party_json(&genesis.sequencer),
            "cosigner": party_json(&genesis.cosigner),
            "witnesses": genesis.witnesses.iter().map(party_json).collect::<Vec<_>>(),
            "witness_threshold": genesis.witness_threshold,
            "max_payload": genesis.max_payload,
            "max_attachment_size": genesis.max_attachment_size,
            "max_clock_skew_s": genesis.max_clock_skew_s,
            "record_hex": hex(&genesis.encode()),
            "proposal_hex": hex(&proposal.bytes),
        },
        "entries": entries,
        "invalid_entries": invalid,
        "invalid_endorsements": invalid_endorsements(&joint, next_index, t),
        "checkpoints": checkpoints,
        "receipts": receipts,
        "key_changes": key_changes,
        "witness_changes": witness_changes,
    })
}
