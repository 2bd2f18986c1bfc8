//! Key changes (spec/dyad.md section 3.7): a party replaces its key with a key-change
//! entry signed by its old key and proved by its new one. A log with a key change of
//! either party passes the audit (sequential and with a `LeafChecker`) with the change
//! reported, and every rule of 3.7 refuses, by its name, the entry that breaks it.

mod entry_support;

use dyad_testkit::key_change as spec;
use dyad_verifier::audit::{self, AuditError, AuditReport, AuditTrust, Auditor, CheckpointFeed};
use dyad_verifier::entry::{self, Entry, EntryError, Kind};
use dyad_verifier::genesis::{ChannelParams, CommitError, Identifier, PartyRole};
use dyad_verifier::key_change::{KeyChangeError, KeyOwner};
use dyad_verifier::parallel_audit::{push_leaves, PushError};
use dyad_verifier::receipt::{self, ReceiptError, ReceiptTrust};
use dyad_verifier::receipt_history::verify_with_key_history;
use ed25519_dalek::SigningKey;
use entry_support::*;

/// A log under construction, with each party's current signing key and sequence.
struct Log {
    c: Channel,
    keys: [TestKey; 2],
    sequences: [u64; 2],
    checkpoints: Vec<Vec<u8>>,
}

/// A new key for the party named like `old`, from a seed of its own.
fn new_key(old: &TestKey, label: &str) -> TestKey {
    TestKey {
        name: old.name.clone(),
        signing: SigningKey::from_bytes(&sha256(format!("new key {label}").as_bytes())),
    }
}

const ROLES: [PartyRole; 2] = [PartyRole::Sequencer, PartyRole::Cosigner];

impl Log {
    /// A genesis of alpha (sequencer) and bravo (co-signer) with one required witness.
    fn new() -> Log {
        let c = Channel::new(1, 1);
        let keys = [c.alpha.clone(), c.bravo.clone()];
        Log {
            c,
            keys,
            sequences: [0, 0],
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

    /// A notification by `who`'s current key, with its next sequence.
    fn message(&mut self, who: usize) -> &mut Log {
        let e = self.draft(who, Kind::Notification);
        let signer = self.keys[who].clone();
        self.push(who, e, &signer);
        self
    }

    fn draft(&self, who: usize, kind: Kind) -> Entry {
        let sequence = self.sequences[who] + 1;
        draft(&self.c.origin, kind, &self.keys[who], sequence, self.time())
    }

    /// `who`'s key change to `new`, unsigned: its payload proved by `new`.
    fn key_change(&self, who: usize, new: &TestKey) -> Entry {
        let mut e = self.draft(who, Kind::KeyChange);
        e.subject = "Key change".into();
        e.content_type = spec::CONTENT_TYPE.into();
        e.payload = proof(&e, new, &e.origin.clone(), e.sequence);
        e
    }

    /// `who` changes its key to `new`: the entry is signed by its current key.
    fn change_key(&mut self, who: usize, new: &TestKey) -> &mut Log {
        let e = self.key_change(who, new);
        let signer = self.keys[who].clone();
        self.push(who, e, &signer);
        self.keys[who] = new.clone();
        self
    }

    /// A checkpoint of every leaf so far, signed and co-signed by the current keys.
    fn checkpoint(&mut self) -> &mut Log {
        let note = self.note_by(&self.keys[0].clone(), &self.keys[1].clone());
        self.checkpoints.push(note);
        self
    }

    /// A checkpoint of every leaf so far signed by `log` and co-signed by `cosigner`
    /// and the witness.
    fn note_by(&self, log: &TestKey, cosigner: &TestKey) -> Vec<u8> {
        let size = self.c.leaves.len();
        let at = self.c.time_for(size);
        let cosigners = [(cosigner, at), (&self.c.witnesses[0], at)];
        note(
            &self.c.origin,
            size as u64,
            &self.c.root(size),
            Some(log),
            &cosigners,
        )
    }

    /// The same log cut to its first `leaves` leaves, with the checkpoints within them.
    fn clone_prefix(&self, leaves: usize) -> Log {
        let mut c = Channel::new(1, 1);
        c.leaves = self.c.leaves[..leaves].to_vec();
        c.times = self.c.times[..leaves].to_vec();
        let size = |n: &Vec<u8>| {
            let text = String::from_utf8_lossy(n);
            text.lines().nth(1).and_then(|l| l.parse::<usize>().ok())
        };
        Log {
            c,
            keys: self.keys.clone(),
            sequences: self.sequences,
            checkpoints: self
                .checkpoints
                .iter()
                .filter(|n| size(n).is_some_and(|s| s <= leaves))
                .cloned()
                .collect(),
        }
    }

    fn trust(&self) -> AuditTrust {
        AuditTrust::Parties([self.c.alpha.entry_vkey(), self.c.bravo.entry_vkey()])
    }

    fn audit(&self) -> Result<AuditReport, AuditError> {
        audit::audit(self.c.leaves.clone(), &self.checkpoints, self.trust())
    }

    /// The audit as the CLI runs it: leaves after the genesis through a `LeafChecker`
    /// made once, after leaf 0, then pushed in order.
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

    /// The audit on two checking threads (`push_leaves`), which take a new `LeafChecker`
    /// after each key change.
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
}

/// The 96-byte payload: `new`'s public key and its signature over the statement of an
/// entry like `e` but with `origin` and `sequence` (the entry's own, unless a test
/// replays a statement).
fn proof(e: &Entry, new: &TestKey, origin: &str, sequence: u64) -> Vec<u8> {
    let statement = spec::statement(origin, e.sender, sequence, &new.public_key());
    spec::payload(&new.public_key(), &new.sign(&statement))
}

/// Genesis; alpha and bravo send; checkpoint 3; `who` changes its key at index 3;
/// checkpoint 4; `who` (with the new key) and the other party send; checkpoint 6.
fn scenario(who: usize) -> (Log, TestKey) {
    let mut log = Log::new();
    let new = new_key(&log.keys[who], "scenario");
    log.message(0).message(1).checkpoint();
    log.change_key(who, &new).checkpoint();
    log.message(who).message(1 - who).checkpoint();
    (log, new)
}

#[test]
fn a_key_change_of_either_party_passes_and_is_reported() {
    for who in 0..2 {
        let (log, new) = scenario(who);
        let old = log.c.party(who).clone();
        let report = log.audit().unwrap();
        assert_eq!(report.leaves, 6);
        assert_eq!(report.committed_size, 6);
        assert_eq!(report.kinds[usize::from(Kind::KeyChange.as_u8())], 1);
        assert_eq!(report.key_changes.len(), 1);
        let change = &report.key_changes[0];
        assert_eq!(change.index, 3);
        assert_eq!(change.role, ROLES[who]);
        assert_eq!(change.old_key_id, old.key_id());
        assert_eq!(change.new_key, new.entry_vkey());
        // A party's sequence runs on across its key change (3.3): 1, 2 (the change), 3.
        assert_eq!(
            [report.entries_by_sequencer, report.entries_by_cosigner][who],
            if who == 0 { 4 } else { 3 }
        );
        assert_eq!(log.audit_checked().unwrap(), report);
        assert_eq!(log.audit_parallel().unwrap(), report);
        let params = log.params();
        assert_eq!(params.current_key(ROLES[who]), &new.entry_vkey());
        assert_eq!(
            params.current_key(ROLES[1 - who]),
            &log.keys[1 - who].entry_vkey()
        );
    }
}

#[test]
fn two_key_changes_in_a_row_pass() {
    let mut log = Log::new();
    let a2 = new_key(&log.keys[0], "a2");
    let a3 = new_key(&log.keys[0], "a3");
    let b2 = new_key(&log.keys[1], "b2");
    log.message(0)
        .change_key(0, &a2)
        .change_key(1, &b2)
        .checkpoint();
    log.change_key(0, &a3).message(0).message(1).checkpoint();
    let report = log.audit().unwrap();
    let indices: Vec<u64> = report.key_changes.iter().map(|c| c.index).collect();
    assert_eq!(indices, [2, 3, 4]);
    assert_eq!(log.audit_checked().unwrap(), report);
    assert_eq!(log.audit_parallel().unwrap(), report);
}

/// Key changes in a log of several chunks of `push_leaves`: the threads check the entries
/// under the new keys with a new checker, and an entry by a retired key, chunks after its
/// change and with a broken signature too, fails by `RetiredKey` as in the sequential audit.
#[test]
fn the_audit_on_threads_follows_key_changes_across_chunks() {
    let mut log = Log::new();
    let a2 = new_key(&log.keys[0], "long a2");
    let b2 = new_key(&log.keys[1], "long b2");
    let messages = |log: &mut Log, n: usize| {
        for i in 0..n {
            log.message(i % 2);
        }
    };
    messages(&mut log, 300);
    log.change_key(0, &a2);
    messages(&mut log, 300);
    log.change_key(1, &b2).checkpoint();
    messages(&mut log, 200);
    log.checkpoint();
    let report = log.audit().unwrap();
    let indices: Vec<u64> = report.key_changes.iter().map(|c| c.index).collect();
    assert_eq!(indices, [301, 602]);
    assert_eq!(log.audit_parallel(), Ok(report));

    let old = log.c.party(0).clone();
    let mut e = log.draft(0, Kind::Notification);
    e.sender = old.key_id();
    log.push(0, e, &old);
    let retired = log.c.leaves.len() - 1;
    let end = log.c.leaves[retired].len() - 1;
    log.c.leaves[retired][end] ^= 1;
    messages(&mut log, 100);
    let expected = AuditError::Entry {
        index: retired as u64,
        error: EntryError::RetiredKey {
            key_id: old.key_id(),
            role: PartyRole::Sequencer,
            retired_at: 301,
        },
    };
    assert_eq!(log.audit(), Err(expected.clone()));
    assert_eq!(log.audit_parallel(), Err(expected));
}

/// Each case changes the key change at index 3 (alpha's, unless `who` says otherwise) and
/// names the refusal the entry check gives.
#[test]
fn each_rule_of_a_key_change_refuses_by_its_name() {
    let mut base = Log::new();
    base.message(0).message(1);
    let params = base.params();
    let alpha = base.keys[0].clone();
    let new = new_key(&alpha, "case");
    let stranger = TestKey::new("test.example/stranger");
    type Edit = Box<dyn Fn(&mut Entry) -> TestKey>;
    let reused = |pk: [u8; 32]| {
        let alpha = alpha.clone();
        let fake = TestKey {
            name: alpha.name.clone(),
            signing: SigningKey::from_bytes(&[0; 32]),
        };
        Box::new(move |e: &mut Entry| {
            // The statement cannot be signed for a key we do not hold; reuse is judged
            // on the key itself, before the signature would be.
            let sig = fake.sign(b"not the statement");
            e.payload = spec::payload(&pk, &sig);
            alpha.clone()
        }) as Edit
    };
    let cases: Vec<(&str, Edit, EntryError)> = vec![
        (
            "signed only by the new key, as its sender",
            Box::new({
                let new = new.clone();
                move |e: &mut Entry| {
                    e.sender = new.key_id();
                    e.payload = proof(e, &new, ORIGIN, e.sequence);
                    new.clone()
                }
            }),
            EntryError::SenderNotAParty {
                key_id: new.key_id(),
            },
        ),
        (
            "by a stranger",
            Box::new({
                let (stranger, new) = (stranger.clone(), new.clone());
                move |e: &mut Entry| {
                    e.sender = stranger.key_id();
                    e.payload = proof(e, &new, ORIGIN, e.sequence);
                    stranger.clone()
                }
            }),
            EntryError::SenderNotAParty {
                key_id: stranger.key_id(),
            },
        ),
        (
            "the new key's signature by another key",
            Box::new({
                let (alpha, stranger, new) = (alpha.clone(), stranger.clone(), new.clone());
                move |e: &mut Entry| {
                    let statement =
                        spec::statement(ORIGIN, e.sender, e.sequence, &new.public_key());
                    e.payload = spec::payload(&new.public_key(), &stranger.sign(&statement));
                    alpha.clone()
                }
            }),
            KeyChangeError::BadNewKeySignature.into(),
        ),
        (
            "the statement of another sequence, replayed",
            Box::new({
                let (alpha, new) = (alpha.clone(), new.clone());
                move |e: &mut Entry| {
                    e.payload = proof(e, &new, ORIGIN, e.sequence + 1);
                    alpha.clone()
                }
            }),
            KeyChangeError::BadNewKeySignature.into(),
        ),
        (
            "the statement of another channel, replayed",
            Box::new({
                let (alpha, new) = (alpha.clone(), new.clone());
                move |e: &mut Entry| {
                    e.payload = proof(e, &new, "test.example/dyad/other", e.sequence);
                    alpha.clone()
                }
            }),
            KeyChangeError::BadNewKeySignature.into(),
        ),
        (
            "the co-signer's genesis key",
            reused(base.c.bravo.public_key()),
            KeyChangeError::NewKeyReused {
                identifier: Identifier::PublicKey,
                previous: KeyOwner::Genesis(PartyRole::Cosigner),
            }
            .into(),
        ),
        (
            "a witness's key",
            reused(base.c.witnesses[0].public_key()),
            KeyChangeError::NewKeyReused {
                identifier: Identifier::PublicKey,
                previous: KeyOwner::Genesis(PartyRole::Witness(0)),
            }
            .into(),
        ),
        (
            "its own current key",
            reused(alpha.public_key()),
            KeyChangeError::NewKeyReused {
                identifier: Identifier::PublicKey,
                previous: KeyOwner::Genesis(PartyRole::Sequencer),
            }
            .into(),
        ),
        (
            "a small-order key",
            reused({
                let mut identity = [0; 32];
                identity[0] = 1;
                identity
            }),
            KeyChangeError::InvalidNewKey(dyad_verifier::KeyError::WeakPublicKey).into(),
        ),
        (
            "another content type",
            Box::new({
                let alpha = alpha.clone();
                move |e: &mut Entry| {
                    e.content_type = "text/plain".into();
                    alpha.clone()
                }
            }),
            KeyChangeError::WrongContentType("text/plain".into()).into(),
        ),
        (
            "a 95-byte payload",
            Box::new({
                let alpha = alpha.clone();
                move |e: &mut Entry| {
                    e.payload.pop();
                    alpha.clone()
                }
            }),
            KeyChangeError::MalformedPayload { len: 95 }.into(),
        ),
        (
            "a reply_to",
            Box::new({
                let alpha = alpha.clone();
                move |e: &mut Entry| {
                    e.reply_to = Some(1);
                    alpha.clone()
                }
            }),
            KeyChangeError::KeyChangeWithReplyTo.into(),
        ),
        (
            "an attachment",
            Box::new({
                let alpha = alpha.clone();
                move |e: &mut Entry| {
                    e.attachments = vec![attachment(b"x", "x.txt")];
                    alpha.clone()
                }
            }),
            KeyChangeError::KeyChangeWithAttachments.into(),
        ),
    ];
    for (name, edit, expected) in cases {
        let mut e = base.key_change(0, &new);
        let signer = edit(&mut e);
        let bytes = sign_and_encode(&mut e, &[&signer]);
        let result = entry::check_entry(&bytes, 3, &params);
        assert_eq!(result.unwrap_err(), expected, "{name}");
        // The audit of the log with it refuses it at its index too.
        let mut leaves = base.c.leaves.clone();
        leaves.push(bytes);
        let found = audit::audit(leaves, &[], base.trust()).unwrap_err();
        assert_eq!(
            found,
            AuditError::Entry {
                index: 3,
                error: expected
            },
            "{name}"
        );
    }
    // Unchanged, it passes.
    let mut e = base.key_change(0, &new);
    let bytes = sign_and_encode(&mut e, &[&alpha]);
    assert!(entry::check_entry(&bytes, 3, &params).is_ok());
}

#[test]
fn a_new_key_never_repeats_an_earlier_new_key() {
    let mut log = Log::new();
    let a2 = new_key(&log.keys[0], "a2");
    let a3 = new_key(&log.keys[0], "a3");
    log.change_key(0, &a2).change_key(0, &a3);
    // Back to a2, retired at index 2: refused whatever it signs.
    let e = log.key_change(0, &a2);
    let signer = log.keys[0].clone();
    log.push(0, e, &signer);
    let expected = EntryError::from(KeyChangeError::NewKeyReused {
        identifier: Identifier::PublicKey,
        previous: KeyOwner::KeyChange(1),
    });
    assert_eq!(
        log.audit(),
        Err(AuditError::Entry {
            index: 3,
            error: expected.clone()
        })
    );
    assert_eq!(
        log.audit_checked(),
        Err(AuditError::Entry {
            index: 3,
            error: expected
        })
    );
}

#[test]
fn an_entry_by_a_retired_key_is_refused() {
    for (who, &role) in ROLES.iter().enumerate() {
        let (mut log, _) = scenario(who);
        // The old key signs again, with the party's next sequence, after its change.
        let old = log.c.party(who).clone();
        let mut e = log.draft(who, Kind::Notification);
        e.sender = old.key_id();
        log.push(who, e, &old);
        let expected = AuditError::Entry {
            index: 6,
            error: EntryError::RetiredKey {
                key_id: old.key_id(),
                role,
                retired_at: 3,
            },
        };
        assert_eq!(log.audit(), Err(expected.clone()), "party {who}");
        assert_eq!(log.audit_checked(), Err(expected.clone()), "party {who}");
        // With a broken signature too, the first error is still `RetiredKey`, also through
        // a checker made before the change (which still takes the old key for current).
        let last = log.c.leaves.len() - 1;
        let end = log.c.leaves[last].len() - 1;
        log.c.leaves[last][end] ^= 1;
        assert_eq!(log.audit(), Err(expected.clone()), "party {who}");
        assert_eq!(log.audit_checked(), Err(expected), "party {who}");
    }
}

#[test]
fn a_sequence_runs_on_across_a_key_change() {
    let mut log = Log::new();
    let new = new_key(&log.keys[0], "seq");
    log.message(0).change_key(0, &new);
    // The new key starts again at 1: a gap in alpha's sequence (3 expected).
    log.sequences[0] = 0;
    log.message(0);
    assert!(matches!(
        log.audit(),
        Err(AuditError::SequenceGap {
            index: 3,
            expected: 3,
            found: 1,
            ..
        })
    ));
}

#[test]
fn checkpoints_are_signed_with_the_keys_current_at_their_size() {
    for who in 0..2 {
        let (log, new) = scenario(who);
        let old = log.c.party(who).clone();
        let other = log.keys[1 - who].clone();
        let by = |k: &TestKey| {
            if who == 0 {
                (k.clone(), other.clone())
            } else {
                (other.clone(), k.clone())
            }
        };
        let missing = |k: &TestKey| {
            if who == 0 {
                CommitError::MissingLogSignature(k.log_vkey(ORIGIN).to_string())
            } else {
                CommitError::MissingCosignature(k.cosignature_vkey().to_string())
            }
        };
        // The first checkpoint holding the change (size 4) signed by the old key.
        let mut stale = log.clone_prefix(4);
        let (l, c) = by(&old);
        stale.checkpoints[1] = stale.note_by(&l, &c);
        let expected = AuditError::NotCommitted {
            size: Some(4),
            error: missing(&new),
        };
        assert_eq!(stale.audit(), Err(expected.clone()), "party {who}");
        assert_eq!(stale.audit_checked(), Err(expected), "party {who}");
        // The checkpoint before it (size 3) signed by the new key.
        let mut early = log.clone_prefix(3);
        let (l, c) = by(&new);
        early.checkpoints[0] = early.note_by(&l, &c);
        let expected = AuditError::NotCommitted {
            size: Some(3),
            error: missing(&old),
        };
        assert_eq!(early.audit(), Err(expected), "party {who}");
    }
}

/// The channel's policy, made stricter: the quorum also needs a witness `extra` that
/// co-signs nothing.
fn stricter(policy: &dyad_verifier::policy::Policy) -> dyad_verifier::policy::Policy {
    let extra = new_key(&Channel::new(1, 1).alpha, "extra").cosignature_vkey();
    let text = policy.to_string();
    let quorum = text
        .lines()
        .find_map(|l| l.strip_prefix("quorum "))
        .expect("a quorum line")
        .to_owned();
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with("quorum "))
        .map(|l| format!("{l}\n"))
        .collect();
    let text =
        format!("{body}witness extra {extra}\ngroup strict all {quorum} extra\nquorum strict\n");
    dyad_verifier::policy::parse(&text).unwrap()
}

/// Under a policy (spec 9) the audit follows the key changes from the parties the policy
/// names, and checks every checkpoint against the policy with the parties' keys at its
/// size; a policy the checkpoints do not meet still fails.
#[test]
fn a_key_change_is_followed_under_a_policy() {
    for who in 0..2 {
        let (log, _) = scenario(who);
        let policy = log.c.genesis.policy().unwrap();
        let trust = AuditTrust::Policy(policy.clone());
        let report = audit::audit(log.c.leaves.clone(), &log.checkpoints, trust)
            .unwrap_or_else(|e| panic!("party {who}: {e}"));
        assert_eq!(report.key_changes.len(), 1, "party {who}");
        assert_eq!(report.key_changes[0].index, 3);
        assert_eq!(
            report,
            log.audit().unwrap(),
            "party {who}: as from the genesis"
        );
        let trust = AuditTrust::Policy(stricter(&policy));
        let result = audit::audit(log.c.leaves.clone(), &log.checkpoints, trust);
        assert!(
            matches!(result, Err(AuditError::PolicyNotMet { .. })),
            "party {who}: {result:?}"
        );
    }
}

// --- Receipts with a key history (spec section 8, "Receipts after a key change"). ---

impl Log {
    /// The receipt of leaf `index` against the checkpoint note `note` of size `size`.
    fn receipt(&self, index: usize, size: usize, note: &[u8]) -> Vec<u8> {
        let hashes = self.c.leaf_hashes();
        let proof = inclusion_proof(index, &hashes[..size]);
        receipt::format(&self.c.leaves[index], index as u64, &proof, note)
    }

    /// The receipts of every key change below `size`, against the same note.
    fn history(&self, size: usize, note: &[u8], indices: &[usize]) -> Vec<Vec<u8>> {
        indices
            .iter()
            .map(|&i| self.receipt(i, size, note))
            .collect()
    }

    fn genesis_trust(&self) -> ReceiptTrust {
        ReceiptTrust::genesis(&self.c.genesis).unwrap()
    }

    fn parties_trust(&self) -> ReceiptTrust {
        ReceiptTrust::parties(self.c.bravo.entry_vkey(), self.c.alpha.entry_vkey()).unwrap()
    }
}

#[test]
fn receipts_before_and_after_a_key_change_verify_with_its_history() {
    for (who, &role) in ROLES.iter().enumerate() {
        let (log, new) = scenario(who);
        let note = log.checkpoints[2].clone(); // size 6, signed with the new key
        let history = log.history(6, &note, &[3]);
        for trust in [log.genesis_trust(), log.parties_trust()] {
            for index in 0..6 {
                let bytes = log.receipt(index, 6, &note);
                let verified = verify_with_key_history(&bytes, &history, &trust)
                    .unwrap_or_else(|e| panic!("party {who}, entry {index}: {e}"));
                assert_eq!(verified.index, index as u64);
                assert_eq!(verified.key_changes.len(), 1);
                assert_eq!(verified.key_changes[0].new_key, new.entry_vkey());
                // Entry 4 is the changed party's, signed by its new key.
                if index == 4 {
                    assert_eq!(verified.sender, new.entry_vkey());
                    assert_eq!(verified.sender_role, role);
                }
            }
        }
        // Before the change, a checkpoint signed by the genesis keys needs no history.
        let early = log.checkpoints[0].clone(); // size 3
        let bytes = log.receipt(1, 3, &early);
        assert!(receipt::verify(&bytes, &log.genesis_trust()).is_ok());
        assert!(verify_with_key_history(&bytes, &[], &log.genesis_trust()).is_ok());
    }
}

#[test]
fn a_receipt_after_a_key_change_without_its_history_says_it_may_need_one() {
    for who in 0..2 {
        let (log, _) = scenario(who);
        let note = log.checkpoints[2].clone();
        let bytes = log.receipt(1, 6, &note);
        for trust in [log.genesis_trust(), log.parties_trust()] {
            let error = receipt::verify(&bytes, &trust).unwrap_err();
            assert!(
                matches!(error, ReceiptError::MayNeedKeyHistory(_)),
                "party {who}: {error:?}"
            );
            assert!(error.to_string().contains("key-changes/"), "{error}");
        }
    }
}

#[test]
fn a_key_history_is_checked_as_the_log_would_be() {
    let (log, _) = scenario(0);
    let note = log.checkpoints[2].clone();
    let trust = log.genesis_trust();
    let bytes = log.receipt(4, 6, &note);
    let verify = |history: &[Vec<u8>]| verify_with_key_history(&bytes, history, &trust);
    // A key change against another checkpoint.
    let mut other = Log::new();
    other
        .message(0)
        .message(1)
        .message(0)
        .message(1)
        .message(0)
        .message(1);
    let foreign = log.receipt(3, 4, &log.checkpoints[1]);
    assert_eq!(
        verify(&[foreign]),
        Err(ReceiptError::KeyHistoryCheckpointDiffers { index: 3 })
    );
    // Something else than a key change.
    assert_eq!(
        verify(&log.history(6, &note, &[2])),
        Err(ReceiptError::KeyHistoryNotAKeyChange {
            index: 2,
            kind: Kind::Notification
        })
    );
    // The same key change twice.
    assert_eq!(
        verify(&log.history(6, &note, &[3, 3])),
        Err(ReceiptError::KeyHistoryDuplicate { index: 3 })
    );
    // A key change's proof at another index.
    let mut moved = receipt::parse(&log.receipt(3, 6, &note)).unwrap();
    moved.index = 2;
    let moved = receipt::format(&moved.entry_bytes, 2, &moved.proof, &note);
    assert!(matches!(
        verify(&[moved]),
        Err(ReceiptError::KeyHistory { index: 2, .. })
    ));
    // Under a policy the key history starts from the parties it names (spec 9): the
    // receipt verifies, and fails under a stricter policy the checkpoint does not meet.
    let policy = log.c.genesis.policy().unwrap();
    let trust = ReceiptTrust::from_policy(policy.clone()).unwrap();
    let verified = verify_with_key_history(&bytes, &log.history(6, &note, &[3]), &trust).unwrap();
    assert_eq!(verified.key_changes.len(), 1);
    let strict = ReceiptTrust::from_policy(stricter(&policy)).unwrap();
    assert!(matches!(
        verify_with_key_history(&bytes, &log.history(6, &note, &[3]), &strict),
        Err(ReceiptError::Policy(_))
    ));
    // Too long a history.
    let long = vec![log.receipt(3, 6, &note); receipt::MAX_KEY_HISTORY + 1];
    assert_eq!(
        verify(&long),
        Err(ReceiptError::KeyHistoryTooLong {
            count: receipt::MAX_KEY_HISTORY + 1
        })
    );
}

#[test]
fn a_receipt_by_a_retired_key_fails_even_with_the_history() {
    let (mut log, _) = scenario(0);
    let old = log.c.alpha.clone();
    let mut e = log.draft(0, Kind::Notification);
    e.sender = old.key_id();
    log.push(0, e, &old);
    log.checkpoint();
    let note = log.checkpoints[3].clone(); // size 7
    let bytes = log.receipt(6, 7, &note);
    let history = log.history(7, &note, &[3]);
    assert!(matches!(
        verify_with_key_history(&bytes, &history, &log.genesis_trust()),
        Err(ReceiptError::Entry(EntryError::RetiredKey {
            retired_at: 3,
            ..
        }))
    ));
}
