//! The `key_changes` section of the spec vectors (spec/dyad.md 3.7, 8): the vector log
//! continued with a key change by each party, a message under each new key, the checkpoints
//! signed with the keys at their sizes, receipts with their key history, and invalid key
//! changes that each break one rule.

use dyad_ledger::channel::Channel;
use dyad_ledger::entry::key_change::{statement, KeyChange};
use dyad_ledger::entry::{Attachment, Draft, Kind, SignedEntry};
use dyad_ledger::genesis::Party;
use dyad_ledger::keys::SignerKey;
use serde_json::{json, Value};

use super::{entry_vector, hex, key, resign, ORIGIN, STEP_MS};

/// A party's key as the vectors list it: its seed, public key and every verifier key it
/// stands for (the log key too, for the sequencer). For the genesis parties and new keys.
pub(super) fn party_key_json(role: &str, k: &SignerKey, seed: &[u8; 32]) -> Value {
    let mut p = json!({
        "role": role,
        "name": k.name(),
        "seed_hex": hex(seed),
        "public_key_hex": hex(&k.public_key()),
        "vkey": k.verifier_key().to_string(),
        "cosignature_vkey": Party::of(k).cosignature_key().expect("key").to_string(),
    });
    if role == "sequencer" {
        let log = dyad_verifier::key::VerifierKey::new(
            ORIGIN,
            dyad_verifier::key::SignatureType::Ed25519,
            k.public_key(),
        )
        .expect("log key");
        p["log_vkey"] = json!(log.to_string());
    }
    p
}

/// A key-change entry's vector: the entry's, with the new key and the signed statement.
fn key_change_vector(name: &str, index: u64, e: &SignedEntry) -> Value {
    let mut v = entry_vector(name, index, e);
    let b = &e.entry.body;
    let change = KeyChange::decode(&b.payload).expect("a key change");
    v["new_public_key_hex"] = json!(hex(&change.new_public_key));
    v["statement_hex"] = json!(hex(&statement(
        &b.origin,
        b.sender,
        b.sequence,
        &change.new_public_key
    )));
    v
}

/// Signs and co-signs the sequencer's tree with `keys` (the keys at its size).
fn publish(seq: &mut Channel, cos: &mut Channel, keys: [&SignerKey; 2], t: u64) -> Value {
    let from = cos.size();
    let note = seq.sign_checkpoint(keys[0]).expect("sign");
    let new: Vec<Vec<u8>> = (from..seq.size())
        .map(|i| seq.store().leaf(i).expect("leaf"))
        .collect();
    let cosigned = cos
        .accept_and_cosign(keys[1], &new, &note, t)
        .expect("cosign");
    let cp = seq.add_committed_checkpoint(&cosigned).expect("committed");
    json!({
        "size": cp.size,
        "root_hex": hex(&cp.root),
        "note": String::from_utf8(cosigned).expect("utf-8"),
        "cosignature_timestamp": t / 1000,
    })
}

pub(super) fn receipt(seq: &Channel, index: u64, size: u64, note: &[u8]) -> Value {
    let proof = seq.store().inclusion_proof(index, size).expect("proof");
    let leaf = seq.store().leaf(index).expect("leaf");
    let r = dyad_verifier::receipt::format(&leaf, index, &proof, note);
    json!({"index": index, "receipt": String::from_utf8(r).expect("utf-8")})
}

/// The section: `seq` and `cos` hold the vector log, committed, at time `t`.
pub fn key_changes(
    seq: &mut Channel,
    cos: &mut Channel,
    (alpha, bravo): (&SignerKey, &SignerKey),
    mut t: u64,
) -> Value {
    let (alpha2, alpha2_seed) = key("alpha-2", alpha.name());
    let (bravo2, bravo2_seed) = key("bravo-2", bravo.name());
    let mut entries = Vec::new();
    let mut push = |name: &str, index: u64, seq: &Channel| {
        let e = seq.entry(index).expect("entry");
        entries.push(if e.entry.body.kind == Kind::KeyChange {
            key_change_vector(name, index, &e)
        } else {
            entry_vector(name, index, &e)
        });
    };
    t += STEP_MS;
    let a = seq
        .append_key_change(alpha, &alpha2, t)
        .expect("alpha's key change");
    push("sequencer-key-change", a.index, seq);
    let note = Draft::new(
        Kind::Notification,
        "Signed with alpha's new key",
        "text/plain; charset=utf-8",
        b"From here on alpha signs with its new key.".to_vec(),
    );
    let a = seq.append_own(&alpha2, vec![note], t).expect("message")[0];
    push("sequencer-message-under-new-key", a.index, seq);
    let mut checkpoints = vec![publish(seq, cos, [&alpha2, bravo], t)];

    t += STEP_MS;
    let change = cos
        .queue_key_change(bravo, &bravo2, t)
        .expect("bravo's key change");
    let note = Draft::new(
        Kind::Notification,
        "Signed with bravo's new key",
        "text/plain; charset=utf-8",
        Vec::new(),
    );
    let message = cos.queue_own(&bravo2, note, t).expect("queue");
    let landed = seq.append_signed(&[change, message], t).expect("submit");
    push("cosigner-key-change", landed[0].index, seq);
    push("cosigner-message-under-new-key", landed[1].index, seq);
    checkpoints.push(publish(seq, cos, [&alpha2, &bravo2], t));

    let (size, note) = seq
        .store()
        .latest_checkpoint()
        .expect("read")
        .expect("a checkpoint");
    let key_history: Vec<Value> = seq
        .key_change_indices()
        .into_iter()
        .map(|i| receipt(seq, i, size, &note))
        .collect();
    let receipts: Vec<Value> = (0..size).map(|i| receipt(seq, i, size, &note)).collect();
    json!({
        "new_keys": [party_key_json("sequencer", &alpha2, &alpha2_seed), party_key_json("cosigner", &bravo2, &bravo2_seed)],
        "entries": entries,
        "checkpoints": checkpoints,
        "receipts": receipts,
        "key_history": key_history,
        "invalid_entries": invalid(seq, (alpha, &alpha2), t),
    })
}

/// Entries that each break one key rule when appended after the section's entries.
fn invalid(seq: &Channel, (alpha, alpha2): (&SignerKey, &SignerKey), t: u64) -> Vec<Value> {
    let index = seq.size();
    let sequence = seq.next_sequence(alpha2.key_id()).expect("sequence");
    let (alpha3, _) = key("alpha-3", alpha.name());
    let good = KeyChange::draft(ORIGIN, alpha2.key_id(), sequence, &alpha3)
        .sign(alpha2, ORIGIN, sequence, t)
        .expect("sign")
        .entry;
    let mut out = Vec::new();
    let mut add = |name: &str, bytes: Vec<u8>, error: &str| {
        out.push(json!({"name": name, "index": index, "entry_hex": hex(&bytes), "error": error}));
    };
    let old = Draft::new(
        Kind::Notification,
        "Signed with a retired key",
        "text/plain",
        Vec::new(),
    )
    .sign(alpha, ORIGIN, sequence, t)
    .expect("sign");
    add("message-by-retired-key", old.bytes, "RetiredKey");
    let mut e = good.clone();
    e.body.content_type = "text/plain".into();
    add("wrong-content-type", resign(e, alpha2), "WrongContentType");
    let mut e = good.clone();
    e.body.payload.truncate(95);
    add("payload-95-bytes", resign(e, alpha2), "MalformedPayload");
    let mut e = good.clone();
    e.body.reply_to = Some(1);
    add("with-reply-to", resign(e, alpha2), "KeyChangeWithReplyTo");
    let mut e = good.clone();
    e.body.attachments = vec![Attachment {
        sha256: [1; 32],
        size: 1,
        name: "a".into(),
        content_type: "text/plain".into(),
    }];
    add(
        "with-attachment",
        resign(e, alpha2),
        "KeyChangeWithAttachments",
    );
    let mut e = good.clone();
    e.body.payload[..32].copy_from_slice(&[0; 32]);
    e.body.payload[0] = 1; // the identity point: of small order
    add("small-order-new-key", resign(e, alpha2), "InvalidNewKey");
    let mut e = good.clone();
    e.body.payload[32] ^= 1;
    add(
        "new-key-signature-flipped",
        resign(e, alpha2),
        "BadNewKeySignature",
    );
    // bravo's retired (genesis) key under alpha's name: a key the channel has had.
    let reused = SignerKey::from_seed(alpha.name(), super::bravo_key().1).expect("key");
    let e = KeyChange::draft(ORIGIN, alpha2.key_id(), sequence, &reused)
        .sign(alpha2, ORIGIN, sequence, t)
        .expect("sign");
    add("new-key-reused", e.bytes, "NewKeyReused");
    let mut e = good.clone();
    e.body.sender = alpha3.key_id();
    e.body.payload = KeyChange::draft(ORIGIN, alpha3.key_id(), sequence, &alpha3).payload;
    add(
        "signed-only-by-new-key",
        resign(e, &alpha3),
        "sender-not-a-party",
    );
    out
}
