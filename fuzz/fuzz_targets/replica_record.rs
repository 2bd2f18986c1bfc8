//! `dyad_ledger::replica_record::ReplicaRecord::decode` on any text (the `replica.head`
//! file of a data directory): never panics; an accepted record is written back by
//! `encode` as text that decodes to the same record.
#![no_main]

use dyad_ledger::replica_record::ReplicaRecord;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some(record) = ReplicaRecord::decode(text) else {
        return;
    };
    let encoded = record.encode();
    assert_eq!(
        ReplicaRecord::decode(&encoded).as_ref(),
        Some(&record),
        "an accepted record does not round-trip"
    );
});
