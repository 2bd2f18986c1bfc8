//! `dyad_verifier::receipt::verify` under four trusts: the spec vectors' two party keys
//! (roles unknown), the vectors' genesis, the vectors' channel policy with the party
//! keys, and the witnessed channel's genesis (`dyad_fuzz::vectors::witnessed_record`).
//!
//! Never panics. A receipt that verifies carries an entry that the ledger's decoder reads
//! the same way, of the checkpoint's origin, whose leaf hash the RFC 9162 reference
//! verifier places at the index under the checkpoint's root. The genesis and the policy
//! of one channel accept the same receipts; whatever the two party keys accept with the
//! sequencer's log key and the vectors' origin, the genesis accepts too.
#![no_main]

use std::sync::OnceLock;

use dyad_fuzz::oracle::entry_mismatch;
use dyad_fuzz::reference::{self, leaf_hash};
use dyad_fuzz::vectors::{vectors, witnessed_record};
use dyad_ledger::entry::Entry;
use dyad_verifier::genesis;
use dyad_verifier::receipt::{self, ReceiptTrust, VerifiedReceipt};
use libfuzzer_sys::fuzz_target;

struct Trusts {
    parties: ReceiptTrust,
    genesis: ReceiptTrust,
    policy: ReceiptTrust,
    witnessed: ReceiptTrust,
}

fn trusts() -> &'static Trusts {
    static TRUSTS: OnceLock<Trusts> = OnceLock::new();
    TRUSTS.get_or_init(|| {
        let v = vectors();
        let (a, b) = (v.sequencer.entry_key(), v.cosigner.entry_key());
        let channel = genesis::decode_record(&v.genesis_record).expect("vector genesis");
        let witnessed = genesis::decode_record(&witnessed_record()).expect("witnessed genesis");
        Trusts {
            parties: ReceiptTrust::parties(a.clone(), b.clone()).expect("party trust"),
            genesis: ReceiptTrust::genesis(&channel).expect("genesis trust"),
            policy: ReceiptTrust::policy(channel.policy().expect("policy"), a, b)
                .expect("policy trust"),
            witnessed: ReceiptTrust::genesis(&witnessed).expect("witnessed trust"),
        }
    })
}

fn check(data: &[u8], verified: &VerifiedReceipt, trust: &ReceiptTrust) {
    let parsed = receipt::parse(data).expect("a verified receipt parses");
    assert_eq!(verified.index, parsed.index);
    assert_eq!(verified.leaf_hash, leaf_hash(&parsed.entry_bytes));
    let checkpoint = &verified.committed.checkpoint;
    assert_eq!(verified.entry.origin, checkpoint.origin);
    assert!(
        reference::verify_inclusion(
            &verified.leaf_hash,
            parsed.index,
            checkpoint.size,
            &parsed.proof,
            &checkpoint.root
        ),
        "the reference rejects the inclusion proof of a verified receipt"
    );
    assert!(trust.party_keys().contains(&verified.sender));
    assert_eq!(verified.sender.key_id(), verified.entry.sender);
    match Entry::decode(&parsed.entry_bytes) {
        Ok(l) => {
            if let Some(diff) = entry_mismatch(&verified.entry, &l) {
                panic!("the ledger reads the receipt's entry differently: {diff}");
            }
        }
        Err(e) => panic!("the ledger rejects the entry of a verified receipt: {e:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let t = trusts();
    let by_parties = receipt::verify(data, &t.parties);
    let by_genesis = receipt::verify(data, &t.genesis);
    let by_policy = receipt::verify(data, &t.policy);
    let by_witnessed = receipt::verify(data, &t.witnessed);
    for (result, trust) in [
        (&by_parties, &t.parties),
        (&by_genesis, &t.genesis),
        (&by_policy, &t.policy),
        (&by_witnessed, &t.witnessed),
    ] {
        if let Ok(verified) = result {
            check(data, verified, trust);
        }
    }
    assert_eq!(
        by_genesis.is_ok(),
        by_policy.is_ok(),
        "the genesis and its policy disagree: {by_genesis:?} / {by_policy:?}"
    );
    if let Ok(p) = &by_parties {
        let v = vectors();
        if p.committed.log == v.sequencer.log_key(&v.origin) {
            assert!(
                by_genesis.is_ok(),
                "the parties accept, the genesis rejects: {by_genesis:?}"
            );
        }
    }
});
