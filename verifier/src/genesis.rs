//! The genesis entry and the genesis record (spec/dyad.md section 4): the channel's terms,
//! signed by both parties at index 0.
//!
//! The record is decoded by hand from the table of section 4, with the same primitive
//! encodings as the entry (section 3.1). [`ChannelParams`], derived from a checked
//! [`Genesis`], is what the per-entry checks of `entry::check_entry` need.
//!
//! This module gathers the public paths; the code lives in the crate's inner modules
//! (`rules`, `genesis_record`, `channel`), which never import it.

pub use crate::channel::{check_genesis, ChannelParams, CommitError, CommitKeys, Committed};
pub use crate::genesis_record::{decode_record, Genesis, Party, RESERVED_ORIGIN_PREFIXES};
pub use crate::key_history::KeyChange;
pub use crate::rules::{
    GenesisError, Identifier, PartyRole, CONTENT_TYPE, MAX_CLOCK_SKEW_S, MAX_MAX_PAYLOAD,
    MAX_WITNESSES, RECORD_VERSION,
};
pub use crate::witness_history::WitnessChange;
