//! The `witness_changes` section of the spec vectors (spec/dyad.md 3.8, 7, 8): the vector
//! log continued (after its key changes) with a witness change by each party, each
//! approved by the other's current key; the checkpoints that hold them, committed by the
//! witnesses at their sizes (and the same checkpoints with too few of those: not
//! committed); receipts with their key history; and invalid witness changes that each
//! break one rule.

use dyad_ledger::channel::Channel;
use dyad_ledger::entry::witness_change::{self, statement, witnesses_of, WitnessChangePayload};
use dyad_ledger::entry::{Attachment, Draft, Entry, Kind, SignedEntry};
use dyad_ledger::genesis::Party;
use dyad_ledger::keys::SignerKey;
use dyad_verifier::note;
use serde_json::{json, Value};

use super::key_changes::{party_key_json, receipt};
use super::{entry_vector, hex, key, party_json, resign, ORIGIN, STEP_MS};

/// The payload of the change to `witnesses`, approved by `approver`.
fn approved(
    approver: &SignerKey,
    number: u32,
    witnesses: &[Party],
    threshold: u8,
) -> WitnessChangePayload {
    witness_change::approved(approver, ORIGIN, number, witnesses, threshold)
}

/// A witness-change entry's vector: the entry's, with its payload's fields, the statement
/// the approval signs and the approving key.
fn witness_change_vector(name: &str, index: u64, e: &SignedEntry, approver: &SignerKey) -> Value {
    let mut v = entry_vector(name, index, e);
    let change = WitnessChangePayload::decode(&e.entry.body.payload).expect("a witness change");
    v["witness_change"] = json!({
        "number": change.number,
        "witnesses": witnesses_of(&change).iter().map(party_json).collect::<Vec<_>>(),
        "witness_threshold": change.witness_threshold,
        "approval_hex": hex(&change.approval),
        "statement_hex": hex(&statement(ORIGIN, &change)),
        "approver": {"name": approver.name(), "public_key_hex": hex(&approver.public_key())},
    });
    v
}

/// `note_bytes` with `w`'s cosignature line (C2SP tlog-cosignature) at `timestamp`.
fn witnessed(note_bytes: &[u8], w: &SignerKey, timestamp: u64) -> Vec<u8> {
    let text = note::parse(note_bytes).expect("note").text;
    let text = dyad_verifier::checkpoint::parse(&text)
        .expect("checkpoint")
        .to_text();
    let key = Party::of(w).cosignature_key().expect("key");
    let mut sig = timestamp.to_be_bytes().to_vec();
    sig.extend_from_slice(&w.sign(&dyad_verifier::cosignature::signed_message(
        timestamp, &text,
    )));
    let mut out = note_bytes.to_vec();
    out.extend_from_slice(note::signature_line(key.name(), key.key_id(), &sig).as_bytes());
    out
}

/// Signs and co-signs the sequencer's tree with `keys` (the parties' keys at its size),
/// then has `witnesses` co-sign it: the committed checkpoint's vector, and the note with
/// only the witnesses `short` (too few, or removed), which is not committed.
fn publish(
    (seq, cos): (&mut Channel, &mut Channel),
    keys: [&SignerKey; 2],
    (witnesses, short): (&[&SignerKey], &[&SignerKey]),
    t: u64,
) -> (Value, Value) {
    let from = cos.size();
    let signed = seq.sign_checkpoint(keys[0]).expect("sign");
    let new: Vec<Vec<u8>> = (from..seq.size())
        .map(|i| seq.store().leaf(i).expect("leaf"))
        .collect();
    let cosigned = cos
        .accept_and_cosign(keys[1], &new, &signed, t)
        .expect("cosign");
    let mut note = cosigned.clone();
    for w in witnesses {
        note = witnessed(&note, w, t / 1000);
    }
    let mut short_note = cosigned;
    for w in short {
        short_note = witnessed(&short_note, w, t / 1000);
    }
    let refused = seq
        .verify_committed(&short_note)
        .expect_err("too few witnesses at its size");
    assert!(refused.to_string().contains("witness co-signatures"));
    let cp = seq.add_committed_checkpoint(&note).expect("committed");
    cos.add_committed_checkpoint(&note).expect("committed");
    let text = |n: Vec<u8>| String::from_utf8(n).expect("utf-8");
    (
        json!({
            "size": cp.size,
            "root_hex": hex(&cp.root),
            "note": text(note),
            "cosignature_timestamp": t / 1000,
            "witnesses": witnesses.iter().map(|w| w.name()).collect::<Vec<_>>(),
        }),
        json!({
            "size": cp.size,
            "note": text(short_note),
            "witnesses": short.iter().map(|w| w.name()).collect::<Vec<_>>(),
            "error": "WitnessQuorum",
        }),
    )
}

/// The section: `seq` and `cos` hold the vector log with its key changes, committed, at
/// time `t`; `alpha` and `bravo` are the genesis keys.
pub fn witness_changes(
    seq: &mut Channel,
    cos: &mut Channel,
    (alpha, bravo): (&SignerKey, &SignerKey),
    mut t: u64,
) -> Value {
    // The parties' current keys: the key changes' new keys (key_changes.rs).
    let (alpha2, _) = key("alpha-2", alpha.name());
    let (bravo2, _) = key("bravo-2", bravo.name());
    let w: Vec<(SignerKey, [u8; 32])> = (1..=3)
        .map(|i| {
            key(
                &format!("witness-{i}"),
                &format!("example.org/dyad/witness-{i}"),
            )
        })
        .collect();
    let (w1, w2, w3) = (&w[0].0, &w[1].0, &w[2].0);
    let mut entries = Vec::new();
    let mut checkpoints = Vec::new();
    let mut uncommitted = Vec::new();

    // alpha: none -> 1 of [w1, w2], approved by bravo's current key.
    t += STEP_MS;
    let first = approved(&bravo2, 1, &[Party::of(w1), Party::of(w2)], 1);
    let a = seq
        .append_own(&alpha2, vec![witness_change::draft(&first)], t)
        .expect("alpha's witness change")[0];
    let e = seq.entry(a.index).expect("entry");
    entries.push(witness_change_vector(
        "sequencer-witness-change",
        a.index,
        &e,
        &bravo2,
    ));
    let message = Draft::new(
        Kind::Notification,
        "Witnessed from here on",
        "text/plain; charset=utf-8",
        b"Checkpoints from here on need one of the two witnesses.".to_vec(),
    );
    let m = cos.queue_own(&bravo2, message, t).expect("queue");
    let m = seq.append_signed(&[m], t).expect("submit")[0];
    entries.push(entry_vector(
        "message-after-witness-change",
        m.index,
        &seq.entry(m.index).expect("entry"),
    ));
    let (cp, short) = publish((seq, cos), [&alpha2, &bravo2], (&[w1], &[]), t);
    checkpoints.push(cp);
    uncommitted.push(short);

    // bravo: 1 of [w1, w2] -> 2 of [w2, w3], approved by alpha's current key.
    t += STEP_MS;
    let second = approved(&alpha2, 2, &[Party::of(w2), Party::of(w3)], 2);
    let c = cos
        .queue_own(&bravo2, witness_change::draft(&second), t)
        .expect("bravo's witness change");
    let c = seq.append_signed(&[c], t).expect("submit")[0];
    entries.push(witness_change_vector(
        "cosigner-witness-change",
        c.index,
        &seq.entry(c.index).expect("entry"),
        &alpha2,
    ));
    // w1 was removed: its cosignature counts for nothing, w2's alone is one of two.
    let (cp, short) = publish((seq, cos), [&alpha2, &bravo2], (&[w2, w3], &[w1, w2]), t);
    checkpoints.push(cp);
    uncommitted.push(short);

    let (size, note) = seq
        .store()
        .latest_checkpoint()
        .expect("read")
        .expect("a checkpoint");
    let key_history: Vec<Value> = seq
        .key_history_indices()
        .into_iter()
        .map(|i| receipt(seq, i, size, &note))
        .collect();
    let receipts: Vec<Value> = (a.index..size)
        .map(|i| receipt(seq, i, size, &note))
        .collect();
    json!({
        "witnesses": w.iter().map(|(k, seed)| party_key_json("witness", k, seed)).collect::<Vec<_>>(),
        "entries": entries,
        "checkpoints": checkpoints,
        "uncommitted_checkpoints": uncommitted,
        "receipts": receipts,
        "key_history": key_history,
        "invalid_entries": invalid(seq, (&alpha2, &bravo2), (alpha, bravo), (w2, w3), t),
    })
}

/// Witness changes that each break one rule of spec 3.8, as alpha's next entry after the
/// section's entries (the third witness change).
fn invalid(
    seq: &Channel,
    (alpha2, bravo2): (&SignerKey, &SignerKey),
    (alpha, bravo): (&SignerKey, &SignerKey),
    (w2, w3): (&SignerKey, &SignerKey),
    t: u64,
) -> Vec<Value> {
    let index = seq.size();
    let sequence = seq.next_sequence(alpha2.key_id()).expect("sequence");
    let entry = |payload: &WitnessChangePayload| -> Entry {
        witness_change::draft(payload)
            .sign(alpha2, ORIGIN, sequence, t)
            .expect("sign")
            .entry
    };
    let set = [Party::of(w3)];
    let good = entry(&approved(bravo2, 3, &set, 1));
    let mut out = Vec::new();
    let mut add = |name: &str, e: Entry, error: &str| {
        let bytes = resign(e, alpha2);
        out.push(json!({"name": name, "index": index, "entry_hex": hex(&bytes), "error": error}));
    };
    let mut e = good.clone();
    e.body.content_type = "text/plain".into();
    add("wrong-content-type", e, "WrongContentType");
    let mut e = good.clone();
    e.body.payload.push(0);
    add("byte-after-approval", e, "MalformedPayload");
    add(
        "threshold-above-count",
        entry(&approved(bravo2, 3, &set, 2)),
        "MalformedPayload",
    );
    let mut e = good.clone();
    e.body.reply_to = Some(1);
    add("with-reply-to", e, "WitnessChangeWithReplyTo");
    let mut e = good.clone();
    e.body.attachments = vec![Attachment {
        sha256: [1; 32],
        size: 1,
        name: "a".into(),
        content_type: "text/plain".into(),
    }];
    add("with-attachment", e, "WitnessChangeWithAttachments");
    add(
        "same-witness-twice",
        entry(&approved(bravo2, 3, &[Party::of(w3), Party::of(w3)], 1)),
        "InvalidWitness",
    );
    add(
        "number-repeated",
        entry(&approved(bravo2, 2, &set, 1)),
        "WrongWitnessChangeNumber",
    );
    // bravo's retired (genesis) key under a witness's name: a key the channel has had.
    let reused = Party {
        name: "example.org/dyad/witness-4".into(),
        public_key: bravo.public_key(),
    };
    add(
        "witness-key-reused",
        entry(&approved(bravo2, 3, &[reused], 1)),
        "WitnessKeyReused",
    );
    // A witness the channel had, under another name.
    let renamed = Party {
        name: "example.org/dyad/witness-5".into(),
        public_key: w2.public_key(),
    };
    add(
        "witness-renamed",
        entry(&approved(bravo2, 3, &[renamed], 1)),
        "WitnessKeyReused",
    );
    add(
        "approved-by-the-sender",
        entry(&approved(alpha2, 3, &set, 1)),
        "BadApproval",
    );
    add(
        "approved-by-a-retired-key",
        entry(&approved(bravo, 3, &set, 1)),
        "BadApproval",
    );
    let named = Party {
        name: alpha.name().into(),
        public_key: key("witness-6", "example.org/dyad/witness-6")
            .0
            .public_key(),
    };
    add(
        "witness-named-as-a-party",
        entry(&approved(bravo2, 3, &[named], 1)),
        "WitnessKeyReused",
    );
    let mut e = good.clone();
    let last = e.body.payload.len() - 1;
    e.body.payload[last] ^= 1;
    add("approval-flipped", e, "BadApproval");
    out
}
