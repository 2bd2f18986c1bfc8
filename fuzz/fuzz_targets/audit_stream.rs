//! `dyad_verifier::audit::Auditor` fed a short fuzzer-chosen stream of leaves and
//! checkpoint notes: never panics, and what it accepts is right.
//!
//! Input (big-endian, `dyad_fuzz::Cursor`): a trust byte (bit 0: pin the spec vectors'
//! genesis, else trust the two party keys; bit 1: give the party keys in swapped order;
//! bit 2: pin the witnessed channel's genesis instead), then up to 48 operations, each an
//! op byte (% 7) and its fields:
//!
//! 0. a raw leaf: `len u16, bytes`;
//! 1. a raw checkpoint note: `len u16, bytes`;
//! 2. entry `u8 % n` of the spec vectors' log of n entries;
//! 3. checkpoint note `u8 % 2` of the spec vectors' log;
//! 4. an entry signed here: `who u8` (bit 0: the co-signer sends, else the sequencer; bit 1:
//!    the other party's key signs), `kind u8 % 7`, `sequence u8`, `minutes i16` after the
//!    genesis time, `reply u8` (0: none, else reply_to = reply - 1), `subject` and `payload`
//!    (`len u16, bytes` each), in the current channel's origin; an endorsement (kind 6) has
//!    the endorsement content type, and with an empty payload and a reply_to it names the
//!    reply_to by the leaf hash accepted there (spec 3.6), so that the rules needing the
//!    log are reached;
//! 5. a checkpoint signed here over the leaves accepted so far: `flags u8` (bit 0: no log
//!    signature, bit 1: no co-signature, bit 2: flip a root bit, bit 3: the size is the
//!    next byte instead of the leaf count, bits 4-6: cosignatures by witnesses X1-X3),
//!    `size u8`, `minutes u16` after the genesis time for the cosignatures;
//! 6. the witnessed channel's genesis entry, signed by both parties.
//!
//! The stream stops at the first error (the auditor fails from then on). Checked: the
//! auditor's root after each accepted leaf is the reference MTH of the accepted leaves;
//! every accepted leaf decodes the same way in the ledger; evidence of equivocation that
//! the auditor produces verifies against the log key; a finished audit reports the leaf
//! count, root and kinds of what was accepted.
#![no_main]

use std::sync::OnceLock;

use dyad_fuzz::oracle::entry_mismatch;
use dyad_fuzz::reference::{leaf_hash, mth, RawEntry};
use dyad_fuzz::vectors::{
    checkpoint_text, sign_note, vectors, witnessed_record, NoteSigner, WITNESSED_ORIGIN,
};
use dyad_fuzz::{Cursor, Hash};
use dyad_ledger::entry::Entry as LedgerEntry;
use dyad_verifier::audit::{AuditError, AuditTrust, Auditor};
use dyad_verifier::equivocation;
use dyad_verifier::genesis::{self, Genesis};
use dyad_verifier::joint_record::{EndorsementPayload, ENDORSEMENT_CONTENT_TYPE};
use dyad_verifier::key::{key_id, SignatureType};
use dyad_verifier::Kind;
use libfuzzer_sys::fuzz_target;

const GENESIS_MS: u64 = 1_767_225_600_000;

struct Fixed {
    genesis: Genesis,
    witnessed: Genesis,
    witnessed_entry: Vec<u8>,
}

fn fixed() -> &'static Fixed {
    static FIXED: OnceLock<Fixed> = OnceLock::new();
    FIXED.get_or_init(|| {
        let v = vectors();
        let record = witnessed_record();
        let sender = v.sequencer.entry_key().key_id();
        let mut entry = RawEntry {
            version: 1,
            origin: WITNESSED_ORIGIN.as_bytes().to_vec(),
            kind: 0,
            sender,
            sequence: 0,
            timestamp_ms: GENESIS_MS,
            reply_to: None,
            subject: b"channel with witnesses".to_vec(),
            content_type: genesis::CONTENT_TYPE.as_bytes().to_vec(),
            payload: record.clone(),
            attachments: Vec::new(),
            signatures: Vec::new(),
        };
        let message = entry.signed_message();
        entry.signatures = vec![
            (sender, v.sequencer.sign(&message)),
            (v.cosigner.entry_key().key_id(), v.cosigner.sign(&message)),
        ];
        let witnessed_entry = entry.encode();
        genesis::check_genesis(&witnessed_entry).expect("the witnessed genesis entry is valid");
        Fixed {
            genesis: genesis::decode_record(&v.genesis_record).expect("vector genesis"),
            witnessed: genesis::decode_record(&record).expect("witnessed genesis"),
            witnessed_entry,
        }
    })
}

/// An endorsement's payload naming `reply_to` by the leaf hash accepted there (zero
/// beyond the accepted leaves), for an endorsement given an empty payload.
fn endorsement_payload(reply_to: Option<u64>, leaves: &[Hash]) -> Option<Vec<u8>> {
    let record = reply_to?;
    let hash = usize::try_from(record)
        .ok()
        .and_then(|i| leaves.get(i))
        .copied()
        .unwrap_or([0; 32]);
    let named = EndorsementPayload {
        record,
        record_leaf_hash: hash,
    };
    Some(named.encode().to_vec())
}

fn signed_entry(c: &mut Cursor<'_>, origin: &str, leaves: &[Hash]) -> Vec<u8> {
    let v = vectors();
    let who = c.u8();
    let (sender, other) = if who & 1 == 1 {
        (&v.cosigner, &v.sequencer)
    } else {
        (&v.sequencer, &v.cosigner)
    };
    let signer = if who & 2 != 0 { other } else { sender };
    let kind = c.u8() % 7;
    let sequence = u64::from(c.u8());
    let minutes = c.u16() as i16;
    let reply = c.u8();
    let subject = c.chunk().to_vec();
    let mut payload = c.chunk().to_vec();
    let reply_to = (reply != 0).then(|| u64::from(reply - 1));
    let mut content_type = b"text/plain; charset=utf-8".to_vec();
    if kind == Kind::Endorsement.as_u8() {
        content_type = ENDORSEMENT_CONTENT_TYPE.as_bytes().to_vec();
        if payload.is_empty() {
            payload = endorsement_payload(reply_to, leaves).unwrap_or_default();
        }
    }
    let id = key_id(&sender.name, SignatureType::Ed25519, &sender.public_key);
    let mut entry = RawEntry {
        version: 1,
        origin: origin.as_bytes().to_vec(),
        kind,
        sender: id,
        sequence,
        timestamp_ms: GENESIS_MS.saturating_add_signed(i64::from(minutes) * 60_000),
        reply_to,
        subject,
        content_type,
        payload,
        attachments: Vec::new(),
        signatures: Vec::new(),
    };
    let signature = signer.sign(&entry.signed_message());
    entry.signatures = vec![(id, signature)];
    if kind == 0 {
        entry.signatures.push((id, signature));
    }
    entry.encode()
}

fn signed_checkpoint(c: &mut Cursor<'_>, origin: &str, leaves: &[Hash]) -> Vec<u8> {
    let v = vectors();
    let flags = c.u8();
    let size_byte = c.u8();
    let minutes = c.u16();
    let size = if flags & 8 != 0 {
        usize::from(size_byte)
    } else {
        leaves.len()
    };
    let mut root = mth(&leaves[..size.min(leaves.len())]);
    if flags & 4 != 0 {
        root[usize::from(size_byte) % 32] ^= 1;
    }
    let text = checkpoint_text(origin, size as u64, &root);
    let timestamp = GENESIS_MS / 1000 + u64::from(minutes) * 60;
    let mut signers = Vec::new();
    if flags & 1 == 0 {
        signers.push(NoteSigner::Ed25519 {
            key: &v.sequencer,
            name: origin,
        });
    }
    if flags & 2 == 0 {
        signers.push(NoteSigner::Cosignature {
            key: &v.cosigner,
            timestamp,
        });
    }
    for (i, w) in v.witnesses().into_iter().enumerate() {
        if flags & (16 << i) != 0 {
            signers.push(NoteSigner::Cosignature { key: w, timestamp });
        }
    }
    sign_note(&text, &signers)
}

enum Item {
    Leaf(Vec<u8>),
    Checkpoint(Vec<u8>),
}

fuzz_target!(|data: &[u8]| {
    let v = vectors();
    let f = fixed();
    let mut c = Cursor::new(data);
    let trust = c.u8();
    let (a, b) = (v.sequencer.entry_key(), v.cosigner.entry_key());
    let trust = if trust & 4 != 0 {
        AuditTrust::Genesis(f.witnessed.clone())
    } else if trust & 1 != 0 {
        AuditTrust::Genesis(f.genesis.clone())
    } else if trust & 2 != 0 {
        AuditTrust::Parties([b, a])
    } else {
        AuditTrust::Parties([a, b])
    };
    let mut auditor = Auditor::new(trust).expect("auditor");
    let mut accepted: Vec<Vec<u8>> = Vec::new();
    let mut hashes: Vec<Hash> = Vec::new();

    for _ in 0..48 {
        if c.is_empty() {
            break;
        }
        let origin = auditor
            .channel()
            .map_or(v.origin.clone(), |ch| ch.origin().to_string());
        let item = match c.u8() % 7 {
            0 => Item::Leaf(c.chunk().to_vec()),
            1 => Item::Checkpoint(c.chunk().to_vec()),
            2 => Item::Leaf(v.entries[usize::from(c.u8()) % v.entries.len()].clone()),
            3 => Item::Checkpoint(v.checkpoints[usize::from(c.u8()) % v.checkpoints.len()].clone()),
            4 => Item::Leaf(signed_entry(&mut c, &origin, &hashes)),
            5 => Item::Checkpoint(signed_checkpoint(&mut c, &origin, &hashes)),
            _ => Item::Leaf(f.witnessed_entry.clone()),
        };
        let result = match &item {
            Item::Leaf(bytes) => auditor.push_leaf(bytes),
            Item::Checkpoint(note) => auditor.check_checkpoint(note).map(|_| ()),
        };
        match (result, item) {
            (Ok(()), Item::Leaf(bytes)) => {
                hashes.push(leaf_hash(&bytes));
                assert_eq!(auditor.leaves(), hashes.len() as u64);
                assert_eq!(
                    auditor.root(),
                    mth(&hashes),
                    "auditor root differs from the reference"
                );
                let decoded =
                    dyad_verifier::entry::decode(&bytes).expect("an audited leaf decodes");
                match LedgerEntry::decode(&bytes) {
                    Ok(l) => {
                        if let Some(diff) = entry_mismatch(&decoded, &l) {
                            panic!("the ledger reads an audited entry differently: {diff}");
                        }
                    }
                    Err(e) => panic!("the ledger rejects an entry the auditor accepted: {e:?}"),
                }
                accepted.push(bytes);
            }
            (Ok(()), Item::Checkpoint(_)) => {}
            (Err(AuditError::ConflictingCheckpoints { evidence, .. }), _) => {
                let channel = auditor.channel().expect("a channel before any checkpoint");
                let log_key = channel.commit_keys().log.clone();
                if let Err(e) = equivocation::verify(&evidence, &log_key) {
                    panic!("the auditor's own evidence does not verify: {e}");
                }
                return;
            }
            (Err(_), _) => return,
        }
    }

    if let Ok(report) = auditor.finish() {
        assert_eq!(report.leaves, accepted.len() as u64);
        assert_eq!(report.root, mth(&hashes));
        assert!(report.committed_size <= report.leaves);
        assert_eq!(report.pending, report.leaves - report.committed_size);
        assert_eq!(report.kinds.iter().sum::<u64>(), report.leaves);
        assert_eq!(
            report.entries_by_sequencer + report.entries_by_cosigner,
            report.leaves
        );
    }
});
