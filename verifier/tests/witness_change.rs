//! Witness changes (spec/dyad.md section 3.8): both parties replace the witnesses and their
//! threshold with a `witness-change` entry, signed by its sender and approved by the other
//! party. A log with a witness change of either party passes the audit (sequential, with a
//! `LeafChecker`, on threads) with the change reported; every checkpoint is judged by the
//! witnesses at its size (section 7); receipts follow the change through their key history
//! (section 8); a policy does not (section 9); and every rule of 3.8 refuses, by its name,
//! the entry that breaks it.

mod entry_support;

use dyad_testkit::witness_change as spec;
use dyad_verifier::audit::{self, AuditError, AuditReport, AuditTrust, Auditor, CheckpointFeed};
use dyad_verifier::entry::{self, Entry, EntryError, Kind};
use dyad_verifier::genesis::{ChannelParams, CommitError, Identifier, PartyRole};
use dyad_verifier::key_change::{KeyChangeError, KeyOwner};
use dyad_verifier::parallel_audit::{push_leaves, PushError};
use dyad_verifier::receipt::{self, ReceiptError, ReceiptTrust};
use dyad_verifier::receipt_history::verify_with_key_history;
use dyad_verifier::witness_change::WitnessChangeError;
use dyad_verifier::KeyError;
use ed25519_dalek::SigningKey;
use entry_support::*;

const ROLES: [PartyRole; 2] = [PartyRole::Sequencer, PartyRole::Cosigner];

/// A log under construction: each party's current key and sequence, the witnesses current
/// at its end, and the witness changes so far.
struct Log {
    c: Channel,
    keys: [TestKey; 2],
    sequences: [u64; 2],
    witnesses: Vec<TestKey>,
    changes: u32,
    checkpoints: Vec<Vec<u8>>,
}

/// A witness key from a fixed seed of its own.
fn witness(name: &str) -> TestKey {
    TestKey::new(&format!("{name}.witness.example"))
}

/// Witnesses as the record lists them: name and public key.
fn listed(witnesses: &[TestKey]) -> Vec<(&str, [u8; 32])> {
    witnesses
        .iter()
        .map(|w| (w.name.as_str(), w.public_key()))
        .collect()
}

impl Log {
    /// A genesis of alpha (sequencer) and bravo (co-signer) with two witnesses, both
    /// required.
    fn new() -> Log {
        let c = Channel::new(2, 2);
        Log {
            keys: [c.alpha.clone(), c.bravo.clone()],
            witnesses: c.witnesses.clone(),
            c,
            sequences: [0, 0],
            changes: 0,
            checkpoints: Vec::new(),
        }
    }

    fn time(&self) -> u64 {
        T0_MS + self.c.leaves.len() as u64 * 1000
    }

    fn push(&mut self, who: usize, mut e: Entry, signer: &TestKey) {
        self.sequences[who] = e.sequence;
        self.c.times.push(e.timestamp_ms);
        self.c.leaves.push(sign_and_encode(&mut e, &[signer]));
    }

    fn draft(&self, who: usize, kind: Kind) -> Entry {
        let sequence = self.sequences[who] + 1;
        draft(&self.c.origin, kind, &self.keys[who], sequence, self.time())
    }

    /// A notification by `who`'s current key, with its next sequence.
    fn message(&mut self, who: usize) -> &mut Log {
        let e = self.draft(who, Kind::Notification);
        let signer = self.keys[who].clone();
        self.push(who, e, &signer);
        self
    }

    /// `who`'s witness change to `witnesses` and `threshold` with the next number,
    /// unsigned, approved by the other party's current key.
    fn witness_change(&self, who: usize, witnesses: &[TestKey], threshold: u8) -> Entry {
        let record = spec::record(self.changes + 1, &listed(witnesses), threshold);
        self.witness_change_with(who, &record, &self.keys[1 - who])
    }

    /// `who`'s witness change with this record, approved by `approver`.
    fn witness_change_with(&self, who: usize, record: &[u8], approver: &TestKey) -> Entry {
        let mut e = self.draft(who, Kind::WitnessChange);
        e.subject = "Witness change".into();
        e.content_type = spec::CONTENT_TYPE.into();
        let approval = approver.sign(&spec::statement(&self.c.origin, record));
        e.payload = spec::payload(record, &approval);
        e
    }

    /// `who` changes the witnesses: the entry is signed by its current key.
    fn change_witnesses(&mut self, who: usize, witnesses: &[TestKey], threshold: u8) -> &mut Log {
        let e = self.witness_change(who, witnesses, threshold);
        let signer = self.keys[who].clone();
        self.push(who, e, &signer);
        self.witnesses = witnesses.to_vec();
        self.changes += 1;
        self
    }

    /// `who` changes its key to a new one from `label`'s seed (section 3.7).
    fn change_key(&mut self, who: usize, new: &TestKey) -> &mut Log {
        let mut e = self.draft(who, Kind::KeyChange);
        e.content_type = dyad_testkit::key_change::CONTENT_TYPE.into();
        let statement =
            dyad_testkit::key_change::statement(&e.origin, e.sender, e.sequence, &new.public_key());
        e.payload = dyad_testkit::key_change::payload(&new.public_key(), &new.sign(&statement));
        let signer = self.keys[who].clone();
        self.push(who, e, &signer);
        self.keys[who] = new.clone();
        self
    }

    /// A checkpoint of every leaf so far, signed and co-signed by the parties' current
    /// keys and co-signed by every current witness.
    fn checkpoint(&mut self) -> &mut Log {
        let witnesses = self.witnesses.clone();
        let note = self.note_by(&witnesses.iter().collect::<Vec<_>>());
        self.checkpoints.push(note);
        self
    }

    /// A checkpoint of every leaf so far by the parties' current keys, co-signed by
    /// `witnesses`.
    fn note_by(&self, witnesses: &[&TestKey]) -> Vec<u8> {
        let size = self.c.leaves.len();
        let at = self.c.time_for(size);
        let mut cosigners = vec![(&self.keys[1], at)];
        cosigners.extend(witnesses.iter().map(|w| (*w, at)));
        note(
            &self.c.origin,
            size as u64,
            &self.c.root(size),
            Some(&self.keys[0]),
            &cosigners,
        )
    }

    fn trust(&self) -> AuditTrust {
        AuditTrust::Parties([self.c.alpha.entry_vkey(), self.c.bravo.entry_vkey()])
    }

    fn audit(&self) -> Result<AuditReport, AuditError> {
        audit::audit(self.c.leaves.clone(), &self.checkpoints, self.trust())
    }

    /// The audit with the leaves after the genesis checked by a `LeafChecker` made once.
    fn audit_checked(&self) -> Result<AuditReport, AuditError> {
        let mut feed = CheckpointFeed::new(&self.checkpoints)?;
        let mut auditor = Auditor::new(self.trust())?;
        auditor.push_leaf(&self.c.leaves[0])?;
        feed.give_due(&mut auditor)?;
        let checker = auditor.leaf_checker().expect("leaf 0 pushed");
        for (i, leaf) in self.c.leaves.iter().enumerate().skip(1) {
            auditor.push_checked(checker.check(i as u64, leaf)?)?;
            feed.give_due(&mut auditor)?;
        }
        feed.give_rest(&mut auditor)?;
        auditor.finish()
    }

    /// The audit on two checking threads.
    fn audit_parallel(&self) -> Result<AuditReport, AuditError> {
        let mut feed = CheckpointFeed::new(&self.checkpoints)?;
        let mut auditor = Auditor::new(self.trust())?;
        let leaves = self.c.leaves.iter().cloned().map(Ok::<_, ()>);
        match push_leaves(&mut auditor, leaves, 2, |a| feed.give_due(a)) {
            Ok(()) => {}
            Err(PushError::Audit(e)) => return Err(e),
            Err(PushError::Source(())) => unreachable!("the leaves are in memory"),
        }
        feed.give_rest(&mut auditor)?;
        auditor.finish()
    }

    /// All three audits, which must agree.
    fn audits(&self) -> Result<AuditReport, AuditError> {
        let report = self.audit();
        assert_eq!(
            self.audit_checked(),
            report,
            "a LeafChecker made once agrees"
        );
        assert_eq!(self.audit_parallel(), report, "the audit on threads agrees");
        report
    }

    /// The channel's parameters with every leaf so far accepted.
    fn params(&self) -> ChannelParams {
        let (_, genesis) = dyad_verifier::genesis::check_genesis(&self.c.leaves[0]).unwrap();
        let mut params = ChannelParams::new(genesis).unwrap();
        for (i, leaf) in self.c.leaves.iter().enumerate().skip(1) {
            let e = entry::check_entry(leaf, i as u64, &params).unwrap();
            params.accept(i as u64, &e).unwrap();
        }
        params
    }

    /// The receipt of leaf `index` against the checkpoint note `note` of size `size`.
    fn receipt(&self, index: usize, size: usize, note: &[u8]) -> Vec<u8> {
        let proof = inclusion_proof(index, &self.c.leaf_hashes()[..size]);
        receipt::format(&self.c.leaves[index], index as u64, &proof, note)
    }

    fn history(&self, size: usize, note: &[u8], indices: &[usize]) -> Vec<Vec<u8>> {
        indices
            .iter()
            .map(|&i| self.receipt(i, size, note))
            .collect()
    }
}

fn new_witnesses() -> Vec<TestKey> {
    ["n0", "n1", "n2"].map(witness).to_vec()
}

/// Genesis (witnesses w0, w1, both required); alpha and bravo send; checkpoint 3; `who`
/// changes the witnesses at index 3 to n0, n1, n2 (two required); checkpoint 4; both send;
/// checkpoint 6.
fn scenario(who: usize) -> Log {
    let mut log = Log::new();
    log.message(0).message(1).checkpoint();
    log.change_witnesses(who, &new_witnesses(), 2).checkpoint();
    log.message(who).message(1 - who).checkpoint();
    log
}

#[test]
fn a_witness_change_by_either_party_passes_and_is_reported() {
    for (who, &role) in ROLES.iter().enumerate() {
        let log = scenario(who);
        let report = log.audits().unwrap_or_else(|e| panic!("party {who}: {e}"));
        assert_eq!(report.committed_size, 6);
        assert_eq!(report.kinds[usize::from(Kind::WitnessChange.as_u8())], 1);
        assert!(report.key_changes.is_empty());
        assert_eq!(report.witness_changes.len(), 1);
        let change = &report.witness_changes[0];
        assert_eq!((change.index, change.number, change.sender), (3, 1, role));
        let names: Vec<&str> = change.witnesses.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "n0.witness.example",
                "n1.witness.example",
                "n2.witness.example"
            ]
        );
        assert_eq!(change.witness_threshold, 2);
        // The commit rule at each size (section 7): the genesis's witnesses up to the
        // change's index, the new ones after it.
        let params = log.params();
        let at = |n| {
            let keys = params.commit_keys_at(n);
            (keys.witnesses.len(), keys.witness_threshold)
        };
        assert_eq!([at(3), at(4), at(6)], [(2, 2), (3, 2), (3, 2)]);
        assert_eq!(
            params.commit_keys_at(3).witnesses,
            log.c
                .witnesses
                .iter()
                .map(TestKey::cosignature_vkey)
                .collect::<Vec<_>>()
        );
        assert_eq!(params.commit_keys(), &params.commit_keys_at(7));
    }
}

/// After the change the old witnesses alone do not commit a checkpoint, the new ones do;
/// before it, the other way round; a witness the change removed counts for nothing.
#[test]
fn each_checkpoint_is_judged_by_the_witnesses_at_its_size() {
    let old = Log::new().witnesses;
    let new = new_witnesses();
    // (checkpoint of size 4 co-signed by, expected found/required or pass)
    type Case<'a> = (&'a str, Vec<&'a TestKey>, Option<(usize, usize)>);
    let cases: Vec<Case> = vec![
        ("the new witnesses", vec![&new[0], &new[2]], None),
        (
            "the old witnesses alone",
            vec![&old[0], &old[1]],
            Some((0, 2)),
        ),
        (
            "a removed witness and one new",
            vec![&old[1], &new[1]],
            Some((1, 2)),
        ),
    ];
    for (name, by, expected) in cases {
        let mut log = Log::new();
        log.message(0).message(1).checkpoint();
        log.change_witnesses(0, &new, 2);
        let note = log.note_by(&by);
        log.checkpoints.push(note);
        let result = log.audits();
        match expected {
            None => assert!(result.is_ok(), "{name}: {result:?}"),
            Some((found, required)) => assert_eq!(
                result,
                Err(AuditError::NotCommitted {
                    size: Some(4),
                    error: CommitError::NotEnoughWitnesses { found, required }
                }),
                "{name}"
            ),
        }
    }
    // Before the change (size 3), the new witnesses do not count.
    let mut log = Log::new();
    log.message(0).message(1);
    let note = log.note_by(&new.iter().collect::<Vec<_>>());
    log.checkpoints.push(note);
    log.change_witnesses(0, &new, 2).checkpoint();
    assert_eq!(
        log.audits(),
        Err(AuditError::NotCommitted {
            size: Some(3),
            error: CommitError::NotEnoughWitnesses {
                found: 0,
                required: 2
            }
        })
    );
}

/// A checkpoint given before the leaves that hold the witness change is judged when the
/// leaves reach it: one co-signed by the new witnesses waits and passes, one co-signed by
/// the old witnesses (which passes under them when given) fails then.
#[test]
fn a_checkpoint_given_ahead_of_a_witness_change_is_judged_at_its_size() {
    let new = new_witnesses();
    for (by_new, passes) in [(true, true), (false, false)] {
        let mut log = Log::new();
        log.message(0).message(1).checkpoint();
        log.change_witnesses(1, &new, 2).message(0).message(1);
        let by: Vec<&TestKey> = if by_new {
            new.iter().collect()
        } else {
            log.c.witnesses.iter().collect()
        };
        let note = log.note_by(&by);
        log.checkpoints.push(note);
        let result = log.audits();
        if passes {
            assert_eq!(result.unwrap().committed_size, 6);
        } else {
            assert_eq!(
                result,
                Err(AuditError::NotCommitted {
                    size: Some(6),
                    error: CommitError::NotEnoughWitnesses {
                        found: 0,
                        required: 2
                    }
                })
            );
        }
    }
}

#[test]
fn a_change_to_threshold_zero_commits_on_the_cosigner_alone() {
    let mut log = Log::new();
    log.message(0).checkpoint();
    log.change_witnesses(1, &[], 0).message(0);
    let note = log.note_by(&[]);
    log.checkpoints.push(note);
    let report = log.audits().unwrap();
    assert_eq!(report.committed_size, 4);
    assert!(report.witness_changes[0].witnesses.is_empty());
    assert_eq!(log.params().commit_keys_at(4).witness_threshold, 0);
}

/// A witness can leave and come back with the same name and key; numbers go 1, 2, 3; and a
/// party's new key must not repeat a witness of a witness change (3.7: every key the
/// channel has had).
#[test]
fn witnesses_leave_and_come_back_and_numbers_run_on() {
    let mut log = Log::new();
    let w0 = log.witnesses[0].clone();
    let n0 = witness("n0");
    log.change_witnesses(0, std::slice::from_ref(&n0), 1)
        .checkpoint();
    log.change_witnesses(1, &[n0.clone(), w0.clone()], 2)
        .message(0)
        .checkpoint();
    log.change_witnesses(0, std::slice::from_ref(&w0), 1)
        .checkpoint();
    let report = log.audits().unwrap();
    let numbers: Vec<(u64, u32)> = report
        .witness_changes
        .iter()
        .map(|c| (c.index, c.number))
        .collect();
    assert_eq!(numbers, [(1, 1), (2, 2), (4, 3)]);

    // n0 left at index 4; a key change to its key (under alpha's name) is refused.
    let reused = TestKey {
        name: log.keys[0].name.clone(),
        signing: n0.signing.clone(),
    };
    log.change_key(0, &reused);
    assert_eq!(
        log.audit(),
        Err(AuditError::Entry {
            index: 5,
            error: KeyChangeError::NewKeyReused {
                identifier: Identifier::PublicKey,
                previous: KeyOwner::WitnessChange(1),
            }
            .into()
        })
    );
}

/// Each case edits the witness change at index 3 (alpha's, approved by bravo) and names
/// the refusal the entry check and the audit give.
#[test]
fn each_rule_of_a_witness_change_refuses_by_its_name() {
    let mut base = Log::new();
    base.message(0).message(1);
    let params = base.params();
    let (alpha, bravo) = (base.keys[0].clone(), base.keys[1].clone());
    let new = new_witnesses();
    let stranger = TestKey::new("test.example/stranger");
    let record = spec::record;
    let good = record(1, &listed(&new), 2);
    let with_payload = |payload: Vec<u8>| {
        move |e: &mut Entry| {
            e.payload = payload.clone();
        }
    };
    let approved = |r: &[u8], by: &TestKey| spec::payload(r, &by.sign(&spec::statement(ORIGIN, r)));
    let small_order = {
        let mut identity = [0; 32];
        identity[0] = 1;
        identity
    };
    type Edit = Box<dyn Fn(&mut Entry)>;
    let cases: Vec<(&str, Edit, EntryError)> = vec![
        (
            "number 0",
            Box::new(with_payload(approved(&record(0, &listed(&new), 2), &bravo))),
            WitnessChangeError::WrongWitnessChangeNumber {
                expected: 1,
                found: 0,
            }
            .into(),
        ),
        (
            "number 2 for the first change",
            Box::new(with_payload(approved(&record(2, &listed(&new), 2), &bravo))),
            WitnessChangeError::WrongWitnessChangeNumber {
                expected: 1,
                found: 2,
            }
            .into(),
        ),
        (
            "a witness with the sequencer's public key",
            Box::new(with_payload(approved(
                &record(1, &[("other.witness.example", alpha.public_key())], 1),
                &bravo,
            ))),
            WitnessChangeError::WitnessKeyReused {
                index: 0,
                identifier: Identifier::PublicKey,
                previous: KeyOwner::Genesis(PartyRole::Sequencer),
            }
            .into(),
        ),
        (
            "a genesis witness's key under a new name",
            Box::new(with_payload(approved(
                &record(
                    1,
                    &[
                        ("n0.witness.example", new[0].public_key()),
                        ("renamed.witness.example", base.witnesses[1].public_key()),
                    ],
                    1,
                ),
                &bravo,
            ))),
            WitnessChangeError::WitnessKeyReused {
                index: 1,
                identifier: Identifier::PublicKey,
                previous: KeyOwner::Genesis(PartyRole::Witness(1)),
            }
            .into(),
        ),
        (
            "a witness named like the co-signer",
            Box::new(with_payload(approved(
                &record(1, &[(bravo.name.as_str(), new[0].public_key())], 1),
                &bravo,
            ))),
            WitnessChangeError::WitnessKeyReused {
                index: 0,
                identifier: Identifier::Name,
                previous: KeyOwner::Genesis(PartyRole::Cosigner),
            }
            .into(),
        ),
        (
            "approved by the sender itself",
            Box::new(with_payload(approved(&good, &alpha))),
            WitnessChangeError::BadApproval.into(),
        ),
        (
            "approved by a stranger",
            Box::new(with_payload(approved(&good, &stranger))),
            WitnessChangeError::BadApproval.into(),
        ),
        (
            "an approval of another set",
            Box::new(with_payload(spec::payload(
                &good,
                &bravo.sign(&spec::statement(ORIGIN, &record(1, &listed(&new), 1))),
            ))),
            WitnessChangeError::BadApproval.into(),
        ),
        (
            "an approval for another channel",
            Box::new(with_payload(spec::payload(
                &good,
                &bravo.sign(&spec::statement("test.example/dyad/other", &good)),
            ))),
            WitnessChangeError::BadApproval.into(),
        ),
        (
            "another content type",
            Box::new(|e: &mut Entry| e.content_type = "text/plain".into()),
            WitnessChangeError::WrongContentType("text/plain".into()).into(),
        ),
        (
            "a reply_to",
            Box::new(|e: &mut Entry| e.reply_to = Some(1)),
            WitnessChangeError::WitnessChangeWithReplyTo.into(),
        ),
        (
            "an attachment",
            Box::new(|e: &mut Entry| e.attachments = vec![attachment(b"x", "x.txt")]),
            WitnessChangeError::WitnessChangeWithAttachments.into(),
        ),
        (
            "a threshold above the count",
            Box::new(with_payload(approved(&record(1, &listed(&new), 4), &bravo))),
            WitnessChangeError::ThresholdTooHigh {
                threshold: 4,
                witnesses: 3,
            }
            .into(),
        ),
        (
            "33 witnesses",
            Box::new(with_payload({
                let many: Vec<TestKey> = (0..33).map(|i| witness(&format!("m{i}"))).collect();
                approved(&record(1, &listed(&many), 1), &bravo)
            })),
            WitnessChangeError::TooManyWitnesses { count: 33 }.into(),
        ),
        (
            "the same witness twice",
            Box::new(with_payload(approved(
                &record(
                    1,
                    &listed(&[new[0].clone(), new[1].clone(), new[0].clone()]),
                    1,
                ),
                &bravo,
            ))),
            WitnessChangeError::DuplicateWitness {
                index: 2,
                other: 0,
                identifier: Identifier::Name,
            }
            .into(),
        ),
        (
            "a small-order witness key",
            Box::new(with_payload(approved(
                &record(1, &[("weak.witness.example", small_order)], 1),
                &bravo,
            ))),
            WitnessChangeError::InvalidWitness {
                index: 0,
                error: KeyError::WeakPublicKey,
            }
            .into(),
        ),
    ];
    for (name, edit, expected) in cases {
        let mut e = base.witness_change(0, &new, 2);
        edit(&mut e);
        let bytes = sign_and_encode(&mut e, &[&alpha]);
        let result = entry::check_entry(&bytes, 3, &params);
        assert_eq!(result.unwrap_err(), expected, "{name}");
        let mut leaves = base.c.leaves.clone();
        leaves.push(bytes);
        let found = audit::audit(leaves, &[], base.trust()).unwrap_err();
        assert_eq!(
            found,
            AuditError::Entry {
                index: 3,
                error: expected.clone()
            },
            "{name}"
        );
        // The code the spec names.
        if let EntryError::WitnessChange(e) = &expected {
            assert!(!e.code().is_empty());
        }
    }
    // Malformed payloads: the record cut short, and a byte after the approval.
    let full = approved(&good, &bravo);
    for (name, payload) in [
        ("cut short", full[..full.len() - 1].to_vec()),
        ("a trailing byte", [full.as_slice(), &[0]].concat()),
        ("empty", Vec::new()),
    ] {
        let mut e = base.witness_change(0, &new, 2);
        e.payload = payload;
        let bytes = sign_and_encode(&mut e, &[&alpha]);
        match entry::check_entry(&bytes, 3, &params) {
            Err(EntryError::WitnessChange(e)) => assert_eq!(e.code(), "MalformedPayload", "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    // Unchanged, it passes.
    let mut e = base.witness_change(0, &new, 2);
    let bytes = sign_and_encode(&mut e, &[&alpha]);
    assert!(entry::check_entry(&bytes, 3, &params).is_ok());
}

/// A witness change's payload is not subject to `max_payload` (3.8), as the genesis's is
/// not; any other entry's is.
#[test]
fn a_witness_change_is_not_bound_by_max_payload() {
    let mut log = Log::new();
    log.c.genesis.max_payload = 16;
    log.c.leaves[0] = genesis_entry(&log.c.genesis, &log.c.alpha, &log.c.bravo, T0_MS);
    log.change_witnesses(0, &new_witnesses(), 2);
    assert!(log.c.leaves[1].len() > 16 * 10);
    log.checkpoint();
    assert_eq!(log.audits().unwrap().witness_changes.len(), 1);
    // A message of 17 bytes is refused.
    let mut e = log.draft(1, Kind::Notification);
    e.payload = vec![b'x'; 17];
    let signer = log.keys[1].clone();
    log.push(1, e, &signer);
    assert_eq!(
        log.audit(),
        Err(AuditError::Entry {
            index: 2,
            error: EntryError::PayloadTooLarge { len: 17, max: 16 }
        })
    );
}

/// The history rules come after the entry's own signature and in the spec's order:
/// `WrongWitnessChangeNumber`, `WitnessKeyReused`, `BadApproval`.
#[test]
fn the_history_rules_are_checked_in_the_spec_order() {
    let mut base = Log::new();
    base.message(0);
    let params = base.params();
    let (alpha, bravo) = (base.keys[0].clone(), base.keys[1].clone());
    let reused = [("other.witness.example", alpha.public_key())];
    let unapproved = |number: u32, witnesses: &[(&str, [u8; 32])]| {
        spec::payload(&spec::record(number, witnesses, 0), &[0; 64])
    };
    let cases: Vec<(Vec<u8>, &TestKey, EntryError)> = vec![
        // Every history rule broken, and the entry signed by a stranger's key under
        // alpha's key ID: the entry's signature is checked first.
        (
            unapproved(7, &reused),
            &bravo,
            EntryError::BadSignature {
                key_id: alpha.key_id(),
            },
        ),
        (
            unapproved(7, &reused),
            &alpha,
            WitnessChangeError::WrongWitnessChangeNumber {
                expected: 1,
                found: 7,
            }
            .into(),
        ),
        (
            unapproved(1, &reused),
            &alpha,
            WitnessChangeError::WitnessKeyReused {
                index: 0,
                identifier: Identifier::PublicKey,
                previous: KeyOwner::Genesis(PartyRole::Sequencer),
            }
            .into(),
        ),
        (
            unapproved(1, &[]),
            &alpha,
            WitnessChangeError::BadApproval.into(),
        ),
    ];
    for (payload, signer, expected) in cases {
        let mut e = base.witness_change(0, &[], 0);
        e.payload = payload;
        let mut bytes = sign_and_encode(&mut e, &[signer]);
        if signer.key_id() != alpha.key_id() {
            // Put alpha's key ID back on the signature: a signature that does not verify.
            let mut e = entry::decode(&bytes).unwrap();
            e.signatures[0].key_id = alpha.key_id();
            bytes = encode(&e);
        }
        assert_eq!(entry::check_entry(&bytes, 2, &params), Err(expected));
    }
}

// --- Receipts with a witness change in their key history (spec section 8). ---

fn genesis_trust(log: &Log) -> ReceiptTrust {
    ReceiptTrust::genesis(&log.c.genesis).unwrap()
}

fn parties_trust(log: &Log) -> ReceiptTrust {
    ReceiptTrust::parties(log.c.bravo.entry_vkey(), log.c.alpha.entry_vkey()).unwrap()
}

#[test]
fn receipts_follow_the_witness_change_in_their_key_history() {
    for who in 0..2 {
        let log = scenario(who);
        let note = log.checkpoints[2].clone(); // size 6, co-signed by the new witnesses
        let history = log.history(6, &note, &[3]);
        for trust in [genesis_trust(&log), parties_trust(&log)] {
            for index in 0..6 {
                let bytes = log.receipt(index, 6, &note);
                let verified = verify_with_key_history(&bytes, &history, &trust)
                    .unwrap_or_else(|e| panic!("party {who}, entry {index}: {e}"));
                assert_eq!(verified.witness_changes.len(), 1);
                assert_eq!(verified.witness_changes[0].index, 3);
                assert!(verified.key_changes.is_empty());
                assert_eq!(verified.committed.witnesses.len(), 3);
            }
        }
        // Without the witness change, the genesis witnesses judge the checkpoint: too few
        // of them co-signed, and the verifier says a key history may be missing.
        let bytes = log.receipt(4, 6, &note);
        let alone = verify_with_key_history(&bytes, &[], &genesis_trust(&log)).unwrap_err();
        assert_eq!(
            alone,
            ReceiptError::MayNeedKeyHistory(CommitError::NotEnoughWitnesses {
                found: 0,
                required: 2
            })
        );
        assert!(alone.to_string().contains("key-changes/"), "{alone}");
    }
}

/// A receipt whose history leaves out a witness change is judged by the older witnesses:
/// it passes only if enough of those co-signed.
#[test]
fn a_receipt_missing_a_witness_change_is_judged_by_the_older_witnesses() {
    let mut log = Log::new();
    log.message(0).message(1);
    let old: Vec<TestKey> = log.witnesses.clone();
    log.change_witnesses(0, &new_witnesses(), 1).message(1);
    // Co-signed by the new witnesses and, still, by both old ones.
    let mut by: Vec<&TestKey> = old.iter().collect();
    let new = new_witnesses();
    by.push(&new[0]);
    let note = log.note_by(&by);
    let bytes = log.receipt(4, 5, &note);
    let verified = verify_with_key_history(&bytes, &[], &genesis_trust(&log)).unwrap();
    assert!(verified.witness_changes.is_empty());
    assert_eq!(verified.committed.witnesses.len(), 2);
    // With the history, it is judged by the new witnesses: one of them is enough.
    let with = verify_with_key_history(&bytes, &log.history(5, &note, &[3]), &genesis_trust(&log))
        .unwrap();
    assert_eq!(with.witness_changes.len(), 1);
    assert_eq!(with.committed.witnesses.len(), 1);
}

#[test]
fn a_witness_change_in_a_key_history_is_checked_as_the_log_would_be() {
    let mut log = Log::new();
    log.message(0).message(1);
    let new = new_witnesses();
    // Approved by the sender itself.
    let record = spec::record(1, &listed(&new), 2);
    let alpha = log.keys[0].clone();
    let e = log.witness_change_with(0, &record, &alpha);
    log.push(0, e, &alpha);
    log.witnesses = new.clone();
    log.message(1).checkpoint();
    let note = log.checkpoints[0].clone();
    let bytes = log.receipt(4, 5, &note);
    assert_eq!(
        verify_with_key_history(&bytes, &log.history(5, &note, &[3]), &genesis_trust(&log)),
        Err(ReceiptError::KeyHistory {
            index: 3,
            error: Box::new(ReceiptError::Entry(WitnessChangeError::BadApproval.into()))
        })
    );
    // Something else than a key or witness change.
    assert_eq!(
        verify_with_key_history(&bytes, &log.history(5, &note, &[2]), &genesis_trust(&log)),
        Err(ReceiptError::KeyHistoryNotAKeyChange {
            index: 2,
            kind: Kind::Notification
        })
    );
}

/// A key change and a witness change in one key history, taken in index order: the
/// witness change after the key change is approved by the new key.
#[test]
fn a_key_history_with_key_and_witness_changes_is_taken_in_index_order() {
    let mut log = Log::new();
    let b2 = TestKey {
        name: log.keys[1].name.clone(),
        signing: SigningKey::from_bytes(&sha256(b"bravo's second key")),
    };
    log.message(0).change_key(1, &b2);
    log.change_witnesses(0, &new_witnesses(), 2)
        .message(1)
        .checkpoint();
    let report = log.audits().unwrap();
    assert_eq!(report.key_changes.len(), 1);
    assert_eq!(report.witness_changes.len(), 1);
    let note = log.checkpoints[0].clone();
    let bytes = log.receipt(4, 5, &note);
    let verified = verify_with_key_history(
        &bytes,
        &log.history(5, &note, &[3, 2]),
        &genesis_trust(&log),
    )
    .unwrap();
    assert_eq!(verified.key_changes[0].index, 2);
    assert_eq!(verified.witness_changes[0].index, 3);
    assert_eq!(verified.sender, b2.entry_vkey());
}

/// A policy's witnesses and quorum are the auditor's and do not follow witness changes
/// (section 9): the genesis policy, which asks for the genesis witnesses, is not met by a
/// checkpoint the new witnesses co-signed, in an audit and in a receipt.
#[test]
fn a_policy_does_not_follow_witness_changes() {
    let log = scenario(0);
    let policy = log.c.genesis.policy().unwrap();
    let result = audit::audit(
        log.c.leaves.clone(),
        &log.checkpoints,
        AuditTrust::Policy(policy.clone()),
    );
    assert!(
        matches!(result, Err(AuditError::PolicyNotMet { size: Some(4), .. })),
        "{result:?}"
    );
    let note = log.checkpoints[2].clone();
    let bytes = log.receipt(4, 6, &note);
    let trust = ReceiptTrust::from_policy(policy).unwrap();
    assert!(matches!(
        verify_with_key_history(&bytes, &log.history(6, &note, &[3]), &trust),
        Err(ReceiptError::Policy(_))
    ));
    // A checkpoint before the change meets it.
    let early = log.checkpoints[0].clone();
    assert!(verify_with_key_history(&log.receipt(1, 3, &early), &[], &trust).is_ok());
}

/// A bare checkpoint with the key history (spec 8): committed under the witnesses of the
/// change below its size; without the history, judged by the genesis witnesses, it is not.
#[test]
fn a_bare_checkpoint_follows_the_witness_change_in_its_key_history() {
    use dyad_verifier::receipt_history::verify_checkpoint_with_key_history;
    for who in 0..2 {
        let log = scenario(who);
        let note = log.checkpoints[2].clone(); // size 6, co-signed by the new witnesses
        let history = log.history(6, &note, &[3]);
        let verified = verify_checkpoint_with_key_history(&note, &history, &genesis_trust(&log))
            .unwrap_or_else(|e| panic!("party {who}: {e}"));
        assert_eq!(verified.committed.checkpoint.size, 6);
        assert_eq!(verified.witness_changes.len(), 1);
        assert_eq!(verified.committed.witnesses.len(), 3);
        let alone = verify_checkpoint_with_key_history(&note, &[], &genesis_trust(&log));
        assert!(alone.is_err(), "party {who}: passed without its history");
        let other = log.checkpoints[1].clone();
        let refused =
            verify_checkpoint_with_key_history(&other, &history, &genesis_trust(&log)).unwrap_err();
        assert!(
            matches!(refused, ReceiptError::KeyHistoryCheckpointDiffers { .. }),
            "{refused}"
        );
    }
}
