//! A channel replica: the store plus the rules of spec sections 3–7.
//!
//! Both parties run the same code. The sequencer appends entries (its own, and the
//! co-signer's signed submissions) and signs checkpoints as the log; the co-signer accepts
//! entries only together with a sequencer-signed checkpoint whose root it has recomputed,
//! then co-signs. Every state change is one atomic, durable store batch.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::Path;

use dyad_verifier::checkpoint::Checkpoint;
use dyad_verifier::key::VerifierKey;
use dyad_verifier::note;
use ed25519_dalek::VerifyingKey;

use crate::entry::{Draft, Entry, EntryError, Kind, SignedEntry};
use crate::genesis::{check_genesis, Genesis, GenesisError, Party};
use crate::keys::SignerKey;
use crate::replica_record::ReplicaRecord;
use crate::store::{Batch, Store, StoreError, StoreOptions};
use crate::tree::{Frontier, Hash};

const META_ROLE: &str = "role";
const META_SIGNED: &str = "signed-checkpoint";
const META_AWAITING_WITNESSES: &str = "cosigned-awaiting-witnesses";
const SENDER_PREFIX: &str = "sender/";
const QUEUE_PREFIX: &str = "queue/";
const SEQUENCE_PREFIX: &str = "seqidx/";
const CONFLICT_PREFIX: &str = "conflict/";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Sequencer,
    Cosigner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Sequencer => "sequencer",
            Role::Cosigner => "cosigner",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Genesis(#[from] GenesisError),
    #[error("entry {index}: {source}")]
    Entry { index: u64, source: EntryError },
    #[error("this replica is the {actual}; only the {needed} can do that")]
    WrongRole {
        needed: &'static str,
        actual: &'static str,
    },
    #[error("the key {name} is not the {role} of this channel")]
    NotOurKey { name: String, role: &'static str },
    #[error("the store has no role record; it was not created by dyad")]
    MissingRole,
    #[error("entry {index}: its origin {found:?} is not this channel's {expected:?}")]
    WrongOrigin {
        index: u64,
        expected: String,
        found: String,
    },
    #[error("entry {index}: sender key id {key_id:08x} is not a party of this channel")]
    UnknownSender { index: u64, key_id: u32 },
    #[error("entry {index}: the sender's signature does not verify")]
    BadSignature { index: u64 },
    #[error("entry {index}: only entry 0 may be a genesis entry")]
    GenesisNotFirst { index: u64 },
    #[error(
        "entry {index}: sequence {found} from {sender}, expected {expected} (a replay or a gap)"
    )]
    SequenceGap {
        index: u64,
        sender: String,
        expected: u64,
        found: u64,
    },
    #[error("entry {index}: timestamp {found_ms} ms is before the sender's previous entry ({previous_ms} ms) or the genesis")]
    TimestampBackwards {
        index: u64,
        found_ms: u64,
        previous_ms: u64,
    },
    #[error("entry {index}: timestamp {found_ms} ms is more than the allowed clock skew ahead of now ({now_ms} ms)")]
    TimestampInFuture {
        index: u64,
        found_ms: u64,
        now_ms: u64,
    },
    #[error("entry {index}: reply_to {reply_to} must point to an earlier, non-genesis entry")]
    ReplyToNotEarlier { index: u64, reply_to: u64 },
    #[error("entry {index}: a response must say which entry it answers (reply_to)")]
    ResponseWithoutReplyTo { index: u64 },
    #[error("entry {index}: payload of {len} bytes exceeds the channel's limit of {max}")]
    PayloadTooLarge { index: u64, len: usize, max: u32 },
    #[error("entry {index}: attachment of {size} bytes exceeds the channel's limit of {max}")]
    AttachmentTooLarge { index: u64, size: u64, max: u64 },
    #[error("the checkpoint note does not verify: {0}")]
    Note(#[from] note::NoteError),
    #[error("the checkpoint body is invalid: {0}")]
    Checkpoint(#[from] dyad_verifier::checkpoint::CheckpointError),
    #[error("the checkpoint is for origin {found:?}, not {expected:?}")]
    CheckpointOrigin { expected: String, found: String },
    #[error("the checkpoint is not signed by the sequencer's log key")]
    MissingLogSignature,
    #[error("the checkpoint is not co-signed by the co-signer")]
    MissingCosignature,
    #[error("the checkpoint has {found} witness co-signatures; the channel requires {needed}")]
    WitnessQuorum { found: usize, needed: usize },
    #[error("the checkpoint has size {size} but this replica holds {held} entries")]
    CheckpointBeyondLog { size: u64, held: u64 },
    #[error(
        "the checkpoint of size {size} rolls back the replica, which already holds {held} entries"
    )]
    Rollback { size: u64, held: u64 },
    #[error("the checkpoint of size {size} has root {claimed}, but the entries give {computed}: the peer equivocates or sent wrong entries")]
    RootMismatch {
        size: u64,
        claimed: String,
        computed: String,
    },
    #[error("expected entries for size {expected} but got a checkpoint of size {size}")]
    EntryCountMismatch { expected: u64, size: u64 },
    #[error("the peer sent an entry that is already in the log at index {index}")]
    DuplicateEntry { index: u64 },
    #[error("the stored genesis is not valid: {0}")]
    BadStoredGenesis(String),
    #[error("this replica is read-only: its newest checkpoint (size {size}) does not verify ({reason}); restore the data directory from a backup, or recover the replica from the peer")]
    CheckpointDamaged { size: u64, reason: String },
}

/// Why a replica opened read-only: its newest stored checkpoint does not verify as
/// committed, and no note could be rebuilt from the lines that do verify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointDamage {
    pub size: u64,
    pub reason: String,
}

/// What the replica remembers about each sender, to enforce spec 3.3.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct SenderState {
    last_sequence: u64,
    last_timestamp_ms: u64,
}

impl SenderState {
    fn to_bytes(self) -> [u8; 16] {
        let mut b = [0; 16];
        b[..8].copy_from_slice(&self.last_sequence.to_be_bytes());
        b[8..].copy_from_slice(&self.last_timestamp_ms.to_be_bytes());
        b
    }

    fn from_bytes(b: &[u8]) -> Option<Self> {
        let b: &[u8; 16] = b.try_into().ok()?;
        let (seq, ts) = b.split_at(8);
        Some(Self {
            last_sequence: u64::from_be_bytes(seq.try_into().ok()?),
            last_timestamp_ms: u64::from_be_bytes(ts.try_into().ok()?),
        })
    }
}

/// Where an appended entry landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    pub index: u64,
    pub leaf_hash: Hash,
    /// True when the entry was already in the log (idempotent resubmission).
    pub existing: bool,
}

pub struct Channel {
    store: Store,
    genesis: Genesis,
    genesis_timestamp_ms: u64,
    role: Role,
    senders: HashMap<u32, SenderState>,
    cosignature_keys: Vec<VerifierKey>,
    /// The parties' entry keys, resolved once (a key id is a hash and a key a point
    /// decompression: too dear to redo per entry).
    entry_keys: [EntryKey; 2],
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
}

impl Drop for Channel {
    fn drop(&mut self) {
        if self.record_stale {
            self.write_replica_record();
        }
    }
}

/// The least time between two writes of `replica.head` after commits: it records that
/// the replica exists and about where its head is, not every commit.
const RECORD_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// A party's entry-signing key, ready to verify with.
#[derive(Clone, Copy, Debug)]
struct EntryKey {
    key_id: u32,
    key: VerifyingKey,
    sequencer: bool,
}

/// What staging does with an entry the channel rules refuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OnRefusal {
    /// The whole batch is refused.
    Abort,
    /// The entry is left out; the others are judged without it.
    Skip,
}

/// Each entry's fate when entries are judged one by one: where it landed, or why not.
pub type EachAppended = Vec<Result<Appended, ChannelError>>;

/// Entries checked one by one and staged by [`Channel::stage_each`], not yet written.
pub struct Staged {
    batch: Batch,
    results: EachAppended,
    senders: HashMap<u32, SenderState>,
    /// The log's size when staged: a later change makes the staging stale.
    base: u64,
}

impl Staged {
    /// Each entry's fate, in the order given: where it will land, or why it is refused.
    pub fn results(&self) -> &[Result<Appended, ChannelError>] {
        &self.results
    }

    /// Whether any entry is refused.
    pub fn any_refused(&self) -> bool {
        self.results.iter().any(Result::is_err)
    }
}

/// Below this many entries a batch's signatures are checked on the calling thread: a
/// thread costs more to start than a few verifications.
const PARALLEL_VERIFY_MIN: usize = 4;

/// Sequence numbers per sequence-index record.
const SEQUENCE_RECORD_LEN: u64 = 256;
/// Marks a sequence number with no entry (each party's own numbering starts at 1).
const NO_INDEX: u64 = u64::MAX;

fn sequence_meta(sender: u32, sequence: u64) -> String {
    format!(
        "{SEQUENCE_PREFIX}{sender:08x}/{:016x}",
        sequence / SEQUENCE_RECORD_LEN
    )
}

fn sender_meta(key_id: u32) -> String {
    format!("{SENDER_PREFIX}{key_id:08x}")
}

fn hex(h: &Hash) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
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
        let mut cosignature_keys = vec![genesis.cosigner.cosignature_key()?];
        for w in &genesis.witnesses {
            cosignature_keys.push(w.cosignature_key()?);
        }
        let entry_keys = [
            EntryKey {
                key_id: genesis.sequencer.entry_key()?.key_id(),
                key: genesis.sequencer.verifying_key()?,
                sequencer: true,
            },
            EntryKey {
                key_id: genesis.cosigner.entry_key()?.key_id(),
                key: genesis.cosigner.verifying_key()?,
                sequencer: false,
            },
        ];
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
            cosignature_keys,
            entry_keys,
            threads: std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
            damage: None,
            repaired: None,
            record: None,
            record_stale: false,
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

    /// The newest stored checkpoint did not verify (`problem`): if the lines of it that
    /// verify on their own make a committed note, that note replaces it (a note stored by
    /// an older build may carry extra lines); otherwise the replica stays open, read-only.
    fn repair_checkpoint(
        &mut self,
        size: u64,
        note_bytes: &[u8],
        problem: ChannelError,
    ) -> Result<(), ChannelError> {
        let rebuilt = crate::kept_note::salvage(note_bytes, &self.note_keys()?)
            .filter(|n| self.verify_committed(n).is_ok());
        match rebuilt {
            Some(rebuilt) => {
                tracing::warn!(size, problem = %problem, "the newest stored checkpoint does not verify; rebuilt it from its signature lines that do");
                let mut batch = self.store.batch();
                batch.put_checkpoint(size, rebuilt);
                self.store.commit(batch)?;
                self.repaired = Some(size);
            }
            None => {
                let damage = CheckpointDamage {
                    size,
                    reason: problem.to_string(),
                };
                tracing::error!(size, problem = %damage.reason, "the newest stored checkpoint does not verify: the replica is read-only");
                self.damage = Some(damage);
            }
        }
        Ok(())
    }

    /// This replica's head as `replica.head` records it.
    pub fn replica_record(&self) -> Result<ReplicaRecord, ChannelError> {
        Ok(ReplicaRecord {
            origin: self.genesis.origin.clone(),
            role: self.role.as_str().to_owned(),
            size: self.store.size(),
            root: self.store.root(),
            committed: self.committed_size()?,
        })
    }

    /// Writes `replica.head` in the data directory `dir` (outside the store) now if it
    /// does not hold this head, and keeps it up to date after commits of a committed
    /// checkpoint (at most once per [`RECORD_INTERVAL`], and when the replica is closed).
    /// A failure to write it now (e.g. a full disk) is returned, and the write is tried
    /// again later.
    pub fn keep_replica_record(&mut self, dir: &Path) -> Result<(), ChannelError> {
        self.record = Some((dir.to_owned(), std::time::Instant::now()));
        let current = self.replica_record()?;
        if ReplicaRecord::read(dir).ok().flatten().as_ref() != Some(&current) {
            if let Err(source) = current.write(dir) {
                // Tried again after the next commit, or when the replica is closed.
                self.record_stale = true;
                return Err(StoreError::Io {
                    path: dir.join(crate::replica_record::REPLICA_RECORD_FILE),
                    source,
                }
                .into());
            }
        }
        Ok(())
    }

    /// After a commit that changed the committed checkpoint: `replica.head` follows, if
    /// kept and not written within the last [`RECORD_INTERVAL`]. A failure is logged: the
    /// commit itself is durable.
    fn update_replica_record(&mut self) {
        let Some((_, at)) = &self.record else {
            return;
        };
        if at.elapsed() < RECORD_INTERVAL {
            // Written soon after, or when the replica is closed.
            self.record_stale = true;
            return;
        }
        self.write_replica_record();
    }

    fn write_replica_record(&mut self) {
        let Some((dir, _)) = &self.record else {
            return;
        };
        let dir = dir.clone();
        let written = self.replica_record().and_then(|r| {
            r.write(&dir).map_err(|source| {
                ChannelError::from(StoreError::Io {
                    path: dir.join(crate::replica_record::REPLICA_RECORD_FILE),
                    source,
                })
            })
        });
        match written {
            Ok(()) => {
                self.record = Some((dir, std::time::Instant::now()));
                self.record_stale = false;
            }
            Err(e) => tracing::warn!(error = %e, "cannot update the replica record"),
        }
    }

    /// Why this replica is read-only, if it is: its newest checkpoint does not verify.
    pub fn checkpoint_damage(&self) -> Option<&CheckpointDamage> {
        self.damage.as_ref()
    }

    /// The size of the stored checkpoint that opening rebuilt from the signature lines
    /// that verify, if it had to.
    pub fn repaired_checkpoint(&self) -> Option<u64> {
        self.repaired
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

    /// The keys whose signature lines a stored note may carry, in the order it carries
    /// them: the log's, the co-signer's, the witnesses'.
    fn note_keys(&self) -> Result<Vec<VerifierKey>, ChannelError> {
        let mut keys = vec![self.genesis.log_key()?];
        keys.extend(self.cosignature_keys.iter().cloned());
        Ok(keys)
    }

    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    pub fn origin(&self) -> &str {
        &self.genesis.origin
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn size(&self) -> u64 {
        self.store.size()
    }

    /// This replica's own party.
    pub fn own_party(&self) -> &Party {
        match self.role {
            Role::Sequencer => &self.genesis.sequencer,
            Role::Cosigner => &self.genesis.cosigner,
        }
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

    fn require_own_key(&self, key: &SignerKey) -> Result<(), ChannelError> {
        if Party::of(key) != *self.own_party() {
            return Err(ChannelError::NotOurKey {
                name: key.name().to_owned(),
                role: self.role.as_str(),
            });
        }
        Ok(())
    }

    /// The next sequence number for a sender: one past its last entry in the log or queue.
    pub fn next_sequence(&self, key_id: u32) -> Result<u64, ChannelError> {
        let in_log = self.senders.get(&key_id).map_or(0, |s| s.last_sequence);
        // The queue is in sequence order: only its last message matters.
        let queued = match self.store.last_meta_with_prefix(QUEUE_PREFIX)? {
            None => 0,
            Some((_, bytes)) => {
                let e = SignedEntry::decode(&bytes).map_err(|source| ChannelError::Entry {
                    index: self.size(),
                    source,
                })?;
                if e.entry.body.sender == key_id {
                    e.entry.body.sequence
                } else {
                    0
                }
            }
        };
        Ok(in_log.max(queued) + 1)
    }

    fn entry_key(&self, key_id: u32) -> Option<&EntryKey> {
        self.entry_keys.iter().find(|k| k.key_id == key_id)
    }

    /// Whether each entry's sender signature verifies (strict Ed25519, spec 3.4); false
    /// for a sender that is not a party. A batch is split over the machine's cores.
    fn verify_signatures(&self, entries: &[SignedEntry]) -> Vec<bool> {
        let one = |e: &SignedEntry| {
            self.entry_key(e.entry.body.sender)
                .is_some_and(|k| e.signature_verifies(0, &k.key))
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

    /// The channel rules for an entry about to take `index` (spec 3.1–3.5).
    /// `signature_ok` is the result of [`Self::verify_signatures`] for it.
    fn check_entry(
        &self,
        e: &SignedEntry,
        index: u64,
        senders: &mut HashMap<u32, SenderState>,
        now_ms: u64,
        signature_ok: bool,
    ) -> Result<(), ChannelError> {
        let body = &e.entry.body;
        e.entry
            .validate()
            .map_err(|source| ChannelError::Entry { index, source })?;
        if body.origin != self.genesis.origin {
            return Err(ChannelError::WrongOrigin {
                index,
                expected: self.genesis.origin.clone(),
                found: body.origin.clone(),
            });
        }
        if body.kind == Kind::Genesis {
            return Err(ChannelError::GenesisNotFirst { index });
        }
        let sender = self
            .entry_key(body.sender)
            .ok_or(ChannelError::UnknownSender {
                index,
                key_id: body.sender,
            })?;
        if !signature_ok {
            return Err(ChannelError::BadSignature { index });
        }
        let state = senders.get(&body.sender).copied().unwrap_or_default();
        let expected = state.last_sequence + 1;
        if body.sequence != expected {
            return Err(ChannelError::SequenceGap {
                index,
                sender: if sender.sequencer {
                    self.genesis.sequencer.name.clone()
                } else {
                    self.genesis.cosigner.name.clone()
                },
                expected,
                found: body.sequence,
            });
        }
        let skew_ms = u64::from(self.genesis.max_clock_skew_s) * 1000;
        let floor = state
            .last_timestamp_ms
            .max(self.genesis_timestamp_ms.saturating_sub(skew_ms));
        if body.timestamp_ms < floor {
            return Err(ChannelError::TimestampBackwards {
                index,
                found_ms: body.timestamp_ms,
                previous_ms: floor,
            });
        }
        if body.timestamp_ms > now_ms.saturating_add(skew_ms) {
            return Err(ChannelError::TimestampInFuture {
                index,
                found_ms: body.timestamp_ms,
                now_ms,
            });
        }
        match body.reply_to {
            Some(r) if r == 0 || r >= index => {
                return Err(ChannelError::ReplyToNotEarlier { index, reply_to: r })
            }
            None if body.kind == Kind::Response => {
                return Err(ChannelError::ResponseWithoutReplyTo { index })
            }
            _ => {}
        }
        if body.payload.len() > self.genesis.max_payload as usize {
            return Err(ChannelError::PayloadTooLarge {
                index,
                len: body.payload.len(),
                max: self.genesis.max_payload,
            });
        }
        if let Some(a) = body
            .attachments
            .iter()
            .find(|a| a.size > self.genesis.max_attachment_size)
        {
            return Err(ChannelError::AttachmentTooLarge {
                index,
                size: a.size,
                max: self.genesis.max_attachment_size,
            });
        }
        senders.insert(
            body.sender,
            SenderState {
                last_sequence: body.sequence,
                last_timestamp_ms: body.timestamp_ms,
            },
        );
        Ok(())
    }

    /// Checks `entries` as the next entries of the log and stages them in `batch`; the
    /// first refused entry refuses them all.
    fn stage_entries(
        &self,
        batch: &mut Batch,
        entries: &[SignedEntry],
        now_ms: u64,
    ) -> Result<(Vec<Appended>, HashMap<u32, SenderState>), ChannelError> {
        let (results, senders) = self.stage(batch, entries, now_ms, OnRefusal::Abort)?;
        let appended = results.into_iter().collect::<Result<Vec<_>, _>>()?;
        Ok((appended, senders))
    }

    /// Checks `entries` in order as the next entries of the log and stages the accepted
    /// ones in `batch`. With [`OnRefusal::Skip`] a refused entry is left out and reported
    /// in its slot, and the later ones are judged as if it had never been submitted; with
    /// [`OnRefusal::Abort`] the first refusal is the error. The outer error is a store
    /// failure: then nothing can be judged.
    fn stage(
        &self,
        batch: &mut Batch,
        entries: &[SignedEntry],
        now_ms: u64,
        on_refusal: OnRefusal,
    ) -> Result<(EachAppended, HashMap<u32, SenderState>), ChannelError> {
        let mut senders = self.senders.clone();
        let mut appended = Vec::with_capacity(entries.len());
        let mut next = self.store.size();
        // (sender, sequence) -> (index, leaf hash) of entries staged in this batch.
        let mut staged: HashMap<(u32, u64), (u64, Hash)> = HashMap::new();
        let verified = self.verify_signatures(entries);
        for (e, &signature_ok) in entries.iter().zip(&verified) {
            let body = &e.entry.body;
            let key = (body.sender, body.sequence);
            // A sender's sequence number names its message (spec 3.3): the same entry again
            // is a resubmission and keeps its index; another entry under a used number is a
            // replay, which check_entry rejects.
            let used = senders
                .get(&body.sender)
                .is_some_and(|s| body.sequence <= s.last_sequence);
            let seen = match staged.get(&key) {
                Some(&found) => Some(found),
                // Only a used number can name an entry already in the log: new entries
                // (the hot path) cost no read.
                None if !used => None,
                None => self
                    .index_of_sequence(body.sender, body.sequence)?
                    .map(|i| (i, [0; 32])),
            };
            if let Some((index, mut hash)) = seen {
                if hash == [0; 32] {
                    hash = self.store.leaf_hash(index)?;
                }
                if hash == e.leaf_hash {
                    appended.push(Ok(Appended {
                        index,
                        leaf_hash: e.leaf_hash,
                        existing: true,
                    }));
                    continue;
                }
            }
            if let Err(refused) = self.check_entry(e, next, &mut senders, now_ms, signature_ok) {
                match on_refusal {
                    OnRefusal::Abort => return Err(refused),
                    OnRefusal::Skip => {
                        appended.push(Err(refused));
                        continue;
                    }
                }
            }
            let index = batch.append_leaf(e.bytes.clone());
            debug_assert_eq!(index, next);
            staged.insert(key, (index, e.leaf_hash));
            appended.push(Ok(Appended {
                index,
                leaf_hash: e.leaf_hash,
                existing: false,
            }));
            next += 1;
        }
        for (id, state) in &senders {
            if self.senders.get(id) != Some(state) {
                batch.put_meta(&sender_meta(*id), state.to_bytes().to_vec());
            }
        }
        self.stage_sequence_index(
            batch,
            staged
                .into_iter()
                .map(|((sender, seq), (index, _))| (sender, seq, index)),
        )?;
        Ok((appended, senders))
    }

    /// The log index of `sender`'s message number `sequence`, if it is in the log.
    pub fn index_of_sequence(
        &self,
        sender: u32,
        sequence: u64,
    ) -> Result<Option<u64>, ChannelError> {
        let Some(record) = self.store.meta(&sequence_meta(sender, sequence))? else {
            return Ok(None);
        };
        let at = (sequence % SEQUENCE_RECORD_LEN) as usize * 8;
        let index = record
            .get(at..at + 8)
            .map(|b| u64::from_be_bytes(b.try_into().unwrap_or([0xff; 8])));
        Ok(index.filter(|&i| i != NO_INDEX))
    }

    /// Extends the per-sender sequence index records (256 indexes each) with new entries.
    fn stage_sequence_index(
        &self,
        batch: &mut Batch,
        new: impl Iterator<Item = (u32, u64, u64)>,
    ) -> Result<(), ChannelError> {
        let mut new: Vec<(u32, u64, u64)> = new.collect();
        new.sort_unstable();
        let mut records: HashMap<String, Vec<u8>> = HashMap::new();
        for (sender, sequence, index) in new {
            let name = sequence_meta(sender, sequence);
            if !records.contains_key(&name) {
                let existing = self.store.meta(&name)?.unwrap_or_default();
                records.insert(name.clone(), existing);
            }
            let record = records.get_mut(&name).expect("inserted above");
            // Sequences are contiguous per sender, so each record grows at its end.
            let at = (sequence % SEQUENCE_RECORD_LEN) as usize * 8;
            record.truncate(at);
            while record.len() < at {
                record.extend_from_slice(&NO_INDEX.to_be_bytes());
            }
            record.extend_from_slice(&index.to_be_bytes());
        }
        for (name, record) in records {
            batch.put_meta(&name, record);
        }
        Ok(())
    }

    /// Sequencer: appends signed entries (its own or the co-signer's submissions) as one
    /// durable batch. Resubmitting an entry already in the log returns its index.
    /// Nothing is written unless every new entry is valid.
    pub fn append_signed(
        &mut self,
        entries: &[SignedEntry],
        now_ms: u64,
    ) -> Result<Vec<Appended>, ChannelError> {
        self.check_writable()?;
        self.require_role(Role::Sequencer)?;
        let mut batch = self.store.batch();
        let (appended, senders) = self.stage_entries(&mut batch, entries, now_ms)?;
        if appended.iter().any(|a| !a.existing) {
            self.store.commit(batch)?;
            self.senders = senders;
        }
        Ok(appended)
    }

    /// Sequencer, for group commit: [`Self::append_signed`] and [`Self::sign_checkpoint`]
    /// in ONE durable store batch (one fsync instead of two). Returns the appended entries
    /// and, when any entry is new, the log-signed checkpoint note of the new tree (which
    /// still needs the co-signature). Nothing is written unless every new entry is valid.
    pub fn append_signed_and_sign(
        &mut self,
        key: &SignerKey,
        entries: &[SignedEntry],
        now_ms: u64,
    ) -> Result<(Vec<Appended>, Option<Vec<u8>>), ChannelError> {
        self.check_writable()?;
        self.require_role(Role::Sequencer)?;
        self.require_own_key(key)?;
        let mut batch = self.store.batch();
        let (appended, senders) = self.stage_entries(&mut batch, entries, now_ms)?;
        let new = appended.iter().filter(|a| !a.existing);
        let Some(note) = self.sign_new_tree(key, &mut batch, new)? else {
            return Ok((appended, None));
        };
        self.store.commit(batch)?;
        self.senders = senders;
        Ok((appended, Some(note)))
    }

    /// Sequencer, for group commit with an answer per entry: checks each entry on its own,
    /// in order, exactly as appending them one by one would (a refused entry is left out and
    /// the later ones are judged without it), and stages the accepted ones. Nothing is
    /// written: [`Self::commit_staged_and_sign`] writes them, or the staging is dropped.
    /// Every signature is verified (strictly, over the machine's cores) before an entry is
    /// staged.
    pub fn stage_each(&self, entries: &[SignedEntry], now_ms: u64) -> Result<Staged, ChannelError> {
        self.check_writable()?;
        self.require_role(Role::Sequencer)?;
        let mut batch = self.store.batch();
        let (results, senders) = self.stage(&mut batch, entries, now_ms, OnRefusal::Skip)?;
        Ok(Staged {
            batch,
            results,
            senders,
            base: self.store.size(),
        })
    }

    /// Sequencer: writes what [`Self::stage_each`] accepted and the log-signed checkpoint of
    /// the new tree as ONE durable store batch (one fsync). Returns each entry's result and,
    /// when any entry is new, the checkpoint note (which still needs the co-signature).
    /// Refused if the log changed since the staging.
    pub fn commit_staged_and_sign(
        &mut self,
        key: &SignerKey,
        staged: Staged,
    ) -> Result<(EachAppended, Option<Vec<u8>>), ChannelError> {
        self.check_writable()?;
        self.require_role(Role::Sequencer)?;
        self.require_own_key(key)?;
        let Staged {
            mut batch,
            results,
            senders,
            base,
        } = staged;
        if base != self.store.size() {
            return Err(StoreError::StaleBatch {
                batch_base: base,
                size: self.store.size(),
            }
            .into());
        }
        let new = results
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .filter(|a| !a.existing);
        let Some(note) = self.sign_new_tree(key, &mut batch, new)? else {
            return Ok((results, None));
        };
        self.store.commit(batch)?;
        self.senders = senders;
        Ok((results, Some(note)))
    }

    /// Stages the log-signed checkpoint of the tree the `new` appended entries make, if
    /// there are any; returns its note.
    fn sign_new_tree<'a>(
        &self,
        key: &SignerKey,
        batch: &mut Batch,
        new: impl Iterator<Item = &'a Appended>,
    ) -> Result<Option<Vec<u8>>, ChannelError> {
        // The new tree's head, from the leaf hashes in hand; commit recomputes it and
        // refuses nothing here, since the note is metadata to the store.
        let mut frontier = self.store.frontier().clone();
        let before = frontier.size();
        for a in new {
            frontier.push(a.leaf_hash);
        }
        if frontier.size() == before {
            return Ok(None);
        }
        let note = self.log_signed_note(key, frontier.size(), frontier.root())?;
        batch.put_meta(META_SIGNED, note.clone());
        Ok(Some(note))
    }

    /// Sequencer: signs and appends its own messages as one durable batch.
    pub fn append_own(
        &mut self,
        key: &SignerKey,
        drafts: Vec<Draft>,
        now_ms: u64,
    ) -> Result<Vec<Appended>, ChannelError> {
        self.require_role(Role::Sequencer)?;
        self.require_own_key(key)?;
        let first = self.next_sequence(key.key_id())?;
        let size = self.size();
        let mut signed = Vec::with_capacity(drafts.len());
        for (i, draft) in drafts.into_iter().enumerate() {
            let e = draft
                .sign(key, &self.genesis.origin, first + i as u64, now_ms)
                .map_err(|source| ChannelError::Entry {
                    index: size + i as u64,
                    source,
                })?;
            signed.push(e);
        }
        self.append_signed(&signed, now_ms)
    }

    /// Co-signer: signs a message and queues it durably for submission to the sequencer.
    pub fn queue_own(
        &mut self,
        key: &SignerKey,
        draft: Draft,
        now_ms: u64,
    ) -> Result<SignedEntry, ChannelError> {
        self.check_writable()?;
        self.require_role(Role::Cosigner)?;
        self.require_own_key(key)?;
        let sequence = self.next_sequence(key.key_id())?;
        let e = draft
            .sign(key, &self.genesis.origin, sequence, now_ms)
            .map_err(|source| ChannelError::Entry {
                index: self.size(),
                source,
            })?;
        let mut batch = self.store.batch();
        batch.put_meta(&format!("{QUEUE_PREFIX}{sequence:020}"), e.bytes.clone());
        self.store.commit(batch)?;
        Ok(e)
    }

    /// Co-signer: [`Self::queue_own`] for several messages, with consecutive sequence
    /// numbers, in one durable store batch. Nothing is queued unless every draft signs.
    pub fn queue_own_batch(
        &mut self,
        key: &SignerKey,
        drafts: Vec<Draft>,
        now_ms: u64,
    ) -> Result<Vec<SignedEntry>, ChannelError> {
        self.check_writable()?;
        self.require_role(Role::Cosigner)?;
        self.require_own_key(key)?;
        let first = self.next_sequence(key.key_id())?;
        let mut batch = self.store.batch();
        let mut out = Vec::with_capacity(drafts.len());
        for (sequence, draft) in (first..).zip(drafts) {
            let e = draft
                .sign(key, &self.genesis.origin, sequence, now_ms)
                .map_err(|source| ChannelError::Entry {
                    index: self.size(),
                    source,
                })?;
            batch.put_meta(&format!("{QUEUE_PREFIX}{sequence:020}"), e.bytes.clone());
            out.push(e);
        }
        self.store.commit(batch)?;
        Ok(out)
    }

    /// Co-signer: its signed messages not yet seen in the log, oldest first.
    pub fn queued(&self) -> Result<Vec<SignedEntry>, ChannelError> {
        let mut out = Vec::new();
        for (_, bytes) in self.store.meta_with_prefix(QUEUE_PREFIX)? {
            out.push(
                SignedEntry::decode(&bytes).map_err(|source| ChannelError::Entry {
                    index: self.size(),
                    source,
                })?,
            );
        }
        Ok(out)
    }

    /// The checkpoint text for the current tree (spec section 6).
    pub fn checkpoint_text(&self) -> String {
        Checkpoint {
            origin: self.genesis.origin.clone(),
            size: self.store.size(),
            root: self.store.root(),
            extensions: Vec::new(),
        }
        .to_text()
    }

    /// Sequencer: signs the current tree head as the log and remembers it as the newest
    /// signed checkpoint. Returns the note, which still needs the co-signature.
    pub fn sign_checkpoint(&mut self, key: &SignerKey) -> Result<Vec<u8>, ChannelError> {
        self.check_writable()?;
        self.require_role(Role::Sequencer)?;
        self.require_own_key(key)?;
        let note = self.log_signed_note(key, self.store.size(), self.store.root())?;
        let mut batch = self.store.batch();
        batch.put_meta(META_SIGNED, note.clone());
        self.store.commit(batch)?;
        Ok(note)
    }

    /// The checkpoint note of the tree of `size` entries with `root`, signed as the log.
    fn log_signed_note(
        &self,
        key: &SignerKey,
        size: u64,
        root: Hash,
    ) -> Result<Vec<u8>, ChannelError> {
        let text = Checkpoint {
            origin: self.genesis.origin.clone(),
            size,
            root,
            extensions: Vec::new(),
        }
        .to_text();
        let log_key = self.genesis.log_key()?;
        let sig = key.sign(text.as_bytes());
        Ok(format!(
            "{text}\n{}",
            note::signature_line(log_key.name(), log_key.key_id(), &sig)
        )
        .into_bytes())
    }

    /// The size of the newest checkpoint this replica signed (sequencer) or accepted
    /// (co-signer); 0 if none.
    pub fn latest_signed_size(&self) -> Result<u64, ChannelError> {
        let Some(note_bytes) = self.store.meta(META_SIGNED)? else {
            return Ok(0);
        };
        let parsed = note::parse(&note_bytes)?;
        Ok(dyad_verifier::checkpoint::parse(&parsed.text)?.size)
    }

    /// How many of this party's own messages wait to be sequenced (co-signer).
    pub fn queued_len(&self) -> Result<usize, ChannelError> {
        Ok(self.store.count_meta_with_prefix(QUEUE_PREFIX)?)
    }

    /// The newest checkpoint this replica signed (sequencer) or accepted (co-signer).
    pub fn latest_signed_checkpoint(&self) -> Result<Option<Vec<u8>>, ChannelError> {
        Ok(self.store.meta(META_SIGNED)?)
    }

    /// Verifies a note under the channel's keys and returns the checkpoint with the number
    /// of parties' and witnesses' signatures that verified.
    fn verify_note(
        &self,
        note_bytes: &[u8],
    ) -> Result<(Checkpoint, bool, bool, usize), ChannelError> {
        let keys = self.note_keys()?;
        let log_key = &keys[0];
        let verified = note::verify(note_bytes, &keys)?;
        let checkpoint = dyad_verifier::checkpoint::parse(&verified.text)?;
        if checkpoint.origin != self.genesis.origin {
            return Err(ChannelError::CheckpointOrigin {
                expected: self.genesis.origin.clone(),
                found: checkpoint.origin,
            });
        }
        let signed_by = |k: &VerifierKey| verified.verified.iter().any(|v| v.key == *k);
        let has_log = signed_by(log_key);
        let has_cosigner = signed_by(&self.cosignature_keys[0]);
        let witnesses = self.cosignature_keys[1..]
            .iter()
            .filter(|k| signed_by(k))
            .count();
        Ok((checkpoint, has_log, has_cosigner, witnesses))
    }

    /// Checks that a note is a committed checkpoint of this channel (spec section 7).
    pub fn verify_committed(&self, note_bytes: &[u8]) -> Result<Checkpoint, ChannelError> {
        let (checkpoint, has_log, has_cosigner, witnesses) = self.verify_note(note_bytes)?;
        if !has_log {
            return Err(ChannelError::MissingLogSignature);
        }
        if !has_cosigner {
            return Err(ChannelError::MissingCosignature);
        }
        let needed = usize::from(self.genesis.witness_threshold);
        if witnesses < needed {
            return Err(ChannelError::WitnessQuorum {
                found: witnesses,
                needed,
            });
        }
        Ok(checkpoint)
    }

    /// Checks the checkpoint's root against this replica's own tree.
    fn check_against_tree(&self, checkpoint: &Checkpoint) -> Result<(), ChannelError> {
        let held = self.store.size();
        if checkpoint.size > held {
            return Err(ChannelError::CheckpointBeyondLog {
                size: checkpoint.size,
                held,
            });
        }
        let ours = self.store.root_at(checkpoint.size)?;
        if ours != checkpoint.root {
            return Err(ChannelError::RootMismatch {
                size: checkpoint.size,
                claimed: hex(&checkpoint.root),
                computed: hex(&ours),
            });
        }
        Ok(())
    }

    /// Stores a committed checkpoint (e.g. the co-signed note coming back to the sequencer)
    /// after checking its signatures and that it matches this replica's tree.
    pub fn add_committed_checkpoint(
        &mut self,
        note_bytes: &[u8],
    ) -> Result<Checkpoint, ChannelError> {
        self.check_writable()?;
        let checkpoint = self.verify_committed(note_bytes)?;
        self.check_against_tree(&checkpoint)?;
        if checkpoint.size > self.committed_size()? {
            // Only the lines verified here are kept, and the note kept must verify.
            let kept = self.kept_note(note_bytes, None)?;
            self.verify_committed(&kept)?;
            let mut batch = self.store.batch();
            batch.put_checkpoint(checkpoint.size, kept);
            self.store.commit(batch)?;
            self.update_replica_record();
        }
        Ok(checkpoint)
    }

    /// `note_bytes` with only the signature lines of this channel's keys, each verified
    /// (see [`crate::kept_note`]), leaving out the line of `skip`.
    fn kept_note(
        &self,
        note_bytes: &[u8],
        skip: Option<&VerifierKey>,
    ) -> Result<Vec<u8>, ChannelError> {
        Ok(crate::kept_note::rebuild(
            note_bytes,
            &self.note_keys()?,
            skip,
        )?)
    }

    /// Checks a note this replica is about to store as its co-signed checkpoint: committed
    /// when the channel needs no witnesses, else signed by the log and the co-signer.
    fn check_cosigned(&self, note_bytes: &[u8]) -> Result<(), ChannelError> {
        if self.genesis.witness_threshold == 0 {
            self.verify_committed(note_bytes)?;
            return Ok(());
        }
        let (_, has_log, has_cosigner, _) = self.verify_note(note_bytes)?;
        if !has_log {
            return Err(ChannelError::MissingLogSignature);
        }
        if !has_cosigner {
            return Err(ChannelError::MissingCosignature);
        }
        Ok(())
    }

    /// The co-signed note this replica already holds for the tree of `size` entries with
    /// checkpoint `text`, if any: the committed checkpoint, or the one awaiting witnesses.
    fn held_cosigned(&self, size: u64, text: &str) -> Result<Option<Vec<u8>>, ChannelError> {
        let candidates = [
            self.store.checkpoint(size)?,
            self.store.meta(META_AWAITING_WITNESSES)?,
        ];
        for note_bytes in candidates.into_iter().flatten() {
            let Ok(parsed) = note::parse(&note_bytes) else {
                continue;
            };
            if parsed.text == text && self.check_cosigned(&note_bytes).is_ok() {
                return Ok(Some(note_bytes));
            }
        }
        Ok(None)
    }

    /// This party's own cosignature line(s) in a co-signed note (what `add-checkpoint`
    /// answers with): the lines of its cosignature key.
    pub fn own_cosignature_lines(&self, note_bytes: &[u8]) -> Result<Vec<u8>, ChannelError> {
        let own = self.own_party().cosignature_key()?;
        let parsed = note::parse(note_bytes)?;
        let mut out = Vec::new();
        for sig in &parsed.signatures {
            if sig.name == own.name() && sig.key_id == own.key_id() {
                out.extend_from_slice(
                    note::signature_line(&sig.name, sig.key_id, &sig.signature).as_bytes(),
                );
            }
        }
        Ok(out)
    }

    /// Co-signer: accepts the entries from its size up to a sequencer-signed checkpoint,
    /// checks every entry and recomputes the root, stores them in one durable batch, and
    /// returns the note with its cosignature added (spec section 6).
    /// Nothing is written unless everything verifies.
    pub fn accept_and_cosign(
        &mut self,
        key: &SignerKey,
        entries: &[Vec<u8>],
        signed_note: &[u8],
        now_ms: u64,
    ) -> Result<Vec<u8>, ChannelError> {
        self.check_writable()?;
        self.require_role(Role::Cosigner)?;
        self.require_own_key(key)?;
        let (checkpoint, has_log, _, _) = self.verify_note(signed_note)?;
        if !has_log {
            return Err(ChannelError::MissingLogSignature);
        }
        let held = self.store.size();
        if checkpoint.size < held {
            // The log may re-send an old checkpoint; it must still match what we hold.
            self.check_against_tree(&checkpoint)?;
            return Err(ChannelError::Rollback {
                size: checkpoint.size,
                held,
            });
        }
        let expected = held + entries.len() as u64;
        if checkpoint.size != expected {
            return Err(ChannelError::EntryCountMismatch {
                expected,
                size: checkpoint.size,
            });
        }
        // The incoming note with only the lines verified here; our own line, if the note
        // carries one, makes way for the one added below.
        let own_key = self.cosignature_keys[0].clone();
        let incoming = self.kept_note(signed_note, Some(&own_key))?;
        let text = note::parse(&incoming)?.text;
        if entries.is_empty() {
            // A size already held: it must be our tree, and is answered without a write,
            // with the co-signed note already held or, failing that, a fresh cosignature.
            self.check_against_tree(&checkpoint)?;
            if let Some(held_note) = self.held_cosigned(checkpoint.size, &text)? {
                return Ok(held_note);
            }
            if self.committed_size()? >= checkpoint.size {
                let fresh = self.cosign_note(key, &incoming, &checkpoint, now_ms / 1000)?;
                self.check_cosigned(&fresh)?;
                return Ok(fresh);
            }
        }
        let mut signed = Vec::with_capacity(entries.len());
        for (i, bytes) in entries.iter().enumerate() {
            signed.push(
                SignedEntry::decode(bytes).map_err(|source| ChannelError::Entry {
                    index: held + i as u64,
                    source,
                })?,
            );
        }
        let mut batch = self.store.batch();
        let (appended, senders) = self.stage_entries(&mut batch, &signed, now_ms)?;
        if let Some(dup) = appended.iter().find(|a| a.existing) {
            return Err(ChannelError::DuplicateEntry { index: dup.index });
        }
        let mut frontier: Frontier = self.store.frontier().clone();
        for e in &signed {
            frontier.push(e.leaf_hash);
        }
        if frontier.root() != checkpoint.root {
            // The log signed this root: evidence, kept once per size, its verified lines only.
            let name = format!("{CONFLICT_PREFIX}{:020}", checkpoint.size);
            if self.store.meta(&name)?.is_none() {
                let mut conflict = self.store.batch();
                conflict.put_meta(&name, incoming.clone());
                self.store.commit(conflict)?;
            }
            return Err(ChannelError::RootMismatch {
                size: checkpoint.size,
                claimed: hex(&checkpoint.root),
                computed: hex(&frontier.root()),
            });
        }
        let cosigned = self.cosign_note(key, &incoming, &checkpoint, now_ms / 1000)?;
        // Nothing is stored that would not verify.
        self.check_cosigned(&cosigned)?;
        // Our own queued messages that are now in the log leave the queue.
        for e in &signed {
            if e.entry.body.sender == key.key_id() {
                batch.remove_meta(&format!("{QUEUE_PREFIX}{:020}", e.entry.body.sequence));
            }
        }
        batch.put_meta(META_SIGNED, incoming);
        if self.genesis.witness_threshold == 0 {
            batch.put_checkpoint(checkpoint.size, cosigned.clone());
        } else {
            batch.put_meta(META_AWAITING_WITNESSES, cosigned.clone());
        }
        self.store.commit(batch)?;
        self.senders = senders;
        self.update_replica_record();
        Ok(cosigned)
    }

    /// Adds this party's cosignature/v1 line to a checkpoint note (C2SP tlog-cosignature)
    /// that holds only verified lines of the other keys: see [`Self::kept_note`].
    fn cosign_note(
        &self,
        key: &SignerKey,
        note_bytes: &[u8],
        checkpoint: &Checkpoint,
        timestamp: u64,
    ) -> Result<Vec<u8>, ChannelError> {
        let text = checkpoint.to_text();
        let cosign_key = self.own_party().cosignature_key()?;
        let message = dyad_verifier::cosignature::signed_message(timestamp, &text);
        let mut sig = timestamp.to_be_bytes().to_vec();
        sig.extend_from_slice(&key.sign(&message));
        let mut out = note_bytes.to_vec();
        out.extend_from_slice(
            note::signature_line(cosign_key.name(), cosign_key.key_id(), &sig).as_bytes(),
        );
        Ok(out)
    }

    /// Entry `index`, decoded.
    pub fn entry(&self, index: u64) -> Result<SignedEntry, ChannelError> {
        let bytes = self.store.leaf(index)?;
        SignedEntry::decode(&bytes).map_err(|source| ChannelError::Entry { index, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{Draft, Kind};
    use crate::genesis::cosign_proposal;

    const ORIGIN: &str = "example.org/dyad/test";

    fn keys() -> (SignerKey, SignerKey) {
        (
            SignerKey::from_seed("example.org/alpha", [1; 32]).unwrap(),
            SignerKey::from_seed("example.org/bravo", [2; 32]).unwrap(),
        )
    }

    fn sequencer(dir: &Path, t0: u64) -> Channel {
        let (alpha, bravo) = keys();
        let genesis = Genesis::new(ORIGIN, Party::of(&alpha), Party::of(&bravo));
        let proposal = genesis.propose(&alpha, t0).unwrap();
        let (entry, _) = cosign_proposal(&proposal.bytes, &bravo).unwrap();
        Channel::create(dir, &entry, Role::Sequencer).unwrap()
    }

    fn messages(key: &SignerKey, n: u64, t0: u64) -> Vec<SignedEntry> {
        (1..=n)
            .map(|i| {
                Draft::new(Kind::Notification, "s", "text/plain", vec![i as u8])
                    .sign(key, ORIGIN, i, t0)
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn append_and_sign_in_one_batch_signs_the_new_tree() {
        let t0 = 1_767_225_600_000;
        let (alpha, bravo) = keys();
        let dir = tempfile::tempdir().unwrap();
        let mut ch = sequencer(dir.path(), t0);
        let batch = messages(&bravo, 5, t0);
        let (appended, note) = ch.append_signed_and_sign(&alpha, &batch, t0).unwrap();
        assert_eq!(appended.len(), 5);
        let note = note.expect("new entries are signed");
        assert_eq!(ch.latest_signed_checkpoint().unwrap(), Some(note.clone()));
        let text = String::from_utf8(note).unwrap();
        assert!(text.starts_with(&ch.checkpoint_text()), "{text}");
        assert_eq!(ch.latest_signed_size().unwrap(), 6);
        // A resubmission appends nothing and signs nothing.
        let (again, none) = ch.append_signed_and_sign(&alpha, &batch, t0).unwrap();
        assert!(again.iter().all(|a| a.existing) && none.is_none());
        // Only the sequencer's own key signs.
        assert!(matches!(
            ch.append_signed_and_sign(&bravo, &batch, t0),
            Err(ChannelError::NotOurKey { .. })
        ));
    }

    /// A batch large enough to be verified on several threads: the one bad signature is
    /// found at its index, wherever it is, and nothing of the batch is written.
    #[test]
    fn a_bad_signature_in_a_parallel_batch_is_found_and_nothing_is_written() {
        let t0 = 1_767_225_600_000;
        let (_, bravo) = keys();
        for bad in [0usize, 17, 63] {
            let dir = tempfile::tempdir().unwrap();
            let mut ch = sequencer(dir.path(), t0);
            let mut batch = messages(&bravo, 64, t0);
            batch[bad].entry.signatures[0].signature[5] ^= 1;
            batch[bad] = SignedEntry::new(batch[bad].entry.clone()).unwrap();
            let err = ch.append_signed(&batch, t0).unwrap_err();
            assert!(
                matches!(err, ChannelError::BadSignature { index } if index == 1 + bad as u64),
                "{err}"
            );
            assert_eq!(ch.size(), 1);
            // The good ones go in once the bad one is left out.
            batch.truncate(bad);
            if !batch.is_empty() {
                assert_eq!(ch.append_signed(&batch, t0).unwrap().len(), bad);
            }
            assert_eq!(ch.size(), 1 + bad as u64);
        }
    }

    /// Entries judged one by one in one batch: a bad signature is refused alone, the later
    /// entries of its sender meet the gap it leaves, the others go in with one commit; a
    /// staging made before the log changed is refused.
    #[test]
    fn stage_each_refuses_bad_entries_alone_and_a_stale_staging() {
        let t0 = 1_767_225_600_000;
        let (alpha, bravo) = keys();
        let dir = tempfile::tempdir().unwrap();
        let mut ch = sequencer(dir.path(), t0);
        let mut batch = messages(&bravo, 4, t0);
        batch[1].entry.signatures[0].signature[3] ^= 1;
        batch[1] = SignedEntry::new(batch[1].entry.clone()).unwrap();
        batch.extend(messages(&alpha, 1, t0));
        let staged = ch.stage_each(&batch, t0).unwrap();
        assert!(staged.any_refused());
        let (results, note) = ch.commit_staged_and_sign(&alpha, staged).unwrap();
        let kinds: Vec<&str> = results
            .iter()
            .map(|r| match r {
                Ok(_) => "ok",
                Err(ChannelError::BadSignature { .. }) => "signature",
                Err(ChannelError::SequenceGap { .. }) => "gap",
                Err(_) => "other",
            })
            .collect();
        assert_eq!(kinds, ["ok", "signature", "gap", "gap", "ok"]);
        assert_eq!(results[4].as_ref().unwrap().index, 2);
        assert_eq!(ch.size(), 3);
        let note = String::from_utf8(note.unwrap()).unwrap();
        assert!(note.starts_with(&ch.checkpoint_text()), "{note}");

        // Message 2 again, now well signed, staged; then the log grows before the commit.
        let fresh = messages(&bravo, 2, t0);
        let stale = ch.stage_each(&fresh[1..], t0).unwrap();
        assert!(!stale.any_refused());
        ch.append_signed(&fresh[1..], t0).unwrap();
        assert!(matches!(
            ch.commit_staged_and_sign(&alpha, stale),
            Err(ChannelError::Store(StoreError::StaleBatch { .. }))
        ));
        assert_eq!(ch.size(), 4);
    }
}
