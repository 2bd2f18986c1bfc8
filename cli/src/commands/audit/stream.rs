//! The audit of a stream of leaves, spread over the machine's cores (see
//! [`audit_stream`]).

use dyad_verifier::audit::{AuditError, AuditReport, AuditTrust, Auditor, CheckpointFeed};
use dyad_verifier::key::VerifierKey;
use dyad_verifier::parallel_audit::{cores, push_leaves, PushError};

use super::AuditFailure;
use crate::output::{key_id_hex, progress};

/// Runs the verifier's audit over a stream of leaves. A read error ends the stream and
/// is reported instead of whatever the shortened log would look like.
///
/// Leaf 0 (the genesis) is pushed here, to name the parties of an untrusted one; the
/// others go through `dyad_verifier::parallel_audit::push_leaves`, which checks them on the
/// machine's cores and pushes them into the `Auditor` in index order, and so stops at the
/// same first problem as a sequential audit. Memory is a bounded number of chunks.
pub(super) fn audit_stream(
    mut leaves: impl Iterator<Item = std::result::Result<Vec<u8>, String>> + Send,
    total: u64,
    checkpoints: &[Vec<u8>],
    trust: AuditTrust,
) -> std::result::Result<AuditReport, AuditFailure> {
    let bar = progress(total, "auditing");
    let result = (|| {
        let mut feed = CheckpointFeed::new(checkpoints).map_err(AuditFailure::Log)?;
        let mut auditor = Auditor::new(trust.clone()).map_err(AuditFailure::Log)?;
        match leaves.next() {
            Some(Ok(genesis)) => {
                auditor.push_leaf(&genesis).map_err(|e| match e {
                    AuditError::UntrustedGenesis => untrusted_genesis(&genesis, &trust),
                    other => AuditFailure::Log(other),
                })?;
                feed.give_due(&mut auditor).map_err(AuditFailure::Log)?;
                bar.inc(1);
            }
            Some(Err(e)) => return Err(AuditFailure::Source(e)),
            None => {}
        }
        push_leaves(&mut auditor, leaves, cores(), |auditor| {
            feed.give_due(auditor)?;
            bar.inc(1);
            Ok(())
        })
        .map_err(|e| match e {
            PushError::Audit(e) => AuditFailure::Log(e),
            PushError::Source(e) => AuditFailure::Source(e),
        })?;
        feed.give_rest(&mut auditor).map_err(AuditFailure::Log)?;
        auditor.finish().map_err(AuditFailure::Log)
    })();
    bar.finish_and_clear();
    result
}

/// Leaf 0 is a genesis of other parties than the trusted ones: says whom it names and
/// what was given, so a wrong `--trust` or `--policy` file is found at once.
pub(super) fn untrusted_genesis(leaf: &[u8], trust: &AuditTrust) -> AuditFailure {
    let Ok((_, genesis)) = dyad_verifier::genesis::check_genesis(leaf) else {
        return AuditFailure::Log(AuditError::UntrustedGenesis);
    };
    let party =
        |p: &dyad_verifier::genesis::Party| format!("{} ({})", p.name, key_id_hex(p.key_id()));
    let key = |k: &VerifierKey| format!("{} ({})", k.name(), key_id_hex(k.key_id()));
    let named = [party(&genesis.sequencer), party(&genesis.cosigner)];
    match trust {
        AuditTrust::Parties(given) => AuditFailure::UntrustedGenesis {
            named,
            given: [key(&given[0]), key(&given[1])],
        },
        AuditTrust::Policy(policy) => match policy.parties() {
            Ok(p) => AuditFailure::PolicyGenesis {
                named: Box::new((genesis.origin, named)),
                policy: Box::new((p.origin, [key(&p.sequencer), key(&p.cosigner)])),
            },
            Err(_) => AuditFailure::Log(AuditError::UntrustedGenesis),
        },
        _ => AuditFailure::Log(AuditError::UntrustedGenesis),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dyad_ledger::entry::{Draft, Kind as LedgerKind};
    use dyad_ledger::genesis::{cosign_proposal, Genesis, Party};
    use dyad_ledger::keys::SignerKey;
    use dyad_verifier::parallel_audit::CHUNK;

    const T0_MS: u64 = 1_767_225_600_000;

    /// A genesis and `n` entries signed by the two parties in turn, and the trust.
    fn log(n: u64) -> (Vec<Vec<u8>>, AuditTrust) {
        let alpha = SignerKey::from_seed("test.example/alpha", [1; 32]).unwrap();
        let bravo = SignerKey::from_seed("test.example/bravo", [2; 32]).unwrap();
        let origin = ORIGIN;
        let genesis = Genesis::new(origin, Party::of(&alpha), Party::of(&bravo));
        let proposal = genesis.propose(&alpha, T0_MS).unwrap();
        let (entry, _) = cosign_proposal(&proposal.bytes, &bravo).unwrap();
        let mut leaves = vec![entry.bytes];
        for i in 1..=n {
            let key = if i % 2 == 0 { &alpha } else { &bravo };
            let draft = Draft::new(LedgerKind::Notification, "n", "text/plain", vec![b'.'; 40]);
            let signed = draft.sign(key, origin, i.div_ceil(2), T0_MS + i).unwrap();
            leaves.push(signed.bytes);
        }
        let trust =
            AuditTrust::Parties([alpha.verifier_key().clone(), bravo.verifier_key().clone()]);
        (leaves, trust)
    }

    fn run(
        leaves: &[Vec<u8>],
        read_error_at: Option<usize>,
        trust: AuditTrust,
    ) -> std::result::Result<AuditReport, AuditFailure> {
        let stream = leaves
            .iter()
            .enumerate()
            .map(move |(i, l)| match read_error_at {
                Some(at) if at == i => Err(format!("unreadable entry {i}")),
                _ => Ok(l.clone()),
            });
        audit_stream(stream, leaves.len() as u64, &[], trust)
    }

    /// `log(n)` with a change at index `at` sent by party `who` (0 alpha, 1 bravo): `change`
    /// makes its kind, content type and payload from its draft; after it, alpha's entries
    /// are signed by `alpha_after` (encoded from the spec, dyad_testkit::entry).
    fn log_with_change(
        (n, at): (u64, u64),
        who: usize,
        alpha_after: &SignerKey,
        change: impl FnOnce(&mut dyad_testkit::entry::Entry),
    ) -> (Vec<Vec<u8>>, AuditTrust) {
        use dyad_testkit::entry::{Entry, Signature};
        let (mut leaves, trust) = log(at - 1);
        let alpha = SignerKey::from_seed("test.example/alpha", [1; 32]).unwrap();
        let bravo = SignerKey::from_seed("test.example/bravo", [2; 32]).unwrap();
        let sign = |key: &SignerKey, mut e: Entry| {
            e.signatures = vec![Signature {
                key_id: key.key_id(),
                signature: key.sign(&e.signed_message()),
            }];
            e.encode()
        };
        let mut sequences = [(at - 1) / 2, (at - 1).div_ceil(2)];
        let mut draft = |who: usize, key: &SignerKey, i: u64| {
            sequences[who] += 1;
            Entry {
                version: 1,
                origin: ORIGIN.into(),
                kind: 4,
                sender: key.key_id(),
                sequence: sequences[who],
                timestamp_ms: T0_MS + i,
                reply_to: None,
                subject: "n".into(),
                content_type: "text/plain".into(),
                payload: vec![b'.'; 40],
                attachments: Vec::new(),
                signatures: Vec::new(),
            }
        };
        let sender = if who == 0 { &alpha } else { &bravo };
        let mut entry = draft(who, sender, at);
        change(&mut entry);
        leaves.push(sign(sender, entry));
        for i in at + 1..=n {
            let (who, key) = if i % 2 == 0 {
                (0, alpha_after)
            } else {
                (1, &bravo)
            };
            leaves.push(sign(key, draft(who, key, i)));
        }
        (leaves, trust)
    }

    /// The channel origin of [`log`].
    const ORIGIN: &str = "test.example/dyad/audit";

    /// `log(n)` with alpha's key change at index `at` (to a new key, which signs alpha's
    /// entries after it), encoded from the spec (dyad_testkit::key_change).
    fn log_with_key_change(n: u64, at: u64) -> (Vec<Vec<u8>>, AuditTrust) {
        use dyad_testkit::key_change as spec;
        let alpha = SignerKey::from_seed("test.example/alpha", [1; 32]).unwrap();
        let new = SignerKey::from_seed("test.example/alpha", [3; 32]).unwrap();
        log_with_change((n, at), 0, &new, |change| {
            change.kind = spec::KIND;
            change.content_type = spec::CONTENT_TYPE.into();
            let statement =
                spec::statement(ORIGIN, alpha.key_id(), change.sequence, &new.public_key());
            change.payload = spec::payload(&new.public_key(), &new.sign(&statement));
        })
    }

    #[test]
    fn the_parallel_audit_follows_a_key_change() {
        let n = 3 * CHUNK as u64 + 40;
        let at = CHUNK as u64 + 6;
        let (mut leaves, trust) = log_with_key_change(n, at);
        let sequential = dyad_verifier::audit::audit(leaves.clone(), &[], trust.clone()).unwrap();
        assert_eq!(sequential.key_changes.len(), 1);
        assert_eq!(sequential.key_changes[0].index, at);
        assert_eq!(run(&leaves, None, trust.clone()).unwrap(), sequential);

        // An entry by alpha's retired key later on, with a broken signature too: the first
        // error is the sequential audit's, `RetiredKey`.
        let alpha = SignerKey::from_seed("test.example/alpha", [1; 32]).unwrap();
        let late = 3 * CHUNK;
        let mut forged = leaves[late - 1].clone();
        let sender_at = 1 + 8 + ORIGIN.len() + 1;
        forged[sender_at..sender_at + 4].copy_from_slice(&alpha.key_id().to_be_bytes());
        leaves[late] = forged;
        let expected = dyad_verifier::audit::audit(leaves.clone(), &[], trust.clone()).unwrap_err();
        assert!(
            matches!(&expected, AuditError::Entry { index, error: dyad_verifier::entry::EntryError::RetiredKey { .. } } if *index == late as u64),
            "{expected:?}"
        );
        match run(&leaves, None, trust) {
            Err(AuditFailure::Log(e)) => assert_eq!(e, expected),
            other => panic!("{:?}", other.map(|r| r.leaves)),
        }
    }

    /// `log(n)` with bravo's witness change at index `at` (to one witness, threshold 0,
    /// approved by alpha), encoded from the spec (dyad_testkit::witness_change).
    fn log_with_witness_change(n: u64, at: u64) -> (Vec<Vec<u8>>, AuditTrust) {
        use dyad_testkit::witness_change as spec;
        let alpha = SignerKey::from_seed("test.example/alpha", [1; 32]).unwrap();
        let witness = SignerKey::from_seed("test.example/witness", [4; 32]).unwrap();
        log_with_change((n, at), 1, &alpha, |change| {
            change.kind = spec::KIND;
            change.content_type = spec::CONTENT_TYPE.into();
            let record = spec::record(1, &[("test.example/witness", witness.public_key())], 0);
            let approval = alpha.sign(&spec::statement(ORIGIN, &record));
            change.payload = spec::payload(&record, &approval);
        })
    }

    #[test]
    fn the_parallel_audit_follows_a_witness_change_and_reports_it() {
        let n = 2 * CHUNK as u64 + 10;
        let at = CHUNK as u64 + 5;
        let (leaves, trust) = log_with_witness_change(n, at);
        let sequential = dyad_verifier::audit::audit(leaves.clone(), &[], trust.clone()).unwrap();
        assert_eq!(sequential.witness_changes.len(), 1);
        assert_eq!(sequential.witness_changes[0].index, at);
        assert_eq!(run(&leaves, None, trust).unwrap(), sequential);
        let json = super::super::witness_changes_json(&sequential.witness_changes);
        assert_eq!(json[0]["index"], at);
        assert_eq!(json[0]["number"], 1);
        assert_eq!(json[0]["sender"], "co-signer");
        assert_eq!(json[0]["witnesses"][0]["name"], "test.example/witness");
        let lines = super::super::witness_change_lines(&sequential.witness_changes);
        assert_eq!(lines.len(), 1);
        assert!(
            lines[0].contains(&format!(
                "witness change entry {at} (number 1, sent by the co-signer"
            )),
            "{}",
            lines[0]
        );
    }

    #[test]
    fn the_parallel_audit_finds_what_the_sequential_one_finds() {
        // Several chunks, the last one partial.
        let n = 3 * CHUNK as u64 + 40;
        let (mut leaves, trust) = log(n);
        let report = run(&leaves, None, trust.clone()).unwrap();
        let sequential = dyad_verifier::audit::audit(leaves.clone(), &[], trust.clone()).unwrap();
        assert_eq!(report, sequential);
        assert_eq!(report.leaves, n + 1);

        // A read error stops the audit there, even past a bad entry in a later chunk.
        let bad = 2 * CHUNK + 7;
        let last = leaves[bad].len() - 1;
        leaves[bad][last] ^= 1;
        match run(&leaves, Some(CHUNK + 3), trust.clone()) {
            Err(AuditFailure::Source(e)) => assert!(e.contains(&format!("{}", CHUNK + 3)), "{e}"),
            other => panic!("{:?}", other.map(|r| r.leaves)),
        }
        // Otherwise the first bad entry is named, as the sequential audit names it, and
        // not a later one.
        let later = 3 * CHUNK + 1;
        let last = leaves[later].len() - 1;
        leaves[later][last] ^= 1;
        let expected = dyad_verifier::audit::audit(leaves.clone(), &[], trust.clone()).unwrap_err();
        assert!(matches!(expected, AuditError::Entry { index, .. } if index == bad as u64));
        match run(&leaves, None, trust) {
            Err(AuditFailure::Log(e)) => assert_eq!(e, expected),
            other => panic!("{:?}", other.map(|r| r.leaves)),
        }
    }
}
