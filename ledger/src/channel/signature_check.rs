//! Checking entries' sender signatures (strict Ed25519, spec 3.4), over the machine's cores,
//! and ahead of the replica's lock.
//!
//! Signatures are most of the cost of admitting an entry, and they depend only on the
//! entry and its sender's key, not on the log. So a node can check the next batch while the
//! previous one is being written (the sequencer's batcher), or before it takes its replica's
//! exclusive lock (the co-signer), with a [`SignatureCheck`] taken from the replica: the
//! parties' current keys. What it finds ([`CheckedSignatures`]) is only a memo: staging
//! trusts it for an entry only if the entry's leaf hash (which covers its signature) is in
//! it and the keys it was checked under are still the parties' current keys; any other
//! entry is checked again, so a stale or foreign memo costs time, never a wrong verdict.
//!
//! A co-signer's memo can also start from its own queued messages that the log sends back
//! byte for byte (`outbox.rs`, [`Channel::own_queued_signatures`]): it made those
//! signatures, so [`SignatureCheck::check_beyond`] checks only the rest.

use std::collections::HashSet;

use super::key_state::EntryKey;
use super::Channel;
use crate::entry::SignedEntry;
use crate::tree::Hash;

/// Below this many entries a batch's signatures are checked on the calling thread: a
/// thread costs more to start than a few verifications.
const PARALLEL_VERIFY_MIN: usize = 4;

/// The parties' current entry keys as a replica held them, to check signatures without it.
#[derive(Clone, Debug)]
pub struct SignatureCheck {
    keys: [EntryKey; 2],
    threads: usize,
}

/// The entries whose sender signatures a [`SignatureCheck`] found good: see the module
/// documentation for when staging trusts it.
#[derive(Clone, Debug, Default)]
pub struct CheckedSignatures {
    /// The (key ID, public key) pairs the entries were checked under; empty for no memo.
    keys: Vec<(u32, [u8; 32])>,
    /// The leaf hashes of the entries whose signature verified.
    verified: HashSet<Hash>,
}

impl CheckedSignatures {
    /// How many entries verified.
    pub fn len(&self) -> usize {
        self.verified.len()
    }

    /// Whether no entry verified.
    pub fn is_empty(&self) -> bool {
        self.verified.is_empty()
    }
}

impl SignatureCheck {
    /// Whether each entry's sender signature verifies under its sender's key: false for a
    /// sender that is not a current key. A batch is split over the machine's cores.
    fn verify_each(&self, entries: &[&SignedEntry]) -> Vec<bool> {
        let one = |e: &&SignedEntry| {
            self.keys
                .iter()
                .find(|k| k.key_id == e.entry.body.sender)
                .is_some_and(|k| e.signature_verifies_keyed(0, &k.key))
        };
        if self.threads < 2 || entries.len() < PARALLEL_VERIFY_MIN {
            return entries.iter().map(one).collect();
        }
        let chunk = entries.len().div_ceil(self.threads);
        std::thread::scope(|scope| {
            let mut parts = entries.chunks(chunk);
            let first = parts.next().unwrap_or_default();
            let workers: Vec<_> = parts
                .map(|part| {
                    let worker = scope.spawn(move || part.iter().map(one).collect::<Vec<bool>>());
                    (part.len(), worker)
                })
                .collect();
            let mut out: Vec<bool> = Vec::with_capacity(entries.len());
            out.extend(first.iter().map(one));
            for (len, worker) in workers {
                // Verification does not panic on any input; were it to, those entries
                // count as unverified and are refused.
                out.extend(worker.join().unwrap_or_else(|_| vec![false; len]));
            }
            out
        })
    }

    /// Checks the entries' sender signatures (over the machine's cores) and remembers the
    /// ones that verified, for staging them later ([`Channel::stage_each_checked`],
    /// [`Channel::append_signed_checked`], [`Channel::accept_and_cosign_checked`]).
    pub fn check(&self, entries: &[SignedEntry]) -> CheckedSignatures {
        self.check_beyond(entries, CheckedSignatures::default())
    }

    /// [`Self::check`], except for the entries `known` holds, if it was made under these
    /// keys: they are not checked again, and the memo returned holds them too.
    pub fn check_beyond(
        &self,
        entries: &[SignedEntry],
        known: CheckedSignatures,
    ) -> CheckedSignatures {
        let keys = self.fingerprint();
        let mut verified = if known.keys == keys {
            known.verified
        } else {
            HashSet::new()
        };
        let unchecked: Vec<&SignedEntry> = entries
            .iter()
            .filter(|e| !verified.contains(&e.leaf_hash))
            .collect();
        let found = unchecked.iter().zip(self.verify_each(&unchecked));
        verified.extend(found.filter(|(_, ok)| *ok).map(|(e, _)| e.leaf_hash));
        CheckedSignatures { keys, verified }
    }

    /// A memo under these keys of entries whose signatures are known good without a
    /// check (see [`Channel::own_queued_signatures`]).
    pub(super) fn memo(&self, verified: HashSet<Hash>) -> CheckedSignatures {
        CheckedSignatures {
            keys: self.fingerprint(),
            verified,
        }
    }

    fn fingerprint(&self) -> Vec<(u32, [u8; 32])> {
        self.keys
            .iter()
            .map(|k| (k.key_id, k.party.public_key))
            .collect()
    }
}

impl Channel {
    /// The parties' current keys, to check entries' signatures without holding this
    /// replica (see the module documentation).
    pub fn signature_check(&self) -> SignatureCheck {
        SignatureCheck {
            keys: [
                self.keys.current(true).clone(),
                self.keys.current(false).clone(),
            ],
            threads: self.threads,
        }
    }

    /// Whether each entry's sender signature verifies under its sender's current key
    /// (spec 3.4): from `ahead` where it holds the entry and was made under the current
    /// keys, checked now otherwise.
    pub(super) fn verify_signatures(
        &self,
        entries: &[SignedEntry],
        ahead: Option<&CheckedSignatures>,
    ) -> Vec<bool> {
        let known = ahead.cloned().unwrap_or_default();
        let memo = self.signature_check().check_beyond(entries, known);
        entries
            .iter()
            .map(|e| memo.verified.contains(&e.leaf_hash))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::tests::{keys, messages, replica, sequencer};
    use crate::channel::Role;
    use crate::entry::{Draft, Kind};

    /// The memo is what staging trusts, so it must be trusted only under the keys it was
    /// made with: a memo that (falsely) lists a bad entry passes it under the current
    /// keys, and decides nothing under any other.
    #[test]
    fn a_memo_counts_only_under_the_keys_it_was_made_with() {
        let t0 = 1_767_225_600_000;
        let (_, bravo) = keys();
        let dir = tempfile::tempdir().unwrap();
        let ch = sequencer(dir.path(), t0);
        let mut batch = messages(&bravo, 6, t0);
        batch[2].entry.signatures[0].signature[1] ^= 1;
        batch[2] = SignedEntry::new(batch[2].entry.clone()).unwrap();
        let all: HashSet<Hash> = batch.iter().map(|e| e.leaf_hash).collect();
        let check = ch.signature_check();
        let trusted = CheckedSignatures {
            keys: check.fingerprint(),
            verified: all.clone(),
        };
        assert!(ch
            .verify_signatures(&batch, Some(&trusted))
            .iter()
            .all(|&ok| ok));
        let mut other_keys = check.fingerprint();
        other_keys[1].1[0] ^= 1;
        let foreign = CheckedSignatures {
            keys: other_keys,
            verified: all,
        };
        let verdicts = ch.verify_signatures(&batch, Some(&foreign));
        assert_eq!(verdicts, [true, true, false, true, true, true]);
        assert_eq!(ch.verify_signatures(&batch, None), verdicts);
        assert_eq!(check.check(&batch).len(), 5);
    }

    /// The co-signer's own queued messages are known good when the log sends them back,
    /// but only byte for byte: its sequence number with another signature is checked (and
    /// refused), as is every message of the other party.
    #[test]
    fn own_queued_messages_are_known_only_byte_for_byte() {
        let t0 = 1_767_225_600_000;
        let (alpha, bravo) = keys();
        let dir = tempfile::tempdir().unwrap();
        let mut ch = replica(dir.path(), t0, Role::Cosigner);
        let drafts = (0..3u8)
            .map(|i| Draft::new(Kind::Notification, "s", "text/plain", vec![i]))
            .collect();
        let queued = ch.queue_own_batch(&bravo, drafts, t0).unwrap();
        let mut changed = queued[1].entry.clone();
        changed.signatures[0].signature[1] ^= 1;
        let changed = SignedEntry::new(changed).unwrap();
        let theirs = messages(&alpha, 1, t0).remove(0);
        let incoming = [queued[0].clone(), changed, queued[2].clone(), theirs];
        let known = ch.own_queued_signatures(&incoming).unwrap();
        assert_eq!(known.len(), 2);
        for own in [&queued[0], &queued[2]] {
            assert!(known.verified.contains(&own.leaf_hash));
        }
        let memo = ch.signature_check().check_beyond(&incoming, known);
        assert_eq!(memo.len(), 3);
        let verdicts = ch.verify_signatures(&incoming, Some(&memo));
        assert_eq!(verdicts, [true, false, true, true]);
        assert!(sequencer(tempfile::tempdir().unwrap().path(), t0)
            .own_queued_signatures(&incoming)
            .unwrap()
            .is_empty());
    }
}
