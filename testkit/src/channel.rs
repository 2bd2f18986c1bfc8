//! The two-party channel the ledger, node and harness tests start from: alpha (the
//! sequencer) and bravo (the co-signer) with keys from fixed seeds, their genesis, and both
//! replicas created in a temporary directory. Only with the `channel` feature: it is the one
//! part of the testkit built on dyad's own ledger, so the oracles stay independent of it.

use std::path::Path;

use dyad_ledger::channel::{Channel, Role};
use dyad_ledger::entry::{Draft, Kind, SignedEntry};
use dyad_ledger::genesis::{cosign_proposal, Genesis, Party};
use dyad_ledger::keys::SignerKey;

/// The origin (log key name) of the test channel.
pub const ORIGIN: &str = "example.org/dyad/test";

/// A fixed genesis time, 2026-01-01T00:00:00Z, for tests that need no real clock.
pub const T0: u64 = 1_767_225_600_000;

/// The sequencer's key.
pub fn alpha() -> SignerKey {
    SignerKey::from_seed("example.org/alpha", [1; 32]).expect("a valid key name")
}

/// The co-signer's key.
pub fn bravo() -> SignerKey {
    SignerKey::from_seed("example.org/bravo", [2; 32]).expect("a valid key name")
}

/// A key that is neither party's.
pub fn stranger() -> SignerKey {
    SignerKey::from_seed("example.org/stranger", [9; 32]).expect("a valid key name")
}

/// The genesis entry of the test channel at `time_ms`: proposed by alpha, co-signed by bravo.
pub fn genesis(time_ms: u64) -> SignedEntry {
    let terms = Genesis::new(ORIGIN, Party::of(&alpha()), Party::of(&bravo()));
    let proposal = terms.propose(&alpha(), time_ms).expect("alpha proposes");
    let (entry, _) = cosign_proposal(&proposal.bytes, &bravo()).expect("bravo co-signs");
    entry
}

/// Both replicas of the channel whose genesis is at `time_ms`, created at `seq_path`
/// (alpha's) and `cos_path` (bravo's).
pub fn create(seq_path: &Path, cos_path: &Path, time_ms: u64) -> (Channel, Channel) {
    let entry = genesis(time_ms);
    let seq = Channel::create(seq_path, &entry, Role::Sequencer).expect("create alpha's replica");
    let cos = Channel::create(cos_path, &entry, Role::Cosigner).expect("create bravo's replica");
    (seq, cos)
}

/// A notification draft numbered `i`: subject "message i", body "body i".
pub fn message(i: u64) -> Draft {
    Draft::new(
        Kind::Notification,
        &format!("message {i}"),
        "text/plain",
        format!("body {i}").into_bytes(),
    )
}

/// Both replicas open, in `dir/alpha` and `dir/bravo`, with both parties' keys.
pub struct Replicas {
    pub dir: tempfile::TempDir,
    pub alpha: SignerKey,
    pub bravo: SignerKey,
    pub seq: Channel,
    pub cos: Channel,
}

impl Replicas {
    /// A new channel with its genesis at [`T0`].
    pub fn new() -> Replicas {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (seq, cos) = create(&dir.path().join("alpha"), &dir.path().join("bravo"), T0);
        Replicas {
            dir,
            alpha: alpha(),
            bravo: bravo(),
            seq,
            cos,
        }
    }

    /// The entries the co-signer lacks, as the sequencer would send them.
    pub fn new_entries(&self) -> Vec<Vec<u8>> {
        (self.cos.size()..self.seq.size())
            .map(|i| self.seq.store().leaf(i).expect("the sequencer's leaf"))
            .collect()
    }

    /// One exchange at `now`: alpha signs its checkpoint, bravo takes the new entries and
    /// co-signs, alpha stores the co-signed note, which is returned.
    pub fn sync(&mut self, now: u64) -> Vec<u8> {
        exchange(
            &mut self.seq,
            &mut self.cos,
            [&self.alpha, &self.bravo],
            now,
        )
    }
}

/// One exchange between any two replicas of a channel at `now`, with `keys` = [the
/// sequencer's, the co-signer's]: the sequencer signs its checkpoint, the co-signer checks
/// and stores the entries it lacks and co-signs, the sequencer stores the co-signed note,
/// which is returned.
pub fn exchange(seq: &mut Channel, cos: &mut Channel, keys: [&SignerKey; 2], now: u64) -> Vec<u8> {
    let signed = seq.sign_checkpoint(keys[0]).expect("the sequencer signs");
    let entries: Vec<Vec<u8>> = (cos.size()..seq.size())
        .map(|i| seq.store().leaf(i).expect("the sequencer's leaf"))
        .collect();
    let cosigned = cos
        .accept_and_cosign(keys[1], &entries, &signed, now)
        .expect("the co-signer co-signs");
    seq.add_committed_checkpoint(&cosigned)
        .expect("the sequencer stores the co-signed checkpoint");
    cosigned
}

/// Grows a channel, both replicas, by `count` messages ([`message`]s numbered on from
/// the log's size), as the parties would make and exchange them but without a node:
/// alternately the sequencer's and the co-signer's (`keys`, in that order), each with its
/// sender's next sequence number and stamped `now`, signed on all cores; the sequencer
/// appends them `batch` at a time (checking every signature and the channel rules), and
/// after each batch the co-signer checks the new entries and co-signs ([`exchange`]).
/// Every entry is committed at the end. This is how a test gets a log of 100,000 entries
/// in seconds where a live channel needs minutes.
pub fn grow(
    seq: &mut Channel,
    cos: &mut Channel,
    keys: [&SignerKey; 2],
    count: u64,
    batch: u64,
    now: u64,
) {
    let origin = seq.origin().to_owned();
    let mut next = keys.map(|k| seq.next_sequence(k.key_id()).expect("a sequence number"));
    let mut done = 0;
    while done < count {
        let n = batch.max(1).min(count - done);
        let first = seq.size() - 1;
        let jobs: Vec<(usize, u64, u64)> = (0..n)
            .map(|i| {
                let sender = (i % 2) as usize;
                let sequence = next[sender];
                next[sender] += 1;
                (sender, sequence, first + i)
            })
            .collect();
        let entries = sign_all(&jobs, keys, &origin, now);
        seq.append_signed(&entries, now)
            .expect("the sequencer appends");
        exchange(seq, cos, keys, now);
        done += n;
    }
}

/// Signs `(sender, sequence, message number)` jobs on all cores, in order.
fn sign_all(
    jobs: &[(usize, u64, u64)],
    keys: [&SignerKey; 2],
    origin: &str,
    now: u64,
) -> Vec<SignedEntry> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = jobs.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let parts: Vec<_> = jobs
            .chunks(per)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|&(sender, sequence, i)| {
                            message(i)
                                .sign(keys[sender], origin, sequence, now)
                                .expect("a valid message")
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|h| h.join().expect("a signing thread"))
            .collect()
    })
}

impl Default for Replicas {
    fn default() -> Self {
        Replicas::new()
    }
}
