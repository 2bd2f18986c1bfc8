//! A channel's trust policy (spec section 9) naming its parties: receipts and audits
//! checked under a policy alone, passing when the checkpoint meets it, failing with what is
//! missing when it does not, and ambiguous policies refused.

mod entry_support;

use dyad_verifier::audit::{self, AuditError, AuditTrust};
use dyad_verifier::policy::{self, PartiesError, Policy, PolicyError, PolicyParties};
use dyad_verifier::receipt::{self, ReceiptError, ReceiptTrust};
use entry_support::*;

/// 12 entries (both parties send), 3 witnesses of which 2 must co-sign.
fn witnessed() -> Channel {
    Channel::with_entries(11, 3, 2)
}

fn receipt_for(c: &Channel, index: usize, note: &[u8]) -> Vec<u8> {
    let leaves = c.leaf_hashes();
    receipt::format(
        &c.leaves[index],
        index as u64,
        &inclusion_proof(index, &leaves),
        note,
    )
}

/// The full checkpoint, co-signed by the co-signer and the given witnesses.
fn note_with(c: &Channel, witnesses: &[usize]) -> Vec<u8> {
    let n = c.leaves.len();
    let t = c.time_for(n);
    let mut cosigners = vec![(&c.bravo, t)];
    cosigners.extend(witnesses.iter().map(|&i| (&c.witnesses[i], t + 1)));
    note(ORIGIN, n as u64, &c.root(n), Some(&c.alpha), &cosigners)
}

fn from_text(text: &str) -> Result<ReceiptTrust, ReceiptError> {
    ReceiptTrust::from_policy(policy::parse(text).unwrap())
}

#[test]
fn the_channel_policy_names_both_parties_in_their_roles() {
    let c = witnessed();
    let text = c.genesis.policy().unwrap().to_string();
    let parsed = policy::parse(&text).unwrap();
    assert_eq!(
        parsed.parties(),
        Ok(PolicyParties {
            origin: ORIGIN.to_owned(),
            sequencer: c.alpha.entry_vkey(),
            cosigner: c.bravo.entry_vkey(),
        })
    );
}

#[test]
fn every_receipt_verifies_under_the_channel_policy_alone() {
    let c = witnessed();
    let trust = ReceiptTrust::from_policy(c.genesis.policy().unwrap()).unwrap();
    let two = note_with(&c, &[0, 2]);
    for index in 0..c.leaves.len() {
        let v = receipt::verify(&receipt_for(&c, index, &two), &trust)
            .unwrap_or_else(|e| panic!("receipt {index}: {e}"));
        assert_eq!(v.committed.witnesses.len(), 2);
    }
    // The sequencer's witness line never counts, even in a group and with a cosignature
    // by the sequencer: a log does not witness itself.
    let text = c.genesis.policy().unwrap().to_string();
    let self_witnessed = text.replace(
        "group witnesses 2 w1 w2 w3",
        "group witnesses 2 w1 w2 w3 sequencer",
    );
    let trust = from_text(&self_witnessed).unwrap();
    let n = c.leaves.len();
    let t = c.time_for(n);
    let cosigners = [(&c.bravo, t), (&c.alpha, t), (&c.witnesses[1], t)];
    let by_itself = note(ORIGIN, n as u64, &c.root(n), Some(&c.alpha), &cosigners);
    assert!(matches!(
        receipt::verify(&receipt_for(&c, 3, &by_itself), &trust),
        Err(ReceiptError::Policy(PolicyError::QuorumNotMet { .. }))
    ));
}

#[test]
fn a_policy_the_checkpoint_does_not_meet_fails_naming_what_is_missing() {
    let c = witnessed();
    let trust = ReceiptTrust::from_policy(c.genesis.policy().unwrap()).unwrap();
    let r = receipt_for(&c, 4, &note_with(&c, &[1]));
    let Err(ReceiptError::Policy(PolicyError::QuorumNotMet { quorum, missing })) =
        receipt::verify(&r, &trust)
    else {
        panic!("the quorum is not met");
    };
    assert_eq!(quorum, "committed");
    assert_eq!(
        missing,
        "group \"committed\" has 1 of the 2 it needs of cosigner, witnesses; \
         group \"witnesses\" has 1 of the 2 it needs of w1, w2, w3; no cosignature from w1, w3"
    );
    let message = receipt::verify(&r, &trust).unwrap_err().to_string();
    assert!(message.contains("no cosignature from w1, w3"), "{message}");

    // A policy for another log: the same key, another origin.
    let text = c.genesis.policy().unwrap().to_string();
    let other_log = c.alpha.log_vkey("other.example/log");
    let first = text.lines().next().unwrap().to_owned();
    let other = text.replace(&first, &format!("log {other_log}"));
    let r = receipt_for(&c, 4, &note_with(&c, &[0, 1, 2]));
    assert!(receipt::verify(&r, &from_text(&text).unwrap()).is_ok());
    assert_eq!(
        receipt::verify(&r, &from_text(&other).unwrap()),
        Err(ReceiptError::Policy(PolicyError::NoLogSignature))
    );
}

#[test]
fn policies_that_leave_the_parties_to_a_guess_are_refused() {
    let c = witnessed();
    let text = c.genesis.policy().unwrap().to_string();
    let line = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap()
            .to_owned()
    };
    let without = |prefix: &str| text.replace(&format!("{}\n", line(prefix)), "");
    let refused = |t: &str| policy::parse(t).unwrap().parties().unwrap_err();

    assert_eq!(
        refused(&without("witness sequencer")),
        PartiesError::MissingParty { name: "sequencer" }
    );
    let no_cosigner = without("witness cosigner").replace(
        "group committed all cosigner witnesses",
        "group committed all witnesses",
    );
    assert_eq!(
        refused(&no_cosigner),
        PartiesError::MissingParty { name: "cosigner" }
    );
    assert_eq!(refused(&without("log ")), PartiesError::NoLog);
    let two_logs = format!("log {}\n{text}", c.bravo.log_vkey("mirror.example/log"));
    assert_eq!(refused(&two_logs), PartiesError::SeveralLogs { count: 2 });
    // The parties swapped: the sequencer line is not the log's key.
    let swapped = text
        .replace(&line("witness sequencer"), "witness sequencer SWAP")
        .replace(
            &line("witness cosigner"),
            &format!("witness cosigner {}", c.alpha.cosignature_vkey()),
        )
        .replace("SWAP", &c.bravo.cosignature_vkey().to_string());
    assert_eq!(refused(&swapped), PartiesError::SequencerNotTheLog);
    let wrong_sequencer = text.replace(
        &line("witness sequencer"),
        &format!("witness sequencer {}", c.alpha.entry_vkey()),
    );
    assert!(matches!(
        refused(&wrong_sequencer),
        PartiesError::NotCosignatureKey { name: "sequencer" }
    ));
    // A policy naming no parties at all still checks checkpoints, but not receipts.
    let mut bare = Policy::new();
    bare.add_log(c.alpha.log_vkey(ORIGIN)).unwrap();
    bare.set_quorum("none").unwrap();
    assert_eq!(
        ReceiptTrust::from_policy(bare).unwrap_err(),
        ReceiptError::PolicyParties(PartiesError::MissingParty { name: "sequencer" })
    );
}

#[test]
fn an_audit_under_a_policy_checks_the_genesis_and_every_checkpoint() {
    let c = witnessed();
    let n = c.leaves.len();
    let full = note_with(&c, &[0, 1]);
    let channel = AuditTrust::Policy(c.genesis.policy().unwrap());
    let report = audit::audit(c.leaves.clone(), std::slice::from_ref(&full), channel).unwrap();
    assert_eq!(report.committed_size, n as u64);

    // A stricter policy: every witness. The genesis's 2 of 3 is met; the policy is not.
    let strict = c
        .genesis
        .policy()
        .unwrap()
        .to_string()
        .replace("group witnesses 2 ", "group witnesses all ");
    let strict = AuditTrust::Policy(policy::parse(&strict).unwrap());
    match audit::audit(c.leaves.clone(), &[full], strict) {
        Err(AuditError::PolicyNotMet {
            size: Some(size),
            error: PolicyError::QuorumNotMet { missing, .. },
        }) => {
            assert_eq!(size, n as u64);
            assert!(missing.ends_with("no cosignature from w3"), "{missing}");
        }
        other => panic!("{other:?}"),
    }

    // The mirror channel's policy (the other party sequences) does not fit this genesis.
    let mut swapped = Policy::new();
    swapped.add_log(c.bravo.log_vkey(ORIGIN)).unwrap();
    swapped
        .add_witness("sequencer", c.bravo.cosignature_vkey())
        .unwrap();
    swapped
        .add_witness("cosigner", c.alpha.cosignature_vkey())
        .unwrap();
    swapped.set_quorum("cosigner").unwrap();
    assert_eq!(
        audit::audit(c.leaves.clone(), &[], AuditTrust::Policy(swapped)),
        Err(AuditError::UntrustedGenesis)
    );
    // A policy naming no parties cannot define the channel.
    let mut bare = Policy::new();
    bare.add_log(c.alpha.log_vkey(ORIGIN)).unwrap();
    bare.set_quorum("none").unwrap();
    assert_eq!(
        audit::audit(c.leaves.clone(), &[], AuditTrust::Policy(bare)),
        Err(AuditError::BadPolicy(PartiesError::MissingParty {
            name: "sequencer"
        }))
    );
}
