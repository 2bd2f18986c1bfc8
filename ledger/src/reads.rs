//! What the operator reads out of a replica, computed in one place for both ways of reading
//! it: the CLI on a store it opens itself, and a running node for the CLI (which holds the
//! store, so the CLI asks it through the admin API, spec/node.md section 5). Both give the
//! same answer and the same [`ReadError`], so their output is the same byte for byte.
//!
//! - [`receipt`]: a receipt for an entry at the latest co-signed checkpoint (spec/dyad.md
//!   section 8);
//! - [`inclusion_proof`], [`consistency_proof`]: RFC 9162 proofs from the replica's tree;
//! - [`checkpoint_note`]: the co-signed checkpoint note of a size, or the latest.
//!
//! The answers and the refusals serialize as the admin API's JSON (hashes and bytes in
//! standard base64).

use serde::{Deserialize, Serialize};

use crate::channel::{Channel, ChannelError};
use crate::store::StoreError;
use crate::tree::Hash;

/// How many co-signed sizes a [`ReadError::NoCheckpointOfSize`] names at most: the newest.
pub const NAMED_SIZES: usize = 64;

/// Why a read was refused ([`ReadError::reason`] names it on the wire), or failed.
#[derive(Debug, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ReadError {
    /// The log holds no entry `index`.
    #[error("there is no entry {index}: the log has {held} entries")]
    NoSuchEntry {
        /// The entry asked for.
        index: u64,
        /// How many entries the log holds.
        held: u64,
    },
    /// The entry is not covered by a co-signed checkpoint yet, so it has no receipt.
    #[error("entry {index} is pending: the latest co-signed checkpoint has size {committed_size}")]
    EntryPending {
        /// The entry asked for.
        index: u64,
        /// The size of the latest co-signed checkpoint (0: none is co-signed yet).
        committed_size: u64,
    },
    /// An inclusion proof in a tree larger than the log.
    #[error("a tree of {size} entries: the log has only {held} entries")]
    TreeBeyondLog {
        /// The tree size asked for.
        size: u64,
        /// How many entries the log holds.
        held: u64,
    },
    /// An inclusion proof of an entry outside the tree asked for.
    #[error("entry {index} is not in a tree of {size} entries (the log has {held})")]
    EntryNotInTree {
        /// The entry asked for.
        index: u64,
        /// The tree size.
        size: u64,
        /// How many entries the log holds.
        held: u64,
    },
    /// A consistency proof to a tree larger than the log.
    #[error("a new tree of {new} entries: the log has only {held} entries")]
    NewTreeBeyondLog {
        /// The newer tree size asked for.
        new: u64,
        /// How many entries the log holds.
        held: u64,
    },
    /// A consistency proof from a larger tree to a smaller one.
    #[error("the old tree size {old} is larger than the new one, {new}")]
    OldAfterNew {
        /// The older tree size asked for.
        old: u64,
        /// The newer tree size asked for.
        new: u64,
    },
    /// No checkpoint is co-signed yet.
    #[error("no co-signed checkpoint yet")]
    NoCheckpointYet,
    /// No co-signed checkpoint of the size asked for.
    #[error("no co-signed checkpoint of size {size}")]
    NoCheckpointOfSize {
        /// The size asked for.
        size: u64,
        /// The co-signed sizes held, ascending: the newest [`NAMED_SIZES`] of them.
        sizes: Vec<u64>,
        /// Older co-signed sizes are held too, not named in `sizes`.
        older: bool,
    },
    /// The store failed or is damaged (never sent as a refusal).
    #[serde(skip)]
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The replica failed (never sent as a refusal).
    #[serde(skip)]
    #[error(transparent)]
    Channel(#[from] ChannelError),
}

impl ReadError {
    /// The refusal's machine name (its `reason` on the wire); `None` for a failure of the
    /// store or replica, which is not a refusal.
    pub fn reason(&self) -> Option<&'static str> {
        Some(match self {
            ReadError::NoSuchEntry { .. } => "no-such-entry",
            ReadError::EntryPending { .. } => "entry-pending",
            ReadError::TreeBeyondLog { .. } => "tree-beyond-log",
            ReadError::EntryNotInTree { .. } => "entry-not-in-tree",
            ReadError::NewTreeBeyondLog { .. } => "new-tree-beyond-log",
            ReadError::OldAfterNew { .. } => "old-after-new",
            ReadError::NoCheckpointYet => "no-checkpoint-yet",
            ReadError::NoCheckpointOfSize { .. } => "no-checkpoint-of-size",
            ReadError::Store(_) | ReadError::Channel(_) => return None,
        })
    }
}

/// A receipt (spec/dyad.md section 8) and the checkpoint it is at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The entry's index.
    pub index: u64,
    /// The size of the co-signed checkpoint the receipt holds.
    pub checkpoint_size: u64,
    /// The C2SP tlog-proof file.
    #[serde(with = "b64::bytes")]
    pub receipt: Vec<u8>,
}

/// An inclusion proof of an entry in a tree of the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// The entry's index.
    pub index: u64,
    /// The tree size.
    pub size: u64,
    /// The entry's leaf hash.
    #[serde(with = "b64::hash")]
    pub leaf_hash: Hash,
    /// The root of the tree of `size` entries.
    #[serde(with = "b64::hash")]
    pub root: Hash,
    /// The proof, leaf upwards.
    #[serde(with = "b64::hashes")]
    pub proof: Vec<Hash>,
    /// `size` is at most the latest co-signed size (else the tree is pending).
    pub committed: bool,
}

/// A consistency proof between two trees of the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    /// The older tree size.
    pub old_size: u64,
    /// The newer tree size.
    pub new_size: u64,
    /// The older tree's root.
    #[serde(with = "b64::hash")]
    pub old_root: Hash,
    /// The newer tree's root.
    #[serde(with = "b64::hash")]
    pub new_root: Hash,
    /// The proof.
    #[serde(with = "b64::hashes")]
    pub proof: Vec<Hash>,
}

/// The receipt for entry `index` at the latest co-signed checkpoint: only a committed
/// entry has one.
pub fn receipt(channel: &Channel, index: u64) -> Result<Receipt, ReadError> {
    let held = channel.size();
    if index >= held {
        return Err(ReadError::NoSuchEntry { index, held });
    }
    let (size, note) = channel.store().latest_checkpoint()?.unwrap_or_default();
    if index >= size {
        return Err(ReadError::EntryPending {
            index,
            committed_size: size,
        });
    }
    let entry = channel.store().leaf(index)?;
    let proof = channel.store().inclusion_proof(index, size)?;
    Ok(Receipt {
        index,
        checkpoint_size: size,
        receipt: dyad_verifier::receipt::format(&entry, index, &proof, &note),
    })
}

/// The inclusion proof of entry `index` in the tree of `size` entries; without a size, the
/// latest co-signed size if it covers the entry, else the log's size.
pub fn inclusion_proof(
    channel: &Channel,
    index: u64,
    size: Option<u64>,
) -> Result<InclusionProof, ReadError> {
    let held = channel.size();
    let committed = channel.committed_size()?;
    let size = size.unwrap_or(if index < committed { committed } else { held });
    if size > held {
        return Err(ReadError::TreeBeyondLog { size, held });
    }
    if index >= size {
        return Err(ReadError::EntryNotInTree { index, size, held });
    }
    let store = channel.store();
    Ok(InclusionProof {
        index,
        size,
        leaf_hash: store.leaf_hash(index)?,
        root: store.root_at(size)?,
        proof: store.inclusion_proof(index, size)?,
        committed: size <= committed,
    })
}

/// The consistency proof from the tree of `old` entries to the tree of `new` entries.
pub fn consistency_proof(
    channel: &Channel,
    old: u64,
    new: u64,
) -> Result<ConsistencyProof, ReadError> {
    let held = channel.size();
    if new > held {
        return Err(ReadError::NewTreeBeyondLog { new, held });
    }
    if old > new {
        return Err(ReadError::OldAfterNew { old, new });
    }
    let store = channel.store();
    Ok(ConsistencyProof {
        old_size: old,
        new_size: new,
        old_root: store.root_at(old)?,
        new_root: store.root_at(new)?,
        proof: store.consistency_proof(old, new)?,
    })
}

/// The co-signed checkpoint note of `size`, or the latest without a size.
pub fn checkpoint_note(channel: &Channel, size: Option<u64>) -> Result<Vec<u8>, ReadError> {
    let store = channel.store();
    let Some(size) = size else {
        return match store.latest_checkpoint()? {
            Some((_, note)) => Ok(note),
            None => Err(ReadError::NoCheckpointYet),
        };
    };
    if let Some(note) = store.checkpoint(size)? {
        return Ok(note);
    }
    // A checkpoint that cannot be read is left out of the list, as it cannot be printed.
    let mut newest: Vec<u64> = store
        .checkpoints()
        .rev()
        .filter_map(|c| c.ok())
        .map(|(s, _)| s)
        .take(NAMED_SIZES + 1)
        .collect();
    let older = newest.len() > NAMED_SIZES;
    newest.truncate(NAMED_SIZES);
    newest.reverse();
    Err(ReadError::NoCheckpointOfSize {
        size,
        sizes: newest,
        older,
    })
}

/// Serde helpers: bytes and hashes as standard padded base64, a proof at most
/// [`dyad_verifier::proof::MAX_PROOF_HASHES`] long.
mod b64 {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::tree::Hash;

    fn decode_hash<E: Error>(text: &str) -> Result<Hash, E> {
        let bytes = STANDARD.decode(text).map_err(E::custom)?;
        Hash::try_from(bytes.as_slice()).map_err(|_| E::custom("a hash is 32 bytes"))
    }

    pub mod bytes {
        use super::*;

        pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&STANDARD.encode(bytes))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
            let text = String::deserialize(d)?;
            STANDARD.decode(text).map_err(D::Error::custom)
        }
    }

    pub mod hash {
        use super::*;

        pub fn serialize<S: Serializer>(hash: &Hash, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&STANDARD.encode(hash))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
            decode_hash(&String::deserialize(d)?)
        }
    }

    pub mod hashes {
        use dyad_verifier::proof::MAX_PROOF_HASHES;

        use super::*;

        pub fn serialize<S: Serializer>(hashes: &[Hash], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(hashes.iter().map(|h| STANDARD.encode(h)))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Hash>, D::Error> {
            let texts = Vec::<String>::deserialize(d)?;
            if texts.len() > MAX_PROOF_HASHES {
                return Err(D::Error::custom(format!(
                    "a proof of {} hashes; at most {MAX_PROOF_HASHES} are accepted",
                    texts.len()
                )));
            }
            texts.iter().map(|t| decode_hash(t)).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ReadError;

    /// The machine name [`ReadError::reason`] gives is the `reason` the refusal is sent
    /// with, and a refusal read back is the one sent.
    #[test]
    fn a_refusal_round_trips_under_its_reason() {
        let refusals = [
            ReadError::NoSuchEntry { index: 9, held: 3 },
            ReadError::EntryPending {
                index: 2,
                committed_size: 0,
            },
            ReadError::TreeBeyondLog { size: 9, held: 3 },
            ReadError::EntryNotInTree {
                index: 4,
                size: 3,
                held: 5,
            },
            ReadError::NewTreeBeyondLog { new: 9, held: 3 },
            ReadError::OldAfterNew { old: 5, new: 3 },
            ReadError::NoCheckpointYet,
            ReadError::NoCheckpointOfSize {
                size: 4,
                sizes: vec![2, 7],
                older: true,
            },
        ];
        for refusal in refusals {
            let value = serde_json::to_value(&refusal).unwrap();
            assert_eq!(value["reason"].as_str(), refusal.reason(), "{value}");
            let back: ReadError = serde_json::from_value(value).unwrap();
            assert_eq!(back.to_string(), refusal.to_string());
            assert_eq!(back.reason(), refusal.reason());
        }
    }
}
