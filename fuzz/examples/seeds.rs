//! Writes the seed corpora of every fuzz target from the vectors:
//!
//!     cargo run --no-default-features --example seeds -- <corpus dir>
//!
//! `fuzz/run.sh` runs it before fuzzing (corpus/ is not committed). Deterministic: the
//! same vectors give the same files. Besides the vectors' own entries, notes, keys,
//! proofs and receipts it signs, with the vectors' seeds, what the vectors lack: notes
//! with cosignatures by other known keys, a second channel with three witnesses (its
//! genesis, a small log, its committed checkpoint and receipts), and evidence of
//! equivocation of both kinds. Structured targets get inputs in their own layouts (see
//! the doc comment at the top of each target).

use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use dyad_fuzz::cursor::Writer;
use dyad_fuzz::reference::{self, leaf_hash, mth, RawEntry};
use dyad_fuzz::vectors::{
    checkpoint_text, sign_note, vectors, witnessed_record, KeyPair, NoteSigner, WITNESSED_ORIGIN,
};
use dyad_fuzz::Hash;
use dyad_verifier::equivocation::{self, Contradiction, LeafInclusion};
use dyad_verifier::key::{key_id, SignatureType};
use dyad_verifier::{genesis, note, promise_evidence, receipt};

const GENESIS_MS: u64 = 1_767_225_600_000;
const GENESIS_S: u64 = GENESIS_MS / 1000;

#[derive(Default)]
struct Corpus {
    files: BTreeMap<&'static str, BTreeMap<String, Vec<u8>>>,
}

impl Corpus {
    fn add(&mut self, targets: &[&'static str], name: impl Into<String>, bytes: impl AsRef<[u8]>) {
        let name = name.into();
        for t in targets {
            self.files
                .entry(t)
                .or_default()
                .insert(name.clone(), bytes.as_ref().to_vec());
        }
    }
}

const NOTE_TARGETS: &[&str] = &["note_parse", "note_verify", "checkpoint_committed"];
const ENTRY_TARGETS: &[&str] = &[
    "entry_decode_verifier",
    "entry_decode_ledger",
    "entry_differential",
    "witness_change",
];

#[allow(clippy::too_many_arguments)]
fn signed_entry(
    key: &KeyPair,
    origin: &str,
    kind: u8,
    sequence: u64,
    minutes: u64,
    reply_to: Option<u64>,
    subject: &str,
    payload: &[u8],
) -> Vec<u8> {
    let id = key_id(&key.name, SignatureType::Ed25519, &key.public_key);
    let mut e = RawEntry {
        version: 1,
        origin: origin.as_bytes().to_vec(),
        kind,
        sender: id,
        sequence,
        timestamp_ms: GENESIS_MS + minutes * 60_000,
        reply_to,
        subject: subject.as_bytes().to_vec(),
        content_type: b"text/plain; charset=utf-8".to_vec(),
        payload: payload.to_vec(),
        attachments: Vec::new(),
        signatures: Vec::new(),
    };
    let sig = key.sign(&e.signed_message());
    e.signatures.push((id, sig));
    e.encode()
}

fn witnessed_genesis_entry() -> Vec<u8> {
    let v = vectors();
    let id = |k: &KeyPair| key_id(&k.name, SignatureType::Ed25519, &k.public_key);
    let mut e = RawEntry {
        version: 1,
        origin: WITNESSED_ORIGIN.as_bytes().to_vec(),
        kind: 0,
        sender: id(&v.sequencer),
        sequence: 0,
        timestamp_ms: GENESIS_MS,
        reply_to: None,
        subject: b"channel with witnesses".to_vec(),
        content_type: genesis::CONTENT_TYPE.as_bytes().to_vec(),
        payload: witnessed_record(),
        attachments: Vec::new(),
        signatures: Vec::new(),
    };
    let m = e.signed_message();
    e.signatures = vec![
        (id(&v.sequencer), v.sequencer.sign(&m)),
        (id(&v.cosigner), v.cosigner.sign(&m)),
    ];
    e.encode()
}

/// A note on `origin`'s tree of `leaves`, signed as the log by the sequencer and
/// co-signed by the co-signer and `witnesses`.
fn committed_note(origin: &str, leaves: &[Hash], witnesses: &[&KeyPair], minutes: u64) -> Vec<u8> {
    let v = vectors();
    let text = checkpoint_text(origin, leaves.len() as u64, &mth(leaves));
    let timestamp = GENESIS_S + minutes * 60;
    let mut signers = vec![
        NoteSigner::Ed25519 {
            key: &v.sequencer,
            name: origin,
        },
        NoteSigner::Cosignature {
            key: &v.cosigner,
            timestamp,
        },
    ];
    for w in witnesses {
        signers.push(NoteSigner::Cosignature { key: w, timestamp });
    }
    sign_note(&text, &signers)
}

fn inclusion_seed(
    mode: u8,
    index: u64,
    size: u64,
    leaf: &Hash,
    root: &Hash,
    proof: &[Hash],
) -> Vec<u8> {
    let mut w = Writer::new();
    w.u8(mode)
        .u64(index)
        .u64(size)
        .bytes(leaf)
        .bytes(root)
        .u8(proof.len() as u8);
    for h in proof {
        w.bytes(h);
    }
    w.finish()
}

fn consistency_seed(
    mode: u8,
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Vec<u8> {
    let mut w = Writer::new();
    w.u8(mode)
        .u64(old)
        .u64(new)
        .bytes(old_root)
        .bytes(new_root)
        .u8(proof.len() as u8);
    for h in proof {
        w.bytes(h);
    }
    w.finish()
}

/// The structured layout of entry_differential (after its 0xA5 byte).
#[allow(clippy::too_many_arguments)]
fn structured_entry(
    flags: u8,
    origin_len: u16,
    kind: u8,
    subject_len: u16,
    payload_len: u16,
    attachments: u8,
    name_len: u16,
    type_len: u16,
) -> Vec<u8> {
    let mut w = Writer::new();
    w.u8(0xA5).u8(flags).u8(1);
    w.u16(origin_len)
        .u8(b'o')
        .chunk(b"example.org/dyad/vectors");
    w.u8(kind)
        .u32(0x84924ae7)
        .u64(1)
        .u64(GENESIS_MS)
        .u8(1)
        .u64(1);
    w.u16(subject_len).u8(b's').chunk(b"Scanning from AS64500");
    w.u16(25).u8(b'c').chunk(b"text/plain; charset=utf-8");
    w.u16(payload_len).u8(b'p');
    w.u8(attachments);
    for i in 0..attachments {
        w.u8(i)
            .u64(1024)
            .u16(name_len)
            .u8(b'n')
            .chunk(b"report.pdf");
        w.u16(type_len).u8(b't').chunk(b"application/pdf");
    }
    w.u8(1).u32(0x84924ae7).u8(7);
    w.finish()
}

fn main() {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "corpus".to_string()),
    );
    let v = vectors();
    let mut c = Corpus::default();

    // --- Notes and checkpoints.
    let mut notes: Vec<(String, Vec<u8>)> = Vec::new();
    for (i, n) in v.notes.iter().enumerate() {
        notes.push((format!("notes-json-{i:02}"), n.clone()));
    }
    for (i, n) in v.checkpoints.iter().enumerate() {
        notes.push((format!("vectors-checkpoint-{i}"), n.clone()));
    }
    // The first five entries of the vector log: the trees the notes and evidence below
    // are built over (the log has more entries since the joint records of spec 3.6).
    let vector_leaves: Vec<Hash> = v.entries.iter().take(5).map(|e| leaf_hash(e)).collect();
    let a = &v.note_keys[0];
    let cp5 = checkpoint_text(&v.origin, 5, &mth(&vector_leaves));
    notes.push((
        "cosigned-by-a-and-bravo".into(),
        sign_note(
            &cp5,
            &[
                NoteSigner::Cosignature {
                    key: a,
                    timestamp: GENESIS_S,
                },
                NoteSigner::Ed25519 {
                    key: &v.sequencer,
                    name: &v.origin,
                },
                NoteSigner::Cosignature {
                    key: &v.cosigner,
                    timestamp: GENESIS_S + 60,
                },
                NoteSigner::Cosignature {
                    key: &v.note_keys[2],
                    timestamp: 1,
                },
            ],
        ),
    ));
    notes.push((
        "cosignature-max-timestamp".into(),
        sign_note(
            &cp5,
            &[
                NoteSigner::Ed25519 {
                    key: &v.sequencer,
                    name: &v.origin,
                },
                NoteSigner::Cosignature {
                    key: &v.cosigner,
                    timestamp: (1 << 63) - 1,
                },
            ],
        ),
    ));

    // The witnessed channel: genesis, an inquiry by the co-signer, a response by the
    // sequencer, a notification; committed with two of the three witnesses.
    let witnesses = v.witnesses();
    let wlog = vec![
        witnessed_genesis_entry(),
        signed_entry(
            &v.cosigner,
            WITNESSED_ORIGIN,
            1,
            1,
            1,
            None,
            "Scanning from AS64500",
            b"seen at 09:00",
        ),
        signed_entry(
            &v.sequencer,
            WITNESSED_ORIGIN,
            2,
            1,
            2,
            Some(1),
            "Re: Scanning",
            b"investigating",
        ),
        signed_entry(
            &v.cosigner,
            WITNESSED_ORIGIN,
            4,
            2,
            3,
            None,
            "Exercise",
            b"",
        ),
    ];
    let wleaves: Vec<Hash> = wlog.iter().map(|e| leaf_hash(e)).collect();
    let wnote = committed_note(WITNESSED_ORIGIN, &wleaves, &witnesses[..2], 5);
    notes.push(("witnessed-committed".into(), wnote.clone()));
    notes.push((
        "witnessed-one-witness".into(),
        committed_note(WITNESSED_ORIGIN, &wleaves[..2], &witnesses[2..], 4),
    ));
    notes.push((
        "witnessed-all-witnesses".into(),
        committed_note(WITNESSED_ORIGIN, &wleaves[..1], &witnesses, 1),
    ));
    for (name, n) in &notes {
        c.add(NOTE_TARGETS, name.clone(), n);
        if let Ok(parsed) = note::parse(n) {
            c.add(&["checkpoint_parse"], name.clone(), parsed.text.as_bytes());
        }
    }
    for (i, body) in v.checkpoint_bodies.iter().enumerate() {
        c.add(
            &["checkpoint_parse"],
            format!("body-{i:02}"),
            body.as_bytes(),
        );
    }

    // --- replica.head.
    c.add(
        &["replica_record"],
        "replica-head",
        "dyad-replica/1\norigin example.org/dyad/test\nrole cosigner\nsize 308\nroot AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\ncommitted 300\n",
    );

    // --- Keys.
    for (i, k) in v.verifier_keys.iter().enumerate() {
        c.add(&["vkey_parse"], format!("vkey-{i:02}"), k.as_bytes());
    }
    let upper = v.sequencer.entry_key().to_string();
    let mut fields: Vec<String> = upper.splitn(3, '+').map(str::to_string).collect();
    fields[1] = fields[1].to_ascii_uppercase();
    c.add(&["vkey_parse"], "vkey-uppercase-id", fields.join("+"));
    for (i, k) in v.signer_keys.iter().enumerate() {
        c.add(
            &["signer_key_parse"],
            format!("signer-{i:02}"),
            k.as_bytes(),
        );
    }
    for k in [&v.sequencer, &v.cosigner] {
        let mut raw = vec![1u8];
        raw.extend_from_slice(&k.seed);
        let id = key_id(&k.name, SignatureType::Ed25519, &k.public_key);
        let line = format!("PRIVATE+KEY+{}+{id:08x}+{}\n", k.name, BASE64.encode(raw));
        c.add(
            &["signer_key_parse"],
            format!("private-{}", k.name.replace('/', "_")),
            line,
        );
        c.add(
            &["signer_key_parse"],
            format!("name-{}", k.name.replace('/', "_")),
            &k.name,
        );
    }

    // --- Policies.
    let channel = genesis::decode_record(&v.genesis_record).expect("vector genesis");
    let witnessed = genesis::decode_record(&witnessed_record()).expect("witnessed genesis");
    c.add(
        &["policy_parse"],
        "vectors-channel",
        channel.policy().expect("policy").to_string(),
    );
    c.add(
        &["policy_parse"],
        "witnessed-channel",
        witnessed.policy().expect("policy").to_string(),
    );
    let hand = format!(
        "# a C2SP tlog-policy\nlog {} https://log.example/\n\nwitness w1 {} https://w1.example/\n\
         witness w2\t{}\nwitness w3 {}\ngroup two 2 w1 w2 w3\ngroup any any two\nquorum any\n",
        v.sequencer.log_key(&v.origin),
        witnesses[0].cosignature_key(),
        witnesses[1].entry_key(),
        witnesses[2].cosignature_key(),
    );
    c.add(&["policy_parse"], "hand-written", hand);
    c.add(
        &["policy_parse"],
        "quorum-none",
        format!("log {}\nquorum none", v.sequencer.log_key(&v.origin)),
    );

    // --- Proofs.
    for (i, case) in v.inclusion.iter().enumerate() {
        let s = inclusion_seed(
            0,
            case.index,
            case.size,
            &case.leaf_hash,
            &case.root,
            &case.proof,
        );
        c.add(&["proof_inclusion"], format!("tree-json-{i:03}"), s);
    }
    c.add(
        &["proof_inclusion"],
        "huge-size",
        inclusion_seed(4, 0, u64::MAX, &[7; 32], &[0; 32], &[[1; 32]; 64]),
    );
    for (i, case) in v.consistency.iter().enumerate() {
        let s = consistency_seed(
            0,
            case.old_size,
            case.new_size,
            &case.old_root,
            &case.new_root,
            &case.proof,
        );
        c.add(&["proof_consistency"], format!("tree-json-{i:03}"), s);
    }
    c.add(
        &["proof_consistency"],
        "huge-sizes",
        consistency_seed(
            4,
            u64::MAX - 2,
            u64::MAX,
            &[7; 32],
            &[0; 32],
            &[[1; 32]; 65],
        ),
    );
    let leaf_bytes = b"abcdefghijklmnopqrstuvwxyz0123456789aabbccddeeffgg";
    for (n, size, index) in [
        (13u16, 13u16, 5u16),
        (64, 33, 32),
        (300, 257, 255),
        (7, 4, 3),
        (1, 1, 0),
    ] {
        for mutation in 0..6u8 {
            let mut w = Writer::new();
            w.u8(1)
                .u16(n - 1)
                .u16(size - 1)
                .u16(index)
                .u8(mutation)
                .u8(3)
                .u8(77)
                .u64(2)
                .u64(9);
            w.bytes(leaf_bytes);
            c.add(
                &["proof_inclusion"],
                format!("tree-{n}-{size}-{index}-m{mutation}"),
                w.finish(),
            );
            let mut w = Writer::new();
            w.u8(1)
                .u16(n - 1)
                .u16(size)
                .u16(index)
                .u8(mutation)
                .u8(3)
                .u8(77)
                .u64(2)
                .u64(9);
            w.bytes(leaf_bytes);
            c.add(
                &["proof_consistency"],
                format!("tree-{n}-{size}-{index}-m{mutation}"),
                w.finish(),
            );
        }
    }
    for (n, queries) in [(0u16, 0u8), (1, 2), (7, 4), (64, 8), (300, 15), (1024, 15)] {
        let mut w = Writer::new();
        w.u16(n).u8(queries);
        for q in 0..queries {
            w.u8(q).u16(u16::from(q) * 37).u16(u16::from(q) * 101);
        }
        w.bytes(leaf_bytes);
        c.add(
            &["tree_differential"],
            format!("tree-{n}-{queries}"),
            w.finish(),
        );
    }

    // --- Entries and genesis records.
    for (i, e) in v.entries.iter().enumerate() {
        c.add(ENTRY_TARGETS, format!("entry-{i}"), e);
    }
    for (i, e) in v.invalid_entries.iter().enumerate() {
        c.add(ENTRY_TARGETS, format!("invalid-{i:02}"), e);
    }
    c.add(ENTRY_TARGETS, "genesis-proposal", &v.genesis_proposal);
    for (i, e) in wlog.iter().enumerate() {
        c.add(ENTRY_TARGETS, format!("witnessed-{i}"), e);
    }
    witness_change_seeds(&mut c, &v.note_keys);
    // Structured entries, including ones near the 65535-byte limit.
    for (name, seed) in [
        ("small", structured_entry(0x0f, 24, 1, 20, 5, 0, 10, 15)),
        ("response", structured_entry(0x0f, 24, 2, 0, 0, 1, 10, 15)),
        ("record", structured_entry(0x0f, 24, 5, 20, 5, 1, 10, 15)),
        (
            "endorsement",
            structured_entry(0x0f, 24, 6, 16, 40, 0, 10, 15),
        ),
        (
            "genesis-kind",
            structured_entry(0x0f, 24, 0, 20, 5, 0, 10, 15),
        ),
        (
            "sixteen-attachments",
            structured_entry(0x0f, 24, 3, 22, 1000, 16, 1, 15),
        ),
        (
            "near-limit",
            structured_entry(0x0f, 24, 3, 22, 64300, 16, 1, 15),
        ),
        (
            "at-limit",
            structured_entry(0x0f, 24, 3, 22, 65535 - 1206, 3, 1, 15),
        ),
        (
            "max-payload",
            structured_entry(0x0f, 255, 3, 1024, 61440, 16, 1, 15),
        ),
        ("unsorted", structured_entry(0x07, 24, 3, 22, 10, 4, 10, 15)),
        (
            "limit-exact",
            structured_entry(0x1f, 24, 1, 22, 0, 0, 10, 15),
        ),
        (
            "limit-minus-100-with-4-attachments",
            structured_entry(0x1f, 24, 3, 22, 100, 4, 10, 15),
        ),
        (
            "limit-plus-1",
            structured_entry(0x3f, 24, 1, 22, 1, 1, 10, 15),
        ),
        (
            "limit-minus-450-sixteen-small-attachments",
            structured_entry(0x1f, 24, 3, 22, 450, 16, 1, 1),
        ),
    ] {
        c.add(&["entry_differential"], format!("structured-{name}"), seed);
    }
    c.add(&["genesis_decode"], "vectors-record", &v.genesis_record);
    c.add(&["genesis_decode"], "witnessed-record", witnessed_record());
    let mut no_witness_terms = witnessed_record();
    let len = no_witness_terms.len();
    no_witness_terms[len - 17] = 3; // witness_threshold above the witnesses
    c.add(
        &["genesis_decode"],
        "witnessed-threshold-3",
        no_witness_terms,
    );

    // --- Receipts.
    for (i, r) in v.receipts.iter().enumerate() {
        c.add(
            &["receipt_parse", "receipt_verify"],
            format!("vectors-{i}"),
            r,
        );
    }
    for (i, e) in wlog.iter().enumerate() {
        let proof = reference::path(i, &wleaves);
        let r = receipt::format(e, i as u64, &proof, &wnote);
        c.add(
            &["receipt_parse", "receipt_verify"],
            format!("witnessed-{i}"),
            r,
        );
    }

    // --- Evidence of equivocation.
    let mut forked = v.entries.clone();
    forked[3] = signed_entry(
        &v.sequencer,
        &v.origin,
        4,
        9,
        9,
        None,
        "Other history",
        b"forked",
    );
    let forked_leaves: Vec<Hash> = forked.iter().map(|e| leaf_hash(e)).collect();
    let honest5 = committed_note(&v.origin, &vector_leaves, &[], 4);
    let forked5 = committed_note(&v.origin, &forked_leaves[..5], &[], 5);
    let forked4 = committed_note(&v.origin, &forked_leaves[..4], &[], 6);
    let same_size = equivocation::build(&honest5, &forked5, &Contradiction::SameSize);
    let leaf = |leaves: &[Hash], i: usize| LeafInclusion {
        leaf_hash: leaves[i],
        proof: reference::path(i, leaves),
    };
    let different_leaf = equivocation::build(
        &honest5,
        &forked4,
        &Contradiction::DifferentLeaf {
            index: 3,
            first: leaf(&vector_leaves, 3),
            second: leaf(&forked_leaves[..4], 3),
        },
    );
    let mut wforked = wlog.clone();
    wforked[2] = signed_entry(&v.sequencer, WITNESSED_ORIGIN, 4, 1, 2, None, "Forked", b"");
    let wforked_leaves: Vec<Hash> = wforked.iter().map(|e| leaf_hash(e)).collect();
    let wforked_note = committed_note(WITNESSED_ORIGIN, &wforked_leaves, &witnesses[..1], 7);
    let witnessed_same_size = equivocation::build(&wnote, &wforked_note, &Contradiction::SameSize);
    let witnessed_different_leaf = equivocation::build(
        &wnote,
        &wforked_note,
        &Contradiction::DifferentLeaf {
            index: 2,
            first: leaf(&wleaves, 2),
            second: leaf(&wforked_leaves, 2),
        },
    );
    // What is signed here must verify, or the targets' checks of accepted inputs would
    // never run: fail seeding loudly instead.
    let log_key = v.sequencer.log_key(&v.origin);
    let wlog_key = v.sequencer.log_key(WITNESSED_ORIGIN);
    for (e, key) in [
        (&same_size, &log_key),
        (&different_leaf, &log_key),
        (&witnessed_same_size, &wlog_key),
        (&witnessed_different_leaf, &wlog_key),
    ] {
        equivocation::verify(e, key).expect("seed evidence verifies");
    }
    let wtrust = receipt::ReceiptTrust::genesis(&witnessed).expect("witnessed trust");
    for (i, e) in wlog.iter().enumerate() {
        let r = receipt::format(e, i as u64, &reference::path(i, &wleaves), &wnote);
        receipt::verify(&r, &wtrust).expect("seed receipt verifies");
    }
    for (name, e) in [
        ("same-size", same_size),
        ("different-leaf", different_leaf),
        ("witnessed-same-size", witnessed_same_size),
        ("witnessed-different-leaf", witnessed_different_leaf),
    ] {
        c.add(&["evidence_parse", "evidence_verify"], name, e);
    }
    // Broken promises: the log promised another leaf at index 3 of the forked tree.
    let promised = leaf_hash(b"the promised entry");
    let promise_text = format!(
        "dyad-promise/v1\n{}\n2\n{}\n3\n{}\n",
        v.origin,
        BASE64.encode(vector_leaves[2]),
        BASE64.encode(promised)
    );
    let promise_note = sign_note(
        &promise_text,
        &[NoteSigner::Ed25519 {
            key: &v.sequencer,
            name: &v.origin,
        }],
    );
    let broken = promise_evidence::build(
        3,
        &forked_leaves[3],
        &reference::path(3, &forked_leaves[..5]),
        &promise_note,
        &forked5,
    );
    promise_evidence::verify(&broken, &log_key).expect("seed broken-promise evidence verifies");
    c.add(&["evidence_broken_promise"], "broken-promise", broken);
    for (name, n) in [
        ("honest5", &honest5),
        ("forked5", &forked5),
        ("forked4", &forked4),
    ] {
        c.add(NOTE_TARGETS, format!("evidence-{name}"), n);
    }

    // --- Audit streams (layout in audit_stream.rs).
    let mut w = Writer::new();
    w.u8(0).u8(2).u8(0).u8(3).u8(0).u8(3).u8(1);
    for i in 1..v.entries.len() as u8 {
        w.u8(2).u8(i);
    }
    c.add(&["audit_stream"], "vectors-log-parties", w.finish());
    let mut w = Writer::new();
    w.u8(1).u8(2).u8(0).u8(3).u8(0);
    for i in 1..v.entries.len() as u8 {
        w.u8(2).u8(i);
    }
    w.u8(3).u8(1);
    c.add(&["audit_stream"], "vectors-log-pinned", w.finish());
    let mut w = Writer::new();
    w.u8(0)
        .u8(0)
        .chunk(&v.entries[0])
        .u8(1)
        .chunk(&v.checkpoints[0]);
    for e in &v.entries[1..] {
        w.u8(0).chunk(e);
    }
    w.u8(1).chunk(&v.checkpoints[1]);
    c.add(&["audit_stream"], "vectors-log-raw", w.finish());
    // Genesis, then entries signed here, then a checkpoint over them.
    let mut w = Writer::new();
    w.u8(0).u8(2).u8(0);
    w.u8(4)
        .u8(1)
        .u8(1)
        .u8(1)
        .u16(1)
        .u8(0)
        .chunk(b"Scanning from AS64500")
        .chunk(b"seen");
    w.u8(4)
        .u8(0)
        .u8(2)
        .u8(1)
        .u16(2)
        .u8(2)
        .chunk(b"Re: Scanning")
        .chunk(b"investigating");
    w.u8(5).u8(0).u8(0).u16(3);
    w.u8(4)
        .u8(1)
        .u8(3)
        .u8(2)
        .u16(4)
        .u8(0)
        .chunk(b"Indicators")
        .chunk(b"{}");
    w.u8(5).u8(0).u8(0).u16(5);
    c.add(&["audit_stream"], "signed-entries", w.finish());
    // Records and endorsements (spec 3.6): alpha's record 1, bravo's endorsement of it
    // (its payload made by the target), then each refused endorsement after it.
    let joint = |tail: &[(u8, u8, u8, u8)]| {
        let mut w = Writer::new();
        w.u8(0).u8(2).u8(0);
        w.u8(4)
            .u8(0)
            .u8(5)
            .u8(1)
            .u16(1)
            .u8(0)
            .chunk(b"Minutes")
            .chunk(b"1. Agreed.");
        w.u8(4)
            .u8(1)
            .u8(6)
            .u8(1)
            .u16(2)
            .u8(2)
            .chunk(b"Endorses entry 1")
            .chunk(b"");
        for &(who, kind, sequence, reply) in tail {
            w.u8(4)
                .u8(who)
                .u8(kind)
                .u8(sequence)
                .u16(3)
                .u8(reply)
                .chunk(b"x")
                .chunk(b"");
        }
        w.u8(5).u8(0).u8(0).u16(5);
        w.finish()
    };
    for (name, tail) in [
        ("record-endorsed", &[][..]),
        ("second-endorsement", &[(1, 6, 2, 2)][..]),
        ("endorsement-of-own-record", &[(0, 6, 2, 2)][..]),
        ("endorsement-of-an-endorsement", &[(0, 6, 2, 3)][..]),
        ("endorsement-of-the-genesis", &[(1, 6, 2, 1)][..]),
        ("endorsement-of-a-later-index", &[(1, 6, 2, 9)][..]),
    ] {
        c.add(&["audit_stream"], format!("joint-{name}"), joint(tail));
    }
    // The same checkpoint size twice with different roots: equivocation.
    let mut w = Writer::new();
    w.u8(0)
        .u8(2)
        .u8(0)
        .u8(5)
        .u8(0)
        .u8(0)
        .u16(1)
        .u8(5)
        .u8(4)
        .u8(9)
        .u16(2);
    c.add(&["audit_stream"], "equivocation", w.finish());
    // The witnessed channel: its genesis, entries, checkpoints with witnesses.
    let mut w = Writer::new();
    w.u8(4).u8(6).u8(5).u8(0x30).u8(0).u16(1);
    w.u8(4)
        .u8(1)
        .u8(1)
        .u8(1)
        .u16(2)
        .u8(0)
        .chunk(b"Scanning")
        .chunk(b"seen");
    w.u8(5).u8(0x70).u8(0).u16(3);
    w.u8(4)
        .u8(0)
        .u8(2)
        .u8(1)
        .u16(4)
        .u8(2)
        .chunk(b"Re: Scanning")
        .chunk(b"");
    w.u8(5).u8(0x50).u8(0).u16(5);
    c.add(&["audit_stream"], "witnessed-channel", w.finish());
    let mut w = Writer::new();
    w.u8(0).u8(6).u8(5).u8(0x60).u8(0).u16(1);
    c.add(&["audit_stream"], "witnessed-channel-parties", w.finish());

    // --- Sync bundles (spec/sync.md), tiles, and the node's HTTP bodies.
    node_seeds(&mut c);
    access_seeds(&mut c);
    stix_seeds(&mut c);
    taxii_seeds(&mut c);

    let mut total = 0;
    for (target, files) in &c.files {
        let dir = out.join(target);
        std::fs::create_dir_all(&dir).expect("create corpus dir");
        for (name, bytes) in files {
            std::fs::write(dir.join(format!("seed-{name}")), bytes).expect("write seed");
            total += 1;
        }
    }
    println!(
        "wrote {total} seeds for {} targets under {}",
        c.files.len(),
        out.display()
    );
}

/// A `dyad-sync/v1` bundle of `records` (tag and data; an entry's data is its index and
/// bytes), with its end line.
fn bundle(origin: &str, records: &[(&str, Option<u64>, &[u8])]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut text = format!("dyad-sync/v1\norigin {origin}\n");
    for (tag, index, data) in records {
        match index {
            Some(i) => text.push_str(&format!("{tag} {i} {}\n", BASE64.encode(data))),
            None => text.push_str(&format!("{tag} {}\n", BASE64.encode(data))),
        }
    }
    let digest = BASE64.encode(Sha256::digest(text.as_bytes()));
    text.push_str(&format!("end {} {digest}\n", records.len()));
    text.into_bytes()
}

/// A bundle of `magic`, the origin line, `lines` and its end line.
fn bundle_lines(origin: &str, magic: &str, lines: &[String]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut text = format!("{magic}\norigin {origin}\n");
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    let digest = BASE64.encode(Sha256::digest(text.as_bytes()));
    text.push_str(&format!("end {} {digest}\n", lines.len()));
    text.into_bytes()
}

/// `node_http`'s channel (fuzz_targets/node_http.rs): its origin and parties.
const NODE_ORIGIN: &str = "example.org/dyad/fuzz";

/// Witness-change records (spec 3.8): none, one and three witnesses of the vectors' keys;
/// with a seed in front, the `witness_change` target signs them.
fn witness_change_seeds(c: &mut Corpus, keys: &[KeyPair]) {
    use dyad_verifier::genesis::Party;
    use dyad_verifier::witness_change::WitnessChangePayload;
    for (count, threshold) in [(0, 0), (1, 1), (3, 2)] {
        let payload = WitnessChangePayload {
            number: 1 + count as u32,
            witnesses: keys
                .iter()
                .take(count)
                .map(|k| Party {
                    name: k.name.clone(),
                    public_key: k.public_key,
                })
                .collect(),
            witness_threshold: threshold,
            approval: [0x5a; 64],
        };
        let bytes = payload.encode();
        c.add(&["witness_change"], format!("record-{count}"), &bytes);
        let mut signed = keys[0].seed.to_vec();
        signed.extend_from_slice(&bytes);
        c.add(
            &["witness_change"],
            format!("seeded-record-{count}"),
            signed,
        );
    }
}

fn node_seeds(c: &mut Corpus) {
    let v = vectors();
    let with = |flag: u8, body: &[u8]| [&[flag][..], body].concat();

    // Bundles: what each party writes (spec/sync.md section 2), from the vectors' log.
    let genesis = &v.entries[0];
    let mut seq_records: Vec<(&str, Option<u64>, &[u8])> = vec![("genesis", None, genesis)];
    for (i, e) in v.entries.iter().enumerate().skip(1) {
        seq_records.push(("entry", Some(i as u64), e));
    }
    if let Some(last) = v.checkpoints.last() {
        seq_records.push(("checkpoint", None, last));
    }
    for cp in &v.checkpoints {
        seq_records.push(("cosigned", None, cp));
    }
    let sequencer = bundle(&v.origin, &seq_records);
    let cosigner_records: Vec<(&str, Option<u64>, &[u8])> = v
        .entries
        .iter()
        .skip(1)
        .take(2)
        .map(|e| ("submission", None, e.as_slice()))
        .chain(
            v.checkpoints
                .first()
                .map(|cp| ("cosigned", None, cp.as_slice())),
        )
        .collect();
    let bundles = [
        ("sequencer", sequencer.clone()),
        ("cosigner", bundle(&v.origin, &cosigner_records)),
        (
            "proposal",
            bundle(&v.origin, &[("proposal", None, &v.genesis_proposal)]),
        ),
        ("genesis", bundle(&v.origin, &[("genesis", None, genesis)])),
        ("empty", bundle(&v.origin, &[])),
        (
            "entry-at-max-index",
            bundle(&v.origin, &[("entry", Some(u64::MAX), &v.entries[1])]),
        ),
    ];
    for (name, b) in &bundles {
        c.add(&["sync_bundle"], format!("bundle-{name}"), with(0, b));
        c.add(
            &["sync_bundle"],
            format!("bundle-{name}-fixed-up"),
            with(1, b),
        );
        c.add(
            &["sync_bundle"],
            format!("bundle-{name}-small-reads"),
            with(0x3c, b),
        );
    }
    // Version 2 (spec/sync.md): an entry, a 5-byte attachment (one chunk), an empty one
    // (no chunk) and the checkpoint; and an attachment whose chunk is missing.
    let entry = BASE64.encode(&v.entries[1]);
    let v2 = [
        (
            "v2-attachment",
            vec![
                format!("entry 1 {entry}"),
                format!("attachment {} 5", "11".repeat(32)),
                format!("chunk {}", BASE64.encode(b"hello")),
                format!("attachment {} 0", "22".repeat(32)),
                format!("checkpoint {}", BASE64.encode(b"note")),
            ],
        ),
        (
            "v2-chunk-missing",
            vec![
                format!("submission {entry}"),
                format!("attachment {} 7", "11".repeat(32)),
                format!("cosigned {}", BASE64.encode(b"note")),
            ],
        ),
    ];
    for (name, lines) in &v2 {
        let b = bundle_lines(&v.origin, "dyad-sync/v2", lines);
        c.add(&["sync_bundle"], format!("bundle-{name}"), with(0, &b));
        c.add(
            &["sync_bundle"],
            format!("bundle-{name}-small-reads"),
            with(0x3d, &b),
        );
    }
    let text = String::from_utf8(sequencer).expect("bundles are text");
    let cut = text.rfind("end ").expect("an end line");
    c.add(
        &["sync_bundle"],
        "bundle-sequencer-without-end",
        with(1, &text.as_bytes()[..cut]),
    );

    // Attachment names: the canonical form and near misses.
    for (i, name) in [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855/",
        ".attachment.0123456789abcdef.tmp",
    ]
    .iter()
    .enumerate()
    {
        c.add(&["attachment_name"], format!("name-{i}"), name.as_bytes());
    }

    // Tiles: paths, hash tiles and entry bundles of the vectors' log, tree sizes.
    let leaves: Vec<Hash> = v.entries.iter().map(|e| leaf_hash(e)).collect();
    for path in [
        "tile/0/000",
        "tile/0/000.p/5",
        "tile/1/x001/x234/067.p/255",
        "tile/entries/000.p/5",
        "tile/entries/x001/000",
        "tile/7/x018/x446/x744/x073/x709/551",
        "tile/63/000",
    ] {
        c.add(
            &["tile_parse"],
            format!("path-{}", path.replace('/', "_")),
            with(0, path.as_bytes()),
        );
        c.add(
            &["node_http"],
            format!("tile-{}", path.replace('/', "_")),
            with(4, path.trim_start_matches("tile/").as_bytes()),
        );
    }
    let mut w = Writer::new();
    w.u8(1).u16(leaves.len() as u16).bytes(&leaves.concat());
    c.add(&["tile_parse"], "hash-tile-vectors", w.finish());
    let mut bundle_bytes = Vec::new();
    for e in &v.entries {
        bundle_bytes.extend_from_slice(&(e.len() as u16).to_be_bytes());
        bundle_bytes.extend_from_slice(e);
    }
    let mut w = Writer::new();
    w.u8(2).u16(v.entries.len() as u16).bytes(&bundle_bytes);
    c.add(&["tile_parse"], "entry-bundle-vectors", w.finish());
    for size in [0, 1, 5, 256, 257, 65_536 + 3, 1 << 40, u64::MAX] {
        let mut w = Writer::new();
        w.u8(3).u64(size);
        c.add(&["tile_parse"], format!("tree-size-{size}"), w.finish());
    }
    for index in ["000", "x001/x234/067", "x018/x446/x744/x073/x709/551/615"] {
        c.add(
            &["tile_parse"],
            format!("index-{}", index.replace('/', "_")),
            with(4, index.as_bytes()),
        );
    }

    // add-checkpoint requests (tlog-witness): the vectors' checkpoints, with and without
    // a consistency proof.
    for (i, cp) in v.checkpoints.iter().enumerate() {
        let mut body = format!("old {i}\n").into_bytes();
        for h in leaves.iter().take(i) {
            body.extend_from_slice(format!("{}\n", BASE64.encode(h)).as_bytes());
        }
        body.push(b'\n');
        body.extend_from_slice(cp);
        c.add(
            &["node_bodies"],
            format!("add-checkpoint-{i}"),
            with(0, &body),
        );
        c.add(
            &["node_http"],
            format!("add-checkpoint-{i}"),
            with(1, &body),
        );
        // The standalone witness: no record, and a record at the old size.
        c.add(
            &["witness_request"],
            format!("add-checkpoint-{i}-new"),
            with(0, &body),
        );
        c.add(
            &["witness_request"],
            format!("add-checkpoint-{i}-recorded"),
            with(i as u8 + 1, &body),
        );
        // The cosignature lines of the note: a 200 answer.
        let text = String::from_utf8_lossy(cp);
        let sigs: String = text
            .lines()
            .filter(|l| l.starts_with('\u{2014}'))
            .map(|l| format!("{l}\n"))
            .collect();
        c.add(
            &["node_bodies"],
            format!("cosignature-response-{i}"),
            with(1, sigs.as_bytes()),
        );
    }
    c.add(&["node_bodies"], "size-body", with(2, b"42\n"));
    c.add(
        &["node_bodies"],
        "size-body-max",
        with(2, b"18446744073709551615\n"),
    );

    // Promises of inclusion: the text, and a note signed as node_bodies' test log.
    let alpha = KeyPair::from_seed("example.org/alpha", [1; 32]);
    let promise = format!(
        "dyad-promise/v1\nexample.org/dyad/test\n42\n{}\n",
        BASE64.encode(leaves[1])
    );
    c.add(
        &["node_bodies"],
        "promise-text",
        with(3, promise.as_bytes()),
    );
    let signed = sign_note(
        &promise,
        &[NoteSigner::Ed25519 {
            key: &alpha,
            name: "example.org/dyad/test",
        }],
    );
    c.add(&["node_bodies"], "promise-note", with(4, &signed));

    // Admin API bodies.
    for (name, json) in [
        (
            "minimal",
            r#"{"kind":"notification","content_type":"text/plain"}"#,
        ),
        (
            "full",
            r#"{"kind":"response","subject":"Re: scan","content_type":"text/plain; charset=utf-8","payload":"aGVsbG8=","reply_to":1,"wait":"committed","timeout_ms":500}"#,
        ),
        (
            "queued",
            r#"{"kind":"inquiry","subject":"q","content_type":"application/json","payload":"e30=","wait":"queued"}"#,
        ),
        (
            "genesis-kind",
            r#"{"kind":"genesis","content_type":"text/plain"}"#,
        ),
        (
            "unknown-field",
            r#"{"kind":"notification","content_type":"text/plain","extra":1}"#,
        ),
    ] {
        c.add(
            &["node_bodies"],
            format!("admin-{name}"),
            with(5, json.as_bytes()),
        );
        c.add(
            &["node_http"],
            format!("admin-seq-{name}"),
            with(2, json.as_bytes()),
        );
        c.add(
            &["node_http"],
            format!("admin-cos-{name}"),
            with(3, json.as_bytes()),
        );
    }
    c.add(
        &["node_bodies"],
        "admin-answer",
        with(
            6,
            br#"{"state":"committed","index":3,"leaf_hash":"00","promise":null}"#,
        ),
    );

    // POST /submit-batch (node_bodies modes 7-9): the vectors' entries framed, an answer
    // with one refusal among acceptances, and a promise covering several entries.
    c.add(
        &["node_bodies"],
        "submit-batch-body",
        with(7, &bundle_bytes),
    );
    let mut answer = vec![3u8];
    answer.extend_from_slice(b"200 7\n409 sequence number 2 is not the next one\n200 8\n\n");
    answer.extend_from_slice(&signed);
    c.add(&["node_bodies"], "submit-batch-answer", with(8, &answer));
    let batch_promise = format!(
        "dyad-promise/v1\nexample.org/dyad/test\n7\n{}\n8\n{}\n",
        BASE64.encode(leaves[0]),
        BASE64.encode(leaves[1])
    );
    c.add(
        &["node_bodies"],
        "batch-promise-text",
        with(9, batch_promise.as_bytes()),
    );

    // Submissions: entries of the vectors' channel (another origin to node_http), and an
    // entry signed by node_http's co-signer for its channel. node_http's genesis is
    // created when it starts, so no fixed timestamp is valid: this one, ten years after
    // the vectors' genesis, passes the signature check and is refused by the sequencer
    // as too far in the future (the channel rules' path).
    let bravo = KeyPair::from_seed("example.org/bravo", [2; 32]);
    let future_ms = GENESIS_MS + 10 * 365 * 86_400_000;
    let own = signed_entry_at(&bravo, NODE_ORIGIN, 4, 1, future_ms, "fuzz", b"hello");
    c.add(&["node_http"], "submit-cosigner-entry", with(0, &own));
    c.add(&["node_http"], "submit-to-cosigner", with(5, &own));
    for (i, e) in v.entries.iter().enumerate().take(3) {
        c.add(&["node_http"], format!("submit-vectors-{i}"), with(0, e));
    }
    c.add(
        &["node_http"],
        "add-checkpoint-to-sequencer",
        with(6, b"old 0\n\nx"),
    );
    // Checkpoint texts of node_http's channel, which the target signs as its log: sizes
    // the co-signer cannot hold yet, with and without a proof.
    for (name, old, proof, size) in [
        ("from-0", 0u64, 0usize, 1u64),
        ("from-1", 1, 1, 3),
        ("far-ahead", 0, 0, 1 << 20),
        ("rollback", 5, 0, 2),
    ] {
        let mut body = format!("old {old}\n").into_bytes();
        for h in leaves.iter().take(proof) {
            body.extend_from_slice(format!("{}\n", BASE64.encode(h)).as_bytes());
        }
        body.push(b'\n');
        body.extend_from_slice(checkpoint_text(NODE_ORIGIN, size, &leaves[0]).as_bytes());
        c.add(
            &["node_http"],
            format!("signed-checkpoint-{name}"),
            with(8, &body),
        );
    }
    c.add(&["node_http"], "wrong-token", with(7, b"{}"));
    // The admin reads' queries (case 12: a byte picks the path, the rest is the query).
    for (name, pick, query) in [
        ("admin-receipt", 0u8, &b"index=0"[..]),
        ("admin-inclusion", 1, b"index=0&size=1"),
        ("admin-consistency", 2, b"old=1&new=1"),
        ("admin-checkpoint", 3, b"size=1"),
        ("admin-bad-query", 1, b"index=-1&index=2&x"),
    ] {
        let mut body = vec![pick];
        body.extend_from_slice(query);
        c.add(&["node_http"], name, with(12, &body));
    }
}

/// An entry signed by `key` for `origin` at a given time (milliseconds).
fn signed_entry_at(
    key: &KeyPair,
    origin: &str,
    kind: u8,
    sequence: u64,
    timestamp_ms: u64,
    subject: &str,
    payload: &[u8],
) -> Vec<u8> {
    let id = key_id(&key.name, SignatureType::Ed25519, &key.public_key);
    let mut e = RawEntry {
        version: 1,
        origin: origin.as_bytes().to_vec(),
        kind,
        sender: id,
        sequence,
        timestamp_ms,
        reply_to: None,
        subject: subject.as_bytes().to_vec(),
        content_type: b"text/plain; charset=utf-8".to_vec(),
        payload: payload.to_vec(),
        attachments: Vec::new(),
        signatures: Vec::new(),
    };
    let sig = key.sign(&e.signed_message());
    e.signatures.push((id, sig));
    e.encode()
}

/// Seeds of the TLS binding and the read credential file (spec/node.md 9.3 and 9.5).
fn access_seeds(c: &mut Corpus) {
    let token = format!("dyadr_{}", "A".repeat(43));
    let pin = format!("sha256//{}=", "A".repeat(43));
    let credential =
        format!("dyad-read-credential/v1\nname auditor\ntoken {token}\nserver-pin {pin}\n");
    c.add(&["read_credential"], "no-expiry", &credential);
    c.add(
        &["read_credential"],
        "expires",
        format!("{credential}expires 1800000000\n"),
    );
    // access_store: the credential store's JSON, empty and with grants (with and without
    // an expiry).
    c.add(
        &["access_store"],
        "empty",
        "{\"version\": 1, \"grants\": []}\n",
    );
    let hash = "ab".repeat(32);
    c.add(
        &["access_store"],
        "two-grants",
        format!(
            "{{\"version\": 1, \"grants\": [{{\"name\": \"auditor\", \"token_sha256\": \"{hash}\", \"granted_at\": 1767225600}}, {{\"name\": \"siem.1\", \"token_sha256\": \"{hash}\", \"granted_at\": 1767225600, \"expires\": 1800000000}}]}}\n"
        ),
    );
    // tls_binding: byte 0 odd is the target's own valid certificate (no edits); even is a
    // raw DyadTlsBinding: SEQUENCE { OCTET STRING (32), INTEGER, OCTET STRING (64) }.
    c.add(&["tls_binding"], "valid-certificate", [1u8]);
    c.add(
        &["tls_binding"],
        "valid-certificate-edited",
        [1u8, 0, 200, 0x30],
    );
    let mut value = vec![0u8, 0x30, 0x6a, 0x04, 0x20];
    value.extend_from_slice(&[7; 32]);
    value.extend_from_slice(&[0x02, 0x04, 0x6b, 0x49, 0xd2, 0x00, 0x04, 0x40]);
    value.extend_from_slice(&[9; 64]);
    c.add(&["tls_binding"], "binding-value", value);
}

/// The STIX corpus of the ledger's differential test (valid and invalid documents, the
/// patterns and their mutations), read from the checkout: the `stix` target's seeds.
fn stix_seeds(c: &mut Corpus) {
    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ledger/tests/stix-corpus");
    for kind in ["valid", "invalid"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(corpus.join(kind))
            .expect("ledger/tests/stix-corpus")
            .map(|e| e.expect("a corpus file").path())
            .collect();
        files.sort();
        for path in files {
            let name = path.file_stem().expect("a file name").to_string_lossy();
            let bytes = std::fs::read(&path).expect("a corpus file");
            c.add(&["stix"], format!("{kind}-{name}"), bytes);
        }
    }
    let patterns = std::fs::read_to_string(corpus.join("patterns.txt")).expect("patterns.txt");
    for (i, pattern) in patterns.lines().take(300).enumerate() {
        c.add(&["stix"], format!("pattern-{i:04}"), pattern);
    }
}

/// TAXII 2.1 queries and `Accept` values (spec/node.md 11.4), a query and an `Accept`
/// per seed, split at the newline: the `taxii_query` target's seeds.
fn taxii_seeds(c: &mut Corpus) {
    let seeds = [
        "limit=100&next=p200\napplication/taxii+json;version=2.1",
        "added_after=2026-01-01T00:00:00.123456Z&match[type]=indicator,malware\n*/*",
        "match%5Bid%5D=indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f&match[version]=all\napplication/*;q=0",
        "match[version]=first,last,2026-01-01T00:00:00Z&match[spec_version]=2.1\ntext/html, application/taxii+json",
        "limit=0&next=\napplication/taxii+json;version=2.0",
        "limit=99999999999999999999&next=p18446744073709551615\n",
    ];
    for (i, seed) in seeds.iter().enumerate() {
        c.add(&["taxii_query"], format!("query-{i}"), *seed);
    }
}
