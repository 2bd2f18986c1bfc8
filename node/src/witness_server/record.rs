//! The witness's durable record: per log origin, the size and root of the latest
//! checkpoint it co-signed, in a sled tree. The check of a request against the record and
//! the record's update are one compare-and-swap, flushed to disk before the cosignature is
//! made (C2SP tlog-witness: check and persist atomically), so two concurrent requests can
//! never both pass against the same record, and the record only moves along one tree.

use std::path::Path;

use dyad_ledger::wire::witness_request::{
    check_against, record_of, Authenticated, Recorded, Refusal,
};

/// Why the record cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The sled database failed.
    #[error("the witness's record: {0}")]
    Store(#[from] sled::Error),
    /// A stored value is not 8 + 32 bytes.
    #[error("the witness's record of {origin:?} is damaged ({len} bytes)")]
    Damaged {
        /// The origin whose value is damaged.
        origin: String,
        /// Its length.
        len: usize,
    },
    /// A compare-and-swap kept failing: other requests kept changing the record.
    #[error("the record of {0:?} kept changing; try again")]
    Contended(String),
}

/// What checking a request against the record gave.
pub enum Checked {
    /// Passed and recorded (durably): cosign.
    Recorded,
    /// Refused by the rules.
    Refused(Refusal),
}

/// The witness's records, one per origin.
pub struct Records {
    db: sled::Db,
    tree: sled::Tree,
}

const MAX_CAS_ATTEMPTS: usize = 16;

impl Records {
    /// Opens (or creates) the record in `dir`.
    pub fn open(dir: &Path) -> Result<Records, RecordError> {
        let db = sled::Config::new().path(dir.join("witness.sled")).open()?;
        let tree = db.open_tree("latest-cosigned")?;
        Ok(Records { db, tree })
    }

    /// The record of `origin`, if the witness co-signed one.
    pub fn get(&self, origin: &str) -> Result<Option<Recorded>, RecordError> {
        self.tree
            .get(origin.as_bytes())?
            .map(|v| decode(origin, &v))
            .transpose()
    }

    /// Checks `req` against the record of its origin and, if it passes, records its
    /// checkpoint, atomically and durably.
    pub fn check_and_record(&self, req: &Authenticated) -> Result<Checked, RecordError> {
        let origin = &req.checkpoint.origin;
        for _ in 0..MAX_CAS_ATTEMPTS {
            let current = self.tree.get(origin.as_bytes())?;
            let recorded = current.as_ref().map(|v| decode(origin, v)).transpose()?;
            if let Err(refusal) = check_against(req, recorded) {
                return Ok(Checked::Refused(refusal));
            }
            let new = encode(&record_of(&req.checkpoint));
            if recorded == Some(record_of(&req.checkpoint)) {
                // The same checkpoint again: nothing changes.
                return Ok(Checked::Recorded);
            }
            match self
                .tree
                .compare_and_swap(origin.as_bytes(), current, Some(new.to_vec()))?
            {
                Ok(()) => {
                    self.db.flush()?;
                    return Ok(Checked::Recorded);
                }
                Err(_) => continue,
            }
        }
        Err(RecordError::Contended(origin.clone()))
    }
}

fn encode(r: &Recorded) -> [u8; 40] {
    let mut out = [0u8; 40];
    out[..8].copy_from_slice(&r.size.to_be_bytes());
    out[8..].copy_from_slice(&r.root);
    out
}

fn decode(origin: &str, v: &[u8]) -> Result<Recorded, RecordError> {
    let damaged = || RecordError::Damaged {
        origin: origin.to_owned(),
        len: v.len(),
    };
    let size = u64::from_be_bytes(
        v.get(..8)
            .ok_or_else(damaged)?
            .try_into()
            .map_err(|_| damaged())?,
    );
    let root = v
        .get(8..)
        .ok_or_else(damaged)?
        .try_into()
        .map_err(|_| damaged())?;
    Ok(Recorded { size, root })
}
