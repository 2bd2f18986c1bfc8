//! Fetching the entries a replica lacks below a committed checkpoint the peer holds, each
//! checked before it is handed on (spec/node.md section 10).
//!
//! The gap may be the whole log (a replica rebuilt from nothing), so it is never held in
//! memory, and nothing is handed on before the checkpoint's root is proven. Pass one
//! streams the gap, pushes each leaf hash onto the replica's own frontier and keeps one
//! digest per chunk of [`CHUNK`] entries; only if the root it ends with is the
//! checkpoint's does pass two stream the gap again, handing on each chunk whose digest
//! matches pass one's. A peer that serves other bytes the second time is caught at the
//! first such chunk. Memory: 32 bytes per chunk (1.25 MB at 10M entries) and one chunk.
//! The network carries the gap twice; a replica that is only a little behind pays little.

use dyad_ledger::tree::{leaf_hash, Frontier, Hash};
use dyad_verifier::checkpoint::Checkpoint;
use sha2::{Digest, Sha256};

use crate::client::{ClientError, EntryStream, TileClient};

/// Entries handed on at once: one entry bundle's worth (at most 16 MiB).
pub const CHUNK: u64 = 256;

/// Why the missing entries were not fetched.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatchUpError {
    /// The peer could not be read.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The peer served fewer entries than its checkpoint covers.
    #[error("the peer served entries up to {served} only, but its checkpoint covers {size}")]
    ShortRange {
        /// The entries served.
        served: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// This replica's entries and the peer's do not make the checkpoint's tree: the
    /// replicas diverged below this replica's size, or the peer served forged entries.
    #[error("this replica's {held} entries and the peer's entries {held}..{size} do not make the root of the peer's checkpoint of size {size} (computed {computed}, checkpoint {claimed})")]
    RootMismatch {
        /// Entries this replica held.
        held: u64,
        /// The checkpoint's size.
        size: u64,
        /// The root computed, hex.
        computed: String,
        /// The checkpoint's root, hex.
        claimed: String,
    },
    /// The second pass got other bytes than the first.
    #[error("the peer served entries {from}..{to} differently the second time: it changed what it serves while this replica caught up")]
    Changed {
        /// The chunk's first index.
        from: u64,
        /// The index after its last.
        to: u64,
    },
}

/// The gap between a replica and a checkpoint, proven by pass one.
pub struct Gap {
    from: u64,
    to: u64,
    digests: Vec<[u8; 32]>,
}

impl Gap {
    /// The first missing entry.
    pub fn from(&self) -> u64 {
        self.from
    }

    /// The checkpoint's size.
    pub fn to(&self) -> u64 {
        self.to
    }
}

/// Pass one: streams entries `frontier.size() .. checkpoint.size` from the peer and proves
/// that with this replica's entries (its `frontier`) they make the checkpoint's root.
/// `progress(done, total)` is called at every chunk.
pub async fn prove_gap(
    client: &TileClient,
    mut frontier: Frontier,
    checkpoint: &Checkpoint,
    mut progress: impl FnMut(u64, u64),
) -> Result<Gap, CatchUpError> {
    let (from, to) = (frontier.size(), checkpoint.size);
    let mut digests = Vec::new();
    let mut chunks = Chunks::new(client.entries(from, to), from, to);
    while let Some((start, entries)) = chunks.next().await? {
        let mut digest = Sha256::new();
        for bytes in &entries {
            let leaf = leaf_hash(bytes);
            frontier.push(leaf);
            digest.update(leaf);
        }
        digests.push(digest.finalize().into());
        progress(start + entries.len() as u64 - from, to - from);
    }
    let computed: Hash = frontier.root();
    if computed != checkpoint.root {
        return Err(CatchUpError::RootMismatch {
            held: from,
            size: to,
            computed: hex::encode(computed),
            claimed: hex::encode(checkpoint.root),
        });
    }
    Ok(Gap { from, to, digests })
}

/// Pass two: the gap's entries again, chunk by chunk, each checked against pass one.
pub struct ProvenChunks {
    chunks: Chunks,
    digests: std::vec::IntoIter<[u8; 32]>,
}

impl ProvenChunks {
    /// Starts pass two over `gap`.
    pub fn new(client: &TileClient, gap: Gap) -> ProvenChunks {
        ProvenChunks {
            chunks: Chunks::new(client.entries(gap.from, gap.to), gap.from, gap.to),
            digests: gap.digests.into_iter(),
        }
    }

    /// The next chunk (its first index and its entries), proven to be the entries of the
    /// checkpoint's tree; `None` once the gap is covered.
    pub async fn next(&mut self) -> Result<Option<(u64, Vec<Vec<u8>>)>, CatchUpError> {
        let Some((start, entries)) = self.chunks.next().await? else {
            return Ok(None);
        };
        let mut digest = Sha256::new();
        for bytes in &entries {
            digest.update(leaf_hash(bytes));
        }
        let got: [u8; 32] = digest.finalize().into();
        if self.digests.next() != Some(got) {
            return Err(CatchUpError::Changed {
                from: start,
                to: start + entries.len() as u64,
            });
        }
        Ok(Some((start, entries)))
    }
}

/// One pass over a range's entries, chunk by chunk, **not** proven against a checkpoint's
/// root: for a caller that checks each chunk as it stores it, in a store it throws away
/// unless the checkpoint verifies over the whole result. `dyad restore --from-peer` after
/// key changes: the keys that signed the checkpoint are known only from the entries, so a
/// forged entry must fail at its own chunk (the channel rules), before the rest is read.
pub struct UncheckedChunks(Chunks);

impl UncheckedChunks {
    /// Entries `from .. to` of `client`'s log.
    pub fn new(client: &TileClient, from: u64, to: u64) -> UncheckedChunks {
        UncheckedChunks(Chunks::new(client.entries(from, to), from, to))
    }

    /// The next chunk (its first index and its entries), or `None` once the range is
    /// covered; a peer that serves fewer entries fails with [`CatchUpError::ShortRange`].
    pub async fn next(&mut self) -> Result<Option<(u64, Vec<Vec<u8>>)>, CatchUpError> {
        self.0.next().await
    }
}

/// A range's entries in chunks of [`CHUNK`], counted from its start.
struct Chunks {
    stream: EntryStream,
    next: u64,
    to: u64,
}

impl Chunks {
    fn new(stream: EntryStream, from: u64, to: u64) -> Chunks {
        Chunks {
            stream,
            next: from,
            to,
        }
    }

    async fn next(&mut self) -> Result<Option<(u64, Vec<Vec<u8>>)>, CatchUpError> {
        if self.next >= self.to {
            return Ok(None);
        }
        let start = self.next;
        let end = (start + CHUNK).min(self.to);
        let mut entries = Vec::with_capacity((end - start) as usize);
        while self.next < end {
            match self.stream.next().await {
                Some(item) => {
                    let (_, bytes) = item?;
                    entries.push(bytes);
                    self.next += 1;
                }
                None => {
                    return Err(CatchUpError::ShortRange {
                        served: self.next,
                        size: self.to,
                    })
                }
            }
        }
        Ok(Some((start, entries)))
    }
}
