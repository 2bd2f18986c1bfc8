//! Entries: the leaf data of a dyad log (spec/dyad.md section 3).
//!
//! The entry is decoded here by hand from the byte table of section 3.1, not with the
//! ledger's bincode types: the ledger and this crate are two implementations that agree only
//! through the spec and its vectors. [`decode`] enforces every context-free rule of 3.1;
//! [`check_entry`] adds the rules that need the channel (its origin, parties and limits)
//! and the entry's index (sections 3.2 to 3.5 and 4). Rules that need the entries before
//! this one (sequence numbers and timestamps, 3.3) are the auditor's (see `audit`).
//!
//! This module gathers the public paths; the code lives in the crate's inner modules
//! (`rules`, `entry_codec`, `channel`), which never import it.

pub use crate::channel::check_entry;
pub use crate::entry_codec::{
    decode, signed_message, verify_signature, Attachment, Entry, EntrySignature,
};
pub use crate::rules::{
    EntryError, Kind, MAX_ATTACHMENTS, MAX_ENTRY_SIZE, MAX_ORIGIN_LEN, MAX_SHORT_STRING_LEN,
    MAX_SUBJECT_LEN, SIGNATURE_LEN, SIGNED_MESSAGE_PREFIX, VERSION,
};
