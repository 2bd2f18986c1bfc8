//! Catching up from the peer (spec/dyad.md section 9): a replica behind a committed
//! checkpoint the peer holds (restored from an old copy, or rebuilt from nothing) adds the
//! missing entries, checked chunk by chunk, then stores that checkpoint. The node checks
//! the entries' leaf hashes against the checkpoint's root before it hands them here
//! (`dyad_node::catch_up`); this side checks them against the channel rules again.

use super::append::Admission;
use super::cosign::decode_incoming;
use super::outbox::QUEUE_PREFIX;
use super::{Channel, ChannelError};

impl Channel {
    /// Either role: appends `entries` as the next entries of the log, in one durable batch,
    /// after checking each against the channel rules (spec 3.1–3.5) but not the content
    /// policy of 3.2 (they are below a checkpoint both parties co-signed); signs nothing. For
    /// entries of a tree whose committed checkpoint the caller holds and has checked them
    /// against; the checkpoint follows with [`Channel::add_committed_checkpoint`] once every
    /// entry below it is in. Returns the new size.
    pub fn append_recovered(
        &mut self,
        entries: &[Vec<u8>],
        now_ms: u64,
    ) -> Result<u64, ChannelError> {
        self.check_writable()?;
        let signed = decode_incoming(self.store.size(), entries)?;
        let mut batch = self.store.batch();
        let (appended, progress) =
            self.stage_entries(&mut batch, &signed, now_ms, (Admission::Agreed, None))?;
        if let Some(dup) = appended.iter().find(|a| a.existing) {
            return Err(ChannelError::DuplicateEntry { index: dup.index });
        }
        // The co-signer's own messages the log already holds leave its queue (as when
        // it co-signs them), or they would be sent again.
        let own = Some(self.role == super::Role::Sequencer);
        for e in signed
            .iter()
            .filter(|e| progress.keys.party_of(e.entry.body.sender) == own)
        {
            batch.remove_meta(&format!("{QUEUE_PREFIX}{:020}", e.entry.body.sequence));
        }
        if !batch.is_empty() {
            self.store.commit(batch)?;
            self.advance(progress);
            self.update_replica_record();
        }
        Ok(self.size())
    }
}
