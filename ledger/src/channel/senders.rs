//! What the replica remembers of each sender to enforce spec 3.3: its last sequence number
//! and timestamp, and the log index of each of its messages (so that a resubmission is
//! recognised and answered with its index).

use std::collections::HashMap;

use super::{Channel, ChannelError};
use crate::store::Batch;

const SENDER_PREFIX: &str = "sender/";

const SEQUENCE_PREFIX: &str = "seqidx/";

/// What the replica remembers about each sender, to enforce spec 3.3.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct SenderState {
    pub(super) last_sequence: u64,
    pub(super) last_timestamp_ms: u64,
}

impl SenderState {
    pub(super) fn to_bytes(self) -> [u8; 16] {
        let mut b = [0; 16];
        b[..8].copy_from_slice(&self.last_sequence.to_be_bytes());
        b[8..].copy_from_slice(&self.last_timestamp_ms.to_be_bytes());
        b
    }

    pub(super) fn from_bytes(b: &[u8]) -> Option<Self> {
        let b: &[u8; 16] = b.try_into().ok()?;
        let (seq, ts) = b.split_at(8);
        Some(Self {
            last_sequence: u64::from_be_bytes(seq.try_into().ok()?),
            last_timestamp_ms: u64::from_be_bytes(ts.try_into().ok()?),
        })
    }
}

/// Sequence numbers per sequence-index record.
const SEQUENCE_RECORD_LEN: u64 = 256;

/// Marks a sequence number with no entry (each party's own numbering starts at 1).
const NO_INDEX: u64 = u64::MAX;

pub(super) fn sequence_meta(sender: u32, sequence: u64) -> String {
    format!(
        "{SEQUENCE_PREFIX}{sender:08x}/{:016x}",
        sequence / SEQUENCE_RECORD_LEN
    )
}

pub(super) fn sender_meta(key_id: u32) -> String {
    format!("{SENDER_PREFIX}{key_id:08x}")
}

impl Channel {
    /// The log index of `sender`'s message number `sequence`, if it is in the log.
    /// `sender` is any key ID the party has had: its numbering runs on across key changes,
    /// and the records are kept under its genesis key ID (the format from before key
    /// changes).
    pub fn index_of_sequence(
        &self,
        sender: u32,
        sequence: u64,
    ) -> Result<Option<u64>, ChannelError> {
        let party = self.keys.party_id(sender);
        let Some(record) = self.store.meta(&sequence_meta(party, sequence))? else {
            return Ok(None);
        };
        let at = (sequence % SEQUENCE_RECORD_LEN) as usize * 8;
        let index = record
            .get(at..at + 8)
            .map(|b| u64::from_be_bytes(b.try_into().unwrap_or([0xff; 8])));
        Ok(index.filter(|&i| i != NO_INDEX))
    }

    /// Extends the per-sender sequence index records (256 indexes each) with new entries;
    /// `new` names each sender by its party's genesis key ID.
    pub(super) fn stage_sequence_index(
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
}
