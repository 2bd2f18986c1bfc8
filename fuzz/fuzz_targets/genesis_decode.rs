//! The genesis record (spec section 4), decoded by the verifier
//! (`genesis::decode_record`) and by the ledger (`genesis::Genesis::decode`): neither
//! panics, and they agree on every input, field by field.
//!
//! One difference is by design and allowed: the record alone does not bound the origin's
//! length; its 1..=255 bytes come from the entry's origin, which it must equal. The ledger
//! checks that at the entry, the verifier already in the record.
//!
//! When either accepts the record, it is also wrapped in a genesis entry (spec section 4:
//! kind genesis, sequence 0, the genesis content type, sender = the record's sequencer)
//! signed by the record's sequencer and co-signer wherever their seeds are known (the
//! vectors' parties and notes.json's keys), and the two full genesis checks,
//! `dyad_verifier::genesis::check_genesis` and `dyad_ledger::genesis::check_genesis`, must
//! agree on it.
#![no_main]

use bincode::config;
use dyad_fuzz::reference::RawEntry;
use dyad_fuzz::vectors::vectors;
use dyad_ledger::entry::Entry;
use dyad_ledger::genesis::{self as ledger_genesis, Genesis as LedgerGenesis};
use dyad_verifier::genesis::{self, Genesis};
use dyad_verifier::key::{key_id, SignatureType};
use libfuzzer_sys::fuzz_target;

fn mismatch(v: &Genesis, l: &LedgerGenesis) -> Option<String> {
    let party = |p: &dyad_verifier::genesis::Party| (p.name.clone(), p.public_key);
    let lparty = |p: &dyad_ledger::genesis::Party| (p.name.clone(), p.public_key);
    let mut diffs = Vec::new();
    if l.version != 1 {
        diffs.push(format!("ledger version {}", l.version));
    }
    if v.origin != l.origin {
        diffs.push(format!("origin {:?} / {:?}", v.origin, l.origin));
    }
    if party(&v.sequencer) != lparty(&l.sequencer) || party(&v.cosigner) != lparty(&l.cosigner) {
        diffs.push("parties".to_string());
    }
    if v.witnesses
        .iter()
        .map(party)
        .ne(l.witnesses.iter().map(lparty))
    {
        diffs.push("witnesses".to_string());
    }
    let terms = (
        v.witness_threshold,
        v.max_payload,
        v.max_attachment_size,
        v.max_clock_skew_s,
    );
    let lterms = (
        l.witness_threshold,
        l.max_payload,
        l.max_attachment_size,
        l.max_clock_skew_s,
    );
    if terms != lterms {
        diffs.push(format!("terms {terms:?} / {lterms:?}"));
    }
    (!diffs.is_empty()).then(|| diffs.join("; "))
}

fn genesis_entry(record: &[u8]) -> Option<Vec<u8>> {
    let wire = config::standard()
        .with_big_endian()
        .with_fixed_int_encoding();
    let (raw, _): (LedgerGenesis, usize) = bincode::decode_from_slice(record, wire).ok()?;
    let v = vectors();
    let id =
        |p: &dyad_ledger::genesis::Party| key_id(&p.name, SignatureType::Ed25519, &p.public_key);
    let mut entry = RawEntry {
        version: 1,
        origin: raw.origin.as_bytes().to_vec(),
        kind: 0,
        sender: id(&raw.sequencer),
        sequence: 0,
        timestamp_ms: 1_767_225_600_000,
        reply_to: None,
        subject: format!("channel {}", raw.origin).into_bytes(),
        content_type: ledger_genesis::GENESIS_CONTENT_TYPE.as_bytes().to_vec(),
        payload: record.to_vec(),
        attachments: Vec::new(),
        signatures: Vec::new(),
    };
    let message = entry.signed_message();
    for party in [&raw.sequencer, &raw.cosigner] {
        let signature = v
            .key_for(&party.public_key)
            .map_or([0; 64], |k| k.sign(&message));
        entry.signatures.push((id(party), signature));
    }
    Some(entry.encode())
}

fuzz_target!(|data: &[u8]| {
    let by_verifier = genesis::decode_record(data);
    let by_ledger = LedgerGenesis::decode(data);
    match (&by_verifier, &by_ledger) {
        (Ok(v), Ok(l)) => {
            if let Some(diff) = mismatch(v, l) {
                panic!("the decoders read different records: {diff}");
            }
        }
        (Err(_), Err(_)) => return,
        (Err(_), Ok(l)) if l.origin.len() > 255 => {}
        (Ok(_), Err(e)) => {
            panic!("the verifier accepts a genesis record the ledger rejects: {e:?}")
        }
        (Err(e), Ok(_)) => {
            panic!("the ledger accepts a genesis record the verifier rejects: {e:?}")
        }
    }

    let Some(entry) = genesis_entry(data) else {
        return;
    };
    let checked_by_verifier = genesis::check_genesis(&entry);
    let checked_by_ledger = Entry::decode(&entry)
        .map_err(ledger_genesis::GenesisError::from)
        .and_then(|e| ledger_genesis::check_genesis(&e));
    match (&checked_by_verifier, &checked_by_ledger) {
        (Ok((_, v)), Ok(l)) => {
            if let Some(diff) = mismatch(v, l) {
                panic!("the genesis checks read different records: {diff}");
            }
        }
        (Err(_), Err(_)) => {}
        (Ok(_), Err(e)) => panic!("the verifier accepts a genesis entry the ledger rejects: {e:?}"),
        (Err(e), Ok(_)) => panic!("the ledger accepts a genesis entry the verifier rejects: {e:?}"),
    }
});
