//! A channel replica: the store plus the rules of spec sections 3–7.
//!
//! Both parties run the same code. The sequencer appends entries (its own, and the
//! co-signer's signed submissions) and signs checkpoints as the log; the co-signer accepts
//! entries only together with a sequencer-signed checkpoint whose root it has recomputed,
//! then co-signs. Every state change is one atomic, durable store batch.
//!
//! The mechanisms, one file each:
//!
//! - `rules.rs`: the channel rules every new entry is checked against (spec 3.1–3.5);
//! - `signature_check.rs`: checking a batch's signatures over the machine's cores, also
//!   ahead of the replica's lock;
//! - `append.rs`: the sequencer's ways to append — signed entries, signed entries with the
//!   checkpoint of the new tree, entries judged one by one (group commit), its own drafts;
//! - `outbox.rs`: the co-signer's durable queue of its own signed messages;
//! - `checkpoints.rs`: signing checkpoints as the log, verifying notes, storing committed
//!   checkpoints, and the read-only state of a replica whose checkpoint does not verify;
//! - `cosign.rs`: the co-signer accepting entries with a log-signed checkpoint and
//!   co-signing it (spec section 6);
//! - `joint.rs`: records and endorsements (spec 3.6): the index of endorsed records,
//!   and the rules an endorsement is checked against;
//! - `senders.rs`: what the replica remembers of each sender (spec 3.3);
//! - `key_state.rs`: the parties' current keys, their key changes and every key the
//!   channel has had (spec 3.7); `key_rules.rs`: the channel rules on key changes;
//! - `witness_state.rs`: the witnesses and threshold over the channel's life, from the
//!   genesis's through every witness change's (spec 3.8); `witness_rules.rs`: the channel
//!   rules on witness changes;
//! - `witnessed.rs`: a co-signed checkpoint awaiting its witnesses (spec 7);
//! - `own_key.rs`: which key may sign for this replica's party, and its own key changes;
//! - `recover.rs`: catching up from the peer's committed tree (either role);
//! - `replica_head.rs`: keeping `replica.head` beside the store up to date;
//! - `error.rs`: why a channel operation failed.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::Path;

use crate::entry::{Entry, SignedEntry};
use crate::genesis::{check_genesis, Genesis, Party};
use crate::store::{Store, StoreOptions};

mod append;
mod checkpoints;
mod cosign;
mod error;
mod joint;
mod key_rules;
mod key_state;
mod outbox;
mod own_key;
mod recover;
mod replica_head;
mod rules;
mod senders;
mod signature_check;
#[cfg(test)]
mod tests;
mod witness_rules;
mod witness_state;
mod witnessed;

pub use append::{Appended, EachAppended, Staged};
pub use checkpoints::CheckpointDamage;
pub use error::{ChannelError, EntryRefusal};
use key_state::KeyState;
use senders::{sender_meta, sequence_meta, SenderState};
pub use signature_check::{CheckedSignatures, SignatureCheck};
pub use witnessed::Cosigned;

const META_ROLE: &str = "role";

/// Which party a replica is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The party that appends entries and signs checkpoints as the log.
    Sequencer,
    /// The party that co-signs checkpoints.
    Cosigner,
}

impl Role {
    /// The role's name, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Sequencer => "sequencer",
            Role::Cosigner => "cosigner",
        }
    }
}

/// A replica of a channel: its store, its terms and its role, enforcing the channel rules.
pub struct Channel {
    store: Store,
    genesis: Genesis,
    genesis_timestamp_ms: u64,
    role: Role,
    /// Each party's sequence and clock, by its genesis key ID (spec 3.3: they run on
    /// across key changes).
    senders: HashMap<u32, SenderState>,
    /// The parties' keys, current and past, resolved once (a key id is a hash and a key a
    /// point decompression: too dear to redo per entry), and the witnesses over time with
    /// their cosignature keys.
    keys: KeyState,
    /// Threads for checking a batch's signatures.
    threads: usize,
    /// Set when the newest stored checkpoint does not verify: the replica is read-only.
    damage: Option<CheckpointDamage>,
    /// The size of a stored checkpoint that did not verify and was rebuilt on open from
    /// its lines that verify.
    repaired: Option<u64>,
    /// The data directory whose `replica.head` this replica keeps up to date, and when
    /// it last wrote it.
    record: Option<(std::path::PathBuf, std::time::Instant)>,
    /// A commit changed the head since `replica.head` was last written.
    record_stale: bool,
    /// Co-signer: the new key of its own latest key change queued in the outbox, read
    /// from the outbox once and then kept by `queue_key_change` (`own_key.rs`), so that
    /// signing does not scan the outbox each time.
    queued_new_key: std::sync::OnceLock<Option<[u8; 32]>>,
}

impl Channel {
    /// Creates a replica whose entry 0 is the (fully signed) genesis entry.
    pub fn create(
        dir: &Path,
        genesis_entry: &SignedEntry,
        role: Role,
    ) -> Result<Channel, ChannelError> {
        check_genesis(&genesis_entry.entry)?;
        let mut store = Store::create(dir)?;
        let mut batch = store.batch();
        batch.append_leaf(genesis_entry.bytes.clone());
        batch.put_meta(META_ROLE, role.as_str().as_bytes().to_vec());
        let state = SenderState {
            last_sequence: 0,
            last_timestamp_ms: genesis_entry.entry.body.timestamp_ms,
        };
        let sequencer = genesis_entry.entry.body.sender;
        batch.put_meta(&sender_meta(sequencer), state.to_bytes().to_vec());
        batch.put_meta(&sequence_meta(sequencer, 0), 0u64.to_be_bytes().to_vec());
        store.commit(batch)?;
        Self::from_store(store)
    }

    /// Opens the replica whose store is in `dir`.
    pub fn open(dir: &Path) -> Result<Channel, ChannelError> {
        Self::from_store(Store::open(dir)?)
    }

    /// [`Channel::open`] with store options (e.g. the page cache size).
    pub fn open_with(dir: &Path, options: StoreOptions) -> Result<Channel, ChannelError> {
        Self::from_store(Store::open_with(dir, options)?)
    }

    fn from_store(store: Store) -> Result<Channel, ChannelError> {
        let role = match store.meta(META_ROLE)?.as_deref() {
            Some(b"sequencer") => Role::Sequencer,
            Some(b"cosigner") => Role::Cosigner,
            _ => return Err(ChannelError::MissingRole),
        };
        let first = store.leaf(0)?;
        let entry =
            Entry::decode(&first).map_err(|e| ChannelError::BadStoredGenesis(e.to_string()))?;
        let genesis =
            check_genesis(&entry).map_err(|e| ChannelError::BadStoredGenesis(e.to_string()))?;
        let key_records = store.meta_with_prefix(key_state::record_prefix())?;
        let witness_records = store.meta_with_prefix(witness_state::record_prefix())?;
        let keys = KeyState::load(&genesis, key_records, witness_records)
            .map_err(ChannelError::BadStoredGenesis)?;
        keys.check_against_log(&store)?;
        let mut senders = HashMap::new();
        for party in [&genesis.sequencer, &genesis.cosigner] {
            let id = party.entry_key()?.key_id();
            if let Some(raw) = store.meta(&sender_meta(id))? {
                let state = SenderState::from_bytes(&raw).ok_or_else(|| {
                    ChannelError::BadStoredGenesis("sender state record is corrupt".into())
                })?;
                senders.insert(id, state);
            }
        }
        let mut channel = Channel {
            store,
            genesis,
            genesis_timestamp_ms: entry.body.timestamp_ms,
            role,
            senders,
            keys,
            threads: std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
            damage: None,
            repaired: None,
            record: None,
            record_stale: false,
            queued_new_key: std::sync::OnceLock::new(),
        };
        // The store checked that its newest checkpoint matches its tree; here we check that
        // the checkpoint is really committed by the parties named in the genesis.
        if let Some((size, note)) = channel.store.latest_checkpoint()? {
            if let Err(e) = channel.verify_committed(&note) {
                channel.repair_checkpoint(size, &note, e)?;
            }
        }
        Ok(channel)
    }

    /// Fails unless the store takes commits and the replica is not read-only.
    fn check_writable(&self) -> Result<(), ChannelError> {
        self.store.check_writable()?;
        if let Some(d) = &self.damage {
            return Err(ChannelError::CheckpointDamaged {
                size: d.size,
                reason: d.reason.clone(),
            });
        }
        Ok(())
    }

    /// The channel's terms.
    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    /// The channel's origin.
    pub fn origin(&self) -> &str {
        &self.genesis.origin
    }

    /// Which party this replica is.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The replica's store, to read from.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// How many entries the log holds.
    pub fn size(&self) -> u64 {
        self.store.size()
    }

    /// This replica's own party, with its current key in the log (spec 3.7).
    pub fn own_party(&self) -> &Party {
        &self.keys.current(self.role == Role::Sequencer).party
    }

    /// A party (`Role::Sequencer` or `Role::Cosigner`) with its current key in the log.
    pub fn current_party(&self, role: Role) -> &Party {
        &self.keys.current(role == Role::Sequencer).party
    }

    /// A party with its key at checkpoint size `n`: after the key changes below `n`.
    pub fn party_at(&self, role: Role, n: u64) -> Party {
        self.keys.party_at(role == Role::Sequencer, n)
    }

    /// The indices of the key-change entries in the log, ascending (witness changes are
    /// not among them: see [`Self::key_history_indices`]).
    pub fn key_change_indices(&self) -> Vec<u64> {
        self.keys.changes().iter().map(|c| c.index).collect()
    }

    /// The indices of the key-change and witness-change entries in the log, ascending: a
    /// receipt's key history (spec 8) holds a receipt of each one below its checkpoint.
    pub fn key_history_indices(&self) -> Vec<u64> {
        let mut all = self.key_change_indices();
        all.extend(self.witness_changes());
        all.sort_unstable();
        all
    }

    /// The party (its role) that has or had the entry key `key_id`, if any.
    pub fn role_of_sender(&self, key_id: u32) -> Option<Role> {
        self.keys.party_of(key_id).map(|sequencer| {
            if sequencer {
                Role::Sequencer
            } else {
                Role::Cosigner
            }
        })
    }

    /// The size of the newest committed checkpoint: entries below it are committed.
    pub fn committed_size(&self) -> Result<u64, ChannelError> {
        Ok(self.store.latest_checkpoint()?.map_or(0, |(size, _)| size))
    }

    fn require_role(&self, needed: Role) -> Result<(), ChannelError> {
        if self.role == needed {
            Ok(())
        } else {
            Err(ChannelError::WrongRole {
                needed: needed.as_str(),
                actual: self.role.as_str(),
            })
        }
    }

    /// Entry `index`, decoded.
    pub fn entry(&self, index: u64) -> Result<SignedEntry, ChannelError> {
        let bytes = self.store.leaf(index)?;
        SignedEntry::decode(&bytes).map_err(|source| EntryRefusal::Invalid { index, source }.into())
    }
}
