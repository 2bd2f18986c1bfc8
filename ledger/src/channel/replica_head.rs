//! `replica.head`: a small record beside the store of this replica's head, kept up to
//! date after commits of a committed checkpoint.

use std::path::Path;

use super::{Channel, ChannelError};
use crate::replica_record::ReplicaRecord;
use crate::store::StoreError;

/// The least time between two writes of `replica.head` after commits: it records that
/// the replica exists and about where its head is, not every commit.
const RECORD_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// A head not yet recorded because of `RECORD_INTERVAL` is recorded when the replica
/// closes.
impl Drop for Channel {
    fn drop(&mut self) {
        if self.record_stale {
            self.write_replica_record();
        }
    }
}

impl Channel {
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
    /// checkpoint (at most once per `RECORD_INTERVAL`, and when the replica is closed).
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
    pub(super) fn update_replica_record(&mut self) {
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
}
