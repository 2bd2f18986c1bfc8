//! The public paths other crates name (the ledger, the CLI, the fuzz targets, the
//! workspace tests), each with its type. The crate's modules may be cut differently inside;
//! these paths, and what they name, stay.

use dyad_verifier::{entry, genesis};

#[test]
fn entry_paths_name_the_same_items() {
    use dyad_verifier::entry::{Attachment, Entry, EntryError, EntrySignature, Kind};
    use dyad_verifier::genesis::ChannelParams;

    let _: u8 = entry::VERSION;
    let _: usize = entry::MAX_ENTRY_SIZE;
    let _: &[u8] = entry::SIGNED_MESSAGE_PREFIX;
    let _: u64 = entry::MAX_ORIGIN_LEN;
    let _: u64 = entry::MAX_SUBJECT_LEN;
    let _: u64 = entry::MAX_SHORT_STRING_LEN;
    let _: u64 = entry::MAX_ATTACHMENTS;
    let _: usize = entry::SIGNATURE_LEN;
    let _: fn(&[u8]) -> Result<Entry, EntryError> = entry::decode;
    let _: fn(&[u8]) -> Result<Vec<u8>, EntryError> = entry::signed_message;
    let _: fn(&[u8], &Entry, &dyad_verifier::key::VerifierKey) -> Result<(), EntryError> =
        entry::verify_signature;
    let _: fn(&[u8], u64, &ChannelParams) -> Result<Entry, EntryError> = entry::check_entry;
    let _ = |a: Attachment, s: EntrySignature, k: Kind| (a.size, s.key_id, k.as_u8());
}

#[test]
fn genesis_paths_name_the_same_items() {
    use dyad_verifier::entry::{Entry, EntryError};
    use dyad_verifier::genesis::{
        ChannelParams, CommitError, CommitKeys, Committed, Genesis, GenesisError, Identifier,
        Party, PartyRole,
    };

    let _: u8 = genesis::RECORD_VERSION;
    let _: &str = genesis::CONTENT_TYPE;
    let _: u64 = genesis::MAX_WITNESSES;
    let _: u32 = genesis::MAX_MAX_PAYLOAD;
    let _: u32 = genesis::MAX_CLOCK_SKEW_S;
    let _: [&str; 2] = genesis::RESERVED_ORIGIN_PREFIXES;
    let _: fn(&[u8]) -> Result<Genesis, GenesisError> = genesis::decode_record;
    type Checked = Result<(Entry, Genesis), EntryError>;
    let _: fn(&[u8]) -> Checked = genesis::check_genesis;
    let _: fn(Genesis) -> Result<ChannelParams, GenesisError> = ChannelParams::new;
    let _: fn(&CommitKeys, &[u8]) -> Result<Committed, CommitError> = CommitKeys::verify;
    let _ = |p: Party, r: PartyRole, i: Identifier| (p.key_id(), r, i);
    // The two errors nest in each other.
    let _ = |e: EntryError| GenesisError::Record(Box::new(e));
    let _ = |e: GenesisError| EntryError::Genesis(e);
}

#[test]
fn crate_root_reexports_name_the_same_items() {
    use dyad_verifier::{
        audit, AuditError, AuditReport, AuditTrust, Auditor, ChannelParams, CheckpointError, Entry,
        EntryError, EvidenceError, Genesis, GenesisError, Hash, KeyError, Kind, NoteError, Party,
        PolicyError, ProofError, ReceiptError, ReceiptTrust, VerifiedReceipt,
    };

    let _: Hash = [0; 32];
    let _ = audit::<Vec<Vec<u8>>>;
    let _ = |e: AuditError, r: AuditReport, t: AuditTrust, a: Auditor| (e, r, t, a.leaves());
    let _ = |c: ChannelParams, g: Genesis, p: Party, k: Kind, e: Entry| (c, g, p, k, e);
    let _ = |a: CheckpointError, b: EntryError, c: EvidenceError, d: GenesisError| (a, b, c, d);
    let _ =
        |a: KeyError, b: NoteError, c: PolicyError, d: ProofError, e: ReceiptError| (a, b, c, d, e);
    let _ = |t: ReceiptTrust, v: VerifiedReceipt| (t, v.index);
}

#[test]
fn parallel_audit_paths_name_the_same_items() {
    use dyad_verifier::audit::{AuditError, Auditor};
    use dyad_verifier::parallel_audit::{cores, push_leaves, PushError, CHUNK};

    let _: fn() -> usize = cores;
    let _: usize = CHUNK;
    let _ = |a: &mut Auditor, leaves: std::vec::IntoIter<Result<Vec<u8>, String>>| {
        let result: Result<(), PushError<String>> = push_leaves(a, leaves, 2, |_| Ok(()));
        match result {
            Err(PushError::Audit(e)) => Some(e),
            Err(PushError::Source(e)) => Some(AuditError::BadTrustedKey(e)),
            Ok(()) => None,
        }
    };
}
