//! Witness changes (spec/dyad.md 3.8) on two replicas: either party's change is appended
//! and followed, the commit rule takes the witnesses at each checkpoint's size (0 -> K and
//! K -> 0 included), every refusal is named (on append, on co-signing and on catch-up), and
//! the witness history survives reopening the stores.

use dyad_ledger::channel::{Channel, ChannelError, Cosigned, EntryRefusal, Role};
use dyad_ledger::entry::witness_change::{self, WitnessChangeError, WitnessChangePayload};
use dyad_ledger::entry::{Attachment, Draft, Entry, EntrySignature, Kind, SignedEntry};
use dyad_ledger::genesis::{cosign_proposal, Genesis, Party};
use dyad_ledger::keys::SignerKey;
use dyad_testkit::channel::{alpha, bravo, message, stranger, Replicas, ORIGIN, T0};
use dyad_verifier::checkpoint::Checkpoint;
use dyad_verifier::key::{SignatureType, VerifierKey};
use dyad_verifier::note;

fn witness(i: u8) -> SignerKey {
    SignerKey::from_seed(&format!("example.org/witness-{i}"), [40 + i; 32]).unwrap()
}

/// Both replicas of a channel whose genesis names `witnesses` with `threshold`.
fn replicas(witnesses: &[&SignerKey], threshold: u8) -> Replicas {
    let mut terms = Genesis::new(ORIGIN, Party::of(&alpha()), Party::of(&bravo()));
    terms.witnesses = witnesses.iter().map(|w| Party::of(w)).collect();
    terms.witness_threshold = threshold;
    replicas_of(terms)
}

/// Both replicas of a channel with these terms.
fn replicas_of(terms: Genesis) -> Replicas {
    let dir = tempfile::tempdir().unwrap();
    let proposal = terms.propose(&alpha(), T0).unwrap();
    let (entry, _) = cosign_proposal(&proposal.bytes, &bravo()).unwrap();
    let seq = Channel::create(&dir.path().join("alpha"), &entry, Role::Sequencer).unwrap();
    let cos = Channel::create(&dir.path().join("bravo"), &entry, Role::Cosigner).unwrap();
    Replicas {
        dir,
        alpha: alpha(),
        bravo: bravo(),
        seq,
        cos,
    }
}

fn parties(keys: &[&SignerKey]) -> Vec<Party> {
    keys.iter().map(|k| Party::of(k)).collect()
}

/// The payload of the change to `witnesses`, approved by `approver`.
fn approved(
    approver: &SignerKey,
    number: u32,
    witnesses: &[Party],
    threshold: u8,
) -> WitnessChangePayload {
    witness_change::approved(approver, ORIGIN, number, witnesses, threshold)
}

/// `draft` signed by `key` as its party's next message at `t`.
fn signed(ch: &Channel, key: &SignerKey, draft: Draft, t: u64) -> SignedEntry {
    let sequence = ch.next_sequence(key.key_id()).unwrap();
    draft.sign(key, ORIGIN, sequence, t).unwrap()
}

/// `sender`'s change to `witnesses` with `threshold`, approved by the other party, landed
/// in the sequencer's log (the co-signer's through its queue). Returns its index.
fn change_witnesses(
    p: &mut Replicas,
    sender: Role,
    witnesses: &[Party],
    threshold: u8,
    t: u64,
) -> u64 {
    let number = p.seq.next_witness_change_number();
    match sender {
        Role::Sequencer => {
            let draft = witness_change::draft(&approved(&p.bravo, number, witnesses, threshold));
            p.seq.check_own_draft(&draft).unwrap();
            p.seq.append_own(&p.alpha, vec![draft], t).unwrap()[0].index
        }
        Role::Cosigner => {
            // The co-signer numbers its change after the changes its replica holds.
            if p.cos.size() < p.seq.size() {
                cosign(p, t);
            }
            let draft = witness_change::draft(&approved(&p.alpha, number, witnesses, threshold));
            p.cos.check_own_draft(&draft).unwrap();
            let e = p.cos.queue_own(&p.bravo, draft, t).unwrap();
            p.seq.append_signed(&[e], t).unwrap()[0].index
        }
    }
}

/// `note` with `w`'s cosignature line added (C2SP tlog-cosignature, as a witness makes it).
fn witnessed(note_bytes: &[u8], w: &SignerKey, timestamp: u64) -> Vec<u8> {
    let text = note::parse(note_bytes).unwrap().text;
    let text = dyad_verifier::checkpoint::parse(&text).unwrap().to_text();
    let key = Party::of(w).cosignature_key().unwrap();
    let mut sig = timestamp.to_be_bytes().to_vec();
    sig.extend_from_slice(&w.sign(&dyad_verifier::cosignature::signed_message(
        timestamp, &text,
    )));
    let mut out = note_bytes.to_vec();
    out.extend_from_slice(note::signature_line(key.name(), key.key_id(), &sig).as_bytes());
    out
}

/// The sequencer signs its tree and the co-signer takes the new entries and co-signs:
/// the note signed by both parties, not yet witnessed.
fn cosign(p: &mut Replicas, t: u64) -> Vec<u8> {
    let signed = p.seq.sign_checkpoint(&p.alpha).unwrap();
    let entries = p.new_entries();
    p.cos
        .accept_and_cosign(&p.bravo, &entries, &signed, t)
        .unwrap()
}

fn is_quorum(e: &ChannelError, found: usize, needed: usize) -> bool {
    matches!(e, ChannelError::WitnessQuorum { found: f, needed: n } if *f == found && *n == needed)
}

#[test]
fn either_party_changes_the_witnesses_and_both_replicas_follow_after_reopening() {
    for sender in [Role::Sequencer, Role::Cosigner] {
        let (w1, w2) = (witness(1), witness(2));
        let mut p = replicas(&[], 0);
        p.seq
            .append_own(&p.alpha, vec![message(1)], T0 + 1)
            .unwrap();
        p.sync(T0 + 2);
        // 0 -> 1 of 2.
        let set = parties(&[&w1, &w2]);
        let at = change_witnesses(&mut p, sender, &set, 1, T0 + 3);
        assert_eq!(p.seq.witness_changes(), vec![at], "{sender:?}");
        assert_eq!(p.seq.next_witness_change_number(), 2);
        assert_eq!(p.seq.witnesses_at(at), (Vec::new(), 0));
        assert_eq!(p.seq.witnesses_at(at + 1), (set.clone(), 1));
        assert_eq!(p.seq.witness_threshold(), 1);
        assert_eq!(p.seq.witness_threshold_at(at), 0);
        let keys: Vec<VerifierKey> = set.iter().map(|w| w.cosignature_key().unwrap()).collect();
        assert_eq!(p.seq.witness_keys(), keys.as_slice());
        assert_eq!(p.seq.witness_keys_at(at + 1), keys);
        assert!(p.seq.witness_keys_at(at).is_empty());
        assert_eq!(p.seq.key_history_indices(), vec![at]);
        assert!(p.seq.key_change_indices().is_empty());

        // The first checkpoint that holds the change already needs the new witnesses.
        let cosigned = cosign(&mut p, T0 + 4);
        assert_eq!(p.cos.witness_changes(), vec![at]);
        assert_eq!(p.cos.committed_size().unwrap(), at);
        let err = p.seq.add_committed_checkpoint(&cosigned).unwrap_err();
        assert!(is_quorum(&err, 0, 1), "{sender:?}: {err}");
        assert!(matches!(
            p.seq.add_cosigned_checkpoint(&cosigned).unwrap(),
            Cosigned::AwaitingWitnesses(_)
        ));
        let committed = witnessed(&cosigned, &w2, (T0 + 5) / 1000);
        for ch in [&mut p.seq, &mut p.cos] {
            ch.add_committed_checkpoint(&committed).unwrap();
            assert_eq!(ch.committed_size().unwrap(), at + 1);
        }

        // Reopened, both replicas rebuild the witness history from their stores.
        let Replicas {
            dir,
            alpha,
            bravo,
            seq,
            cos,
        } = p;
        drop((seq, cos));
        let seq = Channel::open(&dir.path().join("alpha")).unwrap();
        let cos = Channel::open(&dir.path().join("bravo")).unwrap();
        for ch in [&seq, &cos] {
            assert!(ch.checkpoint_damage().is_none());
            assert_eq!(ch.witness_changes(), vec![at]);
            assert_eq!(ch.witnesses_at(at + 1), (set.clone(), 1));
            assert_eq!(ch.witnesses_at(at), (Vec::new(), 0));
            assert_eq!(ch.next_witness_change_number(), 2);
            ch.verify_committed(&committed).unwrap();
        }
        let mut p = Replicas {
            dir,
            alpha,
            bravo,
            seq,
            cos,
        };
        // A second change after reopening takes number 2.
        change_witnesses(&mut p, sender, &parties(&[&w2]), 1, T0 + 6);
        assert_eq!(p.seq.next_witness_change_number(), 3);
    }
}

#[test]
fn the_commit_rule_takes_the_witnesses_at_each_size() {
    let (w1, w2, w3) = (witness(1), witness(2), witness(3));
    let mut p = replicas(&[&w1], 1);
    p.seq
        .append_own(&p.alpha, vec![message(1)], T0 + 1)
        .unwrap();
    let first = witnessed(&cosign(&mut p, T0 + 2), &w1, 1);
    p.seq.add_committed_checkpoint(&first).unwrap();

    // 1 of [w1] -> 2 of [w2, w3].
    let at = change_witnesses(&mut p, Role::Sequencer, &parties(&[&w2, &w3]), 2, T0 + 3);
    assert_eq!(
        (
            p.seq.witness_threshold_at(at),
            p.seq.witness_threshold_at(at + 1)
        ),
        (1, 2)
    );
    let cosigned = cosign(&mut p, T0 + 4);
    // The removed witness counts for nothing after the change: its line is unknown.
    let by_old = witnessed(&cosigned, &w1, 2);
    let err = p.seq.add_committed_checkpoint(&by_old).unwrap_err();
    assert!(is_quorum(&err, 0, 2), "{err}");
    let by_one = witnessed(&by_old, &w2, 2);
    let err = p.seq.add_committed_checkpoint(&by_one).unwrap_err();
    assert!(is_quorum(&err, 1, 2), "{err}");
    let by_both = witnessed(&by_one, &w3, 2);
    p.seq.add_committed_checkpoint(&by_both).unwrap();
    p.cos.add_committed_checkpoint(&by_both).unwrap();
    assert_eq!(p.seq.committed_size().unwrap(), at + 1);
    // Only the lines of the keys at that size are kept.
    let (_, kept) = p.seq.store().latest_checkpoint().unwrap().unwrap();
    let w1_line = Party::of(&w1).cosignature_key().unwrap();
    assert!(!String::from_utf8(kept).unwrap().contains(w1_line.name()));

    // 2 of [w2, w3] -> none: the next checkpoint is committed on the co-signature alone,
    // by the co-signer as it co-signs.
    let at = change_witnesses(&mut p, Role::Cosigner, &[], 0, T0 + 5);
    assert_eq!(p.seq.witness_threshold(), 0);
    assert_eq!(p.seq.witness_threshold_at(at), 2);
    let cosigned = cosign(&mut p, T0 + 6);
    assert_eq!(p.cos.committed_size().unwrap(), at + 1);
    p.seq.add_committed_checkpoint(&cosigned).unwrap();
    assert_eq!(p.seq.committed_size().unwrap(), at + 1);
    // The earlier checkpoints still verify under the witnesses of their sizes.
    p.seq.verify_committed(&by_both).unwrap();
    p.seq.verify_committed(&first).unwrap();
}

#[test]
fn a_witness_may_stay_or_come_back_but_no_key_is_reused() {
    let (w1, w2) = (witness(1), witness(2));
    let mut p = replicas(&[&w1], 1);
    // w1 stays, w2 joins; then w1 leaves; then w1 comes back.
    change_witnesses(&mut p, Role::Sequencer, &parties(&[&w1, &w2]), 1, T0 + 1);
    change_witnesses(&mut p, Role::Cosigner, &parties(&[&w2]), 1, T0 + 2);
    change_witnesses(&mut p, Role::Sequencer, &parties(&[&w1, &w2]), 2, T0 + 3);
    assert_eq!(p.seq.witness_changes().len(), 3);
    // A key change may not take a key a witness change brought in.
    let reused = SignerKey::from_seed(p.alpha.name(), [42; 32]).unwrap();
    assert_eq!(reused.public_key(), w2.public_key());
    let err = p
        .seq
        .append_key_change(&p.alpha.clone(), &reused, T0 + 4)
        .unwrap_err();
    assert!(
        matches!(
            err,
            ChannelError::Refused(EntryRefusal::NewKeyReused { .. })
        ),
        "{err}"
    );
}

/// Re-signs a modified entry by `key`, so that only the intended rule is broken.
fn resign(mut entry: Entry, key: &SignerKey) -> SignedEntry {
    entry.signatures = vec![EntrySignature {
        key_id: key.key_id(),
        signature: key.sign(&entry.body.signed_message()),
    }];
    SignedEntry::decode(&entry.encode_unchecked()).unwrap()
}

/// Which refusal a case expects.
type Expect = Box<dyn Fn(&EntryRefusal) -> bool>;

/// A refusal of spec 3.8 by its name.
fn form(code: &'static str) -> Expect {
    Box::new(
        move |r| matches!(r, EntryRefusal::WitnessChange { source, .. } if source.code() == code),
    )
}

/// Witness changes that each break one rule, as alpha's next entry of `p`.
fn refused_changes(p: &Replicas) -> Vec<(&'static str, SignedEntry, Expect)> {
    let (w1, w2) = (witness(1), witness(2));
    let (alpha, bravo) = (&p.alpha, &p.bravo);
    let set = parties(&[&w1, &w2]);
    let entry = |payload: WitnessChangePayload| -> Entry {
        signed(&p.seq, alpha, witness_change::draft(&payload), T0 + 1).entry
    };
    let good = entry(approved(bravo, 1, &set, 1));
    let with = |edit: &dyn Fn(&mut Entry)| {
        let mut e = good.clone();
        edit(&mut e);
        resign(e, alpha)
    };
    let alias = Party {
        name: "example.org/alias".into(),
        public_key: w1.public_key(),
    };
    let bravo_key = Party {
        name: "example.org/witness-9".into(),
        public_key: bravo.public_key(),
    };
    let party_name = Party {
        name: alpha.name().into(),
        public_key: witness(3).public_key(),
    };
    vec![
        (
            "a party's name for a fresh key",
            resign(entry(approved(bravo, 1, &[party_name], 0)), alpha),
            form("WitnessKeyReused"),
        ),
        (
            "number 2 first",
            resign(entry(approved(bravo, 2, &set, 1)), alpha),
            Box::new(|r| {
                matches!(
                    r,
                    EntryRefusal::WitnessChange {
                        source: WitnessChangeError::WrongWitnessChangeNumber {
                            expected: 1,
                            found: 2
                        },
                        ..
                    }
                )
            }),
        ),
        (
            "number 0",
            resign(entry(approved(bravo, 0, &set, 1)), alpha),
            Box::new(|r| {
                matches!(
                    r,
                    EntryRefusal::WitnessChange {
                        source: WitnessChangeError::WrongWitnessChangeNumber {
                            expected: 1,
                            found: 0
                        },
                        ..
                    }
                )
            }),
        ),
        (
            "a genesis witness's key under another name",
            resign(entry(approved(bravo, 1, &[alias], 1)), alpha),
            form("WitnessKeyReused"),
        ),
        (
            "a party's key as a witness",
            resign(entry(approved(bravo, 1, &[bravo_key], 1)), alpha),
            form("WitnessKeyReused"),
        ),
        (
            "approved by the sender itself",
            resign(entry(approved(alpha, 1, &set, 1)), alpha),
            form("BadApproval"),
        ),
        (
            "approved by a stranger",
            resign(entry(approved(&stranger(), 1, &set, 1)), alpha),
            form("BadApproval"),
        ),
        (
            "approval of another threshold",
            {
                let mut payload = approved(bravo, 1, &set, 2);
                payload.witness_threshold = 1;
                resign(entry(payload), alpha)
            },
            form("BadApproval"),
        ),
        (
            "approval flipped",
            with(&|e| {
                let last = e.body.payload.len() - 1;
                e.body.payload[last] ^= 1;
            }),
            form("BadApproval"),
        ),
        (
            "wrong content type",
            with(&|e| e.body.content_type = "text/plain".into()),
            form("WrongContentType"),
        ),
        (
            "reply_to",
            with(&|e| e.body.reply_to = Some(1)),
            form("WitnessChangeWithReplyTo"),
        ),
        (
            "attachment",
            with(&|e| {
                e.body.attachments = vec![Attachment {
                    sha256: [1; 32],
                    size: 1,
                    name: "a".into(),
                    content_type: "text/plain".into(),
                }]
            }),
            form("WitnessChangeWithAttachments"),
        ),
        (
            "payload one byte short",
            with(&|e| {
                e.body.payload.pop();
            }),
            form("MalformedPayload"),
        ),
        (
            "a byte after the approval",
            with(&|e| e.body.payload.push(0)),
            form("MalformedPayload"),
        ),
        (
            "threshold above the count",
            resign(entry(approved(bravo, 1, &set, 3)), alpha),
            form(THRESHOLD_ABOVE_COUNT),
        ),
        (
            "the same witness twice",
            resign(entry(approved(bravo, 1, &parties(&[&w2, &w2]), 1)), alpha),
            form("InvalidWitness"),
        ),
    ]
}

/// The refusal the verifier's form rules name for a threshold above the witness count.
const THRESHOLD_ABOVE_COUNT: &str = "MalformedPayload";

fn refusal(err: ChannelError) -> EntryRefusal {
    match err {
        ChannelError::Refused(r) => r,
        other => panic!("not a refusal: {other}"),
    }
}

#[test]
fn each_broken_rule_is_refused_by_name_on_append_cosign_and_catch_up() {
    let w1 = witness(1);
    let mut p = replicas(&[&w1], 1);
    for (name, e, expect) in refused_changes(&p) {
        let index = p.seq.size();
        // The sequencer appending.
        let r = refusal(
            p.seq
                .append_signed(std::slice::from_ref(&e), T0 + 1)
                .unwrap_err(),
        );
        assert!(expect(&r), "{name}: append: {r}");
        // The co-signer co-signing a log that holds it (a log-signed note of that tree).
        let mut frontier = p.seq.store().frontier().clone();
        frontier.push(e.leaf_hash);
        let text = Checkpoint {
            origin: ORIGIN.into(),
            size: index + 1,
            root: frontier.root(),
            extensions: Vec::new(),
        }
        .to_text();
        let log = VerifierKey::new(ORIGIN, SignatureType::Ed25519, p.alpha.public_key()).unwrap();
        let signed_note = format!(
            "{text}\n{}",
            note::signature_line(log.name(), log.key_id(), &p.alpha.sign(text.as_bytes()))
        );
        let err = p
            .cos
            .accept_and_cosign(
                &p.bravo,
                std::slice::from_ref(&e.bytes),
                signed_note.as_bytes(),
                T0 + 1,
            )
            .unwrap_err();
        let r = refusal(err);
        assert!(expect(&r), "{name}: co-sign: {r}");
        // Catching up from the peer.
        let r = refusal(
            p.cos
                .append_recovered(std::slice::from_ref(&e.bytes), T0 + 1)
                .unwrap_err(),
        );
        assert!(expect(&r), "{name}: catch-up: {r}");
    }
    // Nothing of them was written; the good change still takes number 1.
    assert!(p.seq.witness_changes().is_empty() && p.cos.witness_changes().is_empty());
    change_witnesses(&mut p, Role::Sequencer, &parties(&[&witness(2)]), 1, T0 + 2);
}

#[test]
fn an_own_draft_is_checked_against_the_history_before_it_is_signed() {
    let (w1, w2) = (witness(1), witness(2));
    let p = replicas(&[&w1], 1);
    let set = parties(&[&w2]);
    let cases: Vec<(&str, &Channel, WitnessChangePayload, Expect)> = vec![
        (
            "wrong number",
            &p.seq,
            approved(&p.bravo, 2, &set, 1),
            form("WrongWitnessChangeNumber"),
        ),
        (
            "approved by the sender",
            &p.cos,
            approved(&p.bravo, 1, &set, 1),
            form("BadApproval"),
        ),
        (
            "a party's key",
            &p.cos,
            approved(&p.alpha, 1, &parties(&[&p.alpha]), 1),
            form("WitnessKeyReused"),
        ),
        (
            "reply_to",
            &p.seq,
            approved(&p.bravo, 1, &set, 1),
            form("WitnessChangeWithReplyTo"),
        ),
    ];
    for (name, ch, payload, expect) in cases {
        let mut draft = witness_change::draft(&payload);
        if name == "reply_to" {
            draft = draft.reply_to(1);
        }
        let r = refusal(ch.check_own_draft(&draft).unwrap_err());
        assert!(expect(&r), "{name}: {r}");
    }
    assert!(p.cos.check_witness_list(&parties(&[&w1, &w2])).is_ok());
    assert!(p.cos.check_witness_list(&parties(&[&p.bravo])).is_err());
    // A witness change's payload is not bound by max_payload; a good draft passes.
    p.seq
        .check_own_draft(&witness_change::draft(&approved(&p.bravo, 1, &set, 1)))
        .unwrap();
}

#[test]
fn a_witness_change_is_not_bound_by_max_payload() {
    let mut terms = Genesis::new(ORIGIN, Party::of(&alpha()), Party::of(&bravo()));
    terms.max_payload = 16;
    let mut p = replicas_of(terms);
    let set = parties(&[&witness(1), &witness(2)]);
    assert!(
        witness_change::draft(&approved(&p.bravo, 1, &set, 2))
            .payload
            .len()
            > 16
    );
    change_witnesses(&mut p, Role::Sequencer, &set, 2, T0 + 1);
    let err = p
        .seq
        .append_own(
            &p.alpha,
            vec![Draft::new(
                Kind::Notification,
                "17 bytes",
                "text/plain",
                vec![b'x'; 17],
            )],
            T0 + 2,
        )
        .unwrap_err();
    assert!(matches!(
        err,
        ChannelError::Refused(EntryRefusal::PayloadTooLarge { .. })
    ));
}

#[test]
fn a_witness_change_record_that_does_not_match_the_log_is_found_on_open() {
    let w1 = witness(1);
    let mut p = replicas(&[], 0);
    p.seq
        .append_own(&p.alpha, vec![message(1)], T0 + 1)
        .unwrap();
    let at = change_witnesses(&mut p, Role::Sequencer, &parties(&[&w1]), 1, T0 + 2);
    let path = p.dir.path().join("alpha");
    let Replicas { dir, seq, cos, .. } = p;
    drop((seq, cos));
    let store = dyad_ledger::store::Store::open(&path).unwrap();
    let record = store
        .meta(&format!("witnesschange/{at:020}"))
        .unwrap()
        .expect("the change's record, written with the entry");
    // The same record moved onto the message before it, then a corrupt one.
    let cases = [
        (
            format!("witnesschange/{:020}", at - 1),
            record,
            "does not match",
        ),
        (format!("witnesschange/{at:020}"), vec![1, 2, 3], "corrupt"),
    ];
    let mut store = store;
    for (name, value, why) in cases {
        let mut batch = store.batch();
        batch.put_meta(&name, value);
        store.commit(batch).unwrap();
        drop(store);
        let err = Channel::open(&path).err().expect("refused");
        assert!(err.to_string().contains(why), "{name}: {err}");
        store = dyad_ledger::store::Store::open(&path).unwrap();
    }
    drop(dir);
}

#[test]
fn a_cosigner_numbers_its_next_change_after_the_ones_in_its_outbox() {
    let (w1, w2) = (witness(1), witness(2));
    let mut p = replicas(&[], 0);
    let first = witness_change::draft(&approved(&p.alpha, 1, &parties(&[&w1]), 1));
    p.cos.check_own_draft(&first).unwrap();
    p.cos.queue_own(&p.bravo, first, T0 + 1).unwrap();
    let again = witness_change::draft(&approved(&p.alpha, 1, &parties(&[&w2]), 1));
    let r = refusal(p.cos.check_own_draft(&again).unwrap_err());
    assert!(form("WrongWitnessChangeNumber")(&r), "{r}");
    let next = witness_change::draft(&approved(&p.alpha, 2, &parties(&[&w2]), 1));
    p.cos.check_own_draft(&next).unwrap();
}

#[test]
fn two_changes_in_one_batch_are_numbered_in_order_and_both_recorded() {
    let (w1, w2) = (witness(1), witness(2));
    let mut p = replicas(&[], 0);
    let first = witness_change::draft(&approved(&p.bravo, 1, &parties(&[&w1]), 1));
    let second = witness_change::draft(&approved(&p.bravo, 2, &parties(&[&w1, &w2]), 2));
    let landed = p
        .seq
        .append_own(&p.alpha, vec![first, second], T0 + 1)
        .unwrap();
    let at: Vec<u64> = landed.iter().map(|a| a.index).collect();
    assert_eq!(p.seq.witness_changes(), at);
    assert_eq!(p.seq.witness_threshold_at(at[1]), 1);
    assert_eq!(p.seq.witness_threshold_at(at[1] + 1), 2);
    let Replicas { dir, seq, cos, .. } = p;
    drop((seq, cos));
    let seq = Channel::open(&dir.path().join("alpha")).unwrap();
    assert_eq!(seq.witness_changes(), at);
    assert_eq!(seq.witnesses_at(at[1] + 1).0, parties(&[&w1, &w2]));
}
