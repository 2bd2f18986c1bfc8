//! The sequencer's signed promise of inclusion (spec/node.md, "Promise"): a C2SP signed
//! note whose text is
//!
//! ```text
//! dyad-promise/v1
//! <origin>
//! <index>
//! <base64 leaf hash>
//! ```
//!
//! signed by the log key (the sequencer's key under the origin's name, type 0x01). The
//! co-signer keeps it: a sequencer that never commits the entry at that index, or commits
//! another one there, is shown to have broken its word. No origin can start with `dyad-`
//! (spec 4), so a promise can never be taken for a checkpoint, nor a checkpoint for a
//! promise.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use dyad_verifier::key::VerifierKey;
use dyad_verifier::note::{self, NoteError};

use crate::keys::SignerKey;
use crate::tree::Hash;

/// The first line of a promise note's text.
pub const PROMISE_HEADER: &str = "dyad-promise/v1";
/// The largest promise note read (a few signatures at most).
pub const MAX_PROMISE_BYTES: usize = 4096;
/// Most entries one promise covers, and so the most one `POST /submit-batch` may carry
/// ([`super::submit::MAX_SUBMIT_BATCH`]).
pub const MAX_PROMISED_ENTRIES: usize = 1024;
/// The largest promise note covering several entries read: an index line (at most 20
/// digits) and a hash line (44 characters) per entry, and room for a few signatures.
pub const MAX_BATCH_PROMISE_BYTES: usize = MAX_PROMISED_ENTRIES * 66 + MAX_PROMISE_BYTES;

/// A promise of inclusion of one entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Promise {
    /// The log's origin.
    pub origin: String,
    /// The index the entry will have in the log.
    pub index: u64,
    /// The entry's RFC 9162 leaf hash.
    pub leaf_hash: Hash,
}

/// Why a promise note was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PromiseError {
    /// The note is malformed or its log signature does not verify.
    #[error("the promise note does not verify under the log key: {0}")]
    Note(#[from] NoteError),
    /// The note is over [`MAX_PROMISE_BYTES`].
    #[error("the promise note is larger than {MAX_PROMISE_BYTES} bytes")]
    TooLarge,
    /// The note verifies but its text is not a `dyad-promise/v1` statement.
    #[error("the note's text is not a dyad-promise/v1")]
    Malformed,
}

impl Promise {
    /// The note's text (what the log signs).
    pub fn text(&self) -> String {
        self.as_batch().text()
    }

    /// Signs the promise as the log: `key` is the sequencer's party key and `log_key` its
    /// verifier key under the origin's name (`Genesis::log_key`).
    pub fn sign(&self, key: &SignerKey, log_key: &VerifierKey) -> Vec<u8> {
        self.as_batch().sign(key, log_key)
    }

    /// Verifies a promise note under the log key and reads it: a promise of exactly one
    /// entry (a promise of one entry is the one-entry case of [`BatchPromise`]).
    pub fn verify(note_bytes: &[u8], log_key: &VerifierKey) -> Result<Promise, PromiseError> {
        if note_bytes.len() > MAX_PROMISE_BYTES {
            return Err(PromiseError::TooLarge);
        }
        let batch = BatchPromise::verify(note_bytes, log_key)?;
        let [(index, leaf_hash)] = batch.entries[..] else {
            return Err(PromiseError::Malformed);
        };
        Ok(Promise {
            origin: batch.origin,
            index,
            leaf_hash,
        })
    }

    fn as_batch(&self) -> BatchPromise {
        BatchPromise {
            origin: self.origin.clone(),
            entries: vec![(self.index, self.leaf_hash)],
        }
    }
}

/// A promise of inclusion for several entries at once (spec/node.md 4.1): the text is
/// the header and the origin, then an index line and a leaf hash line per entry, indexes
/// strictly increasing. One entry's is byte for byte a [`Promise`]. The sequencer signs one
/// for each `POST /submit-batch`: one signature for the batch instead of one per entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchPromise {
    /// The log's origin.
    pub origin: String,
    /// (index, leaf hash) of each entry promised, by increasing index.
    pub entries: Vec<(u64, Hash)>,
}

impl BatchPromise {
    /// The note's text (what the log signs).
    pub fn text(&self) -> String {
        let mut text = format!("{PROMISE_HEADER}\n{}\n", self.origin);
        for (index, hash) in &self.entries {
            text.push_str(&format!("{index}\n{}\n", STANDARD.encode(hash)));
        }
        text
    }

    /// Signs the promise as the log (see [`Promise::sign`]).
    pub fn sign(&self, key: &SignerKey, log_key: &VerifierKey) -> Vec<u8> {
        let text = self.text();
        let sig = key.sign(text.as_bytes());
        format!(
            "{text}\n{}",
            note::signature_line(log_key.name(), log_key.key_id(), &sig)
        )
        .into_bytes()
    }

    /// Verifies a promise note (of one entry or more) under the log key and reads it.
    pub fn verify(note_bytes: &[u8], log_key: &VerifierKey) -> Result<BatchPromise, PromiseError> {
        if note_bytes.len() > MAX_BATCH_PROMISE_BYTES {
            return Err(PromiseError::TooLarge);
        }
        let verified = note::verify(note_bytes, std::slice::from_ref(log_key))?;
        if !verified.verified.iter().any(|v| v.key == *log_key) {
            return Err(PromiseError::Note(NoteError::NoVerifiedSignature));
        }
        let mut lines = verified.text.split_terminator('\n');
        let (Some(PROMISE_HEADER), Some(origin)) = (lines.next(), lines.next()) else {
            return Err(PromiseError::Malformed);
        };
        if origin.is_empty() {
            return Err(PromiseError::Malformed);
        }
        let mut entries: Vec<(u64, Hash)> = Vec::new();
        while let Some(index) = lines.next() {
            if entries.len() == MAX_PROMISED_ENTRIES {
                return Err(PromiseError::Malformed);
            }
            let index = dyad_verifier::text::parse_decimal(index.as_bytes())
                .filter(|&i| entries.last().is_none_or(|&(prev, _)| i > prev))
                .ok_or(PromiseError::Malformed)?;
            let hash: Hash = lines
                .next()
                .and_then(|h| STANDARD.decode(h).ok())
                .and_then(|b| b.try_into().ok())
                .ok_or(PromiseError::Malformed)?;
            entries.push((index, hash));
        }
        if entries.is_empty() {
            return Err(PromiseError::Malformed);
        }
        let promise = BatchPromise {
            origin: origin.to_owned(),
            entries,
        };
        // Exactly one encoding: the text must be what we would write.
        if promise.text() != verified.text {
            return Err(PromiseError::Malformed);
        }
        Ok(promise)
    }

    /// The index promised for the entry with this leaf hash.
    pub fn index_of(&self, leaf_hash: &Hash) -> Option<u64> {
        self.entries
            .iter()
            .find(|(_, h)| h == leaf_hash)
            .map(|&(i, _)| i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promise_round_trips_and_rejects_forgeries() {
        let key = SignerKey::from_seed("example.org/alpha", [1; 32]).unwrap();
        let log_key = key
            .verifier_key()
            .with_name("example.org/dyad/test")
            .unwrap();
        let p = Promise {
            origin: "example.org/dyad/test".into(),
            index: 42,
            leaf_hash: [9; 32],
        };
        let note = p.sign(&key, &log_key);
        assert_eq!(Promise::verify(&note, &log_key), Ok(p.clone()));
        // Signed by the party key under its own name: not the log key.
        let wrong = p.sign(&key, key.verifier_key());
        assert!(Promise::verify(&wrong, &log_key).is_err());
        let mut tampered = note.clone();
        let at = "dyad-promise/v1\nexample.org/dyad/test\n4".len();
        tampered[at] = b'3';
        assert!(Promise::verify(&tampered, &log_key).is_err());
    }

    #[test]
    fn batch_promises_round_trip_and_one_entry_is_a_promise() {
        let key = SignerKey::from_seed("example.org/alpha", [1; 32]).unwrap();
        let log_key = key
            .verifier_key()
            .with_name("example.org/dyad/test")
            .unwrap();
        let one = BatchPromise {
            origin: "example.org/dyad/test".into(),
            entries: vec![(42, [9; 32])],
        };
        let note = one.sign(&key, &log_key);
        let single = Promise::verify(&note, &log_key).unwrap();
        assert_eq!((single.index, single.leaf_hash), (42, [9; 32]));
        assert_eq!(BatchPromise::verify(&note, &log_key), Ok(one));
        let many = BatchPromise {
            origin: "example.org/dyad/test".into(),
            entries: vec![(3, [1; 32]), (4, [2; 32]), (9, [3; 32])],
        };
        let note = many.sign(&key, &log_key);
        assert_eq!(BatchPromise::verify(&note, &log_key), Ok(many.clone()));
        assert_eq!(many.index_of(&[2; 32]), Some(4));
        // A promise of several entries is not a promise of one.
        assert!(Promise::verify(&note, &log_key).is_err());
        // Indexes must increase; an entry needs its hash; at least one entry.
        for entries in [
            vec![(4, [1; 32]), (4, [2; 32])],
            vec![(5, [1; 32]), (4, [2; 32])],
            vec![],
        ] {
            let bad = BatchPromise {
                origin: "example.org/dyad/test".into(),
                entries,
            };
            assert!(BatchPromise::verify(&bad.sign(&key, &log_key), &log_key).is_err());
        }
        let mut text = many.text();
        text.push_str("10\n");
        let sig = key.sign(text.as_bytes());
        let dangling = format!(
            "{text}\n{}",
            note::signature_line(log_key.name(), log_key.key_id(), &sig)
        );
        assert!(BatchPromise::verify(dangling.as_bytes(), &log_key).is_err());
    }
}
