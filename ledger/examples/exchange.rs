//! A two-party exchange on the embedded store, end to end:
//! `cargo run --release -p dyad-ledger --example exchange [DIR]`
//!
//! Two replicas (alpha sequences, bravo co-signs) agree on a genesis, exchange an inquiry,
//! its response, a threat-indicator share and a notification, co-sign, and then the
//! independent verifier checks a receipt and audits both replicas.

use std::path::PathBuf;

use dyad_ledger::channel::{Channel, Role};
use dyad_ledger::entry::{Draft, Kind};
use dyad_ledger::genesis::{cosign_proposal, Genesis, Party};
use dyad_ledger::keys::SignerKey;
use dyad_verifier::audit::{audit, AuditTrust};
use dyad_verifier::receipt::{self, ReceiptTrust};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

use dyad_ledger::clock::now_ms;

/// Moves the entries bravo lacks and a fresh checkpoint from alpha to bravo, and the
/// co-signed checkpoint back: what the network or an air-gapped transfer does.
fn cosign_round(
    alpha: &mut Channel,
    alpha_key: &SignerKey,
    bravo: &mut Channel,
    bravo_key: &SignerKey,
) -> Result<u64> {
    let note = alpha.sign_checkpoint(alpha_key)?;
    let entries: Vec<Vec<u8>> = (bravo.size()..alpha.size())
        .map(|i| alpha.store().leaf(i))
        .collect::<std::result::Result<_, _>>()?;
    let cosigned = bravo.accept_and_cosign(bravo_key, &entries, &note, now_ms())?;
    Ok(alpha.add_committed_checkpoint(&cosigned)?.size)
}

fn main() -> Result<()> {
    let dir = match std::env::args().nth(1) {
        Some(d) => PathBuf::from(d),
        None => tempfile::Builder::new()
            .prefix("dyad-exchange-")
            .tempdir()?
            .keep(),
    };
    std::fs::create_dir_all(dir.join("keys"))?;
    println!("working in {}", dir.display());

    let alpha_key = SignerKey::generate("cert.alpha.example/dyad")?;
    let bravo_key = SignerKey::generate("cert.bravo.example/dyad")?;
    alpha_key.write_private_file(&dir.join("keys/alpha.key"))?;
    bravo_key.write_private_file(&dir.join("keys/bravo.key"))?;
    let origin = "cert.alpha.example/dyad/alpha-bravo";

    let genesis = Genesis::new(origin, Party::of(&alpha_key), Party::of(&bravo_key));
    let proposal = genesis.propose(&alpha_key, now_ms())?;
    let (genesis_entry, _) = cosign_proposal(&proposal.bytes, &bravo_key)?;
    let mut alpha = Channel::create(&dir.join("alpha"), &genesis_entry, Role::Sequencer)?;
    let mut bravo = Channel::create(&dir.join("bravo"), &genesis_entry, Role::Cosigner)?;
    println!(
        "genesis: channel {origin}, sequenced by {}, co-signed by {}",
        alpha_key.name(),
        bravo_key.name()
    );
    cosign_round(&mut alpha, &alpha_key, &mut bravo, &bravo_key)?;

    let inquiry = Draft::new(Kind::Inquiry, "SSH brute force from AS64500", "text/plain; charset=utf-8", b"Between 02:00 and 04:00 UTC we saw SSH brute force from 192.0.2.0/24 (AS64500) against our energy sector. Can you investigate?".to_vec());
    let asked = alpha.append_own(&alpha_key, vec![inquiry], now_ms())?[0];
    println!("alpha -> bravo  #{} inquiry (pending)", asked.index);

    let response = Draft::new(
        Kind::Response,
        "Re: SSH brute force from AS64500",
        "text/plain; charset=utf-8",
        b"Confirmed: a compromised hosting customer; the servers were taken offline at 09:12 UTC."
            .to_vec(),
    )
    .reply_to(asked.index);
    let submitted = bravo.queue_own(&bravo_key, response, now_ms())?;
    let answered = alpha.append_signed(&[submitted], now_ms())?[0];
    println!(
        "bravo -> alpha  #{} response to #{} (submitted, sequenced by alpha)",
        answered.index, asked.index
    );

    let stix = br#"{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","pattern":"[ipv4-addr:value = '192.0.2.10']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}]}"#;
    let shared = alpha.append_own(
        &alpha_key,
        vec![Draft::new(
            Kind::ThreatIndicators,
            "Indicators for the AS64500 campaign",
            "application/stix+json;version=2.1",
            stix.to_vec(),
        )],
        now_ms(),
    )?[0];
    println!(
        "alpha -> bravo  #{} threat-indicators (STIX 2.1 bundle)",
        shared.index
    );
    let notice = bravo.queue_own(
        &bravo_key,
        Draft::new(
            Kind::Notification,
            "Exercise starts Monday 06:00 UTC",
            "text/plain",
            Vec::new(),
        ),
        now_ms(),
    )?;
    let noticed = alpha.append_signed(&[notice], now_ms())?[0];
    println!("bravo -> alpha  #{} notification", noticed.index);

    let committed = cosign_round(&mut alpha, &alpha_key, &mut bravo, &bravo_key)?;
    println!("co-signed checkpoint: {committed} entries committed on both replicas");

    let (size, note) = alpha
        .store()
        .latest_checkpoint()?
        .ok_or("no committed checkpoint")?;
    let proof = alpha.store().inclusion_proof(answered.index, size)?;
    let receipt_bytes = receipt::format(
        &alpha.store().leaf(answered.index)?,
        answered.index,
        &proof,
        &note,
    );
    let receipt_path = dir.join(format!("receipt-{}.tlog-proof", answered.index));
    std::fs::write(&receipt_path, &receipt_bytes)?;
    let trust = ReceiptTrust::parties(
        alpha_key.verifier_key().clone(),
        bravo_key.verifier_key().clone(),
    )?;
    let verified = receipt::verify(&receipt_bytes, &trust)?;
    println!(
        "receipt {} verifies: entry #{} is in the co-signed tree of size {}",
        receipt_path.display(),
        verified.index,
        verified.committed.checkpoint.size
    );

    for (name, replica) in [("alpha", &alpha), ("bravo", &bravo)] {
        let leaves = (0..replica.size()).map(|i| replica.store().leaf(i).unwrap_or_default());
        let checkpoints: Vec<Vec<u8>> = replica
            .store()
            .latest_checkpoint()?
            .into_iter()
            .map(|(_, n)| n)
            .collect();
        let report = audit(
            leaves,
            &checkpoints,
            AuditTrust::Parties([
                alpha_key.verifier_key().clone(),
                bravo_key.verifier_key().clone(),
            ]),
        )?;
        println!(
            "audit of {name}: {} entries, {} committed, all signatures and proofs verify",
            report.leaves, report.committed_size
        );
    }
    println!("verdict: OK");
    Ok(())
}
