//! Entries: the leaf data of a dyad log (spec/dyad.md section 3).
//!
//! The entry is decoded here by hand from the byte table of section 3.1, not with the
//! ledger's bincode types: the ledger and this crate are two implementations that agree only
//! through the spec and its vectors. [`decode`] enforces every context-free rule of 3.1;
//! [`check_entry`] adds the rules that need the channel (its origin, parties and limits)
//! and the entry's index (sections 3.2 to 3.5 and 4). Rules that need the entries before
//! this one (sequence numbers and timestamps, 3.3) are the auditor's (see `audit`).

use alloc::string::String;

use crate::entry_codec::check_reply_to;
use crate::genesis::{self, ChannelParams};

pub use crate::entry_codec::{
    decode, signed_message, verify_signature, Attachment, Entry, EntrySignature,
};
pub use crate::rules::{
    EntryError, Kind, MAX_ATTACHMENTS, MAX_ENTRY_SIZE, MAX_ORIGIN_LEN, MAX_SHORT_STRING_LEN,
    MAX_SUBJECT_LEN, SIGNATURE_LEN, SIGNED_MESSAGE_PREFIX, VERSION,
};

/// Checks everything about the entry at `index` that the channel alone determines, and
/// returns it decoded:
///
/// - it decodes canonically ([`decode`]);
/// - its origin is the channel's (3.3);
/// - index 0 is this channel's genesis entry, with both signatures (4); no other index is
///   a genesis (3.2);
/// - the sender is one of the two parties and the signature's key ID is the sender's (3.4);
/// - a response has `reply_to`; `reply_to` is neither 0 nor `>= index` (3.3);
/// - the payload and the attachments are within the channel's limits (3.1, 3.5);
/// - the sender's signature verifies strictly (3.4).
///
/// Sequence numbers and timestamps depend on earlier entries: the auditor checks them.
pub fn check_entry(
    entry_bytes: &[u8],
    index: u64,
    channel: &ChannelParams,
) -> Result<Entry, EntryError> {
    let entry = decode(entry_bytes)?;
    if entry.origin != channel.origin() {
        return Err(EntryError::WrongOrigin {
            expected: String::from(channel.origin()),
            found: entry.origin,
        });
    }
    if index == 0 {
        if entry.kind != Kind::Genesis {
            return Err(EntryError::FirstNotGenesis { kind: entry.kind });
        }
        let (entry, genesis) = genesis::check_genesis(entry_bytes)?;
        if &genesis != channel.genesis() {
            return Err(EntryError::GenesisMismatch);
        }
        return Ok(entry);
    }
    if entry.kind == Kind::Genesis {
        return Err(EntryError::GenesisNotFirst { index });
    }
    let (_, key) = channel
        .party_by_key_id(entry.sender)
        .ok_or(EntryError::SenderNotAParty {
            key_id: entry.sender,
        })?;
    // decode() guarantees exactly one signature on a non-genesis entry.
    let signature_key_id = entry.signatures[0].key_id;
    if signature_key_id != entry.sender {
        return Err(EntryError::SignatureKeyMismatch {
            position: 0,
            expected: entry.sender,
            found: signature_key_id,
        });
    }
    check_reply_to(&entry, index)?;
    check_limits(&entry, channel)?;
    verify_signature(entry_bytes, &entry, key)?;
    Ok(entry)
}

/// The channel's size limits (sections 3.1 and 3.5).
fn check_limits(entry: &Entry, channel: &ChannelParams) -> Result<(), EntryError> {
    let max = channel.genesis().max_payload;
    if entry.payload.len() as u64 > u64::from(max) {
        return Err(EntryError::PayloadTooLarge {
            len: entry.payload.len(),
            max,
        });
    }
    let max = channel.genesis().max_attachment_size;
    for (index, attachment) in entry.attachments.iter().enumerate() {
        if attachment.size > max {
            return Err(EntryError::AttachmentTooLarge {
                index,
                size: attachment.size,
                max,
            });
        }
    }
    Ok(())
}
