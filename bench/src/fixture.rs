//! The channel the bench measures: two parties with fresh keys, the genesis both signed,
//! realistic signed entries, and co-signed checkpoints, all made with dyad-ledger's and
//! dyad-verifier's public API, as two real parties would make them.

use std::path::{Path, PathBuf};

use dyad_ledger::channel::{Channel, Role};
use dyad_ledger::entry::{Draft, Kind};
use dyad_ledger::genesis::{cosign_proposal, Genesis, Party};
use dyad_ledger::keys::{KeyError, SignerKey};

use super::{BenchError, BenchResult};

pub use dyad_ledger::clock::now_ms;

pub const ORIGIN: &str = "bench.dyad.example/ab";

/// Bytes of payload in every benchmark entry: a short report, about the size of a
/// typical inquiry or notification. The encoded entry is about 390 bytes.
pub const PAYLOAD_LEN: usize = 200;

/// The two parties. Their keys are made for this run and never written anywhere: only
/// the public halves go to files, for `dyad audit`.
pub struct Parties {
    pub alpha: SignerKey,
    pub bravo: SignerKey,
}

impl Parties {
    pub fn generate() -> Result<Parties, KeyError> {
        Ok(Parties {
            alpha: SignerKey::generate("alpha.bench.dyad.example")?,
            bravo: SignerKey::generate("bravo.bench.dyad.example")?,
        })
    }

    fn key(&self, sender: usize) -> &SignerKey {
        if sender == 0 {
            &self.alpha
        } else {
            &self.bravo
        }
    }

    /// Writes the parties' verifier keys as `dyad keygen` writes .pub files.
    pub fn write_pub_files(&self, dir: &Path) -> BenchResult<[PathBuf; 2]> {
        let write = |stem: &str, key: &SignerKey| -> BenchResult<PathBuf> {
            let path = dir.join(format!("{stem}.pub"));
            std::fs::write(&path, format!("{}\n", key.verifier_key()))
                .map_err(BenchError::io(format!("write {}", path.display())))?;
            Ok(path)
        };
        Ok([write("alpha", &self.alpha)?, write("bravo", &self.bravo)?])
    }
}

/// Creates the channel's replicas under `dir`: the sequencer's (alpha) at
/// `dir/alpha/ledger` and, if `with_cosigner`, the co-signer's at `dir/bravo/ledger`.
pub fn create_channel(dir: &Path, parties: &Parties, with_cosigner: bool) -> BenchResult<Channel> {
    let genesis = Genesis::new(ORIGIN, Party::of(&parties.alpha), Party::of(&parties.bravo));
    let proposal = genesis.propose(&parties.alpha, now_ms().saturating_sub(1000))?;
    let (entry, _) = cosign_proposal(&proposal.bytes, &parties.bravo)?;
    // Data directories are their owner's only (a node refuses to start otherwise).
    for party in ["alpha", "bravo"] {
        let d = dir.join(party);
        dyad_ledger::private_dir::create_dir(&d).map_err(dyad_node::NodeError::from)?;
    }
    let seq = Channel::create(&dir.join("alpha/ledger"), &entry, Role::Sequencer)?;
    if with_cosigner {
        Channel::create(&dir.join("bravo/ledger"), &entry, Role::Cosigner)?;
    }
    Ok(seq)
}

/// The wire bytes of messages number `from..to` of the exchange (message 0 is the first
/// after the genesis), as the senders sign them: alternately alpha's and bravo's, each
/// numbering its own from 1, all stamped `timestamp_ms`. Signing is the senders' work,
/// not the log's, so the bench does it before the clock starts, on all cores.
pub fn signed_messages(
    parties: &Parties,
    from: u64,
    to: u64,
    timestamp_ms: u64,
) -> BenchResult<Vec<Vec<u8>>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let per = (to - from).div_ceil(threads.max(1)).max(1);
    let ranges: Vec<(u64, u64)> = (from..to)
        .step_by(per as usize)
        .map(|a| (a, (a + per).min(to)))
        .collect();
    let parts: Vec<BenchResult<Vec<Vec<u8>>>> = std::thread::scope(|s| {
        let handles: Vec<_> = ranges
            .iter()
            .map(|&(a, b)| {
                s.spawn(move || -> BenchResult<Vec<Vec<u8>>> {
                    (a..b)
                        .map(|n| sign_message(parties, n, timestamp_ms))
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(Err(BenchError::Thread("signing"))))
            .collect()
    });
    let mut out = Vec::with_capacity((to - from) as usize);
    for part in parts {
        out.extend(part?);
    }
    Ok(out)
}

fn sign_message(parties: &Parties, n: u64, timestamp_ms: u64) -> BenchResult<Vec<u8>> {
    let sender = (n % 2) as usize;
    let sequence = n / 2 + 1;
    let subject = format!("bench message {n}");
    let mut payload = format!("Report {n}: scanning seen from 192.0.2.{} on ports 22, 80, 443; see the attached indicators. ", n % 256).into_bytes();
    payload.resize(PAYLOAD_LEN, b'.');
    let signed = Draft::new(Kind::Notification, &subject, "text/plain", payload).sign(
        parties.key(sender),
        ORIGIN,
        sequence,
        timestamp_ms,
    )?;
    Ok(signed.bytes)
}

/// Signs the sequencer's checkpoint of the current tree, adds the co-signer's
/// cosignature/v1 line (C2SP tlog-cosignature) as its node would, and stores the
/// co-signed note: the log is then committed up to its current size.
pub fn cosign(channel: &mut Channel, parties: &Parties) -> BenchResult<()> {
    let signed = channel.sign_checkpoint(&parties.alpha)?;
    let text = channel.checkpoint_text();
    let cosign_key = Party::of(&parties.bravo).cosignature_key()?;
    let timestamp = now_ms() / 1000;
    let message = dyad_verifier::cosignature::signed_message(timestamp, &text);
    let mut sig = timestamp.to_be_bytes().to_vec();
    sig.extend_from_slice(&parties.bravo.sign(&message));
    let mut note = signed;
    note.extend_from_slice(
        dyad_verifier::note::signature_line(cosign_key.name(), cosign_key.key_id(), &sig)
            .as_bytes(),
    );
    channel.add_committed_checkpoint(&note)?;
    Ok(())
}
